// Readers and writers.
#include "arrays.hpp"
#include "bindings.hpp"
#include "read_options.hpp"

#include <fasctrack/io/read.hpp>
#include <fasctrack/io/write.hpp>

#include <pybind11/stl.h>

namespace fasctrack::py_bind {

namespace {

std::optional<SampleType> parse_sample_type(const py::object& dtype) {
  if (dtype.is_none()) return std::nullopt;
  const py::dtype dt = py::dtype::from_args(dtype);
  if (dt.equal(py::dtype::of<float>())) return SampleType::float32;
  if (dt.equal(py::dtype::of<double>())) return SampleType::float64;
  throw std::invalid_argument("dtype: must be float32 or float64, got " + py::str(dtype).cast<std::string>());
}

Recording read_file(const std::string& path, const std::string& format, std::optional<double> fs,
                    double scale_to_uv, const py::object& dtype, std::vector<std::string> channels,
                    bool include_non_voltage, bool use_sidecars, std::optional<bool> samples_first,
                    std::uint64_t max_bytes, int grid_rows, int grid_columns, double ied_mm) {
  const io::ReadOptions options = read_options(format, fs, scale_to_uv, dtype, std::move(channels),
                                               include_non_voltage, use_sidecars, samples_first, max_bytes,
                                               grid_rows, grid_columns, ied_mm);
  py::gil_scoped_release release;
  return io::read(path, options);
}

}  // namespace

io::ReadOptions read_options(const std::string& format, std::optional<double> fs, double scale_to_uv,
                             const py::object& dtype, std::vector<std::string> channels, bool include_non_voltage,
                             bool use_sidecars, std::optional<bool> samples_first, std::uint64_t max_bytes,
                             int grid_rows, int grid_columns, double ied_mm) {
  io::ReadOptions options;
  options.format = io::parse_format(format);
  options.fs = fs;
  options.scale_to_uv = scale_to_uv;
  options.sample_type = parse_sample_type(dtype);
  options.channels = std::move(channels);
  options.include_non_voltage = include_non_voltage;
  options.use_sidecars = use_sidecars;
  options.samples_first = samples_first;
  options.max_bytes = max_bytes;
  if (grid_rows != 0 || grid_columns != 0) options.grid = io::GridLayout{grid_rows, grid_columns, ied_mm};
  return options;
}

void bind_io(py::module_& m) {
  m.def("read", &read_file, py::arg("path"), py::arg("format") = "auto", py::arg("fs") = py::none(),
        py::arg("scale_to_uv") = 1.0, py::arg("dtype") = py::none(),
        py::arg("channels") = std::vector<std::string>{}, py::arg("include_non_voltage") = false,
        py::arg("use_sidecars") = true, py::arg("samples_first") = py::none(), py::arg("max_bytes") = 0,
        py::arg("grid_rows") = 0, py::arg("grid_columns") = 0, py::arg("ied_mm") = 0.0);

  m.def(
      "bad_annotation_spans",
      [](const std::vector<std::tuple<double, double, std::string>>& annotations, double fs, Index n_samples) {
        std::vector<Annotation> list;
        for (const auto& [onset, duration, text] : annotations) list.push_back({onset, duration, text});
        return bad_annotation_spans(list, fs, n_samples);
      },
      py::arg("annotations"), py::arg("fs"), py::arg("n_samples"));

  m.def(
      "apply_grid_layout",
      [](std::vector<ChannelInfo> channels, int rows, int columns, double ied_mm, const std::string& source) {
        io::apply_grid_layout(channels, io::GridLayout{rows, columns, ied_mm}, source);
        return channels;
      },
      py::arg("channels"), py::arg("rows"), py::arg("columns"), py::arg("ied_mm") = 0.0, py::arg("source") = "");
  m.def(
      "parse_grid_layout",
      [](const std::string& text) {
        const io::GridLayout g = io::parse_grid_layout(text);
        return std::make_pair(g.rows, g.columns);
      },
      py::arg("text"));

  m.def("format_from_path", [](const std::string& path) { return std::string(io::to_string(io::format_from_path(path))); },
        py::arg("path"));

  m.def(
      "write_npy",
      [](const std::string& path, const py::array& x) {
        dispatch_dtype(x, [&](auto tag) {
          using T = decltype(tag);
          auto arg = signal_arg<T>(x, "x");
          py::gil_scoped_release release;
          io::write_npy<T>(path, arg.view);
        });
      },
      py::arg("path"), py::arg("x"));

  m.def(
      "write_edf",
      [](const std::string& path, const py::array& data, double fs, std::vector<ChannelInfo> channels,
         std::string start_time, std::vector<std::tuple<double, double, std::string>> annotations, bool bdf,
         double physical_range_uv) {
        Recording rec;
        auto arg = signal_arg<double>(data, "data");
        rec.samples = RowMatrix<double>(arg.view);
        rec.fs = fs;
        rec.channels = std::move(channels);
        rec.start_time = std::move(start_time);
        for (auto& [onset, duration, text] : annotations) rec.annotations.push_back({onset, duration, text});
        rec.validate();
        io::EdfWriteOptions options;
        options.bdf = bdf;
        options.physical_range_uv = physical_range_uv;
        py::gil_scoped_release release;
        io::write_edf(path, rec, options);
      },
      py::arg("path"), py::arg("data"), py::arg("fs"), py::arg("channels"), py::arg("start_time") = "",
      py::arg("annotations") = std::vector<std::tuple<double, double, std::string>>{}, py::arg("bdf") = false,
      py::arg("physical_range_uv") = 0.0);
}

}  // namespace fasctrack::py_bind
