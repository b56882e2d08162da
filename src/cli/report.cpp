#include "report.hpp"

#include <fasctrack/core/error.hpp>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

namespace fasctrack::cli {

namespace {

using nlohmann::json;

json rate_json(const cluster::RateEstimate& r) {
  return json{{"count", r.count},           {"minutes", r.minutes}, {"rate_per_min", r.rate_per_min},
              {"ci_low", r.ci_low},         {"ci_high", r.ci_high}, {"confidence", r.confidence}};
}

// JSON has no NaN; undefined statistics (e.g. intervals of a one-discharge unit) become null.
json number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

json summary_json(const DetectionResult& r, const Recording& rec) {
  const auto& s = r.summary;
  json muscles = json::array();
  for (const auto& m : s.muscles) {
    muscles.push_back({{"muscle", m.muscle},
                       {"region", std::string(to_string(m.region))},
                       {"side", std::string(to_string(m.side))},
                       {"channels", m.channels},
                       {"n_events", m.n_events},
                       {"rate", rate_json(m.rate)},
                       {"n_units", m.n_units},
                       {"isolated_fraction", number(m.isolated_fraction)},
                       {"complex_fraction", number(m.complex_fraction)}});
  }
  json masks = json::array();
  for (const auto& m : r.masks)
    masks.push_back({{"start_s", static_cast<double>(m.start) / rec.fs},
                     {"stop_s", static_cast<double>(m.stop) / rec.fs},
                     {"reason", std::string(to_string(m.reason))}});
  json noise = json::object();
  for (std::size_t c = 0; c < rec.channels.size() && c < s.noise_floor_uv.size(); ++c)
    noise[rec.channels[c].name] = number(s.noise_floor_uv[c]);
  // Every data problem, by channel (the flags the whole recording earned).
  json flagged = json::object();
  for (std::size_t c = 0; c < rec.channels.size() && c < r.quality.size(); ++c) {
    const auto& q = r.quality[c];
    if (q.flags == filter::quality_ok) continue;
    flagged[rec.channels[c].name] = {{"flags", filter::describe_flags(q.flags)},
                                     {"non_finite_samples", q.n_non_finite},
                                     {"longest_flat_s", static_cast<double>(q.longest_flat_run) / rec.fs}};
  }
  return json{{"file", rec.source},
              {"fs_hz", rec.fs},
              {"duration_s", s.duration_s},
              {"clean_rest_s", s.clean_rest_s},
              {"excluded_s",
               {{"startup", s.excluded_startup_s},
                {"voluntary", s.excluded_voluntary_s},
                {"tonic", s.excluded_tonic_s},
                {"artefact", s.excluded_artefact_s},
                {"bad_signal", s.excluded_bad_signal_s}}},
              {"masks", masks},
              {"noise_floor_uv", noise},
              {"bad_channels", s.bad_channels},
              {"channel_quality", flagged},
              {"mains", {{"status", std::string(filter::to_string(s.mains.status))}, {"notched_hz", s.mains_hz}}},
              {"n_events", s.n_events},
              {"n_units", s.n_units},
              {"isolated_fraction", number(s.isolated_fraction)},
              {"rate", rate_json(s.rate)},
              {"muscles", muscles},
              {"insufficient", s.insufficient},
              {"min_clean_rest_s", s.min_clean_rest_s},
              {"layout", s.layout},
              {"assumed_grid_side", s.assumed_grid_side},
              {"fibre_axis", s.fibre_axis},
              {"latency_s", static_cast<double>(r.latency_samples) / rec.fs},
              {"note", "research decision support, not a diagnosis"}};
}

json units_json(const DetectionResult& r, const Recording& rec) {
  json units = json::array();
  for (const auto& u : r.units) {
    json tmpl = json::array();
    for (Index c = 0; c < u.template_uv.rows(); ++c) {
      json row = json::array();
      for (Index i = 0; i < u.template_uv.cols(); ++i) row.push_back(u.template_uv(c, i));
      tmpl.push_back(row);
    }
    const auto peak = static_cast<std::size_t>(u.peak_channel);
    units.push_back({{"unit", u.id},
                     {"count", u.count},
                     {"rate_per_min", u.rate_per_min},
                     {"peak_channel", peak < rec.channels.size() ? rec.channels[peak].name : std::string()},
                     {"amplitude_uv", number(u.amplitude_uv)},
                     {"idi_median_ms", number(u.idi_median_ms)},
                     {"idi_cv", number(u.idi_cv)},
                     {"complex_fraction", number(u.complex_fraction)},
                     {"amplitude_cv", number(u.amplitude_cv)},
                     {"shape_stability", number(u.shape_stability)},
                     {"template_uv", tmpl}});
  }
  return json{{"fs_hz", rec.fs}, {"units", units}};
}

std::string events_csv(const DetectionResult& r, const Recording& rec) {
  std::ostringstream out;
  out.precision(10);
  out << "time_s,sample,unit,channel,channel_index,amplitude_uv,duration_ms,phases,turns,area_uv_ms,n_channels,"
         "isolated,doublet,confidence\n";
  for (const auto& e : r.events) {
    const auto c = static_cast<std::size_t>(e.channel);
    out << e.time_s << ',' << e.sample << ',' << e.unit << ','
        << csv_field(c < rec.channels.size() ? rec.channels[c].name : std::to_string(e.channel)) << ',' << e.channel
        << ',' << e.amplitude_uv << ',' << e.duration_ms << ',' << e.phases << ',' << e.turns << ',' << e.area_uv_ms
        << ',' << e.n_channels << ',' << (e.isolated ? 1 : 0) << ',' << (e.doublet ? 1 : 0) << ',' << e.confidence
        << '\n';
  }
  return out.str();
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    if (!f) throw WriteError(path, std::string("cannot open for writing: ") + std::strerror(errno));
    f << text;
    f.flush();
    if (!f) {
      std::remove(tmp.c_str());
      throw WriteError(path, "write failed (disk full?)");
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    std::remove(tmp.c_str());
    throw WriteError(path, "cannot rename the temporary file into place: " + why);
  }
}

std::string summary_text(const DetectionResult& r, const Recording& rec) {
  const auto& s = r.summary;
  char line[512];
  std::string out;
  auto add = [&](const char* fmt, auto... args) {
    std::snprintf(line, sizeof line, fmt, args...);
    out += line;
  };
  add("clean rest  %.1f s of %.1f s", s.clean_rest_s, s.duration_s);
  std::string excluded;
  const std::pair<const char*, double> parts[] = {{"startup", s.excluded_startup_s},
                                                  {"voluntary", s.excluded_voluntary_s},
                                                  {"tonic", s.excluded_tonic_s},
                                                  {"artefact", s.excluded_artefact_s},
                                                  {"bad signal", s.excluded_bad_signal_s}};
  for (const auto& [name, sec] : parts) {
    if (sec <= 0) continue;
    std::snprintf(line, sizeof line, "%s%s %.1f s", excluded.empty() ? "" : ", ", name, sec);
    excluded += line;
  }
  out += excluded.empty() ? "\n" : " (excluded: " + excluded + ")\n";
  add("events      %lld in %d unit(s); %.0f%% isolated\n", static_cast<long long>(s.n_events), s.n_units,
      100.0 * (std::isfinite(s.isolated_fraction) ? s.isolated_fraction : 0.0));
  add("FP rate     %.2f /min (95%% CI %.2f-%.2f)\n", s.rate.rate_per_min, s.rate.ci_low, s.rate.ci_high);
  for (const auto& m : s.muscles) {
    add("  %-22s %5lld events  %6.2f /min (95%% CI %.2f-%.2f)  %d unit(s)\n",
        m.muscle.empty() ? "(no muscle given)" : m.muscle.c_str(), static_cast<long long>(m.n_events),
        m.rate.rate_per_min, m.rate.ci_low, m.rate.ci_high, m.n_units);
  }
  if (s.insufficient)
    add("verdict     INSUFFICIENT: %.1f s of clean rest is under the %.0f s needed to conclude\n", s.clean_rest_s,
        s.min_clean_rest_s);
  for (const auto& u : r.units) {
    const auto peak = static_cast<std::size_t>(u.peak_channel);
    add("  unit %-3d %4lld discharges  %6.1f uV p-p at %-10s  %4.0f%% complex\n", u.id,
        static_cast<long long>(u.count), u.amplitude_uv,
        peak < rec.channels.size() ? rec.channels[peak].name.c_str() : "?",
        100.0 * (std::isfinite(u.complex_fraction) ? u.complex_fraction : 0.0));
  }
  out += "research decision support, not a diagnosis\n";
  return out;
}

}  // namespace fasctrack::cli
