// Fasciculation detection: options, offline detect(), StreamingDetector.
// Results cross as struct-of-arrays (numpy columns) that the Python layer
// turns into pandas DataFrames, SciPy find_peaks style.
#include "arrays.hpp"
#include "bindings.hpp"
#include "progress.hpp"
#include "read_options.hpp"

#include <fasctrack/stream/detect_file.hpp>
#include <fasctrack/stream/detector.hpp>

#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <cmath>

namespace fasctrack::py_bind {

namespace {

py::dict events_to_columns(const std::vector<Event>& events) {
  py::dict c;
  c["time_s"] = column<double>(events, [](const Event& e) { return e.time_s; });
  c["sample"] = column<std::int64_t>(events, [](const Event& e) { return static_cast<std::int64_t>(e.sample); });
  c["unit"] = column<std::int32_t>(events, [](const Event& e) { return static_cast<std::int32_t>(e.unit); });
  c["channel_index"] = column<std::int64_t>(events, [](const Event& e) { return static_cast<std::int64_t>(e.channel); });
  c["amplitude_uv"] = column<double>(events, [](const Event& e) { return e.amplitude_uv; });
  c["duration_ms"] = column<double>(events, [](const Event& e) { return e.duration_ms; });
  c["phases"] = column<std::int32_t>(events, [](const Event& e) { return static_cast<std::int32_t>(e.phases); });
  c["turns"] = column<std::int32_t>(events, [](const Event& e) { return static_cast<std::int32_t>(e.turns); });
  c["area_uv_ms"] = column<double>(events, [](const Event& e) { return e.area_uv_ms; });
  c["n_channels"] = column<std::int32_t>(events, [](const Event& e) { return static_cast<std::int32_t>(e.n_channels); });
  c["isolated"] = column<bool>(events, [](const Event& e) { return e.isolated; });
  c["doublet"] = column<bool>(events, [](const Event& e) { return e.doublet; });
  c["confidence"] = column<double>(events, [](const Event& e) { return e.confidence; });
  return c;
}

py::dict masks_to_columns(const std::vector<Mask>& masks) {
  py::array_t<std::int64_t> start(static_cast<py::ssize_t>(masks.size()));
  py::array_t<std::int64_t> stop(static_cast<py::ssize_t>(masks.size()));
  py::list reason;
  for (std::size_t i = 0; i < masks.size(); ++i) {
    start.mutable_at(static_cast<py::ssize_t>(i)) = masks[i].start;
    stop.mutable_at(static_cast<py::ssize_t>(i)) = masks[i].stop;
    reason.append(std::string(to_string(masks[i].reason)));
  }
  py::dict c;
  c["start_sample"] = start;
  c["stop_sample"] = stop;
  c["reason"] = reason;
  return c;
}

py::dict rate_dict(const cluster::RateEstimate& r) {
  py::dict d;
  d["count"] = r.count;
  d["minutes"] = r.minutes;
  d["rate_per_min"] = r.rate_per_min;
  d["ci_low"] = r.ci_low;
  d["ci_high"] = r.ci_high;
  d["confidence"] = r.confidence;
  return d;
}

py::dict summary_dict(const cluster::RecordingSummary& s) {
  py::dict d;
  d["duration_s"] = s.duration_s;
  d["clean_rest_s"] = s.clean_rest_s;
  py::dict excluded;
  excluded["startup"] = s.excluded_startup_s;
  excluded["voluntary"] = s.excluded_voluntary_s;
  excluded["tonic"] = s.excluded_tonic_s;
  excluded["artefact"] = s.excluded_artefact_s;
  excluded["bad_signal"] = s.excluded_bad_signal_s;
  d["excluded_s"] = excluded;
  d["noise_floor_uv"] = s.noise_floor_uv;
  d["bad_channels"] = s.bad_channels;
  d["mains_status"] = std::string(filter::to_string(s.mains.status));
  d["mains_hz"] = s.mains_hz;
  d["layout"] = s.layout;
  d["assumed_grid_side"] = s.assumed_grid_side;
  d["fibre_axis"] = s.fibre_axis;
  d["n_events"] = s.n_events;
  d["n_units"] = s.n_units;
  d["isolated_fraction"] = s.isolated_fraction;
  d["rate"] = rate_dict(s.rate);
  py::list muscles;
  for (const auto& m : s.muscles) {
    py::dict md;
    md["muscle"] = m.muscle;
    md["region"] = std::string(to_string(m.region));
    md["side"] = std::string(to_string(m.side));
    md["channels"] = m.channels;
    md["n_events"] = m.n_events;
    md["rate"] = rate_dict(m.rate);
    md["n_units"] = m.n_units;
    md["isolated_fraction"] = m.isolated_fraction;
    md["complex_fraction"] = m.complex_fraction;
    muscles.append(md);
  }
  d["muscles"] = muscles;
  d["insufficient"] = s.insufficient;
  d["min_clean_rest_s"] = s.min_clean_rest_s;
  return d;
}

py::list units_list(const std::vector<cluster::UnitSummary>& units) {
  py::list out;
  for (const auto& u : units) {
    py::dict d;
    d["unit"] = u.id;
    d["count"] = u.count;
    d["rate_per_min"] = u.rate_per_min;
    d["peak_channel_index"] = u.peak_channel;
    d["amplitude_uv"] = u.amplitude_uv;
    d["idi_median_ms"] = u.idi_median_ms;
    d["idi_cv"] = u.idi_cv;
    d["complex_fraction"] = u.complex_fraction;
    d["amplitude_cv"] = u.amplitude_cv;
    d["shape_stability"] = u.shape_stability;
    d["template_uv"] = eigen_copy(u.template_uv);
    out.append(d);
  }
  return out;
}

py::dict result_dict(const DetectionResult& r) {
  py::dict d;
  d["events"] = events_to_columns(r.events);
  d["masks"] = masks_to_columns(r.masks);
  d["units"] = units_list(r.units);
  d["summary"] = summary_dict(r.summary);
  d["quality"] = py::cast(r.quality);
  d["latency_samples"] = r.latency_samples;
  return d;
}

template <class T>
py::dict run_detect(const py::array& x, double fs, const std::vector<ChannelInfo>& channels,
                    const DetectOptions& options, const py::object& progress) {
  auto arg = signal_arg<T>(x, "data");
  const DetectionResult r = with_progress(
      progress, [&](const ProgressCallback& cb) { return detect<T>(arg.view, fs, channels, options, cb); });
  return result_dict(r);
}

template <class T>
void bind_streaming(py::module_& m, const char* name) {
  using S = StreamingDetector<T>;
  py::class_<S>(m, name)
      .def(py::init<double, std::vector<ChannelInfo>, DetectOptions>(), py::arg("fs"), py::arg("channels"),
           py::arg("options"))
      // Short chunks (10 ms: 100 calls per second of signal) mostly finalise
      // no event; thirteen empty numpy columns and their dict would cost
      // more than the detection itself, so such a call returns None, which
      // the Python wrapper maps to its cached empty frame.
      .def("process",
           [](S& self, const py::array& chunk) -> py::object {
             auto arg = signal_arg<T>(chunk, "chunk");
             std::vector<Event> events;
             {
               py::gil_scoped_release release;
               events = self.process(arg.view);
             }
             if (events.empty()) return py::none();
             return events_to_columns(events);
           })
      .def("flush", [](S& self) { return events_to_columns(self.flush()); })
      .def("reset", &S::reset)
      .def_property_readonly("latency_samples", &S::latency_samples)
      .def_property_readonly("samples_seen", &S::samples_seen)
      .def("masks", [](const S& self) { return masks_to_columns(self.masks()); })
      .def("result", [](const S& self) { return result_dict(self.result()); });
}

}  // namespace

void bind_detect(py::module_& m) {
  m.def("assumed_grid_side", &assumed_grid_side, py::arg("channels"));
  py::class_<DetectOptions> o(m, "DetectOptions");
  o.def(py::init<>())
      .def_readwrite("highpass_hz", &DetectOptions::highpass_hz)
      .def_readwrite("lowpass_hz", &DetectOptions::lowpass_hz)
      .def_readwrite("filter_order", &DetectOptions::filter_order)
      .def_property(
          "mains",
          [](const DetectOptions& d) { return std::string(filter::to_string(d.mains)); },
          [](DetectOptions& d, const std::string& v) { d.mains = filter::parse_mains_mode(v); })
      .def_readwrite("mains_probe_s", &DetectOptions::mains_probe_s)
      .def_readwrite("mains_probe_max_s", &DetectOptions::mains_probe_max_s)
      .def_readwrite("notch_bandwidth_hz", &DetectOptions::notch_bandwidth_hz)
      .def_readwrite("threshold_sd", &DetectOptions::threshold_sd)
      .def_readwrite("noise_block_s", &DetectOptions::noise_block_s)
      .def_readwrite("noise_window_s", &DetectOptions::noise_window_s)
      .def_readwrite("merge_ms", &DetectOptions::merge_ms)
      .def_readwrite("refractory_ms", &DetectOptions::refractory_ms)
      .def_readwrite("snippet_ms", &DetectOptions::snippet_ms)
      .def_readwrite("max_duration_ms", &DetectOptions::max_duration_ms)
      .def_readwrite("known_unit_sweep", &DetectOptions::known_unit_sweep)
      .def_readwrite("fibre_line", &DetectOptions::fibre_line)
      .def_readwrite("assume_square_grid", &DetectOptions::assume_square_grid)
      .def_readwrite("reject_by_annotation", &DetectOptions::reject_by_annotation)
      .def_readwrite("tonic_isi_ms", &DetectOptions::tonic_isi_ms)
      .def_readwrite("tonic_min_discharges", &DetectOptions::tonic_min_discharges)
      .def_readwrite("voluntary_rms_ratio", &DetectOptions::voluntary_rms_ratio)
      .def_readwrite("voluntary_rms_uv", &DetectOptions::voluntary_rms_uv)
      .def_readwrite("voluntary_min_s", &DetectOptions::voluntary_min_s)
      .def_readwrite("mask_padding_s", &DetectOptions::mask_padding_s)
      .def_readwrite("doublet_min_ms", &DetectOptions::doublet_min_ms)
      .def_readwrite("doublet_max_ms", &DetectOptions::doublet_max_ms)
      .def_readwrite("min_clean_rest_s", &DetectOptions::min_clean_rest_s)
      .def_readwrite("n_threads", &DetectOptions::n_threads)
      .def_property(
          "match_threshold", [](const DetectOptions& d) { return d.clustering.match_threshold; },
          [](DetectOptions& d, double v) { d.clustering.match_threshold = v; })
      .def_property(
          "max_lag_ms", [](const DetectOptions& d) { return d.clustering.max_lag_ms; },
          [](DetectOptions& d, double v) { d.clustering.max_lag_ms = v; })
      .def_property(
          "realign_lag_ms", [](const DetectOptions& d) { return d.clustering.realign_lag_ms; },
          [](DetectOptions& d, double v) { d.clustering.realign_lag_ms = v; })
      .def_property(
          "max_amplitude_ratio", [](const DetectOptions& d) { return d.clustering.max_amplitude_ratio; },
          [](DetectOptions& d, double v) { d.clustering.max_amplitude_ratio = v; })
      .def_property(
          "template_weight", [](const DetectOptions& d) { return d.clustering.template_weight; },
          [](DetectOptions& d, double v) { d.clustering.template_weight = v; })
      .def("validate", &DetectOptions::validate, py::arg("fs"));

  m.def(
      "detect",
      [](const py::array& x, double fs, const std::vector<ChannelInfo>& channels, const DetectOptions& options,
         const py::object& progress) {
        return dispatch_dtype(x, [&](auto tag) {
          using T = decltype(tag);
          return run_detect<T>(x, fs, channels, options, progress);
        });
      },
      py::arg("data"), py::arg("fs"), py::arg("channels"), py::arg("options"), py::arg("progress") = py::none());

  m.def(
      "detect_file",
      [](const std::string& path, const std::string& format, std::optional<double> fs, double scale_to_uv,
         const py::object& dtype, std::vector<std::string> channels, bool include_non_voltage, bool use_sidecars,
         std::optional<bool> samples_first, std::uint64_t max_bytes, int grid_rows, int grid_columns,
         double ied_mm, const DetectOptions& options, const py::object& progress) {
        const io::ReadOptions o = read_options(format, fs, scale_to_uv, dtype, std::move(channels),
                                               include_non_voltage, use_sidecars, samples_first, max_bytes, grid_rows,
                                               grid_columns, ied_mm);
        const DetectionResult r = with_progress(
            progress, [&](const ProgressCallback& cb) { return detect_file(path, o, options, cb); });
        return result_dict(r);
      },
      py::arg("path"), py::arg("format"), py::arg("fs"), py::arg("scale_to_uv"), py::arg("dtype"),
      py::arg("channels"), py::arg("include_non_voltage"), py::arg("use_sidecars"), py::arg("samples_first"),
      py::arg("max_bytes"), py::arg("grid_rows"), py::arg("grid_columns"), py::arg("ied_mm"), py::arg("options"),
      py::arg("progress") = py::none());

  bind_streaming<float>(m, "StreamingDetector32");
  bind_streaming<double>(m, "StreamingDetector64");

  m.def(
      "poisson_rate",
      [](Index count, double minutes, double confidence) { return rate_dict(cluster::poisson_rate(count, minutes, confidence)); },
      py::arg("count"), py::arg("minutes"), py::arg("confidence") = 0.95);
}

}  // namespace fasctrack::py_bind
