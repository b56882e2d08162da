// Channel quality screening: time-domain checks (flat, clipped, non-finite)
// and two spectral shares (mains, low frequency) from 0.5 Hz Welch spectra.

#include <fasctrack/filter/quality.hpp>

#include "filter/spectral_internal.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

namespace fasctrack::filter {

std::string describe_flags(std::uint32_t flags) {
  static constexpr struct {
    std::uint32_t bit;
    const char* name;
  } names[] = {{quality_flat, "flat"},
               {quality_saturated, "saturated"},
               {quality_non_finite, "non_finite"},
               {quality_excessive_mains, "excessive_mains"},
               {quality_disconnected, "disconnected"}};
  if (flags == quality_ok) return "ok";
  std::string text;
  std::uint32_t known = 0;
  for (const auto& entry : names) {
    known |= entry.bit;
    if (flags & entry.bit) {
      if (!text.empty()) text += ',';
      text += entry.name;
    }
  }
  if (const std::uint32_t unknown = flags & ~known; unknown != 0) {
    // Bits from a newer version: shown, not dropped, so nothing is hidden.
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%x", static_cast<unsigned>(unknown));
    if (!text.empty()) text += ',';
    text += buffer;
  }
  return text;
}

namespace detail {
namespace {

// EMG band of the mains share: surface MUAP energy is 20-500 Hz, so this is
// the band whose contamination matters downstream.
constexpr double kEmgLowHz = 20.0;
constexpr double kEmgHighHz = 500.0;
constexpr double kMainsHalfWidthHz = 1.0;   // Hann main lobe at 0.5 Hz resolution
constexpr double kLowFrequencyHz = 10.0;    // below this: baseline wander, movement, lifted electrode
constexpr Index kMinClipRun = 3;            // a clipped amplifier stays at its rail for several samples

void check_fraction(const char* name, double value) {
  if (!(value >= 0.0 && value <= 1.0)) {
    throw std::invalid_argument(std::string(name) + ": must be a fraction in [0, 1], got " + format_number(value));
  }
}

void check_non_negative(const char* name, double value) {
  if (!(std::isfinite(value) && value >= 0.0)) {
    throw std::invalid_argument(std::string(name) + ": must be finite and >= 0, got " + format_number(value));
  }
}

void validate_quality_options(const QualityOptions& o) {
  check_non_negative("flat_rms_uv", o.flat_rms_uv);
  if (!(std::isfinite(o.flat_run_s) && o.flat_run_s > 0.0)) {
    throw std::invalid_argument("flat_run_s: must be positive and finite, got " + format_number(o.flat_run_s));
  }
  check_fraction("saturation_fraction", o.saturation_fraction);
  check_fraction("mains_fraction", o.mains_fraction);
  if (!(o.disconnected_rms_uv > 0.0)) {  // +inf allowed: disables the check
    throw std::invalid_argument("disconnected_rms_uv: must be positive, got " + format_number(o.disconnected_rms_uv));
  }
  check_fraction("disconnected_low_fraction", o.disconnected_low_fraction);
  if (!(o.disconnected_low_rms_uv >= 0.0)) {
    throw std::invalid_argument("disconnected_low_rms_uv: must be non-negative, got " +
                                format_number(o.disconnected_low_rms_uv));
  }
  check_non_negative("mains_hz", o.mains_hz);
}

// Time-domain measurements of one channel.
template <class T>
void time_domain(const T* x, Index n, ChannelQuality& q) {
  Index n_finite = 0;
  double lo = std::numeric_limits<double>::infinity();
  double hi = -lo;
  // The mean is accumulated as offsets from the first finite sample, halved
  // and divided by n so the sum cannot overflow even near DBL_MAX; a constant
  // channel then has exactly its value as mean and exactly zero RMS.
  double reference = std::numeric_limits<double>::quiet_NaN();
  double offset_part = 0.0;
  Index run = 0;
  double previous = 0.0;
  for (Index i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]);
    if (!std::isfinite(v)) {
      ++q.n_non_finite;
      if (!q.non_finite_runs.empty() && q.non_finite_runs.back().stop == i) {
        q.non_finite_runs.back().stop = i + 1;
      } else {
        q.non_finite_runs.push_back({i, i + 1});
      }
      run = 0;  // a gap ends a run of identical values
      continue;
    }
    ++n_finite;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
    if (n_finite == 1) reference = v;
    offset_part += (0.5 * v - 0.5 * reference) / static_cast<double>(n);
    run = (run > 0 && v == previous) ? run + 1 : 1;
    previous = v;
    q.longest_flat_run = std::max(q.longest_flat_run, run);
  }
  if (n_finite == 0) return;  // rms 0, nothing clipped: flat (and non_finite) decide

  const double mean =
      reference + 2.0 * (offset_part * (static_cast<double>(n) / static_cast<double>(n_finite)));
  // RMS about the mean, scaled by the largest deviation so that squaring
  // neither overflows (1e200 uV garbage) nor underflows.
  double largest = 0.0;
  for (Index i = 0; i < n; ++i) {
    const double v = static_cast<double>(x[i]);
    if (std::isfinite(v)) largest = std::max(largest, std::abs(v - mean));
  }
  if (largest > 0.0 && std::isfinite(largest)) {
    double sum = 0.0;
    for (Index i = 0; i < n; ++i) {
      const double v = static_cast<double>(x[i]);
      if (std::isfinite(v)) {
        const double d = (v - mean) / largest;
        sum += d * d;
      }
    }
    q.rms_uv = largest * std::sqrt(sum / static_cast<double>(n_finite));
  } else if (!std::isfinite(largest)) {
    q.rms_uv = std::numeric_limits<double>::infinity();  // spread beyond double range
  }

  // Clipping: the amplifier or ADC saturates at fixed rails, so a clipped
  // channel sits for several consecutive samples at exactly its minimum or
  // maximum. A constant channel has lo == hi and is flat, not clipped.
  Index clipped = 0;
  if (hi > lo) {
    Index start = 0;
    for (Index i = 0; i <= n; ++i) {
      const bool same = i < n && i > start && static_cast<double>(x[i]) == static_cast<double>(x[start]);
      if (same) continue;
      if (i > start) {
        const double v = static_cast<double>(x[start]);
        if ((v == lo || v == hi) && i - start >= kMinClipRun) clipped += i - start;
      }
      start = i;
    }
  }
  q.clipped_fraction = static_cast<double>(clipped) / static_cast<double>(n_finite);
}

// Gaps are bridged by a straight line between the finite neighbours (held at
// the ends) for the spectral shares: unlike zero-filling, this adds no step
// when the channel has a DC offset, so a NaN run cannot fake low-frequency
// power.
void fill_gaps(std::vector<double>& v, const std::vector<SampleRange>& runs) {
  const Index n = static_cast<Index>(v.size());
  for (const SampleRange& r : runs) {
    const bool has_left = r.start > 0;
    const bool has_right = r.stop < n;
    const double left = has_left ? v[static_cast<std::size_t>(r.start - 1)] : 0.0;
    const double right = has_right ? v[static_cast<std::size_t>(r.stop)] : 0.0;
    for (Index i = r.start; i < r.stop; ++i) {
      double value = 0.0;
      if (has_left && has_right) {
        const double t = static_cast<double>(i - r.start + 1) / static_cast<double>(r.size() + 1);
        value = left + (right - left) * t;
      } else if (has_left) {
        value = left;
      } else if (has_right) {
        value = right;
      }
      v[static_cast<std::size_t>(i)] = value;
    }
  }
}

double share(double part, double total) { return total > 0.0 && std::isfinite(total) ? part / total : 0.0; }

// Share of the 20-500 Hz power within +-1 Hz of harmonics of f0.
double mains_share(const double* psd, const Eigen::VectorXd& freqs, double fs, double f0) {
  const double top = std::min(kEmgHighHz, fs / 2.0);
  double total = 0.0;
  double at_mains = 0.0;
  for (Index j = 0; j < freqs.size(); ++j) {
    const double f = freqs[j];
    if (f < kEmgLowHz || f > top) continue;
    total += psd[j];
    const double m = std::max(1.0, std::round(f / f0));
    if (std::abs(f - m * f0) <= kMainsHalfWidthHz) at_mains += psd[j];
  }
  return share(at_mains, total);
}

}  // namespace

template <class T>
std::vector<ChannelQuality> channel_quality_impl(SignalView<T> x, double fs, const QualityOptions& options,
                                                 const MainsOptions& mains_options, MainsReport* report) {
  check_fs(fs);
  validate_quality_options(options);
  const bool detect = report != nullptr || options.mains_hz == 0.0;
  if (detect) validate_mains_options(mains_options);
  const Index n_channels = x.rows();
  const Index n = x.cols();
  if (n_channels < 1) {
    if (report != nullptr) throw std::invalid_argument("x: no channels");
    return {};
  }
  std::vector<ChannelQuality> result(static_cast<std::size_t>(n_channels));
  const Index flat_run_limit =
      std::max<Index>(2, static_cast<Index>(std::llround(std::min(options.flat_run_s * fs, 9.0e18))));

  for (Index c = 0; c < n_channels; ++c) {
    time_domain(x.row(c).data(), n, result[static_cast<std::size_t>(c)]);
  }

  // Spectra: 0.5 Hz Welch on gap-filled data. They are also the spectra
  // detect_mains() would compute, except for channels with gaps, which
  // detect_mains() zero-fills: those get a second, zero-filled spectrum.
  const Index fine = fine_nperseg(fs);
  const bool detect_here = detect && n >= fine;
  Eigen::VectorXd freqs;
  RowMatrix<double> psd;
  RowMatrix<double> mains_psd;
  if (n > 0) {
    WelchOptions welch_options;
    welch_options.nperseg = std::min(fine, n);
    const WelchSetup setup = make_welch_setup(n, fs, welch_options);
    freqs = rfft_freqs(setup.nperseg, fs);
    psd.resize(n_channels, freqs.size());
    if (detect_here) mains_psd.resize(n_channels, freqs.size());
    WelchWorkspace work(setup);
    std::vector<double> channel(static_cast<std::size_t>(n));
    auto normalise = [&] {
      const double scale = normalising_scale(channel.data(), n);  // shares and dB are scale invariant
      if (scale != 1.0) {
        for (double& v : channel) v *= scale;
      }
    };
    for (Index c = 0; c < n_channels; ++c) {
      const ChannelQuality& q = result[static_cast<std::size_t>(c)];
      for (Index i = 0; i < n; ++i) channel[static_cast<std::size_t>(i)] = static_cast<double>(x(c, i));
      fill_gaps(channel, q.non_finite_runs);
      normalise();
      welch_channel(channel.data(), setup, work, psd.row(c).data(), nullptr);
      if (!detect_here) continue;
      if (q.n_non_finite == 0) {
        mains_psd.row(c) = psd.row(c);
      } else {
        for (Index i = 0; i < n; ++i) {
          const double v = static_cast<double>(x(c, i));
          channel[static_cast<std::size_t>(i)] = std::isfinite(v) ? v : 0.0;
        }
        normalise();
        welch_channel(channel.data(), setup, work, mains_psd.row(c).data(), nullptr);
      }
    }
  }

  MainsReport detected;
  if (detect) {
    detected = mains_from_psd(detect_here ? mains_psd : RowMatrix<double>(n_channels, 0),
                              detect_here ? freqs : Eigen::VectorXd(), fs, n, mains_options);
  }
  if (report != nullptr) *report = detected;

  // Which mains frequency to measure: the given one, else the detected one,
  // else every candidate (the worst counts): detection takes the median over
  // channels, so a single electrode can be swamped by mains that the
  // recording as a whole does not show.
  std::vector<double> mains_freqs;
  if (options.mains_hz > 0.0) {
    mains_freqs = {options.mains_hz};
  } else if (detected.status == MainsStatus::found) {
    mains_freqs = {detected.frequency_hz};
  } else {
    mains_freqs = mains_options.candidates_hz;
  }

  for (Index c = 0; c < n_channels; ++c) {
    ChannelQuality& q = result[static_cast<std::size_t>(c)];
    if (n > 0 && freqs.size() > 1) {
      const double* p = psd.row(c).data();
      for (double f0 : mains_freqs) q.mains_fraction = std::max(q.mains_fraction, mains_share(p, freqs, fs, f0));
      double low = 0.0;
      double total = 0.0;
      for (Index j = 0; j < freqs.size(); ++j) {
        total += p[j];
        if (freqs[j] < kLowFrequencyHz) low += p[j];
      }
      q.low_frequency_fraction = share(low, total);
      q.low_frequency_rms_uv = std::sqrt(low * (freqs[1] - freqs[0]));
    }

    const bool flat_by_rms = q.rms_uv < options.flat_rms_uv;
    if (flat_by_rms || q.longest_flat_run >= flat_run_limit) q.flags |= quality_flat;
    if (q.clipped_fraction > options.saturation_fraction) q.flags |= quality_saturated;
    if (q.n_non_finite > 0) q.flags |= quality_non_finite;
    // The spectral shares of a flat channel are ratios of rounding noise;
    // they must not add mains or disconnected flags to a dead channel.
    if (!flat_by_rms) {
      if (q.mains_fraction > options.mains_fraction) q.flags |= quality_excessive_mains;
      const bool wandering = q.low_frequency_fraction > options.disconnected_low_fraction &&
                             q.low_frequency_rms_uv > options.disconnected_low_rms_uv;
      if (q.rms_uv > options.disconnected_rms_uv || wandering) {
        q.flags |= quality_disconnected;
      }
    }
  }
  return result;
}

template std::vector<ChannelQuality> channel_quality_impl<float>(SignalView<float>, double, const QualityOptions&,
                                                                 const MainsOptions&, MainsReport*);
template std::vector<ChannelQuality> channel_quality_impl<double>(SignalView<double>, double, const QualityOptions&,
                                                                  const MainsOptions&, MainsReport*);

}  // namespace detail

template <class T>
std::vector<ChannelQuality> channel_quality(SignalView<T> x, double fs, const QualityOptions& options) {
  return detail::channel_quality_impl<T>(x, fs, options, MainsOptions{}, nullptr);
}

template std::vector<ChannelQuality> channel_quality<float>(SignalView<float>, double, const QualityOptions&);
template std::vector<ChannelQuality> channel_quality<double>(SignalView<double>, double, const QualityOptions&);

}  // namespace fasctrack::filter
