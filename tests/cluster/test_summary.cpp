// Rates with exact Poisson intervals, per-unit and per-recording summaries.

#include <catch2/catch.hpp>

#include <fasctrack/cluster/summary.hpp>
#include <fasctrack/cluster/units.hpp>

#include "cluster/muap_synth.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

using namespace fasctrack;
using namespace fasctrack::cluster;

namespace {

bool close_rel(double a, double b, double rel) { return std::abs(a - b) <= rel * std::abs(b); }

Event make_event(Index sample, Index channel, int unit, double amplitude_uv = 100.0, int phases = 3,
                 bool isolated = true, double fs = 1000.0) {
  Event e;
  e.sample = sample;
  e.time_s = static_cast<double>(sample) / fs;
  e.channel = channel;
  e.unit = unit;
  e.amplitude_uv = amplitude_uv;
  e.phases = phases;
  e.isolated = isolated;
  return e;
}

}  // namespace

TEST_CASE("chi2_quantile matches scipy.stats.chi2.ppf to 1e-10", "[cluster][stats]") {
  // Reference: scipy 1.17.1, `scipy.stats.chi2.ppf(p, dof)` for
  // p in [1e-6, 1e-3, 0.025, 0.5, 0.975, 0.999, 1 - 1e-6] (printed with %.17g).
  const std::vector<double> ps{1e-6, 1e-3, 0.025, 0.5, 0.975, 0.999, 1 - 1e-6};
  struct Row {
    double dof;
    std::vector<double> q;
  };
  const std::vector<Row> table{
      {2, {2.0000010000006676e-06, 0.0020010006671670679, 0.050635615968579753, 1.386294361119891,
           7.3777589082278707, 13.815510557964274, 27.631021115871036}},
      {3, {0.00024181048720124264, 0.024297585815692732, 0.21579528262389785, 2.3659738843753377,
           9.3484036044961485, 16.266236196238129, 30.664849706154271}},
      {7.5, {0.10744917774123809, 0.72297549975068032, 1.9305886206109992, 6.8449054696010707, 16.778286113807841,
             25.230054920678604, 41.62084259871952}},
      {10, {0.3381260032429545, 1.4787434638356647, 3.2469727802368413, 9.3418177655919692, 20.483177350807388,
            29.588298445074422, 46.863046846715683}},
      {50, {15.855062815648321, 24.67390527187726, 32.357363695658655, 49.334936733976832, 71.420195187506422,
            86.66081519040317, 112.60809249886348}},
      {200, {118.87264139624578, 143.84279499000081, 162.72798250184627, 199.33372983863097, 241.05789550631093,
             267.54052782275721, 309.83809198992293}},
      {1000, {801.62443760686574, 867.47908260727695, 914.25715379925896, 999.33341240338098, 1089.5309127749135,
              1143.9170926196791, 1227.1524211872779}},
      {2000, {1713.6293025587838, 1810.2415818699533, 1877.9460368153905, 1999.3333728539303, 2125.8423024497756,
              2201.156196586629, 2315.1558220174479}},
  };
  double worst = 0.0;
  for (const Row& row : table)
    for (std::size_t i = 0; i < ps.size(); ++i) {
      const double got = chi2_quantile(ps[i], row.dof);
      const double rel = std::abs(got - row.q[i]) / row.q[i];
      worst = std::max(worst, rel);
      INFO("dof " << row.dof << " p " << ps[i] << ": " << got << " vs scipy " << row.q[i] << " (rel " << rel << ")");
      CHECK(rel <= 1e-10);
    }
  WARN("chi2_quantile worst relative error vs scipy: " << worst);

  CHECK(chi2_quantile(0.0, 4.0) == 0.0);
  CHECK(std::isinf(chi2_quantile(1.0, 4.0)));
  CHECK_THROWS_AS(chi2_quantile(-0.1, 4.0), std::invalid_argument);
  CHECK_THROWS_AS(chi2_quantile(0.5, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(chi2_quantile(std::nan(""), 4.0), std::invalid_argument);
}

TEST_CASE("chi2_quantile inverts its own CDF over a dense grid", "[cluster][stats]") {
  // Monotone in p and consistent with the closed form for dof 2:
  // P(X <= x) = 1 - exp(-x/2).
  for (double p = 1e-6; p < 1.0; p = p < 0.5 ? p * 1.7 : 1.0 - (1.0 - p) / 1.7) {
    const double x = chi2_quantile(p, 2.0);
    CHECK(close_rel(-std::expm1(-x / 2.0), p, 1e-12));
    if (1.0 - p < 1e-6) break;
  }
  double previous = 0.0;
  for (int i = 1; i < 200; ++i) {
    const double x = chi2_quantile(i / 200.0, 37.0);
    CHECK(x > previous);
    previous = x;
  }
}

TEST_CASE("poisson_rate gives the exact Garwood interval", "[cluster][stats]") {
  // Reference: scipy 1.17.1, lower = chi2.ppf(0.025, 2k) / 2 (0 for k = 0),
  // upper = chi2.ppf(0.975, 2k + 2) / 2, for one minute.
  struct Row {
    Index k;
    double low, high;
  };
  const std::vector<Row> rows{{0, 0.0, 3.6888794541139354},
                              {1, 0.025317807984289876, 5.571643390938898},
                              {2, 0.24220927854396496, 7.22468766772396},
                              {5, 1.6234863901184207, 11.668332079322671},
                              {10, 4.7953886961324335, 18.390356042017778},
                              {37, 26.051414567106029, 50.999626141930825},
                              {100, 81.363991250923135, 121.62679379242638}};
  for (const Row& row : rows) {
    for (double minutes : {1.0, 2.5}) {
      const RateEstimate r = poisson_rate(row.k, minutes);
      INFO("k " << row.k << " minutes " << minutes);
      CHECK(r.count == row.k);
      CHECK(r.minutes == minutes);
      CHECK(r.confidence == 0.95);
      CHECK(r.rate_per_min == Approx(static_cast<double>(row.k) / minutes));
      if (row.k == 0)
        CHECK(r.ci_low == 0.0);
      else
        CHECK(close_rel(r.ci_low, row.low / minutes, 1e-10));
      CHECK(close_rel(r.ci_high, row.high / minutes, 1e-10));
    }
  }
  // k = 0 upper limit is -ln(alpha/2) exactly.
  CHECK(close_rel(poisson_rate(0, 1.0, 0.9).ci_high, -std::log(0.05), 1e-12));
  // Wider at higher confidence.
  CHECK(poisson_rate(5, 1.0, 0.99).ci_high > poisson_rate(5, 1.0, 0.95).ci_high);
  CHECK(poisson_rate(5, 1.0, 0.99).ci_low < poisson_rate(5, 1.0, 0.95).ci_low);

  CHECK_THROWS_AS(poisson_rate(3, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(poisson_rate(3, -1.0), std::invalid_argument);
  CHECK_THROWS_AS(poisson_rate(3, std::numeric_limits<double>::infinity()), std::invalid_argument);
  CHECK_THROWS_AS(poisson_rate(3, 1.0, 1.0), std::invalid_argument);
  CHECK_THROWS_AS(poisson_rate(3, 1.0, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(poisson_rate(-1, 1.0), std::invalid_argument);
  try {
    poisson_rate(3, 0.0);
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("minutes") != std::string::npos);
  }
}

TEST_CASE("to_string(MaskReason) names every reason", "[cluster]") {
  CHECK(to_string(MaskReason::startup) == "startup");
  CHECK(to_string(MaskReason::voluntary) == "voluntary");
  CHECK(to_string(MaskReason::tonic) == "tonic");
  CHECK(to_string(MaskReason::artefact) == "artefact");
  CHECK(to_string(MaskReason::bad_signal) == "bad_signal");
}

TEST_CASE("summarize_units computes per-unit statistics", "[cluster]") {
  const double fs = 1000.0;
  // A tracker with two real units (distinct shapes on 2 channels) so the
  // templates, peak channels and stability come from it.
  const Index n = 41;
  UnitTracker tracker(2, n, fs);
  const std::vector<double> sd{2.0, 2.0};
  auto wave = [&](bool second) {
    RowMatrix<float> x(2, n);
    x.row(0) = test::channel_discharge(test::triphasic(2.0), second ? 10.0 : 80.0, n, fs, 0.0, 1.0);
    x.row(1) = test::channel_discharge(test::triphasic(2.0), second ? 90.0 : 20.0, n, fs, 0.0, 1.0);
    return x;
  };
  std::vector<Event> events;
  // Unit A: 4 discharges at 0, 1, 3, 6 s (intervals 1, 2, 3 s), one complex.
  const std::vector<Index> a_samples{0, 1000, 3000, 6000};
  const std::vector<double> a_amp{100.0, 110.0, 90.0, 100.0};
  for (std::size_t i = 0; i < a_samples.size(); ++i) {
    const int label = tracker.assign(wave(false), sd);
    events.push_back(make_event(a_samples[i], 0, label, a_amp[i], i == 2 ? 6 : 3, true, fs));
  }
  // Unit B: one discharge at 2.5 s.
  events.push_back(make_event(2500, 1, tracker.assign(wave(true), sd), 150.0, 3, true, fs));
  // An unassigned event does not count.
  events.push_back(make_event(4000, 0, -1, 999.0, 9, true, fs));
  std::sort(events.begin(), events.end(), [](const Event& x, const Event& y) { return x.sample < y.sample; });
  REQUIRE(tracker.n_live_units() == 2);

  const auto units = summarize_units(events, tracker, 120.0, fs);
  REQUIRE(units.size() == 2);
  const UnitSummary& a = units[0];
  CHECK(a.id == 0);
  CHECK(a.count == 4);
  CHECK(a.rate_per_min == Approx(2.0));  // 4 in 2 minutes of clean rest
  CHECK(a.peak_channel == 0);
  CHECK(a.amplitude_uv == Approx(100.0));
  CHECK(a.idi_median_ms == Approx(2000.0));
  CHECK(a.idi_cv == Approx(1.0 / 2.0));  // intervals 1, 2, 3 s: SD 1, mean 2
  CHECK(a.complex_fraction == Approx(0.25));
  CHECK(a.amplitude_cv == Approx(std::sqrt(200.0 / 3.0) / 100.0));
  CHECK(a.shape_stability == Approx(1.0).margin(1e-6));  // identical noiseless discharges
  CHECK(a.template_uv.rows() == 2);
  CHECK(a.template_uv.cols() == n);

  const UnitSummary& b = units[1];
  CHECK(b.id == 1);
  CHECK(b.count == 1);
  CHECK(b.peak_channel == 1);
  CHECK(b.amplitude_uv == 150.0);
  CHECK(std::isnan(b.idi_median_ms));
  CHECK(std::isnan(b.idi_cv));
  CHECK(std::isnan(b.amplitude_cv));
  CHECK(std::isnan(b.shape_stability));
  CHECK(b.complex_fraction == 0.0);

  // No clean rest: the rate is undefined, not zero.
  CHECK(std::isnan(summarize_units(events, tracker, 0.0, fs)[0].rate_per_min));
  CHECK_THROWS_AS(summarize_units(events, tracker, 60.0, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(summarize_units(events, tracker, -1.0, fs), std::invalid_argument);
  // Two discharges: a median interval but no CV.
  const std::vector<Event> two(events.begin(), events.begin() + 2);
  const auto u2 = summarize_units(two, tracker, 60.0, fs);
  REQUIRE(u2.size() == 1);
  CHECK(u2[0].idi_median_ms == Approx(1000.0));
  CHECK(std::isnan(u2[0].idi_cv));
}

TEST_CASE("summarize_units folds labels of merged units", "[cluster]") {
  // Two units founded by chance from one weak unit merge later; events
  // labelled with either id are one unit in the summary.
  const double fs = 2048.0;
  const Index n = 83;
  std::mt19937 rng(13);
  const std::vector<test::GridUnit> unit{{test::triphasic(1.3), 3.2, 4.1, 1.5, 20.0}};
  std::vector<double> sd(64, 5.0);
  UnitTracker tracker(64, n, fs);
  std::vector<Event> events;
  for (int i = 0; i < 200; ++i) {
    auto x = test::grid_discharge(unit[0], n, fs, 0.0, 1.0);
    test::add_noise(x, sd, rng);
    events.push_back(make_event(i * 4096, 28, tracker.assign(x, sd), 40.0, 3, true, fs));
  }
  const auto summary = summarize_units(events, tracker, 400.0, fs);
  Index total = 0;
  for (const auto& u : summary) total += u.count;
  CHECK(total == 200);
  CHECK(static_cast<int>(summary.size()) == tracker.n_live_units());
  for (const auto& u : summary) CHECK(tracker.units()[static_cast<std::size_t>(u.id)].merged_into == -1);
}

TEST_CASE("summarize_recording: masks, clean rest and muscles", "[cluster]") {
  const double fs = 1000.0;
  const Index n_samples = 300000;  // 300 s
  std::vector<ChannelInfo> channels(4);
  channels[0].name = "biceps_r_1";
  channels[0].muscle = "biceps_r";
  channels[0].region = BodyRegion::cervical;
  channels[0].side = Side::right;
  channels[1].name = "biceps_r_2";
  channels[1].muscle = "biceps_r";
  channels[1].region = BodyRegion::cervical;
  channels[1].side = Side::right;
  channels[2].name = "tib_ant_l";
  channels[2].muscle = "tib_ant_l";
  channels[2].region = BodyRegion::lumbosacral;
  channels[2].side = Side::left;
  channels[2].marked_bad = true;
  channels[3].name = "aux";

  // startup [0, 5 s); voluntary [20, 40 s) overlapping artefact [30, 50 s);
  // two overlapping tonic masks [100, 110) and [105, 120 s); bad signal inside
  // startup [2, 4 s) counts for startup only; a mask past the end is clamped.
  const std::vector<Mask> masks{
      {0, 5000, MaskReason::startup},           {20000, 40000, MaskReason::voluntary},
      {30000, 50000, MaskReason::artefact},     {100000, 110000, MaskReason::tonic},
      {105000, 120000, MaskReason::tonic},      {2000, 4000, MaskReason::bad_signal},
      {290000, 310000, MaskReason::bad_signal},
  };
  std::vector<Event> events{
      make_event(60000, 0, 0, 100.0, 3, true, fs),  make_event(61000, 1, 0, 100.0, 6, true, fs),
      make_event(62000, 0, 1, 100.0, 3, false, fs), make_event(70000, 2, 2, 100.0, 3, true, fs),
      make_event(80000, 3, -1, 100.0, 3, true, fs),
  };
  const RecordingSummary s = summarize_recording(events, masks, {}, channels, n_samples, fs, 60.0);
  CHECK(s.duration_s == Approx(300.0));
  CHECK(s.excluded_startup_s == Approx(5.0));
  CHECK(s.excluded_voluntary_s == Approx(20.0));
  CHECK(s.excluded_tonic_s == Approx(20.0));
  CHECK(s.excluded_artefact_s == Approx(10.0));   // [40, 50): [30, 40) is voluntary's
  CHECK(s.excluded_bad_signal_s == Approx(10.0)); // [290, 300) after clamping
  CHECK(s.clean_rest_s == Approx(300.0 - 65.0));
  CHECK_FALSE(s.insufficient);
  CHECK(s.min_clean_rest_s == 60.0);
  REQUIRE(s.bad_channels.size() == 1);
  CHECK(s.bad_channels[0] == "tib_ant_l");
  CHECK(s.n_events == 5);
  CHECK(s.n_units == 3);
  CHECK(s.isolated_fraction == Approx(0.8));
  CHECK(s.rate.count == 5);
  CHECK(s.rate.minutes == Approx(235.0 / 60.0));
  CHECK(s.rate.rate_per_min == Approx(5.0 / (235.0 / 60.0)));
  CHECK(s.rate.ci_low < s.rate.rate_per_min);
  CHECK(s.rate.ci_high > s.rate.rate_per_min);
  CHECK(s.noise_floor_uv.empty());
  CHECK(s.mains_hz == 0.0);

  REQUIRE(s.muscles.size() == 3);
  const MuscleSummary& biceps = s.muscles[0];
  CHECK(biceps.muscle == "biceps_r");
  CHECK(biceps.region == BodyRegion::cervical);
  CHECK(biceps.side == Side::right);
  CHECK(biceps.channels == std::vector<Index>{0, 1});
  CHECK(biceps.n_events == 3);
  CHECK(biceps.n_units == 2);
  CHECK(biceps.isolated_fraction == Approx(2.0 / 3.0));
  CHECK(biceps.complex_fraction == Approx(1.0 / 3.0));
  CHECK(biceps.rate.rate_per_min == Approx(3.0 / (235.0 / 60.0)));
  const MuscleSummary& tib = s.muscles[1];
  CHECK(tib.muscle == "tib_ant_l");
  CHECK(tib.n_events == 1);
  CHECK(tib.n_units == 1);
  const MuscleSummary& none = s.muscles[2];
  CHECK(none.muscle.empty());
  CHECK(none.region == BodyRegion::unknown);
  CHECK(none.channels == std::vector<Index>{3});
  CHECK(none.n_events == 1);
  CHECK(none.n_units == 0);  // its only event is unassigned
}

TEST_CASE("summarize_recording flags too little clean rest", "[cluster]") {
  const double fs = 500.0;
  std::vector<ChannelInfo> channels(1);
  channels[0].name = "c";
  // 80 s with 30 s of voluntary activity: 50 s of rest < 60 s.
  const std::vector<Mask> masks{{10000, 25000, MaskReason::voluntary}};
  const RecordingSummary s = summarize_recording({}, masks, {}, channels, 40000, fs);
  CHECK(s.clean_rest_s == Approx(50.0));
  CHECK(s.insufficient);
  CHECK(s.rate.count == 0);
  CHECK(s.rate.ci_low == 0.0);
  CHECK(s.rate.ci_high == Approx(-std::log(0.025) / (50.0 / 60.0)));
  CHECK(std::isnan(s.isolated_fraction));
  REQUIRE(s.muscles.size() == 1);
  CHECK(std::isnan(s.muscles[0].isolated_fraction));
  CHECK(summarize_recording({}, masks, {}, channels, 40000, fs, 30.0).insufficient == false);

  // Everything masked: no rate, an unbounded interval.
  const RecordingSummary all = summarize_recording({}, {{0, 40000, MaskReason::artefact}}, {}, channels, 40000, fs);
  CHECK(all.clean_rest_s == 0.0);
  CHECK(all.insufficient);
  CHECK(std::isnan(all.rate.rate_per_min));
  CHECK(std::isinf(all.rate.ci_high));

  CHECK_THROWS_AS(summarize_recording({}, {}, {}, channels, 40000, 0.0), std::invalid_argument);
  CHECK_THROWS_AS(summarize_recording({make_event(10, 3, 0)}, {}, {}, channels, 40000, fs), std::invalid_argument);
}
