// The classification rules at their edges, on hand-built sessions.

#include <catch2/catch.hpp>

#include "pattern/pattern_test_util.hpp"

#include <cmath>
#include <fstream>
#include <regex>
#include <sstream>

using namespace pattern_test;

namespace {

// A quiet background for the other muscles (0 FPs, 90 s).
std::vector<M> with_quiet(std::vector<M> active, std::vector<std::string> others = {"b_r", "a_l", "c_r"}) {
  for (const auto& o : others) {
    bool present = false;
    for (const auto& m : active) present = present || m.muscle == o;
    if (!present) active.push_back({o, 0});
  }
  return active;
}

}  // namespace

TEST_CASE("muscle state: active needs >= 3 FPs AND >= 1 FP/min", "[pattern][rules]") {
  struct Case {
    Index n;
    double clean_s;
    MuscleState expect;
  };
  const std::vector<Case> cases{
      {2, 90.0, MuscleState::quiet},       // count just below
      {3, 90.0, MuscleState::active},      // count at (2/min)
      {4, 90.0, MuscleState::active},      // above
      {0, 90.0, MuscleState::quiet},
      {3, 180.0, MuscleState::active},     // rate exactly 1/min: inclusive
      {3, 179.0, MuscleState::active},     // rate just above
      {3, 181.0, MuscleState::quiet},      // rate just below (0.994/min)
      {5, 301.0, MuscleState::quiet},      // enough FPs, too slow
      {2, 60.0, MuscleState::quiet},       // 2/min but only 2 FPs: spurious pair
      {3, 59.99, MuscleState::insufficient},  // clean rest just below 60 s
      {3, 60.0, MuscleState::active},      // at 60 s
      {100, 30.0, MuscleState::insufficient},
  };
  for (const auto& c : cases) {
    CAPTURE(c.n, c.clean_s);
    const auto r = classify({session("s1", "2026-01-05", {{"a_r", c.n, c.clean_s}})});
    CHECK(state_of(r, "s1", "a_r") == c.expect);
  }
  SECTION("a muscle without a usable channel is insufficient whatever its count") {
    const auto r = classify({session("s1", "2026-01-05", {{"a_r", 50, 90.0, BodyRegion::cervical, Side::right, false}})});
    CHECK(state_of(r, "s1", "a_r") == MuscleState::insufficient);
    CHECK(r.muscles[0].state_reason == "no usable channel");
    CHECK(r.pattern == Pattern::indeterminate);
  }
  SECTION("thresholds are options") {
    PatternOptions o;
    o.min_active_count = 5;
    o.min_active_rate_per_min = 0.5;
    o.min_clean_rest_s = 30.0;
    CHECK(state_of(classify({session("s1", "2026-01-05", {{"a_r", 4, 90.0}})}, o), "s1", "a_r") == MuscleState::quiet);
    CHECK(state_of(classify({session("s1", "2026-01-05", {{"a_r", 5, 600.0}})}, o), "s1", "a_r") == MuscleState::active);
    CHECK(state_of(classify({session("s1", "2026-01-05", {{"a_r", 5, 45.0}})}, o), "s1", "a_r") == MuscleState::active);
  }
  SECTION("rates carry exact Poisson intervals") {
    const auto r = classify({session("s1", "2026-01-05", {{"a_r", 6, 90.0}})});
    const auto& row = r.muscles.front();
    CHECK(row.rate.rate_per_min == Approx(4.0));
    CHECK(row.rate.ci_low == Approx(cluster::poisson_rate(6, 1.5).ci_low));
    CHECK(row.rate.ci_high == Approx(cluster::poisson_rate(6, 1.5).ci_high));
  }
}

TEST_CASE("persistence: >= 3 active sessions, span >= 28 days, >= 75% of analysable sessions in the span",
          "[pattern][rules]") {
  const auto history = [](std::vector<std::pair<int, Index>> day_count, std::vector<double> clean = {}) {
    std::vector<SessionResult> s;
    for (std::size_t i = 0; i < day_count.size(); ++i)
      s.push_back(session("s" + std::to_string(i + 1), day(day_count[i].first),
                          with_quiet({{"a_r", day_count[i].second, clean.empty() ? 90.0 : clean[i]}})));
    return s;
  };
  SECTION("sessions: 2 active (no), 3 active (yes)") {
    CHECK(classify(history({{0, 10}, {14, 0}, {28, 10}})).pattern == Pattern::benign);
    auto r = classify(history({{0, 10}, {14, 10}, {28, 10}}));
    CHECK(r.pattern == Pattern::warning);
    const Reason* p = find_reason(r, "persistence", "a_r");
    REQUIRE(p);
    CHECK(p->met);
    CHECK(p->decisive);
    CHECK(value_of(*p, "active_sessions") == 3);
    CHECK(value_of(*p, "active_span_days") == 28);
    CHECK(value_of(*p, "active_fraction_in_span") == 1.0);
  }
  SECTION("span: 27 days (no), 28 (yes), 29 (yes)") {
    CHECK(classify(history({{0, 10}, {13, 10}, {27, 10}, {40, 0}})).pattern == Pattern::benign);
    CHECK(classify(history({{0, 10}, {14, 10}, {28, 10}})).pattern == Pattern::warning);
    CHECK(classify(history({{0, 10}, {14, 10}, {29, 10}})).pattern == Pattern::warning);
  }
  SECTION("fraction: 3 of 4 = 75% (yes), 3 of 5 = 60% (no), 4 of 5 = 80% (yes)") {
    CHECK(classify(history({{0, 10}, {10, 0}, {20, 10}, {30, 10}})).pattern == Pattern::warning);
    CHECK(classify(history({{0, 10}, {10, 0}, {20, 10}, {30, 0}, {40, 10}})).pattern == Pattern::benign);
    CHECK(classify(history({{0, 10}, {10, 10}, {20, 0}, {30, 10}, {40, 10}})).pattern == Pattern::warning);
  }
  SECTION("quiet sessions outside the active span do not dilute it") {
    // Active on days 20, 34, 48 of 0-62: 3 of 3 within the span.
    CHECK(classify(history({{0, 0}, {20, 10}, {34, 10}, {48, 10}, {62, 0}})).pattern == Pattern::warning);
  }
  SECTION("insufficient sessions inside the span are not counted against it") {
    // 3 active, 1 insufficient, 1 quiet in the span: 3 of 4 analysable.
    auto s = history({{0, 10}, {10, 10}, {20, 10}, {30, 0}, {40, 10}}, {90, 90, 90, 90, 90});
    s[1].muscles[0].clean_rest_s = 40.0;  // ses 2 insufficient for a_r
    s[3].muscles[0].n_events = 0;         // ses 4 quiet
    auto r = classify(s);
    CHECK(state_of(r, "s2", "a_r") == MuscleState::insufficient);
    CHECK(r.pattern == Pattern::warning);
    CHECK(value_of(*find_reason(r, "persistence", "a_r"), "analysable_sessions_in_span") == 4);
  }
  SECTION("a gap that could hide persistence is noted, not decided") {
    auto s = history({{0, 10}, {14, 10}, {28, 10}, {35, 0}}, {90, 30, 90, 90});
    auto r = classify(s);  // s2 insufficient: 2 active sessions only
    CHECK(r.pattern == Pattern::benign);
    bool noted = false;
    for (const auto& n : r.notes) noted = noted || n.find("leave persistence open") != std::string::npos;
    CHECK(noted);
  }
  SECTION("options move the edges") {
    PatternOptions o;
    o.min_persistent_sessions = 4;
    CHECK(classify(history({{0, 10}, {14, 10}, {28, 10}}), o).pattern == Pattern::benign);
    o = {};
    o.min_persistent_span_days = 29;
    CHECK(classify(history({{0, 10}, {14, 10}, {28, 10}}), o).pattern == Pattern::benign);
    o = {};
    o.min_persistent_fraction = 0.8;
    CHECK(classify(history({{0, 10}, {10, 0}, {20, 10}, {30, 10}}), o).pattern == Pattern::benign);
  }
}

TEST_CASE("spread: latest analysable session has >= 2 active muscles, one newly active", "[pattern][rules]") {
  SECTION("a second muscle joins: spread; same region and side") {
    auto r = classify({session("s1", day(0), with_quiet({{"a_r", 10}})), session("s2", day(14), with_quiet({{"a_r", 10}, {"b_r", 8}}))});
    CHECK(r.pattern == Pattern::warning);
    const Reason* s = find_reason(r, "spread");
    REQUIRE(s);
    CHECK(s->met);
    CHECK(s->decisive);
    CHECK(s->muscles == std::vector<std::string>{"b_r"});
    CHECK(s->strength == "same_region_and_side");
  }
  SECTION("new side and new region are stronger evidence") {
    auto side = classify({session("s1", day(0), with_quiet({{"a_r", 10}})), session("s2", day(14), with_quiet({{"a_r", 10}, {"a_l", 8}}))});
    CHECK(find_reason(side, "spread")->strength == "new_side");
    CHECK(find_reason(side, "spread")->text.find("stronger evidence") != std::string::npos);
    auto region = classify({session("s1", day(0), with_quiet({{"a_r", 10}})), session("s2", day(14), with_quiet({{"a_r", 10}, {"c_r", 8}}))});
    CHECK(find_reason(region, "spread")->strength == "new_region");
    auto onset = classify({session("s1", day(0), with_quiet({})), session("s2", day(14), with_quiet({{"a_r", 10}, {"c_r", 8}}))});
    CHECK(onset.pattern == Pattern::warning);
    CHECK(find_reason(onset, "spread")->strength == "onset");
  }
  SECTION("one active muscle in the latest session, even a new one, is not spread") {
    auto r = classify({session("s1", day(0), with_quiet({{"a_r", 10}})), session("s2", day(14), with_quiet({{"b_r", 10}})),
                       session("s3", day(30), with_quiet({{"c_r", 10}}))});
    CHECK(!find_reason(r, "spread")->met);
    CHECK(r.pattern == Pattern::benign);
  }
  SECTION("two active muscles that were both active at first: not spread") {
    auto r = classify({session("s1", day(0), with_quiet({{"a_r", 10}, {"b_r", 10}})), session("s2", day(30), with_quiet({{"a_r", 10}, {"b_r", 10}}))});
    CHECK(!find_reason(r, "spread")->met);
    CHECK(r.pattern == Pattern::benign);
  }
  SECTION("a couple of spurious FPs in quiet muscles cannot fake spread") {
    auto r = classify({session("s1", day(0), with_quiet({{"a_r", 10}})),
                       session("s2", day(30), with_quiet({{"a_r", 10}, {"b_r", 2}, {"c_r", 2}, {"a_l", 1}}))});
    CHECK(!find_reason(r, "spread")->met);
    CHECK(r.pattern == Pattern::benign);
  }
  SECTION("the threshold on active muscles is an option") {
    PatternOptions o;
    o.min_spread_active_muscles = 3;
    auto r = classify({session("s1", day(0), with_quiet({{"a_r", 10}})), session("s2", day(30), with_quiet({{"a_r", 10}, {"b_r", 8}}))}, o);
    CHECK(r.pattern == Pattern::benign);
  }
  SECTION("first and latest are the first and latest ANALYSABLE sessions") {
    // s1 and s4 have too little clean rest everywhere.
    const auto short_rest = [](std::vector<M> ms) {
      for (auto& m : ms) m.clean_rest_s = 20.0;
      return ms;
    };
    auto r = classify({session("s1", day(0), short_rest(with_quiet({{"b_r", 10}}))), session("s2", day(7), with_quiet({{"a_r", 10}})),
                       session("s3", day(30), with_quiet({{"a_r", 10}, {"b_r", 9}})),
                       session("s4", day(40), short_rest(with_quiet({{"a_r", 10}})))});
    const Reason* s = find_reason(r, "spread");
    CHECK(s->met);
    CHECK(s->sessions == std::vector<std::string>{"s2", "s3"});
    CHECK(r.pattern == Pattern::warning);
  }
  SECTION("a muscle not assessable at baseline is judged by its first assessable session") {
    auto s1 = session("s1", day(0), with_quiet({{"a_r", 10}}));
    s1.muscles[1].clean_rest_s = 10.0;  // b_r insufficient at s1 (unusual, but a muscle may lose its channels)
    s1.muscles[1].usable = false;
    auto quiet_later = classify({s1, session("s2", day(7), with_quiet({{"a_r", 10}})), session("s3", day(30), with_quiet({{"a_r", 10}, {"b_r", 9}}))});
    CHECK(find_reason(quiet_later, "spread")->met);
    auto never_seen = classify({s1, session("s3", day(30), with_quiet({{"a_r", 10}, {"b_r", 9}}))});
    CHECK(!find_reason(never_seen, "spread")->met);
    CHECK(find_reason(never_seen, "spread")->text.find("Not assessable at baseline: b_r") != std::string::npos);
  }
  SECTION("a single analysable session cannot show spread") {
    auto r = classify({session("s1", day(0), with_quiet({{"a_r", 10}, {"b_r", 10}}))});
    CHECK(!find_reason(r, "spread")->met);
    CHECK(r.pattern == Pattern::indeterminate);
  }
}

TEST_CASE("none, benign and indeterminate", "[pattern][rules]") {
  SECTION("none: no muscle active in any analysable session") {
    auto r = classify({session("s1", day(0), with_quiet({{"a_r", 2}})), session("s2", day(30), with_quiet({}))});
    CHECK(r.pattern == Pattern::none);
    CHECK(find_reason(r, "fasciculations")->decisive);
    CHECK(!find_reason(r, "fasciculations")->met);
    CHECK(r.decision.rfind("No fasciculation pattern", 0) == 0);
  }
  SECTION("none does not need follow-up, and ignores insufficient sessions") {
    auto s2 = session("s2", day(5), with_quiet({{"a_r", 40, 20.0}}));
    for (auto& m : s2.muscles) m.clean_rest_s = 20.0;
    auto r = classify({session("s1", day(0), with_quiet({})), s2});
    CHECK(r.pattern == Pattern::none);
    bool noted = false;
    for (const auto& n : r.notes) noted = noted || n.find("Session s2") != std::string::npos;
    CHECK(noted);
  }
  SECTION("indeterminate: no session with enough clean rest") {
    std::vector<M> ms = with_quiet({{"a_r", 10, 40.0}});
    for (auto& m : ms) m.clean_rest_s = 40.0;
    auto r = classify({session("s1", day(0), ms), session("s2", day(40), ms)});
    CHECK(r.pattern == Pattern::indeterminate);
    CHECK(find_reason(r, "clean_rest")->decisive);
    CHECK(r.decision.find("clean rest") != std::string::npos);
  }
  SECTION("benign needs >= 28 days of follow-up: 27 indeterminate, 28 benign") {
    const auto h = [](int last) {
      return std::vector<SessionResult>{session("s1", day(0), with_quiet({{"a_r", 10}})), session("s2", day(10), with_quiet({})),
                                        session("s3", day(last), with_quiet({}))};
    };
    auto r27 = classify(h(27));
    CHECK(r27.pattern == Pattern::indeterminate);
    CHECK(find_reason(r27, "follow_up")->decisive);
    CHECK(value_of(*find_reason(r27, "follow_up"), "follow_up_days") == 27);
    CHECK(r27.decision.find("follow-up") != std::string::npos);
    CHECK(classify(h(28)).pattern == Pattern::benign);
    CHECK(classify(h(29)).pattern == Pattern::benign);
  }
  SECTION("follow-up counted from the first analysable session, or (option) from the first active one") {
    std::vector<SessionResult> h{session("s1", day(0), with_quiet({})), session("s2", day(20), with_quiet({{"a_r", 10}})),
                                 session("s3", day(35), with_quiet({}))};
    CHECK(classify(h).pattern == Pattern::benign);
    PatternOptions o;
    o.follow_up_from_first_active = true;
    CHECK(classify(h, o).pattern == Pattern::indeterminate);
  }
  SECTION("the follow-up ends at the last ANALYSABLE session") {
    auto s3 = session("s3", day(40), with_quiet({}));
    for (auto& m : s3.muscles) m.clean_rest_s = 10.0;
    auto r = classify({session("s1", day(0), with_quiet({{"a_r", 10}})), session("s2", day(20), with_quiet({})), s3});
    CHECK(r.pattern == Pattern::indeterminate);
  }
  SECTION("transient and sporadic benign histories") {
    auto transient = classify({session("s1", day(0), with_quiet({{"a_r", 15}})), session("s2", day(9), with_quiet({{"a_r", 6}})),
                               session("s3", day(25), with_quiet({})), session("s4", day(42), with_quiet({}))});
    CHECK(transient.pattern == Pattern::benign);
    auto sporadic = classify({session("s1", day(0), with_quiet({{"b_r", 8}})), session("s2", day(12), with_quiet({})),
                              session("s3", day(26), with_quiet({{"b_r", 5}})), session("s4", day(40), with_quiet({})),
                              session("s5", day(56), with_quiet({{"b_r", 7}}))});
    CHECK(sporadic.pattern == Pattern::benign);
    CHECK(sporadic.decision.rfind("Benign pattern", 0) == 0);
    // Every criterion that decided a benign label is listed with its values.
    CHECK(find_reason(sporadic, "persistence", "b_r")->decisive);
    CHECK(!find_reason(sporadic, "persistence", "b_r")->met);
    CHECK(find_reason(sporadic, "spread")->decisive);
    CHECK(find_reason(sporadic, "follow_up")->decisive);
  }
  SECTION("warning outranks too-short follow-up of other muscles") {
    auto r = classify({session("s1", day(0), with_quiet({{"a_r", 10}})), session("s2", day(3), with_quiet({{"a_r", 10}, {"c_r", 10}}))});
    CHECK(r.pattern == Pattern::warning);  // spread does not need follow-up
  }
}

TEST_CASE("classify() input checks", "[pattern][rules]") {
  CHECK_THROWS_AS(classify({}), std::invalid_argument);
  CHECK_THROWS_WITH(classify({session("s1", day(10), {}), session("s2", day(5), {})}),
                    Catch::Contains("sessions[1].date") && Catch::Contains("date order"));
  CHECK_THROWS_WITH(classify({session("s1", day(0), {}), session("s1", day(5), {})}), Catch::Contains("duplicate id 's1'"));
  CHECK_THROWS_WITH(classify({session("s1", day(0), {{"a_r", 1}, {"a_r", 2}})}), Catch::Contains("'a_r' listed twice"));
  // Same day twice is allowed (two recordings on one visit).
  CHECK_NOTHROW(classify({session("s1", day(0), {}), session("s2", day(0), {})}));
}

TEST_CASE("PatternOptions::validate names the bad option", "[pattern][rules]") {
  const auto bad = [](auto set, const char* name) {
    PatternOptions o;
    set(o);
    CHECK_THROWS_WITH(o.validate(), Catch::StartsWith(name));
    CHECK_THROWS_AS(classify({session("s1", day(0), {})}, o), std::invalid_argument);
  };
  bad([](PatternOptions& o) { o.min_active_count = 0; }, "min_active_count");
  bad([](PatternOptions& o) { o.min_active_rate_per_min = -1; }, "min_active_rate_per_min");
  bad([](PatternOptions& o) { o.min_active_rate_per_min = std::nan(""); }, "min_active_rate_per_min");
  bad([](PatternOptions& o) { o.min_clean_rest_s = -1; }, "min_clean_rest_s");
  bad([](PatternOptions& o) { o.min_persistent_sessions = 0; }, "min_persistent_sessions");
  bad([](PatternOptions& o) { o.min_persistent_span_days = INFINITY; }, "min_persistent_span_days");
  bad([](PatternOptions& o) { o.min_persistent_fraction = 0; }, "min_persistent_fraction");
  bad([](PatternOptions& o) { o.min_persistent_fraction = 1.5; }, "min_persistent_fraction");
  bad([](PatternOptions& o) { o.min_spread_active_muscles = 0; }, "min_spread_active_muscles");
  bad([](PatternOptions& o) { o.min_follow_up_days = -2; }, "min_follow_up_days");
  bad([](PatternOptions& o) { o.unit_match_threshold = 0; }, "unit_match_threshold");
  bad([](PatternOptions& o) { o.unit_max_lag_ms = 50; }, "unit_max_lag_ms");
  bad([](PatternOptions& o) { o.unit_max_amplitude_ratio = 0.5; }, "unit_max_amplitude_ratio");
  bad([](PatternOptions& o) { o.min_unit_discharges = 0; }, "min_unit_discharges");
  bad([](PatternOptions& o) { o.complex_unit_fraction = 1.0; }, "complex_unit_fraction");
  bad([](PatternOptions& o) { o.confidence = 1.0; }, "confidence");
  CHECK_NOTHROW(PatternOptions{}.validate());
}

TEST_CASE("supporting evidence is reported beside the label, never deciding it", "[pattern][rules]") {
  // Benign history with every alarming-looking extra: complex potentials,
  // doublets, a rising rate, clinical weakness in the active muscle.
  std::vector<SessionResult> h{session("s1", day(0), with_quiet({{"a_r", 4}})), session("s2", day(14), with_quiet({{"a_r", 0}})),
                               session("s3", day(30), with_quiet({{"a_r", 30}}))};
  h[0].context = {"post-exercise"};
  h[2].context = {"Caffeine", "visit"};
  h[2].clinical.weakness = {"a_r"};
  h[2].clinical.atrophy = {"a_r"};
  h[2].muscles[0].n_complex = 20;
  h[2].muscles[0].n_doublet = 6;
  h[2].muscles[0].n_isolated = 10;
  const auto r = classify(h);
  CHECK(r.pattern == Pattern::benign);
  const MuscleEvidence* e = nullptr;
  for (const auto& x : r.evidence)
    if (x.muscle == "a_r") e = &x;
  REQUIRE(e);
  CHECK(e->n_events == 34);
  CHECK(e->complex_fraction == Approx(20.0 / 34.0));
  CHECK(e->isolated_fraction == Approx(14.0 / 34.0));
  CHECK(e->n_doublet == 6);
  CHECK(e->weakness_sessions == std::vector<std::string>{"s3"});
  CHECK(e->atrophy_sessions == std::vector<std::string>{"s3"});
  REQUIRE(e->trend.available);
  CHECK(e->trend.n_sessions == 3);
  CHECK(e->trend.slope_per_month > 0.0);
  CHECK(e->trend.ci_low < e->trend.slope_per_month);
  CHECK(e->trend.ci_high > e->trend.slope_per_month);
  CHECK(r.sessions[0].benign_context == std::vector<std::string>{"post-exercise"});
  CHECK(r.sessions[2].benign_context == std::vector<std::string>{"Caffeine"});
  std::string all;
  for (const auto& n : r.notes) all += n + "\n";
  CHECK_THAT(all, Catch::Contains("Clinical weakness in an active muscle: a_r (s3)"));
  CHECK_THAT(all, Catch::Contains("Clinical atrophy in an active muscle: a_r (s3)"));
  CHECK_THAT(all, Catch::Contains("doublets: reported, not counted as warning evidence"));
  CHECK_THAT(all, Catch::Contains("Benign context") && Catch::Contains("on 2 of the 2 sessions"));
  // Within-session persistence per row.
  CHECK(r.muscles[0].rest_minutes == 2);
  CHECK(r.muscles[0].minutes_with_fp_fraction == Approx(1.0));
}

TEST_CASE("rate trend: weighted slope per month with a Poisson interval", "[pattern][rules]") {
  const auto trend = [](std::vector<std::pair<int, Index>> dc) {
    std::vector<SessionResult> h;
    for (std::size_t i = 0; i < dc.size(); ++i) h.push_back(session("s" + std::to_string(i), day(dc[i].first), {{"a_r", dc[i].second, 120.0}}));
    return classify(h).evidence.front().trend;
  };
  SECTION("exact slope for a noise-free line: 2, 4, 6 FP/min at 0, 1, 2 months") {
    const double month = 365.2425 / 12.0;
    std::vector<SessionResult> h;
    for (int i = 0; i < 3; ++i) {
      h.push_back(session("s" + std::to_string(i), "2026-01-05", {{"a_r", 4 * (i + 1), 120.0}}));
      h.back().day += i * month;
    }
    const auto t = classify(h).evidence.front().trend;
    REQUIRE(t.available);
    CHECK(t.slope_per_month == Approx(2.0));
    CHECK(t.ci_low > 0.0);
  }
  SECTION("flat rates: interval covers 0") {
    const auto t = trend({{0, 10}, {20, 10}, {40, 10}, {60, 10}});
    CHECK(t.slope_per_month == Approx(0.0).margin(1e-12));
    CHECK(t.ci_low < 0.0);
    CHECK(t.ci_high > 0.0);
  }
  SECTION("no FP at all still gives an honest, non-degenerate interval") {
    const auto t = trend({{0, 0}, {30, 0}});
    CHECK(t.available);
    CHECK(t.ci_high > 0.0);
  }
  SECTION("one session or one day: no trend") {
    CHECK(!trend({{0, 10}}).available);
    CHECK(!trend({{0, 10}, {0, 20}}).available);
  }
  SECTION("overdispersion widens the interval") {
    const auto calm = trend({{0, 10}, {10, 12}, {20, 10}, {30, 12}});
    const auto wild = trend({{0, 1}, {10, 30}, {20, 1}, {30, 30}});
    CHECK((wild.ci_high - wild.ci_low) > 2.0 * (calm.ci_high - calm.ci_low));
  }
}

TEST_CASE("dates: ISO calendar dates with an optional time of day", "[pattern][rules]") {
  CHECK(parse_date("1970-01-01") == 0.0);
  CHECK(parse_date("2026-03-01") - parse_date("2026-02-28") == 1.0);
  CHECK(parse_date("2024-03-01") - parse_date("2024-02-28") == 2.0);  // leap year
  CHECK(parse_date("2027-01-01") - parse_date("2026-12-31") == 1.0);
  CHECK(parse_date("2026-01-05T12:00") - parse_date("2026-01-05") == Approx(0.5));
  CHECK(parse_date("2026-01-05 06:00:00") - parse_date("2026-01-05") == Approx(0.25));
  CHECK(parse_date("2000-02-29") > 0.0);
  for (const char* bad : {"", "2026", "2026-1-5", "2026/01/05", "2026-13-01", "2026-00-10", "2026-02-29", "1900-02-29",
                          "2026-04-31", "2026-01-00", "2026-01-05T25:00", "2026-01-05T12:60", "2026-01-05Z",
                          "2026-01-05T12", "1800-01-01", "２０２６-01-05", "2026-01-05T12:00:00+01:00"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_date(bad), std::invalid_argument);
  }
  // Day arithmetic across a month and year boundary matches the helper.
  CHECK(parse_date(day(28)) - parse_date(day(0)) == 28.0);
  CHECK(parse_date(day(400)) - parse_date(day(0)) == 400.0);
}

TEST_CASE("software_version matches the CMake project version", "[pattern]") {
  std::ifstream in(std::string(FASCTRACK_SOURCE_DIR) + "/CMakeLists.txt");
  std::stringstream text;
  text << in.rdbuf();
  std::smatch m;
  const std::string s = text.str();
  REQUIRE(std::regex_search(s, m, std::regex(R"(project\(fasctrack VERSION ([0-9.]+))")));
  CHECK(std::string(software_version()) == m[1].str());
  CHECK(classify({session("s1", day(0), {})}).software_version == m[1].str());
}
