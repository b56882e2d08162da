// The evaluator on hand-built cases.
#include <fasctrack/sim/simulate.hpp>

#include <catch2/catch.hpp>

#include <random>

using namespace fasctrack;
using namespace fasctrack::sim;

namespace {

// A truth at 1000 Hz (1 sample = 1 ms) with the given (sample, unit) events.
Simulation truth_of(const std::vector<std::pair<Index, int>>& events, std::vector<Mask> masks = {}) {
  Simulation s;
  s.recording.fs = 1000.0;
  for (const auto& [sample, unit] : events) {
    TrueEvent e;
    e.sample = sample;
    e.unit = unit;
    s.events.push_back(e);
  }
  s.masks = std::move(masks);
  return s;
}

std::vector<Event> detections(const std::vector<std::pair<Index, int>>& events) {
  std::vector<Event> out;
  for (const auto& [sample, unit] : events) {
    Event e;
    e.sample = sample;
    e.time_s = static_cast<double>(sample) / 1000.0;
    e.unit = unit;
    out.push_back(e);
  }
  return out;
}

}  // namespace

TEST_CASE("evaluate: exact matches", "[sim]") {
  const auto truth = truth_of({{100, 0}, {500, 1}, {900, 0}, {1300, 2}});
  const auto ev = evaluate(truth, detections({{100, 7}, {500, 3}, {900, 7}, {1300, 4}}));
  CHECK(ev.true_events == 4);
  CHECK(ev.detections == 4);
  CHECK(ev.true_positives == 4);
  CHECK(ev.false_positives == 0);
  CHECK(ev.false_negatives == 0);
  CHECK(ev.precision == 1.0);
  CHECK(ev.recall == 1.0);
  CHECK(ev.f1 == 1.0);
  CHECK(ev.unit_ari == Approx(1.0));  // a relabelling is a perfect clustering
  CHECK(ev.detections_in_masked == 0);
  CHECK(ev.masked_minutes == 0.0);
  CHECK(ev.false_per_masked_minute == 0.0);
}

TEST_CASE("evaluate: the tolerance is inclusive", "[sim]") {
  const auto truth = truth_of({{1000, 0}, {2000, 0}});
  // 5 ms at 1000 Hz = 5 samples: +5 and -5 match, +6 does not.
  auto ev = evaluate(truth, detections({{1005, 0}, {1994, 0}}));
  CHECK(ev.true_positives == 1);
  CHECK(ev.false_positives == 1);
  CHECK(ev.false_negatives == 1);
  CHECK(ev.precision == 0.5);
  CHECK(ev.recall == 0.5);
  CHECK(ev.f1 == 0.5);
  ev = evaluate(truth, detections({{995, 0}, {1994, 0}}), EvaluationOptions{6.0});
  CHECK(ev.true_positives == 2);
}

TEST_CASE("evaluate: one-to-one, closest first", "[sim]") {
  // Two detections near one true event: the closer one matches, the other is false.
  auto ev = evaluate(truth_of({{100, 0}}), detections({{97, 0}, {101, 0}}));
  CHECK(ev.true_positives == 1);
  CHECK(ev.false_positives == 1);
  CHECK(ev.false_negatives == 0);
  // One detection between two true events: only one of them is found.
  ev = evaluate(truth_of({{100, 0}, {106, 1}}), detections({{104, 0}}));
  CHECK(ev.true_positives == 1);
  CHECK(ev.false_negatives == 1);
  CHECK(ev.false_positives == 0);
  // Closest pairs first: 104 takes 106 (2 ms), leaving 100 for 98.
  ev = evaluate(truth_of({{100, 0}, {106, 1}}), detections({{98, 0}, {104, 1}}));
  CHECK(ev.true_positives == 2);
  CHECK(ev.unit_ari == Approx(1.0));
  // Unsorted input is fine.
  ev = evaluate(truth_of({{900, 1}, {100, 0}, {500, 2}}), detections({{501, 5}, {899, 6}, {102, 7}}));
  CHECK(ev.true_positives == 3);
  CHECK(ev.unit_ari == Approx(1.0));
}

TEST_CASE("evaluate: masked periods are scored apart", "[sim]") {
  // 1 s voluntary + 0.5 s artefact (overlapping by 0.25 s): 1.25 s masked.
  const auto truth = truth_of({{500, 0}, {1500, 0}, {3000, 1}},
                              {{1000, 2000, MaskReason::voluntary}, {1750, 2250, MaskReason::artefact}});
  const auto ev = evaluate(truth, detections({{500, 0}, {1200, 0}, {1500, 0}, {2100, 1}, {2250, 1}, {3000, 1}}));
  CHECK(ev.true_events == 2);        // the one at 1500 is masked
  CHECK(ev.detections == 3);         // 500, 2250 (stop is exclusive), 3000
  CHECK(ev.detections_in_masked == 3);
  CHECK(ev.true_positives == 2);
  CHECK(ev.false_positives == 1);
  CHECK(ev.masked_minutes == Approx(1.25 / 60.0));
  CHECK(ev.false_per_masked_minute == Approx(3.0 / (1.25 / 60.0)));
}

TEST_CASE("evaluate: conventions for empty sides", "[sim]") {
  auto ev = evaluate(truth_of({}), {});
  CHECK(ev.precision == 1.0);
  CHECK(ev.recall == 1.0);
  CHECK(ev.f1 == 1.0);
  CHECK(ev.unit_ari == 0.0);  // nothing matched, no unit found
  ev = evaluate(truth_of({{100, 0}}), detections({{100, 0}}));
  CHECK(ev.f1 == 1.0);
  CHECK(ev.unit_ari == 0.0);  // one match: no pair to agree on
  ev = evaluate(truth_of({{100, 0}}), {});
  CHECK(ev.precision == 1.0);
  CHECK(ev.recall == 0.0);
  CHECK(ev.f1 == 0.0);
  ev = evaluate(truth_of({}), detections({{100, 0}}));
  CHECK(ev.precision == 0.0);
  CHECK(ev.recall == 1.0);
  CHECK(ev.f1 == 0.0);
  ev = evaluate(truth_of({{100, 0}}), detections({{300, 0}}));
  CHECK(ev.f1 == 0.0);
}

TEST_CASE("evaluate: adjusted Rand index of the unit labels", "[sim]") {
  // Same partition, different names.
  auto ev = evaluate(truth_of({{100, 0}, {200, 0}, {300, 1}, {400, 1}, {500, 2}, {600, 2}}),
                     detections({{100, 5}, {200, 5}, {300, 3}, {400, 3}, {500, 9}, {600, 9}}));
  CHECK(ev.unit_ari == Approx(1.0));
  // As sklearn.metrics.adjusted_rand_score([0,0,1,1], [0,0,0,1]) = 0.
  ev = evaluate(truth_of({{100, 0}, {200, 0}, {300, 1}, {400, 1}}),
                detections({{100, 0}, {200, 0}, {300, 0}, {400, 1}}));
  CHECK(ev.unit_ari == Approx(0.0).margin(1e-12));
  // sklearn.metrics.adjusted_rand_score([0,0,0,1,1,1], [0,0,1,1,2,2]) = 0.24242424...
  ev = evaluate(truth_of({{100, 0}, {200, 0}, {300, 0}, {400, 1}, {500, 1}, {600, 1}}),
                detections({{100, 0}, {200, 0}, {300, 1}, {400, 1}, {500, 2}, {600, 2}}));
  CHECK(ev.unit_ari == Approx(0.24242424242424243));
  // Unassigned detections are singletons: two events of one unit, both -1.
  ev = evaluate(truth_of({{100, 0}, {200, 0}, {300, 1}}), detections({{100, -1}, {200, -1}, {300, 4}}));
  // = adjusted_rand_score([0,0,1], [-1,-2,4]) = 0.0
  CHECK(ev.unit_ari == Approx(0.0).margin(1e-12));
  // Everything one cluster on both sides: identical trivial partitions.
  ev = evaluate(truth_of({{100, 0}, {200, 0}}), detections({{100, 3}, {200, 3}}));
  CHECK(ev.unit_ari == 1.0);
}

TEST_CASE("evaluate: random unit labels give ARI near 0", "[sim]") {
  std::mt19937_64 rng(5);
  std::uniform_int_distribution<int> unit(0, 4);
  std::vector<std::pair<Index, int>> t, d;
  for (int i = 0; i < 3000; ++i) {
    t.emplace_back(1000 + 50 * i, unit(rng));
    d.emplace_back(1000 + 50 * i + (i % 5) - 2, unit(rng));
  }
  const auto ev = evaluate(truth_of(t), detections(d));
  CHECK(ev.true_positives == 3000);
  CHECK(std::abs(ev.unit_ari) < 0.02);
}

TEST_CASE("evaluate: bad input", "[sim]") {
  CHECK_THROWS_AS(evaluate(truth_of({}), {}, EvaluationOptions{-1.0}), std::invalid_argument);
  Simulation no_fs;
  CHECK_THROWS_AS(evaluate(no_fs, {}), std::invalid_argument);
}

TEST_CASE("evaluate: a simulation's own events score perfectly", "[sim]") {
  SimulationOptions o;
  o.duration_s = 60.0;
  o.rate_per_min = 20.0;
  o.voluntary_bursts = 1;
  o.electrode_pops = 2;
  const auto s = simulate(o);
  std::vector<Event> det;
  for (const auto& e : s.events) {
    Event d;
    d.sample = e.sample + 2;  // within 5 ms at 2048 Hz
    d.unit = e.unit + 10;
    det.push_back(d);
  }
  const auto ev = evaluate(s, det);
  CHECK(ev.true_events == static_cast<Index>(s.events.size()));
  CHECK(ev.f1 == 1.0);
  CHECK(ev.unit_ari == Approx(1.0));
  CHECK(ev.masked_minutes > 0.0);
}
