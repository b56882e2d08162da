#pragma once
// Private pieces shared by spectral.cpp, mains.cpp, quality.cpp and condition.cpp.

#include <fasctrack/core/types.hpp>
#include <fasctrack/filter/mains.hpp>
#include <fasctrack/filter/quality.hpp>
#include <fasctrack/filter/spectral.hpp>

#include "filter/fft.hpp"

#include <string>
#include <vector>

namespace fasctrack::filter::detail {

/// Resolved segmenting of one welch() call (arguments already validated).
struct WelchSetup {
  double fs = 1.0;
  Index nperseg = 1;
  Index noverlap = 0;
  Index n_segments = 1;
  bool median = false;
  Eigen::VectorXd window;  ///< periodic Hann, as scipy.signal.get_window('hann', nperseg)
  double scale = 1.0;      ///< 1 / (fs * sum(window^2)): 'density' scaling
};

/// Throws std::invalid_argument unless fs is positive and finite.
void check_fs(double fs);

/// Resolves WelchOptions for n_samples like scipy (nperseg capped at
/// n_samples, noverlap = nperseg / 2 by default). Throws std::invalid_argument.
WelchSetup make_welch_setup(Index n_samples, double fs, const WelchOptions& options);

/// Frequencies of a one-sided spectrum of nperseg points, as numpy.fft.rfftfreq.
Eigen::VectorXd rfft_freqs(Index nperseg, double fs);

/// Reusable buffers of welch_channel(); one per thread.
struct WelchWorkspace {
  explicit WelchWorkspace(const WelchSetup& setup);
  RealFft fft;
  RowMatrix<double> segments;  ///< (n_bins, n_segments), median averaging only
  std::vector<double> column;  ///< scratch for the median
};

/// Welch PSD of one channel of finite samples (n_samples >= setup.nperseg):
/// the mean over segments into mean_out and/or the bias-corrected median into
/// median_out (either may be null), n_bins values each. setup.median only
/// decides whether the workspace keeps the segments; computing a median needs
/// a workspace made from a setup with median == true.
template <class T>
void welch_channel(const T* x, const WelchSetup& setup, WelchWorkspace& work, double* mean_out,
                   double* median_out);

/// Segment length of the fine (0.5 Hz) spectra used for mains and quality:
/// 2 s of samples.
Index fine_nperseg(double fs);

/// Throws std::invalid_argument naming the bad field of MainsOptions.
void validate_mains_options(const MainsOptions& options);

/// Mains decision (see mains.cpp for the rule) from per-channel fine spectra
/// (n_channels, n_freqs; mean-averaged Welch of zero-filled data spanning
/// n_samples). Empty spectra or n_samples < fine_nperseg(fs) give too_short.
MainsReport mains_from_psd(const RowMatrix<double>& power, const Eigen::VectorXd& freqs_hz, double fs,
                           Index n_samples, const MainsOptions& options);

/// The mains rule's prominences (dB; NaN: too few floor bins) of one
/// spectrum p (n_freqs bins df apart) at each of `positions`, with the
/// candidates' line zones `in_line` (one flag per bin) kept out of the
/// floor: grouped through sorting networks as the empirical null takes them,
/// or with `reference`, one median_in_place per position. The two are equal
/// bit for bit (tests).
std::vector<double> null_prominences_db(const double* p, Index n_freqs, double df,
                                        const std::vector<double>& positions, const std::vector<char>& in_line,
                                        bool reference);

/// channel_quality(), optionally also returning the mains report of
/// detect_mains(x, fs, mains_options) computed from the same spectra.
template <class T>
std::vector<ChannelQuality> channel_quality_impl(SignalView<T> x, double fs, const QualityOptions& options,
                                                 const MainsOptions& mains_options, MainsReport* report);

/// numpy.median of v (reorders v): the middle value or the mean of the two
/// middle values; NaN if v is empty or holds a NaN.
double median_in_place(std::vector<double>& v);

/// Power-of-two factor that brings max|x| of finite samples near 1 when it is
/// beyond 1e+-100, so squared magnitudes neither overflow nor underflow. Scale
/// invariant measures (dB prominence, power fractions) are unchanged by it,
/// exactly, since multiplying by a power of two is exact. 1 otherwise.
double normalising_scale(const double* x, Index n);

/// Formats a double for error messages ("-1", "0.5", "nan").
std::string format_number(double value);

}  // namespace fasctrack::filter::detail
