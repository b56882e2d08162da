#pragma once
// What the detector reports: events (one per motor-unit discharge) and the
// periods it excluded from analysis, with reasons.

#include <fasctrack/core/types.hpp>

#include <string_view>
#include <vector>

namespace fasctrack {

/// Why a stretch of a recording was excluded from fasciculation analysis.
enum class MaskReason {
  startup,      ///< filter settling and noise-floor learning at the start of the stream
  voluntary,    ///< voluntary contraction: dense interference pattern
  tonic,        ///< a tonically firing unit (continual discharges, inter-spike interval <= 250 ms)
  artefact,     ///< motion artefact, electrode pop, common-mode jump
  bad_signal,   ///< non-finite, flat or saturated samples on too many channels
};

std::string_view to_string(MaskReason reason) noexcept;

/// An excluded period [start, stop) in samples of the recording.
struct Mask {
  Index start = 0;
  Index stop = 0;
  MaskReason reason = MaskReason::voluntary;
  bool operator==(const Mask&) const = default;
};

/// One fasciculation potential (one discharge), characterised.
///
/// Surface definitions used for the shape features (documented in the README):
/// - duration: from the first to the last sample where the waveform on the
///   peak channel exceeds max(2.5 x noise SD, 10% of its peak) in magnitude,
///   grown outwards from the peak and bridging sub-level gaps of at most 2 ms
///   (the zero crossings between phases), so a noise excursion elsewhere in
///   the analysis window does not count;
/// - phases: number of baseline crossings within that duration + 1, where a
///   crossing must leave the +-noise band on both sides;
/// - turns: significant peaks within the duration: local extrema after which
///   the waveform reverses by more than max(4 x noise SD, 10% of
///   peak-to-peak) (a biphasic potential has 2 turns, as in needle EMG);
/// - complex: phases > 4.
/// The noise SD is the robust (MAD) SD of the zero-phase signal in the
/// +-150 ms window around the event.
struct Event {
  Index sample = 0;            ///< zero-phase sample of the largest absolute deflection on the peak channel
  double time_s = 0.0;         ///< sample / fs
  Index channel = 0;           ///< channel where the discharge is largest
  int unit = -1;               ///< motor unit label; -1 if unassigned
  double amplitude_uv = 0.0;   ///< peak-to-peak on the peak channel (see features::WaveformFeatures)
  double duration_ms = 0.0;
  int phases = 0;
  int turns = 0;
  double area_uv_ms = 0.0;     ///< integral of |waveform| over the duration on the peak channel
  int n_channels = 1;          ///< channels on which the discharge exceeds the detection threshold (spatial extent)
  bool isolated = true;        ///< false when part of continual (tonic) firing
  bool doublet = false;        ///< true for both discharges of a pair 5-110 ms apart from the same unit
  double confidence = 0.0;     ///< 0..1: how far above threshold and how physiological the shape and spread are
  bool operator==(const Event&) const = default;
};

}  // namespace fasctrack
