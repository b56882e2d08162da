// Unit tracking across sessions and the per-session measurements taken from
// a detection result.

#include <catch2/catch.hpp>

#include "pattern/pattern_test_util.hpp"

#include <cmath>
#include <random>

using namespace pattern_test;

namespace {

constexpr double kFs = 2048.0;
constexpr Index kSnippet = 83;  // +-20 ms at 2048 Hz

// A biphasic or polyphasic surface potential centred in the window, on two
// channels with a channel-dependent gain.
RowMatrix<float> waveform(double amp, double width_ms, int phases, double gain2, unsigned seed, double noise_uv) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> N(0.0, noise_uv);
  RowMatrix<float> t(2, kSnippet);
  for (Index c = 0; c < kSnippet; ++c) {
    const double ms = (static_cast<double>(c - kSnippet / 2)) / kFs * 1000.0;
    const double u = ms / width_ms;
    double v = 0.0;
    if (phases <= 3) v = -u * std::exp(-0.5 * u * u);                       // biphasic
    else v = std::sin(phases * 0.8 * u) * std::exp(-0.25 * u * u);          // polyphasic
    t(0, c) = static_cast<float>(amp * v + N(rng));
    t(1, c) = static_cast<float>(gain2 * amp * v + N(rng));
  }
  return t;
}

UnitObservation unit(const std::string& muscle, int id, RowMatrix<float> tpl, Index count = 10, double complex_fraction = 0.0) {
  UnitObservation u;
  u.muscle = muscle;
  u.unit = id;
  u.count = count;
  u.rate_per_min = static_cast<double>(count) / 1.5;
  u.amplitude_uv = tpl.row(0).maxCoeff() - tpl.row(0).minCoeff();
  u.complex_fraction = complex_fraction;
  u.channels = {muscle + "_1", muscle + "_2"};
  u.peak_channel = u.channels[0];
  u.fs = kFs;
  u.template_uv = std::move(tpl);
  return u;
}

SessionResult with_units(SessionResult s, std::vector<UnitObservation> units) {
  s.units = std::move(units);
  return s;
}

}  // namespace

TEST_CASE("unit tracking: the same unit is followed across sessions, others are new", "[pattern][units]") {
  const auto A = [](unsigned seed, double amp = 80.0) { return waveform(amp, 2.0, 2, 0.5, seed, 2.0); };
  const auto B = [](unsigned seed) { return waveform(60.0, 4.0, 6, 1.4, seed, 2.0); };
  std::vector<SessionResult> h{
      with_units(session("s1", day(0), {{"a_r", 20}}), {unit("a_r", 0, A(1)), unit("a_r", 1, B(2))}),
      with_units(session("s2", day(14), {{"a_r", 20}}), {unit("a_r", 4, B(3)), unit("a_r", 2, A(4, 95.0))}),
      with_units(session("s3", day(28), {{"a_r", 20}}), {unit("a_r", 0, A(5, 70.0))}),
      with_units(session("s4", day(42), {{"a_r", 20}}),
                 {unit("a_r", 1, A(6)), unit("a_r", 2, waveform(70.0, 1.0, 2, -1.0, 7, 2.0))}),
  };
  const auto r = classify(h);
  REQUIRE(r.units.size() == 3);
  const auto& u1 = r.units[0];
  CHECK(u1.muscle == "a_r");
  CHECK(u1.number == 1);
  REQUIRE(u1.sightings.size() == 4);
  CHECK(u1.sightings[1].session == "s2");
  CHECK(u1.sightings[1].unit == 2);  // labels differ between sessions; the template decides
  CHECK(u1.sightings[1].similarity > 0.9);
  CHECK(std::isnan(u1.sightings[0].similarity));
  CHECK(u1.text == "unit 1 of a_r seen in sessions s1, s2, s3, s4");
  CHECK(!u1.new_unit);
  CHECK(r.units[1].text == "unit 2 of a_r seen in sessions s1, s2");
  const auto& u3 = r.units[2];
  CHECK(u3.new_unit);
  CHECK(u3.text == "unit 3 of a_r seen in session s4 (new: first seen in s4)");
  CHECK(r.evidence[0].distinct_units == 3);
  CHECK(r.evidence[0].new_units == 1);
  CHECK(r.muscles.back().new_units == 1);
  CHECK(u1.sightings[0].waveform_uv.size() == static_cast<std::size_t>(kSnippet));
}

TEST_CASE("unit tracking: threshold, lag, amplitude, layout and sampling rate", "[pattern][units]") {
  const auto two = [](RowMatrix<float> a, RowMatrix<float> b, PatternOptions o = {}, std::vector<std::string> b_channels = {}) {
    auto ub = unit("a_r", 1, std::move(b));
    if (!b_channels.empty()) ub.channels = b_channels;
    return classify({with_units(session("s1", day(0), {{"a_r", 20}}), {unit("a_r", 0, std::move(a))}),
                     with_units(session("s2", day(30), {{"a_r", 20}}), {ub})},
                    o)
        .units;
  };
  const auto A = waveform(80.0, 2.0, 2, 0.5, 1, 0.0);
  CHECK(two(A, A).size() == 1);
  SECTION("a shift within the lag window still matches; beyond it does not") {
    RowMatrix<float> shifted = RowMatrix<float>::Zero(2, kSnippet);
    shifted.rightCols(kSnippet - 3) = A.leftCols(kSnippet - 3);  // 1.5 ms later
    CHECK(two(A, shifted).size() == 1);
    PatternOptions o;
    o.unit_max_lag_ms = 0.0;
    CHECK(two(A, shifted, o).size() == 2);
  }
  SECTION("amplitude ratio beyond the limit scales the similarity down") {
    const RowMatrix<float> big = A * 3.0f;
    CHECK(two(A, big).size() == 2);
    PatternOptions o;
    o.unit_max_amplitude_ratio = 3.5;
    CHECK(two(A, big, o).size() == 1);
  }
  SECTION("the threshold is an option") {
    const auto noisy = waveform(80.0, 2.0, 2, 0.5, 9, 10.0);
    PatternOptions strict;
    strict.unit_match_threshold = 0.99;
    CHECK(two(A, noisy, strict).size() == 2);
    PatternOptions loose;
    loose.unit_match_threshold = 0.5;
    CHECK(two(A, noisy, loose).size() == 1);
  }
  SECTION("templates are compared on shared channels only") {
    CHECK(two(A, A, {}, {"other_1", "other_2"}).size() == 2);
    CHECK(two(A, A, {}, {"a_r_1", "zzz"}).size() == 1);  // one shared channel suffices
  }
  SECTION("different sampling rates are never matched") {
    auto ua = unit("a_r", 0, A);
    auto ub = unit("a_r", 1, A);
    ub.fs = 1024.0;
    const auto r = classify({with_units(session("s1", day(0), {{"a_r", 20}}), {ua}), with_units(session("s2", day(30), {{"a_r", 20}}), {ub})});
    CHECK(r.units.size() == 2);
  }
  SECTION("units of different muscles are never matched") {
    const auto r = classify({with_units(session("s1", day(0), {{"a_r", 20}, {"b_r", 20}}), {unit("a_r", 0, A)}),
                             with_units(session("s2", day(30), {{"a_r", 20}, {"b_r", 20}}), {unit("b_r", 0, A)})});
    REQUIRE(r.units.size() == 2);
    CHECK(r.units[0].muscle == "a_r");
    CHECK(r.units[1].muscle == "b_r");
  }
  SECTION("two units of one session never join one track") {
    const auto r = classify({with_units(session("s1", day(0), {{"a_r", 20}}), {unit("a_r", 0, A), unit("a_r", 1, A)})});
    CHECK(r.units.size() == 2);
  }
  SECTION("units with too few discharges are not tracked") {
    auto few = unit("a_r", 0, A, 2);
    CHECK(classify({with_units(session("s1", day(0), {{"a_r", 20}}), {few})}).units.empty());
    PatternOptions o;
    o.min_unit_discharges = 2;
    CHECK(classify({with_units(session("s1", day(0), {{"a_r", 20}}), {few})}, o).units.size() == 1);
  }
}

TEST_CASE("unit tracking: units that turn complex are listed", "[pattern][units]") {
  const auto A = waveform(80.0, 2.0, 2, 0.5, 1, 1.0);
  const auto r = classify({with_units(session("s1", day(0), {{"a_r", 20}}), {unit("a_r", 0, A, 10, 0.1)}),
                           with_units(session("s2", day(14), {{"a_r", 20}}), {unit("a_r", 0, A, 10, 0.4)}),
                           with_units(session("s3", day(30), {{"a_r", 20}}), {unit("a_r", 0, A, 10, 0.7)})});
  REQUIRE(r.units.size() == 1);
  CHECK(r.units[0].turned_complex);
  CHECK(r.units[0].turned_complex_session == "s3");
  CHECK(r.units[0].text == "unit 1 of a_r seen in sessions s1, s2, s3 (complex from s3)");
  CHECK(r.evidence[0].units_turned_complex == 1);
  // Complex from the start is not "turned complex".
  const auto c = classify({with_units(session("s1", day(0), {{"a_r", 20}}), {unit("a_r", 0, A, 10, 0.8)}),
                           with_units(session("s2", day(14), {{"a_r", 20}}), {unit("a_r", 0, A, 10, 0.9)})});
  CHECK(!c.units[0].turned_complex);
}

TEST_CASE("session_result: per-muscle counts, within-session persistence, unit templates", "[pattern][units]") {
  const double fs = 1000.0;
  Recording rec;
  rec.fs = fs;
  rec.samples = RowMatrix<double>(RowMatrix<double>::Zero(5, static_cast<Index>(150 * fs)));  // 150 s
  const auto ch = [](std::string name, std::string muscle, BodyRegion r, Side s) {
    ChannelInfo c;
    c.name = std::move(name);
    c.muscle = std::move(muscle);
    c.region = r;
    c.side = s;
    return c;
  };
  rec.channels = {ch("c1", "biceps_r", BodyRegion::cervical, Side::right), ch("c2", "biceps_r", BodyRegion::cervical, Side::right),
                  ch("c3", "ta_l", BodyRegion::lumbosacral, Side::left), ch("c4", "", BodyRegion::unknown, Side::unknown),
                  ch("trig", "", BodyRegion::unknown, Side::unknown)};
  rec.channels[4].type = "TRIG";
  rec.channels[2].marked_bad = true;

  DetectionResult d;
  // 30 s masked (20-50 s): clean clock runs 0-20 then 50-150 -> 120 s clean = 2 rest minutes.
  d.masks = {{static_cast<Index>(20 * fs), static_cast<Index>(50 * fs), MaskReason::voluntary}};
  d.summary.clean_rest_s = 120.0;
  const auto ev = [&](double t, Index channel, int unit, int phases, bool doublet = false, bool isolated = true) {
    Event e;
    e.sample = static_cast<Index>(t * fs);
    e.time_s = t;
    e.channel = channel;
    e.unit = unit;
    e.phases = phases;
    e.doublet = doublet;
    e.isolated = isolated;
    return e;
  };
  // Clean-clock times: 5 s, 15 s (minute 0); 60 s -> clean 30 s (minute 0); 100 s -> clean 70 s (minute 1).
  d.events = {ev(5, 0, 0, 3), ev(15, 1, 0, 6, true), ev(15.05, 1, 0, 6, true), ev(100, 0, 1, 3, false, false), ev(60, 3, 2, 3)};
  std::sort(d.events.begin(), d.events.end(), [](const Event& a, const Event& b) { return a.sample < b.sample; });
  cluster::UnitSummary u;
  u.id = 0;
  u.count = 3;
  u.peak_channel = 1;
  u.amplitude_uv = 50;
  u.template_uv = RowMatrix<float>::Zero(5, 41);
  u.template_uv.row(0).setConstant(1.0f);
  u.template_uv.row(1).setConstant(2.0f);
  u.template_uv.row(3).setConstant(9.0f);
  d.units = {u};

  ManifestSession info;
  info.id = "s1";
  info.date = "2026-01-05";
  info.day = parse_date(info.date);
  info.context = {"stress"};
  const SessionResult s = session_result(d, rec, info);
  CHECK(s.id == "s1");
  CHECK(s.context == std::vector<std::string>{"stress"});
  CHECK(s.clean_rest_s == 120.0);
  REQUIRE(s.muscles.size() == 3);  // biceps_r, ta_l, unspecified; the trigger channel belongs to none
  const auto& b = s.muscles[0];
  CHECK(b.muscle == "biceps_r");
  CHECK(b.channels == std::vector<std::string>{"c1", "c2"});
  CHECK(b.usable);
  CHECK(b.n_events == 4);
  CHECK(b.n_complex == 2);
  CHECK(b.n_doublet == 2);
  CHECK(b.n_isolated == 3);
  CHECK(b.n_units == 2);
  CHECK(b.rest_minutes == 2);
  CHECK(b.minutes_with_fp == 2);
  const auto& t = s.muscles[1];
  CHECK(t.muscle == "ta_l");
  CHECK(!t.usable);  // its only channel is marked bad
  CHECK(t.region == BodyRegion::lumbosacral);
  CHECK(s.muscles[2].muscle == "unspecified");
  CHECK(s.muscles[2].n_events == 1);
  CHECK(s.muscles[2].minutes_with_fp == 1);
  REQUIRE(s.units.size() == 1);
  CHECK(s.units[0].muscle == "biceps_r");
  CHECK(s.units[0].peak_channel == "c2");
  CHECK(s.units[0].channels == std::vector<std::string>{"c1", "c2"});
  REQUIRE(s.units[0].template_uv.rows() == 2);
  CHECK(s.units[0].template_uv(1, 0) == 2.0f);
  // The unusable muscle is insufficient in the classification.
  const auto r = classify({s});
  CHECK(state_of(r, "s1", "ta_l") == MuscleState::insufficient);
  CHECK(state_of(r, "s1", "biceps_r") == MuscleState::active);
}
