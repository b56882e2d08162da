// Chunked reading and detection streamed from a file, with the command
// line's own writers: what `fasctrack batch` runs on its workers, so its
// outputs are byte for byte those of `fasctrack detect`.
#include "arrays.hpp"
#include "bindings.hpp"
#include "progress.hpp"
#include "read_options.hpp"

#include <fasctrack/io/reader.hpp>
#include <fasctrack/stream/detect_file.hpp>

#include "cli/report.hpp"

#include <pybind11/stl.h>

#include <cmath>
#include <memory>

namespace fasctrack::py_bind {

void bind_batch(py::module_& m) {
  py::class_<io::RecordingReader>(m, "RecordingReader")
      .def(py::init([](const std::string& path, const std::string& format, std::optional<double> fs, double scale_to_uv,
                       const py::object& dtype, std::vector<std::string> channels, bool include_non_voltage,
                       bool use_sidecars, std::optional<bool> samples_first, std::uint64_t max_bytes,
                       int grid_rows, int grid_columns, double ied_mm) {
             const auto o = read_options(format, fs, scale_to_uv, dtype, std::move(channels), include_non_voltage,
                                         use_sidecars, samples_first, max_bytes, grid_rows, grid_columns, ied_mm);
             py::gil_scoped_release release;
             return std::make_unique<io::RecordingReader>(path, o);
           }),
           py::arg("path"), py::arg("format") = "auto", py::arg("fs") = py::none(), py::arg("scale_to_uv") = 1.0,
           py::arg("dtype") = py::none(), py::arg("channels") = std::vector<std::string>{},
           py::arg("include_non_voltage") = false, py::arg("use_sidecars") = true,
           py::arg("samples_first") = py::none(), py::arg("max_bytes") = 0, py::arg("grid_rows") = 0,
           py::arg("grid_columns") = 0, py::arg("ied_mm") = 0.0)
      .def_property_readonly("header", [](const io::RecordingReader& r) { return r.header(); })
      .def_property_readonly("n_channels", &io::RecordingReader::n_channels)
      .def_property_readonly("n_samples", &io::RecordingReader::n_samples)
      .def_property_readonly("fs", &io::RecordingReader::fs)
      .def_property_readonly("position", &io::RecordingReader::position)
      .def("seek", &io::RecordingReader::seek, py::arg("sample"))
      .def(
          "read",
          [](io::RecordingReader& r, Index max_samples) -> py::array {
            SampleMatrix block;
            {
              py::gil_scoped_release release;
              block = r.read(max_samples);
            }
            return std::visit(
                [](auto& b) -> py::array {
                  using T = typename std::decay_t<decltype(b)>::Scalar;
                  return to_numpy<T>(std::move(b));
                },
                block);
          },
          py::arg("max_samples"));

  m.def(
      "detect_file_outputs",
      [](const std::string& path, const std::string& format, std::optional<double> fs, double scale_to_uv,
         const py::object& dtype, std::vector<std::string> channels, bool include_non_voltage, bool use_sidecars,
         std::optional<bool> samples_first, std::uint64_t max_bytes, const DetectOptions& options,
         double block_s, const py::object& progress) {
        if (!(block_s >= 0)) throw std::invalid_argument("block_s: must be >= 0 seconds (0: 10 s)");
        const auto o = read_options(format, fs, scale_to_uv, dtype, std::move(channels), include_non_voltage,
                                    use_sidecars, samples_first, max_bytes);
        Recording header;
        DetectionResult r;
        std::string events, summary, units;
        Index n_samples = 0;
        with_progress(progress, [&](const ProgressCallback& cb) {
          io::RecordingReader reader(path, o);
          header = reader.header();
          n_samples = reader.n_samples();
          const Index block = block_s > 0 ? std::max<Index>(1, static_cast<Index>(std::lround(block_s * reader.fs()))) : 0;
          r = detect(reader, options, cb, block);
          // The texts `fasctrack detect --out --summary --units` writes.
          events = cli::events_csv(r, header);
          summary = cli::summary_json(r, header).dump(2) + "\n";
          units = cli::units_json(r, header).dump(2) + "\n";
        });
        py::list names, muscles;
        for (const auto& c : header.channels) {
          names.append(c.name);
          muscles.append(c.muscle);
        }
        py::dict d;
        d["events_csv"] = events;
        d["summary_json"] = summary;
        d["units_json"] = units;
        d["fs"] = header.fs;
        d["n_samples"] = n_samples;
        d["n_channels"] = static_cast<Index>(header.channels.size());
        d["duration_s"] = static_cast<double>(n_samples) / header.fs;
        d["channel_names"] = names;
        d["channel_muscles"] = muscles;
        d["warnings"] = header.warnings;
        d["format"] = header.format;
        return d;
      },
      py::arg("path"), py::arg("format") = "auto", py::arg("fs") = py::none(), py::arg("scale_to_uv") = 1.0,
      py::arg("dtype") = py::none(), py::arg("channels") = std::vector<std::string>{},
      py::arg("include_non_voltage") = false, py::arg("use_sidecars") = true, py::arg("samples_first") = py::none(),
      py::arg("max_bytes") = 0, py::arg("options") = DetectOptions{}, py::arg("block_s") = 0.0,
      py::arg("progress") = py::none());
}

}  // namespace fasctrack::py_bind
