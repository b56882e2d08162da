#pragma once
// Grouping discharges into the motor units that fired them.
//
// Clustering is sequential (template matching in time order): each new
// discharge's multichannel waveform is compared with the current unit
// templates and joins the best match above a threshold, or starts a new unit.
// Being sequential, the same code labels events identically offline and in a
// stream. A weak unit may be split by noise at its first discharges; once the
// templates are averaged the tracker merges such units, later discharges get
// the surviving id, and canonical() maps labels handed out earlier onto it
// (relabel stored events with it before summarising). Unit statistics are
// computed once all events are known.

#include <fasctrack/core/types.hpp>
#include <fasctrack/detect/events.hpp>

#include <limits>
#include <utility>
#include <vector>

namespace fasctrack::cluster {

struct ClusterOptions {
  /// Minimum similarity (0..1) between a discharge and a unit template to
  /// join that unit: normalised cross-correlation of the multichannel
  /// waveforms at the best lag within +-max_lag_ms, times an amplitude
  /// agreement factor. Surface MUAPs of one unit repeat with r > 0.9.
  double match_threshold = 0.8;
  double max_lag_ms = 1.0;          ///< alignment search around the event sample
  /// Second, wider alignment search (0 disables it) for a discharge that
  /// matches no template within max_lag_ms, and for two templates that do
  /// not match each other within it: the same unit timed on another phase
  /// of its potential. A complex (polyphasic) potential is 3-4 fibre groups
  /// firing 4-6 ms apart, so its outer phases lie up to ~15-20 ms apart, and
  /// noise decides which is largest in one discharge. Clamped to the
  /// snippet half-width less 5 ms (15 ms with the default 20 ms snippet).
  double realign_lag_ms = 15.0;
  double max_amplitude_ratio = 1.8; ///< a discharge more than this x larger/smaller than the template is another unit
  /// Template update weight for each new member (running mean until 1/weight
  /// members, then exponential), so slow drift over a session is followed.
  double template_weight = 0.1;
};

/// One unit's running template.
struct UnitTemplate {
  int id = 0;
  RowMatrix<float> waveform_uv;     ///< (n_channels, snippet_samples), centred on the event sample
  Index count = 0;
  /// Variance of the noise left in waveform_uv, relative to that of one
  /// discharge: 1 for a single member, 1/n while averaging, then the
  /// exponential average's floor w/(2-w).
  double noise_variance = 1.0;
  /// Sum over the members after the first of their shape correlation with
  /// the template when they joined (for UnitSummary::shape_stability).
  double similarity_sum = 0.0;
  /// -1 while the unit is live; otherwise the id of the (older) unit it was
  /// found to be and merged into. Its discharges belong to canonical(id).
  int merged_into = -1;
};

namespace detail {
/// Where a waveform is compared (see units.cpp): a mask over
/// (n_channels, snippet_samples) and, per channel, the marked sample range
/// (first > last when the channel has none).
struct SupportMask {
  std::vector<unsigned char> mask;
  std::vector<Index> first, last;
};
/// A waveform's best similarity to one template, and where.
struct Match {
  double score = -std::numeric_limits<double>::infinity();
  double correlation = 0.0;
  Index lag = 0;
  double raw_correlation = 0.0;  ///< the same correlation before the noise correction
};
}  // namespace detail

/// Sequential template matcher.
class UnitTracker {
 public:
  /// snippet_samples is odd; the event sample is the centre column.
  UnitTracker(Index n_channels, Index snippet_samples, double fs, ClusterOptions options = {});
  /// Assigns a discharge (its (n_channels, snippet_samples) waveform in uV,
  /// and each channel's noise SD in uV) to a unit and returns the unit id
  /// (always a live unit's). Never allocates once the unit count stops
  /// growing. Throws std::invalid_argument on a shape mismatch or when no
  /// channel has a positive, finite noise SD.
  /// With may_found false, a discharge that matches no unit of at least 2
  /// members is not taken (it founds none): returns -1 and no template
  /// changes.
  int assign(const RowMatrix<float>& snippet_uv, const std::vector<double>& noise_sd_uv, bool may_found = true);
  /// Where the last assigned discharge sits against its unit's template:
  /// snippet column j + last_lag() matches template column j (0 for a
  /// discharge that founded its unit).
  Index last_lag() const noexcept { return last_lag_; }
  /// Every unit ever founded, indexed by id, including merged ones
  /// (merged_into >= 0), which no longer take discharges.
  const std::vector<UnitTemplate>& units() const noexcept { return units_; }
  /// The live unit a label now stands for: a label handed out before its unit
  /// was merged into an older one maps to that one; others map to themselves
  /// (also ids the tracker does not know). Relabel stored events with this
  /// at the end so that one unit carries one label.
  int canonical(int id) const noexcept;
  /// Number of live units.
  int n_live_units() const noexcept;
  void reset();

 private:
  void update_noise_acf();
  std::pair<detail::Match, std::size_t> best_match(const RowMatrix<double>& x, const detail::SupportMask& xs, double vx,
                                                   bool realign, Index min_count, std::size_t skip, double kappa2);
  int merge_check(std::size_t updated);

  Index n_channels_;
  Index snippet_samples_;
  double fs_;
  ClusterOptions options_;
  std::vector<UnitTemplate> units_;
  Index max_lag_ = 0;                 ///< +-max_lag_ms in samples
  Index realign_lag_ = 0;             ///< +-realign_lag_ms in samples (0: no second search)
  Index near_trim_ = 0;               ///< the near comparison's trim of the template's ends (see best_match)
  Index dilation_ = 0;                ///< support widening in samples (see units.cpp)
  Index last_lag_ = 0;
  // Scratch sized at construction so assign() does not allocate.
  std::vector<double> inv_sd_;        ///< 1 / noise SD per channel, 0 for unusable channels
  RowMatrix<double> x_;               ///< whitened snippet
  RowMatrix<double> t_;               ///< whitened template under comparison
  RowMatrix<double> m_;               ///< whitened template of the unit just updated (merge check)
  detail::SupportMask x_support_, t_support_, m_support_;
  std::vector<unsigned char> scratch_support_;
  std::vector<unsigned char> allowed_;  ///< realigned lags that pass the centre test (see best_match)
  std::vector<unsigned char> no_lags_;  ///< empty: every lag allowed
  /// Running estimate of the noise autocorrelation at lags 0..~1 ms (from the
  /// snippet samples away from any discharge): band-limited noise makes the
  /// match statistics vary more than white noise would (see units.cpp).
  std::vector<double> noise_acf_;
  std::vector<double> acf_scratch_, acf_count_;
  Index acf_updates_ = 0;
};

/// The channel (row) of a template with the largest peak to peak, the first
/// on ties; with `usable`, only channels marked true count (-1 if none is).
Index template_peak_channel(const RowMatrix<float>& waveform_uv, const std::vector<bool>* usable = nullptr);

/// Per-unit statistics over a whole recording.
struct UnitSummary {
  int id = 0;
  Index count = 0;
  double rate_per_min = 0.0;          ///< discharges per minute of clean rest
  Index peak_channel = 0;             ///< channel where the template is largest
  double amplitude_uv = 0.0;          ///< median peak-to-peak of its discharges
  double idi_median_ms = 0.0;         ///< median inter-discharge interval (NaN with < 2 discharges)
  double idi_cv = 0.0;                ///< coefficient of variation of the intervals (NaN with < 3)
  double complex_fraction = 0.0;      ///< share of its discharges with > 4 phases
  double amplitude_cv = 0.0;          ///< variability of peak-to-peak amplitude across discharges
  double shape_stability = 0.0;       ///< mean correlation of its discharges with the final template (0..1)
  RowMatrix<float> template_uv;       ///< (n_channels, snippet_samples)
};

/// Statistics for every unit labelled in events (unit >= 0).
std::vector<UnitSummary> summarize_units(const std::vector<Event>& events, const UnitTracker& tracker,
                                         double clean_rest_s, double fs);

}  // namespace fasctrack::cluster
