// Core types and the exception hierarchy.
#include "arrays.hpp"
#include "bindings.hpp"

#include <fasctrack/core/error.hpp>
#include <fasctrack/core/recording.hpp>

#include <pybind11/operators.h>
#include <pybind11/stl.h>

namespace fasctrack::py_bind {

namespace {

// Exception classes are created here (not with py::register_exception) so that
// ReadError can derive from both FasctrackError and OSError: users catch file
// problems with `except OSError` as they would for open().
PyObject* new_exception(py::module_& m, const char* name, py::tuple bases, const char* doc) {
  const std::string qualified = std::string("fasctrack.") + name;
  PyObject* type = PyErr_NewExceptionWithDoc(qualified.c_str(), doc, bases.ptr(), nullptr);
  if (type == nullptr) throw py::error_already_set();
  m.add_object(name, py::handle(type));
  return type;
}

}  // namespace

void bind_core(py::module_& m) {
  static PyObject* base_error = new_exception(
      m, "FasctrackError", py::make_tuple(py::handle(PyExc_RuntimeError)),
      "Base class of errors raised by fasctrack itself.");
  static PyObject* read_error = new_exception(
      m, "ReadError", py::make_tuple(py::handle(base_error), py::handle(PyExc_OSError)),
      "A recording could not be read: missing, unreadable, truncated or corrupt. "
      "The message starts with the path.");
  static PyObject* unsupported_error = new_exception(
      m, "UnsupportedFormatError", py::make_tuple(py::handle(read_error)),
      "The file's format is unknown or not supported.");
  static PyObject* write_error = new_exception(
      m, "WriteError", py::make_tuple(py::handle(base_error), py::handle(PyExc_OSError)),
      "An output file could not be written.");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const UnsupportedFormatError& e) {
      PyErr_SetString(unsupported_error, e.what());
    } catch (const ReadError& e) {
      PyErr_SetString(read_error, e.what());
    } catch (const WriteError& e) {
      PyErr_SetString(write_error, e.what());
    } catch (const Error& e) {
      PyErr_SetString(base_error, e.what());
    }
  });

  py::class_<GridPosition>(m, "GridPosition", "Electrode position on a grid (0-based row and column).")
      .def(py::init([](int row, int column, double ied_mm) { return GridPosition{row, column, ied_mm}; }),
           py::arg("row"), py::arg("column"), py::arg("ied_mm") = 0.0)
      .def_readwrite("row", &GridPosition::row)
      .def_readwrite("column", &GridPosition::column)
      .def_readwrite("ied_mm", &GridPosition::ied_mm, "Inter-electrode distance in mm (0 = unknown).")
      .def(py::self == py::self)
      .def("__repr__", [](const GridPosition& g) {
        return "GridPosition(row=" + std::to_string(g.row) + ", column=" + std::to_string(g.column) +
               ", ied_mm=" + py::repr(py::float_(g.ied_mm)).cast<std::string>() + ")";
      });

  py::class_<ChannelInfo>(m, "ChannelInfo", "Metadata of one channel.")
      .def(py::init([](std::string name, std::string type, std::string muscle, std::string region,
                       std::string side, std::optional<GridPosition> grid, std::string source_unit,
                       bool calibrated, bool marked_bad, std::string bad_reason) {
             ChannelInfo c;
             c.name = std::move(name);
             c.type = std::move(type);
             c.muscle = std::move(muscle);
             c.region = parse_body_region(region);
             c.side = parse_side(side);
             c.grid = grid;
             c.source_unit = std::move(source_unit);
             c.calibrated = calibrated;
             c.marked_bad = marked_bad;
             c.bad_reason = std::move(bad_reason);
             return c;
           }),
           py::arg("name"), py::arg("type") = "EMG", py::arg("muscle") = "", py::arg("region") = "",
           py::arg("side") = "", py::arg("grid") = py::none(), py::arg("source_unit") = "uV",
           py::arg("calibrated") = true, py::arg("marked_bad") = false, py::arg("bad_reason") = "")
      .def_readwrite("name", &ChannelInfo::name)
      .def_readwrite("type", &ChannelInfo::type)
      .def_readwrite("muscle", &ChannelInfo::muscle)
      .def_property(
          "region", [](const ChannelInfo& c) { return std::string(to_string(c.region)); },
          [](ChannelInfo& c, const std::string& v) { c.region = parse_body_region(v); },
          "Body region: 'bulbar', 'cervical', 'thoracic', 'lumbosacral' or 'unknown'.")
      .def_property(
          "side", [](const ChannelInfo& c) { return std::string(to_string(c.side)); },
          [](ChannelInfo& c, const std::string& v) { c.side = parse_side(v); },
          "Body side: 'left', 'right', 'midline' or 'unknown'.")
      .def_readwrite("grid", &ChannelInfo::grid)
      .def_readwrite("source_unit", &ChannelInfo::source_unit)
      .def_readwrite("calibrated", &ChannelInfo::calibrated)
      .def_readwrite("marked_bad", &ChannelInfo::marked_bad)
      .def_readwrite("bad_reason", &ChannelInfo::bad_reason)
      .def("__repr__", [](const ChannelInfo& c) {
        std::string s = "ChannelInfo(name=" + py::repr(py::str(c.name)).cast<std::string>() + ", type='" + c.type + "'";
        if (!c.muscle.empty()) s += ", muscle='" + c.muscle + "'";
        if (c.region != BodyRegion::unknown) s += ", region='" + std::string(to_string(c.region)) + "'";
        if (c.side != Side::unknown) s += ", side='" + std::string(to_string(c.side)) + "'";
        if (c.grid) s += ", grid=(" + std::to_string(c.grid->row) + ", " + std::to_string(c.grid->column) + ")";
        if (!c.calibrated) s += ", calibrated=False";
        if (c.marked_bad) s += ", marked_bad=True";
        return s + ")";
      });

  py::class_<Recording>(m, "RecordingData", "A recording as read by the C++ readers.")
      .def_property_readonly(
          "data",
          [](py::object self) -> py::array {
            // A view on the C++ buffer; the array keeps the Recording alive.
            auto& rec = self.cast<Recording&>();
            return std::visit(
                [&](auto& mat) -> py::array {
                  using T = typename std::decay_t<decltype(mat)>::Scalar;
                  const auto rows = static_cast<py::ssize_t>(mat.rows());
                  const auto cols = static_cast<py::ssize_t>(mat.cols());
                  return py::array_t<T>({rows, cols},
                                        {static_cast<py::ssize_t>(cols * sizeof(T)),
                                         static_cast<py::ssize_t>(sizeof(T))},
                                        mat.data(), self);
                },
                rec.samples);
          })
      .def_readonly("fs", &Recording::fs)
      .def_readonly("channels", &Recording::channels)
      .def_readonly("start_time", &Recording::start_time)
      .def_property_readonly("annotations",
                             [](const Recording& r) {
                               py::list out;
                               for (const auto& a : r.annotations)
                                 out.append(py::make_tuple(a.onset_s, a.duration_s, a.description));
                               return out;
                             })
      .def_readonly("power_line_hz", &Recording::power_line_hz)
      .def_readonly("source", &Recording::source)
      .def_readonly("format", &Recording::format)
      .def_readonly("warnings", &Recording::warnings);
}

}  // namespace fasctrack::py_bind
