// From a recording to a SessionResult: per-muscle measurements and unit
// templates, and their lossless JSON form.
#include <fasctrack/filter/quality.hpp>
#include <fasctrack/io/read.hpp>
#include <fasctrack/pattern/classify.hpp>

#include "json_fields.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <set>
#include <stdexcept>
#include <string>

namespace fasctrack::pattern {

namespace {

using detail::json;
using detail::JsonFields;

constexpr int kComplexPhases = 4;  // complex: more than 4 phases (as in the detector's summary)

std::string muscle_name(const std::string& m) { return m.empty() ? "unspecified" : m; }

// Sorted, merged [start, stop) intervals covered by any mask, clipped to [0, n).
std::vector<std::pair<Index, Index>> masked_intervals(const std::vector<Mask>& masks, Index n) {
  std::vector<std::pair<Index, Index>> iv;
  for (const Mask& m : masks) {
    const Index a = std::clamp<Index>(m.start, 0, n), b = std::clamp<Index>(m.stop, 0, n);
    if (b > a) iv.emplace_back(a, b);
  }
  std::sort(iv.begin(), iv.end());
  std::vector<std::pair<Index, Index>> out;
  for (const auto& p : iv) {
    if (!out.empty() && p.first <= out.back().second) out.back().second = std::max(out.back().second, p.second);
    else out.push_back(p);
  }
  return out;
}

}  // namespace

SessionResult session_result(const DetectionResult& result, const Recording& rec, const ManifestSession& info) {
  SessionResult s;
  s.id = info.id;
  s.date = info.date;
  s.day = info.day;
  s.recording = rec.source.empty() ? info.recording.string() : rec.source;
  s.context = info.context;
  s.clinical = info.clinical;
  s.duration_s = rec.duration_s();
  s.clean_rest_s = result.summary.clean_rest_s;
  const double fs = rec.fs;
  const Index n = rec.n_samples();
  const auto n_ch = rec.channels.size();

  // Channels the detector could use (mirrors its own screening).
  std::vector<bool> usable(n_ch, true);
  for (std::size_t c = 0; c < n_ch; ++c) {
    const ChannelInfo& ch = rec.channels[c];
    if (ch.marked_bad || (!ch.type.empty() && ch.type != "EMG")) usable[c] = false;
    if (c < result.quality.size() &&
        (result.quality[c].flags & (filter::quality_flat | filter::quality_disconnected)))
      usable[c] = false;
  }
  for (const auto& name : result.summary.bad_channels)
    for (std::size_t c = 0; c < n_ch; ++c)
      if (rec.channels[c].name == name) usable[c] = false;

  // Muscles in order of first appearance; non-EMG channels belong to none.
  std::vector<int> muscle_of(n_ch, -1);
  for (std::size_t c = 0; c < n_ch; ++c) {
    const ChannelInfo& ch = rec.channels[c];
    if (!ch.type.empty() && ch.type != "EMG") continue;
    const std::string name = muscle_name(ch.muscle);
    auto it = std::find_if(s.muscles.begin(), s.muscles.end(), [&](const MuscleObservation& m) { return m.muscle == name; });
    if (it == s.muscles.end()) {
      MuscleObservation m;
      m.muscle = name;
      m.region = ch.region;
      m.side = ch.side;
      m.usable = false;
      m.clean_rest_s = s.clean_rest_s;
      s.muscles.push_back(std::move(m));
      it = s.muscles.end() - 1;
    } else {
      if (it->region == BodyRegion::unknown) it->region = ch.region;
      if (it->side == Side::unknown) it->side = ch.side;
    }
    it->channels.push_back(ch.name);
    if (usable[c]) it->usable = true;
    muscle_of[c] = static_cast<int>(it - s.muscles.begin());
  }

  // Clean-rest clock: time with every masked stretch cut out, so "minutes of
  // rest" are minutes the detector could see.
  const auto masked = masked_intervals(result.masks, n);
  const auto clean_before = [&](Index sample) -> Index {  // clean samples before `sample`; -1 if masked
    Index removed = 0;
    for (const auto& [a, b] : masked) {
      if (sample < a) break;
      if (sample < b) return -1;
      removed += b - a;
    }
    return sample - removed;
  };
  const double clean_samples = s.clean_rest_s * fs;
  const auto minute = static_cast<Index>(std::llround(60.0 * fs));
  const Index whole = minute > 0 ? static_cast<Index>(clean_samples) / minute : 0;
  const double rest = clean_samples - static_cast<double>(whole * minute);
  const int rest_minutes = static_cast<int>(whole) + (rest >= 0.5 * static_cast<double>(minute) ? 1 : 0);
  std::vector<std::set<Index>> fp_minutes(s.muscles.size());
  std::vector<std::set<int>> units_of(s.muscles.size());

  for (const Event& e : result.events) {
    if (e.channel < 0 || static_cast<std::size_t>(e.channel) >= n_ch) continue;
    const int m = muscle_of[static_cast<std::size_t>(e.channel)];
    if (m < 0) continue;
    MuscleObservation& mo = s.muscles[static_cast<std::size_t>(m)];
    ++mo.n_events;
    if (e.phases > kComplexPhases) ++mo.n_complex;
    if (e.isolated) ++mo.n_isolated;
    if (e.doublet) ++mo.n_doublet;
    if (e.unit >= 0) units_of[static_cast<std::size_t>(m)].insert(e.unit);
    const Index t = clean_before(e.sample);
    if (t >= 0 && minute > 0 && t / minute < rest_minutes) fp_minutes[static_cast<std::size_t>(m)].insert(t / minute);
  }
  for (std::size_t m = 0; m < s.muscles.size(); ++m) {
    s.muscles[m].n_units = static_cast<int>(units_of[m].size());
    s.muscles[m].rest_minutes = rest_minutes;
    s.muscles[m].minutes_with_fp = static_cast<int>(fp_minutes[m].size());
  }

  for (const cluster::UnitSummary& u : result.units) {
    if (u.count <= 0 || u.peak_channel < 0 || static_cast<std::size_t>(u.peak_channel) >= n_ch) continue;
    const int m = muscle_of[static_cast<std::size_t>(u.peak_channel)];
    if (m < 0) continue;
    UnitObservation uo;
    uo.muscle = s.muscles[static_cast<std::size_t>(m)].muscle;
    uo.unit = u.id;
    uo.count = u.count;
    uo.rate_per_min = u.rate_per_min;
    uo.amplitude_uv = u.amplitude_uv;
    uo.complex_fraction = u.complex_fraction;
    uo.peak_channel = rec.channels[static_cast<std::size_t>(u.peak_channel)].name;
    uo.fs = fs;
    std::vector<Index> rows;
    for (std::size_t c = 0; c < n_ch; ++c)
      if (muscle_of[c] == m && static_cast<Index>(c) < u.template_uv.rows()) {
        rows.push_back(static_cast<Index>(c));
        uo.channels.push_back(rec.channels[c].name);
      }
    uo.template_uv.resize(static_cast<Index>(rows.size()), u.template_uv.cols());
    for (std::size_t r = 0; r < rows.size(); ++r) uo.template_uv.row(static_cast<Index>(r)) = u.template_uv.row(rows[r]);
    s.units.push_back(std::move(uo));
  }
  return s;
}

// ---------------------------------------------------------------------------
// JSON form
// ---------------------------------------------------------------------------

namespace {

json number_or_null(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

}  // namespace

std::string session_to_json(const SessionResult& s) {
  json j;
  j["id"] = s.id;
  j["date"] = s.date;
  j["day"] = s.day;
  j["recording"] = s.recording;
  j["duration_s"] = s.duration_s;
  j["clean_rest_s"] = s.clean_rest_s;
  j["context"] = s.context;
  j["clinical"] = {{"weakness", s.clinical.weakness}, {"atrophy", s.clinical.atrophy}};
  j["warnings"] = s.warnings;
  json muscles = json::array();
  for (const auto& m : s.muscles)
    muscles.push_back({{"muscle", m.muscle},
                       {"region", std::string(to_string(m.region))},
                       {"side", std::string(to_string(m.side))},
                       {"channels", m.channels},
                       {"usable", m.usable},
                       {"n_events", m.n_events},
                       {"clean_rest_s", m.clean_rest_s},
                       {"n_units", m.n_units},
                       {"n_complex", m.n_complex},
                       {"n_isolated", m.n_isolated},
                       {"n_doublet", m.n_doublet},
                       {"rest_minutes", m.rest_minutes},
                       {"minutes_with_fp", m.minutes_with_fp}});
  j["muscles"] = muscles;
  json units = json::array();
  for (const auto& u : s.units) {
    json t = json::array();
    for (Index r = 0; r < u.template_uv.rows(); ++r) {
      json row = json::array();
      for (Index c = 0; c < u.template_uv.cols(); ++c) row.push_back(number_or_null(u.template_uv(r, c)));
      t.push_back(std::move(row));
    }
    units.push_back({{"muscle", u.muscle},
                     {"unit", u.unit},
                     {"count", u.count},
                     {"rate_per_min", number_or_null(u.rate_per_min)},
                     {"amplitude_uv", number_or_null(u.amplitude_uv)},
                     {"complex_fraction", number_or_null(u.complex_fraction)},
                     {"peak_channel", u.peak_channel},
                     {"channels", u.channels},
                     {"fs", u.fs},
                     {"template_uv", std::move(t)}});
  }
  j["units"] = units;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

SessionResult session_from_json(std::string_view json_text, std::string_view source_name) {
  const JsonFields f{std::string(source_name)};
  SessionResult s;
  std::vector<std::string> ignored;
  try {
    const json j = f.parse(json_text);
    f.object(j, "(document)");
    s.id = f.string(j, "id", "", true);
    s.date = f.string(j, "date", "", true);
    try {
      s.day = parse_date(s.date);
    } catch (const std::invalid_argument& e) {
      f.fail("date", e.what());
    }
    s.recording = f.string(j, "recording", "", false);
    s.duration_s = f.number(j, "duration_s", "").value_or(0.0);
    s.clean_rest_s = f.number(j, "clean_rest_s", "").value_or(0.0);
    s.context = f.strings(j, "context", "");
    s.warnings = f.strings(j, "warnings", "");
    if (const json* cl = JsonFields::find(j, "clinical")) {
      f.object(*cl, "clinical");
      s.clinical.weakness = f.strings(*cl, "weakness", "clinical");
      s.clinical.atrophy = f.strings(*cl, "atrophy", "clinical");
    }
    const auto count = [&](const json& o, const char* key, const std::string& parent) -> Index {
      const auto v = f.number(o, key, parent);
      if (!v) return 0;
      if (*v < 0 || *v > 1e12 || *v != std::floor(*v)) f.fail(JsonFields::join(parent, key), "must be a count");
      return static_cast<Index>(*v);
    };
    const json* muscles = JsonFields::find(j, "muscles");
    if (!muscles) f.fail("muscles", "missing");
    f.array(*muscles, "muscles");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < muscles->size(); ++i) {
      const std::string mf = JsonFields::index("muscles", i);
      const json& mj = f.object((*muscles)[i], mf);
      MuscleObservation m;
      m.muscle = f.string(mj, "muscle", mf, true);
      if (!seen.insert(m.muscle).second) f.fail(mf + ".muscle", "duplicate muscle '" + m.muscle + "'");
      try {
        m.region = parse_body_region(f.string(mj, "region", mf, false));
        m.side = parse_side(f.string(mj, "side", mf, false));
      } catch (const std::invalid_argument& e) {
        f.fail(mf, e.what());
      }
      m.channels = f.strings(mj, "channels", mf);
      if (const json* u = JsonFields::find(mj, "usable")) {
        if (!u->is_boolean()) f.fail(mf + ".usable", "expected true or false");
        m.usable = u->get<bool>();
      }
      m.n_events = count(mj, "n_events", mf);
      const auto clean = f.number(mj, "clean_rest_s", mf);
      m.clean_rest_s = clean.value_or(s.clean_rest_s);
      if (m.clean_rest_s < 0) f.fail(mf + ".clean_rest_s", "must not be negative");
      m.n_units = static_cast<int>(std::min<Index>(count(mj, "n_units", mf), 1000000));
      m.n_complex = count(mj, "n_complex", mf);
      m.n_isolated = count(mj, "n_isolated", mf);
      m.n_doublet = count(mj, "n_doublet", mf);
      m.rest_minutes = static_cast<int>(std::min<Index>(count(mj, "rest_minutes", mf), 1000000));
      m.minutes_with_fp = static_cast<int>(std::min<Index>(count(mj, "minutes_with_fp", mf), m.rest_minutes));
      if (m.n_complex > m.n_events || m.n_isolated > m.n_events || m.n_doublet > m.n_events)
        f.fail(mf, "n_complex, n_isolated and n_doublet cannot exceed n_events");
      s.muscles.push_back(std::move(m));
    }
    if (const json* units = JsonFields::find(j, "units")) {
      f.array(*units, "units");
      for (std::size_t i = 0; i < units->size(); ++i) {
        const std::string uf = JsonFields::index("units", i);
        const json& uj = f.object((*units)[i], uf);
        UnitObservation u;
        u.muscle = f.string(uj, "muscle", uf, true);
        if (!seen.count(u.muscle)) f.fail(uf + ".muscle", "'" + u.muscle + "' is not among the session's muscles");
        u.unit = static_cast<int>(std::clamp<double>(f.number(uj, "unit", uf).value_or(0.0), -1e9, 1e9));
        u.count = count(uj, "count", uf);
        u.rate_per_min = f.number(uj, "rate_per_min", uf).value_or(std::nan(""));
        u.amplitude_uv = f.number(uj, "amplitude_uv", uf).value_or(std::nan(""));
        u.complex_fraction = f.number(uj, "complex_fraction", uf).value_or(0.0);
        u.peak_channel = f.string(uj, "peak_channel", uf, false);
        u.channels = f.strings(uj, "channels", uf);
        u.fs = f.number(uj, "fs", uf).value_or(0.0);
        if (const json* t = JsonFields::find(uj, "template_uv")) {
          const std::string tf = uf + ".template_uv";
          f.array(*t, tf);
          if (t->size() != u.channels.size()) f.fail(tf, "needs one row per channel");
          Index cols = -1;
          for (std::size_t r = 0; r < t->size(); ++r) {
            const json& row = f.array((*t)[r], JsonFields::index(tf, r));
            if (cols < 0) {
              cols = static_cast<Index>(row.size());
              u.template_uv.resize(static_cast<Index>(t->size()), cols);
            }
            if (static_cast<Index>(row.size()) != cols) f.fail(JsonFields::index(tf, r), "rows differ in length");
            for (std::size_t c = 0; c < row.size(); ++c) {
              const json& v = row[c];
              if (!v.is_number() && !v.is_null()) f.fail(JsonFields::index(tf, r), "expected numbers");
              // Through double and clamped: a double beyond float's range
              // converted directly would be undefined behaviour.
              const double d = v.is_null() ? std::nan("") : v.get<double>();
              const double lim = std::numeric_limits<float>::max();
              u.template_uv(static_cast<Index>(r), static_cast<Index>(c)) =
                  std::isnan(d) ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(std::clamp(d, -lim, lim));
            }
          }
        }
        s.units.push_back(std::move(u));
      }
    }
  } catch (const ManifestError&) {
    throw;
  } catch (const json::exception& e) {
    f.fail("", std::string("invalid session: ") + e.what());
  }
  return s;
}

// ---------------------------------------------------------------------------
// Reading and detecting
// ---------------------------------------------------------------------------

SessionResult analyze_session(const Manifest& manifest, std::size_t i, const DetectOptions& detect_options,
                              const ProgressCallback& progress) {
  if (i >= manifest.sessions.size())
    throw std::out_of_range("session index " + std::to_string(i) + " out of range (" +
                            std::to_string(manifest.sessions.size()) + " sessions)");
  const ManifestSession& ms = manifest.sessions[i];
  io::ReadOptions ro;
  if (ms.fs) ro.fs = *ms.fs;
  Recording rec = io::read(ms.recording.string(), ro);
  for (std::size_t k = 0; k < ms.channels.size(); ++k) {
    const ManifestChannel& mc = ms.channels[k];
    auto it = std::find_if(rec.channels.begin(), rec.channels.end(), [&](const ChannelInfo& c) { return c.name == mc.name; });
    if (it == rec.channels.end()) {
      std::string names;
      for (const auto& c : rec.channels) names += (names.empty() ? "" : ", ") + c.name;
      throw ManifestError(manifest.source,
                          "sessions[" + std::to_string(i) + "].channels[" + std::to_string(k) + "].name",
                          "no channel '" + mc.name + "' in " + ms.recording.string() + " (it has: " + names + ")");
    }
    it->muscle = mc.muscle;
    if (mc.region != BodyRegion::unknown) it->region = mc.region;
    if (mc.side != Side::unknown) it->side = mc.side;
  }
  // A manifest that lists channels says which muscles were recorded; a
  // channel it leaves out that the file does not place on a muscle either
  // (a spare lead, a reference) must not become an "unspecified" muscle that
  // could turn active.
  std::vector<std::string> left_out;
  if (!ms.channels.empty())
    for (auto& ch : rec.channels) {
      const bool listed = std::any_of(ms.channels.begin(), ms.channels.end(),
                                      [&](const ManifestChannel& mc) { return mc.name == ch.name; });
      if (!listed && ch.muscle.empty() && (ch.type.empty() || ch.type == "EMG")) {
        ch.type = "MISC";
        left_out.push_back(ch.name);
      }
    }
  DetectionResult r;
  try {
    rec.validate();
    r = detect(rec, detect_options, progress);
  } catch (const std::invalid_argument& e) {
    // Options that do not suit this recording (a band above its Nyquist
    // frequency, say) are a problem of this session, not of the command line.
    throw Error(manifest.source + ": sessions[" + std::to_string(i) + "] (" + ms.recording.string() +
                "): cannot detect: " + e.what());
  }
  SessionResult s = session_result(r, rec, ms);
  for (const auto& w : rec.warnings) s.warnings.push_back(ms.recording.filename().string() + ": " + w);
  for (const auto& name : left_out)
    s.warnings.push_back(ms.recording.filename().string() + ": channel " + name +
                         " is not in the manifest and the file names no muscle for it; left out");
  return s;
}

void check_clinical_muscles(const Manifest& manifest, const std::vector<SessionResult>& sessions) {
  std::set<std::string> muscles;
  for (const auto& s : sessions)
    for (const auto& m : s.muscles) muscles.insert(m.muscle);
  for (std::size_t i = 0; i < manifest.sessions.size(); ++i) {
    const auto& c = manifest.sessions[i].clinical;
    const auto check = [&](const std::vector<std::string>& list, const char* what) {
      for (std::size_t j = 0; j < list.size(); ++j)
        if (!muscles.count(list[j])) {
          std::string known;
          for (const auto& m : muscles) known += (known.empty() ? "" : ", ") + m;
          throw ManifestError(manifest.source,
                              "sessions[" + std::to_string(i) + "].clinical." + what + "[" + std::to_string(j) + "]",
                              "unknown muscle '" + list[j] + "' (the recordings have: " + known + ")");
        }
    };
    check(c.weakness, "weakness");
    check(c.atrophy, "atrophy");
  }
}

std::vector<SessionResult> analyze_sessions(const Manifest& manifest, const DetectOptions& detect_options,
                                            const SessionProgress& progress) {
  std::vector<SessionResult> out;
  const std::size_t n = manifest.sessions.size();
  for (std::size_t i = 0; i < n; ++i) {
    ProgressCallback p;
    if (progress) p = [&, i](double f) { return progress(i, n, f); };
    if (progress && !progress(i, n, 0.0)) throw Cancelled();
    out.push_back(analyze_session(manifest, i, detect_options, p));
  }
  if (progress && n > 0 && !progress(n - 1, n, 1.0)) throw Cancelled();
  check_clinical_muscles(manifest, out);
  return out;
}

PatternReport classify_manifest(const Manifest& manifest, const PatternOptions& options,
                                const DetectOptions& detect_options, const SessionProgress& progress) {
  options.validate();
  auto sessions = analyze_sessions(manifest, detect_options, progress);
  PatternReport r = classify(sessions, options, manifest.subject);
  for (const auto& w : manifest.warnings) r.notes.push_back("Manifest: " + w);
  return r;
}

}  // namespace fasctrack::pattern
