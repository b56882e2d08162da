// Welch power spectral density, bit-for-bit the algorithm of
// scipy.signal.welch(window='hann', detrend='constant', scaling='density').

#include <fasctrack/filter/spectral.hpp>

#include "filter/spectral_internal.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>

namespace fasctrack::filter {
namespace detail {

double median_in_place(std::vector<double>& v) {
  const std::size_t n = v.size();
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  // NaN would break nth_element's ordering; numpy's median returns NaN too.
  for (double value : v) {
    if (std::isnan(value)) return value;
  }
  const std::size_t mid = n / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (n % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2.0;
}

double normalising_scale(const double* x, Index n) {
  double peak = 0.0;
  for (Index i = 0; i < n; ++i) {
    if (std::isfinite(x[i])) peak = std::max(peak, std::abs(x[i]));
  }
  if (peak == 0.0 || (peak > 1e-100 && peak < 1e100)) return 1.0;
  int exponent = 0;
  std::frexp(peak, &exponent);
  return std::ldexp(1.0, -exponent);
}

std::string format_number(double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.12g", value);
  return buffer;
}

void check_fs(double fs) {
  if (!(std::isfinite(fs) && fs > 0.0)) {
    throw std::invalid_argument("fs: must be a positive, finite sampling rate in Hz, got " + format_number(fs));
  }
}

Eigen::VectorXd rfft_freqs(Index nperseg, double fs) {
  // numpy.fft.rfftfreq(n, d=1/fs): k * (1 / (n * d)), evaluated in the same
  // order so the frequencies match NumPy's to the last bit.
  const double val = 1.0 / (static_cast<double>(nperseg) * (1.0 / fs));
  Eigen::VectorXd freqs(nperseg / 2 + 1);
  for (Index k = 0; k < freqs.size(); ++k) freqs[k] = static_cast<double>(k) * val;
  return freqs;
}

WelchSetup make_welch_setup(Index n_samples, double fs, const WelchOptions& options) {
  check_fs(fs);
  if (n_samples < 1) throw std::invalid_argument("x: empty input, welch needs at least one sample");
  if (options.nperseg < 0) {
    throw std::invalid_argument("nperseg: must be positive (or 0 for 1 s of samples), got " +
                                std::to_string(options.nperseg));
  }
  WelchSetup setup;
  setup.fs = fs;
  setup.median = options.median;
  Index nperseg = options.nperseg;
  if (nperseg == 0) {
    // 1 s segments: 1 Hz resolution, enough to separate mains lines from the
    // EMG continuum while averaging many segments of a typical recording.
    const double one_second = std::round(fs);
    nperseg = one_second >= static_cast<double>(n_samples) ? n_samples
                                                          : std::max<Index>(1, static_cast<Index>(one_second));
  }
  // As scipy: a segment longer than the signal is shortened to the signal
  // (scipy warns; a short recording is not a configuration error).
  nperseg = std::min(nperseg, n_samples);
  Index noverlap = options.noverlap;
  if (noverlap == -1) {
    noverlap = nperseg / 2;
  } else if (noverlap < 0) {
    throw std::invalid_argument("noverlap: must be >= 0 (or -1 for nperseg / 2), got " +
                                std::to_string(noverlap));
  } else if (noverlap >= nperseg) {
    throw std::invalid_argument("noverlap: " + std::to_string(noverlap) + " must be less than nperseg (" +
                                std::to_string(nperseg) +
                                (nperseg < options.nperseg ? ", shortened to the signal's length)" : ")"));
  }
  setup.nperseg = nperseg;
  setup.noverlap = noverlap;
  const Index step = nperseg - noverlap;
  setup.n_segments = (n_samples - noverlap) / step;

  // Periodic ("DFT-even") Hann window, scipy.signal.get_window('hann', N)'s
  // default: the first N points of a symmetric N + 1 point window. It is the
  // variant whose 50 % overlapped copies sum to a constant. A 1-point window
  // is [1], as scipy.
  setup.window.resize(nperseg);
  if (nperseg == 1) {
    setup.window[0] = 1.0;
  } else {
    for (Index i = 0; i < nperseg; ++i) {
      setup.window[i] =
          0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(nperseg));
    }
  }
  // 'density' scaling: |X|^2 / (fs * sum(w^2)) makes the PSD integrate to the
  // signal's variance whatever the window.
  setup.scale = 1.0 / (fs * setup.window.squaredNorm());
  return setup;
}

WelchWorkspace::WelchWorkspace(const WelchSetup& setup) : fft(setup.nperseg) {
  if (setup.median && setup.n_segments > 1) {
    segments.resize(fft.n_bins(), setup.n_segments);
    column.resize(static_cast<std::size_t>(setup.n_segments));
  }
}

namespace {

// scipy.signal._spectral_py._median_bias: the median of n chi^2(2)/2 samples
// underestimates their mean by this factor (ln 2 for large n).
double median_bias(Index n) {
  double bias = 1.0;
  for (Index k = 1; k <= (n - 1) / 2; ++k) {
    const double ii2 = 2.0 * static_cast<double>(k);
    bias += 1.0 / (ii2 + 1.0) - 1.0 / ii2;
  }
  return bias;
}

}  // namespace

template <class T>
void welch_channel(const T* x, const WelchSetup& setup, WelchWorkspace& work, double* mean_out,
                   double* median_out) {
  const Index nperseg = setup.nperseg;
  const Index step = nperseg - setup.noverlap;
  const Index n_bins = work.fft.n_bins();
  // A single segment is its own mean and median (scipy skips averaging then).
  const bool keep_segments = median_out != nullptr && setup.n_segments > 1;
  double* in = work.fft.input();
  if (keep_segments && work.segments.rows() != n_bins) {
    throw std::logic_error("welch_channel: median requested from a workspace made for mean averaging");
  }
  // Accumulate the mean in mean_out, or (single segment, median only) in median_out.
  double* sum = mean_out != nullptr ? mean_out : (keep_segments ? nullptr : median_out);
  if (sum != nullptr) std::fill(sum, sum + n_bins, 0.0);

  for (Index s = 0; s < setup.n_segments; ++s) {
    const T* seg = x + s * step;
    // detrend='constant': remove each segment's mean so DC offsets and slow
    // drift do not leak through the window's sidelobes into the EMG band.
    double mean = 0.0;
    for (Index i = 0; i < nperseg; ++i) mean += static_cast<double>(seg[i]);
    mean /= static_cast<double>(nperseg);
    for (Index i = 0; i < nperseg; ++i) in[i] = (static_cast<double>(seg[i]) - mean) * setup.window[i];
    work.fft.execute();
    const std::complex<double>* spectrum = work.fft.output();
    for (Index k = 0; k < n_bins; ++k) {
      const double p = std::norm(spectrum[k]) * setup.scale;
      if (sum != nullptr) sum[k] += p;
      if (keep_segments) work.segments(k, s) = p;
    }
  }

  // One-sided spectrum: fold the negative frequencies onto the positive ones,
  // except DC and (even nperseg) Nyquist, which have no mirror image.
  const Index last = (nperseg % 2 == 0) ? n_bins - 1 : n_bins;
  auto fold = [&](double* out) {
    for (Index k = 1; k < last; ++k) out[k] *= 2.0;
  };
  if (sum != nullptr) {
    const double n_segments = static_cast<double>(setup.n_segments);
    for (Index k = 0; k < n_bins; ++k) sum[k] /= n_segments;
    fold(sum);
  }
  if (keep_segments) {
    // Median averaging (scipy average='median') ignores the few segments hit
    // by bursts or movement artefacts; the bias factor makes it estimate the
    // same mean power as the mean average for stationary noise.
    const double bias = median_bias(setup.n_segments);
    for (Index k = 0; k < n_bins; ++k) {
      std::copy(work.segments.row(k).data(), work.segments.row(k).data() + setup.n_segments, work.column.begin());
      median_out[k] = median_in_place(work.column) / bias;
    }
    fold(median_out);
  } else if (median_out != nullptr && median_out != sum) {
    std::copy(sum, sum + n_bins, median_out);
  }
}

template void welch_channel<float>(const float*, const WelchSetup&, WelchWorkspace&, double*, double*);
template void welch_channel<double>(const double*, const WelchSetup&, WelchWorkspace&, double*, double*);

}  // namespace detail

template <class T>
Psd welch(SignalView<T> x, double fs, const WelchOptions& options) {
  detail::check_fs(fs);
  if (x.rows() < 1 || x.cols() < 1) {
    throw std::invalid_argument("x: empty input (" + std::to_string(x.rows()) + " channels x " +
                                std::to_string(x.cols()) + " samples)");
  }
  for (Index c = 0; c < x.rows(); ++c) {
    for (Index i = 0; i < x.cols(); ++i) {
      if (!std::isfinite(x(c, i))) {
        throw std::invalid_argument("x: sample " + std::to_string(i) + " of channel " + std::to_string(c) +
                                    " is not finite; welch needs finite data (screen with channel_quality())");
      }
    }
  }
  const detail::WelchSetup setup = detail::make_welch_setup(x.cols(), fs, options);
  Psd psd;
  psd.freqs_hz = detail::rfft_freqs(setup.nperseg, fs);
  psd.power.resize(x.rows(), psd.freqs_hz.size());
  detail::WelchWorkspace work(setup);
  for (Index c = 0; c < x.rows(); ++c) {
    double* out = psd.power.row(c).data();
    detail::welch_channel(x.row(c).data(), setup, work, setup.median ? nullptr : out, setup.median ? out : nullptr);
  }
  return psd;
}

template Psd welch<float>(SignalView<float>, double, const WelchOptions&);
template Psd welch<double>(SignalView<double>, double, const WelchOptions&);

}  // namespace fasctrack::filter
