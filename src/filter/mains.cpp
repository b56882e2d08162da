// Mains (power-line) frequency detection.
//
// Rule (see also mains.hpp):
//  * Spectrum: per channel, Welch with 2 s periodic-Hann segments (0.5 Hz bins,
//    50 % overlap, mean over segments: for stationary noise the mean has the
//    smallest variance of the usual averages, which matters most in the short
//    recordings where false lines are likeliest).
//  * Prominence of a line at f: peak PSD within +-0.5 Hz of f (tolerates a
//    grid off-nominal by up to ~0.5 Hz at the fundamental and keeps the
//    nearest bin within a quarter Hann main lobe, <= 1.4 dB scalloping loss)
//    over the median PSD of the bins within +-8 Hz. Excluded from those
//    neighbours: the line's own +-1 Hz (the Hann main lobe at 0.5 Hz
//    resolution is +-2 bins = +-1 Hz) and the +-1 Hz around every harmonic of
//    every candidate, so the other candidate's lines never inflate the floor.
//    The median of neighbours follows the smooth EMG spectrum and ignores
//    isolated lines. 10*log10(peak / median), clamped to +-300 dB.
//  * A candidate's score on a channel is the largest prominence among its
//    first `harmonics` harmonics that are NOT shared with another candidate
//    (a harmonic within 2 Hz of any multiple of another candidate's
//    fundamental, e.g. 300 Hz = 6 x 50 = 5 x 60, is evidence for neither and
//    is skipped). The maximum, not a sum, because mains appears either mainly
//    at the fundamental (capacitive pick-up) or mainly at odd harmonics
//    (rectifiers, clipped amplifiers); either alone must be enough. If every
//    harmonic of a candidate is shared (odd candidate lists such as 50 and
//    100), its shared harmonics are scored rather than none. Harmonics whose
//    +-8 Hz neighbourhood does not fit below Nyquist are not scored.
//  * The candidate's score is the median of its channel scores, so one bad
//    electrode (or one good, shielded one) does not decide. The best-scoring
//    candidate (ties: the one listed first) is found when its score reaches
//    the threshold: min_prominence_db, raised to the chance level when that
//    is higher (next point).
//  * Chance level: with few averaged segments a noise bin alone often stands
//    6 dB above its neighbours (a single 2 s periodogram bin is chi-square
//    with 2 degrees of freedom: P(> 4x mean) = 2 %, and the score takes the
//    maximum over 3 bins x 3 harmonics x 2 candidates). So the same
//    prominence is measured at every 0.5 Hz step of the EMG band (20-500 Hz)
//    that is at least 2.5 Hz away from any candidate line: an empirical null
//    distribution for this very spectrum, which reflects the number of
//    segments, window, overlap and any non-stationarity (bursts). The chance
//    level of a channel is q99 + (q99 - q90) of that distribution (dB), a
//    conservative extrapolation to about the 99.9th percentile; the median
//    over channels is used. For 10 s or more of stationary noise it is ~5 dB,
//    below the default 6 dB, so it only matters for short or bursty data
//    (~13 dB for a single 2 s segment). Needs >= 100 null positions, so it is
//    skipped at very low fs.
//  * Recordings shorter than one 2 s segment are too_short: a shorter
//    segment cannot resolve 0.5 Hz.

#include <fasctrack/filter/mains.hpp>

#include "core/select.hpp"
#include "filter/spectral_internal.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>

namespace fasctrack::filter {

std::string_view to_string(MainsStatus status) noexcept {
  switch (status) {
    case MainsStatus::found: return "found";
    case MainsStatus::not_found: return "not_found";
    case MainsStatus::too_short: return "too_short";
  }
  return "unknown";
}

namespace detail {
namespace {

constexpr double kPeakHalfWidthHz = 0.5;      // where the line's peak is searched
constexpr double kLineHalfWidthHz = 1.0;      // excluded from the neighbours (Hann main lobe)
constexpr double kNeighbourHalfWidthHz = 8.0; // local floor
constexpr double kSharedToleranceHz = 2.0;    // two lines' +-1 Hz zones overlap
constexpr double kMaxDb = 300.0;
constexpr Index kMinNeighbours = 6;
constexpr double kNullLowHz = 20.0;         // the EMG band, where mains lines live
constexpr double kNullHighHz = 500.0;
constexpr double kNullClearanceHz = 2.5;    // null peak window and line zone clear of candidate lines
constexpr Index kMinNullPositions = 100;

// Distance from f to the nearest positive multiple of f0.
double distance_to_harmonic(double f, double f0) {
  const double m = std::max(1.0, std::round(f / f0));
  return std::abs(f - m * f0);
}

double ratio_db(double peak, double floor) {
  if (!(peak > 0.0) && !(floor > 0.0)) return 0.0;  // nothing at all (dead channel)
  if (!(floor > 0.0)) return kMaxDb;                 // a line over an exactly zero floor
  if (!(peak > 0.0)) return -kMaxDb;
  const double db = 10.0 * std::log10(peak / floor);
  return std::isnan(db) ? 0.0 : std::clamp(db, -kMaxDb, kMaxDb);
}

}  // namespace

Index fine_nperseg(double fs) {
  // 2 s segments give 0.5 Hz bins: 50 and 60 Hz lines and their harmonics
  // are resolved with room for a +-8 Hz floor between them.
  // (Capped so an absurd fs cannot overflow the conversion; such a segment
  // is longer than any recording, which is then simply too_short.)
  return std::max<Index>(1, static_cast<Index>(std::llround(std::min(2.0 * fs, 1e15))));
}

void validate_mains_options(const MainsOptions& options) {
  if (options.candidates_hz.empty()) {
    throw std::invalid_argument("candidates_hz: must list at least one mains frequency (e.g. 50, 60)");
  }
  for (double f : options.candidates_hz) {
    if (!(std::isfinite(f) && f > 0.0)) {
      throw std::invalid_argument("candidates_hz: every candidate must be a positive, finite frequency, got " +
                                  format_number(f));
    }
  }
  if (!std::isfinite(options.min_prominence_db)) {
    throw std::invalid_argument("min_prominence_db: must be finite, got " + format_number(options.min_prominence_db));
  }
  if (options.harmonics < 1) {
    throw std::invalid_argument("harmonics: must be >= 1 (1 = fundamental only), got " +
                                std::to_string(options.harmonics));
  }
}

namespace {

// Bin index range [first, last] with |f_j - f| <= half_width on a uniform grid.
struct BinRange {
  Index first;
  Index last;
};

BinRange bins_within(double f, double half_width, double df, Index n_freqs) {
  // Small slack so a bin exactly on the edge is in despite rounding.
  const double slack = 1e-9 * df;
  const Index first = std::max<Index>(0, static_cast<Index>(std::ceil((f - half_width - slack) / df)));
  const Index last = std::min<Index>(n_freqs - 1, static_cast<Index>(std::floor((f + half_width + slack) / df)));
  return {first, last};
}

using fasctrack::detail::MedianNetwork;

// The largest power within kPeakHalfWidthHz of f: the line's peak.
double line_peak(const double* p, Index n_freqs, double df, double f) {
  const BinRange peak_bins = bins_within(f, kPeakHalfWidthHz, df, n_freqs);
  double peak = -1.0;
  for (Index j = peak_bins.first; j <= peak_bins.last; ++j) peak = std::max(peak, p[j]);
  if (peak < 0.0) {  // grid coarser than the peak window (fs not a multiple of 0.5 Hz, tiny n)
    const Index nearest = std::clamp<Index>(static_cast<Index>(std::llround(f / df)), 0, n_freqs - 1);
    peak = p[nearest];
  }
  return peak;
}

// The bins of the local floor around f: within kNeighbourHalfWidthHz, outside
// the line's own main lobe and outside every candidate's line zone.
void floor_bins(double f, double df, Index n_freqs, const std::vector<char>& in_line, std::vector<Index>& out) {
  const BinRange around = bins_within(f, kNeighbourHalfWidthHz, df, n_freqs);
  out.clear();
  for (Index j = around.first; j <= around.last; ++j) {
    const double fj = static_cast<double>(j) * df;
    if (std::abs(fj - f) > kLineHalfWidthHz && !in_line[static_cast<std::size_t>(j)]) out.push_back(j);
  }
}

// A line's peak over the median of its floor bins, in dB; NaN if there are
// too few floor bins.
double floor_prominence_db(const double* p, const std::vector<Index>& bins, double peak, std::vector<double>& scratch) {
  if (static_cast<Index>(bins.size()) < kMinNeighbours) return std::numeric_limits<double>::quiet_NaN();
  scratch.clear();
  for (Index j : bins) scratch.push_back(p[j]);
  return ratio_db(peak, median_in_place(scratch));
}

// Prominence (dB) of a line at f on one channel's spectrum; NaN if the
// neighbourhood has too few usable bins.
double prominence_db(const double* p, Index n_freqs, double df, double f, const std::vector<char>& in_line,
                     std::vector<double>& scratch) {
  std::vector<Index> bins;
  floor_bins(f, df, n_freqs, in_line, bins);
  return floor_prominence_db(p, bins, line_peak(p, n_freqs, df, f), scratch);
}

// prominence_db at every null position of one channel, the same values.
// The empirical null takes ~1,000 local-floor medians of ~28 bins per
// channel, the bulk of the start-up decision; quickselect on so few values
// is mostly mispredicted branches. The floor bins of a position do not depend
// on the channel, so positions with the same number of floor bins are
// grouped by eight once, and each group's medians come from one sorting
// network run lane-wise (detail::MedianNetwork), which orders exactly: the
// same median as median_in_place (0.5 x (a + b) and (a + b) / 2 round alike).
class NullProminence {
 public:
  NullProminence(const std::vector<double>& positions, Index n_freqs, double df, const std::vector<char>& in_line)
      : positions_(positions), n_freqs_(n_freqs), df_(df), bins_(positions.size()) {
    constexpr std::size_t W = MedianNetwork::kLanes;
    std::vector<std::vector<std::size_t>> by_count;
    for (std::size_t q = 0; q < positions.size(); ++q) {
      floor_bins(positions[q], df, n_freqs, in_line, bins_[q]);
      const std::size_t n = bins_[q].size();
      if (static_cast<Index>(n) < kMinNeighbours || n > MedianNetwork::kMaxValues) continue;
      if (by_count.size() <= n) by_count.resize(n + 1);
      by_count[n].push_back(q);
    }
    one_by_one_.assign(positions.size(), 1);
    for (std::size_t n = 0; n < by_count.size(); ++n) {
      const auto& qs = by_count[n];
      if (qs.size() < W) continue;
      nets_.emplace_back(n);
      for (std::size_t i = 0; i + W <= qs.size(); i += W) {
        groups_.push_back({nets_.size() - 1, {}});
        for (std::size_t l = 0; l < W; ++l) {
          groups_.back().positions[l] = qs[i + l];
          one_by_one_[qs[i + l]] = 0;
        }
      }
    }
  }

  /// out[q] = prominence_db of position q on spectrum p (NaN: too few bins).
  void run(const double* p, std::vector<double>& out, std::vector<double>& scratch) {
    constexpr std::size_t W = MedianNetwork::kLanes;
    out.assign(positions_.size(), std::numeric_limits<double>::quiet_NaN());
    for (const Group& g : groups_) {
      const MedianNetwork& net = nets_[g.net];
      const std::size_t n = net.values();
      lanes_.resize(n * W);
      bool nan = false;
      for (std::size_t l = 0; l < W; ++l) {
        const std::vector<Index>& bins = bins_[g.positions[l]];
        for (std::size_t r = 0; r < n; ++r) {
          const double v = p[bins[r]];
          lanes_[r * W + l] = v;
          nan |= v != v;
        }
      }
      if (nan) {  // no order: the one-by-one path returns NaN as numpy does
        for (std::size_t q : g.positions) one(p, q, out, scratch);
        continue;
      }
      net.run(lanes_.data());
      for (std::size_t l = 0; l < W; ++l) {
        const std::size_t q = g.positions[l];
        out[q] = ratio_db(line_peak(p, n_freqs_, df_, positions_[q]), net.median(lanes_.data(), l));
      }
    }
    for (std::size_t q = 0; q < positions_.size(); ++q)
      if (one_by_one_[q]) one(p, q, out, scratch);
  }

 private:
  struct Group {
    std::size_t net;
    std::array<std::size_t, MedianNetwork::kLanes> positions;
  };

  void one(const double* p, std::size_t q, std::vector<double>& out, std::vector<double>& scratch) const {
    out[q] = floor_prominence_db(p, bins_[q], line_peak(p, n_freqs_, df_, positions_[q]), scratch);
  }

  std::vector<double> positions_;
  Index n_freqs_;
  double df_;
  std::vector<std::vector<Index>> bins_;
  std::vector<MedianNetwork> nets_;
  std::vector<Group> groups_;
  std::vector<char> one_by_one_;
  std::vector<double> lanes_;
};

// numpy.quantile (linear interpolation) of sorted values.
double quantile_sorted(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const auto lo = static_cast<std::size_t>(std::floor(pos));
  const std::size_t hi = std::min(lo + 1, sorted.size() - 1);
  return sorted[lo] + (pos - static_cast<double>(lo)) * (sorted[hi] - sorted[lo]);
}

}  // namespace

std::vector<double> null_prominences_db(const double* p, Index n_freqs, double df,
                                        const std::vector<double>& positions, const std::vector<char>& in_line,
                                        bool reference) {
  std::vector<double> out, scratch;
  if (reference) {
    for (double f : positions) out.push_back(prominence_db(p, n_freqs, df, f, in_line, scratch));
  } else {
    NullProminence(positions, n_freqs, df, in_line).run(p, out, scratch);
  }
  return out;
}

MainsReport mains_from_psd(const RowMatrix<double>& power, const Eigen::VectorXd& freqs_hz, double fs,
                           Index n_samples, const MainsOptions& options) {
  const std::size_t n_candidates = options.candidates_hz.size();
  const Index n_channels = power.rows();
  MainsReport report;
  report.candidate_prominence_db.assign(n_candidates, 0.0);
  report.channel_prominence_db.assign(static_cast<std::size_t>(n_channels), 0.0);
  report.candidate_harmonic_prominence_db.assign(n_candidates, {});
  if (n_samples < fine_nperseg(fs) || freqs_hz.size() < 2 || power.cols() != freqs_hz.size()) {
    report.status = MainsStatus::too_short;
    return report;
  }
  report.status = MainsStatus::not_found;
  const double nyquist = fs / 2.0;
  const Index n_freqs = freqs_hz.size();
  const double df = freqs_hz[1];

  auto near_candidate_line = [&](double f, double tolerance) {
    for (double f0 : options.candidates_hz) {
      if (f >= f0 - tolerance && distance_to_harmonic(f, f0) <= tolerance) return true;
    }
    return false;
  };

  // Bins inside any candidate's line zone never count as floor.
  std::vector<char> in_line(static_cast<std::size_t>(n_freqs), 0);
  for (Index j = 0; j < n_freqs; ++j) in_line[static_cast<std::size_t>(j)] = near_candidate_line(freqs_hz[j], kLineHalfWidthHz);

  // Harmonics scored for each candidate.
  std::vector<std::vector<double>> scored(n_candidates);
  for (std::size_t k = 0; k < n_candidates; ++k) {
    const double f0 = options.candidates_hz[k];
    std::vector<double> unshared, all;
    for (int h = 1; h <= options.harmonics; ++h) {
      const double f = h * f0;
      if (f + kNeighbourHalfWidthHz > nyquist) break;
      all.push_back(f);
      bool shared = false;
      for (std::size_t other = 0; other < n_candidates; ++other) {
        const double g0 = options.candidates_hz[other];
        if (other == k || g0 == f0) continue;
        if (f >= g0 - kSharedToleranceHz && distance_to_harmonic(f, g0) <= kSharedToleranceHz) shared = true;
      }
      if (!shared) unshared.push_back(f);
    }
    scored[k] = unshared.empty() ? all : unshared;
  }

  // Positions of the empirical null: the EMG band, away from candidate lines.
  std::vector<double> null_positions;
  const double null_top = std::min(kNullHighHz, nyquist - kNeighbourHalfWidthHz);
  for (double f = kNullLowHz; f <= null_top; f += 0.5) {
    if (!near_candidate_line(f, kNullClearanceHz)) null_positions.push_back(f);
  }
  const bool use_null = static_cast<Index>(null_positions.size()) >= kMinNullPositions;

  // Every harmonic of each candidate, for the notch comb: the ones scored
  // above, and the rest up to where the neighbourhood fits below Nyquist.
  std::vector<std::vector<double>> every(n_candidates);
  for (std::size_t k = 0; k < n_candidates; ++k)
    for (int h = 1; h * options.candidates_hz[k] + kNeighbourHalfWidthHz <= nyquist; ++h)
      every[k].push_back(h * options.candidates_hz[k]);
  std::vector<RowMatrix<double>> harmonic_db(n_candidates);
  for (std::size_t k = 0; k < n_candidates; ++k) harmonic_db[k].resize(static_cast<Index>(every[k].size()), n_channels);

  RowMatrix<double> score = RowMatrix<double>::Zero(n_channels, static_cast<Index>(n_candidates));
  std::vector<double> chance(static_cast<std::size_t>(n_channels), -std::numeric_limits<double>::infinity());
  std::vector<double> scratch;
  std::vector<double> null_values, null_db;
  // Every channel's null prominences, for the chance level of the harmonic
  // statistic (an upper quartile over channels) below.
  RowMatrix<double> null_all;
  if (use_null) null_all.resize(n_channels, static_cast<Index>(null_positions.size()));
  std::optional<NullProminence> null_prominence;
  if (use_null) null_prominence.emplace(null_positions, n_freqs, df, in_line);
  for (Index c = 0; c < n_channels; ++c) {
    const double* p = power.row(c).data();
    for (std::size_t k = 0; k < n_candidates; ++k) {
      double best = -std::numeric_limits<double>::infinity();
      for (double f : scored[k]) {
        const double db = prominence_db(p, n_freqs, df, f, in_line, scratch);
        if (!std::isnan(db)) best = std::max(best, db);
      }
      score(c, static_cast<Index>(k)) = std::isfinite(best) ? best : 0.0;
      // A harmonic whose floor cannot be measured counts as present: a
      // needless notch costs time, a missing one leaves a line.
      for (std::size_t h = 0; h < every[k].size(); ++h) {
        const double db = prominence_db(p, n_freqs, df, every[k][h], in_line, scratch);
        harmonic_db[k](static_cast<Index>(h), c) = std::isnan(db) ? kMaxDb : db;
      }
    }
    if (use_null) {
      null_prominence->run(p, null_db, scratch);
      for (std::size_t q = 0; q < null_db.size(); ++q) null_all(c, static_cast<Index>(q)) = null_db[q];
      null_values.clear();
      for (double db : null_db)
        if (!std::isnan(db)) null_values.push_back(db);
      if (static_cast<Index>(null_values.size()) >= kMinNullPositions) {
        std::sort(null_values.begin(), null_values.end());
        const double q90 = quantile_sorted(null_values, 0.90);
        const double q99 = quantile_sorted(null_values, 0.99);
        chance[static_cast<std::size_t>(c)] = q99 + (q99 - q90);
      }
    }
  }

  std::vector<double> column(static_cast<std::size_t>(n_channels));
  std::size_t best_k = 0;
  for (std::size_t k = 0; k < n_candidates; ++k) {
    for (Index c = 0; c < n_channels; ++c) column[static_cast<std::size_t>(c)] = score(c, static_cast<Index>(k));
    report.candidate_prominence_db[k] = median_in_place(column);
    if (report.candidate_prominence_db[k] > report.candidate_prominence_db[best_k]) best_k = k;
  }
  report.prominence_db = report.candidate_prominence_db[best_k];
  const double chance_db = median_in_place(chance);  // -inf when no channel had a null
  const double threshold = std::max(options.min_prominence_db, chance_db);
  report.threshold_db = threshold;
  // The harmonics' statistic: the upper quartile over channels.
  std::vector<double> sorted;
  const auto upper_quartile = [&](const double* v, Index stride) {
    sorted.clear();
    for (Index c = 0; c < n_channels; ++c)
      if (!std::isnan(v[c * stride])) sorted.push_back(v[c * stride]);
    if (sorted.empty()) return std::numeric_limits<double>::quiet_NaN();
    std::sort(sorted.begin(), sorted.end());
    return quantile_sorted(sorted, 0.75);
  };
  for (std::size_t k = 0; k < n_candidates; ++k)
    for (Index h = 0; h < harmonic_db[k].rows(); ++h)
      report.candidate_harmonic_prominence_db[k].push_back(upper_quartile(harmonic_db[k].row(h).data(), 1));
  // Its chance level: the same statistic at the null positions, 99th
  // percentile (at least min_prominence_db). Lower than the line's
  // threshold on purpose: a needless notch costs a little time, a missed
  // harmonic leaves a line in the band.
  report.harmonic_threshold_db = options.min_prominence_db;
  if (use_null) {
    std::vector<double> null_stat;
    for (Index q = 0; q < null_all.cols(); ++q) {
      const double v = upper_quartile(null_all.data() + q, null_all.cols());
      if (!std::isnan(v)) null_stat.push_back(v);
    }
    if (static_cast<Index>(null_stat.size()) >= kMinNullPositions) {
      std::sort(null_stat.begin(), null_stat.end());
      report.harmonic_threshold_db = std::max(options.min_prominence_db, quantile_sorted(null_stat, 0.99));
    }
  }
  if (report.prominence_db >= threshold) {
    report.status = MainsStatus::found;
    report.frequency_hz = options.candidates_hz[best_k];
    for (Index c = 0; c < n_channels; ++c) {
      report.channel_prominence_db[static_cast<std::size_t>(c)] = score(c, static_cast<Index>(best_k));
    }
  }
  return report;
}

}  // namespace detail

std::vector<bool> harmonics_to_notch(const MainsReport& report, double mains_hz, std::size_t n,
                                     const MainsOptions& options) {
  std::vector<bool> need(n, true);
  const auto& cands = options.candidates_hz;
  const auto it = std::find(cands.begin(), cands.end(), mains_hz);
  if (it == cands.end() || report.candidate_harmonic_prominence_db.size() != cands.size()) return need;
  const auto& db = report.candidate_harmonic_prominence_db[static_cast<std::size_t>(it - cands.begin())];
  for (std::size_t k = 1; k < std::min(n, db.size()); ++k) need[k] = db[k] >= report.harmonic_threshold_db;
  return need;
}

template <class T>
MainsReport detect_mains(SignalView<T> x, double fs, const MainsOptions& options) {
  detail::check_fs(fs);
  detail::validate_mains_options(options);
  if (x.rows() < 1) throw std::invalid_argument("x: no channels");
  const Index n_samples = x.cols();
  const Index nperseg = detail::fine_nperseg(fs);
  if (n_samples < nperseg) {
    return detail::mains_from_psd(RowMatrix<double>(x.rows(), 0), Eigen::VectorXd(), fs, n_samples, options);
  }
  WelchOptions welch_options;
  welch_options.nperseg = nperseg;
  const detail::WelchSetup setup = detail::make_welch_setup(n_samples, fs, welch_options);
  const Eigen::VectorXd freqs = detail::rfft_freqs(setup.nperseg, fs);
  RowMatrix<double> power(x.rows(), freqs.size());
  detail::WelchWorkspace work(setup);
  std::vector<double> channel(static_cast<std::size_t>(n_samples));
  for (Index c = 0; c < x.rows(); ++c) {
    // Non-finite samples become zero for this estimate only.
    for (Index i = 0; i < n_samples; ++i) {
      const double v = static_cast<double>(x(c, i));
      channel[static_cast<std::size_t>(i)] = std::isfinite(v) ? v : 0.0;
    }
    // Prominences are ratios: rescaling absurdly large or small channels
    // changes none of them but keeps |X|^2 finite and non-zero.
    const double scale = detail::normalising_scale(channel.data(), n_samples);
    if (scale != 1.0) {
      for (double& v : channel) v *= scale;
    }
    detail::welch_channel(channel.data(), setup, work, power.row(c).data(), nullptr);
  }
  return detail::mains_from_psd(power, freqs, fs, n_samples, options);
}

template MainsReport detect_mains<float>(SignalView<float>, double, const MainsOptions&);
template MainsReport detect_mains<double>(SignalView<double>, double, const MainsOptions&);

}  // namespace fasctrack::filter
