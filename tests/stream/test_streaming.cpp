// The streaming contract: any chunking gives the offline events exactly;
// float32 and float64 agree; latency is bounded; options are validated.

#include <catch2/catch.hpp>

#include <fasctrack/sim/simulate.hpp>
#include <fasctrack/stream/detector.hpp>

#include "stream/recordings.hpp"

#include <random>

using namespace fasctrack;

using test::small_bipolar;
using test::small_grid;

namespace {

template <class T>
RowMatrix<T> samples_as(const Recording& r) {
  return std::get<RowMatrix<double>>(r.samples).template cast<T>();
}

template <class T>
std::vector<Event> stream_in_chunks(const RowMatrix<T>& x, const Recording& r, std::mt19937_64& rng, Index max_chunk,
                                    std::vector<Mask>* masks = nullptr, Index* worst_delay = nullptr) {
  StreamingDetector<T> det(r.fs, r.channels);
  std::vector<Event> out;
  std::uniform_int_distribution<Index> size(0, max_chunk);
  Index i = 0;
  while (i < x.cols()) {
    const Index m = std::min(size(rng), x.cols() - i);
    auto ev = det.process(x.middleCols(i, m));
    i += m;
    for (const auto& e : ev) {
      if (worst_delay) *worst_delay = std::max(*worst_delay, det.samples_seen() - e.sample);
    }
    out.insert(out.end(), ev.begin(), ev.end());
  }
  auto tail = det.flush();
  out.insert(out.end(), tail.begin(), tail.end());
  if (masks) *masks = det.result().masks;
  if (worst_delay) CHECK(*worst_delay <= det.latency_samples());
  return out;
}

}  // namespace

TEST_CASE("random chunkings give the offline events exactly (grid and bipolar, float and double)", "[stream]") {
  for (int geometry = 0; geometry < 2; ++geometry) {
    const auto s = geometry == 0 ? small_grid(21) : small_bipolar(22);
    const auto& r = s.recording;
    const auto offline = detect(r);
    REQUIRE(offline.events.size() >= 3);
    std::mt19937_64 rng(5 + geometry);
    for (Index max_chunk : {Index{3}, Index{700}, Index{5000}, Index{100000}}) {
      std::vector<Mask> masks;
      const auto x = samples_as<double>(r);
      const auto streamed = stream_in_chunks<double>(x, r, rng, max_chunk, &masks);
      CHECK(streamed == offline.events);
      CHECK(masks == offline.masks);
    }
    const auto xf = samples_as<float>(r);
    const auto streamed_f = stream_in_chunks<float>(xf, r, rng, 4000);
    const auto offline_f = detect<float>(xf, r.fs, r.channels);
    CHECK(streamed_f == offline_f.events);
  }
}

TEST_CASE("one-sample chunks on a short recording equal offline", "[stream]") {
  const auto s = small_grid(23, 5.0);
  const auto& r = s.recording;
  const auto offline = detect(r);
  const auto x = samples_as<double>(r);
  StreamingDetector<double> det(r.fs, r.channels);
  std::vector<Event> out;
  for (Index i = 0; i < x.cols(); ++i) {
    auto ev = det.process(x.middleCols(i, 1));
    out.insert(out.end(), ev.begin(), ev.end());
  }
  const auto none = det.process(x.middleCols(0, 0));
  CHECK(none.empty());
  auto tail = det.flush();
  out.insert(out.end(), tail.begin(), tail.end());
  CHECK(out == offline.events);
  CHECK(det.result().masks == offline.masks);
}

TEST_CASE("float32 and float64 inputs with the same values give the same events", "[stream]") {
  const auto s = small_grid(24);
  const auto& r = s.recording;
  const RowMatrix<float> xf = samples_as<float>(r);
  const RowMatrix<double> xd = xf.cast<double>();
  const auto ef = detect<float>(xf, r.fs, r.channels);
  const auto ed = detect<double>(xd, r.fs, r.channels);
  REQUIRE(!ed.events.empty());
  CHECK(ef.events == ed.events);
  CHECK(ef.masks == ed.masks);
}

TEST_CASE("events are emitted within the reported latency", "[stream]") {
  const auto s = small_bipolar(25, 20.0);
  const auto& r = s.recording;
  const auto x = samples_as<double>(r);
  std::mt19937_64 rng(9);
  Index worst = 0;
  const auto ev = stream_in_chunks<double>(x, r, rng, 300, nullptr, &worst);
  REQUIRE(!ev.empty());
  StreamingDetector<double> det(r.fs, r.channels);
  CHECK(worst > 0);
  CHECK(worst <= det.latency_samples());
  // Bounded: the longest mains probe plus a few seconds of decision delays;
  // with the mains frequency given there is no probe to grow.
  const DetectOptions o;
  CHECK(det.latency_samples() < static_cast<Index>((o.mains_probe_max_s + 3.0) * r.fs));
  DetectOptions fixed;
  fixed.mains = filter::MainsMode::hz50;
  StreamingDetector<double> det50(r.fs, r.channels, fixed);
  CHECK(det50.latency_samples() < static_cast<Index>(5.0 * r.fs));
}

TEST_CASE("reset returns the detector to a fresh state", "[stream]") {
  const auto s = small_grid(26, 6.0);
  const auto& r = s.recording;
  const auto x = samples_as<double>(r);
  StreamingDetector<double> det(r.fs, r.channels);
  auto a = det.process(x);
  auto at = det.flush();
  a.insert(a.end(), at.begin(), at.end());
  det.reset();
  CHECK(det.samples_seen() == 0);
  auto b = det.process(x);
  auto bt = det.flush();
  b.insert(b.end(), bt.begin(), bt.end());
  CHECK(a == b);
}

TEST_CASE("configuration errors throw at construction", "[stream]") {
  std::vector<ChannelInfo> ch(2);
  ch[0].name = "a";
  ch[1].name = "b";
  CHECK_THROWS_AS(StreamingDetector<double>(0.0, ch), std::invalid_argument);
  CHECK_THROWS_AS(StreamingDetector<double>(2048.0, {}), std::invalid_argument);
  DetectOptions o;
  o.threshold_sd = -1.0;
  CHECK_THROWS_AS(StreamingDetector<double>(2048.0, ch, o), std::invalid_argument);
  o = {};
  o.highpass_hz = 600.0;
  CHECK_THROWS_AS(StreamingDetector<float>(1000.0, ch, o), std::invalid_argument);
  o = {};
  o.doublet_max_ms = 2.0;
  CHECK_THROWS_AS(o.validate(2048.0), std::invalid_argument);
  StreamingDetector<double> det(2048.0, ch);
  RowMatrix<double> wrong(3, 10);
  CHECK_THROWS_AS(det.process(wrong), std::invalid_argument);
}

TEST_CASE("progress callback is called and can cancel", "[stream]") {
  const auto s = small_bipolar(27, 4.0);
  const auto& r = s.recording;
  int calls = 0;
  double last = 0.0;
  const auto res = detect(r, {}, [&](double f) {
    ++calls;
    CHECK(f >= last);
    last = f;
    return true;
  });
  CHECK(calls >= 6);
  CHECK(last == Approx(1.0));
  CHECK_THROWS_AS(detect(r, {}, [](double) { return false; }), Cancelled);
}

TEST_CASE("empty and very short streams", "[stream]") {
  std::vector<ChannelInfo> ch(1);
  ch[0].name = "a";
  StreamingDetector<double> det(2048.0, ch);
  CHECK(det.flush().empty());
  RowMatrix<double> x = RowMatrix<double>::Zero(1, 100);
  const auto res = detect<double>(x, 2048.0, ch);
  CHECK(res.events.empty());
  CHECK(res.latency_samples > 0);
}
