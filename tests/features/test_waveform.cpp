// Waveform features: duration, phases, turns, area, peak width, robust SD.

#include <catch2/catch.hpp>

#include <fasctrack/features/waveform.hpp>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

using namespace fasctrack;

namespace {

// A biphasic potential: one period of a sine of `period_ms` with amplitude a,
// centred in a zero window of n samples.
std::vector<double> biphasic(double fs, double period_ms, double a, Index n) {
  std::vector<double> w(static_cast<std::size_t>(n), 0.0);
  const Index len = static_cast<Index>(std::lround(period_ms * 1e-3 * fs));
  const Index start = n / 2 - len / 2;
  for (Index i = 0; i < len; ++i)
    w[static_cast<std::size_t>(start + i)] = a * std::sin(2.0 * std::numbers::pi * static_cast<double>(i) / static_cast<double>(len));
  return w;
}

}  // namespace

// A turn is a significant peak (the signal reverses by more than the
// hysteresis after it), as in needle EMG: a biphasic potential has two.
TEST_CASE("biphasic potential: two phases, two turns, duration ~ its length", "[features]") {
  const double fs = 10000.0;
  const auto w = biphasic(fs, 8.0, 50.0, 400);
  const Index pk = features::largest_deflection(w, 0, 400);
  const auto f = features::waveform_features(w, pk, 1.0, fs);
  CHECK(f.phases == 2);
  CHECK(f.turns == 2);
  CHECK(f.amplitude_uv == Approx(100.0).epsilon(0.01));
  // 10% level cuts ~3% of each lobe's ends: duration a bit under 8 ms.
  CHECK(f.duration_ms > 7.0);
  CHECK(f.duration_ms <= 8.0);
  // Area of |a sin| over one period: 2 * 2a / (2 pi / T) = 2aT/pi.
  CHECK(f.area_uv_ms == Approx(2.0 * 50.0 * 8.0 / std::numbers::pi).epsilon(0.05));
  CHECK(f.peak_width_ms == Approx(8.0 / 3.0).epsilon(0.1));
}

TEST_CASE("polyphasic potential counts its phases and turns; noise excursions far away do not stretch the duration",
          "[features]") {
  const double fs = 10000.0;
  std::vector<double> w(600, 0.0);
  // Five phases: 2.5 periods of a sine, 2 ms per period.
  for (Index i = 0; i < 50; ++i) w[static_cast<std::size_t>(250 + i)] = 40.0 * std::sin(2.0 * std::numbers::pi * i / 20.0);
  w[20] = 30.0;  // an isolated spike 23 ms before: not part of the potential
  const Index pk = features::largest_deflection(w, 240, 310);
  const auto f = features::waveform_features(w, pk, 1.0, fs);
  CHECK(f.phases == 5);
  CHECK(f.turns == 5);
  CHECK(f.duration_ms < 6.0);
  CHECK(f.onset >= 240);
}

// At low SNR a potential's opposite phases sink under the duration level
// (2.5 noise SDs) and the duration shrinks to its main phase. The peak to
// peak is still the potential's: its opposite phases lie within 3 ms of the
// main peak. Within the duration alone (span_uv), a main phase of -24 uV
// flanked by +12 uV phases measures 6 uV: a sixth of it.
TEST_CASE("the peak to peak takes in opposite phases too small for the duration", "[features]") {
  const double fs = 2048.0;
  std::vector<double> w(120, 0.0);
  const Index pk = 60;
  // Main phase -24 uV (~1.5 ms wide), flanked by +12 uV phases whose peaks
  // lie 1.5 ms away: under 2.5 x 6 uV, so outside the duration.
  const double shape[] = {2, 6, 10, 12, 10, 4, -8, -18, -24, -18, -8, 4, 10, 12, 10, 6, 2};
  for (Index i = 0; i < 17; ++i) w[static_cast<std::size_t>(pk - 8 + i)] = shape[i];
  const auto f = features::waveform_features(w, pk, 6.0, fs);
  CHECK(f.onset >= pk - 2);
  CHECK(f.offset <= pk + 2);
  CHECK(f.span_uv == Approx(24.0 - 18.0));
  CHECK(f.amplitude_uv == Approx(36.0));
  // Nothing beyond the reach: a phase 6 ms away is another potential's.
  w[static_cast<std::size_t>(pk + 12)] = 40.0;
  CHECK(features::waveform_features(w, pk, 6.0, fs).amplitude_uv == Approx(36.0));
}

TEST_CASE("features use the noise level: sub-noise wiggles add no phases", "[features]") {
  const double fs = 4096.0;
  auto w = biphasic(fs, 10.0, 30.0, 200);
  std::mt19937 rng(1);
  std::normal_distribution<double> n(0.0, 2.0);
  for (auto& v : w) v += n(rng);
  const Index pk = features::largest_deflection(w, 0, 200);
  const auto f = features::waveform_features(w, pk, 2.0, fs);
  CHECK(f.phases == 2);
  CHECK(f.turns == 2);
}

TEST_CASE("robust SD ignores a few large outliers", "[features]") {
  std::mt19937 rng(2);
  std::normal_distribution<double> n(0.0, 3.0);
  std::vector<double> x(4000);
  for (auto& v : x) v = n(rng);
  for (int i = 0; i < 40; ++i) x[static_cast<std::size_t>(i * 100)] = 500.0;
  std::vector<double> scratch;
  CHECK(features::robust_sd(x, scratch) == Approx(3.0).epsilon(0.06));
  CHECK(features::robust_sd({}, scratch) == 0.0);
}

TEST_CASE("largest deflection clamps its range", "[features]") {
  std::vector<double> w{0.0, -5.0, 3.0, 4.0};
  CHECK(features::largest_deflection(w, -10, 100) == 1);
  CHECK(features::largest_deflection(w, 2, 4) == 3);
}
