// Detection quality against the simulator (fasctrack::sim), and the
// behaviour on artefact-only and contraction recordings.

#include <catch2/catch.hpp>

#include <fasctrack/sim/simulate.hpp>
#include <fasctrack/stream/detector.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace fasctrack;

namespace {

sim::Evaluation run(const sim::SimulationOptions& so, const DetectOptions& dopt = {}, DetectionResult* out = nullptr) {
  const auto s = sim::simulate(so);
  auto r = detect(s.recording, dopt);
  const auto ev = sim::evaluate(s, r.events);
  if (out) *out = std::move(r);
  return ev;
}

// The validation's "bipolar 4 ch, 4096 Hz" recordings: 4 leads, 8 units of
// 25-80 uV, 120 s (5 uV noise unless the test lowers it).
sim::SimulationOptions four_leads(std::uint64_t seed) {
  sim::SimulationOptions so;
  so.geometry = sim::Geometry::bipolar;
  so.bipolar_channels = 4;
  so.fs = 4096.0;
  so.n_units = 8;
  so.duration_s = 120.0;
  so.seed = seed;
  return so;
}

void print(const char* name, const sim::Evaluation& e) {
  std::printf("%-28s true %4ld det %4ld tp %4ld fp %3ld fn %3ld  P %.3f R %.3f F1 %.3f ARI %.3f  masked-FP/min %.2f\n",
              name, static_cast<long>(e.true_events), static_cast<long>(e.detections),
              static_cast<long>(e.true_positives), static_cast<long>(e.false_positives),
              static_cast<long>(e.false_negatives), e.precision, e.recall, e.f1, e.unit_ari,
              e.false_per_masked_minute);
}

}  // namespace

TEST_CASE("grid at moderate SNR: F1 >= 0.95", "[stream][quality]") {
  sim::SimulationOptions so;
  so.duration_s = 40.0;
  so.n_units = 4;
  so.rate_per_min = 15.0;
  so.amplitude_min_uv = 40.0;
  so.amplitude_max_uv = 80.0;
  so.noise_uv = 4.0;
  so.seed = 11;
  const auto e = run(so);
  print("grid moderate", e);
  CHECK(e.f1 >= 0.95);
  CHECK(e.unit_ari >= 0.8);
}

// The project target is F1 >= 0.95 in every condition; on bipolar leads it
// is not met yet (README, validation table). Since the simulator became
// compiler-independent this recording scores 0.941 (precision 1.0, 4 of 36
// missed), so the gate guards that level against regressions until recall
// on single leads improves.
TEST_CASE("bipolar at moderate SNR: F1 >= 0.93 (target 0.95 not yet met)", "[stream][quality]") {
  sim::SimulationOptions so;
  so.geometry = sim::Geometry::bipolar;
  so.fs = 4096.0;
  so.duration_s = 40.0;
  so.n_units = 4;
  so.rate_per_min = 15.0;
  so.amplitude_min_uv = 40.0;
  so.amplitude_max_uv = 80.0;
  so.noise_uv = 4.0;
  so.seed = 12;
  const auto e = run(so);
  print("bipolar moderate", e);
  CHECK(e.f1 >= 0.93);
  CHECK(e.precision >= 0.95);
}

// No far-field cancellation on 8 bipolar leads: a 50 uV heartbeat whose QRS
// tip stands out of the noise was counted ~80 times a minute. With no
// fasciculations at all, nothing is reported; with them, the heartbeat does
// not take their place.
TEST_CASE("bipolar leads with ECG: heartbeats are not fasciculations", "[stream][quality]") {
  sim::SimulationOptions so;
  so.geometry = sim::Geometry::bipolar;
  so.bipolar_channels = 8;
  so.duration_s = 60.0;
  so.ecg_uv = 50.0;
  so.seed = 21;
  for (double ecg_uv : {25.0, 50.0, 100.0}) {
    so.ecg_uv = ecg_uv;
    so.n_units = 0;
    const auto none = run(so);
    INFO("ECG " << ecg_uv << " uV, no units: " << none.detections << " detections");
    CHECK(none.detections <= 1);
  }
  so.ecg_uv = 50.0;
  so.n_units = 4;
  so.amplitude_min_uv = 60.0;
  so.amplitude_max_uv = 120.0;
  const auto with = run(so);
  print("bipolar 8 + ECG", with);
  CHECK(with.precision >= 0.9);
  CHECK(with.recall >= 0.8);
}

// On single leads a weak unit's discharges mostly reach only the tentative
// (rescue) level. Waiting for a template of 3 discharges that stood on their
// own, this recording (8 leads, 50 uV of ECG) found 13 of 26; a unit seen
// twice now takes them (16, the 30 uV unit on lead 2 gaining 3).
TEST_CASE("bipolar leads: a unit seen twice takes its discharges too small to stand alone", "[stream][quality]") {
  sim::SimulationOptions so;
  so.geometry = sim::Geometry::bipolar;
  so.bipolar_channels = 8;
  so.fs = 2048.0;
  so.duration_s = 120.0;
  so.ecg_uv = 50.0;
  so.seed = 2002;
  const auto e = run(so);
  print("bipolar 8 + ECG, seed 2002", e);
  CHECK(e.true_positives >= 15);
  CHECK(e.false_positives <= 1);
}

namespace {

// One bipolar lead at 4096 Hz of background only: 3 uV noise, mains and
// wander (the simulator with no units), for discharges drawn by the test.
Recording quiet_lead(double duration_s) {
  sim::SimulationOptions so;
  so.geometry = sim::Geometry::bipolar;
  so.bipolar_channels = 1;
  so.fs = 4096.0;
  so.duration_s = duration_s;
  so.n_units = 0;
  so.noise_uv = 3.0;
  so.seed = 5;
  return sim::simulate(so).recording;
}

// One bipolar lead of background (quiet_lead), plus
// discharges drawn here: a triphasic potential (a Ricker wavelet, main phase
// ~1.5 ms, 60 uV peak to peak) and, `lag_ms(k)` later, a second copy at
// `second_gain` of its size. Returns the detections; `first_at` gets the
// first potential's peak samples.
template <class Lag>
std::vector<Event> pairs_on_a_lead(int n, Lag lag_ms, double second_gain = 0.9, std::vector<double>* first_at = nullptr) {
  auto rec = quiet_lead(3.0 * n + 8.0);
  auto& x = std::get<RowMatrix<double>>(rec.samples);
  const double fs = rec.fs, width = 1e-3 * fs;
  auto add = [&](double at, double gain) {
    const double p2p = 1.0 + 2.0 * std::exp(-1.5);  // (1 - u^2) exp(-u^2 / 2): 1 at 0, -2e^-1.5 at +-sqrt(3)
    for (Index i = static_cast<Index>(at - 6 * width); i <= static_cast<Index>(at + 6 * width); ++i) {
      const double u = (static_cast<double>(i) - at) / width;
      x(0, i) += gain * 60.0 * (1.0 - u * u) * std::exp(-0.5 * u * u) / p2p;
    }
  };
  for (int k = 0; k < n; ++k) {
    const double t = (6.0 + 3.0 * k + 0.37 * (k % 5)) * fs;
    add(t, 1.0);
    add(t + lag_ms(k) * 1e-3 * fs, second_gain);
    if (first_at) first_at->push_back(t);
  }
  return detect(rec).events;
}

// Adds a Mexican-hat potential, (1 - u^2) exp(-u^2 / 2) with u in widths from
// `at` (1 at its centre), scaled by peak_uv, to channel ch.
void add_hat(RowMatrix<double>& x, Index ch, double at, double width, double peak_uv) {
  for (Index i = static_cast<Index>(at - 6 * width); i <= static_cast<Index>(at + 6 * width); ++i) {
    const double u = (static_cast<double>(i) - at) / width;
    x(ch, i) += peak_uv * (1.0 - u * u) * std::exp(-0.5 * u * u);
  }
}

// A simulated 8x8 grid at 2048 Hz with no motor units: noise, mains, wander.
Recording quiet_grid(double duration_s, double noise_uv, std::uint64_t seed) {
  sim::SimulationOptions so;
  so.fs = 2048.0;
  so.duration_s = duration_s;
  so.n_units = 0;
  so.noise_uv = noise_uv;
  so.seed = seed;
  return sim::simulate(so).recording;
}

// Adds one discharge to every grid electrode: shape(row, column) gives the
// electrode's gain (0: untouched) and its delay in samples after t.
template <class Shape>
void add_grid_discharge(Recording& rec, double t, double width, double peak_uv, Shape shape) {
  auto& x = std::get<RowMatrix<double>>(rec.samples);
  for (Index ch = 0; ch < x.rows(); ++ch) {
    const auto& g = rec.channels[static_cast<std::size_t>(ch)].grid;
    const auto [gain, delay] = shape(g->row, g->column);
    if (gain != 0.0) add_hat(x, ch, t + delay, width, gain * peak_uv);
  }
}

// For pairs_on_a_lead's pairs: how many have a detection within 1 ms (4
// samples at 4096 Hz) of the first potential, and how many of the second.
std::pair<int, int> pairs_found(const std::vector<Event>& events, const std::vector<double>& first_at, double lag_ms,
                                double fs) {
  auto near = [&](double at) {
    return std::any_of(events.begin(), events.end(), [&](const Event& e) { return std::abs(e.sample - at) <= 4; });
  };
  int at_first = 0, at_second = 0;
  for (double t : first_at) {
    at_first += near(t);
    at_second += near(t + lag_ms * 1e-3 * fs);
  }
  return {at_first, at_second};
}

}  // namespace

// A reinnervated unit's fibre groups fire desynchronised but at fixed
// delays, so a late component can look like a second discharge. At the same
// lag discharge after discharge it is part of the potential; a doublet's
// interval varies. (The rule needs two earlier sightings of a lag.)
TEST_CASE("time-locked late components are not doublets; doublets at varying intervals are", "[stream][quality]") {
  const int n = 12;
  const auto locked = pairs_on_a_lead(n, [](int) { return 20.0; });
  INFO("time-locked at 20 ms: " << locked.size() << " detections for " << n << " discharges");
  CHECK(locked.size() >= static_cast<std::size_t>(n));
  CHECK(locked.size() <= static_cast<std::size_t>(n + 2));
  // Doublet intervals 13.5-24.5 ms, 1 ms apart: no two alike.
  const auto doublets = pairs_on_a_lead(n, [](int k) { return 13.5 + 1.0 * k; });
  INFO("doublets: " << doublets.size() << " detections for " << 2 * n << " discharges");
  CHECK(doublets.size() >= static_cast<std::size_t>(2 * n - 1));
  CHECK(doublets.size() <= static_cast<std::size_t>(2 * n));
}

// A complex unit's late phase, 10-20 ms after its main one and 0.6-0.9 of
// its size, splits off as a bump of its own now and then. Its lag repeats,
// but the noise moves its measured time by more than the time-lock's
// tolerance, so the unit's template (which holds the late phase) has to
// say that the bump is the discharge's own. On this recording (4 bipolar
// leads at 4096 Hz, 3 uV noise) the detector without that check reported 4
// such late phases of one complex unit as discharges.
TEST_CASE("bipolar: a complex unit's late phase that its template predicts is not a discharge", "[stream][quality]") {
  auto so = four_leads(1003);
  so.noise_uv = 3.0;
  const auto s = sim::simulate(so);
  const auto r = detect(s.recording);
  const auto e = sim::evaluate(s, r.events);
  print("bipolar 4, 3 uV noise", e);
  CHECK(e.recall >= 0.98);
  const double ms = so.fs * 1e-3;
  // Detections 10-20 ms after a true discharge of a complex unit on the
  // same lead, with no true discharge within the matching tolerance.
  int late = 0;
  for (const Event& d : r.events) {
    const bool matched = std::any_of(s.events.begin(), s.events.end(), [&](const sim::TrueEvent& t) {
      return std::abs(static_cast<double>(d.sample - t.sample)) <= 5.0 * ms;
    });
    const bool after_complex = std::any_of(s.events.begin(), s.events.end(), [&](const sim::TrueEvent& t) {
      const double lag = static_cast<double>(d.sample - t.sample);
      return t.complex && t.channel == d.channel && lag >= 10.0 * ms && lag <= 20.0 * ms;
    });
    if (!matched && after_complex) ++late;
  }
  INFO(late << " late phases reported as discharges");
  CHECK(late <= 1);
}

// Tonic firing is a unit discharging continually, three or more times at
// intervals up to tonic_isi_ms. A fasciculating unit's doublet (10-24 ms)
// and its next discharge 165 ms after the first are three discharges within that
// reach, but a doublet's interval is no step of continual firing (40-100
// Hz), so they stay events; a run of five at 150 ms is masked.
TEST_CASE("a doublet and the unit's next discharge are not tonic firing; a run is", "[stream][quality]") {
  const int n = 16;
  auto rec = quiet_lead(3.0 * n + 8.0);
  auto& x = std::get<RowMatrix<double>>(rec.samples);
  const double fs = rec.fs, width = 1e-3 * fs, ms = 1e-3 * fs;
  std::vector<double> triplets, runs;
  for (int k = 0; k < n; ++k) {
    const double t = (6.0 + 3.0 * k + 0.37 * (k % 5)) * fs;
    if (k % 2 == 0) {
      // Doublet intervals 10-24 ms, no two alike (a repeating one is a late
      // component of the potential, see time_locked).
      const double doublet_ms = 10.0 + k;
      for (double at : {t, t + doublet_ms * ms, t + 165.0 * ms}) add_hat(x, 0, at, width, 60.0);
      triplets.push_back(t);
    } else {
      for (int j = 0; j < 5; ++j) add_hat(x, 0, t + 150.0 * j * ms, width, 60.0);
      runs.push_back(t);
    }
  }
  const auto r = detect(rec);
  auto found = [&](double at) {
    return std::any_of(r.events.begin(), r.events.end(), [&](const Event& e) { return std::abs(e.sample - at) <= ms; });
  };
  auto tonic_over = [&](double a, double b) {
    return std::any_of(r.masks.begin(), r.masks.end(), [&](const auto& m) {
      return m.reason == MaskReason::tonic && m.start < b && m.stop > a;
    });
  };
  int third_found = 0, triplets_masked = 0, runs_masked = 0, in_runs = 0;
  for (double t : triplets) {
    third_found += found(t + 165.0 * ms);
    triplets_masked += tonic_over(t, t + 166.0 * ms);
  }
  for (double t : runs) {
    runs_masked += tonic_over(t + 300.0 * ms, t + 600.0 * ms);
    for (int j = 0; j < 5; ++j) in_runs += found(t + 150.0 * j * ms);
  }
  INFO(r.events.size() << " events; triplets: " << third_found << " of " << triplets.size()
                       << " with the third discharge reported, " << triplets_masked << " masked as tonic; runs: "
                       << runs_masked << " of " << runs.size() << " masked, " << in_runs << " of their discharges reported");
  CHECK(triplets_masked == 0);
  CHECK(third_found == static_cast<int>(triplets.size()));
  CHECK(runs_masked == static_cast<int>(runs.size()));
  CHECK(in_runs == 0);
}

// A complex potential whose early fibre group is detected first: once the
// later, larger component is known to be time-locked to it, the event is
// the larger one (the discharge's largest deflection), not the early one.
TEST_CASE("a larger time-locked component carries the event", "[stream][quality]") {
  const int n = 12;
  const double lag_ms = 10.0, fs = 4096.0;
  std::vector<double> first_at;
  const auto events = pairs_on_a_lead(n, [&](int) { return lag_ms; }, 1.4, &first_at);
  const auto [at_first, at_second] = pairs_found(events, first_at, lag_ms, fs);
  INFO(events.size() << " detections; " << at_first << " at the early component, " << at_second << " at the larger");
  CHECK(at_second == n);
  // The first two pairs are reported as seen (the lag is not yet known to repeat).
  CHECK(at_first <= 2);
  CHECK(events.size() <= static_cast<std::size_t>(n + 2));
}

namespace {

// The validation's doublet-rich grid: 3 units of 40-80 uV, half of whose
// discharges are followed by a second 5-110 ms later, over 4 uV noise.
sim::SimulationOptions doublet_grid(std::uint64_t seed) {
  sim::SimulationOptions so;
  so.duration_s = 120.0;
  so.n_units = 3;
  so.rate_per_min = 10.0;
  so.doublet_probability = 0.5;
  so.amplitude_min_uv = 40.0;
  so.amplitude_max_uv = 80.0;
  so.noise_uv = 4.0;
  so.seed = seed;
  return so;
}

struct SecondsFound {
  std::size_t seconds = 0, found = 0, flagged = 0;
};

// Second discharges min_ms-max_ms after their unit's previous one, and how
// many were detected: a detection within the tolerance of the second
// discharge that is nearer to it than to any other true discharge (the
// first has its own detection); flagged: that detection is a doublet.
SecondsFound second_discharges_found(const sim::Simulation& s, const DetectionResult& r, double min_ms,
                                     double max_ms) {
  const double fs = s.recording.fs;
  const auto tol = static_cast<Index>(std::lround(0.005 * fs));
  SecondsFound out;
  for (std::size_t i = 0; i < s.events.size(); ++i) {
    for (std::size_t k = i; k-- > 0;) {
      const double dt_ms = 1e3 * static_cast<double>(s.events[i].sample - s.events[k].sample) / fs;
      if (dt_ms > max_ms) break;
      if (s.events[k].unit != s.events[i].unit || dt_ms < min_ms) continue;
      ++out.seconds;
      const Index t = s.events[i].sample;
      for (const auto& ev : r.events) {
        if (std::abs(ev.sample - t) > tol) continue;
        bool nearer_other = false;
        for (const auto& te : s.events)
          if (te.sample != t && std::abs(te.sample - ev.sample) < std::abs(t - ev.sample)) nearer_other = true;
        if (nearer_other) continue;
        ++out.found;
        if (ev.doublet) ++out.flagged;
        break;
      }
    }
  }
  return out;
}

}  // namespace

// Second discharges of doublets closer than merge_ms overlap the first
// potential and make one cluster with it; once the unit's template is
// established they are fitted out of the window (see peel_pair in
// detector.cpp). On this recording the detector without that step found 13
// of the 30 (3 flagged as doublets: the rest took other unit labels); with
// it 27 (23 flagged), and recall over all discharges rose from 0.75 to 0.90
// at precision 1; 29 (27 flagged) since a pair that cancels is tried and a
// tonic run needs four discharges (see the next two tests).
TEST_CASE("overlapping doublets (5-25 ms) are separated once their unit is known", "[stream][quality]") {
  const auto s = sim::simulate(doublet_grid(31));
  const auto r = detect(s.recording);
  const auto e = sim::evaluate(s, r.events);
  print("overlapping doublets", e);
  const auto n = second_discharges_found(s, r, 5.0, 25.0);
  INFO(n.found << " of " << n.seconds << " overlapping second discharges found, " << n.flagged << " flagged doublet");
  REQUIRE(n.seconds >= 15);
  CHECK(static_cast<double>(n.found) >= 0.85 * static_cast<double>(n.seconds));
  CHECK(static_cast<double>(n.flagged) >= 0.7 * static_cast<double>(n.seconds));
  CHECK(e.precision >= 0.95);
}

// Two copies of a simple potential 5-9 ms apart partly cancel: one template
// copy fits the pair at about half its size, under the scale a discharge of
// the unit must have, so the pair fit was never tried (peel_pair now falls
// back to the best fit of an overlapped size). On these four recordings 19
// of 28 such second discharges were found before, 25 after.
TEST_CASE("doublets 5-9 ms apart whose potentials cancel are separated", "[stream][quality]") {
  SecondsFound total;
  for (const std::uint64_t seed : {31u, 34u, 38u, 42u}) {
    const auto s = sim::simulate(doublet_grid(seed));
    const auto n = second_discharges_found(s, detect(s.recording), 5.0, 9.0);
    total.seconds += n.seconds;
    total.found += n.found;
  }
  INFO(total.found << " of " << total.seconds << " second discharges 5-9 ms after the first found");
  REQUIRE(total.seconds >= 20);
  CHECK(static_cast<double>(total.found) >= 0.85 * static_cast<double>(total.seconds));
}

// A fasciculating unit fires multiplets: a doublet 25-110 ms apart and its
// next discharge within 250 ms were three discharges "in a row" and made a
// tonic mask (with tonic_min_discharges = 3, one such mask in each of these
// recordings, none of which has voluntary or tonic firing), which took the
// discharges of the multiplet with it.
TEST_CASE("a doublet and the next discharge are no tonic firing", "[stream][quality]") {
  for (const std::uint64_t seed : {35u, 36u, 37u}) {
    const auto s = sim::simulate(doublet_grid(seed));
    const auto r = detect(s.recording);
    std::size_t tonic = 0;
    for (const auto& m : r.masks)
      if (m.reason == MaskReason::tonic) ++tonic;
    INFO("seed " << seed);
    CHECK(tonic == 0);
  }
}

// On a single lead the known-unit sweep starts at a unit's second
// discharge. The 27 uV unit on lead 0 of this recording (11 discharges over
// 5 uV noise) reached the threshold on its own only a few times; waiting
// for a template of 4, the detector found 7 of its discharges, now 9.
TEST_CASE("bipolar: a weak unit is swept for from its second discharge", "[stream][quality]") {
  const auto so = four_leads(1005);
  const auto s = sim::simulate(so);
  const auto r = detect(s.recording);
  const auto e = sim::evaluate(s, r.events);
  print("bipolar 4, seed 1005", e);
  const int weak = 3;
  REQUIRE(s.units[weak].amplitude_uv < 30.0);
  const double tol = 5e-3 * so.fs;
  int truth = 0, found = 0;
  for (const auto& t : s.events) {
    if (t.unit != weak) continue;
    ++truth;
    found += std::any_of(r.events.begin(), r.events.end(),
                         [&](const Event& d) { return std::abs(static_cast<double>(d.sample - t.sample)) <= tol; });
  }
  INFO(found << " of the weak unit's " << truth << " discharges found");
  CHECK(truth == 11);
  CHECK(found >= 9);
  CHECK(e.false_positives <= 10);
}

TEST_CASE("known units: discharges too small for the threshold are found by the unit's template", "[stream][quality]") {
  // Small units (25-80 uV) over 7 uV noise on an 8x8 grid: the energy
  // statistic misses some discharges of units it already knows, which the
  // units' templates find again at their own size.
  Index tp_off = 0, tp_on = 0, fp_off = 0, fp_on = 0;
  double ari_off = 0.0, ari_on = 0.0;
  for (std::uint64_t seed : {2000, 2001, 2002, 2003}) {
    sim::SimulationOptions so;
    so.duration_s = 120.0;
    so.noise_uv = 7.0;
    so.seed = seed;
    DetectOptions off;
    off.known_unit_sweep = false;
    DetectionResult r_off, r_on;
    const auto e_off = run(so, off, &r_off);
    const auto e_on = run(so, {}, &r_on);
    print("noise 7 uV, no sweep", e_off);
    print("noise 7 uV, sweep", e_on);
    tp_off += e_off.true_positives;
    tp_on += e_on.true_positives;
    fp_off += e_off.false_positives;
    fp_on += e_on.false_positives;
    ari_off += e_off.unit_ari;
    ari_on += e_on.unit_ari;
    // The sweep only adds discharges: every event found without it is still there.
    for (const auto& ev : r_off.events) {
      const bool kept = std::any_of(r_on.events.begin(), r_on.events.end(),
                                    [&](const Event& x) { return x.sample == ev.sample; });
      CHECK(kept);
    }
    CHECK(r_on.latency_samples > r_off.latency_samples);
    // The sweep keeps the streaming contract where it finds discharges:
    // random chunks give the offline events, each within the latency bound.
    if (seed == 2001) {
      REQUIRE(e_on.true_positives > e_off.true_positives);
      const auto s = sim::simulate(so);
      const auto& x = std::get<RowMatrix<double>>(s.recording.samples);
      StreamingDetector<double> det(s.recording.fs, s.recording.channels);
      std::mt19937_64 rng(41);
      std::uniform_int_distribution<Index> size(0, 5000);
      std::vector<Event> streamed;
      Index worst = 0;
      for (Index i = 0; i < x.cols();) {
        const Index m = std::min(size(rng), x.cols() - i);
        for (const auto& ev : det.process(x.middleCols(i, m))) {
          worst = std::max(worst, det.samples_seen() - ev.sample);
          streamed.push_back(ev);
        }
        i += m;
      }
      for (const auto& ev : det.flush()) streamed.push_back(ev);
      CHECK(streamed == r_on.events);
      CHECK(worst <= det.latency_samples());
    }
  }
  INFO("true positives " << tp_off << " -> " << tp_on << ", false " << fp_off << " -> " << fp_on);
  CHECK(tp_on >= tp_off + 5);
  CHECK(fp_on <= fp_off);
  // Found discharges join their unit: the labels agree as well as before.
  CHECK(ari_on / 4.0 >= ari_off / 4.0 - 0.01);
}

TEST_CASE("quality survey (numbers only)", "[.][survey]") {
  struct Case {
    const char* name;
    sim::SimulationOptions so;
  };
  std::vector<Case> cases;
  auto base = [] {
    sim::SimulationOptions so;
    so.duration_s = 120.0;
    return so;
  };
  for (std::uint64_t seed : {1, 2, 3}) {
    auto so = base();
    so.seed = seed;
    cases.push_back({"grid default 50Hz", so});
    so.mains_hz = 60.0;
    cases.push_back({"grid 60Hz", so});
    so.noise_uv = 7.0;
    cases.push_back({"grid noise7", so});
    so = base();
    so.seed = seed;
    so.ecg_uv = 100.0;
    so.doublet_probability = 0.2;
    so.complex_fraction = 0.5;
    cases.push_back({"grid ecg+doublets+complex", so});
    so = base();
    so.seed = seed;
    so.voluntary_bursts = 3;
    so.motion_artefacts = 3;
    so.electrode_pops = 3;
    cases.push_back({"grid bursts+artefacts", so});
    so = base();
    so.seed = seed;
    so.geometry = sim::Geometry::bipolar;
    so.fs = 4096.0;
    cases.push_back({"bipolar 4096", so});
    so.noise_uv = 7.0;
    so.ecg_uv = 100.0;
    cases.push_back({"bipolar noise7 ecg", so});
  }
  for (const auto& c : cases) print(c.name, run(c.so));
}

TEST_CASE("diagnose (prints misses and false detections)", "[.][diag]") {
  for (int geo = 0; geo < 2; ++geo) {
    sim::SimulationOptions so;
    so.duration_s = 40.0;
    so.rate_per_min = 15.0;
    so.amplitude_min_uv = 40.0;
    so.amplitude_max_uv = 80.0;
    so.noise_uv = 4.0;
    so.seed = 11;
    if (geo == 1) {
      so.geometry = sim::Geometry::bipolar;
      so.fs = 4096.0;
      so.seed = 12;
    }
    if (std::getenv("REAL")) {
      so.duration_s = 120.0;
      so.rate_per_min = 6.0;
      so.amplitude_min_uv = 25.0;
      so.amplitude_max_uv = 80.0;
      so.noise_uv = std::getenv("NOISE") ? std::atof(std::getenv("NOISE")) : 5.0;
      so.ecg_uv = std::getenv("ECG") ? std::atof(std::getenv("ECG")) : 0.0;
      so.seed = std::getenv("SEED") ? std::atoi(std::getenv("SEED")) : 1;
    }
    const auto s = sim::simulate(so);
    const auto r = detect(s.recording);
    const Index tol = static_cast<Index>(0.005 * so.fs);
    std::printf("--- geometry %d: %zu truth, %zu detections, %zu masks\n", geo, s.events.size(), r.events.size(),
                r.masks.size());
    for (const auto& m : r.masks) std::printf("mask %ld-%ld reason %d\n", (long)m.start, (long)m.stop, (int)m.reason);
    for (const auto& t : s.events) {
      const Event* best = nullptr;
      for (const auto& e : r.events)
        if (std::abs(e.sample - t.sample) <= tol && (!best || std::abs(e.sample - t.sample) < std::abs(best->sample - t.sample))) best = &e;
      if (!best) {
        Index nearest = -1;
        for (const auto& e : r.events)
          if (nearest < 0 || std::abs(e.sample - t.sample) < std::abs(nearest - t.sample)) nearest = e.sample;
        std::printf("MISS t=%ld unit %d ch %ld amp %.1f dbl %d cx %d nearest det %ld\n", (long)t.sample, t.unit,
                    (long)t.channel, t.amplitude_uv, t.doublet, t.complex, (long)nearest);
      }
    }
    for (const auto& e : r.events) {
      bool ok = false;
      const sim::TrueEvent* near = nullptr;
      for (const auto& t : s.events) {
        ok = ok || std::abs(e.sample - t.sample) <= tol;
        if (!near || std::abs(e.sample - t.sample) < std::abs(e.sample - near->sample)) near = &t;
      }
      if (!ok)
        std::printf("FALSE t=%ld ch %ld amp %.1f dur %.1f ph %d nch %ld conf %.2f unit %d | nearest truth %ld u%d ch%ld\n", (long)e.sample,
                    (long)e.channel, e.amplitude_uv, e.duration_ms, e.phases, (long)e.n_channels, e.confidence, e.unit,
                    near ? (long)near->sample : -1L, near ? near->unit : -1, near ? (long)near->channel : -1L);
    }
  }
}

TEST_CASE("diagnose ECG (prints)", "[.][diagecg]") {
  sim::SimulationOptions so;
  so.duration_s = 30.0;
  so.n_units = 0;
  so.ecg_uv = std::getenv("ECG") ? std::atof(std::getenv("ECG")) : 150.0;
  so.seed = 32;
  so.geometry = sim::Geometry::bipolar;
  so.fs = 4096.0;
  const auto r = detect(sim::simulate(so).recording);
  for (const auto& e : r.events)
    std::printf("ECG-EVENT t=%ld ch %ld amp %.1f dur %.1f ph %d turns %d\n", (long)e.sample, (long)e.channel,
                e.amplitude_uv, e.duration_ms, e.phases, e.turns);
}

TEST_CASE("diagnose voluntary (prints)", "[.][diagvol]") {
  sim::SimulationOptions so;
  so.duration_s = 30.0;
  so.voluntary_bursts = 2;
  so.seed = 34;
  if (std::getenv("ART")) {
    so.duration_s = 120.0;
    so.voluntary_bursts = 3;
    so.motion_artefacts = 3;
    so.electrode_pops = 3;
    so.seed = 1;
  }
  if (std::getenv("BIP")) {
    so.geometry = sim::Geometry::bipolar;
    so.fs = 4096.0;
  }
  const auto s = sim::simulate(so);
  const auto r = detect(s.recording);
  for (const auto& m : s.masks) std::printf("TRUE mask %ld-%ld reason %d\n", (long)m.start, (long)m.stop, (int)m.reason);
  for (const auto& m : r.masks) std::printf("MY mask %ld-%ld reason %d\n", (long)m.start, (long)m.stop, (int)m.reason);
  for (const auto& e : r.events) {
    bool in = false;
    for (const auto& m : s.masks) in = in || (e.sample >= m.start && e.sample < m.stop);
    if (in) std::printf("IN-MASK event t=%ld ch %ld amp %.1f unit %d\n", (long)e.sample, (long)e.channel, e.amplitude_uv, e.unit);
  }
}

TEST_CASE("diagnose doublets (prints)", "[.][diagdbl]") {
  sim::SimulationOptions so;
  so.geometry = sim::Geometry::bipolar;
  so.fs = 4096.0;
  so.duration_s = 40.0;
  so.rate_per_min = 12.0;
  so.amplitude_min_uv = 60.0;
  so.amplitude_max_uv = 90.0;
  so.doublet_probability = 0.4;
  so.complex_fraction = 0.0;
  so.seed = 36;
  if (std::getenv("GRID")) {
    so.geometry = sim::Geometry::grid;
    so.fs = 2048.0;
  }
  const auto s = sim::simulate(so);
  const auto r = detect(s.recording);
  const Index tol = static_cast<Index>(0.005 * so.fs);
  for (const auto& m : r.masks) std::printf("MY mask %ld-%ld reason %d\n", (long)m.start, (long)m.stop, (int)m.reason);
  for (const auto& t : s.events) {
    if (!t.doublet) continue;
    const Event* m = nullptr;
    for (const auto& e : r.events)
      if (std::abs(e.sample - t.sample) <= tol) m = &e;
    if (m)
      std::printf("TRUE dbl %ld u%d ch%ld -> det unit %d dbl %d iso %d amp %.1f\n", (long)t.sample, t.unit, (long)t.channel, m->unit, m->doublet, m->isolated, m->amplitude_uv);
    else
      std::printf("TRUE dbl %ld u%d ch%ld -> MISSED\n", (long)t.sample, t.unit, (long)t.channel);
  }
}

// A complex potential whose two main phases are 4 ms apart and nearly equal
// (the later 6% larger): noise decides, discharge by discharge, which one
// the detection lands on. Once the unit's template has averaged a few
// discharges, it says where the potential really peaks, and every discharge
// is timed there.
TEST_CASE("near-equal phases: the unit's template decides where a discharge is timed", "[stream][quality]") {
  const int n = 24;
  const double lag_ms = 4.0, fs = 4096.0;
  std::vector<double> first_at;
  const auto events = pairs_on_a_lead(n, [&](int) { return lag_ms; }, 1.06, &first_at);
  const auto [at_first, at_second] = pairs_found(events, first_at, lag_ms, fs);
  INFO(events.size() << " detections; " << at_first << " at the earlier phase, " << at_second << " at the larger");
  CHECK(events.size() == static_cast<std::size_t>(n));
  // The first three discharges come before the template is an average.
  CHECK(at_first <= 3);
  CHECK(at_second >= n - 3);
}

// On a simulated grid (seed 2000, 5 uV noise) the complex unit's founder is
// timed on an early phase 10 ms before its largest deflection, and its
// second discharge, aligned to the founder, was timed there too. On a grid
// the template of the two already says where the potential peaks.
TEST_CASE("grid: a complex unit's discharges follow its template from the second on", "[stream][quality]") {
  sim::SimulationOptions so;
  so.fs = 2048.0;
  so.duration_s = 120.0;
  so.noise_uv = 5.0;
  so.seed = 2000;
  const auto s = sim::simulate(so);
  const auto events = detect(s.recording).events;
  const double tol = 0.005 * so.fs;
  std::vector<Index> off;  // complex discharges found only 5-15 ms away
  int complex_discharges = 0;
  for (const auto& t : s.events) {
    if (!t.complex) continue;
    ++complex_discharges;
    auto within = [&](double lo, double hi) {
      return std::any_of(events.begin(), events.end(), [&](const Event& e) {
        const double d = std::abs(static_cast<double>(e.sample - t.sample));
        return d >= lo && d <= hi;
      });
    };
    if (!within(0.0, tol) && within(tol, 3.0 * tol)) off.push_back(t.sample);
  }
  std::string where;
  for (Index t : off) where += std::to_string(t) + " ";
  INFO(complex_discharges << " complex discharges; timed on another phase: " << where);
  REQUIRE(complex_discharges >= 10);
  // Only the founder (the first two before re-timing on a grid began at 2).
  CHECK(off.size() <= 1);
}

// A complex potential on a quiet 8x8 grid: electrode A sees the main fibre
// group, its neighbour B (0.85 of A's size) an earlier group 8 ms before.
// Each discharge alone is timed on B (event_channel: electrodes within 0.8
// of the largest may be the largest under noise, and the earliest is
// taken); the unit's template, its noise averaged out, says A is the larger
// by far more than that noise, and the event time is the largest
// deflection on the largest electrode (0 of 22 on A with the share alone).
TEST_CASE("grid: a unit is timed on its template's largest electrode, not an earlier one nearly as large", "[stream][quality]") {
  auto rec = quiet_grid(40.0, 3.0, 5);
  auto& x = std::get<RowMatrix<double>>(rec.samples);
  const double fs = rec.fs, width = 1e-3 * fs;
  const Index a = 3 * 8 + 4, b = 3 * 8 + 3;
  const Index early = static_cast<Index>(std::lround(0.008 * fs));
  std::vector<Index> truth;
  for (Index at = static_cast<Index>(3.0 * fs); at < x.cols() - static_cast<Index>(fs); at += static_cast<Index>(1.7 * fs)) {
    truth.push_back(at);
    const auto t = static_cast<double>(at), t_early = static_cast<double>(at - early);
    add_hat(x, a, t, width, -100.0);
    add_hat(x, a, t_early, width, -30.0);
    add_hat(x, b, t_early, width, -85.0);
    add_hat(x, b, t, width, -30.0);
    for (Index c : {a - 8, a + 8}) add_hat(x, c, t, width, -35.0);
    for (Index c : {b - 8, b + 8}) add_hat(x, c, t_early, width, -30.0);
  }
  const auto r = detect(rec);
  const Index tol = static_cast<Index>(std::lround(0.001 * fs));
  Index on_a = 0, on_b = 0;
  for (Index t : truth)
    for (const auto& e : r.events) {
      if (e.channel == a && std::abs(e.sample - t) <= tol) ++on_a;
      if (e.channel == b && std::abs(e.sample - (t - early)) <= tol) ++on_b;
    }
  INFO(truth.size() << " discharges: " << on_a << " timed on A, " << on_b << " on B; " << r.events.size() << " events");
  REQUIRE(truth.size() >= 18);
  // The founder is timed alone; from the second on the template decides.
  CHECK(on_a >= static_cast<Index>(truth.size()) - 2);
  CHECK(on_b <= 2);
  CHECK(r.events.size() == truth.size());
}

// A propagating potential whose size dips between the innervation zone and
// a fibre-end potential (1.0, 0.84, 0.78, 0.95, far along the row). With
// the far end nearly as large (0.95), noise decides discharge by discharge
// which is the largest; the event is the innervation zone's, where the
// discharge starts, although the electrodes between are under 0.8 of the
// largest. With the far end clearly larger (1.15), the unit's template
// says so once it averages two discharges, and the event is the far end's
// largest deflection, as the event time is defined.
TEST_CASE("grid: across a dip in size the event electrode is the innervation zone's unless the far end is clearly larger", "[stream][quality]") {
  const double far_end = GENERATE(0.95, 1.15);
  const int n = 12;
  auto rec = quiet_grid(3.0 * n + 8.0, 3.0, 11);
  const double fs = rec.fs, width = 0.5e-3 * fs, step = 2e-3 * fs;
  const int row = 3, iz = 2, far = 6;
  const std::vector<double> along = {0.5, 0.7, 1.0, 0.84, 0.78, 0.95, far_end, 0.6};  // columns 0-7
  auto channel = [&](int r, int c) {
    for (Index k = 0; k < static_cast<Index>(rec.channels.size()); ++k) {
      const auto& g = rec.channels[static_cast<std::size_t>(k)].grid;
      if (g && g->row == r && g->column == c) return k;
    }
    FAIL("no electrode at row " << r << ", column " << c);
    return Index{-1};
  };
  std::vector<double> starts;
  for (int k = 0; k < n; ++k) {
    const double t = (6.0 + 3.0 * k + 0.37 * (k % 5)) * fs;
    starts.push_back(t);
    add_grid_discharge(rec, t, width, 50.0, [&](int r, int c) {
      const double gain = std::abs(r - row) > 1 ? 0.0 : along[static_cast<std::size_t>(c)] * (r == row ? 1.0 : 0.55);
      return std::pair{gain, std::abs(c - iz) * step};
    });
  }
  const auto events = detect(rec).events;
  const bool far_larger = far_end > 1.0;
  const Index expected = channel(row, far_larger ? far : iz);
  const double delay = far_larger ? (far - iz) * step : 0.0;
  int at_expected = 0;
  for (double t : starts)
    at_expected += std::any_of(events.begin(), events.end(), [&](const Event& e) {
      return e.channel == expected && std::abs(static_cast<double>(e.sample) - (t + delay)) <= 2.0;
    });
  std::string where;
  for (const auto& e : events) where += std::to_string(e.sample) + " on " + std::to_string(e.channel) + "; ";
  INFO("far end " << far_end << "; events (sample on channel): " << where);
  INFO(events.size() << " detections; " << at_expected << " of " << n << " on electrode " << expected);
  CHECK(events.size() == static_cast<std::size_t>(n));
  // (With the far end at 1.15, timed on the largest electrode, or across
  // the dip only on the one next to it, none was on the innervation zone's
  // before the rule for single discharges; with the rule alone, 1 of 12 was
  // on the far end's, the rest on the innervation zone's.)
  CHECK(at_expected >= n - 2);
}

// A small unit under a wide patch of electrodes at 7 uV noise: on its best
// electrode a discharge spans only ~5-7 noise SDs and most fail the size
// guards, but each shows the same potential on the electrodes around it,
// which noise does not (31 of 60 found; 21 without the coherence rule).
TEST_CASE("grid: a low-SNR discharge seen by its neighbours is found", "[stream][quality]") {
  const int n = 60;
  auto rec = quiet_grid(2.0 * n + 8.0, 7.0, 21);
  const double fs = rec.fs, width = 1.0e-3 * fs;
  std::vector<double> starts;
  for (int k = 0; k < n; ++k) {
    const double t = (6.0 + 2.0 * k + 0.41 * (k % 7)) * fs;
    starts.push_back(t);
    // ~38 uV peak to peak at the centre.
    add_grid_discharge(rec, t, width, 26.0, [](int r, int c) {
      const int dr = std::abs(r - 4), dc = std::abs(c - 3);
      return std::pair{dr > 2 || dc > 2 ? 0.0 : 1.0 / (1.0 + 0.3 * (dr * dr + dc * dc)), 0.0};
    });
  }
  const auto events = detect(rec).events;
  int found = 0;
  for (double t : starts)
    found += std::any_of(events.begin(), events.end(),
                         [&](const Event& e) { return std::abs(static_cast<double>(e.sample) - t) <= 0.005 * fs; });
  INFO(events.size() << " detections, " << found << " of " << n << " discharges found");
  CHECK(found >= n * 45 / 100);
  CHECK(events.size() <= static_cast<std::size_t>(found + 2));
}

// At 7 uV noise a discharge propagating along a row can cross the threshold
// only at its two ends, as two clusters that do not touch; the electrodes
// between show the potential passing at a constant velocity, so the two
// are one discharge, timed at the innervation zone (1 of 40 reported twice;
// 5 without the rule).
TEST_CASE("grid: the two ends of one propagating discharge are one event", "[stream][quality]") {
  const int n = 40;
  auto rec = quiet_grid(2.0 * n + 8.0, 7.0, 31);
  const double fs = rec.fs, width = 1.0e-3 * fs, step = 1.6e-3 * fs;
  const int row = 5, iz = 1;
  // Larger at the innervation zone and the fibre end, smaller between.
  const std::vector<double> along = {0.6, 1.0, 0.65, 0.6, 0.6, 0.65, 1.0, 0.5};
  std::vector<double> starts;
  for (int k = 0; k < n; ++k) {
    const double t = (6.0 + 2.0 * k + 0.43 * (k % 7)) * fs;
    starts.push_back(t);
    add_grid_discharge(rec, t, width, 32.0, [&](int r, int c) {
      const int dr = std::abs(r - row);
      return std::pair{dr > 1 ? 0.0 : along[static_cast<std::size_t>(c)] * (dr == 0 ? 1.0 : 0.7), std::abs(c - iz) * step};
    });
  }
  const auto events = detect(rec).events;
  int found = 0, twice = 0;
  for (double t : starts) {
    const auto near = std::count_if(events.begin(), events.end(), [&](const Event& e) {
      return static_cast<double>(e.sample) > t - 0.005 * fs && static_cast<double>(e.sample) < t + 0.02 * fs;
    });
    found += near > 0;
    twice += near > 1;
  }
  INFO(events.size() << " detections; " << found << " of " << n << " discharges found, " << twice << " of them twice");
  CHECK(found >= n * 9 / 10);
  CHECK(twice <= 2);
  CHECK(events.size() <= static_cast<std::size_t>(found + twice + 2));
}

TEST_CASE("a complex unit's late phase is not reported beside its discharge", "[stream][quality]") {
  // On this bipolar recording a complex unit's late phase founded a unit of
  // its own; fitting that template and the main one as a pair reported the
  // discharge twice, the second time as what the main copy left of the late
  // phase (2-5 uV, under the noise) 10 ms after it: 15 false events, 3 of
  // them such echoes.
  const auto so = four_leads(1005);
  DetectionResult r;
  const auto e = run(so, {}, &r);
  print("bipolar 4, complex late phase", e);
  REQUIRE(e.true_positives >= 90);
  CHECK(e.false_positives <= 12);
  // No event sits 8-12 ms after another on its lead with under the noise.
  for (std::size_t i = 1; i < r.events.size(); ++i)
    for (std::size_t k = 0; k < i; ++k) {
      const Event& a = r.events[k];
      const Event& b = r.events[i];
      const double dt_ms = (b.time_s - a.time_s) * 1e3;
      if (a.channel != b.channel || dt_ms < 8.0 || dt_ms > 12.0) continue;
      INFO("event at " << b.time_s << " s, " << dt_ms << " ms after one at " << a.time_s << " s");
      CHECK(b.amplitude_uv >= r.summary.noise_floor_uv[static_cast<std::size_t>(b.channel)]);
    }
}

// The fibre axis is voted from the lag between electrodes' waveforms: at
// 7 uV noise the time of each electrode's own largest peak (the old vote)
// jumped between phases and voted this recording's axis the wrong way 5
// times out of 7. The line statistic (rule 4) and the split rules follow
// the vote, so a grid laid the other way round finds nearly the same
// discharges (before the first votes the two start from different axes).
TEST_CASE("grid: the fibre axis is found from the units whichever way the grid is laid", "[stream][quality]") {
  sim::SimulationOptions so;
  so.noise_uv = 7.0;
  so.seed = 2001;
  const auto s = sim::simulate(so);
  const auto as_laid = detect(s.recording);
  CHECK(as_laid.summary.fibre_axis == "columns");
  Recording turned = s.recording;
  for (auto& ch : turned.channels) std::swap(ch.grid->row, ch.grid->column);
  const auto across = detect(turned);
  CHECK(across.summary.fibre_axis == "rows");
  const auto e1 = sim::evaluate(s, as_laid.events), e2 = sim::evaluate(s, across.events);
  print("as laid", e1);
  print("turned", e2);
  CHECK(std::abs(e1.true_positives - e2.true_positives) <= 2);
  CHECK(std::min(e1.f1, e2.f1) >= 0.85);
  // Independent leads have no axis.
  so.geometry = sim::Geometry::bipolar;
  so.duration_s = 20.0;
  CHECK(detect(sim::simulate(so).recording).summary.fibre_axis.empty());
}

// The line along the fibres (DetectOptions::fibre_line) beside the 3x3:
// on a 7 uV grid with units of 36-70 uV (seed 2001) it finds 46 of the 55
// discharges with 5 false events, the 3x3 alone 44 with 7.
TEST_CASE("grid: the fibre line finds more of a weak unit spread along the fibres", "[stream][quality]") {
  sim::SimulationOptions so;
  so.noise_uv = 7.0;
  so.seed = 2001;
  const auto s = sim::simulate(so);
  DetectOptions without;
  without.fibre_line = false;
  const auto a = detect(s.recording), b = detect(s.recording, without);
  const auto ea = sim::evaluate(s, a.events), eb = sim::evaluate(s, b.events);
  print("fibre line", ea);
  print("3x3 only", eb);
  CHECK(ea.true_positives > eb.true_positives);
  CHECK(ea.false_positives <= eb.false_positives);
}
