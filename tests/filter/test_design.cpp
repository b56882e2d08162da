// Filter design (butter, iirnotch, mains_notches, sosfilt_zi, sos_magnitude)
// against SciPy reference coefficients and against Butterworth/notch properties.

#include <catch2/catch.hpp>

#include <fasctrack/filter/design.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

using namespace fasctrack;
using filter::BandType;
using filter::Sos;

namespace {

using Rows = std::vector<std::vector<double>>;

// Coefficients equal to 1e-12 relative, with an absolute floor for the ones
// that are (numerically) zero.
void require_close(const Eigen::Ref<const RowMatrix<double>>& actual, const Rows& expected, double rel = 1e-12,
                   double abs_floor = 1e-15) {
  REQUIRE(actual.rows() == static_cast<Index>(expected.size()));
  for (Index i = 0; i < actual.rows(); ++i) {
    REQUIRE(actual.cols() == static_cast<Index>(expected[static_cast<std::size_t>(i)].size()));
    for (Index j = 0; j < actual.cols(); ++j) {
      const double e = expected[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
      INFO("row " << i << " col " << j);
      REQUIRE(std::abs(actual(i, j) - e) <= std::max(rel * std::abs(e), abs_floor));
    }
  }
}

RowMatrix<double> as_rows(const Sos& sos) { return sos; }

double magnitude_at(const Sos& sos, double f, double fs) {
  Eigen::VectorXd freqs(1);
  freqs << f;
  return filter::sos_magnitude(sos, freqs, fs)[0];
}

// Frequency in (lo, hi) where |H| crosses 1/sqrt(2), by bisection (|H| monotonic there).
double half_power_crossing(const Sos& sos, double lo, double hi, double fs) {
  const double target = 1.0 / std::sqrt(2.0);
  const bool rising = magnitude_at(sos, hi, fs) > magnitude_at(sos, lo, fs);
  for (int i = 0; i < 200; ++i) {
    const double mid = 0.5 * (lo + hi);
    if ((magnitude_at(sos, mid, fs) < target) == rising) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return 0.5 * (lo + hi);
}

}  // namespace

// ---- reference coefficients from SciPy ---------------------------------------------
// Every reference below was printed with repr() by scipy 1.17.1 (numpy 2.4) from the
// call quoted in its comment.

TEST_CASE("butter: 4th-order band-pass equals scipy", "[filter]") {
  // scipy.signal.butter(4, [20, 450], 'bandpass', output='sos', fs=2048)
  const Rows ref = {
      {0.054302295029996554, 0.10860459005999311, 0.054302295029996554, 1.0, -0.26763162323808143,
       0.06257295392956412},
      {1.0, 2.0, 1.0, 1.0, -0.29358002466536715, 0.48001936494198844},
      {1.0, -2.0, 1.0, 1.0, -1.8832577107721968, 0.8873103664223253},
      {1.0, -2.0, 1.0, 1.0, -1.952822556709931, 0.9565763429266932},
  };
  require_close(as_rows(filter::butter(4, {20.0, 450.0}, BandType::bandpass, 2048.0)), ref);
}

TEST_CASE("butter: first-order low-pass and high-pass equal scipy", "[filter]") {
  // scipy.signal.butter(1, 100, 'lowpass', output='sos', fs=1000)
  require_close(as_rows(filter::butter(1, {100.0}, BandType::lowpass, 1000.0)),
                {{0.24523727525278557, 0.24523727525278557, 0.0, 1.0, -0.5095254494944288, 0.0}});
  // scipy.signal.butter(1, 100, 'highpass', output='sos', fs=1000)
  require_close(as_rows(filter::butter(1, {100.0}, BandType::highpass, 1000.0)),
                {{0.7547627247472144, -0.7547627247472144, 0.0, 1.0, -0.5095254494944288, 0.0}});
}

TEST_CASE("butter: odd-order high-pass keeps scipy's first-order section first", "[filter]") {
  // scipy.signal.butter(3, 30, 'highpass', output='sos', fs=2048)
  require_close(as_rows(filter::butter(3, {30.0}, BandType::highpass, 2048.0)),
                {{0.9120400292842229, -0.9120400292842229, 0.0, 1.0, -0.9119509539166186, 0.0},
                 {1.0, -2.0, 1.0, 1.0, -1.9040358546675114, 0.9121291046518273}});
}

TEST_CASE("butter: 10th-order band-stop equals scipy section by section", "[filter]") {
  // scipy.signal.butter(10, [45, 55], 'bandstop', output='sos', fs=1000)
  const Rows ref = {
      {0.8180202754626656, -1.5567351817193698, 0.8180202754626656, 1.0, -1.8419211565066091, 0.9388994059298881},
      {1.0, -1.9030520739096508, 1.0, 1.0, -1.849516607530369, 0.9406845902923746},
      {1.0, -1.9030520739096508, 1.0, 1.0, -1.8400476954513472, 0.943191322367431},
      {1.0, -1.9030520739096508, 1.0, 1.0, -1.8616716055371236, 0.9478828516285708},
      {1.0, -1.9030520739096508, 1.0, 1.0, -1.8445876812700683, 0.9536255963957627},
      {1.0, -1.9030520739096508, 1.0, 1.0, -1.8770181640471983, 0.9594707170818337},
      {1.0, -1.9030520739096508, 1.0, 1.0, -1.8555204290702303, 0.96949799508392},
      {1.0, -1.9030520739096508, 1.0, 1.0, -1.894187165152174, 0.9742852274273369},
      {1.0, -1.9030520739096508, 1.0, 1.0, -1.8719729379913614, 0.9892961533202722},
      {1.0, -1.9030520739096508, 1.0, 1.0, -1.9119014039553865, 0.9911550591173373},
  };
  require_close(as_rows(filter::butter(10, {45.0, 55.0}, BandType::bandstop, 1000.0)), ref);
}

TEST_CASE("butter: odd-order band-pass pairs the real poles like scipy", "[filter]") {
  // scipy.signal.butter(5, [10, 300], 'bandpass', output='sos', fs=4000): the two
  // real poles end up together in the [1, 0, -1] section.
  const Rows ref = {
      {0.00031759055345519576, 0.0006351811069103915, 0.00031759055345519576, 1.0, -1.3378681156121344,
       0.48745145268707424},
      {1.0, 2.0, 1.0, 1.0, -1.5770237667328766, 0.7676664960667631},
      {1.0, 0.0, -1.0, 1.0, -1.6175449545766702, 0.6236566061679363},
      {1.0, -2.0, 1.0, 1.0, -1.9742219383716302, 0.9744871207086693},
      {1.0, -2.0, 1.0, 1.0, -1.9906023841783107, 0.990850744586076},
  };
  require_close(as_rows(filter::butter(5, {10.0, 300.0}, BandType::bandpass, 4000.0)), ref);
}

TEST_CASE("iirnotch equals scipy", "[filter]") {
  // b, a = scipy.signal.iirnotch(50, 25, fs=2048); row = [*b, *a]
  require_close(as_rows(filter::iirnotch(50.0, 25.0, 2048.0)),
                {{0.9969414124570759, -1.9704697908897755, 0.9969414124570759, 1.0, -1.9704697908897755,
                  0.9938828249141518}});
}

TEST_CASE("sosfilt_zi equals scipy", "[filter]") {
  // scipy.signal.sosfilt_zi(scipy.signal.butter(4, [20, 450], 'bandpass', output='sos', fs=2048))
  require_close(filter::sosfilt_zi(filter::butter(4, {20.0, 450.0}, BandType::bandpass, 2048.0)),
                {{0.21893696393650602, 0.03720490746693734},
                 {0.6479684241934176, -0.16895826808360268},
                 {-0.9212076831598999, 0.9212076831599022},
                 {0.0, 0.0}},
                1e-12, 1e-14);
  // scipy.signal.sosfilt_zi(scipy.signal.butter(3, 30, 'highpass', output='sos', fs=2048))
  require_close(filter::sosfilt_zi(filter::butter(3, {30.0}, BandType::highpass, 2048.0)),
                {{-0.9120400292842226, 0.0}, {0.0, 0.0}}, 1e-12, 1e-14);
}

// ---- Butterworth properties, every order and band type -------------------------------

TEST_CASE("butter: shape, a0 = 1 and the -3 dB points for orders 1..10", "[filter]") {
  const double fs = 2048.0;
  const double r = 1.0 / std::sqrt(2.0);
  for (int order = 1; order <= 10; ++order) {
    INFO("order " << order);
    const Sos lp = filter::butter(order, {100.0}, BandType::lowpass, fs);
    const Sos hp = filter::butter(order, {100.0}, BandType::highpass, fs);
    const Sos bp = filter::butter(order, {20.0, 450.0}, BandType::bandpass, fs);
    const Sos bs = filter::butter(order, {45.0, 55.0}, BandType::bandstop, fs);
    CHECK(lp.rows() == (order + 1) / 2);
    CHECK(hp.rows() == (order + 1) / 2);
    CHECK(bp.rows() == order);
    CHECK(bs.rows() == order);
    for (const Sos* s : {&lp, &hp, &bp, &bs}) CHECK((s->col(3).array() == 1.0).all());

    // Pass bands have unit gain, stop bands (DC / Nyquist) zero gain.
    CHECK(magnitude_at(lp, 0.0, fs) == Approx(1.0).epsilon(1e-12));
    CHECK(magnitude_at(lp, fs / 2, fs) == Approx(0.0).margin(1e-12));
    CHECK(magnitude_at(hp, 0.0, fs) == Approx(0.0).margin(1e-12));
    CHECK(magnitude_at(hp, fs / 2, fs) == Approx(1.0).epsilon(1e-12));
    CHECK(magnitude_at(bp, 0.0, fs) == Approx(0.0).margin(1e-12));
    CHECK(magnitude_at(bp, fs / 2, fs) == Approx(0.0).margin(1e-12));
    CHECK(magnitude_at(bp, std::sqrt(20.0 * 450.0), fs) == Approx(1.0).epsilon(1e-3));
    CHECK(magnitude_at(bs, 0.0, fs) == Approx(1.0).epsilon(1e-12));
    CHECK(magnitude_at(bs, fs / 2, fs) == Approx(1.0).epsilon(1e-12));

    // Prewarping puts the -3 dB points exactly on the requested edges.
    CHECK(magnitude_at(lp, 100.0, fs) == Approx(r).epsilon(1e-10));
    CHECK(magnitude_at(hp, 100.0, fs) == Approx(r).epsilon(1e-10));
    CHECK(magnitude_at(bp, 20.0, fs) == Approx(r).epsilon(1e-9));
    CHECK(magnitude_at(bp, 450.0, fs) == Approx(r).epsilon(1e-9));
    CHECK(magnitude_at(bs, 45.0, fs) == Approx(r).epsilon(1e-9));
    CHECK(magnitude_at(bs, 55.0, fs) == Approx(r).epsilon(1e-9));
  }
}

TEST_CASE("sos_magnitude evaluates every requested frequency", "[filter]") {
  const Sos lp = filter::butter(2, {100.0}, BandType::lowpass, 1000.0);
  Eigen::VectorXd freqs(4);
  freqs << 0.0, 100.0, 250.0, 500.0;
  const Eigen::VectorXd m = filter::sos_magnitude(lp, freqs, 1000.0);
  REQUIRE(m.size() == 4);
  CHECK(m[0] == Approx(1.0));
  CHECK(m[1] == Approx(1.0 / std::sqrt(2.0)));
  CHECK(m[2] < m[1]);
  CHECK(m[3] == Approx(0.0).margin(1e-12));
  CHECK(filter::sos_magnitude(lp, Eigen::VectorXd(0), 1000.0).size() == 0);
}

// ---- notches ---------------------------------------------------------------------

TEST_CASE("iirnotch: zero at f0, unity far away", "[filter]") {
  const Sos n = filter::iirnotch(60.0, 30.0, 1000.0);
  REQUIRE(n.rows() == 1);
  CHECK(magnitude_at(n, 60.0, 1000.0) < 1e-12);
  CHECK(magnitude_at(n, 0.0, 1000.0) == Approx(1.0).epsilon(1e-12));
  CHECK(magnitude_at(n, 500.0, 1000.0) == Approx(1.0).epsilon(1e-12));
  // The -3 dB width is f0 / Q = 2 Hz.
  const double lo = half_power_crossing(n, 50.0, 60.0, 1000.0);
  const double hi = half_power_crossing(n, 60.0, 70.0, 1000.0);
  CHECK(hi - lo == Approx(2.0).epsilon(1e-3));
}

TEST_CASE("mains_notches: one constant-bandwidth notch per harmonic", "[filter]") {
  const double fs = 1000.0;
  // Default limit 0.95 * 500 = 475 Hz: 50, 100, ..., 450.
  const Sos comb = filter::mains_notches(50.0, fs);
  REQUIRE(comb.rows() == 9);
  for (Index k = 1; k <= 9; ++k) {
    const double f = 50.0 * static_cast<double>(k);
    INFO("harmonic " << k);
    CHECK(comb.row(k - 1) == filter::iirnotch(f, f / 2.0, fs));  // Q = f / bandwidth
    CHECK(magnitude_at(comb, f, fs) < 1e-9);
    // Constant bandwidth: every notch is 2 Hz wide at -3 dB.
    const Sos one = comb.row(k - 1);
    const double width = half_power_crossing(one, f, f + 20.0, fs) - half_power_crossing(one, f - 20.0, f, fs);
    CHECK(width == Approx(2.0).epsilon(1e-3));
  }
  // Between the notches the comb passes the signal.
  CHECK(magnitude_at(comb, 75.0, fs) == Approx(1.0).epsilon(5e-3));
  CHECK(magnitude_at(comb, 275.0, fs) == Approx(1.0).epsilon(5e-3));

  filter::MainsNotchOptions opt;
  opt.max_harmonics = 3;
  CHECK(filter::mains_notches(50.0, fs, opt).rows() == 3);
  opt = {};
  opt.max_frequency_hz = 200.0;  // at or above is excluded: 50, 100, 150
  CHECK(filter::mains_notches(50.0, fs, opt).rows() == 3);
  opt.max_harmonics = 2;
  CHECK(filter::mains_notches(50.0, fs, opt).rows() == 2);

  opt = {};
  opt.bandwidth_hz = 4.0;
  const Sos wide = filter::mains_notches(60.0, 2048.0, opt);
  REQUIRE(wide.rows() == 16);  // 60 .. 960 < 972.8
  CHECK(wide.row(15) == filter::iirnotch(960.0, 960.0 / 4.0, 2048.0));
}

TEST_CASE("cascade concatenates sections and multiplies responses", "[filter]") {
  const Sos a = filter::butter(3, {20.0}, BandType::highpass, 1000.0);
  const Sos b = filter::iirnotch(50.0, 25.0, 1000.0);
  const Sos c = filter::cascade(a, b);
  REQUIRE(c.rows() == 3);
  CHECK(c.topRows(2) == a);
  CHECK(c.row(2) == b.row(0));
  for (double f : {10.0, 49.0, 120.0}) {
    CHECK(magnitude_at(c, f, 1000.0) == Approx(magnitude_at(a, f, 1000.0) * magnitude_at(b, f, 1000.0)));
  }
}

// ---- band types ------------------------------------------------------------------

TEST_CASE("parse_band_type accepts scipy's spellings", "[filter]") {
  CHECK(filter::parse_band_type("lowpass") == BandType::lowpass);
  CHECK(filter::parse_band_type("low") == BandType::lowpass);
  CHECK(filter::parse_band_type("highpass") == BandType::highpass);
  CHECK(filter::parse_band_type("high") == BandType::highpass);
  CHECK(filter::parse_band_type("bandpass") == BandType::bandpass);
  CHECK(filter::parse_band_type("band") == BandType::bandpass);
  CHECK(filter::parse_band_type("pass") == BandType::bandpass);
  CHECK(filter::parse_band_type("bandstop") == BandType::bandstop);
  CHECK(filter::parse_band_type("stop") == BandType::bandstop);
  CHECK(filter::parse_band_type("BandPass") == BandType::bandpass);
  for (BandType t : {BandType::lowpass, BandType::highpass, BandType::bandpass, BandType::bandstop}) {
    CHECK(filter::parse_band_type(filter::to_string(t)) == t);
  }
  REQUIRE_THROWS_AS(filter::parse_band_type("notch"), std::invalid_argument);
  REQUIRE_THROWS_WITH(filter::parse_band_type("notch"), Catch::Contains("btype") && Catch::Contains("'notch'"));
}

// ---- errors ----------------------------------------------------------------------

TEST_CASE("butter rejects bad arguments with messages naming them", "[filter]") {
  using Catch::Contains;
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  REQUIRE_THROWS_AS(filter::butter(0, {100.0}, BandType::lowpass, 1000.0), std::invalid_argument);
  REQUIRE_THROWS_WITH(filter::butter(0, {100.0}, BandType::lowpass, 1000.0), Contains("order") && Contains("0"));
  REQUIRE_THROWS_WITH(filter::butter(-2, {100.0}, BandType::lowpass, 1000.0), Contains("order"));
  REQUIRE_THROWS_WITH(filter::butter(2, {100.0}, BandType::lowpass, 0.0), Contains("fs") && Contains("> 0"));
  REQUIRE_THROWS_WITH(filter::butter(2, {100.0}, BandType::lowpass, -1000.0), Contains("fs"));
  REQUIRE_THROWS_WITH(filter::butter(2, {100.0}, BandType::lowpass, nan), Contains("fs") && Contains("finite"));
  REQUIRE_THROWS_WITH(filter::butter(2, {100.0}, BandType::lowpass, inf), Contains("fs"));
  REQUIRE_THROWS_WITH(filter::butter(2, {600.0}, BandType::lowpass, 1000.0),
                      "cutoff_hz: 600 Hz is not below the Nyquist frequency 500 Hz (fs = 1000 Hz)");
  REQUIRE_THROWS_WITH(filter::butter(2, {500.0}, BandType::highpass, 1000.0), Contains("Nyquist"));
  REQUIRE_THROWS_WITH(filter::butter(2, {0.0}, BandType::lowpass, 1000.0),
                      Contains("cutoff_hz") && Contains("above 0"));
  REQUIRE_THROWS_WITH(filter::butter(2, {-5.0}, BandType::lowpass, 1000.0), Contains("cutoff_hz"));
  REQUIRE_THROWS_WITH(filter::butter(2, {nan}, BandType::lowpass, 1000.0),
                      Contains("cutoff_hz") && Contains("finite"));
  REQUIRE_THROWS_WITH(filter::butter(2, {100.0}, BandType::bandpass, 1000.0),
                      Contains("cutoff_hz") && Contains("2 band edges") && Contains("got 1"));
  REQUIRE_THROWS_WITH(filter::butter(2, {10.0, 100.0}, BandType::lowpass, 1000.0),
                      Contains("cutoff_hz") && Contains("1 cutoff") && Contains("got 2"));
  REQUIRE_THROWS_WITH(filter::butter(2, {}, BandType::highpass, 1000.0), Contains("got 0"));
  REQUIRE_THROWS_WITH(filter::butter(2, {100.0, 20.0}, BandType::bandpass, 1000.0),
                      Contains("cutoff_hz") && Contains("ascending"));
  REQUIRE_THROWS_WITH(filter::butter(2, {50.0, 50.0}, BandType::bandstop, 1000.0), Contains("ascending"));
  REQUIRE_THROWS_WITH(filter::butter(2, {20.0, 520.0}, BandType::bandpass, 1000.0), Contains("520 Hz"));
}

TEST_CASE("iirnotch and mains_notches reject bad arguments", "[filter]") {
  using Catch::Contains;
  REQUIRE_THROWS_WITH(filter::iirnotch(50.0, 0.0, 1000.0), Contains("quality") && Contains("> 0"));
  REQUIRE_THROWS_WITH(filter::iirnotch(50.0, -3.0, 1000.0), Contains("quality"));
  REQUIRE_THROWS_WITH(filter::iirnotch(600.0, 30.0, 1000.0), Contains("f0_hz") && Contains("Nyquist"));
  REQUIRE_THROWS_WITH(filter::iirnotch(0.0, 30.0, 1000.0), Contains("f0_hz"));
  REQUIRE_THROWS_WITH(filter::iirnotch(50.0, 30.0, 0.0), Contains("fs"));

  REQUIRE_THROWS_WITH(filter::mains_notches(0.0, 1000.0), Contains("mains_hz"));
  REQUIRE_THROWS_WITH(filter::mains_notches(50.0, -1.0), Contains("fs"));
  // Not even the fundamental fits below 0.95 * Nyquist.
  REQUIRE_THROWS_WITH(filter::mains_notches(50.0, 100.0), Contains("mains_hz") && Contains("47.5 Hz"));
  filter::MainsNotchOptions opt;
  opt.max_frequency_hz = 50.0;
  REQUIRE_THROWS_WITH(filter::mains_notches(50.0, 1000.0, opt), Contains("mains_hz"));
  opt = {};
  opt.bandwidth_hz = 0.0;
  REQUIRE_THROWS_WITH(filter::mains_notches(50.0, 1000.0, opt), Contains("bandwidth_hz"));
  opt = {};
  opt.max_harmonics = -1;
  REQUIRE_THROWS_WITH(filter::mains_notches(50.0, 1000.0, opt), Contains("max_harmonics"));
  opt = {};
  opt.max_frequency_hz = 600.0;
  REQUIRE_THROWS_WITH(filter::mains_notches(50.0, 1000.0, opt), Contains("max_frequency_hz"));
}

TEST_CASE("validate_sos and sosfilt_zi reject malformed sections", "[filter]") {
  using Catch::Contains;
  Sos ok = filter::butter(2, {100.0}, BandType::lowpass, 1000.0);
  REQUIRE_NOTHROW(filter::validate_sos(ok));
  REQUIRE_THROWS_WITH(filter::validate_sos(Sos(0, 6)), Contains("sos") && Contains("at least one section"));
  Sos bad = ok;
  bad(0, 4) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_WITH(filter::validate_sos(bad), Contains("sos") && Contains("non-finite") && Contains("[0, 4]"));
  bad = ok;
  bad(0, 1) = std::numeric_limits<double>::infinity();
  REQUIRE_THROWS_AS(filter::validate_sos(bad), std::invalid_argument);
  bad = ok;
  bad(0, 3) = 0.0;
  REQUIRE_THROWS_WITH(filter::validate_sos(bad), Contains("a0 = 0"));
  REQUIRE_THROWS_WITH(filter::sosfilt_zi(bad), Contains("a0 = 0"));
  REQUIRE_THROWS_WITH(filter::sos_magnitude(bad, Eigen::VectorXd::Zero(1), 1000.0), Contains("a0"));
  REQUIRE_THROWS_WITH(filter::sos_magnitude(ok, Eigen::VectorXd::Zero(1), 0.0), Contains("fs"));

  // An integrator (pole at z = 1) has no steady state.
  Sos integrator(1, 6);
  integrator << 1.0, 0.0, 0.0, 1.0, -1.0, 0.0;
  REQUIRE_THROWS_WITH(filter::sosfilt_zi(integrator), Contains("pole at z = 1"));
}
