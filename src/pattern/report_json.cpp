// REPORT.json: the pattern report as data. NaN and infinite numbers (a rate
// without clean rest, an open upper confidence limit) become null.
#include <fasctrack/pattern/classify.hpp>

#include <nlohmann/json.hpp>

#include <cmath>

namespace fasctrack::pattern {

namespace {

using nlohmann::json;

json num(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

// Waveforms to 0.001 uV: full float noise digits would only bloat the file.
json waveform(const std::vector<float>& w) {
  json a = json::array();
  for (float v : w) a.push_back(std::isfinite(v) ? json(std::round(static_cast<double>(v) * 1000.0) / 1000.0) : json(nullptr));
  return a;
}

json quantities(const std::vector<Quantity>& q) {
  json o = json::object();
  for (const auto& x : q) o[x.name] = num(x.value);
  return o;
}

json options_json(const PatternOptions& o) {
  return json{{"min_active_count", o.min_active_count},
              {"min_active_rate_per_min", o.min_active_rate_per_min},
              {"min_clean_rest_s", o.min_clean_rest_s},
              {"min_persistent_sessions", o.min_persistent_sessions},
              {"min_persistent_span_days", o.min_persistent_span_days},
              {"min_persistent_fraction", o.min_persistent_fraction},
              {"min_spread_active_muscles", o.min_spread_active_muscles},
              {"min_follow_up_days", o.min_follow_up_days},
              {"follow_up_from_first_active", o.follow_up_from_first_active},
              {"unit_match_threshold", o.unit_match_threshold},
              {"unit_max_lag_ms", o.unit_max_lag_ms},
              {"unit_max_amplitude_ratio", o.unit_max_amplitude_ratio},
              {"min_unit_discharges", o.min_unit_discharges},
              {"complex_unit_fraction", o.complex_unit_fraction},
              {"confidence", o.confidence}};
}

}  // namespace

std::string report_json(const PatternReport& r, int indent) {
  json j;
  j["pattern"] = std::string(to_string(r.pattern));
  j["decision"] = r.decision;
  j["subject"] = r.subject;

  json reasons = json::array();
  for (const auto& x : r.reasons) {
    json o{{"criterion", x.criterion}, {"met", x.met}, {"decisive", x.decisive}, {"text", x.text},
           {"values", quantities(x.values)}, {"thresholds", quantities(x.thresholds)}, {"sessions", x.sessions}};
    if (!x.muscle.empty()) o["muscle"] = x.muscle;
    if (!x.muscles.empty() || x.criterion == "spread" || x.criterion == "fasciculations") o["muscles"] = x.muscles;
    if (!x.strength.empty()) o["strength"] = x.strength;
    reasons.push_back(std::move(o));
  }
  j["reasons"] = std::move(reasons);

  json muscles = json::array();
  for (const auto& m : r.muscles)
    muscles.push_back({{"session", m.session},
                       {"date", m.date},
                       {"day", num(m.day)},
                       {"muscle", m.muscle},
                       {"region", std::string(to_string(m.region))},
                       {"side", std::string(to_string(m.side))},
                       {"state", std::string(to_string(m.state))},
                       {"state_reason", m.state_reason},
                       {"n_events", m.n_events},
                       {"clean_rest_min", num(m.clean_rest_min)},
                       {"rate_per_min", num(m.rate.rate_per_min)},
                       {"ci_low", num(m.rate.ci_low)},
                       {"ci_high", num(m.rate.ci_high)},
                       {"n_units", m.n_units},
                       {"new_units", m.new_units},
                       {"complex_fraction", num(m.complex_fraction)},
                       {"isolated_fraction", num(m.isolated_fraction)},
                       {"n_doublet", m.n_doublet},
                       {"rest_minutes", m.rest_minutes},
                       {"minutes_with_fp_fraction", num(m.minutes_with_fp_fraction)}});
  j["muscles"] = std::move(muscles);

  json units = json::array();
  for (const auto& u : r.units) {
    json sightings = json::array();
    std::vector<std::string> ids;
    for (const auto& g : u.sightings) {
      ids.push_back(g.session);
      sightings.push_back({{"session", g.session},
                           {"unit", g.unit},
                           {"count", g.count},
                           {"rate_per_min", num(g.rate_per_min)},
                           {"amplitude_uv", num(g.amplitude_uv)},
                           {"complex_fraction", num(g.complex_fraction)},
                           {"similarity", num(g.similarity)},
                           {"peak_channel", g.peak_channel},
                           {"fs", num(g.fs)},
                           {"waveform_uv", waveform(g.waveform_uv)}});
    }
    units.push_back({{"muscle", u.muscle},
                     {"unit", u.number},
                     {"text", u.text},
                     {"sessions", ids},
                     {"new", u.new_unit},
                     {"turned_complex", u.turned_complex},
                     {"turned_complex_session", u.turned_complex_session.empty() ? json(nullptr) : json(u.turned_complex_session)},
                     {"sightings", std::move(sightings)}});
  }
  j["units"] = std::move(units);

  json ev = json::array();
  for (const auto& e : r.evidence)
    ev.push_back({{"muscle", e.muscle},
                  {"region", std::string(to_string(e.region))},
                  {"side", std::string(to_string(e.side))},
                  {"sessions_recorded", e.sessions_recorded},
                  {"sessions_analysable", e.sessions_analysable},
                  {"sessions_active", e.sessions_active},
                  {"persistent", e.persistent},
                  {"active_span_days", num(e.active_span_days)},
                  {"active_fraction_in_span", num(e.active_fraction_in_span)},
                  {"n_events", e.n_events},
                  {"clean_rest_min", num(e.clean_rest_min)},
                  {"complex_fraction", num(e.complex_fraction)},
                  {"isolated_fraction", num(e.isolated_fraction)},
                  {"n_doublet", e.n_doublet},
                  {"distinct_units", e.distinct_units},
                  {"new_units", e.new_units},
                  {"units_turned_complex", e.units_turned_complex},
                  {"rate_trend",
                   e.trend.available ? json{{"slope_per_month", num(e.trend.slope_per_month)},
                                            {"ci_low", num(e.trend.ci_low)},
                                            {"ci_high", num(e.trend.ci_high)},
                                            {"n_sessions", e.trend.n_sessions}}
                                     : json(nullptr)},
                  {"weakness_sessions", e.weakness_sessions},
                  {"atrophy_sessions", e.atrophy_sessions}});
  j["evidence"] = {{"muscles", std::move(ev)}, {"notes", r.notes}};

  json sessions = json::array();
  for (const auto& s : r.sessions)
    sessions.push_back({{"id", s.id},
                        {"date", s.date},
                        {"day", num(s.day)},
                        {"recording", s.recording},
                        {"duration_s", num(s.duration_s)},
                        {"clean_rest_s", num(s.clean_rest_s)},
                        {"analysable", s.analysable},
                        {"active_muscles", s.active_muscles},
                        {"context", s.context},
                        {"benign_context", s.benign_context},
                        {"clinical", {{"weakness", s.clinical.weakness}, {"atrophy", s.clinical.atrophy}}},
                        {"warnings", s.warnings}});
  j["sessions"] = std::move(sessions);
  j["options"] = options_json(r.options);
  j["software_version"] = r.software_version;
  j["disclaimer"] = r.disclaimer;
  // Strings come from manifests and files; replace invalid UTF-8 rather than throw.
  return j.dump(indent, ' ', false, json::error_handler_t::replace);
}

}  // namespace fasctrack::pattern
