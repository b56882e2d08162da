// Sequential template matching of discharges to motor units.
//
// Similarity rule (see also units.hpp, ClusterOptions):
//  * Whitening: every channel is divided by its noise SD, so a channel counts
//    by its signal-to-noise ratio rather than its raw microvolts (a noisy
//    electrode must not dominate the match, and on a grid the low-noise
//    channels carry the footprint). Channels with a non-positive or
//    non-finite noise SD (flat, disconnected) are left out of the match.
//  * Lags: the template's central samples [L, N-L) (L = max_lag_ms in whole
//    samples) are compared with the snippet shifted by every lag in [-L, L],
//    so each lag uses the same template samples and no lag is favoured by a
//    shorter overlap. One lag for all channels: a unit's spatial pattern of
//    propagation delays is part of its signature and must not be aligned away.
//  * Realignment: a discharge that matches nothing within +-max_lag_ms (and
//    a template that matches no other) is compared again with the averaged
//    templates (>= kRealignMinCount members) at lags up to realign_lag_ms,
//    over all the samples the two share, at lags that put a phase of the
//    template where the discharge itself peaks (see best_match). A complex
//    potential with phases of similar size is timed on either, discharge by
//    discharge, and without this its discharges founded one unit per phase.
//  * Support (where the waveforms are compared): element (c, j) counts when
//    the whitened template exceeds max(1, 4 sqrt(v)) there (v = the noise
//    variance left in the template: 1 for one member, ~1/n once averaged) or
//    the whitened snippet exceeds 4 there, each widened by +-1 ms in time.
//    Over a 40 ms window and a 64-channel grid most elements are pure noise;
//    comparing them would pull every correlation towards 0 in proportion to
//    how quiet the unit is, and so split weak units. The union (template OR
//    snippet) keeps a discharge whose energy lies where the template is
//    silent (another unit's footprint) from looking like a match. A single
//    noisy waveform is trusted only where it is 4 SD out: noise alone gets
//    there in ~1 of 16000 samples, so the support of a founder is its signal,
//    not its noise (at 3 SD a grid snippet has ~15 noise excursions, whose
//    selection-biased energy made weak units split in tests). An averaged
//    template is trusted down to the noise level, so the unit's low-amplitude
//    phases and outlying channels count once they are known. The +-1 ms
//    widening keeps the zero crossings and smaller phases around each peak,
//    which carry the shape.
//  * Correlation: uncentred normalised cross-correlation over the support of
//    all channels jointly (so the spatial footprint counts), with the expected
//    noise energy (|S| for the snippet, |S| v for the template) subtracted
//    from the two norms (each kept >= 20 % of its raw value) and the result
//    capped at 1. Noise is independent of the waveform and between
//    discharges, so it adds to the norms but not, on average, to the cross
//    product; without the correction a unit at SNR 3-4 would correlate with
//    its own template at ~0.8 and split at the default threshold, and the
//    threshold would mean different things at different noise levels.
//  * Amplitude agreement: rho = ratio of the noise-corrected norms (snippet
//    over template); factor 1 - (d / ln max_amplitude_ratio)^2, 0 beyond,
//    where d = |ln rho| less 2 standard errors of ln rho due to noise (not
//    below 0). Flat near 1 (5 % jitter costs < 1 %), steep towards the limit:
//    a surface MUAP of one unit keeps its amplitude within ~10-20 %, and two
//    units with the same shape but clearly different size are two units. The
//    noise allowance matters for weak units: at SNR ~4-6 the noise alone
//    moves the measured energy of a discharge by 20-40 %, which without it
//    split one unit into several; it shrinks to nothing for strong units, so
//    their size still tells them apart. The standard error is computed under
//    "this discharge is the template plus noise" from the template's energy
//    E over the support, |S|, v, and the noise's correlation between
//    neighbouring samples (learnt from the snippet samples outside the
//    support; band-limited noise at high sampling rates varies several times
//    more over a smooth waveform than white noise of the same SD):
//      var(ln rho) = [(4 k E + 2 k2 |S|) + v (4 k E + 2 k2 |S| v)] / (4 E^2),
//    k = 1 + 2 sum_l acf(l) acf_template(l), k2 = 1 + 2 sum_l acf(l)^2.
//    (The correlation gets no such allowance: it would let distinct shapes
//    with r ~0.7 merge at moderate SNR.)
//  * Score = correlation x amplitude factor, maximised over lags; the best
//    unit (lowest id on ties) gets the discharge when its score reaches
//    match_threshold, otherwise the discharge founds a new unit.
//  * The winner's template takes the discharge aligned by the best lag
//    (running mean, then exponential), and is then compared with the other
//    live templates; two that now match are one unit split early by noise,
//    and the younger is merged into the older (see merge_check).

#include <fasctrack/cluster/units.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

namespace fasctrack::cluster {
namespace {

constexpr double kSnippetSupportSd = 4.0;   // noise alone exceeds this in 6e-5 of samples
constexpr double kTemplateSupportSd = 4.0;  // same, for the template's own residual noise
constexpr double kSignalFloorSd = 1.0;      // an averaged template counts down to the noise level
constexpr double kDilationMs = 1.0;
constexpr double kMinCorrectedShare = 0.2;  // noise correction removes at most 80 % of a norm
constexpr double kAmplitudeAllowanceSe = 2.0;
constexpr double kAcfSpanMs = 1.0;          // band-passed EMG noise decorrelates within ~1 ms
constexpr Index kMaxAcfLags = 64;
constexpr double kAcfMinWeight = 0.05;      // running average over ~20 discharges
constexpr Index kMergeMinCount = 3;         // templates averaged over a few discharges before merging
// A discharge that matches no unit at its own timing is compared at
// realigned lags (timed on another phase; see best_match) with the units
// whose templates average at least this many discharges, and, if none of
// them matches, with founders alone. With three here, a complex unit's
// discharges timed on its other phase kept founding units of their own for
// longer (simulated grids and leads, 18 seeds x 10 conditions: 28 true
// events more and 10 false events fewer with two). Without the founders, a
// weak complex unit whose first discharges were timed on different phases
// never got a second member in any of its units, so none was ever searched:
// it stayed split, each part timed on its own phase (a 45 uV complex unit
// on a simulated grid at 7 uV noise: 9 discharges in 4 units, 6 of them
// missed). The founders come last, and only for a close match before the
// noise correction (kFounderRealignRawCorrelation): searched together with
// the averaged templates and by the corrected score alone, a founder of a
// grid unit at peak SNR 3 took 10% of its unit's discharges at chance
// alignments. A tentative discharge (may_found false) is never compared
// with a founder (kTentativeMinCount). Over 18 seeds x 11 simulated
// conditions: 26 true events more and 26 false events fewer, all on grids;
// unit ARI higher in 28 of the validation's 36 rows and lower in none
// (grids at 5 uV noise 0.969 -> 0.999 on the second sample). Single leads
// are left out (kFounderRealignMinChannels). Merging two
// templates waits for kMergeMinCount: at two, a merged template (each half
// aligned on another phase) blurred the sharp phase of a complex unit
// until its other phase looked larger, and re-timed discharges followed it
// there.
constexpr Index kRealignMinCount = 2;
// Against a founder alone, the noise-corrected correlation of two single
// noisy waveforms is itself noisy (both norms lose their expected noise
// energy, and at peak SNR 3 on a grid chance alignments 10 ms off scored
// 1.0); the realigned match with a founder must also correlate this well
// before the correction, which noise alone does not reach over a support of
// many samples (that grid case: 0.48; a complex unit's discharges on two
// channels at SNR 9-15: 0.95-0.97). 0.5 and 0.6 gave the same validation
// events.
constexpr double kFounderRealignRawCorrelation = 0.6;
// ...and only on grids (this many usable channels or more): on single
// leads a founder's second member made more units reach the two members
// that the rescue and the known-unit sweep start from, and the real
// BioSPPy rest recording (one quantised lead) gained 3 events (20 -> 23;
// the simulated leads gained 12 true events and 7 false ones fewer).
constexpr Index kFounderRealignMinChannels = 9;
// A discharge that may not found a unit (too small to stand alone) is taken
// only by a unit whose waveform two discharges that stood on their own have
// shown: noise does not repeat a waveform to the match threshold, and a
// unit seen twice is no chance event. Waiting for an averaged template of 3
// kept the discharges of weak units, most of which reach only this level,
// from their unit (simulated single leads, 12 seeds: 11 true events more,
// no false one). A founder alone (1) gained more there (25), but on the
// real BioSPPy rest recording added 5 events, one of them a discharge
// reported twice, 3 ms apart, as two units; 2 added one, in a stretch of
// weak activity.
constexpr Index kTentativeMinCount = 2;
constexpr double kRealignCentreMs = 5.0;    // the least template centre a realigned comparison keeps
constexpr double kRealignCentreShare = 0.4; // see best_match
// The near comparison (see best_match) keeps the template's centre less this
// at each end: wide enough to leave out a doublet partner or a neighbour's
// potential riding on the snippet's ends, and, unlike the far search's reach,
// no wider, since a shorter centre no longer tells the units of a grid apart
// (trimmed by 15 ms, noise-3 uV grids' unit ARI fell from 0.96 to 0.92).
constexpr double kNearTrimMs = 12.0;

double template_support_sd(double noise_variance) {
  return std::max(kSignalFloorSd, kTemplateSupportSd * std::sqrt(noise_variance));
}

// Marks |w| >= threshold on usable channels, widened by +-dilation samples.
void build_support(const RowMatrix<double>& w, const std::vector<double>& inv_sd, double threshold,
                   Index dilation, std::vector<unsigned char>& raw, detail::SupportMask& out) {
  const Index rows = w.rows();
  const Index cols = w.cols();
  for (Index c = 0; c < rows; ++c) {
    unsigned char* r = raw.data() + c * cols;
    unsigned char* o = out.mask.data() + c * cols;
    Index& first = out.first[static_cast<std::size_t>(c)];
    Index& last = out.last[static_cast<std::size_t>(c)];
    first = cols;
    last = -1;
    if (inv_sd[static_cast<std::size_t>(c)] == 0.0) {
      std::fill(o, o + cols, static_cast<unsigned char>(0));
      continue;
    }
    bool any = false;
    for (Index j = 0; j < cols; ++j) {
      r[j] = std::abs(w(c, j)) >= threshold ? 1 : 0;
      any = any || r[j];
    }
    if (!any) {
      std::fill(o, o + cols, static_cast<unsigned char>(0));
      continue;
    }
    // Running count of marked samples in the window [j - dilation, j + dilation].
    Index in_window = 0;
    for (Index j = 0; j < std::min(dilation, cols); ++j) in_window += r[j];
    for (Index j = 0; j < cols; ++j) {
      if (j + dilation < cols) in_window += r[j + dilation];
      if (j - dilation - 1 >= 0) in_window -= r[j - dilation - 1];
      o[j] = in_window > 0 ? 1 : 0;
      if (o[j]) {
        first = std::min(first, j);
        last = j;
      }
    }
  }
}

double amplitude_factor(double rho, double se_log_rho, double max_ratio) {
  const double d = std::max(0.0, std::abs(std::log(rho)) - kAmplitudeAllowanceSe * se_log_rho);
  const double q = d / std::log(max_ratio);
  return q >= 1.0 ? 0.0 : 1.0 - q * q;
}

using detail::Match;

void whiten(const RowMatrix<float>& w_uv, const std::vector<double>& inv_sd, RowMatrix<double>& out) {
  for (Index c = 0; c < w_uv.rows(); ++c) {
    const double g = inv_sd[static_cast<std::size_t>(c)];
    for (Index j = 0; j < w_uv.cols(); ++j) {
      const double v = w_uv(c, j);
      out(c, j) = std::isfinite(v) ? v * g : 0.0;
    }
  }
}

// How much more the projection of the noise onto a smooth template varies
// than it would for white noise of the same SD: 1 + 2 sum_k acf_noise(k)
// acf_template(k) (template restricted to its support). Never below 1.
double smoothness_inflation(const RowMatrix<double>& t, const detail::SupportMask& ts,
                            const std::vector<double>& noise_acf) {
  const Index C = t.rows();
  const Index N = t.cols();
  double e0 = 0.0;
  for (Index c = 0; c < C; ++c) {
    const unsigned char* s = ts.mask.data() + c * N;
    for (Index j = ts.first[static_cast<std::size_t>(c)]; j <= ts.last[static_cast<std::size_t>(c)]; ++j)
      if (s[j]) e0 += t(c, j) * t(c, j);
  }
  if (!(e0 > 0.0)) return 1.0;
  double kappa = 1.0;
  for (std::size_t k = 1; k < noise_acf.size(); ++k) {
    const auto kk = static_cast<Index>(k);
    double ek = 0.0;
    for (Index c = 0; c < C; ++c) {
      const unsigned char* s = ts.mask.data() + c * N;
      const Index last = ts.last[static_cast<std::size_t>(c)] - kk;
      for (Index j = ts.first[static_cast<std::size_t>(c)]; j <= last; ++j)
        if (s[j] && s[j + kk]) ek += t(c, j) * t(c, j + kk);
    }
    kappa += 2.0 * noise_acf[k] * ek / e0;
  }
  return std::max(kappa, 1.0);
}

// Same for sums of squared noise: 1 + 2 sum_k acf_noise(k)^2.
double square_inflation(const std::vector<double>& noise_acf) {
  double k2 = 1.0;
  for (std::size_t k = 1; k < noise_acf.size(); ++k) k2 += 2.0 * noise_acf[k] * noise_acf[k];
  return k2;
}

// Best score over lags in [-L, L] of waveform x (noise variance vx relative
// to one discharge) against template t (noise variance vt); x(c, j + lag) is
// compared with t(c, j) over the template's central samples [E, N - E)
// where both exist. Lags whose `allowed` entry (index lag + L) is 0 are
// skipped; an empty `allowed` allows all.
Match compare(const RowMatrix<double>& x, const detail::SupportMask& xs, double vx, const RowMatrix<double>& t,
              const detail::SupportMask& ts, double vt, Index L, Index E, double kappa, double kappa2,
              double max_ratio, const std::vector<unsigned char>& allowed = {}) {
  const Index C = x.rows();
  const Index N = x.cols();
  Match best;
  for (Index lag = -L; lag <= L; ++lag) {
    if (!allowed.empty() && !allowed[static_cast<std::size_t>(lag + L)]) continue;
    double sxt = 0.0, sxx = 0.0, stt = 0.0;
    Index n = 0;
    for (Index c = 0; c < C; ++c) {
      // Only the span of template columns where either support can be marked
      // (unusable channels have empty supports).
      const auto cc = static_cast<std::size_t>(c);
      const Index lo = std::max({E, -lag, std::min(ts.first[cc], xs.first[cc] - lag)});
      const Index hi = std::min({N - E - 1, N - 1 - lag, std::max(ts.last[cc], xs.last[cc] - lag)});
      if (lo > hi) continue;
      const unsigned char* tsc = ts.mask.data() + c * N;
      const unsigned char* xsc = xs.mask.data() + c * N;
      for (Index j = lo; j <= hi; ++j) {
        if (!(tsc[j] | xsc[j + lag])) continue;
        const double xv = x(c, j + lag);
        const double tv = t(c, j);
        sxt += xv * tv;
        sxx += xv * xv;
        stt += tv * tv;
        ++n;
      }
    }
    if (n == 0) continue;
    const double nn = static_cast<double>(n);
    const double sxx_signal = std::max(sxx - nn * vx, kMinCorrectedShare * sxx);
    const double stt_signal = std::max(stt - nn * vt, kMinCorrectedShare * stt);
    if (!(sxx_signal > 0.0 && stt_signal > 0.0)) continue;
    const double r = std::min(1.0, sxt / std::sqrt(sxx_signal * stt_signal));
    const double rho = std::sqrt(sxx_signal / stt_signal);
    // Under "x is the template plus noise", both energies are E plus noise.
    const double e = stt_signal;
    const double var_log_rho = ((4.0 * kappa * vx * e + 2.0 * kappa2 * nn * vx * vx) +
                                (4.0 * kappa * vt * e + 2.0 * kappa2 * nn * vt * vt)) /
                               (4.0 * e * e);
    const double score = r > 0.0 ? r * amplitude_factor(rho, std::sqrt(var_log_rho), max_ratio) : r;
    if (score > best.score) best = Match{score, r, lag, sxt / std::sqrt(sxx * stt)};
  }
  return best;
}

}  // namespace

UnitTracker::UnitTracker(Index n_channels, Index snippet_samples, double fs, ClusterOptions options)
    : n_channels_(n_channels), snippet_samples_(snippet_samples), fs_(fs), options_(options) {
  if (n_channels < 1) throw std::invalid_argument("UnitTracker: n_channels must be >= 1");
  if (snippet_samples < 1 || snippet_samples % 2 == 0)
    throw std::invalid_argument("UnitTracker: snippet_samples must be odd and >= 1, got " +
                                std::to_string(snippet_samples));
  if (!(std::isfinite(fs) && fs > 0.0)) throw std::invalid_argument("UnitTracker: fs must be positive and finite");
  if (!(options.match_threshold >= 0.0 && options.match_threshold <= 1.0))
    throw std::invalid_argument("ClusterOptions::match_threshold must be in [0, 1]");
  if (!(std::isfinite(options.max_lag_ms) && options.max_lag_ms >= 0.0))
    throw std::invalid_argument("ClusterOptions::max_lag_ms must be finite and >= 0");
  if (!(std::isfinite(options.realign_lag_ms) && options.realign_lag_ms >= 0.0))
    throw std::invalid_argument("ClusterOptions::realign_lag_ms must be finite and >= 0");
  if (!(std::isfinite(options.max_amplitude_ratio) && options.max_amplitude_ratio > 1.0))
    throw std::invalid_argument("ClusterOptions::max_amplitude_ratio must be finite and > 1");
  if (!(options.template_weight > 0.0 && options.template_weight <= 1.0))
    throw std::invalid_argument("ClusterOptions::template_weight must be in (0, 1]");

  const Index half = (snippet_samples - 1) / 2;
  max_lag_ = std::min(static_cast<Index>(std::lround(options.max_lag_ms * fs / 1000.0)), half);
  {
    // Clamped so that the two waveforms still share the template's centre
    // +-kRealignCentreMs (a short snippet allows only a short search).
    const Index keep_centre = static_cast<Index>(std::lround(kRealignCentreMs * fs / 1000.0));
    const Index realign =
        std::min(static_cast<Index>(std::lround(options.realign_lag_ms * fs / 1000.0)), half - keep_centre);
    realign_lag_ = realign > max_lag_ ? realign : 0;
    near_trim_ = std::min(realign_lag_, static_cast<Index>(std::lround(kNearTrimMs * fs / 1000.0)));
    allowed_.assign(static_cast<std::size_t>(2 * realign_lag_ + 1), 1);
  }
  dilation_ = static_cast<Index>(std::lround(kDilationMs * fs / 1000.0));
  const auto n = static_cast<std::size_t>(n_channels * snippet_samples);
  inv_sd_.assign(static_cast<std::size_t>(n_channels), 0.0);
  x_.setZero(n_channels, snippet_samples);
  t_.setZero(n_channels, snippet_samples);
  m_.setZero(n_channels, snippet_samples);
  for (detail::SupportMask* m : {&x_support_, &t_support_, &m_support_}) {
    m->mask.assign(n, 0);
    m->first.assign(static_cast<std::size_t>(n_channels), 0);
    m->last.assign(static_cast<std::size_t>(n_channels), -1);
  }
  scratch_support_.assign(n, 0);
  const Index max_acf_lags = std::max<Index>(1, std::min(kMaxAcfLags, snippet_samples - 1));
  const Index acf_lags = std::clamp<Index>(std::lround(kAcfSpanMs * fs / 1000.0), 1, max_acf_lags);
  noise_acf_.assign(static_cast<std::size_t>(acf_lags + 1), 0.0);
  noise_acf_[0] = 1.0;
  acf_scratch_.assign(noise_acf_.size(), 0.0);
  acf_count_.assign(noise_acf_.size(), 0.0);
  units_.reserve(64);
}

void UnitTracker::reset() {
  units_.clear();
  std::fill(noise_acf_.begin(), noise_acf_.end(), 0.0);
  noise_acf_[0] = 1.0;
  acf_updates_ = 0;
}

void UnitTracker::update_noise_acf() {
  // Products of whitened samples that are both away from the discharge
  // (outside the snippet's support), channel by channel.
  const Index C = n_channels_;
  const Index N = snippet_samples_;
  const Index K = static_cast<Index>(noise_acf_.size()) - 1;
  std::fill(acf_scratch_.begin(), acf_scratch_.end(), 0.0);
  std::fill(acf_count_.begin(), acf_count_.end(), 0.0);
  for (Index c = 0; c < C; ++c) {
    if (inv_sd_[static_cast<std::size_t>(c)] == 0.0) continue;
    const unsigned char* xs = x_support_.mask.data() + c * N;
    for (Index k = 0; k <= K; ++k) {
      double sum = 0.0, count = 0.0;
      for (Index j = 0; j + k < N; ++j) {
        if (xs[j] || xs[j + k]) continue;
        sum += x_(c, j) * x_(c, j + k);
        count += 1.0;
      }
      acf_scratch_[static_cast<std::size_t>(k)] += sum;
      acf_count_[static_cast<std::size_t>(k)] += count;
    }
  }
  if (!(acf_count_[0] > 0.0 && acf_scratch_[0] > 0.0)) return;
  const double var = acf_scratch_[0] / acf_count_[0];
  const double w = std::max(1.0 / static_cast<double>(acf_updates_ + 1), kAcfMinWeight);
  for (Index k = 1; k <= K; ++k) {
    const auto i = static_cast<std::size_t>(k);
    const double rk = acf_count_[i] > 0.0 ? std::clamp(acf_scratch_[i] / acf_count_[i] / var, -1.0, 1.0) : 0.0;
    noise_acf_[i] += w * (rk - noise_acf_[i]);
  }
  ++acf_updates_;
}

int UnitTracker::assign(const RowMatrix<float>& snippet_uv, const std::vector<double>& noise_sd_uv, bool may_found) {
  if (snippet_uv.rows() != n_channels_ || snippet_uv.cols() != snippet_samples_)
    throw std::invalid_argument("UnitTracker::assign: snippet is (" + std::to_string(snippet_uv.rows()) + ", " +
                                std::to_string(snippet_uv.cols()) + "), expected (" + std::to_string(n_channels_) +
                                ", " + std::to_string(snippet_samples_) + ")");
  if (static_cast<Index>(noise_sd_uv.size()) != n_channels_)
    throw std::invalid_argument("UnitTracker::assign: noise_sd_uv has " + std::to_string(noise_sd_uv.size()) +
                                " values, expected " + std::to_string(n_channels_));

  const Index C = n_channels_;
  const Index N = snippet_samples_;
  Index n_usable = 0;
  for (Index c = 0; c < C; ++c) {
    const double sd = noise_sd_uv[static_cast<std::size_t>(c)];
    const bool usable = std::isfinite(sd) && sd > 0.0;
    inv_sd_[static_cast<std::size_t>(c)] = usable ? 1.0 / sd : 0.0;
    n_usable += usable ? 1 : 0;
  }
  if (n_usable == 0)
    throw std::invalid_argument("UnitTracker::assign: no channel has a positive, finite noise SD");
  whiten(snippet_uv, inv_sd_, x_);
  build_support(x_, inv_sd_, kSnippetSupportSd, dilation_, scratch_support_, x_support_);
  update_noise_acf();
  const double kappa2 = square_inflation(noise_acf_);

  // A discharge that may not found a unit (the detector's tentative
  // candidates, too small to stand alone) joins only a unit whose waveform
  // has repeated (see kTentativeMinCount).
  Match best;
  std::size_t best_unit = units_.size();
  std::tie(best, best_unit) =
      best_match(x_, x_support_, 1.0, false, may_found ? 0 : kTentativeMinCount, units_.size(), kappa2);
  // Realigned (see kRealignMinCount): against averaged templates first,
  // then, for a discharge that may found a unit, against founders alone.
  const auto matched = [&] { return best_unit < units_.size() && best.score >= options_.match_threshold; };
  if (!matched() && realign_lag_ > 0) {
    const Index min_count = std::max(kRealignMinCount, may_found ? 0 : kTentativeMinCount);
    std::tie(best, best_unit) = best_match(x_, x_support_, 1.0, true, min_count, units_.size(), kappa2);
    if (!matched() && may_found && n_usable >= kFounderRealignMinChannels) {
      std::tie(best, best_unit) = best_match(x_, x_support_, 1.0, true, 1, units_.size(), kappa2);
      if (best.raw_correlation < kFounderRealignRawCorrelation) best_unit = units_.size();
    }
  }

  if (matched()) {
    UnitTemplate& unit = units_[best_unit];
    unit.count += 1;
    // Running mean while few members are known (every discharge is equally
    // informative), then exponential so the template follows slow drift
    // (fatigue, temperature, electrode contact) over a session.
    const double w = options_.template_weight;
    const double eta = static_cast<double>(unit.count) <= 1.0 / w ? 1.0 / static_cast<double>(unit.count) : w;
    const auto e = static_cast<float>(eta);
    for (Index c = 0; c < C; ++c) {
      for (Index j = 0; j < N; ++j) {
        const Index src = j + best.lag;
        if (src < 0 || src >= N) continue;  // no data there: keep what the template knows
        const float s = snippet_uv(c, src);
        if (!std::isfinite(s)) continue;
        unit.waveform_uv(c, j) += e * (s - unit.waveform_uv(c, j));
      }
    }
    unit.noise_variance = (1.0 - eta) * (1.0 - eta) * unit.noise_variance + eta * eta;
    unit.similarity_sum += std::clamp(best.correlation, 0.0, 1.0);
    last_lag_ = best.lag;
    return merge_check(best_unit);
  }
  if (!may_found) return -1;

  UnitTemplate unit;
  unit.id = static_cast<int>(units_.size());
  unit.waveform_uv = snippet_uv.unaryExpr([](float s) { return std::isfinite(s) ? s : 0.0f; });
  unit.count = 1;
  unit.noise_variance = 1.0;
  units_.push_back(std::move(unit));
  last_lag_ = 0;
  return units_.back().id;
}

// The live unit (of at least min_count members, other than `skip`) whose
// template best matches the whitened waveform x (support xs, residual noise
// variance vx), and that match; units_.size() if none.
//
// Normally the lags are +-max_lag_ms over the template's centre. With
// `realign`, the better of two comparisons:
//  * far: lags up to +-realign_lag_ms over all the samples the two waveforms
//    share, so that a discharge timed on an early phase is matched with the
//    whole potential and not with whichever phase looks alike; a lag counts
//    only if it puts a phase of the template (same sign, at least
//    kRealignCentreShare of the template's largest deflection on that
//    electrode) where x itself peaks (its centre, on its largest electrode
//    there). Aligned onto a doublet partner or a neighbour's potential in
//    its snippet, the template would be silent at the discharge's own peak.
//  * near: lags within +-max_lag_ms over the template's centre less
//    kNearTrimMs (at most realign_lag_ms) on each side: a discharge whose
//    snippet also holds its doublet partner or another unit's potential
//    (what failed the normal comparison) is still recognised at its own time.
std::pair<Match, std::size_t> UnitTracker::best_match(const RowMatrix<double>& x, const detail::SupportMask& xs,
                                                      double vx, bool realign, Index min_count, std::size_t skip,
                                                      double kappa2) {
  const Index L = realign ? realign_lag_ : max_lag_;
  const Index E = realign ? 0 : max_lag_;
  const Index half = (snippet_samples_ - 1) / 2;
  Index peak_c = 0;  // where x peaks at its centre (the realigned lags' test)
  if (realign)
    for (Index c = 1; c < n_channels_; ++c)
      if (std::abs(x(c, half)) > std::abs(x(peak_c, half))) peak_c = c;
  Match best;
  std::size_t best_unit = units_.size();
  for (std::size_t u = 0; u < units_.size(); ++u) {
    const UnitTemplate& unit = units_[u];
    if (u == skip || unit.merged_into >= 0 || unit.count < min_count) continue;
    whiten(unit.waveform_uv, inv_sd_, t_);
    const double v = unit.noise_variance;
    build_support(t_, inv_sd_, template_support_sd(v), dilation_, scratch_support_, t_support_);
    const double kappa = smoothness_inflation(t_, t_support_, noise_acf_);
    if (realign) {
      const double largest = t_.row(peak_c).cwiseAbs().maxCoeff();
      for (Index lag = -L; lag <= L; ++lag) {
        const double at = t_(peak_c, half - lag);
        allowed_[static_cast<std::size_t>(lag + L)] =
            at * x(peak_c, half) > 0.0 && std::abs(at) >= kRealignCentreShare * largest;
      }
    }
    Match m = compare(x, xs, vx, t_, t_support_, v, L, E, kappa, kappa2, options_.max_amplitude_ratio,
                      realign ? allowed_ : no_lags_);
    if (realign) {
      const Match centre = compare(x, xs, vx, t_, t_support_, v, max_lag_, near_trim_, kappa, kappa2,
                                   options_.max_amplitude_ratio);
      if (m.score < options_.match_threshold && centre.score > m.score) m = centre;
    }
    if (m.score > best.score) {
      best = m;
      best_unit = u;
    }
  }
  return {best, best_unit};
}

// Sequential clustering decides on the second and third discharges of a unit
// against a template that is itself one noisy discharge, so a weak unit can
// split early into two that then grow side by side. Once the templates are
// averaged they show it: after each update, the updated unit is compared
// with every other live unit of at least kMergeMinCount members by the same
// similarity (both sides' residual noise accounted for), and when it reaches
// match_threshold the younger unit is merged into the older (count-weighted
// mean of the aligned templates) and its id becomes an alias.
int UnitTracker::merge_check(std::size_t updated) {
  UnitTemplate& a = units_[updated];
  if (a.count < kMergeMinCount) return a.id;
  whiten(a.waveform_uv, inv_sd_, m_);
  build_support(m_, inv_sd_, template_support_sd(a.noise_variance), dilation_, scratch_support_, m_support_);
  const double kappa2 = square_inflation(noise_acf_);

  auto [best, partner] = best_match(m_, m_support_, a.noise_variance, false, kMergeMinCount, updated, kappa2);
  // A unit founded by discharges timed on another phase of the same
  // potential matches only at that phase's offset.
  if (!(partner < units_.size() && best.score >= options_.match_threshold) && realign_lag_ > 0)
    std::tie(best, partner) = best_match(m_, m_support_, a.noise_variance, true, kMergeMinCount, updated, kappa2);
  if (partner == units_.size() || best.score < options_.match_threshold) return a.id;

  // a(c, j + lag) matches b(c, j). Keep the older (lower id) unit.
  UnitTemplate& b = units_[partner];
  const bool keep_a = a.id < b.id;
  UnitTemplate& keep = keep_a ? a : b;
  UnitTemplate& gone = keep_a ? b : a;
  const Index shift = keep_a ? -best.lag : best.lag;  // keep(c, i) matches gone(c, i + shift)
  const double nk = static_cast<double>(keep.count);
  const double ng = static_cast<double>(gone.count);
  const double wk = nk / (nk + ng);
  const Index C = n_channels_;
  const Index N = snippet_samples_;
  for (Index c = 0; c < C; ++c)
    for (Index i = 0; i < N; ++i) {
      const Index src = i + shift;
      if (src < 0 || src >= N) continue;
      keep.waveform_uv(c, i) = static_cast<float>(wk * keep.waveform_uv(c, i) + (1.0 - wk) * gone.waveform_uv(c, src));
    }
  keep.noise_variance = wk * wk * keep.noise_variance + (1.0 - wk) * (1.0 - wk) * gone.noise_variance;
  // The absorbed unit's founder joins with the templates' correlation.
  keep.similarity_sum += gone.similarity_sum + std::clamp(best.correlation, 0.0, 1.0);
  keep.count += gone.count;
  gone.merged_into = keep.id;
  // The discharge just assigned to `a` sits at keep's column i + shift + lag
  // when a is the one absorbed.
  if (!keep_a) last_lag_ += shift;
  return keep.id;
}

Index template_peak_channel(const RowMatrix<float>& waveform_uv, const std::vector<bool>* usable) {
  Index best = -1;
  float size = -std::numeric_limits<float>::infinity();
  for (Index c = 0; c < waveform_uv.rows(); ++c) {
    if (usable != nullptr && !(*usable)[static_cast<std::size_t>(c)]) continue;
    const float p2p = waveform_uv.row(c).maxCoeff() - waveform_uv.row(c).minCoeff();
    if (p2p > size) {
      size = p2p;
      best = c;
    }
  }
  return best;
}

int UnitTracker::canonical(int id) const noexcept {
  while (id >= 0 && id < static_cast<int>(units_.size()) && units_[static_cast<std::size_t>(id)].merged_into >= 0)
    id = units_[static_cast<std::size_t>(id)].merged_into;
  return id;
}

int UnitTracker::n_live_units() const noexcept {
  int n = 0;
  for (const auto& u : units_)
    if (u.merged_into < 0) ++n;
  return n;
}

}  // namespace fasctrack::cluster
