// welch() against scipy.signal.welch reference values, plus its contract.

#include <catch2/catch.hpp>

#include <fasctrack/filter/spectral.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace fasctrack;
using filter::WelchOptions;

namespace {

// The reference signal, reproduced exactly in NumPy:
//   n = 1000; fs = 500.0; i = np.arange(n)
//   x = np.stack([np.sin(0.3*i + c) + 0.25*np.cos(1.7*i)
//                 + 0.1*(((i*7919 + 13*c) % 101) - 50)/50.0 + 5*c for c in range(2)])
// Lines at 23.9 Hz and 135.3 Hz, a deterministic "noise" floor and a DC offset
// on channel 1 (which detrend='constant' must remove).
RowMatrix<double> reference_signal() {
  RowMatrix<double> x(2, 1000);
  for (Index c = 0; c < 2; ++c) {
    for (Index i = 0; i < 1000; ++i) {
      const double di = static_cast<double>(i);
      x(c, i) = std::sin(0.3 * di + static_cast<double>(c)) + 0.25 * std::cos(1.7 * di) +
                0.1 * static_cast<double>(((i * 7919 + 13 * c) % 101) - 50) / 50.0 + 5.0 * static_cast<double>(c);
    }
  }
  return x;
}

struct Expected {
  Index bin;
  double value;
};

// Relative agreement to 1e-10; bins far below the spectrum's peak (sidelobes
// at 1e-12 of it) are compared to 1e-12 of the peak, which is what floating-point
// cancellation in the detrend and FFT allows.
void check_against(const filter::Psd& psd, Index channel, const std::vector<Expected>& expected) {
  const double peak = psd.power.row(channel).maxCoeff();
  for (const Expected& e : expected) {
    INFO("channel " << channel << " bin " << e.bin);
    CHECK(psd.power(channel, e.bin) == Approx(e.value).epsilon(1e-10).margin(1e-12 * peak));
  }
}

RowMatrix<double> white(Index rows, Index cols, unsigned seed, double sd = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, sd);
  RowMatrix<double> x(rows, cols);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
  return x;
}

}  // namespace

TEST_CASE("welch matches scipy.signal.welch, mean average", "[filter][welch]") {
  const RowMatrix<double> x = reference_signal();
  // scipy.signal.welch(x, 500.0, window='hann', nperseg=128, detrend='constant',
  //                    scaling='density')   (scipy 1.17.1)
  WelchOptions o;
  o.nperseg = 128;
  const auto psd = filter::welch<double>(x, 500.0, o);
  REQUIRE(psd.freqs_hz.size() == 65);
  REQUIRE(psd.power.rows() == 2);
  REQUIRE(psd.power.cols() == 65);
  CHECK(psd.freqs_hz[0] == 0.0);
  CHECK(psd.freqs_hz[1] == 3.90625);
  CHECK(psd.freqs_hz[64] == 250.0);
  check_against(psd, 0, {{0, 3.0944230834638175e-05}, {1, 1.2955140140284374e-05}, {6, 0.084030933670435348},
                         {35, 0.0044777096887273164}, {64, 9.00264155340977e-07}});
  check_against(psd, 1, {{0, 3.423267882995917e-05}, {1, 1.4343597676806792e-05}, {6, 0.083955559569076674},
                         {35, 0.0044719873198181626}, {64, 9.0537441728379648e-07}});
}

TEST_CASE("welch matches scipy.signal.welch, median average with explicit overlap", "[filter][welch]") {
  const RowMatrix<double> x = reference_signal();
  // scipy.signal.welch(x, 500.0, window='hann', nperseg=100, noverlap=30,
  //                    average='median')   -> 14 segments, _median_bias(14)
  WelchOptions o;
  o.nperseg = 100;
  o.noverlap = 30;
  o.median = true;
  const auto psd = filter::welch<double>(x, 500.0, o);
  REQUIRE(psd.freqs_hz.size() == 51);
  CHECK(psd.freqs_hz[1] == 5.0);
  check_against(psd, 0, {{0, 0.00013593768819005958}, {1, 5.3540419967471232e-05}, {5, 0.085726592309028057},
                         {27, 0.0057155006890619317}, {50, 1.6243296236677303e-06}});
  check_against(psd, 1, {{0, 0.00014784543216761253}, {1, 5.8528522119097881e-05}, {5, 0.085739599241048806},
                         {27, 0.0057255637912850734}, {50, 1.3981768016565325e-06}});
}

TEST_CASE("welch shortens a segment longer than the signal, as scipy", "[filter][welch]") {
  const RowMatrix<double> x = reference_signal();
  // scipy.signal.welch(x, 500.0, window='hann', nperseg=2000)  (warns, uses 1000)
  WelchOptions o;
  o.nperseg = 2000;
  const auto psd = filter::welch<double>(x, 500.0, o);
  REQUIRE(psd.freqs_hz.size() == 501);
  CHECK(psd.freqs_hz[1] == 0.5);
  check_against(psd, 0, {{0, 2.0640983086707955e-05}, {1, 1.0294079650815672e-05}, {48, 0.61303832340194331},
                         {271, 0.032487351243080234}, {500, 1.9238605921429064e-12}});
  check_against(psd, 1, {{0, 4.9157390591775064e-09}, {1, 2.3940045593031701e-09}, {48, 0.61363702562273981},
                         {271, 0.032482869332081499}, {500, 2.8379381723405078e-12}});
}

TEST_CASE("welch with an odd segment length doubles every bin but DC", "[filter][welch]") {
  const RowMatrix<double> x = reference_signal();
  // scipy.signal.welch(x, 500.0, window='hann', nperseg=101, noverlap=0)
  WelchOptions o;
  o.nperseg = 101;
  o.noverlap = 0;
  const auto psd = filter::welch<double>(x, 500.0, o);
  REQUIRE(psd.freqs_hz.size() == 51);
  CHECK(psd.freqs_hz[1] == Approx(4.9504950495049505).epsilon(1e-15));
  check_against(psd, 0, {{0, 8.6299061312307494e-05}, {1, 3.1494338491755296e-05}, {5, 0.064628823193838364},
                         {27, 0.0036629659369052745}, {50, 1.9955504547418645e-06}});
  check_against(psd, 1, {{0, 8.3468455801199553e-05}, {1, 2.9164067364602436e-05}, {5, 0.064592011406614927},
                         {27, 0.0036648746290290496}, {50, 1.7067214685579788e-06}});
}

TEST_CASE("welch default segment is one second", "[filter][welch]") {
  const RowMatrix<double> x = reference_signal();
  // scipy.signal.welch(x, 500.0, window='hann', nperseg=500)
  const auto psd = filter::welch<double>(x, 500.0);
  REQUIRE(psd.freqs_hz.size() == 251);
  CHECK(psd.freqs_hz[1] == 1.0);
  check_against(psd, 0, {{0, 1.0737340095941397e-05}, {1, 5.3141819698688e-06}, {24, 0.3267131392220195},
                         {135, 0.018826114284213647}, {250, 3.8434159797972421e-09}});
  check_against(psd, 1, {{0, 1.4669110919695298e-06}, {1, 7.2353234157827473e-07}, {24, 0.3263459692151815},
                         {135, 0.018767223014881734}, {250, 3.0244029575795553e-09}});
}

TEST_CASE("welch PSD integrates to the variance of white noise", "[filter][welch]") {
  // Density scaling: sum(P) * df estimates the variance (Parseval), for mean
  // and (bias-corrected) median averaging alike.
  const RowMatrix<double> x = white(3, 200000, 7, 10.0);
  for (bool median : {false, true}) {
    WelchOptions o;
    o.nperseg = 1000;
    o.median = median;
    const auto psd = filter::welch<double>(x, 2000.0, o);
    const double df = psd.freqs_hz[1];
    for (Index c = 0; c < 3; ++c) {
      INFO("median " << median << " channel " << c);
      CHECK(psd.power.row(c).sum() * df == Approx(100.0).epsilon(0.02));
      // Flat spectrum: 2 sigma^2 / fs away from DC and Nyquist.
      CHECK(psd.power.row(c).segment(10, 400).mean() == Approx(0.1).epsilon(0.03));
    }
  }
}

TEST_CASE("welch on float input matches double input", "[filter][welch]") {
  const RowMatrix<double> x = white(2, 5000, 3, 20.0);
  const RowMatrix<float> xf = x.cast<float>();
  const auto pd = filter::welch<double>(xf.cast<double>(), 1000.0);
  const auto pf = filter::welch<float>(xf, 1000.0);
  REQUIRE(pf.power.cols() == pd.power.cols());
  // float samples are converted exactly; arithmetic is double in both.
  CHECK((pf.power - pd.power).cwiseAbs().maxCoeff() <= 1e-12 * pd.power.maxCoeff());
}

TEST_CASE("welch accepts strided views (a block of a larger matrix)", "[filter][welch]") {
  const RowMatrix<double> big = white(4, 3000, 11);
  const RowMatrix<double> copy = big.block(1, 0, 2, 3000);
  const auto a = filter::welch<double>(big.block(1, 0, 2, 3000), 1000.0);
  const auto b = filter::welch<double>(copy, 1000.0);
  CHECK(a.power == b.power);
}

TEST_CASE("welch is deterministic and thread-safe", "[filter][welch]") {
  // Plans for several lengths are created concurrently; every thread must get
  // exactly the serial answer.
  const RowMatrix<double> x = white(2, 20000, 5);
  const std::vector<Index> lengths{1000, 1024, 999, 2000, 777, 4096};
  std::vector<filter::Psd> serial;
  for (Index n : lengths) {
    WelchOptions o;
    o.nperseg = n;
    serial.push_back(filter::welch<double>(x, 1000.0, o));
  }
  std::vector<std::vector<filter::Psd>> results(4);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < results.size(); ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t k = 0; k < lengths.size(); ++k) {
        WelchOptions o;
        o.nperseg = lengths[(k + t) % lengths.size()] + 3;  // lengths no one planned yet
        results[t].push_back(filter::welch<double>(x, 1000.0, o));
      }
    });
  }
  for (auto& th : threads) th.join();
  for (std::size_t t = 0; t < results.size(); ++t) {
    for (std::size_t k = 0; k < lengths.size(); ++k) {
      WelchOptions o;
      o.nperseg = lengths[(k + t) % lengths.size()] + 3;
      CHECK(results[t][k].power == filter::welch<double>(x, 1000.0, o).power);
    }
  }
  for (std::size_t k = 0; k < lengths.size(); ++k) {
    WelchOptions o;
    o.nperseg = lengths[k];
    CHECK(filter::welch<double>(x, 1000.0, o).power == serial[k].power);
  }
}

TEST_CASE("welch handles degenerate but valid data", "[filter][welch]") {
  SECTION("one sample: a single zero bin, as scipy") {
    RowMatrix<double> x(1, 1);
    x(0, 0) = 42.0;
    const auto psd = filter::welch<double>(x, 1000.0);
    REQUIRE(psd.freqs_hz.size() == 1);
    CHECK(psd.power(0, 0) == 0.0);
  }
  SECTION("constant channel: zero power everywhere (detrend removes it)") {
    const RowMatrix<double> x = RowMatrix<double>::Constant(1, 4000, 1e3);
    const auto psd = filter::welch<double>(x, 1000.0);
    CHECK(psd.power.cwiseAbs().maxCoeff() < 1e-20);
  }
  SECTION("sub-1 Hz sampling rate still gets a segment") {
    const RowMatrix<double> x = white(1, 50, 1);
    const auto psd = filter::welch<double>(x, 0.2);
    CHECK(psd.freqs_hz.size() == 1);  // round(0.2) = 0 -> one-sample segments
  }
}

TEST_CASE("welch rejects bad arguments with a message naming them", "[filter][welch]") {
  const RowMatrix<double> x = white(1, 1000, 2);
  auto message_of = [](auto&& f) -> std::string {
    try {
      f();
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "<no exception>";
  };
  CHECK_THAT(message_of([&] { filter::welch<double>(x, 0.0); }), Catch::Contains("fs"));
  CHECK_THAT(message_of([&] { filter::welch<double>(x, -1.0); }), Catch::Contains("fs") && Catch::Contains("-1"));
  CHECK_THAT(message_of([&] { filter::welch<double>(x, std::nan("")); }), Catch::Contains("fs"));
  CHECK_THAT(message_of([&] { filter::welch<double>(RowMatrix<double>(1, 0), 1000.0); }), Catch::Contains("x"));
  CHECK_THAT(message_of([&] { filter::welch<double>(RowMatrix<double>(0, 10), 1000.0); }), Catch::Contains("x"));
  WelchOptions o;
  o.nperseg = -5;
  CHECK_THAT(message_of([&] { filter::welch<double>(x, 1000.0, o); }), Catch::Contains("nperseg"));
  o.nperseg = 100;
  o.noverlap = 100;
  CHECK_THAT(message_of([&] { filter::welch<double>(x, 1000.0, o); }), Catch::Contains("noverlap"));
  o.noverlap = -2;
  CHECK_THAT(message_of([&] { filter::welch<double>(x, 1000.0, o); }), Catch::Contains("noverlap"));
  RowMatrix<double> bad = x;
  bad(0, 17) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THAT(message_of([&] { filter::welch<double>(bad, 1000.0); }),
             Catch::Contains("not finite") && Catch::Contains("17"));
  bad(0, 17) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(filter::welch<double>(bad, 1000.0), std::invalid_argument);
}
