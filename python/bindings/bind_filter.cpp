// Signal conditioning: design, application, spectra, mains, quality.
#include "arrays.hpp"
#include "bindings.hpp"

#include <fasctrack/filter/apply.hpp>
#include <fasctrack/filter/condition.hpp>
#include <fasctrack/filter/design.hpp>
#include <fasctrack/filter/mains.hpp>
#include <fasctrack/filter/quality.hpp>
#include <fasctrack/filter/spectral.hpp>

#include <pybind11/eigen.h>
#include <pybind11/stl.h>

namespace fasctrack::py_bind {

namespace {

using filter::Sos;

Sos sos_arg(const py::array& sos) {
  auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(sos);
  if (!a || a.ndim() != 2 || a.shape(1) != 6)
    throw std::invalid_argument("sos: expected an array of shape (n_sections, 6)");
  Sos out = Eigen::Map<const Sos>(a.data(), a.shape(0), 6);
  filter::validate_sos(out);
  return out;
}

// zi in SciPy's layout: (n_sections, n_channels, 2), or (n_sections, 2) for 1-D signals.
RowMatrix<double> zi_arg(const py::array& zi, Index n_sections, Index n_channels, bool one_d) {
  auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(zi);
  const bool ok = a && ((one_d && a.ndim() == 2 && a.shape(0) == n_sections && a.shape(1) == 2) ||
                        (a.ndim() == 3 && a.shape(0) == n_sections && a.shape(1) == n_channels && a.shape(2) == 2));
  if (!ok)
    throw std::invalid_argument("zi: expected shape (" + std::to_string(n_sections) + ", " +
                                (one_d ? std::string() : std::to_string(n_channels) + ", ") + "2)");
  return Eigen::Map<const RowMatrix<double>>(a.data(), n_sections, 2 * n_channels);
}

py::array zi_out(RowMatrix<double>&& zi, Index n_channels, bool one_d) {
  const Index n_sections = zi.rows();
  py::array out = to_numpy<double>(std::move(zi));
  if (one_d) return out.attr("reshape")(n_sections, 2);
  return out.attr("reshape")(n_sections, n_channels, 2);
}

template <class T>
void bind_sos_filter(py::module_& m, const char* name) {
  using F = filter::SosFilter<T>;
  py::class_<F>(m, name)
      .def(py::init([](const py::array& sos, Index n_channels) { return F(sos_arg(sos), n_channels); }),
           py::arg("sos"), py::arg("n_channels"))
      .def("process",
           [](F& self, const py::array& x) {
             auto arg = signal_arg<T>(x, "x");
             if (arg.view.rows() != self.n_channels())
               throw std::invalid_argument("x: filter has " + std::to_string(self.n_channels()) +
                                           " channels, chunk has " + std::to_string(arg.view.rows()));
             RowMatrix<T> y(arg.view.rows(), arg.view.cols());
             {
               py::gil_scoped_release release;
               self.process(arg.view, y);
             }
             return to_numpy<T>(std::move(y), arg.one_d);
           })
      .def("reset", &F::reset)
      .def("set_steady_state", [](F& self, const Eigen::VectorXd& x0) { self.set_steady_state(x0); })
      .def_property(
          "zi", [](const F& self) { return zi_out(RowMatrix<double>(self.state()), self.n_channels(), false); },
          [](F& self, const py::array& zi) { self.set_state(zi_arg(zi, self.n_sections(), self.n_channels(), false)); })
      .def_property_readonly("n_channels", &F::n_channels)
      .def_property_readonly("n_sections", &F::n_sections)
      .def_property_readonly("sos", [](const F& self) { return eigen_copy(self.sos()); });
}

}  // namespace

void bind_filter(py::module_& m) {
  m.def(
      "butter",
      [](int order, std::vector<double> cutoff, const std::string& btype, double fs) {
        return eigen_copy(filter::butter(order, cutoff, filter::parse_band_type(btype), fs));
      },
      py::arg("order"), py::arg("cutoff_hz"), py::arg("btype"), py::arg("fs"));
  m.def(
      "iirnotch", [](double f0, double q, double fs) { return eigen_copy(filter::iirnotch(f0, q, fs)); },
      py::arg("f0_hz"), py::arg("quality"), py::arg("fs"));
  m.def(
      "mains_notches",
      [](double f0, double fs, double bandwidth_hz, int max_harmonics, double max_frequency_hz) {
        filter::MainsNotchOptions o;
        o.bandwidth_hz = bandwidth_hz;
        o.max_harmonics = max_harmonics;
        o.max_frequency_hz = max_frequency_hz;
        return eigen_copy(filter::mains_notches(f0, fs, o));
      },
      py::arg("mains_hz"), py::arg("fs"), py::arg("bandwidth_hz"), py::arg("max_harmonics"),
      py::arg("max_frequency_hz"));
  m.def(
      "sosfilt_zi", [](const py::array& sos) { return eigen_copy(filter::sosfilt_zi(sos_arg(sos))); },
      py::arg("sos"));
  m.def(
      "sos_magnitude",
      [](const py::array& sos, const Eigen::VectorXd& freqs, double fs) {
        return Eigen::VectorXd(filter::sos_magnitude(sos_arg(sos), freqs, fs));
      },
      py::arg("sos"), py::arg("freqs_hz"), py::arg("fs"));

  m.def(
      "sosfilt",
      [](const py::array& sos_in, const py::array& x, const py::object& zi) -> py::object {
        const Sos sos = sos_arg(sos_in);
        return dispatch_dtype(x, [&](auto tag) -> py::object {
          using T = decltype(tag);
          auto arg = signal_arg<T>(x, "x");
          const Index n_ch = arg.view.rows();
          if (zi.is_none()) {
            RowMatrix<T> y;
            {
              py::gil_scoped_release release;
              y = filter::sosfilt<T>(sos, arg.view);
            }
            return to_numpy<T>(std::move(y), arg.one_d);
          }
          RowMatrix<double> state = zi_arg(zi, sos.rows(), n_ch, arg.one_d);
          RowMatrix<T> y;
          {
            py::gil_scoped_release release;
            y = filter::sosfilt<T>(sos, arg.view, &state);
          }
          return py::make_tuple(to_numpy<T>(std::move(y), arg.one_d), zi_out(std::move(state), n_ch, arg.one_d));
        });
      },
      py::arg("sos"), py::arg("x"), py::arg("zi") = py::none());

  m.def(
      "sosfiltfilt",
      [](const py::array& sos_in, const py::array& x, std::optional<Index> padlen) -> py::object {
        const Sos sos = sos_arg(sos_in);
        return dispatch_dtype(x, [&](auto tag) -> py::object {
          using T = decltype(tag);
          auto arg = signal_arg<T>(x, "x");
          RowMatrix<T> y;
          {
            py::gil_scoped_release release;
            y = filter::sosfiltfilt<T>(sos, arg.view, padlen);
          }
          return to_numpy<T>(std::move(y), arg.one_d);
        });
      },
      py::arg("sos"), py::arg("x"), py::arg("padlen") = py::none());

  bind_sos_filter<float>(m, "SosFilter32");
  bind_sos_filter<double>(m, "SosFilter64");

  m.def(
      "welch",
      [](const py::array& x, double fs, Index nperseg, Index noverlap, bool median) {
        filter::WelchOptions o;
        o.nperseg = nperseg;
        o.noverlap = noverlap;
        o.median = median;
        return dispatch_dtype(x, [&](auto tag) {
          using T = decltype(tag);
          auto arg = signal_arg<T>(x, "x");
          filter::Psd psd;
          {
            py::gil_scoped_release release;
            psd = filter::welch<T>(arg.view, fs, o);
          }
          py::array power = to_numpy<double>(std::move(psd.power), arg.one_d);
          return py::make_tuple(Eigen::VectorXd(psd.freqs_hz), power);
        });
      },
      py::arg("x"), py::arg("fs"), py::arg("nperseg"), py::arg("noverlap"), py::arg("median"));

  py::class_<filter::MainsReport>(m, "MainsReport", "Result of mains-frequency detection.")
      .def_property_readonly("status", [](const filter::MainsReport& r) { return std::string(filter::to_string(r.status)); })
      .def_readonly("frequency_hz", &filter::MainsReport::frequency_hz)
      .def_readonly("prominence_db", &filter::MainsReport::prominence_db)
      .def_readonly("candidate_prominence_db", &filter::MainsReport::candidate_prominence_db)
      .def_readonly("channel_prominence_db", &filter::MainsReport::channel_prominence_db)
      .def_readonly("threshold_db", &filter::MainsReport::threshold_db)
      .def_readonly("candidate_harmonic_prominence_db", &filter::MainsReport::candidate_harmonic_prominence_db)
      .def_readonly("harmonic_threshold_db", &filter::MainsReport::harmonic_threshold_db)
      .def("__repr__", [](const filter::MainsReport& r) {
        return "MainsReport(status='" + std::string(filter::to_string(r.status)) + "', frequency_hz=" +
               py::repr(py::float_(r.frequency_hz)).cast<std::string>() + ", prominence_db=" +
               py::repr(py::float_(r.prominence_db)).cast<std::string>() + ")";
      });

  m.def(
      "detect_mains",
      [](const py::array& x, double fs, std::vector<double> candidates, double min_prominence_db, int harmonics) {
        filter::MainsOptions o;
        o.candidates_hz = std::move(candidates);
        o.min_prominence_db = min_prominence_db;
        o.harmonics = harmonics;
        return dispatch_dtype(x, [&](auto tag) {
          using T = decltype(tag);
          auto arg = signal_arg<T>(x, "x");
          py::gil_scoped_release release;
          return filter::detect_mains<T>(arg.view, fs, o);
        });
      },
      py::arg("x"), py::arg("fs"), py::arg("candidates_hz"), py::arg("min_prominence_db"), py::arg("harmonics"));

  py::class_<filter::ChannelQuality>(m, "ChannelQuality", "Quality screening of one channel.")
      .def_readonly("flags", &filter::ChannelQuality::flags)
      .def_property_readonly("flag_names",
                             [](const filter::ChannelQuality& q) {
                               py::list names;
                               if (q.flags == 0) return names;
                               const std::string s = filter::describe_flags(q.flags);
                               std::size_t start = 0;
                               while (start <= s.size()) {
                                 const auto comma = s.find(',', start);
                                 names.append(s.substr(start, comma - start));
                                 if (comma == std::string::npos) break;
                                 start = comma + 1;
                               }
                               return names;
                             })
      .def_readonly("rms_uv", &filter::ChannelQuality::rms_uv)
      .def_readonly("n_non_finite", &filter::ChannelQuality::n_non_finite)
      .def_property_readonly("non_finite_runs",
                             [](const filter::ChannelQuality& q) {
                               py::list out;
                               for (const auto& r : q.non_finite_runs) out.append(py::make_tuple(r.start, r.stop));
                               return out;
                             })
      .def_readonly("longest_flat_run", &filter::ChannelQuality::longest_flat_run)
      .def_readonly("clipped_fraction", &filter::ChannelQuality::clipped_fraction)
      .def_readonly("mains_fraction", &filter::ChannelQuality::mains_fraction)
      .def_readonly("low_frequency_fraction", &filter::ChannelQuality::low_frequency_fraction)
      .def_readonly("low_frequency_rms_uv", &filter::ChannelQuality::low_frequency_rms_uv)
      .def_property_readonly("usable", &filter::ChannelQuality::usable)
      .def("__repr__", [](const filter::ChannelQuality& q) {
        return "ChannelQuality(flags='" + filter::describe_flags(q.flags) + "', rms_uv=" +
               py::repr(py::float_(q.rms_uv)).cast<std::string>() + ")";
      });

  py::class_<filter::QualityOptions>(m, "QualityOptions")
      .def(py::init<>())
      .def_readwrite("flat_rms_uv", &filter::QualityOptions::flat_rms_uv)
      .def_readwrite("flat_run_s", &filter::QualityOptions::flat_run_s)
      .def_readwrite("saturation_fraction", &filter::QualityOptions::saturation_fraction)
      .def_readwrite("mains_fraction", &filter::QualityOptions::mains_fraction)
      .def_readwrite("disconnected_rms_uv", &filter::QualityOptions::disconnected_rms_uv)
      .def_readwrite("disconnected_low_fraction", &filter::QualityOptions::disconnected_low_fraction)
      .def_readwrite("disconnected_low_rms_uv", &filter::QualityOptions::disconnected_low_rms_uv)
      .def_readwrite("mains_hz", &filter::QualityOptions::mains_hz);

  m.def(
      "channel_quality",
      [](const py::array& x, double fs, const filter::QualityOptions& o) {
        return dispatch_dtype(x, [&](auto tag) {
          using T = decltype(tag);
          auto arg = signal_arg<T>(x, "x");
          py::gil_scoped_release release;
          return filter::channel_quality<T>(arg.view, fs, o);
        });
      },
      py::arg("x"), py::arg("fs"), py::arg("options"));

  m.def(
      "condition",
      [](const py::array& x, double fs, double highpass_hz, double lowpass_hz, int order, const std::string& mains,
         double notch_bandwidth_hz, bool zero_phase, const filter::QualityOptions& quality) {
        filter::ConditionOptions o;
        o.highpass_hz = highpass_hz;
        o.lowpass_hz = lowpass_hz;
        o.order = order;
        o.mains = filter::parse_mains_mode(mains);
        o.notch.bandwidth_hz = notch_bandwidth_hz;
        o.zero_phase = zero_phase;
        o.quality = quality;
        return dispatch_dtype(x, [&](auto tag) {
          using T = decltype(tag);
          auto arg = signal_arg<T>(x, "x");
          filter::ConditionResult<T> r;
          {
            py::gil_scoped_release release;
            r = filter::condition<T>(arg.view, fs, o);
          }
          py::dict out;
          out["data"] = to_numpy<T>(std::move(r.data), arg.one_d);
          out["sos"] = eigen_copy(r.sos);
          out["mains"] = py::cast(r.mains);
          out["mains_hz"] = r.mains_hz;
          out["highpass_hz"] = r.highpass_hz;
          out["lowpass_hz"] = r.lowpass_hz;
          out["quality"] = py::cast(r.quality);
          return out;
        });
      },
      py::arg("x"), py::arg("fs"), py::arg("highpass_hz"), py::arg("lowpass_hz"), py::arg("order"), py::arg("mains"),
      py::arg("notch_bandwidth_hz"), py::arg("zero_phase"), py::arg("quality"));
}

}  // namespace fasctrack::py_bind
