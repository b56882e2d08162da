// The simulator: determinism, ground truth, and the physiology it claims.
#include <fasctrack/filter/spectral.hpp>
#include <fasctrack/sim/simulate.hpp>

#include "sim/sim_internal.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string>

using namespace fasctrack;
using namespace fasctrack::sim;

namespace {

const RowMatrix<double>& samples(const Simulation& s) { return std::get<RowMatrix<double>>(s.recording.samples); }

// Only the fasciculating units: no noise, mains, wander.
SimulationOptions quiet(std::uint64_t seed = 1) {
  SimulationOptions o;
  o.noise_uv = 0.0;
  o.mains_hz = 0.0;
  o.wander_uv = 0.0;
  o.seed = seed;
  return o;
}

// Events with no other discharge within `gap` samples either side (and that
// far from the ends), so their noise-free waveform can be read off the
// recording alone.
std::vector<TrueEvent> isolated(const Simulation& s, Index gap) {
  std::vector<TrueEvent> out;
  const auto& ev = s.events;
  for (std::size_t i = 0; i < ev.size(); ++i) {
    const bool before = i == 0 || ev[i].sample - ev[i - 1].sample > gap;
    const bool after = i + 1 == ev.size() || ev[i + 1].sample - ev[i].sample > gap;
    const bool inside = ev[i].sample >= gap && ev[i].sample + gap <= s.recording.n_samples();
    if (before && after && inside) out.push_back(ev[i]);
  }
  return out;
}

Index ms(double v, double fs) { return static_cast<Index>(std::llround(v * fs / 1000.0)); }

}  // namespace

TEST_CASE("simulate is deterministic in the seed", "[sim]") {
  SimulationOptions o;
  o.duration_s = 20.0;
  o.rate_per_min = 30.0;
  o.ecg_uv = 50.0;
  o.voluntary_bursts = 1;
  o.motion_artefacts = 1;
  o.electrode_pops = 1;
  const auto a = simulate(o), b = simulate(o);
  CHECK(samples(a) == samples(b));
  REQUIRE(a.events.size() == b.events.size());
  for (std::size_t i = 0; i < a.events.size(); ++i) {
    CHECK(a.events[i].sample == b.events[i].sample);
    CHECK(a.events[i].unit == b.events[i].unit);
  }
  CHECK(a.masks == b.masks);
  o.seed = 2;
  const auto c = simulate(o);
  CHECK(samples(a) != samples(c));

  // Each part has its own random stream: switching the noise off leaves the
  // truth exactly as it was.
  SimulationOptions q = o;
  q.noise_uv = 0.0;
  q.mains_hz = 0.0;
  const auto d = simulate(q);
  REQUIRE(d.events.size() == c.events.size());
  for (std::size_t i = 0; i < c.events.size(); ++i) CHECK(d.events[i].sample == c.events[i].sample);
}

TEST_CASE("recording metadata: grid and bipolar", "[sim]") {
  SimulationOptions o = quiet();
  o.duration_s = 2.0;
  o.rows = 3;
  o.columns = 5;
  auto s = simulate(o);
  CHECK(s.recording.format == "simulated");
  CHECK(s.recording.fs == 2048.0);
  REQUIRE(s.recording.n_channels() == 15);
  CHECK(s.recording.n_samples() == 4096);
  CHECK(s.recording.sample_type() == SampleType::float64);
  CHECK(s.recording.channels[0].name == "r1c1");
  CHECK(s.recording.channels[7].name == "r2c3");
  REQUIRE(s.recording.channels[7].grid);
  CHECK(*s.recording.channels[7].grid == GridPosition{1, 2, 8.0});
  CHECK(s.recording.channels[7].muscle == "biceps_brachii_r");
  CHECK(s.recording.channels[7].region == BodyRegion::cervical);
  CHECK(s.recording.channels[7].side == Side::right);
  s.recording.validate();

  o.geometry = Geometry::bipolar;
  o.bipolar_channels = 4;
  o.fs = 4096.0;
  s = simulate(o);
  REQUIRE(s.recording.n_channels() == 4);
  std::set<std::string> muscles;
  std::set<BodyRegion> regions;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto& ch = s.recording.channels[i];
    CHECK(ch.name == "bp" + std::to_string(i + 1));
    CHECK_FALSE(ch.grid);
    CHECK(ch.side != Side::unknown);
    muscles.insert(ch.muscle);
    regions.insert(ch.region);
  }
  CHECK(muscles.size() == 4);
  CHECK(regions == std::set<BodyRegion>{BodyRegion::cervical, BodyRegion::lumbosacral});
}

TEST_CASE("bipolar sites are independent muscles", "[sim]") {
  SimulationOptions o = quiet(4);
  o.geometry = Geometry::bipolar;
  o.bipolar_channels = 4;
  o.fs = 4096.0;
  o.n_units = 8;
  o.duration_s = 30.0;
  o.rate_per_min = 20.0;
  const auto s = simulate(o);
  const auto& x = samples(s);
  std::set<Index> sites;
  for (const auto& u : s.units) sites.insert(u.channel);
  CHECK(sites.size() == 4);  // units are spread over every site
  // A discharge shows on its own site's channel only.
  for (const auto& e : isolated(s, ms(80, o.fs))) {
    for (Index c = 0; c < 4; ++c) {
      const double peak = x.row(c).segment(e.sample - ms(10, o.fs), ms(40, o.fs)).cwiseAbs().maxCoeff();
      if (c == e.channel)
        CHECK(peak > 0.3 * e.amplitude_uv);
      else
        CHECK(peak == 0.0);
    }
  }
}

TEST_CASE("truth sample is the largest deflection of the noise-free waveform", "[sim]") {
  for (const auto geometry : {Geometry::grid, Geometry::bipolar}) {
    SimulationOptions o = quiet(7);
    o.geometry = geometry;
    o.fs = geometry == Geometry::grid ? 2048.0 : 4096.0;
    o.duration_s = 60.0;
    o.n_units = 6;
    o.rate_per_min = 20.0;
    o.complex_fraction = 0.5;
    const auto s = simulate(o);
    const auto& x = samples(s);
    const auto events = isolated(s, ms(120, o.fs));
    REQUIRE(events.size() > 20);
    for (const auto& e : events) {
      const Index lo = e.sample - ms(50, o.fs), len = ms(110, o.fs);
      Index at = 0;
      x.row(e.channel).segment(lo, len).cwiseAbs().maxCoeff(&at);
      CHECK(lo + at == e.sample);
      const auto seg = x.row(e.channel).segment(lo, len);
      CHECK(seg.maxCoeff() - seg.minCoeff() == Approx(e.amplitude_uv).epsilon(1e-9));
      // ... and the channel is where the discharge is largest.
      for (Index c = 0; c < x.rows(); ++c) {
        const auto other = x.row(c).segment(lo, len);
        CHECK(other.maxCoeff() - other.minCoeff() <= e.amplitude_uv * (1.0 + 1e-9));
      }
    }
  }
}

TEST_CASE("amplitudes lie in the requested range", "[sim]") {
  SimulationOptions o = quiet(3);
  o.n_units = 12;
  o.amplitude_min_uv = 40.0;
  o.amplitude_max_uv = 90.0;
  o.duration_s = 60.0;
  const auto s = simulate(o);
  for (const auto& u : s.units) {
    CHECK(u.amplitude_uv >= 40.0 - 1e-9);
    CHECK(u.amplitude_uv <= 90.0 + 1e-9);
  }
  // Discharge to discharge jitter of ~5 % (clipped at 15 %).
  for (const auto& e : s.events) {
    const double unit_amp = s.units[static_cast<std::size_t>(e.unit)].amplitude_uv;
    CHECK(e.amplitude_uv / unit_amp >= 0.85 - 1e-9);
    CHECK(e.amplitude_uv / unit_amp <= 1.15 + 1e-9);
  }
}

TEST_CASE("potentials propagate along the columns at the conduction velocity", "[sim]") {
  for (const double cv : {3.0, 4.0, 5.0}) {
    SimulationOptions o = quiet(11);
    o.conduction_velocity_m_s = cv;
    o.n_units = 8;
    o.complex_fraction = 0.0;
    o.duration_s = 60.0;
    o.rate_per_min = 20.0;
    o.fs = 4096.0;
    const auto s = simulate(o);
    const auto& x = samples(s);
    double lag_sum = 0.0;
    int pairs = 0;
    for (const auto& e : isolated(s, ms(120, o.fs))) {
      const auto& u = s.units[static_cast<std::size_t>(e.unit)];
      const int row = static_cast<int>(e.channel) / o.columns;
      const Index lo = e.sample - ms(40, o.fs), len = ms(100, o.fs);
      // Three neighbouring columns, all at least one IED beyond the
      // innervation zone (where the potential is born) and within 40 mm of it
      // (before the end-of-fibre waves). Single differentials (column
      // differences) cancel the standing, non-propagating components, as in
      // the classic estimate of conduction velocity from an array; the lag
      // maximising their correlation is the delay per column.
      for (int c = 0; c + 2 < o.columns; ++c) {
        for (int dir : {1, -1}) {
          const int c1 = dir > 0 ? c : c + 2, c2 = c + 1, c3 = dir > 0 ? c + 2 : c;
          const double d1 = dir * (c1 * o.ied_mm - u.endplate_mm);
          const double d3 = dir * (c3 * o.ied_mm - u.endplate_mm);
          if (d1 < 2 * o.ied_mm || d3 > 40.0) continue;
          const Eigen::RowVectorXd a =
              x.row(row * o.columns + c2).segment(lo, len) - x.row(row * o.columns + c1).segment(lo, len);
          const Eigen::RowVectorXd b =
              x.row(row * o.columns + c3).segment(lo, len) - x.row(row * o.columns + c2).segment(lo, len);
          double best = -1e300;
          int best_lag = 0;
          for (int lag = 0; lag < ms(8, o.fs); ++lag) {
            double acc = 0.0;
            for (Index i = 0; i + lag < len; ++i) acc += a[i] * b[i + lag];
            if (acc > best) {
              best = acc;
              best_lag = lag;
            }
          }
          lag_sum += best_lag;
          ++pairs;
        }
      }
    }
    REQUIRE(pairs > 20);
    const double expected = o.ied_mm / cv * o.fs / 1000.0;  // samples per column
    INFO("cv " << cv << ": mean lag " << lag_sum / pairs << " samples, expected " << expected);
    CHECK(lag_sum / pairs == Approx(expected).epsilon(0.1));
  }
}

TEST_CASE("potentials fall off across the fibres", "[sim]") {
  SimulationOptions o = quiet(5);
  o.n_units = 10;
  o.duration_s = 60.0;
  o.rate_per_min = 20.0;
  const auto s = simulate(o);
  const auto& x = samples(s);
  int checked = 0;
  for (const auto& e : isolated(s, ms(120, o.fs))) {
    const int row = static_cast<int>(e.channel) / o.columns, col = static_cast<int>(e.channel) % o.columns;
    const Index lo = e.sample - ms(50, o.fs), len = ms(110, o.fs);
    auto p2p = [&](int r) {
      const auto seg = x.row(r * o.columns + col).segment(lo, len);
      return seg.maxCoeff() - seg.minCoeff();
    };
    for (int r = row + 1; r < o.rows; ++r) CHECK(p2p(r) <= p2p(r - 1) * 1.02);
    for (int r = row - 1; r >= 0; --r) CHECK(p2p(r) <= p2p(r + 1) * 1.02);
    if (row + 3 < o.rows) CHECK(p2p(row + 3) < 0.6 * p2p(row));
    if (row - 3 >= 0) CHECK(p2p(row - 3) < 0.6 * p2p(row));
    ++checked;
  }
  CHECK(checked > 20);
}

TEST_CASE("complex units are polyphasic, simple ones are not", "[sim]") {
  SimulationOptions o = quiet(9);
  o.n_units = 8;
  o.complex_fraction = 0.5;
  o.duration_s = 90.0;
  o.rate_per_min = 20.0;
  const auto s = simulate(o);
  const auto& x = samples(s);
  int n_complex = 0;
  for (const auto& u : s.units) {
    n_complex += u.complex;
    if (u.complex)
      CHECK(u.phases > 4);
    else
      CHECK(u.phases <= 4);
  }
  CHECK(n_complex == 4);
  std::map<int, int> seen;
  for (const auto& e : isolated(s, ms(150, o.fs))) {
    const auto seg = x.row(e.channel).segment(e.sample - ms(50, o.fs), ms(130, o.fs)).eval();
    const int phases = detail::count_phases(seg.data(), seg.size(), 0.1);
    CHECK(phases == s.units[static_cast<std::size_t>(e.unit)].phases);
    CHECK(e.complex == (phases > 4));
    ++seen[e.unit];
  }
  CHECK(seen.size() == 8);
}

TEST_CASE("doublets: 5-110 ms apart, both flagged; otherwise >= 100 ms", "[sim]") {
  SimulationOptions o = quiet(13);
  o.n_units = 5;
  o.rate_per_min = 30.0;
  o.doublet_probability = 0.4;
  o.duration_s = 300.0;
  const auto s = simulate(o);
  std::map<int, std::vector<TrueEvent>> by_unit;
  for (const auto& e : s.events) by_unit[e.unit].push_back(e);
  int doublets = 0, singles = 0;
  const double tol = 1.0;  // samples of rounding
  for (const auto& [unit, ev] : by_unit) {
    std::size_t i = 0;
    while (i < ev.size()) {
      if (ev[i].doublet) {
        REQUIRE(i + 1 < ev.size());
        REQUIRE(ev[i + 1].doublet);
        const double gap = static_cast<double>(ev[i + 1].sample - ev[i].sample);
        CHECK(gap >= 0.005 * o.fs - tol);
        CHECK(gap <= 0.110 * o.fs + tol);
        ++doublets;
        if (i + 2 < ev.size()) CHECK(static_cast<double>(ev[i + 2].sample - ev[i + 1].sample) >= 0.1 * o.fs - tol);
        i += 2;
      } else {
        ++singles;
        if (i + 1 < ev.size()) CHECK(static_cast<double>(ev[i + 1].sample - ev[i].sample) >= 0.1 * o.fs - tol);
        i += 1;
      }
    }
  }
  // ~40 % of fasciculations are doublets.
  const double share = static_cast<double>(doublets) / (doublets + singles);
  CHECK(share > 0.3);
  CHECK(share < 0.5);
}

TEST_CASE("fasciculation rates match the Poisson-like expectation", "[sim]") {
  SimulationOptions o = quiet(17);
  o.n_units = 8;
  o.rate_per_min = 12.0;
  o.doublet_probability = 0.0;
  o.duration_s = 1200.0;
  o.fs = 1024.0;
  o.rows = 2;
  o.columns = 2;
  const auto s = simulate(o);
  std::map<int, std::vector<Index>> by_unit;
  for (const auto& e : s.events) by_unit[e.unit].push_back(e.sample);
  double rate_sum = 0.0;
  for (const auto& u : s.units) {
    CHECK(u.rate_per_min >= 0.5 * o.rate_per_min);
    CHECK(u.rate_per_min <= 1.5 * o.rate_per_min);
    rate_sum += u.rate_per_min;
    const double expected = u.rate_per_min * o.duration_s / 60.0;
    const auto n = static_cast<double>(by_unit[u.id].size());
    INFO("unit " << u.id << ": " << n << " discharges, expected " << expected);
    CHECK(std::abs(n - expected) < 4.0 * std::sqrt(expected));
    // Irregular: the interval CV of a dead-time-shifted exponential is
    // (mean - 0.1 s) / mean, i.e. ~0.9 at these rates.
    const auto& t = by_unit[u.id];
    double m = 0.0, m2 = 0.0;
    for (std::size_t i = 1; i < t.size(); ++i) {
      const double isi = static_cast<double>(t[i] - t[i - 1]) / o.fs;
      m += isi;
      m2 += isi * isi;
    }
    const double k = static_cast<double>(t.size() - 1);
    const double mean = m / k, sd = std::sqrt(m2 / k - mean * mean);
    const double cv_expected = (60.0 / u.rate_per_min - 0.1) / (60.0 / u.rate_per_min);
    CHECK(sd / mean == Approx(cv_expected).margin(0.2));
  }
  CHECK(rate_sum / o.n_units == Approx(o.rate_per_min).epsilon(0.4));
}

TEST_CASE("ECG is common-mode, broad and at the heart rate", "[sim]") {
  SimulationOptions o = quiet(21);
  o.n_units = 0;
  o.ecg_uv = 100.0;
  o.ecg_bpm = 72.0;
  o.duration_s = 60.0;
  const auto s = simulate(o);
  const auto& x = samples(s);
  // Common to all channels: every channel is a scaled copy of the first,
  // with a smooth gain (the heart is far: nothing like a MUAP's fall-off).
  const Eigen::RowVectorXd ref = x.row(0);
  double gmin = 1e300, gmax = -1e300;
  for (Index c = 0; c < x.rows(); ++c) {
    const double g = x.row(c).dot(ref) / ref.squaredNorm();
    CHECK((x.row(c) - g * ref).norm() < 1e-9 * x.row(c).norm());
    gmin = std::min(gmin, g);
    gmax = std::max(gmax, g);
  }
  CHECK(gmin > 0.0);
  CHECK(gmax / gmin < 2.5);
  // Beats at the heart rate.
  const Eigen::RowVectorXd y = ref / ref.cwiseAbs().maxCoeff();
  int beats = 0;
  for (Index i = 1; i + 1 < y.size(); ++i)
    if (y[i] > 0.5 && y[i] >= y[i - 1] && y[i] > y[i + 1]) ++beats;
  CHECK(beats == Approx(72).epsilon(0.08));
  // Broad R wave: full width at half maximum of 10 ms or more (a MUAP's
  // main phase at 2048 Hz is a few ms).
  Index peak = 0;
  y.maxCoeff(&peak);
  Index a = peak, b = peak;
  while (a > 0 && y[a] > 0.5 * y[peak]) --a;
  while (b + 1 < y.size() && y[b] > 0.5 * y[peak]) ++b;
  CHECK(static_cast<double>(b - a) * 1000.0 / o.fs >= 10.0);
  // Most of its energy lies at 10-40 Hz, none to speak of above 100 Hz.
  filter::WelchOptions wo;
  wo.nperseg = 4096;
  const auto psd = filter::welch<double>(x.topRows(1), o.fs, wo);
  double total = 0.0, band = 0.0, high = 0.0;
  for (Index k = 1; k < psd.freqs_hz.size(); ++k) {
    const double f = psd.freqs_hz[k], p = psd.power(0, k);
    total += p;
    if (f >= 10.0 && f <= 40.0) band += p;
    if (f > 100.0) high += p;
  }
  CHECK(band / total > 0.5);
  CHECK(high / total < 0.01);
}

TEST_CASE("masks cover contractions and artefacts; no truth event inside", "[sim]") {
  SimulationOptions o = quiet(23);
  o.duration_s = 120.0;
  o.n_units = 6;
  o.rate_per_min = 30.0;
  o.voluntary_bursts = 3;
  o.motion_artefacts = 3;
  o.electrode_pops = 4;
  const auto s = simulate(o);
  int voluntary = 0, artefact = 0;
  for (const auto& m : s.masks) {
    CHECK(m.start < m.stop);
    CHECK(m.start >= 0);
    CHECK(m.stop <= s.recording.n_samples());
    voluntary += m.reason == MaskReason::voluntary;
    artefact += m.reason == MaskReason::artefact;
  }
  CHECK(voluntary >= 1);
  CHECK(voluntary <= 3);
  CHECK(artefact >= 1);
  CHECK(artefact <= 7);
  REQUIRE_FALSE(s.events.empty());
  for (const auto& e : s.events)
    for (const auto& m : s.masks) CHECK_FALSE((e.sample >= m.start && e.sample < m.stop));

  // With the fasciculations gone as well, everything left is inside a mask.
  o.n_units = 0;
  const auto t = simulate(o);
  const auto& x = samples(t);
  std::vector<char> masked(static_cast<std::size_t>(x.cols()), 0);
  for (const auto& m : t.masks)
    for (Index i = m.start; i < m.stop; ++i) masked[static_cast<std::size_t>(i)] = 1;
  double inside = 0.0, outside = 0.0;
  for (Index c = 0; c < x.rows(); ++c)
    for (Index i = 0; i < x.cols(); ++i)
      (masked[static_cast<std::size_t>(i)] ? inside : outside) = std::max(
          masked[static_cast<std::size_t>(i)] ? inside : outside, std::abs(x(c, i)));
  CHECK(inside > 200.0);          // hundreds of uV of movement, pops, contraction
  CHECK(outside < 0.02 * inside);  // only the last percent of a pop's decay

  // Voluntary contraction: a dense interference pattern, well above rest.
  for (const auto& m : t.masks) {
    if (m.reason != MaskReason::voluntary) continue;
    const auto seg = x.middleCols(m.start, m.stop - m.start);
    const double rms = std::sqrt(seg.squaredNorm() / static_cast<double>(seg.size()));
    CHECK(rms > 20.0);
  }
}

TEST_CASE("background noise, mains and wander", "[sim]") {
  SimulationOptions o;
  o.n_units = 0;
  o.duration_s = 20.0;
  o.mains_hz = 0.0;
  o.wander_uv = 0.0;
  o.noise_uv = 7.0;
  auto s = simulate(o);
  const auto& x = samples(s);
  for (Index c = 0; c < x.rows(); ++c) CHECK(std::sqrt(x.row(c).squaredNorm() / x.cols()) == Approx(7.0).epsilon(1e-9));
  // Mostly independent per channel, a little shared.
  double corr = 0.0;
  for (Index c = 1; c < x.rows(); ++c) corr += x.row(c).dot(x.row(0)) / (x.row(c).norm() * x.row(0).norm());
  corr /= static_cast<double>(x.rows() - 1);
  CHECK(std::abs(corr) > 0.01);
  CHECK(std::abs(corr) < 0.3);

  for (const double mains : {50.0, 60.0}) {
    o.noise_uv = 0.0;
    o.mains_hz = mains;
    o.mains_uv = 10.0;
    s = simulate(o);
    CHECK(s.recording.power_line_hz == mains);
    filter::WelchOptions wo;
    wo.nperseg = 4096;
    const auto psd = filter::welch<double>(std::get<RowMatrix<double>>(s.recording.samples).topRows(4), o.fs, wo);
    auto power_near = [&](double f) {
      double p = 0.0;
      for (Index k = 0; k < psd.freqs_hz.size(); ++k)
        if (std::abs(psd.freqs_hz[k] - f) < 1.0) p += psd.power.col(k).sum();
      return p;
    };
    const double f1 = power_near(mains), f3 = power_near(3 * mains), f5 = power_near(5 * mains);
    const double off = power_near(2 * mains) + power_near(4 * mains) + power_near(1.5 * mains);
    CHECK(f3 > 0.005 * f1);
    CHECK(f3 < 0.5 * f1);
    CHECK(f5 > 0.001 * f1);
    CHECK(off < 1e-3 * f1);
  }

  o.mains_hz = 0.0;
  o.wander_uv = 30.0;
  s = simulate(o);
  filter::WelchOptions wo;
  wo.nperseg = 16384;
  const auto psd = filter::welch<double>(std::get<RowMatrix<double>>(s.recording.samples), o.fs, wo);
  double below = 0.0, total = 0.0;
  for (Index k = 0; k < psd.freqs_hz.size(); ++k) {
    total += psd.power.col(k).sum();
    if (psd.freqs_hz[k] < 1.5) below += psd.power.col(k).sum();
  }
  CHECK(below / total > 0.99);
}

TEST_CASE("validate names the bad option", "[sim]") {
  auto throws_naming = [](auto change, const std::string& name) {
    SimulationOptions o;
    change(o);
    try {
      o.validate();
      FAIL("no exception for " << name);
    } catch (const std::invalid_argument& e) {
      INFO(e.what());
      CHECK(std::string(e.what()).rfind(name + ":", 0) == 0);
    }
    CHECK_THROWS_AS(simulate(o), std::invalid_argument);
  };
  SimulationOptions ok;
  CHECK_NOTHROW(ok.validate());
  throws_naming([](auto& o) { o.fs = 0.0; }, "fs");
  throws_naming([](auto& o) { o.fs = -2048.0; }, "fs");
  throws_naming([](auto& o) { o.fs = std::nan(""); }, "fs");
  throws_naming([](auto& o) { o.duration_s = 0.0; }, "duration_s");
  throws_naming([](auto& o) { o.duration_s = -1.0; }, "duration_s");
  throws_naming([](auto& o) { o.rows = 0; }, "rows");
  throws_naming([](auto& o) { o.columns = 0; }, "columns");
  throws_naming([](auto& o) { o.ied_mm = 0.0; }, "ied_mm");
  throws_naming([](auto& o) { o.bipolar_channels = 0; }, "bipolar_channels");
  throws_naming([](auto& o) { o.conduction_velocity_m_s = 0.0; }, "conduction_velocity_m_s");
  throws_naming([](auto& o) { o.n_units = -1; }, "n_units");
  throws_naming([](auto& o) { o.amplitude_min_uv = 0.0; }, "amplitude_min_uv");
  throws_naming([](auto& o) { o.amplitude_min_uv = 100.0; o.amplitude_max_uv = 50.0; }, "amplitude_max_uv");
  throws_naming([](auto& o) { o.rate_per_min = -1.0; }, "rate_per_min");
  throws_naming([](auto& o) { o.rate_per_min = 1000.0; }, "rate_per_min");
  throws_naming([](auto& o) { o.doublet_probability = 1.5; }, "doublet_probability");
  throws_naming([](auto& o) { o.complex_fraction = -0.1; }, "complex_fraction");
  throws_naming([](auto& o) { o.noise_uv = -1.0; }, "noise_uv");
  throws_naming([](auto& o) { o.mains_hz = -50.0; }, "mains_hz");
  throws_naming([](auto& o) { o.mains_hz = 1500.0; }, "mains_hz");
  throws_naming([](auto& o) { o.mains_uv = -1.0; }, "mains_uv");
  throws_naming([](auto& o) { o.wander_uv = -1.0; }, "wander_uv");
  throws_naming([](auto& o) { o.ecg_uv = -1.0; }, "ecg_uv");
  throws_naming([](auto& o) { o.ecg_bpm = 0.0; }, "ecg_bpm");
  throws_naming([](auto& o) { o.motion_artefacts = -1; }, "motion_artefacts");
  throws_naming([](auto& o) { o.electrode_pops = -1; }, "electrode_pops");
  throws_naming([](auto& o) { o.voluntary_bursts = -1; }, "voluntary_bursts");
  throws_naming([](auto& o) { o.burst_duration_s = 0.0; }, "burst_duration_s");
}

TEST_CASE("single-electrode grid and short recordings work", "[sim]") {
  SimulationOptions o;
  o.rows = 1;
  o.columns = 1;
  o.duration_s = 0.05;
  o.voluntary_bursts = 1;
  o.motion_artefacts = 1;
  o.electrode_pops = 1;
  const auto s = simulate(o);
  CHECK(s.recording.n_channels() == 1);
  CHECK(s.recording.n_samples() == 102);
  CHECK(std::get<RowMatrix<double>>(s.recording.samples).allFinite());
}
