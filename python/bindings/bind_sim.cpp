// Simulator and evaluator. The Python package (fasctrack/_sim.py) turns the
// plain arrays returned here into a Recording and pandas DataFrames.
#include "arrays.hpp"
#include "bindings.hpp"

#include <fasctrack/sim/simulate.hpp>

#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

namespace fasctrack::py_bind {

namespace {

MaskReason parse_reason(const std::string& s) {
  for (const auto r : {MaskReason::startup, MaskReason::voluntary, MaskReason::tonic, MaskReason::artefact,
                       MaskReason::bad_signal})
    if (s == to_string(r)) return r;
  if (s == "artifact") return MaskReason::artefact;
  throw std::invalid_argument("masks: unknown reason '" + s + "'");
}

std::vector<std::int64_t> int_vector(const py::array& a, const char* name) {
  auto v = py::array_t<std::int64_t, py::array::c_style | py::array::forcecast>::ensure(a);
  if (!v || v.ndim() != 1) throw std::invalid_argument(std::string(name) + ": expected a 1-D integer array");
  return {v.data(), v.data() + v.shape(0)};
}

py::dict run_simulate(const sim::SimulationOptions& o) {
  sim::Simulation s;
  {
    py::gil_scoped_release release;
    s = sim::simulate(o);
  }
  py::dict out;
  out["data"] = to_numpy<double>(std::move(std::get<RowMatrix<double>>(s.recording.samples)));
  out["fs"] = s.recording.fs;
  out["channels"] = s.recording.channels;
  out["power_line_hz"] = s.recording.power_line_hz;

  using E = sim::TrueEvent;
  py::dict events;
  events["sample"] = column<std::int64_t, E>(s.events, [](const E& e) { return static_cast<std::int64_t>(e.sample); });
  events["unit"] = column<std::int64_t, E>(s.events, [](const E& e) { return static_cast<std::int64_t>(e.unit); });
  events["channel"] = column<std::int64_t, E>(s.events, [](const E& e) { return static_cast<std::int64_t>(e.channel); });
  events["amplitude_uv"] = column<double, E>(s.events, [](const E& e) { return e.amplitude_uv; });
  events["doublet"] = column<bool, E>(s.events, [](const E& e) { return e.doublet; });
  events["complex"] = column<bool, E>(s.events, [](const E& e) { return e.complex; });
  out["events"] = events;

  using U = sim::TrueUnit;
  py::dict units;
  units["unit"] = column<std::int64_t, U>(s.units, [](const U& u) { return static_cast<std::int64_t>(u.id); });
  units["channel"] = column<std::int64_t, U>(s.units, [](const U& u) { return static_cast<std::int64_t>(u.channel); });
  units["amplitude_uv"] = column<double, U>(s.units, [](const U& u) { return u.amplitude_uv; });
  units["complex"] = column<bool, U>(s.units, [](const U& u) { return u.complex; });
  units["phases"] = column<std::int64_t, U>(s.units, [](const U& u) { return static_cast<std::int64_t>(u.phases); });
  units["rate_per_min"] = column<double, U>(s.units, [](const U& u) { return u.rate_per_min; });
  units["endplate_mm"] = column<double, U>(s.units, [](const U& u) { return u.endplate_mm; });
  units["transverse_mm"] = column<double, U>(s.units, [](const U& u) { return u.transverse_mm; });
  units["depth_mm"] = column<double, U>(s.units, [](const U& u) { return u.depth_mm; });
  out["units"] = units;

  py::dict masks;
  masks["start"] = column<std::int64_t, Mask>(s.masks, [](const Mask& m) { return static_cast<std::int64_t>(m.start); });
  masks["stop"] = column<std::int64_t, Mask>(s.masks, [](const Mask& m) { return static_cast<std::int64_t>(m.stop); });
  py::list reasons;
  for (const auto& m : s.masks) reasons.append(std::string(to_string(m.reason)));
  masks["reason"] = reasons;
  out["masks"] = masks;
  return out;
}

}  // namespace

void bind_sim(py::module_& m) {
  const sim::SimulationOptions d;
  m.def(
      "sim_simulate",
      [](double fs, double duration_s, const std::string& geometry, int rows, int columns, double ied_mm,
         int bipolar_channels, double conduction_velocity_m_s, int n_units, double amplitude_min_uv,
         double amplitude_max_uv, double rate_per_min, double doublet_probability, double complex_fraction,
         double noise_uv, double mains_hz, double mains_uv, double wander_uv, double ecg_uv, double ecg_bpm,
         int motion_artefacts, int electrode_pops, int voluntary_bursts, double burst_duration_s,
         std::uint64_t seed) {
        sim::SimulationOptions o;
        o.fs = fs;
        o.duration_s = duration_s;
        if (geometry == "grid")
          o.geometry = sim::Geometry::grid;
        else if (geometry == "bipolar")
          o.geometry = sim::Geometry::bipolar;
        else
          throw std::invalid_argument("geometry: must be 'grid' or 'bipolar', got '" + geometry + "'");
        o.rows = rows;
        o.columns = columns;
        o.ied_mm = ied_mm;
        o.bipolar_channels = bipolar_channels;
        o.conduction_velocity_m_s = conduction_velocity_m_s;
        o.n_units = n_units;
        o.amplitude_min_uv = amplitude_min_uv;
        o.amplitude_max_uv = amplitude_max_uv;
        o.rate_per_min = rate_per_min;
        o.doublet_probability = doublet_probability;
        o.complex_fraction = complex_fraction;
        o.noise_uv = noise_uv;
        o.mains_hz = mains_hz;
        o.mains_uv = mains_uv;
        o.wander_uv = wander_uv;
        o.ecg_uv = ecg_uv;
        o.ecg_bpm = ecg_bpm;
        o.motion_artefacts = motion_artefacts;
        o.electrode_pops = electrode_pops;
        o.voluntary_bursts = voluntary_bursts;
        o.burst_duration_s = burst_duration_s;
        o.seed = seed;
        return run_simulate(o);
      },
      py::kw_only(), py::arg("fs") = d.fs, py::arg("duration_s") = d.duration_s, py::arg("geometry") = "grid",
      py::arg("rows") = d.rows, py::arg("columns") = d.columns, py::arg("ied_mm") = d.ied_mm,
      py::arg("bipolar_channels") = d.bipolar_channels, py::arg("conduction_velocity_m_s") = d.conduction_velocity_m_s,
      py::arg("n_units") = d.n_units, py::arg("amplitude_min_uv") = d.amplitude_min_uv,
      py::arg("amplitude_max_uv") = d.amplitude_max_uv, py::arg("rate_per_min") = d.rate_per_min,
      py::arg("doublet_probability") = d.doublet_probability, py::arg("complex_fraction") = d.complex_fraction,
      py::arg("noise_uv") = d.noise_uv, py::arg("mains_hz") = d.mains_hz, py::arg("mains_uv") = d.mains_uv,
      py::arg("wander_uv") = d.wander_uv, py::arg("ecg_uv") = d.ecg_uv, py::arg("ecg_bpm") = d.ecg_bpm,
      py::arg("motion_artefacts") = d.motion_artefacts, py::arg("electrode_pops") = d.electrode_pops,
      py::arg("voluntary_bursts") = d.voluntary_bursts, py::arg("burst_duration_s") = d.burst_duration_s,
      py::arg("seed") = d.seed,
      "Simulated surface EMG at rest with known fasciculations (use fasctrack.simulate).");

  m.def(
      "sim_evaluate",
      [](const py::array& truth_sample, const py::array& truth_unit, const py::array& mask_start,
         const py::array& mask_stop, const std::vector<std::string>& mask_reason, double fs,
         const py::array& detected_sample, const py::array& detected_unit, double tolerance_ms) {
        const auto ts = int_vector(truth_sample, "truth.events.sample");
        const auto tu = int_vector(truth_unit, "truth.events.unit");
        const auto ms = int_vector(mask_start, "truth.masks.start");
        const auto me = int_vector(mask_stop, "truth.masks.stop");
        const auto ds = int_vector(detected_sample, "detected.sample");
        const auto du = int_vector(detected_unit, "detected.unit");
        if (ts.size() != tu.size()) throw std::invalid_argument("truth.events: sample and unit differ in length");
        if (ms.size() != me.size() || ms.size() != mask_reason.size())
          throw std::invalid_argument("truth.masks: start, stop and reason differ in length");
        if (ds.size() != du.size()) throw std::invalid_argument("detected: sample and unit differ in length");
        sim::Simulation truth;
        truth.recording.fs = fs;
        for (std::size_t i = 0; i < ts.size(); ++i) {
          sim::TrueEvent e;
          e.sample = static_cast<Index>(ts[i]);
          e.unit = static_cast<int>(tu[i]);
          truth.events.push_back(e);
        }
        for (std::size_t i = 0; i < ms.size(); ++i)
          truth.masks.push_back({static_cast<Index>(ms[i]), static_cast<Index>(me[i]), parse_reason(mask_reason[i])});
        std::vector<Event> detected(ds.size());
        for (std::size_t i = 0; i < ds.size(); ++i) {
          detected[i].sample = static_cast<Index>(ds[i]);
          detected[i].time_s = static_cast<double>(ds[i]) / fs;
          detected[i].unit = static_cast<int>(du[i]);
        }
        sim::EvaluationOptions options;
        options.tolerance_ms = tolerance_ms;
        const auto ev = sim::evaluate(truth, detected, options);
        py::dict out;
        out["true_events"] = ev.true_events;
        out["detections"] = ev.detections;
        out["true_positives"] = ev.true_positives;
        out["false_positives"] = ev.false_positives;
        out["false_negatives"] = ev.false_negatives;
        out["precision"] = ev.precision;
        out["recall"] = ev.recall;
        out["f1"] = ev.f1;
        out["unit_ari"] = ev.unit_ari;
        out["detections_in_masked"] = ev.detections_in_masked;
        out["masked_minutes"] = ev.masked_minutes;
        out["false_per_masked_minute"] = ev.false_per_masked_minute;
        return out;
      },
      py::arg("truth_sample"), py::arg("truth_unit"), py::arg("mask_start"), py::arg("mask_stop"),
      py::arg("mask_reason"), py::arg("fs"), py::arg("detected_sample"), py::arg("detected_unit"),
      py::arg("tolerance_ms") = 5.0, "Event-level scores of detections against truth (use fasctrack.evaluate).");
}

}  // namespace fasctrack::py_bind
