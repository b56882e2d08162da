// Detection stages: the robust noise floor, features, clustering, the full
// offline pipeline (read excluded) and the streaming pipeline at chunk sizes
// from 1 ms to 1 s, on simulated grids (see common.hpp).

#include "common.hpp"

#include "core/select.hpp"

#include <fasctrack/cluster/units.hpp>
#include <fasctrack/features/waveform.hpp>
#include <fasctrack/stream/detector.hpp>

#include <algorithm>
#include <random>
#include <vector>

namespace {

using namespace fasctrack;
using bench::kFs;
using bench::report;
constexpr double kSeconds = 20.0;
constexpr Index kBlock = 512;  // the detector's noise block: 0.25 s at 2048 Hz

// Noise floor: median and MAD of every 0.25 s block of every channel, as the
// detector measures it twice per sample. Exact histogram selection...
void BM_NoiseFloorHistogram(benchmark::State& state) {
  const auto x = bench::noise<double>(state.range(0), 10.0);
  std::vector<double> scratch, dev;
  for (auto _ : state) {
    double acc = 0.0;
    for (Index c = 0; c < x.rows(); ++c)
      for (Index i = 0; i + kBlock <= x.cols(); i += kBlock) {
        double med = 0.0, sd = 0.0;
        detail::median_and_mad_sd(std::span<const double>(&x(c, i), kBlock), scratch, dev, med, sd);
        acc += sd;
      }
    benchmark::DoNotOptimize(acc);
  }
  report(state, x.rows(), x.cols(), sizeof(double));
}

// ...and the two std::nth_element selections it replaces (same results).
void BM_NoiseFloorNthElement(benchmark::State& state) {
  const auto x = bench::noise<double>(state.range(0), 10.0);
  std::vector<double> v(kBlock);
  for (auto _ : state) {
    double acc = 0.0;
    for (Index c = 0; c < x.rows(); ++c)
      for (Index i = 0; i + kBlock <= x.cols(); i += kBlock) {
        std::copy_n(&x(c, i), kBlock, v.begin());
        const auto mid = v.begin() + kBlock / 2;
        std::nth_element(v.begin(), mid, v.end());
        const double med = *mid;
        for (double& e : v) e = std::abs(e - med);
        std::nth_element(v.begin(), mid, v.end());
        acc += *mid;
      }
    benchmark::DoNotOptimize(acc);
  }
  report(state, x.rows(), x.cols(), sizeof(double));
}

// Features of one discharge's waveform (the refinement's per-event cost).
void BM_Features(benchmark::State& state) {
  const Index n = static_cast<Index>(0.07 * kFs);
  std::vector<double> w(static_cast<std::size_t>(n));
  std::mt19937 gen(3);
  std::normal_distribution<double> dist(0.0, 3.0);
  for (Index i = 0; i < n; ++i) {
    const double t = static_cast<double>(i - n / 2) / kFs * 1e3;
    w[static_cast<std::size_t>(i)] = 60.0 * t * std::exp(-t * t / 4.0) + dist(gen);
  }
  for (auto _ : state) benchmark::DoNotOptimize(features::waveform_features(w, n / 2, 3.0, kFs).duration_ms);
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// Clustering: assigning discharges of a few units to the unit tracker.
void BM_Clustering(benchmark::State& state) {
  const Index channels = state.range(0);
  const Index width = 2 * static_cast<Index>(0.02 * kFs) + 1;
  std::mt19937 gen(5);
  std::normal_distribution<double> dist(0.0, 3.0);
  std::vector<RowMatrix<float>> shapes;
  for (int u = 0; u < 4; ++u) {
    RowMatrix<float> s(channels, width);
    for (Index c = 0; c < channels; ++c)
      for (Index i = 0; i < width; ++i) {
        const double t = static_cast<double>(i - width / 2) / kFs * 1e3;
        s(c, i) = static_cast<float>(40.0 * (1.0 + u) * std::exp(-0.3 * std::abs(static_cast<double>(c - 3 * u))) * t *
                                     std::exp(-t * t / (2.0 + u)));
      }
    shapes.push_back(s);
  }
  const std::vector<double> noise_sd(static_cast<std::size_t>(channels), 3.0);
  cluster::UnitTracker tracker(channels, width, kFs);
  RowMatrix<float> snippet(channels, width);
  std::size_t k = 0;
  for (auto _ : state) {
    snippet = shapes[k++ % shapes.size()];
    for (Index i = 0; i < snippet.size(); ++i) snippet.data()[i] += static_cast<float>(dist(gen));
    benchmark::DoNotOptimize(tracker.assign(snippet, noise_sd));
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

// The full offline pipeline (conditioning, detection, refinement, features,
// clustering, masks, summary) on an in-memory recording.
template <class T>
void BM_Detect(benchmark::State& state) {
  const Index channels = state.range(0);
  const auto& rec = bench::recording(channels, kSeconds, std::is_same_v<T, float>);
  DetectOptions o;
  o.n_threads = static_cast<int>(state.range(1));
  std::size_t events = 0;
  for (auto _ : state) events = detect(rec, o).events.size();
  state.counters["events"] = static_cast<double>(events);
  report(state, channels, rec.n_samples(), sizeof(T));
}

// The streaming pipeline fed chunks of state.range(1) ms; the latency bound
// is reported in ms (events are final at most this long after their sample).
template <class T>
void BM_Stream(benchmark::State& state) {
  const Index channels = state.range(0);
  const auto& rec = bench::recording(channels, kSeconds, std::is_same_v<T, float>);
  const auto& x = std::get<RowMatrix<T>>(rec.samples);
  const Index chunk = std::max<Index>(1, static_cast<Index>(std::lround(static_cast<double>(state.range(1)) * 1e-3 * kFs)));
  DetectOptions o;
  o.mains = filter::MainsMode::hz50;  // the shortest decision delay
  o.n_threads = 1;
  StreamingDetector<T> det(kFs, rec.channels, o);
  for (auto _ : state) {
    det.reset();
    for (Index i = 0; i < x.cols(); i += chunk) benchmark::DoNotOptimize(det.process(x.middleCols(i, std::min(chunk, x.cols() - i))).size());
    benchmark::DoNotOptimize(det.flush().size());
  }
  state.counters["latency_ms"] = static_cast<double>(det.latency_samples()) / kFs * 1e3;
  report(state, channels, x.cols(), sizeof(T));
}

void detect_args(benchmark::internal::Benchmark* b) {
  for (int c : {1, 8, 64, 256})
    for (int t : {1, 2}) b->Args({c, t});
  b->ArgNames({"channels", "threads"})->UseRealTime()->Unit(benchmark::kMillisecond);
}
void stream_args(benchmark::internal::Benchmark* b) {
  for (int c : {8, 64})
    for (int ms : {1, 10, 100, 1000}) b->Args({c, ms});
  b->ArgNames({"channels", "chunk_ms"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

}  // namespace

BENCHMARK(BM_NoiseFloorHistogram)->Arg(1)->Arg(8)->Arg(64)->Arg(256);
BENCHMARK(BM_NoiseFloorNthElement)->Arg(1)->Arg(8)->Arg(64)->Arg(256);
BENCHMARK(BM_Features);
BENCHMARK(BM_Clustering)->Arg(8)->Arg(64);
BENCHMARK_TEMPLATE(BM_Detect, float)->Apply(detect_args);
BENCHMARK_TEMPLATE(BM_Detect, double)->Apply(detect_args);
BENCHMARK_TEMPLATE(BM_Stream, float)->Apply(stream_args);
BENCHMARK_TEMPLATE(BM_Stream, double)->Args({64, 10})->ArgNames({"channels", "chunk_ms"})->UseRealTime()->Unit(benchmark::kMillisecond);
