// The HTML report: one self-contained page (inline CSS and SVG, no scripts,
// nothing fetched), readable offline and archivable as it is. Every string
// that came from a manifest or a file is escaped.
#include <fasctrack/pattern/classify.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace fasctrack::pattern {

namespace {

std::string esc(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string fmt(double v, int digits = 2) {
  if (!std::isfinite(v)) return std::isnan(v) ? "&ndash;" : "&infin;";
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

std::string pct(double v) { return std::isfinite(v) ? fmt(100.0 * v, 0) + "%" : "&ndash;"; }

// Plain coordinates for SVG attributes.
std::string c(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", std::isfinite(v) ? v : 0.0);
  return buf;
}

const char* kSessionColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string state_colour(MuscleState s) {
  switch (s) {
    case MuscleState::active: return "#c62828";
    case MuscleState::quiet: return "#2e7d32";
    case MuscleState::insufficient: return "#9e9e9e";
  }
  return "#9e9e9e";
}

std::string pattern_headline(Pattern p) {
  switch (p) {
    case Pattern::warning: return "Warning pattern";
    case Pattern::benign: return "Benign pattern";
    case Pattern::none: return "No fasciculations";
    case Pattern::indeterminate: return "Indeterminate";
  }
  return "Indeterminate";
}

std::string place(BodyRegion r, Side s) {
  std::string out;
  if (r != BodyRegion::unknown) out += std::string(to_string(r));
  if (s != Side::unknown) out += (out.empty() ? "" : ", ") + std::string(to_string(s));
  return out;
}

// Rate over time for one muscle: points with their confidence intervals,
// coloured by state, and the activity threshold as a dashed line.
std::string rate_timeline(const PatternReport& r, const std::string& muscle, double max_day) {
  const double W = 360, H = 190, L = 46, R = 12, T = 22, B = 36;
  std::vector<const MuscleSessionRow*> rows;
  for (const auto& m : r.muscles)
    if (m.muscle == muscle) rows.push_back(&m);
  double ymax = 1.5 * r.options.min_active_rate_per_min;
  for (const auto* m : rows) {
    if (m->state == MuscleState::insufficient) continue;
    if (std::isfinite(m->rate.rate_per_min)) ymax = std::max(ymax, m->rate.rate_per_min * 1.15);
    if (std::isfinite(m->rate.ci_high)) ymax = std::max(ymax, m->rate.ci_high * 1.05);
  }
  if (!(ymax > 0.0)) ymax = 1.0;
  // Round the axis up to 4 ticks of 1, 2, 2.5 or 5 x 10^k, so labels read cleanly.
  const double raw_step = ymax / 4.0;
  const double mag = std::pow(10.0, std::floor(std::log10(raw_step)));
  double step = 10.0 * mag;
  for (double f : {1.0, 2.0, 2.5, 5.0})
    if (f * mag >= raw_step * (1.0 - 1e-12)) {
      step = f * mag;
      break;
    }
  ymax = 4.0 * step;
  const double xspan = std::max(max_day, 1.0);
  const auto X = [&](double d) { return L + (W - L - R) * (d / xspan); };
  const auto Y = [&](double v) { return H - B - (H - T - B) * (std::clamp(v, 0.0, ymax) / ymax); };
  std::string s = "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + c(W) + "\" height=\"" + c(H) +
                  "\" viewBox=\"0 0 " + c(W) + " " + c(H) + "\" role=\"img\" aria-label=\"FP rate of " + esc(muscle) +
                  " per session\">";
  s += "<text x=\"" + c(L) + "\" y=\"14\" class=\"title\">" + esc(muscle) + "</text>";
  // axes and ticks
  s += "<line x1=\"" + c(L) + "\" y1=\"" + c(H - B) + "\" x2=\"" + c(W - R) + "\" y2=\"" + c(H - B) + "\" class=\"axis\"/>";
  s += "<line x1=\"" + c(L) + "\" y1=\"" + c(T) + "\" x2=\"" + c(L) + "\" y2=\"" + c(H - B) + "\" class=\"axis\"/>";
  for (int i = 0; i <= 4; ++i) {
    const double v = ymax * i / 4.0;
    s += "<text x=\"" + c(L - 4) + "\" y=\"" + c(Y(v) + 3) + "\" class=\"tick\" text-anchor=\"end\">" + fmt(v, 2) + "</text>";
    s += "<line x1=\"" + c(L) + "\" y1=\"" + c(Y(v)) + "\" x2=\"" + c(W - R) + "\" y2=\"" + c(Y(v)) + "\" class=\"grid\"/>";
  }
  for (const auto& ss : r.sessions)
    s += "<text x=\"" + c(X(ss.day)) + "\" y=\"" + c(H - B + 13) + "\" class=\"tick\" text-anchor=\"middle\">" + fmt(ss.day, 0) + "</text>";
  s += "<text x=\"" + c((L + W - R) / 2) + "\" y=\"" + c(H - 4) + "\" class=\"label\" text-anchor=\"middle\">days since first session</text>";
  s += "<text x=\"12\" y=\"" + c((T + H - B) / 2) + "\" class=\"label\" text-anchor=\"middle\" transform=\"rotate(-90 12 " +
       c((T + H - B) / 2) + ")\">FP/min</text>";
  const double thr = r.options.min_active_rate_per_min;
  s += "<line x1=\"" + c(L) + "\" y1=\"" + c(Y(thr)) + "\" x2=\"" + c(W - R) + "\" y2=\"" + c(Y(thr)) + "\" class=\"threshold\"/>";
  s += "<text x=\"" + c(W - R - 2) + "\" y=\"" + c(Y(thr) - 3) + "\" class=\"tick\" text-anchor=\"end\">active &ge; " + fmt(thr) + "/min</text>";
  for (const auto* m : rows) {
    const double x = X(m->day);
    const std::string col = state_colour(m->state);
    const std::string tip = "<title>" + esc(m->session) + " (" + esc(m->date) + "): " + std::string(to_string(m->state)) + ", " +
                            esc(m->state_reason) + "</title>";
    if (m->state == MuscleState::insufficient) {
      s += "<g>" + tip + "<circle cx=\"" + c(x) + "\" cy=\"" + c(Y(0)) + "\" r=\"4\" fill=\"white\" stroke=\"" + col + "\" stroke-width=\"1.5\"/></g>";
      continue;
    }
    const double hi = std::isfinite(m->rate.ci_high) ? m->rate.ci_high : ymax;
    s += "<g>" + tip + "<line x1=\"" + c(x) + "\" y1=\"" + c(Y(m->rate.ci_low)) + "\" x2=\"" + c(x) + "\" y2=\"" + c(Y(hi)) +
         "\" stroke=\"" + col + "\" stroke-width=\"1.5\"/>";
    s += "<line x1=\"" + c(x - 4) + "\" y1=\"" + c(Y(m->rate.ci_low)) + "\" x2=\"" + c(x + 4) + "\" y2=\"" + c(Y(m->rate.ci_low)) +
         "\" stroke=\"" + col + "\"/><line x1=\"" + c(x - 4) + "\" y1=\"" + c(Y(hi)) + "\" x2=\"" + c(x + 4) + "\" y2=\"" + c(Y(hi)) +
         "\" stroke=\"" + col + "\"/>";
    s += "<circle cx=\"" + c(x) + "\" cy=\"" + c(Y(m->rate.rate_per_min)) + "\" r=\"4\" fill=\"" + col + "\"/></g>";
  }
  s += "</svg>";
  return s;
}

// A tracked unit's template on its peak channel, one line per session.
std::string unit_waveforms(const TrackedUnit& u, const std::map<std::string, std::size_t>& session_index) {
  const double W = 260, H = 120, L = 8, R = 8, T = 8, B = 22;
  double vmax = 1e-9, tmax = 0.0;
  for (const auto& g : u.sightings) {
    for (float v : g.waveform_uv)
      if (std::isfinite(v)) vmax = std::max(vmax, std::abs(static_cast<double>(v)));
    if (g.fs > 0.0) tmax = std::max(tmax, 1000.0 * static_cast<double>(g.waveform_uv.size()) / g.fs);
  }
  if (!(tmax > 0.0)) tmax = 1.0;
  const auto X = [&](double ms) { return L + (W - L - R) * (ms / tmax); };
  const auto Y = [&](double v) { return T + (H - T - B) * (0.5 - 0.5 * v / vmax); };
  std::string s = "<svg class=\"waveform\" xmlns=\"http://www.w3.org/2000/svg\" width=\"" + c(W) + "\" height=\"" + c(H) +
                  "\" viewBox=\"0 0 " + c(W) + " " + c(H) + "\" role=\"img\" aria-label=\"" + esc(u.text) + "\">";
  s += "<line x1=\"" + c(L) + "\" y1=\"" + c(Y(0)) + "\" x2=\"" + c(W - R) + "\" y2=\"" + c(Y(0)) + "\" class=\"grid\"/>";
  for (const auto& g : u.sightings) {
    if (g.waveform_uv.empty() || !(g.fs > 0.0)) continue;
    const auto it = session_index.find(g.session);
    const char* col = kSessionColours[(it == session_index.end() ? 0 : it->second) % 10];
    std::string pts;
    for (std::size_t i = 0; i < g.waveform_uv.size(); ++i) {
      const float v = g.waveform_uv[i];
      if (!std::isfinite(v)) continue;
      pts += c(X(1000.0 * static_cast<double>(i) / g.fs)) + "," + c(Y(v)) + " ";
    }
    s += "<polyline fill=\"none\" stroke=\"" + std::string(col) + "\" stroke-width=\"1.4\" points=\"" + pts + "\"><title>" +
         esc(g.session) + ": " + std::to_string(g.count) + " discharges, " + fmt(g.amplitude_uv, 0) + " uV</title></polyline>";
  }
  s += "<text x=\"" + c(L) + "\" y=\"" + c(H - 6) + "\" class=\"tick\">" + fmt(tmax, 0) + " ms, &plusmn;" + fmt(vmax, 0) + " uV</text>";
  s += "</svg>";
  return s;
}

std::string quantity_list(const std::vector<Quantity>& q) {
  std::string s;
  for (const auto& x : q) {
    if (!s.empty()) s += ", ";
    s += esc(x.name);
    s += " = ";
    s += fmt(x.value);
    if (!x.unit.empty()) {
      s += ' ';
      s += esc(x.unit);
    }
  }
  return s;
}

constexpr const char* kStyle = R"CSS(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222;line-height:1.45;padding:0 16px}
h1{font-size:1.5em;margin-bottom:4px}h2{font-size:1.15em;border-bottom:1px solid #ddd;padding-bottom:3px;margin-top:28px}
.meta{color:#555;margin-top:0}
.disclaimer{background:#fff8e1;border:1px solid #ffe082;padding:8px 12px;border-radius:4px}
.decision{border-left:8px solid #6d6d6d;background:#f5f5f5;padding:10px 16px;border-radius:4px}
.decision h2{border:none;margin:0 0 4px 0;font-size:1.35em}
.decision.warning{border-color:#b3261e;background:#fdecea}.decision.benign{border-color:#2e7d32;background:#edf7ed}
.decision.none{border-color:#1565c0;background:#e8f1fb}.decision.indeterminate{border-color:#6d6d6d;background:#f2f2f2}
ul.reasons li{margin-bottom:6px}.reasons .decisive{font-weight:600}.reasons .q{font-weight:400;color:#555;font-size:.9em}
table{border-collapse:collapse;font-size:.9em;margin:6px 0}th,td{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#fafafa}td.num{text-align:right}
td.active{background:#ffcdd2}td.quiet{background:#c8e6c9}td.insufficient{background:repeating-linear-gradient(45deg,#eee,#eee 4px,#ddd 4px,#ddd 8px)}
td.absent{background:#fff;color:#aaa}
.plots{display:flex;flex-wrap:wrap;gap:12px}
.unit{border:1px solid #e0e0e0;border-radius:4px;padding:6px;width:272px}.unit p{margin:2px 0;font-size:.85em}
svg .axis{stroke:#444;stroke-width:1}svg .grid{stroke:#e5e5e5;stroke-width:1}svg .threshold{stroke:#c62828;stroke-dasharray:4 3;stroke-width:1}
svg .tick{font-size:10px;fill:#555}svg .label{font-size:11px;fill:#333}svg .title{font-size:12px;font-weight:600;fill:#222}
.legend span{display:inline-block;margin-right:12px;font-size:.85em}.swatch{display:inline-block;width:12px;height:12px;vertical-align:middle;margin-right:4px;border-radius:2px}
footer{margin-top:32px;color:#555;font-size:.85em;border-top:1px solid #ddd;padding-top:8px}
)CSS";

}  // namespace

std::string report_html(const PatternReport& r) {
  const std::string pattern(to_string(r.pattern));
  std::map<std::string, std::size_t> session_index;
  for (std::size_t i = 0; i < r.sessions.size(); ++i) session_index[r.sessions[i].id] = i;
  double max_day = 0.0;
  for (const auto& s : r.sessions) max_day = std::max(max_day, s.day);

  std::string h;
  h.reserve(64 * 1024);
  h += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  h += "<meta name=\"generator\" content=\"fasctrack " + esc(r.software_version) + "\">\n";
  h += "<meta name=\"fasctrack-pattern\" content=\"" + pattern + "\">\n";
  h += "<title>fasctrack pattern report" + (r.subject.empty() ? std::string() : " &ndash; " + esc(r.subject)) + "</title>\n";
  h += "<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n";

  h += "<h1>Fasciculation pattern across sessions</h1>\n<p class=\"meta\">";
  if (!r.subject.empty()) h += "Subject <b>" + esc(r.subject) + "</b> &middot; ";
  h += std::to_string(r.sessions.size()) + " session(s)";
  if (!r.sessions.empty()) h += ", " + esc(r.sessions.front().date) + " to " + esc(r.sessions.back().date);
  h += " &middot; " + std::to_string(r.muscle_order.size()) + " muscle(s) &middot; fasctrack " + esc(r.software_version) + "</p>\n";
  h += "<p class=\"disclaimer\" id=\"disclaimer\"><b>Not a diagnosis.</b> " + esc(r.disclaimer) + "</p>\n";

  h += "<section id=\"decision\" class=\"decision " + pattern + "\">\n<h2>Decision: " + pattern_headline(r.pattern) +
       " (<code>" + pattern + "</code>)</h2>\n<p id=\"decision-text\">" + esc(r.decision) + "</p>\n</section>\n";

  h += "<section id=\"reasons\">\n<h2>Why: the criteria as evaluated</h2>\n<ul class=\"reasons\">\n";
  for (const auto& x : r.reasons) {
    h += "<li class=\"" + std::string(x.decisive ? "decisive" : "other") + "\">" + (x.met ? "&#10003; " : "&#10007; ") + esc(x.text);
    if (!x.values.empty() || !x.thresholds.empty())
      h += "<br><span class=\"q\">measured: " + quantity_list(x.values) + (x.thresholds.empty() ? "" : "; thresholds: " + quantity_list(x.thresholds)) +
           (x.decisive ? "; decided the label" : "") + "</span>";
    h += "</li>\n";
  }
  h += "</ul>\n</section>\n";

  // ---- grid of muscle states (a body map by region and side) ----
  h += "<section id=\"states\">\n<h2>Active muscles per session</h2>\n";
  h += "<p class=\"legend\"><span><i class=\"swatch\" style=\"background:#ffcdd2\"></i>active (&ge; " + std::to_string(r.options.min_active_count) +
       " FPs and &ge; " + fmt(r.options.min_active_rate_per_min) + "/min)</span><span><i class=\"swatch\" style=\"background:#c8e6c9\"></i>quiet</span>"
       "<span><i class=\"swatch\" style=\"background:#ddd\"></i>insufficient (&lt; " + fmt(r.options.min_clean_rest_s, 0) +
       " s clean rest or no usable channel)</span></p>\n";
  h += "<table class=\"states\">\n<tr><th>muscle</th><th>region, side</th>";
  for (const auto& s : r.sessions) h += "<th>" + esc(s.id) + "<br><small>" + esc(s.date) + "</small></th>";
  h += "</tr>\n";
  // Muscles grouped by region, then side, as on a body chart.
  std::vector<const MuscleEvidence*> ordered;
  for (const auto& e : r.evidence) ordered.push_back(&e);
  std::stable_sort(ordered.begin(), ordered.end(), [](const MuscleEvidence* a, const MuscleEvidence* b) {
    return std::make_pair(static_cast<int>(a->region), static_cast<int>(a->side)) <
           std::make_pair(static_cast<int>(b->region), static_cast<int>(b->side));
  });
  for (const auto* e : ordered) {
    h += "<tr><th>" + esc(e->muscle) + (e->persistent ? " <small>(persistent)</small>" : "") + "</th><td>" + esc(place(e->region, e->side)) + "</td>";
    for (const auto& s : r.sessions) {
      const MuscleSessionRow* row = nullptr;
      for (const auto& m : r.muscles)
        if (m.session == s.id && m.muscle == e->muscle) row = &m;
      if (!row) {
        h += "<td class=\"absent\">not recorded</td>";
        continue;
      }
      h += "<td class=\"" + std::string(to_string(row->state)) + "\" title=\"" + esc(row->state_reason) + "\">" +
           std::string(to_string(row->state));
      if (row->state != MuscleState::insufficient) h += "<br><small>" + std::to_string(row->n_events) + " FP, " + fmt(row->rate.rate_per_min) + "/min</small>";
      h += "</td>";
    }
    h += "</tr>\n";
  }
  h += "</table>\n</section>\n";

  h += "<section id=\"timeline\">\n<h2>FP rate per muscle over time</h2>\n<p>Points: rate per minute of clean rest with its exact " +
       fmt(100.0 * r.options.confidence, 0) + "% Poisson confidence interval; red active, green quiet, hollow grey insufficient. "
       "The dashed line is the activity threshold.</p>\n<div class=\"plots\">\n";
  for (const auto& m : r.muscle_order) h += rate_timeline(r, m, max_day) + "\n";
  h += "</div>\n</section>\n";

  h += "<section id=\"units\">\n<h2>Tracked units</h2>\n";
  if (r.units.empty()) {
    h += "<p>No motor unit was detected.</p>\n";
  } else {
    h += "<p>Units of one muscle are matched across sessions by template similarity (threshold " + fmt(r.options.unit_match_threshold) +
         "). Each line is the unit's average waveform on its largest channel in one session.</p>\n<p class=\"legend\">";
    for (std::size_t i = 0; i < r.sessions.size(); ++i)
      h += "<span><i class=\"swatch\" style=\"background:" + std::string(kSessionColours[i % 10]) + "\"></i>" + esc(r.sessions[i].id) + "</span>";
    h += "</p>\n<div class=\"plots\">\n";
    for (const auto& u : r.units) {
      h += "<div class=\"unit\">" + unit_waveforms(u, session_index) + "<p>" + esc(u.text) + "</p>";
      h += "<p>";
      for (const auto& g : u.sightings)
        h += esc(g.session) + ": " + std::to_string(g.count) + " discharges, " + fmt(g.amplitude_uv, 0) + " uV, " + pct(g.complex_fraction) +
             " complex" + (std::isfinite(g.similarity) ? ", similarity " + fmt(g.similarity) : "") + "<br>";
      h += "</p></div>\n";
    }
    h += "</div>\n";
  }
  h += "</section>\n";

  h += "<section id=\"evidence\">\n<h2>Supporting evidence (does not decide the label)</h2>\n<ul>\n";
  for (const auto& n : r.notes) h += "<li>" + esc(n) + "</li>\n";
  h += "</ul>\n<table>\n<tr><th>muscle</th><th>active / analysable sessions</th><th>span of activity</th><th>FPs</th><th>clean rest</th>"
       "<th>complex</th><th>isolated</th><th>doublet discharges</th><th>units (new, turned complex)</th><th>rate trend per month</th></tr>\n";
  for (const auto& e : r.evidence) {
    h += "<tr><th>" + esc(e.muscle) + "</th><td class=\"num\">" + std::to_string(e.sessions_active) + " / " + std::to_string(e.sessions_analysable) +
         "</td><td class=\"num\">" + fmt(e.active_span_days, 0) + " d</td><td class=\"num\">" + std::to_string(e.n_events) + "</td><td class=\"num\">" +
         fmt(e.clean_rest_min, 1) + " min</td><td class=\"num\">" + pct(e.complex_fraction) + "</td><td class=\"num\">" + pct(e.isolated_fraction) +
         "</td><td class=\"num\">" + std::to_string(e.n_doublet) + "</td><td class=\"num\">" + std::to_string(e.distinct_units) + " (" +
         std::to_string(e.new_units) + ", " + std::to_string(e.units_turned_complex) + ")</td><td class=\"num\">" +
         (e.trend.available ? fmt(e.trend.slope_per_month) + " [" + fmt(e.trend.ci_low) + ", " + fmt(e.trend.ci_high) + "]" : "&ndash;") + "</td></tr>\n";
  }
  h += "</table>\n</section>\n";

  h += "<section id=\"sessions\">\n<h2>Sessions</h2>\n<table>\n<tr><th>session</th><th>date</th><th>day</th><th>recording</th><th>clean rest</th>"
       "<th>active muscles</th><th>context</th><th>clinical</th><th>remarks</th></tr>\n";
  for (const auto& s : r.sessions) {
    std::string clinical;
    for (const auto& m : s.clinical.weakness) clinical += (clinical.empty() ? "" : "; ") + std::string("weakness ") + esc(m);
    for (const auto& m : s.clinical.atrophy) clinical += (clinical.empty() ? "" : "; ") + std::string("atrophy ") + esc(m);
    std::string ctx, act, warn;
    for (const auto& t : s.context) ctx += (ctx.empty() ? "" : ", ") + esc(t);
    for (const auto& m : s.active_muscles) act += (act.empty() ? "" : ", ") + esc(m);
    for (const auto& w : s.warnings) warn += (warn.empty() ? "" : "<br>") + esc(w);
    h += "<tr><td>" + esc(s.id) + "</td><td>" + esc(s.date) + "</td><td class=\"num\">" + fmt(s.day, 1) + "</td><td>" + esc(s.recording) +
         "</td><td class=\"num\">" + fmt(s.clean_rest_s, 1) + " s" + (s.analysable ? "" : " (insufficient)") + "</td><td>" + act + "</td><td>" + ctx +
         "</td><td>" + clinical + "</td><td>" + warn + "</td></tr>\n";
  }
  h += "</table>\n</section>\n";

  h += "<section id=\"table\">\n<h2>Per session and muscle</h2>\n<table>\n<tr><th>session</th><th>muscle</th><th>state</th><th>FPs</th>"
       "<th>clean rest (min)</th><th>rate /min [" + fmt(100.0 * r.options.confidence, 0) + "% CI]</th><th>units (new)</th><th>complex</th>"
       "<th>isolated</th><th>doublet discharges</th><th>rest minutes with an FP</th><th>why</th></tr>\n";
  for (const auto& m : r.muscles)
    h += "<tr><td>" + esc(m.session) + "</td><td>" + esc(m.muscle) + "</td><td class=\"" + std::string(to_string(m.state)) + "\">" +
         std::string(to_string(m.state)) + "</td><td class=\"num\">" + std::to_string(m.n_events) + "</td><td class=\"num\">" + fmt(m.clean_rest_min) +
         "</td><td class=\"num\">" + fmt(m.rate.rate_per_min) + " [" + fmt(m.rate.ci_low) + ", " + fmt(m.rate.ci_high) + "]</td><td class=\"num\">" +
         std::to_string(m.n_units) + " (" + std::to_string(m.new_units) + ")</td><td class=\"num\">" + pct(m.complex_fraction) + "</td><td class=\"num\">" +
         pct(m.isolated_fraction) + "</td><td class=\"num\">" + std::to_string(m.n_doublet) + "</td><td class=\"num\">" + pct(m.minutes_with_fp_fraction) +
         " of " + std::to_string(m.rest_minutes) + "</td><td>" + esc(m.state_reason) + "</td></tr>\n";
  h += "</table>\n</section>\n";

  const auto& o = r.options;
  h += "<section id=\"options\">\n<h2>Options (thresholds used)</h2>\n<table>\n";
  const auto opt = [&](const char* name, const std::string& value, const char* meaning) {
    h += "<tr><td><code>" + std::string(name) + "</code></td><td class=\"num\">" + value + "</td><td>" + meaning + "</td></tr>\n";
  };
  opt("min_active_count", std::to_string(o.min_active_count), "active: at least this many FPs...");
  opt("min_active_rate_per_min", fmt(o.min_active_rate_per_min), "...and at least this many per minute of clean rest");
  opt("min_clean_rest_s", fmt(o.min_clean_rest_s), "less clean rest: insufficient");
  opt("min_persistent_sessions", std::to_string(o.min_persistent_sessions), "persistent: active in at least this many sessions...");
  opt("min_persistent_span_days", fmt(o.min_persistent_span_days), "...spanning at least this many days...");
  opt("min_persistent_fraction", fmt(o.min_persistent_fraction), "...and in this share of its analysable sessions within the span");
  opt("min_spread_active_muscles", std::to_string(o.min_spread_active_muscles), "spread: active muscles needed in the latest analysable session");
  opt("min_follow_up_days", fmt(o.min_follow_up_days), "benign needs this much follow-up");
  opt("follow_up_from_first_active", o.follow_up_from_first_active ? "true" : "false", "follow-up counted from the first session with fasciculations");
  opt("unit_match_threshold", fmt(o.unit_match_threshold), "template similarity for the same unit across sessions");
  opt("unit_max_lag_ms", fmt(o.unit_max_lag_ms), "alignment search between templates");
  opt("unit_max_amplitude_ratio", fmt(o.unit_max_amplitude_ratio), "amplitude ratio tolerated before the similarity is scaled down");
  opt("min_unit_discharges", std::to_string(o.min_unit_discharges), "discharges a unit needs in a session to be tracked");
  opt("complex_unit_fraction", fmt(o.complex_unit_fraction), "a unit is complex when more than this share of its discharges are");
  opt("confidence", fmt(o.confidence), "level of the rate and trend intervals");
  h += "</table>\n</section>\n";

  h += "<footer><p>" + esc(r.disclaimer) + "</p><p>Generated by fasctrack " + esc(r.software_version) + ".</p></footer>\n</body>\n</html>\n";
  return h;
}

}  // namespace fasctrack::pattern
