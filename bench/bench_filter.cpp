// Filter throughput. Reported as channel-samples per second (items/s) and as
// real-time factor at 2048 Hz (how many seconds of recording per second of
// compute). A plain memory copy of the same data runs in the same binary so
// each stage can be read as a share of this machine's copy bandwidth.

#include <fasctrack/filter/apply.hpp>
#include <fasctrack/filter/design.hpp>
#include <fasctrack/filter/spectral.hpp>

#include <benchmark/benchmark.h>

#include <cstring>
#include <random>

namespace {

using namespace fasctrack;
constexpr double kFs = 2048.0;
constexpr Index kSeconds = 10;

template <class T>
RowMatrix<T> noise(Index channels) {
  std::mt19937 gen(42);
  std::normal_distribution<double> dist(0.0, 10.0);
  RowMatrix<T> x(channels, static_cast<Index>(kFs) * kSeconds);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<T>(dist(gen));
  return x;
}

void report(benchmark::State& state, const RowMatrix<float>& x, std::size_t bytes_per_sample) {
  const auto items = static_cast<int64_t>(state.iterations()) * x.size();
  state.SetItemsProcessed(items);
  state.SetBytesProcessed(items * static_cast<int64_t>(bytes_per_sample));
  state.counters["realtime_x"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * static_cast<double>(x.cols()) / kFs, benchmark::Counter::kIsRate);
}

filter::Sos pipeline_sos() {
  return filter::cascade(filter::butter(4, {20.0, 500.0}, filter::BandType::bandpass, kFs),
                         filter::mains_notches(50.0, kFs));
}

void BM_MemoryCopy(benchmark::State& state) {
  const auto x = noise<float>(state.range(0));
  RowMatrix<float> y(x.rows(), x.cols());
  for (auto _ : state) {
    std::memcpy(y.data(), x.data(), sizeof(float) * static_cast<std::size_t>(x.size()));
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  report(state, x, 2 * sizeof(float));
}

void BM_SosFilterCausal(benchmark::State& state) {
  const auto x = noise<float>(state.range(0));
  RowMatrix<float> y(x.rows(), x.cols());
  filter::SosFilter<float> f(pipeline_sos(), x.rows());
  for (auto _ : state) {
    f.process(x, y);
    benchmark::DoNotOptimize(y.data());
  }
  report(state, x, 2 * sizeof(float));
}

void BM_SosFiltFilt(benchmark::State& state) {
  const auto x = noise<float>(state.range(0));
  const auto sos = pipeline_sos();
  for (auto _ : state) benchmark::DoNotOptimize(filter::sosfiltfilt<float>(sos, x).data());
  report(state, x, 2 * sizeof(float));
}

void BM_ButterDesign(benchmark::State& state) {
  for (auto _ : state)
    benchmark::DoNotOptimize(filter::butter(static_cast<int>(state.range(0)), {20.0, 500.0},
                                            filter::BandType::bandpass, kFs).data());
}

void BM_Welch(benchmark::State& state) {
  const auto x = noise<float>(state.range(0));
  for (auto _ : state) benchmark::DoNotOptimize(filter::welch<float>(x, kFs).power.data());
  report(state, x, sizeof(float));
}

}  // namespace

BENCHMARK(BM_MemoryCopy)->Arg(1)->Arg(8)->Arg(64);
BENCHMARK(BM_SosFilterCausal)->Arg(1)->Arg(8)->Arg(64);
BENCHMARK(BM_SosFiltFilt)->Arg(1)->Arg(8)->Arg(64);
BENCHMARK(BM_Welch)->Arg(1)->Arg(8)->Arg(64);
BENCHMARK(BM_ButterDesign)->Arg(4)->Arg(10);
