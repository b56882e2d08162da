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
  /// What the best candidate had to reach to be found: min_prominence_db, or
  /// the chance level of these spectra when that is higher.
  double threshold_db = 0.0;
  /// Per candidate (same order as options), the prominence of each harmonic
  /// k x f0, k = 1, 2, ... while its +-8 Hz neighbourhood fits below Nyquist:
  /// the upper quartile over channels, so a harmonic on a quarter of the
  /// electrodes counts (a harmonic whose floor no channel can measure scores
  /// as present).
  std::vector<std::vector<double>> candidate_harmonic_prominence_db;
  /// The chance level of that statistic: its 99th percentile at the null
  /// positions (line-free frequencies of the EMG band) of these spectra, at
  /// least min_prominence_db (which it is when there are too few positions).
  /// A harmonic at or above it is present; the others are under the noise of
  /// their 0.5 Hz bins.
  double harmonic_threshold_db = 0.0;
};

/// Detects the mains frequency from the data: Welch PSD (0.5 Hz resolution)
/// per channel, prominence of each candidate's harmonics against neighbouring
/// bins, median over channels (so one bad electrode does not decide).
/// Non-finite samples are replaced by zero for this estimate only.
template <class T>
MainsReport detect_mains(SignalView<T> x, double fs, const MainsOptions& options = {});

/// Which of the first n harmonics of mains_hz (element k: harmonic k + 1, the
/// rows of a mains_notches comb) need a notch by the report of detect_mains
/// run with these options: the fundamental always, every harmonic scored at
/// or above harmonic_threshold_db, and any the report did not score (beyond
/// its spectrum, too short a recording, mains_hz not a candidate).
std::vector<bool> harmonics_to_notch(const MainsReport& report, double mains_hz, std::size_t n,
                                     const MainsOptions& options = {});

}  // namespace fasctrack::filter
