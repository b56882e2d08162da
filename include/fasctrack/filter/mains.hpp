#pragma once
// Mains (power-line) interference: which of 50 or 60 Hz is present.

#include <fasctrack/core/types.hpp>

#include <vector>

namespace fasctrack::filter {

/// Outcome of mains detection.
enum class MainsStatus {
  found,        ///< one candidate clearly stands above the local spectrum
  not_found,    ///< no candidate line rises above the threshold (clean or well shielded)
  too_short,    ///< recording shorter than the analysis needs (< 2 s)
};

std::string_view to_string(MainsStatus status) noexcept;

struct MainsOptions {
  std::vector<double> candidates_hz{50.0, 60.0};
  /// A line counts when its peak PSD is this many dB above the median PSD of
  /// the neighbouring bins (+-8 Hz, the line's own +-1 Hz excluded).
  double min_prominence_db = 6.0;
  /// Harmonics (including the fundamental) whose prominences are combined;
  /// rectified or clipped mains puts much of its energy at 150/180 Hz.
  int harmonics = 3;
};

struct MainsReport {
  MainsStatus status = MainsStatus::not_found;
  double frequency_hz = 0.0;       ///< the detected fundamental, 0 unless found
  double prominence_db = 0.0;      ///< best candidate's score (median over channels)
  std::vector<double> candidate_prominence_db;  ///< score per candidate, same order as options
  std::vector<double> channel_prominence_db;    ///< detected line's score per channel (0 if not found)
};

/// Detects the mains frequency from the data: Welch PSD (0.5 Hz resolution)
/// per channel, prominence of each candidate's harmonics against neighbouring
/// bins, median over channels (so one bad electrode does not decide).
/// Non-finite samples are replaced by zero for this estimate only.
template <class T>
MainsReport detect_mains(SignalView<T> x, double fs, const MainsOptions& options = {});

}  // namespace fasctrack::filter
