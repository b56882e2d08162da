// Filter stages: design, causal and zero-phase application, mains detection,
// and the memory-copy kernel every stage is compared with (see common.hpp).
//
// Arguments: channels, and for the apply suites threads (the zero-phase
// filter is split into contiguous channel halves, one per thread, as an
// offline caller would do).

#include "common.hpp"

#include <fasctrack/filter/apply.hpp>
#include <fasctrack/filter/design.hpp>
#include <fasctrack/filter/mains.hpp>
#include <fasctrack/filter/spectral.hpp>

#include <cstring>
#include <thread>
#include <vector>

namespace {

using namespace fasctrack;
using bench::kFs;
using bench::report;
constexpr double kSeconds = 10.0;

// The detector's conditioning: 4th-order 20-500 Hz band-pass and 50 Hz
// notches at every harmonic below 0.95 Nyquist (23 sections at 2048 Hz).
filter::Sos pipeline_sos() {
  return filter::cascade(filter::butter(4, {20.0, 500.0}, filter::BandType::bandpass, kFs),
                         filter::mains_notches(50.0, kFs));
}

// Copy bandwidth: read and write state.range(0) MB of float32/float64, twice
// the L3 cache of the machine this was tuned on, so it measures memory.
template <class T>
void BM_MemoryCopy(benchmark::State& state) {
  const Index n = state.range(0) * (1 << 20) / static_cast<Index>(sizeof(T));
  std::vector<T> x(static_cast<std::size_t>(n), T(1)), y(static_cast<std::size_t>(n));
  for (auto _ : state) {
    std::memcpy(y.data(), x.data(), sizeof(T) * static_cast<std::size_t>(n));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * n * static_cast<int64_t>(sizeof(T)));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}

void BM_FilterDesign(benchmark::State& state) {
  for (auto _ : state) benchmark::DoNotOptimize(pipeline_sos().data());
  state.counters["sections"] = static_cast<double>(pipeline_sos().rows());
}

template <class T>
void BM_SosFilterCausal(benchmark::State& state) {
  const auto x = bench::noise<T>(state.range(0), kSeconds);
  RowMatrix<T> y(x.rows(), x.cols());
  filter::SosFilter<T> f(pipeline_sos(), x.rows());
  for (auto _ : state) {
    f.process(x, y);
    benchmark::DoNotOptimize(y.data());
  }
  report(state, x.rows(), x.cols(), 2.0 * sizeof(T));
}

// Causal filtering in 10 ms chunks, as a stream sees it.
template <class T>
void BM_SosFilterCausalChunked(benchmark::State& state) {
  const auto x = bench::noise<T>(state.range(0), kSeconds);
  RowMatrix<T> y(x.rows(), x.cols());
  filter::SosFilter<T> f(pipeline_sos(), x.rows());
  const Index chunk = static_cast<Index>(0.01 * kFs);
  for (auto _ : state) {
    for (Index i = 0; i < x.cols(); i += chunk) {
      const Index m = std::min(chunk, x.cols() - i);
      f.process(x.middleCols(i, m), y.middleCols(i, m));
    }
    benchmark::DoNotOptimize(y.data());
  }
  report(state, x.rows(), x.cols(), 2.0 * sizeof(T));
}

template <class T>
void BM_SosFiltFilt(benchmark::State& state) {
  const auto x = bench::noise<T>(state.range(0), kSeconds);
  const auto sos = pipeline_sos();
  const int threads = static_cast<int>(std::min<Index>(state.range(1), x.rows()));
  RowMatrix<T> y(x.rows(), x.cols());
  for (auto _ : state) {
    if (threads <= 1) {
      y = filter::sosfiltfilt<T>(sos, x);
    } else {
      std::vector<std::thread> pool;
      for (int p = 0; p < threads; ++p) {
        pool.emplace_back([&, p] {
          const Index c0 = p * x.rows() / threads, c1 = (p + 1) * x.rows() / threads;
          y.middleRows(c0, c1 - c0) = filter::sosfiltfilt<T>(sos, x.middleRows(c0, c1 - c0));
        });
      }
      for (auto& t : pool) t.join();
    }
    benchmark::DoNotOptimize(y.data());
  }
  report(state, x.rows(), x.cols(), 2.0 * sizeof(T));
}

// Mains detection on the detector's 2 s probe.
template <class T>
void BM_MainsDetect(benchmark::State& state) {
  const auto x = bench::noise<T>(state.range(0), 2.0);
  for (auto _ : state) benchmark::DoNotOptimize(filter::detect_mains<T>(x, kFs).frequency_hz);
  report(state, x.rows(), x.cols(), sizeof(T));
}

template <class T>
void BM_Welch(benchmark::State& state) {
  const auto x = bench::noise<T>(state.range(0), kSeconds);
  for (auto _ : state) benchmark::DoNotOptimize(filter::welch<T>(x, kFs).power.data());
  report(state, x.rows(), x.cols(), sizeof(T));
}

void channels(benchmark::internal::Benchmark* b) {
  for (int c : {1, 8, 64, 256}) b->Arg(c);
}
void channels_threads(benchmark::internal::Benchmark* b) {
  for (int c : {1, 8, 64, 256})
    for (int t : {1, 2}) b->Args({c, t});
  b->ArgNames({"channels", "threads"})->UseRealTime();
}

}  // namespace

BENCHMARK_TEMPLATE(BM_MemoryCopy, float)->Arg(64);
BENCHMARK_TEMPLATE(BM_MemoryCopy, double)->Arg(64);
BENCHMARK(BM_FilterDesign);
BENCHMARK_TEMPLATE(BM_SosFilterCausal, float)->Apply(channels);
BENCHMARK_TEMPLATE(BM_SosFilterCausal, double)->Apply(channels);
BENCHMARK_TEMPLATE(BM_SosFilterCausalChunked, float)->Apply(channels);
BENCHMARK_TEMPLATE(BM_SosFiltFilt, float)->Apply(channels_threads);
BENCHMARK_TEMPLATE(BM_SosFiltFilt, double)->Apply(channels_threads);
BENCHMARK_TEMPLATE(BM_MainsDetect, float)->Apply(channels);
BENCHMARK_TEMPLATE(BM_MainsDetect, double)->Apply(channels);
BENCHMARK_TEMPLATE(BM_Welch, float)->Arg(64);
