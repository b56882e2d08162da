// The streaming hot path: past its start (the mains probe, the noise
// window), a stream's block-by-block work reuses its buffers. Discharges
// still allocate (their snippets, the candidates and events kept), and so
// does the per-channel noise-floor history the summary's median is taken
// from, which doubles its storage now and then.

#include <catch2/catch.hpp>

#include <fasctrack/sim/simulate.hpp>
#include <fasctrack/stream/detector.hpp>

#include "alloc_count.hpp"

using namespace fasctrack;

#ifdef FASCTRACK_TEST_COUNT_MALLOC
TEST_CASE("a stream past its start does not allocate block by block", "[stream][alloc]") {
  for (int geometry = 0; geometry < 2; ++geometry) {
    sim::SimulationOptions so;
    if (geometry == 0) {
      // A grid: the common mode is cancelled, with its per-block regressions.
      so.rows = 4;
      so.columns = 4;
    } else {
      so.geometry = sim::Geometry::bipolar;
      so.bipolar_channels = 4;
      so.fs = 4096.0;
    }
    so.n_units = 0;
    so.duration_s = 60.0;
    so.seed = 301 + static_cast<unsigned>(geometry);
    const auto s = sim::simulate(so);
    const auto& x = std::get<RowMatrix<double>>(s.recording.samples);
    DetectOptions o;
    o.n_threads = 1;
    StreamingDetector<double> sd(s.recording.fs, s.recording.channels, o);
    const auto chunk = static_cast<Index>(0.01 * so.fs);
    const auto from = static_cast<Index>(17.0 * so.fs), to = static_cast<Index>(57.0 * so.fs);
    std::size_t calls = 0, allocating = 0;
    for (Index t = 0; t + chunk <= x.cols(); t += chunk) {
      if (t < from || t >= to) {
        sd.process(x.middleCols(t, chunk));
        continue;
      }
      test::MallocCounter mallocs;
      const auto events = sd.process(x.middleCols(t, chunk));
      ++calls;
      if (mallocs.count() > 0) ++allocating;
    }
    const double blocks = 40.0 / o.noise_block_s;
    INFO("geometry " << geometry << ": " << allocating << " of " << calls << " calls allocated, over "
                     << blocks << " blocks");
    REQUIRE(calls > 3000);
    // Before buffers were reused every block of a grid allocated (3-4 times).
    CHECK(static_cast<double>(allocating) <= blocks / 10.0);
  }
}
#endif
