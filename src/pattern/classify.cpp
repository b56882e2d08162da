// The rules: muscle states per session, persistence, spread, follow-up, and
// the supporting evidence reported beside the label.
//
// The label rests on a few countable facts (which muscles were active in
// which sessions, on which dates) so that it can be checked by hand from the
// table in the report. Quantities that are suggestive but not specific
// (complex potentials, new units, rising rates, clinical weakness) are
// measured and shown, but never move the label: they are common in benign
// fasciculation too, and their surface-EMG estimates are noisy.
#include <fasctrack/pattern/classify.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

namespace fasctrack::pattern {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kDaysPerMonth = 365.2425 / 12.0;
// Thresholds are inclusive ("at least"); a count divided by minutes that
// lands on the threshold in exact arithmetic must not miss it by rounding.
constexpr double kRelTol = 1e-9;

bool at_least(double value, double threshold) { return value >= threshold - kRelTol * std::max(1.0, std::abs(threshold)); }

std::string fmt(double v, int digits = 1) {
  if (!std::isfinite(v)) return std::isnan(v) ? "n/a" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  if (s == "-0") s = "0";
  return s;
}

std::string plural(long long n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

std::string join(const std::vector<std::string>& items, const std::string& sep = ", ") {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string normalise_tag(std::string t) {
  for (auto& c : t) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (c == '_' || c == ' ') c = '-';
  }
  return t;
}

// Context known to go with benign fasciculation (exercise, stimulants,
// stress, poor sleep, low magnesium).
bool benign_tag(const std::string& tag) {
  static const std::set<std::string> tags{
      "post-exercise", "exercise", "after-exercise", "caffeine", "coffee", "stress", "anxiety",
      "sleep-deprivation", "sleep-deprived", "poor-sleep", "lack-of-sleep", "fatigue", "low-magnesium",
      "hypomagnesaemia", "hypomagnesemia", "alcohol", "nicotine", "cold"};
  return tags.count(normalise_tag(tag)) > 0;
}

struct Cell {
  bool recorded = false;
  MuscleState state = MuscleState::insufficient;
  std::string reason;
  const MuscleObservation* obs = nullptr;
  cluster::RateEstimate rate;
};

cluster::RateEstimate rate_of(Index count, double clean_rest_s, double confidence) {
  if (clean_rest_s > 0.0) return cluster::poisson_rate(count, clean_rest_s / 60.0, confidence);
  cluster::RateEstimate r;
  r.count = count;
  r.rate_per_min = kNaN;
  r.ci_high = std::numeric_limits<double>::infinity();
  r.confidence = confidence;
  return r;
}

Cell decide_state(const MuscleObservation& m, const PatternOptions& o) {
  Cell c;
  c.recorded = true;
  c.obs = &m;
  c.rate = rate_of(m.n_events, m.clean_rest_s, o.confidence);
  if (!m.usable) {
    c.state = MuscleState::insufficient;
    c.reason = "no usable channel";
  } else if (!at_least(m.clean_rest_s, o.min_clean_rest_s)) {
    c.state = MuscleState::insufficient;
    c.reason = "clean rest " + fmt(m.clean_rest_s) + " s < " + fmt(o.min_clean_rest_s) + " s";
  } else {
    const double minutes = m.clean_rest_s / 60.0;
    const bool enough_count = m.n_events >= o.min_active_count;
    // n / minutes >= rate threshold, compared without the division.
    const bool enough_rate = at_least(static_cast<double>(m.n_events), o.min_active_rate_per_min * minutes);
    const std::string measured = plural(m.n_events, "FP", "FPs") + ", " + fmt(c.rate.rate_per_min, 2) + "/min";
    if (enough_count && enough_rate) {
      c.state = MuscleState::active;
      c.reason = measured + " (>= " + std::to_string(o.min_active_count) + " and >= " +
                 fmt(o.min_active_rate_per_min, 2) + "/min)";
    } else {
      c.state = MuscleState::quiet;
      c.reason = measured + (enough_count ? " (rate < " + fmt(o.min_active_rate_per_min, 2) + "/min)"
                                          : " (< " + std::to_string(o.min_active_count) + " FPs)");
    }
  }
  return c;
}

bool analysable(const Cell& c) { return c.recorded && c.state != MuscleState::insufficient; }

// ---------------------------------------------------------------------------
// Unit tracking
// ---------------------------------------------------------------------------

// Similarity of two unit templates recorded in different sessions: the
// normalised cross-correlation over the channels both share, at the best lag
// within max_lag, on the part of the window where either template carries
// signal (outside it the average of a few discharges is mostly noise, which
// would pull the correlation of two views of one unit down), times an
// amplitude factor.
double template_similarity(const UnitObservation& a, const UnitObservation& b, const PatternOptions& o) {
  if (!(a.fs > 0.0) || std::abs(a.fs - b.fs) > 1e-6 * a.fs) return 0.0;
  std::vector<std::pair<Index, Index>> rows;
  for (std::size_t i = 0; i < a.channels.size() && static_cast<Index>(i) < a.template_uv.rows(); ++i)
    for (std::size_t j = 0; j < b.channels.size() && static_cast<Index>(j) < b.template_uv.rows(); ++j)
      if (a.channels[i] == b.channels[j]) rows.emplace_back(static_cast<Index>(i), static_cast<Index>(j));
  const Index na = a.template_uv.cols(), nb = b.template_uv.cols();
  if (rows.empty() || na == 0 || nb == 0) return 0.0;
  const Index ca = na / 2, cb = nb / 2;
  const auto lag_max = static_cast<Index>(std::llround(o.unit_max_lag_ms * 1e-3 * a.fs));
  const auto pad = lag_max + static_cast<Index>(std::llround(1e-3 * a.fs));  // 1 ms margin beyond the lag

  // Support on a's clock (offset k from the centre): either template above
  // 10% of its own peak on some shared channel, widened by the lag and 1 ms.
  double peak_a = 0.0, peak_b = 0.0;
  for (const auto& [ra, rb] : rows) {
    for (Index t = 0; t < na; ++t) if (std::isfinite(a.template_uv(ra, t))) peak_a = std::max(peak_a, std::abs(static_cast<double>(a.template_uv(ra, t))));
    for (Index t = 0; t < nb; ++t) if (std::isfinite(b.template_uv(rb, t))) peak_b = std::max(peak_b, std::abs(static_cast<double>(b.template_uv(rb, t))));
  }
  if (!(peak_a > 0.0) || !(peak_b > 0.0)) return 0.0;
  const Index k_lo = -ca, k_hi = na - 1 - ca;
  std::vector<unsigned char> hot(static_cast<std::size_t>(na), 0);
  for (Index k = k_lo; k <= k_hi; ++k) {
    bool on = false;
    for (const auto& [ra, rb] : rows) {
      const double va = a.template_uv(ra, k + ca);
      const Index tb = k + cb;
      const double vb = tb >= 0 && tb < nb ? static_cast<double>(b.template_uv(rb, tb)) : 0.0;
      if ((std::isfinite(va) && std::abs(va) > 0.1 * peak_a) || (std::isfinite(vb) && std::abs(vb) > 0.1 * peak_b)) on = true;
    }
    if (on)
      for (Index d = std::max(k_lo, k - pad); d <= std::min(k_hi, k + pad); ++d) hot[static_cast<std::size_t>(d + ca)] = 1;
  }

  double best = -1.0, best_ea = 0.0, best_eb = 0.0;
  for (Index lag = -lag_max; lag <= lag_max; ++lag) {
    double dot = 0.0, ea = 0.0, eb = 0.0;
    for (Index k = k_lo; k <= k_hi; ++k) {
      if (!hot[static_cast<std::size_t>(k + ca)]) continue;
      const Index tb = k + cb + lag;
      if (tb < 0 || tb >= nb) continue;
      for (const auto& [ra, rb] : rows) {
        const double va = a.template_uv(ra, k + ca), vb = b.template_uv(rb, tb);
        if (!std::isfinite(va) || !std::isfinite(vb)) continue;
        dot += va * vb;
        ea += va * va;
        eb += vb * vb;
      }
    }
    if (ea > 0.0 && eb > 0.0 && dot / std::sqrt(ea * eb) > best) {
      best = dot / std::sqrt(ea * eb);
      best_ea = ea;
      best_eb = eb;
    }
  }
  if (!(best > 0.0)) return 0.0;
  // Amplitudes compared on the same support and alignment as the shapes.
  const double ratio = std::sqrt(std::max(best_ea, best_eb) / std::min(best_ea, best_eb));
  return best * std::min(1.0, o.unit_max_amplitude_ratio / ratio);
}

std::vector<float> peak_waveform(const UnitObservation& u) {
  std::vector<float> w;
  Index row = -1;
  for (std::size_t i = 0; i < u.channels.size(); ++i)
    if (u.channels[i] == u.peak_channel && static_cast<Index>(i) < u.template_uv.rows()) row = static_cast<Index>(i);
  if (row < 0) {
    double best = -1.0;
    for (Index r = 0; r < u.template_uv.rows(); ++r) {
      const double p2p = u.template_uv.row(r).maxCoeff() - u.template_uv.row(r).minCoeff();
      if (p2p > best) best = p2p, row = r;
    }
  }
  if (row >= 0) w.assign(u.template_uv.row(row).data(), u.template_uv.row(row).data() + u.template_uv.cols());
  return w;
}

// ---------------------------------------------------------------------------
// Rate trend
// ---------------------------------------------------------------------------

// Rate against time by weighted least squares, weights the clean minutes
// (Poisson counts: the variance of a rate is its mean over the minutes),
// with the variance taken from the pooled rate (the null of no trend) and
// inflated by the Pearson dispersion when sessions scatter more than Poisson
// allows. Known-variance WLS: the interval is normal.
RateTrend rate_trend(const std::vector<double>& months, const std::vector<Index>& counts,
                     const std::vector<double>& minutes, double confidence) {
  RateTrend t;
  const std::size_t n = months.size();
  t.n_sessions = static_cast<int>(n);
  double sw = 0.0, swx = 0.0, total = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    sw += minutes[i];
    swx += minutes[i] * months[i];
    total += static_cast<double>(counts[i]);
  }
  if (n < 2 || !(sw > 0.0)) return t;
  const double xbar = swx / sw;
  double sxx = 0.0, sxy = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double r = static_cast<double>(counts[i]) / minutes[i];
    sxx += minutes[i] * (months[i] - xbar) * (months[i] - xbar);
    sxy += minutes[i] * (months[i] - xbar) * r;
  }
  if (!(sxx > 1e-12)) return t;
  t.available = true;
  t.slope_per_month = sxy / sxx;
  // With no FP at all, the variance of "one FP over the whole follow-up" keeps the interval honest.
  const double pooled = std::max(total, 1.0) / sw;
  double dispersion = 1.0;
  if (n > 2) {
    double ybar = 0.0;
    for (std::size_t i = 0; i < n; ++i) ybar += static_cast<double>(counts[i]);
    ybar /= sw;
    const double intercept = ybar - t.slope_per_month * xbar;
    double x2 = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      const double fit = intercept + t.slope_per_month * months[i];
      const double r = static_cast<double>(counts[i]) / minutes[i];
      x2 += minutes[i] * (r - fit) * (r - fit) / pooled;
    }
    dispersion = std::max(1.0, x2 / static_cast<double>(n - 2));
  }
  const double se = std::sqrt(dispersion * pooled / sxx);
  const double z = std::sqrt(cluster::chi2_quantile(confidence, 1.0));
  t.ci_low = t.slope_per_month - z * se;
  t.ci_high = t.slope_per_month + z * se;
  return t;
}

}  // namespace

std::string_view software_version() noexcept { return "0.1.0"; }

std::string_view disclaimer() noexcept {
  return "Research decision support, not a diagnosis. fasctrack describes patterns of fasciculation "
         "potentials in surface EMG recordings; it does not diagnose any disease. Decisions about a "
         "person's health belong to a qualified clinician who examines them.";
}

std::string_view to_string(Pattern p) noexcept {
  switch (p) {
    case Pattern::none: return "none";
    case Pattern::benign: return "benign";
    case Pattern::warning: return "warning";
    case Pattern::indeterminate: return "indeterminate";
  }
  return "indeterminate";
}

std::string_view to_string(MuscleState s) noexcept {
  switch (s) {
    case MuscleState::active: return "active";
    case MuscleState::quiet: return "quiet";
    case MuscleState::insufficient: return "insufficient";
  }
  return "insufficient";
}

void PatternOptions::validate() const {
  const auto bad = [](const std::string& name, const std::string& why) {
    throw std::invalid_argument(name + ": " + why);
  };
  const auto finite_nonneg = [&](double v, const char* name) {
    if (!std::isfinite(v) || v < 0.0) bad(name, "must be a finite number >= 0, got " + fmt(v, 6));
  };
  if (min_active_count < 1) bad("min_active_count", "must be at least 1, got " + std::to_string(min_active_count));
  finite_nonneg(min_active_rate_per_min, "min_active_rate_per_min");
  finite_nonneg(min_clean_rest_s, "min_clean_rest_s");
  if (min_persistent_sessions < 1)
    bad("min_persistent_sessions", "must be at least 1, got " + std::to_string(min_persistent_sessions));
  finite_nonneg(min_persistent_span_days, "min_persistent_span_days");
  if (!std::isfinite(min_persistent_fraction) || min_persistent_fraction <= 0.0 || min_persistent_fraction > 1.0)
    bad("min_persistent_fraction", "must be within (0, 1], got " + fmt(min_persistent_fraction, 6));
  if (min_spread_active_muscles < 1)
    bad("min_spread_active_muscles", "must be at least 1, got " + std::to_string(min_spread_active_muscles));
  finite_nonneg(min_follow_up_days, "min_follow_up_days");
  if (!std::isfinite(unit_match_threshold) || unit_match_threshold <= 0.0 || unit_match_threshold > 1.0)
    bad("unit_match_threshold", "must be within (0, 1], got " + fmt(unit_match_threshold, 6));
  if (!std::isfinite(unit_max_lag_ms) || unit_max_lag_ms < 0.0 || unit_max_lag_ms > 20.0)
    bad("unit_max_lag_ms", "must be within 0-20 ms, got " + fmt(unit_max_lag_ms, 6));
  if (!std::isfinite(unit_max_amplitude_ratio) || unit_max_amplitude_ratio < 1.0)
    bad("unit_max_amplitude_ratio", "must be at least 1, got " + fmt(unit_max_amplitude_ratio, 6));
  if (min_unit_discharges < 1)
    bad("min_unit_discharges", "must be at least 1, got " + std::to_string(min_unit_discharges));
  if (!std::isfinite(complex_unit_fraction) || complex_unit_fraction < 0.0 || complex_unit_fraction >= 1.0)
    bad("complex_unit_fraction", "must be within [0, 1), got " + fmt(complex_unit_fraction, 6));
  if (!std::isfinite(confidence) || confidence <= 0.0 || confidence >= 1.0)
    bad("confidence", "must be within (0, 1), got " + fmt(confidence, 6));
}

PatternReport classify(const std::vector<SessionResult>& sessions, const PatternOptions& o, std::string subject) {
  o.validate();
  if (sessions.empty()) throw std::invalid_argument("sessions: no sessions to classify");
  {
    std::set<std::string> ids;
    for (std::size_t i = 0; i < sessions.size(); ++i) {
      const auto& s = sessions[i];
      if (s.id.empty()) throw std::invalid_argument("sessions[" + std::to_string(i) + "].id: must not be empty");
      if (!ids.insert(s.id).second)
        throw std::invalid_argument("sessions[" + std::to_string(i) + "].id: duplicate id '" + s.id + "'");
      if (!std::isfinite(s.day)) throw std::invalid_argument("sessions[" + std::to_string(i) + "].day: not finite");
      if (i > 0 && s.day < sessions[i - 1].day)
        throw std::invalid_argument("sessions[" + std::to_string(i) + "].date: " + s.date + " is before " +
                                    sessions[i - 1].date + " (sessions must be in date order)");
      std::set<std::string> muscles;
      for (const auto& m : s.muscles)
        if (!muscles.insert(m.muscle).second)
          throw std::invalid_argument("sessions[" + std::to_string(i) + "].muscles: '" + m.muscle + "' listed twice");
    }
  }

  PatternReport rep;
  rep.subject = std::move(subject);
  rep.options = o;
  rep.software_version = std::string(software_version());
  rep.disclaimer = std::string(disclaimer());
  const std::size_t S = sessions.size();
  const double day0 = sessions.front().day;

  // ---- muscles and states ----
  std::vector<std::string>& muscles = rep.muscle_order;
  std::map<std::string, std::pair<BodyRegion, Side>> place;
  for (const auto& s : sessions)
    for (const auto& m : s.muscles) {
      if (std::find(muscles.begin(), muscles.end(), m.muscle) == muscles.end()) muscles.push_back(m.muscle);
      auto& p = place[m.muscle];
      if (p.first == BodyRegion::unknown) p.first = m.region;
      if (p.second == Side::unknown) p.second = m.side;
    }
  const std::size_t M = muscles.size();
  const auto muscle_index = [&](const std::string& name) {
    return static_cast<std::size_t>(std::find(muscles.begin(), muscles.end(), name) - muscles.begin());
  };
  std::vector<std::vector<Cell>> cell(S, std::vector<Cell>(M));
  for (std::size_t s = 0; s < S; ++s) {
    for (const auto& m : sessions[s].muscles) cell[s][muscle_index(m.muscle)] = decide_state(m, o);
    for (std::size_t k = 0; k < M; ++k)
      if (!cell[s][k].recorded) cell[s][k].reason = "not recorded";
  }
  const auto active = [&](std::size_t s, std::size_t k) { return cell[s][k].recorded && cell[s][k].state == MuscleState::active; };

  std::vector<std::size_t> ana;  // analysable sessions
  for (std::size_t s = 0; s < S; ++s) {
    bool any = false;
    for (std::size_t k = 0; k < M; ++k) any = any || analysable(cell[s][k]);
    if (any) ana.push_back(s);
  }

  // ---- unit tracking ----
  std::vector<std::vector<int>> new_units(S, std::vector<int>(M, 0));
  std::vector<int> distinct_units(M, 0), new_unit_count(M, 0), turned_complex_count(M, 0);
  for (std::size_t k = 0; k < M; ++k) {
    struct Track {
      std::vector<std::pair<std::size_t, const UnitObservation*>> members;
      std::vector<double> sims;
    };
    std::vector<Track> tracks;
    for (std::size_t s = 0; s < S; ++s) {
      std::vector<const UnitObservation*> here;
      for (const auto& u : sessions[s].units)
        if (u.muscle == muscles[k] && u.count >= o.min_unit_discharges) here.push_back(&u);
      struct Pair {
        double sim;
        std::size_t track, unit;
      };
      std::vector<Pair> pairs;
      for (std::size_t t = 0; t < tracks.size(); ++t)
        for (std::size_t u = 0; u < here.size(); ++u) {
          double best = 0.0;
          for (const auto& mem : tracks[t].members) best = std::max(best, template_similarity(*mem.second, *here[u], o));
          if (at_least(best, o.unit_match_threshold)) pairs.push_back({best, t, u});
        }
      std::stable_sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.sim > b.sim; });
      std::vector<bool> track_taken(tracks.size(), false), unit_taken(here.size(), false);
      for (const auto& p : pairs) {
        if (track_taken[p.track] || unit_taken[p.unit]) continue;
        track_taken[p.track] = unit_taken[p.unit] = true;
        tracks[p.track].members.emplace_back(s, here[p.unit]);
        tracks[p.track].sims.push_back(p.sim);
      }
      for (std::size_t u = 0; u < here.size(); ++u)
        if (!unit_taken[u]) tracks.push_back(Track{{{s, here[u]}}, {kNaN}});
    }
    // First session in which this muscle could be assessed: units first
    // seen after it are new.
    std::size_t first_ana = S;
    for (std::size_t s = 0; s < S; ++s)
      if (analysable(cell[s][k])) {
        first_ana = s;
        break;
      }
    distinct_units[k] = static_cast<int>(tracks.size());
    for (std::size_t t = 0; t < tracks.size(); ++t) {
      TrackedUnit tu;
      tu.muscle = muscles[k];
      tu.number = static_cast<int>(t) + 1;
      std::vector<std::string> ids;
      bool was_simple = false;
      for (std::size_t i = 0; i < tracks[t].members.size(); ++i) {
        const auto& [s, u] = tracks[t].members[i];
        UnitSighting g;
        g.session = sessions[s].id;
        g.unit = u->unit;
        g.count = u->count;
        g.rate_per_min = u->rate_per_min;
        g.amplitude_uv = u->amplitude_uv;
        g.complex_fraction = u->complex_fraction;
        g.similarity = tracks[t].sims[i];
        g.peak_channel = u->peak_channel;
        g.fs = u->fs;
        g.waveform_uv = peak_waveform(*u);
        tu.sightings.push_back(std::move(g));
        ids.push_back(sessions[s].id);
        const bool complex = u->complex_fraction > o.complex_unit_fraction;
        if (i == 0) was_simple = !complex;
        else if (was_simple && complex && !tu.turned_complex) {
          tu.turned_complex = true;
          tu.turned_complex_session = sessions[s].id;
        }
      }
      const std::size_t first = tracks[t].members.front().first;
      tu.new_unit = first_ana < S && first > first_ana;
      if (tu.new_unit) {
        ++new_units[first][k];
        ++new_unit_count[k];
      }
      if (tu.turned_complex) ++turned_complex_count[k];
      tu.text = "unit " + std::to_string(tu.number) + " of " + muscles[k] + " seen in " +
                (ids.size() == 1 ? "session " : "sessions ") + join(ids) +
                (tu.new_unit ? " (new: first seen in " + ids.front() + ")" : "") +
                (tu.turned_complex ? " (complex from " + tu.turned_complex_session + ")" : "");
      rep.units.push_back(std::move(tu));
    }
  }

  // ---- the per-session, per-muscle table ----
  for (std::size_t s = 0; s < S; ++s)
    for (std::size_t k = 0; k < M; ++k) {
      const Cell& c = cell[s][k];
      if (!c.recorded) continue;
      const MuscleObservation& m = *c.obs;
      MuscleSessionRow r;
      r.session = sessions[s].id;
      r.date = sessions[s].date;
      r.day = sessions[s].day - day0;
      r.muscle = m.muscle;
      r.region = place[m.muscle].first;
      r.side = place[m.muscle].second;
      r.state = c.state;
      r.state_reason = c.reason;
      r.n_events = m.n_events;
      r.clean_rest_min = m.clean_rest_s / 60.0;
      r.rate = c.rate;
      r.n_units = m.n_units;
      const double ne = static_cast<double>(m.n_events);
      r.complex_fraction = m.n_events > 0 ? static_cast<double>(m.n_complex) / ne : kNaN;
      r.isolated_fraction = m.n_events > 0 ? static_cast<double>(m.n_isolated) / ne : kNaN;
      r.n_doublet = m.n_doublet;
      r.rest_minutes = m.rest_minutes;
      r.minutes_with_fp_fraction =
          m.rest_minutes > 0 ? static_cast<double>(m.minutes_with_fp) / static_cast<double>(m.rest_minutes) : kNaN;
      r.new_units = new_units[s][k];
      rep.muscles.push_back(std::move(r));
    }

  // ---- persistence ----
  struct Persistence {
    int active = 0, analysable_in_span = 0;
    double span = 0.0, fraction = kNaN;
    bool persistent = false;
    std::vector<std::string> active_ids;
  };
  const auto persistence = [&](std::size_t k, const std::vector<bool>* assume_active) {
    Persistence p;
    std::size_t first = S, last = S;
    for (std::size_t s = 0; s < S; ++s) {
      const bool a = active(s, k) || (assume_active && (*assume_active)[s]);
      if (!a) continue;
      if (first == S) first = s;
      last = s;
      ++p.active;
      p.active_ids.push_back(sessions[s].id);
    }
    if (first == S) return p;
    for (std::size_t s = first; s <= last; ++s)
      if (analysable(cell[s][k]) || (assume_active && (*assume_active)[s])) ++p.analysable_in_span;
    p.span = sessions[last].day - sessions[first].day;
    p.fraction = static_cast<double>(p.active) / static_cast<double>(p.analysable_in_span);
    p.persistent = p.active >= o.min_persistent_sessions && at_least(p.span, o.min_persistent_span_days) &&
                   at_least(p.fraction, o.min_persistent_fraction);
    return p;
  };
  std::vector<Persistence> pers(M);
  for (std::size_t k = 0; k < M; ++k) pers[k] = persistence(k, nullptr);

  std::vector<Reason> reasons;
  bool any_persistent = false;
  for (std::size_t k = 0; k < M; ++k) {
    const Persistence& p = pers[k];
    if (p.active == 0) continue;
    any_persistent = any_persistent || p.persistent;
    Reason r;
    r.criterion = "persistence";
    r.met = p.persistent;
    r.muscle = muscles[k];
    r.sessions = p.active_ids;
    r.values = {{"active_sessions", static_cast<double>(p.active), "sessions"},
                {"active_span_days", p.span, "days"},
                {"active_fraction_in_span", p.fraction, ""},
                {"analysable_sessions_in_span", static_cast<double>(p.analysable_in_span), "sessions"}};
    r.thresholds = {{"min_persistent_sessions", static_cast<double>(o.min_persistent_sessions), "sessions"},
                    {"min_persistent_span_days", o.min_persistent_span_days, "days"},
                    {"min_persistent_fraction", o.min_persistent_fraction, ""}};
    std::string why;
    if (p.active < o.min_persistent_sessions)
      why = "fewer than " + std::to_string(o.min_persistent_sessions) + " active sessions";
    else if (!at_least(p.span, o.min_persistent_span_days))
      why = "active sessions span less than " + fmt(o.min_persistent_span_days) + " days";
    else if (!at_least(p.fraction, o.min_persistent_fraction))
      why = "active in less than " + fmt(100.0 * o.min_persistent_fraction) + "% of its analysable sessions in that span";
    r.text = muscles[k] + " was active in " + std::to_string(p.active) + " of " +
             plural(p.analysable_in_span, "analysable session", "analysable sessions") + " over " + fmt(p.span) +
             " days (" + join(p.active_ids) + "): " + (p.persistent ? "persistent" : "not persistent, " + why) + ".";
    reasons.push_back(std::move(r));
  }

  // ---- spread ----
  bool spread = false;
  {
    Reason r;
    r.criterion = "spread";
    r.thresholds = {{"min_spread_active_muscles", static_cast<double>(o.min_spread_active_muscles), "muscles"}};
    if (ana.size() < 2) {
      r.text = "Spread cannot be assessed: fewer than 2 analysable sessions.";
      r.values = {{"analysable_sessions", static_cast<double>(ana.size()), "sessions"}};
    } else {
      const std::size_t first = ana.front(), last = ana.back();
      std::vector<std::string> active_last, newly, unknown_baseline;
      std::set<BodyRegion> earlier_regions;
      std::set<std::pair<BodyRegion, Side>> earlier_sides;
      std::set<std::string> earlier_muscles;
      for (std::size_t s = 0; s < last; ++s)
        for (std::size_t k = 0; k < M; ++k)
          if (active(s, k)) {
            earlier_muscles.insert(muscles[k]);
            earlier_regions.insert(place[muscles[k]].first);
            earlier_sides.insert({place[muscles[k]].first, place[muscles[k]].second});
          }
      for (std::size_t k = 0; k < M; ++k) {
        if (!active(last, k)) continue;
        active_last.push_back(muscles[k]);
        if (active(first, k)) continue;
        // Baseline: quiet in the first analysable session, or (when this
        // muscle could not be assessed there) quiet when first assessed.
        bool baseline_quiet = false, known = false;
        for (std::size_t s = first; s < last && !known; ++s)
          if (analysable(cell[s][k])) {
            known = true;
            baseline_quiet = cell[s][k].state == MuscleState::quiet;
          }
        if (known && baseline_quiet) newly.push_back(muscles[k]);
        else if (!known) unknown_baseline.push_back(muscles[k]);
      }
      const auto n_active = static_cast<int>(active_last.size());
      spread = n_active >= o.min_spread_active_muscles && !newly.empty();
      r.met = spread;
      r.sessions = {sessions[first].id, sessions[last].id};
      r.muscles = newly;
      r.values = {{"active_muscles_latest", static_cast<double>(n_active), "muscles"},
                  {"new_active_muscles", static_cast<double>(newly.size()), "muscles"},
                  {"span_days", sessions[last].day - sessions[first].day, "days"}};
      // Strength: a new region (or side) is stronger evidence of spread than
      // a neighbouring muscle in the same limb.
      bool new_region = false, new_side = false;
      for (const auto& m : newly) {
        const auto [reg, side] = place[m];
        if (reg != BodyRegion::unknown && !earlier_regions.count(reg)) new_region = true;
        if (side != Side::unknown && !earlier_sides.count({reg, side})) new_side = true;
      }
      if (!newly.empty()) {
        if (earlier_muscles.empty()) r.strength = "onset";
        else if (new_region) r.strength = "new_region";
        else if (new_side) r.strength = "new_side";
        else r.strength = "same_region_and_side";
      }
      std::string text = "Latest analysable session " + sessions[last].id + " has " +
                         plural(n_active, "active muscle", "active muscles") +
                         (active_last.empty() ? "" : " (" + join(active_last) + ")");
      if (newly.empty()) {
        text += "; none of them is newly active since the first analysable session " + sessions[first].id;
      } else {
        text += "; newly active since " + sessions[first].id + ": " + join(newly);
        if (r.strength == "new_region") text += " (a new body region: stronger evidence)";
        else if (r.strength == "new_side") text += " (a new side: stronger evidence)";
        else if (r.strength == "onset") text += " (no muscle was active before)";
        else text += " (same region and side as before)";
      }
      text += spread ? ": spread." : ": no spread";
      if (!spread && !newly.empty()) text += " (fewer than " + std::to_string(o.min_spread_active_muscles) + " active muscles)";
      if (!spread) text += ".";
      if (!unknown_baseline.empty())
        text += " Not assessable at baseline: " + join(unknown_baseline) + ".";
      r.text = text;
    }
    reasons.push_back(std::move(r));
  }

  // ---- activity, clean rest and follow-up ----
  std::vector<std::size_t> active_sessions;
  std::set<std::string> ever_active;
  for (std::size_t s = 0; s < S; ++s) {
    bool any = false;
    for (std::size_t k = 0; k < M; ++k)
      if (active(s, k)) {
        any = true;
        ever_active.insert(muscles[k]);
      }
    if (any) active_sessions.push_back(s);
  }
  Reason fasc;
  fasc.criterion = "fasciculations";
  fasc.met = !active_sessions.empty();
  fasc.values = {{"sessions_with_active_muscle", static_cast<double>(active_sessions.size()), "sessions"},
                 {"analysable_sessions", static_cast<double>(ana.size()), "sessions"},
                 {"active_muscles", static_cast<double>(ever_active.size()), "muscles"}};
  fasc.thresholds = {{"min_active_count", static_cast<double>(o.min_active_count), "FPs"},
                     {"min_active_rate_per_min", o.min_active_rate_per_min, "FP/min"}};
  for (auto s : active_sessions) fasc.sessions.push_back(sessions[s].id);
  fasc.muscles.assign(ever_active.begin(), ever_active.end());
  fasc.text = fasc.met ? "Fasciculations (>= " + std::to_string(o.min_active_count) + " FPs and >= " +
                             fmt(o.min_active_rate_per_min, 2) + "/min in a muscle) in " +
                             std::to_string(active_sessions.size()) + " of " +
                             plural(ana.size(), "analysable session", "analysable sessions") + " (" +
                             join(fasc.sessions) + "), in " + join(fasc.muscles) + "."
                       : "No muscle was active (>= " + std::to_string(o.min_active_count) + " FPs and >= " +
                             fmt(o.min_active_rate_per_min, 2) + "/min) in any of the " +
                             plural(ana.size(), "analysable session", "analysable sessions") + ".";

  Reason rest;
  rest.criterion = "clean_rest";
  rest.met = !ana.empty();
  rest.values = {{"analysable_sessions", static_cast<double>(ana.size()), "sessions"},
                 {"sessions", static_cast<double>(S), "sessions"}};
  rest.thresholds = {{"min_clean_rest_s", o.min_clean_rest_s, "s"}};
  {
    std::vector<std::string> short_ids;
    for (std::size_t s = 0; s < S; ++s)
      if (std::find(ana.begin(), ana.end(), s) == ana.end()) short_ids.push_back(sessions[s].id);
    rest.sessions = short_ids;
    rest.text = std::to_string(ana.size()) + " of " + plural(S, "session has", "sessions have") +
                " enough clean rest (>= " + fmt(o.min_clean_rest_s) + " s) in at least one muscle" +
                (short_ids.empty() ? "." : "; too little in " + join(short_ids) + ".");
  }

  Reason follow;
  follow.criterion = "follow_up";
  double follow_up = 0.0;
  if (!ana.empty()) {
    std::size_t from = ana.front();
    if (o.follow_up_from_first_active && !active_sessions.empty()) from = active_sessions.front();
    follow_up = sessions[ana.back()].day - sessions[from].day;
    follow.sessions = {sessions[from].id, sessions[ana.back()].id};
  }
  follow.met = !ana.empty() && at_least(follow_up, o.min_follow_up_days);
  follow.values = {{"follow_up_days", follow_up, "days"}};
  follow.thresholds = {{"min_follow_up_days", o.min_follow_up_days, "days"}};
  follow.text = "Follow-up " + fmt(follow_up) + " days" +
                (follow.sessions.empty() ? "" : " (" + follow.sessions.front() + " to " + follow.sessions.back() + ")") +
                (follow.met ? " >= " : " < ") + fmt(o.min_follow_up_days) + " days needed to call fasciculations benign.";

  // ---- the decision ----
  std::string decision;
  if (any_persistent || spread) {
    rep.pattern = Pattern::warning;
    std::vector<std::string> parts;
    for (auto& r : reasons)
      if (r.met) {
        r.decisive = true;
        parts.push_back(r.text);
      }
    decision = "Warning pattern: " + join(parts, " ");
  } else if (ana.empty()) {
    rep.pattern = Pattern::indeterminate;
    rest.decisive = true;
    decision = "Indeterminate: no session has enough clean rest (>= " + fmt(o.min_clean_rest_s) +
               " s) to tell whether fasciculations are present.";
  } else if (!fasc.met) {
    rep.pattern = Pattern::none;
    fasc.decisive = true;
    decision = "No fasciculation pattern: " + fasc.text;
  } else if (!follow.met) {
    rep.pattern = Pattern::indeterminate;
    follow.decisive = true;
    decision = "Indeterminate: fasciculations were seen but the follow-up (" + fmt(follow_up) + " days) is shorter than the " +
               fmt(o.min_follow_up_days) + " days needed to tell whether they persist or spread.";
  } else {
    rep.pattern = Pattern::benign;
    fasc.decisive = true;
    follow.decisive = true;
    for (auto& r : reasons) r.decisive = true;
    decision = "Benign pattern: fasciculations were seen in " + std::to_string(active_sessions.size()) + " of " +
               plural(ana.size(), "analysable session", "analysable sessions") + " (" + join(fasc.muscles) +
               ") but did not persist or spread over " + fmt(follow_up) + " days of follow-up.";
  }
  rep.decision = decision;
  reasons.push_back(std::move(fasc));
  reasons.push_back(std::move(follow));
  reasons.push_back(std::move(rest));
  std::stable_partition(reasons.begin(), reasons.end(), [](const Reason& r) { return r.decisive; });
  rep.reasons = std::move(reasons);

  // ---- evidence ----
  for (std::size_t k = 0; k < M; ++k) {
    MuscleEvidence e;
    e.muscle = muscles[k];
    e.region = place[muscles[k]].first;
    e.side = place[muscles[k]].second;
    e.persistent = pers[k].persistent;
    e.sessions_active = pers[k].active;
    e.active_span_days = pers[k].span;
    e.active_fraction_in_span = pers[k].fraction;
    Index n_complex = 0, n_isolated = 0;
    std::vector<double> months, minutes;
    std::vector<Index> counts;
    for (std::size_t s = 0; s < S; ++s) {
      const Cell& c = cell[s][k];
      if (!c.recorded) continue;
      ++e.sessions_recorded;
      if (!analysable(c)) continue;
      ++e.sessions_analysable;
      const MuscleObservation& m = *c.obs;
      e.n_events += m.n_events;
      e.clean_rest_min += m.clean_rest_s / 60.0;
      e.n_doublet += m.n_doublet;
      n_complex += m.n_complex;
      n_isolated += m.n_isolated;
      if (m.clean_rest_s > 0.0) {
        months.push_back((sessions[s].day - day0) / kDaysPerMonth);
        minutes.push_back(m.clean_rest_s / 60.0);
        counts.push_back(m.n_events);
      }
      if (c.state == MuscleState::active) {
        const auto& cl = sessions[s].clinical;
        if (std::count(cl.weakness.begin(), cl.weakness.end(), muscles[k])) e.weakness_sessions.push_back(sessions[s].id);
        if (std::count(cl.atrophy.begin(), cl.atrophy.end(), muscles[k])) e.atrophy_sessions.push_back(sessions[s].id);
      }
    }
    e.complex_fraction = e.n_events > 0 ? static_cast<double>(n_complex) / static_cast<double>(e.n_events) : kNaN;
    e.isolated_fraction = e.n_events > 0 ? static_cast<double>(n_isolated) / static_cast<double>(e.n_events) : kNaN;
    e.distinct_units = distinct_units[k];
    e.new_units = new_unit_count[k];
    e.units_turned_complex = turned_complex_count[k];
    e.trend = rate_trend(months, counts, minutes, o.confidence);
    rep.evidence.push_back(std::move(e));
  }

  // ---- sessions ----
  for (std::size_t s = 0; s < S; ++s) {
    SessionSummary ss;
    ss.id = sessions[s].id;
    ss.date = sessions[s].date;
    ss.day = sessions[s].day - day0;
    ss.recording = sessions[s].recording;
    ss.duration_s = sessions[s].duration_s;
    ss.clean_rest_s = sessions[s].clean_rest_s;
    ss.analysable = std::find(ana.begin(), ana.end(), s) != ana.end();
    for (std::size_t k = 0; k < M; ++k)
      if (active(s, k)) ss.active_muscles.push_back(muscles[k]);
    ss.context = sessions[s].context;
    for (const auto& t : ss.context)
      if (benign_tag(t)) ss.benign_context.push_back(t);
    ss.clinical = sessions[s].clinical;
    ss.warnings = sessions[s].warnings;
    rep.sessions.push_back(std::move(ss));
  }

  // ---- notes: supporting evidence in words ----
  auto& notes = rep.notes;
  for (std::size_t s = 0; s < S; ++s)
    if (!rep.sessions[s].analysable)
      notes.push_back("Session " + sessions[s].id + ": clean rest " + fmt(sessions[s].clean_rest_s) + " s; no muscle could be assessed (needs >= " +
                      fmt(o.min_clean_rest_s) + " s).");
  if (!active_sessions.empty()) {
    std::vector<std::string> tagged;
    for (auto s : active_sessions)
      if (!rep.sessions[s].benign_context.empty())
        tagged.push_back(sessions[s].id + " (" + join(rep.sessions[s].benign_context) + ")");
    notes.push_back("Benign context (exercise, caffeine, stress, poor sleep...) on " + std::to_string(tagged.size()) +
                    " of the " + plural(active_sessions.size(), "session", "sessions") + " with fasciculations" +
                    (tagged.empty() ? "." : ": " + join(tagged) + ".") + " Supporting evidence only.");
  }
  for (const auto& e : rep.evidence) {
    if (!e.weakness_sessions.empty())
      notes.push_back("Clinical weakness in an active muscle: " + e.muscle + " (" + join(e.weakness_sessions) +
                      "). Supporting evidence; it does not change the label.");
    if (!e.atrophy_sessions.empty())
      notes.push_back("Clinical atrophy in an active muscle: " + e.muscle + " (" + join(e.atrophy_sessions) +
                      "). Supporting evidence; it does not change the label.");
    if (e.sessions_active > 0 && e.n_events > 0)
      notes.push_back(e.muscle + ": " + fmt(100.0 * e.complex_fraction, 0) + "% complex potentials, " +
                      fmt(100.0 * e.isolated_fraction, 0) + "% isolated discharges, " +
                      plural(e.distinct_units, "distinct unit", "distinct units") + " (" + std::to_string(e.new_units) +
                      " new, " + std::to_string(e.units_turned_complex) + " turned complex)" +
                      (e.trend.available ? ", rate trend " + fmt(e.trend.slope_per_month, 2) + " FP/min per month (" +
                                               fmt(100.0 * o.confidence, 0) + "% CI " + fmt(e.trend.ci_low, 2) + " to " +
                                               fmt(e.trend.ci_high, 2) + ")"
                                         : "") +
                      ".");
  }
  {
    Index doublets = 0;
    for (const auto& e : rep.evidence) doublets += e.n_doublet;
    if (doublets > 0)
      notes.push_back(plural(doublets, "discharge", "discharges") +
                      " in doublets: reported, not counted as warning evidence (doublets occur in benign "
                      "fasciculation and in ALS alike).");
  }
  // Would filling the gaps (sessions without enough clean rest) have changed
  // the persistence verdict? Then the label leans on missing data: say so.
  if (rep.pattern != Pattern::warning) {
    for (std::size_t k = 0; k < M; ++k) {
      if (pers[k].active == 0) continue;
      std::vector<bool> gap(S, false);
      bool any_gap = false;
      for (std::size_t s = 0; s < S; ++s)
        if (!analysable(cell[s][k])) gap[s] = any_gap = true;
      if (any_gap && persistence(k, &gap).persistent)
        notes.push_back(muscles[k] + ": sessions without enough clean rest leave persistence open: had they been "
                        "active, the muscle would meet the persistence criterion.");
    }
  }
  return rep;
}

}  // namespace fasctrack::pattern
