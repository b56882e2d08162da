// Concurrency: fasctrack keeps no unsynchronised global state, so independent
// calls on different threads (the Python bindings release the GIL) give the
// results of serial calls. Built and run under ThreadSanitizer by ./dev test
// (tag [threads]); in ordinary builds it checks the results.

#include <catch2/catch.hpp>

#include <fasctrack/filter/condition.hpp>
#include <fasctrack/io/read.hpp>
#include <fasctrack/sim/simulate.hpp>
#include <fasctrack/stream/detector.hpp>

#include <string>
#include <thread>
#include <vector>

using namespace fasctrack;

namespace {

sim::Simulation small(std::uint64_t seed) {
  sim::SimulationOptions so;
  so.rows = 3;
  so.columns = 3;
  so.duration_s = 6.0;
  so.rate_per_min = 60.0;
  so.amplitude_min_uv = 50.0;
  so.amplitude_max_uv = 90.0;
  so.seed = seed;
  return sim::simulate(so);
}

template <class F>
void in_parallel(int n, F&& f) {
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) threads.emplace_back([&f, i] { f(i); });
  for (auto& t : threads) t.join();
}

}  // namespace

TEST_CASE("detect() on several threads at once equals serial detect()", "[stream][threads]") {
  constexpr int kThreads = 4;
  std::vector<sim::Simulation> sims;
  for (int i = 0; i < kThreads; ++i) sims.push_back(small(100 + static_cast<std::uint64_t>(i % 2)));
  std::vector<DetectionResult> serial;
  for (const auto& s : sims) serial.push_back(detect(s.recording));

  std::vector<DetectionResult> parallel(kThreads);
  // Threads 0/2 and 1/3 share one recording (read-only) between them.
  in_parallel(kThreads, [&](int i) { parallel[static_cast<std::size_t>(i)] = detect(sims[static_cast<std::size_t>(i)].recording); });
  for (int i = 0; i < kThreads; ++i) {
    CHECK(parallel[static_cast<std::size_t>(i)].events == serial[static_cast<std::size_t>(i)].events);
    CHECK(parallel[static_cast<std::size_t>(i)].masks == serial[static_cast<std::size_t>(i)].masks);
  }
}

TEST_CASE("streaming detectors on separate threads, fed in chunks, equal offline", "[stream][threads]") {
  constexpr int kThreads = 3;
  const auto s = small(110);
  const auto& r = s.recording;
  const auto& x = std::get<RowMatrix<double>>(r.samples);
  const auto offline = detect(r);
  std::vector<std::vector<Event>> got(kThreads);
  in_parallel(kThreads, [&](int i) {
    StreamingDetector<double> det(r.fs, r.channels);
    const Index chunk = 97 + 400 * i;
    auto& out = got[static_cast<std::size_t>(i)];
    for (Index t = 0; t < x.cols(); t += chunk) {
      auto ev = det.process(x.middleCols(t, std::min(chunk, x.cols() - t)));
      out.insert(out.end(), ev.begin(), ev.end());
    }
    auto tail = det.flush();
    out.insert(out.end(), tail.begin(), tail.end());
  });
  for (const auto& g : got) CHECK(g == offline.events);
}

TEST_CASE("readers and conditioning on several threads at once", "[io][threads]") {
  const std::string real = FASCTRACK_REAL_DATA_DIR;
  // EDFlib (global table, behind a lock), the fallback EDF decoder, WFDB and text.
  const std::vector<std::string> files = {real + "/mne-python-edf-bdf/test_edf_stim_channel.edf",
                                          real + "/mne-python-edf-bdf/test.bdf",
                                          real + "/physionet-emgdb/emg_healthy.hea",
                                          real + "/biosppy-emg/emg_1.txt",
                                          real + "/mne-python-edf-bdf/duplicate_channel_labels.edf",
                                          std::string(FASCTRACK_SOURCE_DIR) + "/data/sub-01_ses-01_task-rest_emg.edf"};
  std::vector<RowMatrix<double>> serial;
  for (const auto& f : files) serial.push_back(std::get<RowMatrix<double>>(io::read(f).samples));

  std::vector<RowMatrix<double>> read(files.size()), conditioned(files.size());
  in_parallel(static_cast<int>(files.size()), [&](int i) {
    const auto k = static_cast<std::size_t>(i);
    const Recording rec = io::read(files[k]);
    read[k] = std::get<RowMatrix<double>>(rec.samples);
    // Mains detection and conditioning plan FFTs concurrently (plan cache).
    filter::ConditionOptions o;
    o.lowpass_hz = 0.4 * rec.fs;
    o.highpass_hz = std::min(20.0, 0.1 * rec.fs);
    conditioned[k] = filter::condition<double>(read[k], rec.fs, o).data;
  });
  for (std::size_t k = 0; k < files.size(); ++k) {
    INFO(files[k]);
    CHECK(read[k].cwiseEqual(serial[k]).all());
    CHECK(conditioned[k].rows() == serial[k].rows());
  }
}

TEST_CASE("detection results do not depend on DetectOptions::n_threads", "[stream][threads]") {
  // An 8x8 grid (common-mode cancellation, channel ranges on 16-channel
  // boundaries) with ECG, and a 3x3 grid (too few channels to split: one range).
  sim::SimulationOptions grid;
  grid.duration_s = 8.0;
  grid.rate_per_min = 40.0;
  grid.ecg_uv = 100.0;
  grid.seed = 21;
  for (const auto& s : {sim::simulate(grid), small(120)}) {
    const auto& r = s.recording;
    DetectOptions one;
    one.n_threads = 1;
    const auto expected = detect(r, one);
    REQUIRE(!expected.events.empty());
    for (int n : {2, 3, 5}) {
      INFO("channels " << r.n_channels() << ", threads " << n);
      DetectOptions o;
      o.n_threads = n;
      const auto got = detect(r, o);
      CHECK(got.events == expected.events);
      CHECK(got.masks == expected.masks);
      CHECK(got.summary.noise_floor_uv == expected.summary.noise_floor_uv);
      CHECK(got.units.size() == expected.units.size());
    }
    // A stream on three threads, fed uneven chunks, equals offline on one.
    const auto& x = std::get<RowMatrix<double>>(r.samples);
    DetectOptions o;
    o.n_threads = 3;
    StreamingDetector<double> det(r.fs, r.channels, o);
    std::vector<Event> streamed;
    for (Index t = 0, chunk = 1; t < x.cols(); t += chunk, chunk = chunk * 3 % 1001 + 1) {
      auto ev = det.process(x.middleCols(t, std::min(chunk, x.cols() - t)));
      streamed.insert(streamed.end(), ev.begin(), ev.end());
    }
    auto tail = det.flush();
    streamed.insert(streamed.end(), tail.begin(), tail.end());
    CHECK(streamed == expected.events);
  }
}

TEST_CASE("n_threads out of range is a configuration error", "[stream][threads]") {
  DetectOptions o;
  o.n_threads = -1;
  CHECK_THROWS_WITH(o.validate(2048.0), Catch::Contains("n_threads"));
}
