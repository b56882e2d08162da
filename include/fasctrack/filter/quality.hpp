#pragma once
// Channel quality screening. Every problem is a flag in the result; nothing
// is dropped or repaired silently.

#include <fasctrack/core/types.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace fasctrack::filter {

/// Bit flags; a channel with flags == 0 is usable.
enum QualityFlag : std::uint32_t {
  quality_ok = 0,
  quality_flat = 1u << 0,             ///< (almost) no variation: dead channel or amplifier off
  quality_saturated = 1u << 1,        ///< runs of samples stuck at the channel's extreme values (clipping)
  quality_non_finite = 1u << 2,       ///< NaN or Inf samples present
  quality_excessive_mains = 1u << 3,  ///< mains and harmonics dominate the EMG band
  quality_disconnected = 1u << 4,     ///< huge low-frequency wander or broadband level typical of a lifted electrode
};

/// Names of the set flags, e.g. "flat,non_finite"; "ok" when none.
std::string describe_flags(std::uint32_t flags);

/// Thresholds, with defaults for surface EMG in microvolts.
struct QualityOptions {
  double flat_rms_uv = 0.1;            ///< below this RMS (after removing the mean) a channel is flat
  double flat_run_s = 1.0;             ///< or: a run of identical values at least this long
  double saturation_fraction = 0.001;  ///< share of samples in runs (>= 3) at the channel min or max
  double mains_fraction = 0.5;         ///< share of 20-500 Hz power within +-1 Hz of mains harmonics
  double disconnected_rms_uv = 5000.0; ///< broadband RMS above this is not physiological surface EMG
  double disconnected_low_fraction = 0.9;  ///< share of < 10 Hz power in total power (wandering lead)...
  /// ...and the < 10 Hz RMS must also exceed this: a well-attached surface
  /// electrode over resting muscle routinely wanders by tens of uV, which
  /// dominates the spectrum of a quiet channel without meaning anything.
  double disconnected_low_rms_uv = 200.0;
  double mains_hz = 0.0;               ///< mains fundamental for the mains check; 0 = detect from the data
};

/// Per-channel quality: flags plus the measurements that set them.
struct ChannelQuality {
  std::uint32_t flags = quality_ok;
  double rms_uv = 0.0;               ///< RMS of finite samples about their mean
  Index n_non_finite = 0;            ///< NaN / Inf samples
  std::vector<SampleRange> non_finite_runs;  ///< where they are
  Index longest_flat_run = 0;        ///< longest run of identical consecutive samples
  double clipped_fraction = 0.0;     ///< share of samples in runs at the min or max
  double mains_fraction = 0.0;       ///< share of 20-500 Hz power at mains harmonics
  double low_frequency_fraction = 0.0;  ///< share of power below 10 Hz
  double low_frequency_rms_uv = 0.0;    ///< RMS of the part below 10 Hz
  bool usable() const noexcept { return flags == quality_ok; }
};

/// Screens every channel. mains detection runs once if options.mains_hz == 0.
template <class T>
std::vector<ChannelQuality> channel_quality(SignalView<T> x, double fs, const QualityOptions& options = {});

}  // namespace fasctrack::filter
