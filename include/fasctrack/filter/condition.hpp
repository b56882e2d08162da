#pragma once
// The conditioning stage of the pipeline: screen channels, find the mains
// frequency, band-pass and notch, zero-phase by default.

#include <fasctrack/core/types.hpp>
#include <fasctrack/filter/design.hpp>
#include <fasctrack/filter/mains.hpp>
#include <fasctrack/filter/quality.hpp>

#include <string_view>
#include <vector>

namespace fasctrack::filter {

/// How mains interference is handled.
enum class MainsMode { automatic, hz50, hz60, off };

/// "auto" (or "automatic"), "50", "60", "off" (or "none"); throws
/// std::invalid_argument naming the option otherwise.
MainsMode parse_mains_mode(std::string_view text);
/// "auto", "50", "60" or "off".
std::string_view to_string(MainsMode mode);

struct ConditionOptions {
  /// Surface MUAP energy lies mostly in 20-500 Hz; 20 Hz removes movement and
  /// baseline wander while keeping fasciculation potentials.
  double highpass_hz = 20.0;
  /// Upper band edge; clamped to 0.45 * fs when fs is low (e.g. 1 kHz data).
  double lowpass_hz = 500.0;
  int order = 4;                      ///< Butterworth order of the band-pass (per pass)
  MainsMode mains = MainsMode::automatic;
  MainsNotchOptions notch{};
  MainsOptions mains_detection{};
  QualityOptions quality{};
  bool zero_phase = true;             ///< sosfiltfilt (offline) or sosfilt (causal)
};

template <class T>
struct ConditionResult {
  RowMatrix<T> data;                  ///< conditioned signal, microvolts; NaN where input was non-finite
  Sos sos;                            ///< the filter that was applied (band-pass then notches)
  MainsReport mains;                  ///< what detection found (status not_found when mains == off)
  double mains_hz = 0.0;              ///< mains frequency that was notched; 0 if none
  double lowpass_hz = 0.0;            ///< band edges actually used after clamping
  double highpass_hz = 0.0;
  std::vector<ChannelQuality> quality;  ///< screening of the raw input
};

/// Conditions a recording. Non-finite samples are filled with zero before
/// filtering (so they cannot smear across the filter's memory) and set back to
/// NaN in the output; the channel is flagged non_finite.
/// Throws std::invalid_argument for fs <= 0, empty input, or bad band edges.
template <class T>
ConditionResult<T> condition(SignalView<T> x, double fs, const ConditionOptions& options = {});

}  // namespace fasctrack::filter
