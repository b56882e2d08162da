#pragma once
// Shared by the benchmark suites: test signals and the throughput counters.
//
// Every suite reports channel-samples per second (items_per_second), bytes per
// second (the stage's input read plus output written), and real-time factor
// (seconds of recording processed per second of compute). BM_MemoryCopy runs in
// the same binary; the copy bandwidth it measures (the same 64 MB memcpy,
// timed once at start-up by copy_bandwidth()) divides each stage's bytes/s
// into `copy_share`: the stage's throughput as a share of this machine's
// copy bandwidth (1 = as fast as memcpy moving the same bytes).

#include <fasctrack/core/recording.hpp>
#include <fasctrack/sim/simulate.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstring>
#include <vector>

#include <cmath>
#include <map>
#include <mutex>
#include <random>

namespace fasctrack::bench {

constexpr double kFs = 2048.0;

/// Gaussian noise (10 uV SD) plus a 50 Hz line: what conditioning sees at rest.
template <class T>
RowMatrix<T> noise(Index channels, double seconds, double fs = kFs) {
  std::mt19937 gen(42);
  std::normal_distribution<double> dist(0.0, 10.0);
  const Index n = static_cast<Index>(std::lround(seconds * fs));
  RowMatrix<T> x(channels, n);
  for (Index c = 0; c < channels; ++c)
    for (Index i = 0; i < n; ++i)
      x(c, i) = static_cast<T>(dist(gen) + 20.0 * std::sin(2.0 * 3.141592653589793 * 50.0 * static_cast<double>(i) / fs));
  return x;
}

/// A simulated surface-EMG recording: an 8x8 grid (64), a 16x16 grid (256), a
/// 2x4 grid (8) or one bipolar lead (1), with fasciculations, mains and
/// wander. Cached: simulation is slower than detection.
inline const Recording& recording(Index channels, double seconds, bool float32) {
  static std::mutex m;
  static std::map<std::tuple<Index, double, bool>, Recording> cache;
  std::lock_guard<std::mutex> lock(m);
  const auto key = std::make_tuple(channels, seconds, float32);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  sim::SimulationOptions so;
  so.duration_s = seconds;
  so.fs = kFs;
  so.seed = 7;
  so.rate_per_min = 20.0;
  if (channels == 1) {
    so.geometry = sim::Geometry::bipolar;
    so.bipolar_channels = 1;
    so.n_units = 2;
  } else {
    const int side = channels == 256 ? 16 : channels == 64 ? 8 : 2;
    so.rows = side;
    so.columns = static_cast<int>(channels) / side;
  }
  Recording r = sim::simulate(so).recording;
  if (float32) {
    const auto& d = std::get<RowMatrix<double>>(r.samples);
    r.samples = RowMatrix<float>(d.cast<float>());
  }
  return cache.emplace(key, std::move(r)).first->second;
}

/// Bytes per second of a 64 MB memcpy (read + write counted), best of 5.
inline double copy_bandwidth() {
  static const double bw = [] {
    const std::size_t n = std::size_t{64} << 20;
    std::vector<char> a(n, 1), b(n, 0);
    double best = 1e300;
    for (int k = 0; k < 5; ++k) {
      const auto t0 = std::chrono::steady_clock::now();
      std::memcpy(b.data(), a.data(), n);
      benchmark::DoNotOptimize(b.data());
      best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return 2.0 * static_cast<double>(n) / best;
  }();
  return bw;
}

/// items = channel-samples; bytes = bytes_per_item per channel-sample.
inline void report(benchmark::State& state, Index channels, Index samples, double bytes_per_item, double fs = kFs) {
  const double per_iter = static_cast<double>(channels) * static_cast<double>(samples);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(per_iter));
  state.SetBytesProcessed(static_cast<int64_t>(static_cast<double>(state.iterations()) * per_iter * bytes_per_item));
  state.counters["realtime_x"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(samples) / fs, benchmark::Counter::kIsRate);
  state.counters["copy_share"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * per_iter * bytes_per_item / copy_bandwidth(), benchmark::Counter::kIsRate);
}

}  // namespace fasctrack::bench
