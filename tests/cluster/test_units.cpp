// UnitTracker: sequential template matching of synthetic surface MUAPs.

#include <catch2/catch.hpp>

#include <fasctrack/cluster/units.hpp>

#include "cluster/muap_synth.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>
#include <set>
#include <stdexcept>
#include <vector>

using namespace fasctrack;
using cluster::ClusterOptions;
using cluster::UnitTracker;

namespace {

constexpr double kFs = 2048.0;
constexpr Index kSnippet = 83;  // +-20 ms at 2048 Hz, what the detector keeps

struct Run {
  std::vector<int> truth, labels;
  int n_units = 0;
};

std::vector<double> grid_noise_sd(double base_uv, std::mt19937& rng) {
  std::uniform_real_distribution<double> u(0.8, 1.2);  // electrodes differ in contact and noise
  std::vector<double> sd(64);
  for (auto& s : sd) s = base_uv * u(rng);
  return sd;
}

// Discharges of the given grid units in random interleaved order.
Run run_grid(const std::vector<test::GridUnit>& units, int per_unit, double noise_uv, unsigned seed,
             double amplitude_jitter = 0.05, ClusterOptions options = {}) {
  std::mt19937 rng(seed);
  const auto sd = grid_noise_sd(noise_uv, rng);
  std::vector<int> order;
  for (int u = 0; u < static_cast<int>(units.size()); ++u) order.insert(order.end(), per_unit, u);
  std::shuffle(order.begin(), order.end(), rng);
  std::uniform_real_distribution<double> jitter_t(-0.5 / kFs * 1000.0, 0.5 / kFs * 1000.0);
  std::uniform_real_distribution<double> jitter_a(1.0 - amplitude_jitter, 1.0 + amplitude_jitter);
  UnitTracker tracker(64, kSnippet, kFs, options);
  Run run;
  for (int u : order) {
    auto x = test::grid_discharge(units[static_cast<std::size_t>(u)], kSnippet, kFs, jitter_t(rng), jitter_a(rng));
    test::add_noise(x, sd, rng);
    run.truth.push_back(u);
    run.labels.push_back(tracker.assign(x, sd));
  }
  for (int& label : run.labels) label = tracker.canonical(label);
  run.n_units = tracker.n_live_units();
  return run;
}

Run run_channel(const std::vector<test::Shape>& shapes, double peak_uv, int per_unit, double noise_uv,
                unsigned seed, double amplitude_jitter = 0.05) {
  std::mt19937 rng(seed);
  std::vector<int> order;
  for (int u = 0; u < static_cast<int>(shapes.size()); ++u) order.insert(order.end(), per_unit, u);
  std::shuffle(order.begin(), order.end(), rng);
  std::uniform_real_distribution<double> jitter_t(-0.5 / kFs * 1000.0, 0.5 / kFs * 1000.0);
  std::uniform_real_distribution<double> jitter_a(1.0 - amplitude_jitter, 1.0 + amplitude_jitter);
  const std::vector<double> sd{noise_uv};
  UnitTracker tracker(1, kSnippet, kFs);
  Run run;
  for (int u : order) {
    auto x = test::channel_discharge(shapes[static_cast<std::size_t>(u)], peak_uv, kSnippet, kFs, jitter_t(rng),
                                     jitter_a(rng));
    test::add_noise(x, sd, rng);
    run.truth.push_back(u);
    run.labels.push_back(tracker.assign(x, sd));
  }
  for (int& label : run.labels) label = tracker.canonical(label);
  run.n_units = tracker.n_live_units();
  return run;
}

// Four units with distinct, partly overlapping footprints and slightly
// different waveforms, as on a grid over one muscle.
std::vector<test::GridUnit> four_grid_units(double peak_uv) {
  std::vector<test::GridUnit> u(4);
  u[0] = {test::triphasic(1.2), 2.0, 2.0, 1.5, peak_uv * 1.0};
  u[1] = {test::triphasic(1.5), 2.0, 5.5, 1.5, peak_uv * 0.9};
  u[2] = {test::triphasic(1.0), 5.5, 2.5, 1.8, peak_uv * 0.8};
  u[3] = {test::triphasic(1.3), 5.0, 5.0, 1.2, peak_uv * 1.1};
  return u;
}

std::vector<test::Shape> distinct_shapes() {
  return {
      test::triphasic(1.2),
      test::Shape{{1.0, -1.0}, {-1.5, 0.0}, {0.7, 0.7}},                      // biphasic, positive first
      test::Shape{{0.3, -1.0, 0.5}, {-4.5, 0.0, 4.8}, {2.0, 2.5, 2.8}},       // broad triphasic
      test::Shape{{0.5, -1.0, 0.8, -0.7, 0.4}, {-2.0, 0.0, 1.6, 3.2, 4.8}, {0.6, 0.6, 0.6, 0.6, 0.7}},  // polyphasic
  };
}

}  // namespace

// SNR here is the peak |amplitude| on the unit's peak channel over the noise
// SD. The detector only reports discharges >= 5 SD on some channel, so SNR 4
// is already past what the tracker will meet in practice.

TEST_CASE("UnitTracker separates grid units by footprint", "[cluster]") {
  const double snr = GENERATE(10.0, 6.0, 4.0);
  const unsigned seed = GENERATE(1u, 2u, 3u);
  const double noise = 5.0;
  const Run run = run_grid(four_grid_units(snr * noise), 50, noise, seed);
  const double ari = test::adjusted_rand_index(run.truth, run.labels);
  INFO("grid, 4 units x 50, peak SNR " << snr << " seed " << seed << ": ARI " << ari << ", " << run.n_units
                                       << " live units");
  CHECK(ari >= (snr >= 6.0 ? 0.95 : 0.85));
}

TEST_CASE("UnitTracker separates neighbouring grid units with the same waveform", "[cluster]") {
  // Same triphasic shape and size, innervation centres 2 electrodes apart
  // (16 mm): only the footprint tells them apart.
  const unsigned seed = GENERATE(4u, 5u);
  const double noise = 5.0;
  std::vector<test::GridUnit> units{{test::triphasic(1.3), 3.0, 2.5, 1.5, 10 * noise},
                                    {test::triphasic(1.3), 3.0, 4.5, 1.5, 10 * noise}};
  const Run run = run_grid(units, 60, noise, seed);
  const double ari = test::adjusted_rand_index(run.truth, run.labels);
  INFO("seed " << seed << ": ARI " << ari << ", " << run.n_units << " live units");
  CHECK(ari >= 0.95);
}

TEST_CASE("UnitTracker separates units that differ only in size", "[cluster]") {
  const double noise = 5.0;
  std::vector<test::GridUnit> units{{test::triphasic(1.3), 3.0, 3.0, 1.5, 8 * noise},
                                    {test::triphasic(1.3), 3.0, 3.0, 1.5, 20 * noise}};
  const Run run = run_grid(units, 40, noise, 7u);
  const double ari = test::adjusted_rand_index(run.truth, run.labels);
  INFO("ARI " << ari << ", " << run.n_units << " live units");
  CHECK(ari >= 0.95);
}

TEST_CASE("UnitTracker separates single-channel units by shape", "[cluster]") {
  const auto shapes = distinct_shapes();
  // The construction is what the test claims: every pair of shapes
  // correlates below 0.7 at its best lag within +-1 ms (on a 20 kHz grid, so
  // that no sub-sample alignment does better).
  double worst = -1.0;
  const double fine_fs = 20000.0;
  const Index fine_n = 801;
  for (std::size_t a = 0; a < shapes.size(); ++a)
    for (std::size_t b = a + 1; b < shapes.size(); ++b)
      for (int lag = -20; lag <= 20; ++lag) {
        const auto xa = test::channel_discharge(shapes[a], 1.0, fine_n, fine_fs, 0.0, 1.0);
        const auto xb = test::channel_discharge(shapes[b], 1.0, fine_n, fine_fs, lag / fine_fs * 1000.0, 1.0);
        worst = std::max(worst, test::correlation(xa, xb));
      }
  REQUIRE(worst < 0.7);
  REQUIRE(worst > 0.65);  // and the closest pair is close to that limit

  const double noise = 5.0;
  SECTION("clear shapes at peak SNR 10-20: every run separates") {
    const double snr = GENERATE(20.0, 10.0);
    const unsigned seed = GENERATE(1u, 2u, 3u);
    const Run run = run_channel(shapes, snr * noise, 50, noise, seed);
    const double ari = test::adjusted_rand_index(run.truth, run.labels);
    INFO("one channel, 4 shapes x 50, peak SNR " << snr << " seed " << seed << ": ARI " << ari << ", "
                                                 << run.n_units << " live units");
    CHECK(ari >= 0.95);
  }
  SECTION("peak SNR 6: on average") {
    // At SNR 6 on a single channel the noise moves r by ~0.1, the gap between
    // the closest pair (0.68) and the threshold (0.8); some runs merge that
    // pair early, so the mean over runs is what is checked.
    double sum = 0.0;
    const int runs = 6;
    for (int seed = 1; seed <= runs; ++seed) {
      const Run run = run_channel(shapes, 6 * noise, 50, noise, static_cast<unsigned>(seed));
      sum += test::adjusted_rand_index(run.truth, run.labels);
    }
    INFO("mean ARI " << sum / runs);
    CHECK(sum / runs >= 0.85);
  }
}

namespace {
// Share of the discharges in the largest unit.
double largest_share(const Run& run) {
  std::map<int, int> sizes;
  for (int l : run.labels) ++sizes[l];
  int most = 0;
  for (const auto& [label, n] : sizes) most = std::max(most, n);
  return static_cast<double>(most) / static_cast<double>(run.labels.size());
}
}  // namespace

TEST_CASE("UnitTracker keeps one noisy grid unit together", "[cluster]") {
  const double snr = GENERATE(6.0, 4.0, 3.0);
  const unsigned seed = GENERATE(11u, 12u, 13u);
  const double noise = 5.0;
  const std::vector<test::GridUnit> unit{{test::triphasic(1.3), 3.2, 4.1, 1.5, snr * noise}};
  const Run run = run_grid(unit, 200, noise, seed);
  INFO("peak SNR " << snr << " seed " << seed << ": " << run.n_units << " live units, largest unit holds "
                   << largest_share(run));
  if (snr >= 4.0) CHECK(run.n_units == 1);
  CHECK(largest_share(run) >= 0.98);  // at SNR 3 a rare discharge may stand alone
}

TEST_CASE("UnitTracker keeps one noisy single-channel unit together", "[cluster]") {
  const double snr = GENERATE(8.0, 6.0, 4.0);
  const unsigned seed = GENERATE(11u, 12u, 13u);
  const double noise = 5.0;
  const Run run = run_channel({test::triphasic(1.2)}, snr * noise, 200, noise, seed);
  INFO("peak SNR " << snr << " seed " << seed << ": " << run.n_units << " live units, largest unit holds "
                   << largest_share(run));
  if (snr >= 6.0) CHECK(run.n_units == 1);
  CHECK(largest_share(run) >= 0.98);
}

TEST_CASE("UnitTracker follows slow amplitude drift", "[cluster]") {
  // 40 % growth over 300 discharges (e.g. electrode contact improving over a
  // session): the exponential template update follows it.
  std::mt19937 rng(21);
  const double noise = 5.0;
  const auto sd = grid_noise_sd(noise, rng);
  test::GridUnit unit{test::triphasic(1.3), 3.0, 3.0, 1.5, 8 * noise};
  UnitTracker tracker(64, kSnippet, kFs);
  std::set<int> labels;
  for (int i = 0; i < 300; ++i) {
    auto x = test::grid_discharge(unit, kSnippet, kFs, 0.0, 1.0 + 0.4 * i / 299.0);
    test::add_noise(x, sd, rng);
    labels.insert(tracker.canonical(tracker.assign(x, sd)));
  }
  CHECK(labels.size() == 1);
  CHECK(tracker.n_live_units() == 1);
}

TEST_CASE("UnitTracker is deterministic and resets", "[cluster]") {
  const auto units = four_grid_units(30.0);
  const Run a = run_grid(units, 20, 5.0, 9u);
  const Run b = run_grid(units, 20, 5.0, 9u);
  CHECK(a.labels == b.labels);

  std::mt19937 rng(3);
  const auto sd = grid_noise_sd(5.0, rng);
  UnitTracker tracker(64, kSnippet, kFs);
  auto x = test::grid_discharge(units[0], kSnippet, kFs, 0.0, 1.0);
  CHECK(tracker.assign(x, sd) == 0);
  CHECK(tracker.assign(test::grid_discharge(units[1], kSnippet, kFs, 0.0, 1.0), sd) == 1);
  CHECK(tracker.assign(x, sd) == 0);
  REQUIRE(tracker.units().size() == 2);
  CHECK(tracker.units()[0].count == 2);
  CHECK(tracker.units()[0].similarity_sum == Approx(1.0));
  CHECK(tracker.units()[0].noise_variance == Approx(0.5));
  tracker.reset();
  CHECK(tracker.units().empty());
  CHECK(tracker.assign(test::grid_discharge(units[1], kSnippet, kFs, 0.0, 1.0), sd) == 0);
}

TEST_CASE("UnitTracker validates shapes and options", "[cluster]") {
  CHECK_THROWS_AS(UnitTracker(0, 41, kFs), std::invalid_argument);
  CHECK_THROWS_AS(UnitTracker(4, 40, kFs), std::invalid_argument);  // even: no centre sample
  CHECK_THROWS_AS(UnitTracker(4, 41, 0.0), std::invalid_argument);
  ClusterOptions bad;
  bad.max_amplitude_ratio = 1.0;
  CHECK_THROWS_AS(UnitTracker(4, 41, kFs, bad), std::invalid_argument);
  bad = {};
  bad.template_weight = 0.0;
  CHECK_THROWS_AS(UnitTracker(4, 41, kFs, bad), std::invalid_argument);
  bad = {};
  bad.match_threshold = 1.5;
  CHECK_THROWS_AS(UnitTracker(4, 41, kFs, bad), std::invalid_argument);

  UnitTracker tracker(4, 41, kFs);
  const std::vector<double> sd(4, 5.0);
  CHECK_THROWS_AS(tracker.assign(RowMatrix<float>::Zero(4, 39), sd), std::invalid_argument);
  CHECK_THROWS_AS(tracker.assign(RowMatrix<float>::Zero(3, 41), sd), std::invalid_argument);
  CHECK_THROWS_AS(tracker.assign(RowMatrix<float>::Zero(4, 41), std::vector<double>(3, 5.0)), std::invalid_argument);
  CHECK_THROWS_AS(tracker.assign(RowMatrix<float>::Zero(4, 41), std::vector<double>(4, 0.0)), std::invalid_argument);
  CHECK(tracker.units().empty());
}

TEST_CASE("UnitTracker ignores channels without a usable noise SD and non-finite samples", "[cluster]") {
  // A disconnected channel (SD 0) full of garbage must not decide the match.
  const test::Shape shape = test::triphasic(1.2);
  std::vector<double> sd{5.0, 5.0, 0.0};
  UnitTracker tracker(3, kSnippet, kFs);
  std::mt19937 rng(5);
  std::normal_distribution<double> g(0.0, 50.0);
  for (int i = 0; i < 20; ++i) {
    RowMatrix<float> x(3, kSnippet);
    x.row(0) = test::channel_discharge(shape, 60.0, kSnippet, kFs, 0.0, 1.0);
    x.row(1) = test::channel_discharge(shape, -40.0, kSnippet, kFs, 0.0, 1.0);
    for (Index j = 0; j < kSnippet; ++j) x(2, j) = static_cast<float>(g(rng));
    if (i % 3 == 0) x(2, 5) = std::numeric_limits<float>::quiet_NaN();
    CHECK(tracker.assign(x, sd) == 0);
  }
}

TEST_CASE("UnitTracker copes with band-limited noise at a high sampling rate", "[cluster]") {
  // 10 kHz with noise low-passed at 500 Hz: neighbouring noise samples are
  // strongly correlated, so a discharge's measured energy varies ~10x more
  // than white-noise arithmetic predicts. The tracker learns the noise
  // autocorrelation and must neither split one unit nor merge distinct shapes.
  const double fs = 10000.0;
  const Index n = 2 * static_cast<Index>(0.020 * fs) + 1;
  const double noise = 5.0;
  const std::vector<double> sd{noise};
  const auto shapes = distinct_shapes();
  const unsigned seed = GENERATE(31u, 32u);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> jitter_t(-0.05, 0.05);
  std::uniform_real_distribution<double> jitter_a(0.95, 1.05);

  SECTION("one unit at peak SNR 6") {
    UnitTracker tracker(1, n, fs);
    std::vector<int> labels;
    for (int i = 0; i < 200; ++i) {
      auto x = test::channel_discharge(shapes[0], 6 * noise, n, fs, jitter_t(rng), jitter_a(rng));
      test::add_lowpass_noise(x, sd, fs, 500.0, rng);
      labels.push_back(tracker.assign(x, sd));
    }
    for (int& l : labels) l = tracker.canonical(l);
    const auto held = std::count(labels.begin(), labels.end(), labels.front());
    INFO("seed " << seed << ": " << tracker.n_live_units() << " live units, largest unit holds " << held);
    CHECK(held >= 196);
  }
  SECTION("four shapes at peak SNR 10") {
    std::vector<int> order;
    for (int u = 0; u < 4; ++u) order.insert(order.end(), 50, u);
    std::shuffle(order.begin(), order.end(), rng);
    UnitTracker tracker(1, n, fs);
    std::vector<int> labels;
    for (int u : order) {
      auto x = test::channel_discharge(shapes[static_cast<std::size_t>(u)], 10 * noise, n, fs, jitter_t(rng),
                                       jitter_a(rng));
      test::add_lowpass_noise(x, sd, fs, 500.0, rng);
      labels.push_back(tracker.assign(x, sd));
    }
    for (int& l : labels) l = tracker.canonical(l);
    const double ari = test::adjusted_rand_index(order, labels);
    INFO("seed " << seed << ": ARI " << ari << ", " << tracker.n_live_units() << " live units");
    CHECK(ari >= 0.9);
  }
}

namespace {
// A complex potential: an early fibre group (at early_ms, default 10 ms
// before the main phase) 0.85 of the main phase's size, so noise decides
// which is the larger in a single discharge.
test::Shape two_phase(double early_ms = -10.0) {
  return test::Shape{{-0.85, 0.3, -1.0, 0.45}, {early_ms, early_ms + 2.0, 0.0, 2.0}, {0.9, 1.0, 1.0, 1.2}};
}

// One noisy discharge of that potential on two channels, centred on its
// main phase (centre_ms = 0) or on another one (centre_ms = early_ms).
RowMatrix<float> two_phase_discharge(const test::Shape& shape, double centre_ms, const std::vector<double>& sd,
                                     std::mt19937& rng) {
  RowMatrix<float> x(2, kSnippet);
  x.row(0) = test::channel_discharge(shape, 60.0, kSnippet, kFs, -centre_ms, 1.0);
  x.row(1) = test::channel_discharge(shape, -35.0, kSnippet, kFs, -centre_ms, 1.0);
  test::add_noise(x, sd, rng);
  return x;
}
}  // namespace

TEST_CASE("UnitTracker realigns a discharge timed on another phase of its unit's potential", "[cluster]") {
  // The outer phases of a complex potential (fibre groups 4-6 ms apart) lie
  // up to ~15 ms apart: both offsets are within the default search.
  const double early_ms = GENERATE(-10.0, -14.0);
  const test::Shape shape = two_phase(early_ms);
  const std::vector<double> sd{4.0, 4.0};
  const Index early = static_cast<Index>(std::lround(early_ms * 1e-3 * kFs));
  auto discharge = [&](double centre_ms, std::mt19937& rng) { return two_phase_discharge(shape, centre_ms, sd, rng); };
  for (const double realign_ms : {ClusterOptions{}.realign_lag_ms, 0.0}) {
    ClusterOptions options;
    options.realign_lag_ms = realign_ms;
    UnitTracker tracker(2, kSnippet, kFs, options);
    std::mt19937 rng(11);
    for (int i = 0; i < 6; ++i) {
      REQUIRE(tracker.assign(discharge(0.0, rng), sd) == 0);
      CHECK(std::abs(tracker.last_lag()) <= 2);
    }
    const int unit = tracker.assign(discharge(early_ms, rng), sd);
    if (realign_ms > 0.0) {
      CHECK(unit == 0);
      // Template column j matches snippet column j + lag: the main phase
      // (template centre) lies 10 ms after the snippet's centre.
      CHECK(std::abs(tracker.last_lag() + early) <= 2);
    } else {
      CHECK(unit == 1);  // without the wide search: a unit per phase
      CHECK(tracker.last_lag() == 0);
    }
  }
}

TEST_CASE("UnitTracker realigns a discharge onto a unit seen twice or onto a clear founder on a grid", "[cluster]") {
  // A complex potential is timed on its main phase and then on its early
  // phase, as a noisy recording times it discharge by discharge.
  const double early_ms = -10.0;
  const test::Shape shape = two_phase(early_ms);
  const std::vector<double> sd{4.0, 4.0};
  const Index early = static_cast<Index>(std::lround(early_ms * 1e-3 * kFs));
  auto discharge = [&](double centre_ms, std::mt19937& rng) { return two_phase_discharge(shape, centre_ms, sd, rng); };
  for (unsigned seed = 1; seed <= 5; ++seed) {
    std::mt19937 rng(seed);
    {
      // On a grid (9 or more channels; here the potential on two of them
      // and noise on seven) a founder alone is searched when no averaged
      // template matches; this potential (9-15 noise SDs) correlates with
      // its founder far above kFounderRealignRawCorrelation before the
      // noise correction.
      const std::vector<double> sd9(9, 4.0);
      auto on_grid = [&](double centre_ms) {
        RowMatrix<float> x = RowMatrix<float>::Zero(9, kSnippet);
        x.topRows(2) = discharge(centre_ms, rng);
        RowMatrix<float> rest = RowMatrix<float>::Zero(7, kSnippet);
        test::add_noise(rest, std::vector<double>(7, 4.0), rng);
        x.bottomRows(7) = rest;
        return x;
      };
      UnitTracker tracker(9, kSnippet, kFs);
      REQUIRE(tracker.assign(on_grid(0.0), sd9) == 0);
      CHECK(tracker.assign(on_grid(early_ms), sd9) == 0);
      CHECK(std::abs(tracker.last_lag() + early) <= 2);
      // Not a tentative discharge: that joins only a unit seen twice.
      UnitTracker tentative(9, kSnippet, kFs);
      REQUIRE(tentative.assign(on_grid(0.0), sd9) == 0);
      CHECK(tentative.assign(on_grid(early_ms), sd9, false) == -1);
      // Nor on two leads: there a founder alone is not searched that wide.
      UnitTracker leads(2, kSnippet, kFs);
      REQUIRE(leads.assign(discharge(0.0, rng), sd) == 0);
      CHECK(leads.assign(discharge(early_ms, rng), sd) == 1);
    }
    // A template of two already takes it, at the early phase's offset.
    UnitTracker tracker(2, kSnippet, kFs);
    REQUIRE(tracker.assign(discharge(0.0, rng), sd) == 0);
    REQUIRE(tracker.assign(discharge(0.0, rng), sd) == 0);
    CHECK(tracker.assign(discharge(early_ms, rng), sd) == 0);
    CHECK(std::abs(tracker.last_lag() + early) <= 2);
    CHECK(tracker.units().size() == 1);
    CHECK(tracker.units()[0].count == 3);
  }
}

TEST_CASE("UnitTracker does not realign a discharge onto another one in its snippet", "[cluster]") {
  // A small discharge of an unknown unit whose snippet also holds a large
  // discharge of a known one 10 ms later: aligned onto that one, it would
  // match its template almost perfectly, but the template is silent where
  // the small discharge itself peaks.
  const std::vector<double> sd{4.0, 4.0};
  auto two_channels = [&](const test::Shape& shape, double a0, double a1, double at_ms) {
    RowMatrix<float> x(2, kSnippet);
    x.row(0) = test::channel_discharge(shape, a0, kSnippet, kFs, at_ms, 1.0);
    x.row(1) = test::channel_discharge(shape, a1, kSnippet, kFs, at_ms, 1.0);
    return x;
  };
  const test::Shape big = test::triphasic(1.2);
  const test::Shape small{{0.6, -0.4}, {-0.8, 0.8}, {0.7, 0.7}};
  UnitTracker tracker(2, kSnippet, kFs);
  std::mt19937 rng(3);
  for (int i = 0; i < 6; ++i) {
    auto x = two_channels(big, 120.0, -60.0, 0.0);
    test::add_noise(x, sd, rng);
    REQUIRE(tracker.assign(x, sd) == 0);
  }
  for (const double later_ms : {8.0, 10.0, 12.0}) {
    RowMatrix<float> x = two_channels(small, 30.0, 20.0, 0.0);
    x += two_channels(big, 120.0, -60.0, later_ms);
    test::add_noise(x, sd, rng);
    CHECK(tracker.assign(x, sd) != 0);
  }
}

TEST_CASE("UnitTracker takes a tentative discharge only into a unit seen twice", "[cluster]") {
  const test::Shape shape = test::triphasic(1.2);
  const std::vector<double> sd{4.0, 4.0};
  auto discharge = [&](double scale, std::mt19937& rng) {
    RowMatrix<float> x(2, kSnippet);
    x.row(0) = test::channel_discharge(shape, 40.0, kSnippet, kFs, 0.0, scale);
    x.row(1) = test::channel_discharge(shape, -25.0, kSnippet, kFs, 0.0, scale);
    test::add_noise(x, sd, rng);
    return x;
  };
  UnitTracker tracker(2, kSnippet, kFs);
  std::mt19937 rng(9);
  // No unit yet: nothing to be matched against, and nothing founded.
  CHECK(tracker.assign(discharge(1.0, rng), sd, false) == -1);
  CHECK(tracker.units().empty());
  // A founder alone may be a chance event: its own waveform is refused.
  REQUIRE(tracker.assign(discharge(1.0, rng), sd) == 0);
  CHECK(tracker.assign(discharge(1.0, rng), sd, false) == -1);
  CHECK(tracker.units()[0].count == 1);
  // Seen twice, it takes the unit's own discharge, and refuses noise.
  REQUIRE(tracker.assign(discharge(1.0, rng), sd) == 0);
  for (int i = 0; i < 20; ++i) {
    RowMatrix<float> noise = RowMatrix<float>::Zero(2, kSnippet);
    test::add_noise(noise, sd, rng);
    CHECK(tracker.assign(noise, sd, false) == -1);
  }
  CHECK(tracker.units()[0].count == 2);
  CHECK(tracker.assign(discharge(1.0, rng), sd, false) == 0);
  for (int i = 0; i < 2; ++i) REQUIRE(tracker.assign(discharge(1.0, rng), sd) == 0);
  const Index count = tracker.units()[0].count;
  const RowMatrix<float> before = tracker.units()[0].waveform_uv;
  // Noise alone, and another shape, are refused and change nothing.
  for (int i = 0; i < 20; ++i) {
    RowMatrix<float> noise = RowMatrix<float>::Zero(2, kSnippet);
    test::add_noise(noise, sd, rng);
    CHECK(tracker.assign(noise, sd, false) == -1);
  }
  RowMatrix<float> other(2, kSnippet);
  other.row(0) = test::channel_discharge(test::Shape{{-1.0, 0.8}, {-1.0, 1.0}, {1.5, 1.5}}, 40.0, kSnippet, kFs, 0.0, 1.0);
  other.row(1) = test::channel_discharge(test::Shape{{-1.0, 0.8}, {-1.0, 1.0}, {1.5, 1.5}}, 40.0, kSnippet, kFs, 0.0, 1.0);
  CHECK(tracker.assign(other, sd, false) == -1);
  CHECK(tracker.units().size() == 1);
  CHECK(tracker.units()[0].count == count);
  CHECK(tracker.units()[0].waveform_uv == before);
  // The unit's own discharge is taken.
  CHECK(tracker.assign(discharge(0.9, rng), sd, false) == 0);
  CHECK(tracker.units()[0].count == count + 1);
}
