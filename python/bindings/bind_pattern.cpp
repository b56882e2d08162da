// Benign versus warning pattern across sessions: manifests, per-session
// results, classification and reports. The Python layer (_pattern.py) turns
// the report into pandas tables; the JSON and HTML are made here, in C++, so
// the command line and Python write the same files.
#include "arrays.hpp"
#include "bindings.hpp"
#include "progress.hpp"

#include <fasctrack/pattern/classify.hpp>
#include <fasctrack/pattern/manifest.hpp>

#include <pybind11/functional.h>
#include <pybind11/stl.h>
#include <pybind11/stl/filesystem.h>

namespace fasctrack::py_bind {

namespace {

py::dict session_dict(const pattern::ManifestSession& s) {
  py::dict d;
  d["id"] = s.id;
  d["date"] = s.date;
  d["day"] = s.day;
  d["recording"] = s.recording.string();
  d["fs"] = s.fs ? py::object(py::float_(*s.fs)) : py::object(py::none());
  py::list channels;
  for (const auto& c : s.channels) {
    py::dict cd;
    cd["name"] = c.name;
    cd["muscle"] = c.muscle;
    cd["region"] = std::string(to_string(c.region));
    cd["side"] = std::string(to_string(c.side));
    channels.append(cd);
  }
  d["channels"] = channels;
  d["context"] = s.context;
  py::dict clinical;
  clinical["weakness"] = s.clinical.weakness;
  clinical["atrophy"] = s.clinical.atrophy;
  d["clinical"] = clinical;
  return d;
}

}  // namespace

void bind_pattern(py::module_& m) {
  using namespace pattern;
  static PyObject* manifest_error = [&] {
    const py::object read_error = m.attr("ReadError");
    PyObject* type = PyErr_NewExceptionWithDoc(
        "fasctrack.ManifestError",
        "A session manifest (or session JSON) is invalid. The message names the file and the JSON field, "
        "e.g. 'S01.json: sessions[2].date: ...'. A ReadError (so an OSError) and a ValueError.",
        py::make_tuple(read_error, py::handle(PyExc_ValueError)).ptr(), nullptr);
    if (type == nullptr) throw py::error_already_set();
    m.add_object("ManifestError", py::handle(type));
    return type;
  }();
  // Registered after bind_core's translator, so tried before it.
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ManifestError& e) {
      PyErr_SetString(manifest_error, e.what());
    }
  });

  py::class_<PatternOptions>(m, "PatternOptions", "Thresholds of the pattern classification (see fasctrack.classify).")
      .def(py::init<>())
      .def_readwrite("min_active_count", &PatternOptions::min_active_count)
      .def_readwrite("min_active_rate_per_min", &PatternOptions::min_active_rate_per_min)
      .def_readwrite("min_clean_rest_s", &PatternOptions::min_clean_rest_s)
      .def_readwrite("min_persistent_sessions", &PatternOptions::min_persistent_sessions)
      .def_readwrite("min_persistent_span_days", &PatternOptions::min_persistent_span_days)
      .def_readwrite("min_persistent_fraction", &PatternOptions::min_persistent_fraction)
      .def_readwrite("min_spread_active_muscles", &PatternOptions::min_spread_active_muscles)
      .def_readwrite("min_follow_up_days", &PatternOptions::min_follow_up_days)
      .def_readwrite("follow_up_from_first_active", &PatternOptions::follow_up_from_first_active)
      .def_readwrite("unit_match_threshold", &PatternOptions::unit_match_threshold)
      .def_readwrite("unit_max_lag_ms", &PatternOptions::unit_max_lag_ms)
      .def_readwrite("unit_max_amplitude_ratio", &PatternOptions::unit_max_amplitude_ratio)
      .def_readwrite("min_unit_discharges", &PatternOptions::min_unit_discharges)
      .def_readwrite("complex_unit_fraction", &PatternOptions::complex_unit_fraction)
      .def_readwrite("confidence", &PatternOptions::confidence)
      .def("validate", &PatternOptions::validate);

  py::class_<Manifest>(m, "Manifest", "A validated session manifest (fasctrack.read_manifest).")
      .def_readonly("subject", &Manifest::subject)
      .def_readonly("source", &Manifest::source)
      .def_property_readonly("base_dir", [](const Manifest& x) { return x.base_dir.string(); })
      .def_readonly("warnings", &Manifest::warnings)
      .def_property_readonly("sessions",
                             [](const Manifest& x) {
                               py::list out;
                               for (const auto& s : x.sessions) out.append(session_dict(s));
                               return out;
                             })
      .def("__len__", [](const Manifest& x) { return x.sessions.size(); })
      .def("__repr__", [](const Manifest& x) {
        return "<Manifest " + (x.subject.empty() ? x.source : x.subject) + ": " + std::to_string(x.sessions.size()) +
               " session(s)>";
      });

  py::class_<SessionResult>(m, "SessionResult",
                            "One session measured for the pattern classification: per-muscle counts and clean rest, "
                            "unit templates, context. Picklable (its JSON form), so sessions can be measured in "
                            "parallel and classified together.")
      .def_readonly("id", &SessionResult::id)
      .def_readonly("date", &SessionResult::date)
      .def_readonly("recording", &SessionResult::recording)
      .def_readonly("clean_rest_s", &SessionResult::clean_rest_s)
      .def_readonly("duration_s", &SessionResult::duration_s)
      .def_readonly("warnings", &SessionResult::warnings)
      .def_property_readonly("muscles",
                             [](const SessionResult& s) {
                               std::vector<std::string> out;
                               for (const auto& x : s.muscles) out.push_back(x.muscle);
                               return out;
                             })
      .def_property_readonly("n_units", [](const SessionResult& s) { return s.units.size(); })
      .def("to_json", [](const SessionResult& s) { return session_to_json(s); })
      .def_static("from_json", [](const std::string& text, const std::string& source) { return session_from_json(text, source); },
                  py::arg("text"), py::arg("source") = "session")
      .def(py::pickle([](const SessionResult& s) { return session_to_json(s); },
                      [](const std::string& text) { return session_from_json(text, "pickle"); }))
      .def("__repr__", [](const SessionResult& s) {
        return "<SessionResult " + s.id + " (" + s.date + "): " + std::to_string(s.muscles.size()) + " muscle(s), " +
               std::to_string(s.units.size()) + " unit(s), " + std::to_string(static_cast<int>(s.clean_rest_s)) +
               " s clean rest>";
      });

  py::class_<PatternReport>(m, "PatternReportData", "The C++ pattern report (use fasctrack.PatternReport).")
      .def_property_readonly("pattern", [](const PatternReport& r) { return std::string(to_string(r.pattern)); })
      .def_readonly("decision", &PatternReport::decision)
      .def("to_json", [](const PatternReport& r, int indent) { return report_json(r, indent); }, py::arg("indent") = 2)
      .def("to_html", [](const PatternReport& r) { return report_html(r); });

  py::class_<ManifestSession>(m, "ManifestSession", "Identity of a session (id, date, context, clinical findings).")
      .def(py::init([](const std::string& id, const std::string& date, std::vector<std::string> context,
                       std::vector<std::string> weakness, std::vector<std::string> atrophy, const std::string& recording) {
             ManifestSession s;
             s.id = id;
             if (id.empty()) throw std::invalid_argument("id: must not be empty");
             s.date = date;
             try {
               s.day = parse_date(date);
             } catch (const std::invalid_argument& e) {
               throw std::invalid_argument(std::string("date: ") + e.what());
             }
             s.context = std::move(context);
             s.clinical.weakness = std::move(weakness);
             s.clinical.atrophy = std::move(atrophy);
             s.recording = recording;
             return s;
           }),
           py::arg("id"), py::arg("date"), py::arg("context") = std::vector<std::string>{},
           py::arg("weakness") = std::vector<std::string>{}, py::arg("atrophy") = std::vector<std::string>{},
           py::arg("recording") = "");
  m.def("read_manifest", [](const std::filesystem::path& p) { return read_manifest(p); }, py::arg("path"));
  m.def(
      "parse_manifest",
      [](const std::string& text, const std::filesystem::path& base_dir, const std::string& source, bool check_files) {
        return parse_manifest(text, base_dir, source, check_files);
      },
      py::arg("text"), py::arg("base_dir"), py::arg("source"), py::arg("check_files") = false);
  m.def(
      "analyze_session",
      [](const Manifest& manifest, std::size_t i, const DetectOptions& options, const py::object& progress) {
        return with_progress(progress, [&](const ProgressCallback& cb) { return analyze_session(manifest, i, options, cb); });
      },
      py::arg("manifest"), py::arg("index"), py::arg("options"), py::arg("progress") = py::none());
  m.def(
      "pattern_session",
      [](const py::array& x, double fs, const std::vector<ChannelInfo>& channels, const ManifestSession& info_in,
         const DetectOptions& options, const py::object& progress) {
        return dispatch_dtype(x, [&](auto tag) {
          using T = decltype(tag);
          auto arg = signal_arg<T>(x, "data");
          return with_progress(progress, [&](const ProgressCallback& cb) {
            Recording rec;
            rec.samples = RowMatrix<T>(arg.view);
            rec.fs = fs;
            rec.channels = channels;
            rec.validate();
            const DetectionResult r = detect(rec, options, cb);
            return session_result(r, rec, info_in);
          });
        });
      },
      py::arg("data"), py::arg("fs"), py::arg("channels"), py::arg("info"), py::arg("options"), py::arg("progress") = py::none());
  m.def("check_clinical_muscles", &check_clinical_muscles, py::arg("manifest"), py::arg("sessions"));
  m.def(
      "classify_sessions",
      [](const std::vector<SessionResult>& sessions, const PatternOptions& options, const std::string& subject,
         const std::vector<std::string>& notes) {
        PatternReport r = classify(sessions, options, subject);
        r.notes.insert(r.notes.end(), notes.begin(), notes.end());
        return r;
      },
      py::arg("sessions"), py::arg("options"), py::arg("subject") = "", py::arg("notes") = std::vector<std::string>{});
  m.def("parse_date", &parse_date, py::arg("text"));
  m.attr("PATTERN_DISCLAIMER") = std::string(disclaimer());
}

}  // namespace fasctrack::py_bind
