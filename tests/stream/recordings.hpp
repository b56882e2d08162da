#pragma once
// Small simulated recordings shared by the streaming and property tests: a
// 4x4 grid and bipolar leads with frequent 40-90 uV discharges (doublets on
// the grid), so a 12 s recording exercises every stage.

#include <fasctrack/sim/simulate.hpp>

#include <cstdint>

namespace fasctrack::test {

inline sim::Simulation small_grid(std::uint64_t seed, double duration_s = 12.0) {
  sim::SimulationOptions so;
  so.rows = 4;
  so.columns = 4;
  so.duration_s = duration_s;
  so.rate_per_min = 40.0;
  so.amplitude_min_uv = 40.0;
  so.amplitude_max_uv = 90.0;
  so.doublet_probability = 0.2;
  so.seed = seed;
  return sim::simulate(so);
}

inline sim::Simulation small_bipolar(std::uint64_t seed, double duration_s = 12.0) {
  sim::SimulationOptions so;
  so.geometry = sim::Geometry::bipolar;
  so.fs = 4096.0;
  so.duration_s = duration_s;
  so.rate_per_min = 40.0;
  so.amplitude_min_uv = 40.0;
  so.amplitude_max_uv = 90.0;
  so.seed = seed;
  return sim::simulate(so);
}

}  // namespace fasctrack::test
