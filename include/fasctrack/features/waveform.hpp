#pragma once
// Shape features of one surface MUAP waveform (the zero-phase signal on the
// channel where the discharge is largest), with the surface definitions of
// fasctrack::Event (events.hpp).

#include <fasctrack/core/types.hpp>

#include <span>

namespace fasctrack::features {

struct WaveformFeatures {
  /// Peak-to-peak of the potential: over the duration and, at least, within
  /// 3 ms of the main peak, where its opposite phases lie even when they
  /// are too small to reach the duration level (low SNR).
  double amplitude_uv = 0.0;
  /// Peak-to-peak within the duration only: at low SNR the main phase alone
  /// (what the detector's size guards test; see detector.cpp).
  double span_uv = 0.0;
  double duration_ms = 0.0;
  int phases = 0;
  int turns = 0;
  double area_uv_ms = 0.0;
  /// Width of the main phase at half its peak (the contiguous same-sign run
  /// around the peak above 50% of |peak|): ~1-4 ms for a surface MUAP, far
  /// more for the low-frequency QRS of an ECG or a movement transient.
  double peak_width_ms = 0.0;
  Index onset = 0;             ///< first sample of the duration (index into the waveform)
  Index offset = 0;            ///< last sample of the duration (inclusive)
};

/// Features of waveform w (microvolts) around its main peak at index `peak`.
///
/// duration: the level is max(2.5 x noise_sd, 10% of |w[peak]|); starting at
/// the peak, the span grows outwards over samples above the level, bridging
/// sub-level gaps of at most `bridge_ms` (the zero crossings between the
/// phases of one potential), so an isolated noise excursion elsewhere in the
/// window cannot stretch the duration. phases = baseline crossings inside the
/// span + 1, a crossing counted only when the waveform goes from beyond
/// +noise_sd to beyond -noise_sd (or back); turns = reversals between
/// successive extrema that differ by more than max(4 x noise_sd, 10% of the
/// peak-to-peak); area = integral of |w| over the span.
WaveformFeatures waveform_features(std::span<const double> w, Index peak, double noise_sd, double fs,
                                   double bridge_ms = 2.0);

/// Index of the largest |w| in [begin, end) (clamped to the waveform).
Index largest_deflection(std::span<const double> w, Index begin, Index end);

/// Robust SD: 1.4826 x the median absolute deviation from the median. `scratch`
/// is reused (no allocation once it is large enough).
double robust_sd(std::span<const double> x, std::vector<double>& scratch);

}  // namespace fasctrack::features
