// channel_quality(): each defect raises exactly its flag, good channels none.

#include <catch2/catch.hpp>

#include <fasctrack/filter/quality.hpp>

#include "filter/emg_synth.hpp"

#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>

using namespace fasctrack;
using filter::ChannelQuality;
using filter::QualityOptions;

namespace {

constexpr double kFs = 2000.0;
constexpr Index kN = 20000;  // 10 s
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

// Healthy surface EMG at rest: 10 uV of band-limited noise, 1 uV of mains.
RowMatrix<double> healthy(Index n_channels, unsigned seed) {
  RowMatrix<double> x = test::emg_noise(n_channels, kN, kFs, 10.0, 1.0, seed);
  test::add_mains(x, kFs, 50.0, 1.0, {0.3}, seed + 1000);
  return x;
}

std::string names(const ChannelQuality& q) { return filter::describe_flags(q.flags); }

void check_finite_measurements(const ChannelQuality& q) {
  CHECK(std::isfinite(q.rms_uv));
  CHECK(std::isfinite(q.clipped_fraction));
  CHECK(std::isfinite(q.mains_fraction));
  CHECK(std::isfinite(q.low_frequency_fraction));
  CHECK(q.mains_fraction >= 0.0);
  CHECK(q.mains_fraction <= 1.0);
  CHECK(q.low_frequency_fraction >= 0.0);
  CHECK(q.low_frequency_fraction <= 1.0);
}

}  // namespace

TEST_CASE("healthy channels are usable", "[filter][quality]") {
  const RowMatrix<double> x = healthy(6, 1);
  const auto quality = filter::channel_quality<double>(x, kFs);
  REQUIRE(quality.size() == 6);
  for (const ChannelQuality& q : quality) {
    INFO(names(q) << " rms " << q.rms_uv << " mains " << q.mains_fraction << " low " << q.low_frequency_fraction
                  << " clipped " << q.clipped_fraction << " run " << q.longest_flat_run);
    CHECK(q.flags == filter::quality_ok);
    CHECK(q.usable());
    CHECK(q.rms_uv == Approx(std::sqrt(100.0 + 1.0 + 0.5 * 1.09)).epsilon(0.05));
    CHECK(q.n_non_finite == 0);
    CHECK(q.non_finite_runs.empty());
    CHECK(q.clipped_fraction == 0.0);
    CHECK(q.mains_fraction < 0.2);
    CHECK(q.low_frequency_fraction < 0.1);
    CHECK(q.longest_flat_run < 5);
    check_finite_measurements(q);
  }
}

TEST_CASE("each defect raises exactly its own flag", "[filter][quality]") {
  RowMatrix<double> x = healthy(10, 2);
  // 0: dead channel, a constant offset.
  x.row(0).setConstant(3.0);
  // 1: almost dead, 0.01 uV of noise.
  x.row(1) *= 0.001;
  // 2: 1.5 s dropout to exactly zero in the middle of good data.
  x.block(2, 8000, 1, 3000).setZero();
  // 3: clipped: two 1 s bursts of a 200 uV, 37 Hz artefact through an amplifier
  //    whose range is +-100 uV.
  for (Index i = 0; i < kN; ++i) {
    const double t = static_cast<double>(i) / kFs;
    const bool burst = (t >= 2.0 && t < 3.0) || (t >= 6.0 && t < 7.0);
    if (burst) x(3, i) += 200.0 * std::sin(2.0 * std::numbers::pi * 37.0 * t);
    x(3, i) = std::clamp(x(3, i), -100.0, 100.0);
  }
  // 4: a NaN run and a single Inf (lost packets).
  x.block(4, 1000, 1, 100).setConstant(kNaN);
  x(4, 5000) = -kInf;
  // 5: mains-dominated (unshielded lead): 100 uV at 50 Hz.
  {
    RowMatrix<double> row = x.row(5);
    test::add_mains(row, kFs, 50.0, 100.0, {0.2}, 55);
    x.row(5) = row;
  }
  // 6: lifted electrode: 2 mV wander at 0.3 Hz.
  for (Index i = 0; i < kN; ++i) x(6, i) += 2000.0 * std::sin(2.0 * std::numbers::pi * 0.3 * static_cast<double>(i) / kFs);
  // 7: broadband 10 mV, not physiological surface EMG.
  x.row(7) *= 1000.0;
  // 8: all NaN.
  x.row(8).setConstant(kNaN);
  // 9: a NaN run on a channel with a 5 mV DC offset (DC-coupled amplifier):
  //    the gap must not look like a 5 mV step (low-frequency power).
  x.row(9).array() += 5000.0;
  x.block(9, 12000, 1, 500).setConstant(kNaN);

  const auto quality = filter::channel_quality<double>(x, kFs);
  REQUIRE(quality.size() == 10);
  for (std::size_t c = 0; c < quality.size(); ++c) {
    INFO("channel " << c << ": " << names(quality[c]) << " rms " << quality[c].rms_uv << " mains "
                    << quality[c].mains_fraction << " low " << quality[c].low_frequency_fraction << " clipped "
                    << quality[c].clipped_fraction << " run " << quality[c].longest_flat_run);
    check_finite_measurements(quality[c]);
  }
  CHECK(names(quality[0]) == "flat");
  CHECK(quality[0].rms_uv == 0.0);
  CHECK(quality[0].longest_flat_run == kN);
  CHECK(quality[0].clipped_fraction == 0.0);  // constant is dead, not clipped

  CHECK(names(quality[1]) == "flat");
  CHECK(quality[1].rms_uv < 0.1);

  CHECK(names(quality[2]) == "flat");
  CHECK(quality[2].longest_flat_run == 3000);
  CHECK(quality[2].rms_uv > 5.0);

  CHECK(names(quality[3]) == "saturated");
  // |sin| > 0.5 for 2/3 of each cycle in 2 s of 10 s: about 13 % at the rails.
  CHECK(quality[3].clipped_fraction == Approx(2.0 / 3.0 * 0.2).epsilon(0.15));

  CHECK(names(quality[4]) == "non_finite");
  CHECK(quality[4].n_non_finite == 101);
  REQUIRE(quality[4].non_finite_runs.size() == 2);
  CHECK(quality[4].non_finite_runs[0] == SampleRange{1000, 1100});
  CHECK(quality[4].non_finite_runs[1] == SampleRange{5000, 5001});
  CHECK(quality[4].rms_uv == Approx(quality[9].rms_uv).epsilon(0.1));  // NaN does not leak into the RMS

  CHECK(names(quality[5]) == "excessive_mains");
  CHECK(quality[5].mains_fraction > 0.9);

  CHECK(names(quality[6]) == "disconnected");
  CHECK(quality[6].low_frequency_fraction > 0.9);
  CHECK(quality[6].rms_uv < 5000.0);  // flagged by the wander, not by the level

  CHECK(names(quality[7]) == "disconnected");
  CHECK(quality[7].rms_uv > 5000.0);
  CHECK(quality[7].low_frequency_fraction < 0.1);

  CHECK(names(quality[8]) == "flat,non_finite");
  CHECK(quality[8].n_non_finite == kN);
  REQUIRE(quality[8].non_finite_runs.size() == 1);
  CHECK(quality[8].non_finite_runs[0] == SampleRange{0, kN});
  CHECK(quality[8].rms_uv == 0.0);
  CHECK(quality[8].longest_flat_run == 0);
  CHECK(quality[8].mains_fraction == 0.0);
  CHECK(quality[8].low_frequency_fraction == 0.0);

  CHECK(names(quality[9]) == "non_finite");
  CHECK(quality[9].non_finite_runs == std::vector<SampleRange>{{12000, 12500}});
  CHECK(quality[9].low_frequency_fraction < 0.1);
}

TEST_CASE("a single mains-swamped electrode is flagged even when the recording has no mains", "[filter][quality]") {
  RowMatrix<double> x = test::emg_noise(5, kN, kFs, 10.0, 1.0, 3);  // no mains anywhere...
  RowMatrix<double> row = x.row(1);
  test::add_mains(row, kFs, 60.0, 80.0, {0.3}, 4);  // ...except one electrode near a 60 Hz device
  x.row(1) = row;
  const auto quality = filter::channel_quality<double>(x, kFs);
  CHECK(names(quality[1]) == "excessive_mains");
  for (std::size_t c : {0u, 2u, 3u, 4u}) CHECK(quality[c].flags == filter::quality_ok);

  // Told the mains is 50 Hz, the 60 Hz line is not measured as mains.
  QualityOptions at50;
  at50.mains_hz = 50.0;
  const auto told = filter::channel_quality<double>(x, kFs, at50);
  CHECK(told[1].mains_fraction < 0.2);
  CHECK(told[1].flags == filter::quality_ok);
}

TEST_CASE("quality thresholds come from QualityOptions", "[filter][quality]") {
  RowMatrix<double> x = healthy(2, 5);
  x.block(1, 100, 1, 300).setConstant(x(1, 100));  // a 0.15 s stuck value
  QualityOptions options;
  CHECK(filter::channel_quality<double>(x, kFs, options)[1].flags == filter::quality_ok);
  options.flat_run_s = 0.1;
  const auto q = filter::channel_quality<double>(x, kFs, options);
  CHECK(names(q[1]) == "flat");
  CHECK(q[1].longest_flat_run == 300);
  options = QualityOptions{};
  options.flat_rms_uv = 50.0;  // everything under 50 uV counts as flat
  CHECK(names(filter::channel_quality<double>(x, kFs, options)[0]) == "flat");
  options = QualityOptions{};
  options.disconnected_rms_uv = 5.0;
  CHECK(names(filter::channel_quality<double>(x, kFs, options)[0]) == "disconnected");
  options = QualityOptions{};
  options.mains_fraction = 0.0;
  CHECK(names(filter::channel_quality<double>(x, kFs, options)[0]) == "excessive_mains");
}

TEST_CASE("channel_quality survives degenerate shapes and values", "[filter][quality]") {
  SECTION("one sample") {
    RowMatrix<double> x(2, 1);
    x << 1.0, kNaN;
    const auto q = filter::channel_quality<double>(x, kFs);
    REQUIRE(q.size() == 2);
    CHECK(names(q[0]) == "flat");
    CHECK(q[0].longest_flat_run == 1);
    CHECK(names(q[1]) == "flat,non_finite");
    for (const auto& c : q) check_finite_measurements(c);
  }
  SECTION("no samples: flat") {
    const auto q = filter::channel_quality<double>(RowMatrix<double>(2, 0), kFs);
    REQUIRE(q.size() == 2);
    CHECK(names(q[0]) == "flat");
  }
  SECTION("no channels: nothing to report") {
    CHECK(filter::channel_quality<double>(RowMatrix<double>(0, 100), kFs).empty());
  }
  SECTION("values near the double range") {
    RowMatrix<double> x = healthy(3, 6);
    x.row(0) *= 1e300;
    x.row(1) *= 1e-300;
    x(2, 10) = 1.7e308;
    x(2, 11) = -1.7e308;
    const auto q = filter::channel_quality<double>(x, kFs);
    CHECK(names(q[0]) == "disconnected");
    CHECK(q[0].rms_uv == Approx(1e301).epsilon(0.1));
    CHECK(names(q[1]) == "flat");
    CHECK(names(q[2]) == "disconnected");
    for (const auto& c : q) {
      CHECK(std::isfinite(c.mains_fraction));
      CHECK(std::isfinite(c.low_frequency_fraction));
    }
  }
  SECTION("float input gives the double answer") {
    RowMatrix<double> x = healthy(2, 7);
    x.block(0, 50, 1, 10).setConstant(kNaN);
    const RowMatrix<float> xf = x.cast<float>();
    const auto qd = filter::channel_quality<double>(xf.cast<double>(), kFs);
    const auto qf = filter::channel_quality<float>(xf, kFs);
    for (std::size_t c = 0; c < 2; ++c) {
      CHECK(qf[c].flags == qd[c].flags);
      CHECK(qf[c].rms_uv == Approx(qd[c].rms_uv).epsilon(1e-12));
      CHECK(qf[c].non_finite_runs == qd[c].non_finite_runs);
      CHECK(qf[c].mains_fraction == Approx(qd[c].mains_fraction).epsilon(1e-12));
    }
  }
  SECTION("short recordings (no mains detection possible) are still screened") {
    RowMatrix<double> x = healthy(2, 8).leftCols(500);
    x.row(1).setZero();
    const auto q = filter::channel_quality<double>(x, kFs);
    CHECK(q[0].flags == filter::quality_ok);
    CHECK(names(q[1]) == "flat");
  }
}

TEST_CASE("channel_quality rejects bad options with a message naming them", "[filter][quality]") {
  const RowMatrix<double> x = RowMatrix<double>::Zero(1, 100);
  auto message_of = [&](double fs, const QualityOptions& o) -> std::string {
    try {
      filter::channel_quality<double>(x, fs, o);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "<no exception>";
  };
  QualityOptions o;
  CHECK_THAT(message_of(0.0, o), Catch::Contains("fs"));
  o.flat_rms_uv = -1.0;
  CHECK_THAT(message_of(kFs, o), Catch::Contains("flat_rms_uv"));
  o = QualityOptions{};
  o.flat_run_s = 0.0;
  CHECK_THAT(message_of(kFs, o), Catch::Contains("flat_run_s"));
  o = QualityOptions{};
  o.saturation_fraction = 1.5;
  CHECK_THAT(message_of(kFs, o), Catch::Contains("saturation_fraction"));
  o = QualityOptions{};
  o.mains_fraction = kNaN;
  CHECK_THAT(message_of(kFs, o), Catch::Contains("mains_fraction"));
  o = QualityOptions{};
  o.disconnected_rms_uv = 0.0;
  CHECK_THAT(message_of(kFs, o), Catch::Contains("disconnected_rms_uv"));
  o = QualityOptions{};
  o.disconnected_low_fraction = -0.1;
  CHECK_THAT(message_of(kFs, o), Catch::Contains("disconnected_low_fraction"));
  o = QualityOptions{};
  o.mains_hz = -50.0;
  CHECK_THAT(message_of(kFs, o), Catch::Contains("mains_hz"));
}

TEST_CASE("describe_flags", "[filter][quality]") {
  CHECK(filter::describe_flags(0) == "ok");
  CHECK(filter::describe_flags(filter::quality_flat) == "flat");
  CHECK(filter::describe_flags(filter::quality_flat | filter::quality_non_finite) == "flat,non_finite");
  CHECK(filter::describe_flags(filter::quality_saturated | filter::quality_excessive_mains |
                               filter::quality_disconnected) == "saturated,excessive_mains,disconnected");
  CHECK(filter::describe_flags(filter::quality_flat | (1u << 7)) == "flat,0x80");
}

TEST_CASE("ordinary baseline wander on a quiet channel is not a disconnected electrode", "[filter]") {
  // Resting surface EMG of ~10 uV with 80 uV of 0.5 Hz skin-potential drift:
  // the drift dominates the spectrum but is normal for a well-attached electrode.
  RowMatrix<double> x = healthy(2, 11);
  for (Index i = 0; i < x.cols(); ++i) {
    const double t = static_cast<double>(i) / kFs;
    x(0, i) += 80.0 * std::sin(2.0 * M_PI * 0.5 * t);
    x(1, i) += 2000.0 * std::sin(2.0 * M_PI * 0.5 * t);  // a lifted electrode
  }
  const auto q = filter::channel_quality<double>(x, kFs);
  CHECK(q[0].low_frequency_fraction > 0.9);
  CHECK(q[0].low_frequency_rms_uv == Approx(80.0 / std::sqrt(2.0)).epsilon(0.25));
  CHECK(names(q[0]) == "ok");
  CHECK(names(q[1]) == "disconnected");

  filter::QualityOptions strict;
  strict.disconnected_low_rms_uv = 20.0;
  CHECK(names(filter::channel_quality<double>(x, kFs, strict)[0]) == "disconnected");
}
