// SosFilter / sosfilt / sosfiltfilt: SciPy reference outputs, bit-exact
// streaming, in-place use, steady state, no allocation, and error messages.

#include <catch2/catch.hpp>

#include <fasctrack/filter/apply.hpp>
#include <fasctrack/filter/design.hpp>

#include <cmath>
#include <cstddef>
#include <numbers>
#include <random>
#include <stdexcept>
#include <vector>

#include "alloc_count.hpp"

using namespace fasctrack;
using filter::BandType;
using filter::Sos;
using filter::SosFilter;

namespace {

// x = sin(0.1 n) + 0.5 cos(0.37 n) + 0.01 n, n = 0..23 (the input of the SciPy references)
RowMatrix<double> reference_input() {
  RowMatrix<double> x(1, 24);
  for (Index n = 0; n < 24; ++n) {
    const double t = static_cast<double>(n);
    x(0, n) = std::sin(0.1 * t) + 0.5 * std::cos(0.37 * t) + 0.01 * t;
  }
  return x;
}

template <class T>
RowMatrix<T> random_signal(Index channels, Index n, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 50.0);
  RowMatrix<T> x(channels, n);
  for (Index c = 0; c < channels; ++c)
    for (Index i = 0; i < n; ++i) x(c, i) = static_cast<T>(normal(rng) + 10.0 * static_cast<double>(c));
  return x;
}

void require_close(const RowMatrix<double>& actual, const std::vector<double>& expected, double rel) {
  REQUIRE(actual.rows() == 1);
  REQUIRE(actual.cols() == static_cast<Index>(expected.size()));
  for (Index i = 0; i < actual.cols(); ++i) {
    INFO("sample " << i);
    const double e = expected[static_cast<std::size_t>(i)];
    REQUIRE(std::abs(actual(0, i) - e) <= rel * std::max(std::abs(e), 1e-3));
  }
}

Sos emg_band(double fs) { return filter::butter(4, {20.0, 450.0}, BandType::bandpass, fs); }

// Streams x through a fresh filter in chunks of random sizes (0 and 1 included).
template <class T>
RowMatrix<T> stream_in_chunks(const Sos& sos, const RowMatrix<T>& x, unsigned seed) {
  SosFilter<T> f(sos, x.rows());
  RowMatrix<T> y(x.rows(), x.cols());
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> kind(0, 3);
  Index pos = 0;
  while (pos < x.cols()) {
    Index len = 0;
    switch (kind(rng)) {
      case 0: len = 0; break;
      case 1: len = 1; break;
      case 2: len = std::uniform_int_distribution<Index>(2, 17)(rng); break;
      default: len = std::uniform_int_distribution<Index>(18, 700)(rng); break;
    }
    len = std::min(len, x.cols() - pos);
    f.process(x.middleCols(pos, len), y.middleCols(pos, len));
    pos += len;
  }
  return y;
}

}  // namespace

// ---- SciPy references ----------------------------------------------------------------

TEST_CASE("sosfilt equals scipy.signal.sosfilt", "[filter]") {
  // scipy 1.17.1: scipy.signal.sosfilt(scipy.signal.butter(2, 100, output='sos', fs=1000), x)
  const std::vector<double> ref = {
      0.03372763694453595, 0.14485934674156847, 0.30274150535010547, 0.4413533445028612, 0.5250788346404869,
      0.5453858212203228,  0.5132170329284889,  0.4508213052732227,  0.38468572083083064, 0.340046088546296,
      0.33694219304893974, 0.3876622100639989,  0.49545488816252203, 0.6544345500276287, 0.8505999787404811,
      1.0638274280684423,  1.2706039162150355,  1.44717277596136,    1.5726988821610746, 1.6320457945064457,
      1.617798849542561,   1.5312631642139167,  1.3823005016554462,  1.1880247255256344};
  const Sos sos = filter::butter(2, {100.0}, BandType::lowpass, 1000.0);
  require_close(filter::sosfilt<double>(sos, reference_input()), ref, 1e-12);
}

TEST_CASE("sosfiltfilt equals scipy.signal.sosfiltfilt", "[filter]") {
  // scipy 1.17.1: scipy.signal.sosfiltfilt(scipy.signal.butter(3, [50, 200], 'bandpass',
  //                                         output='sos', fs=1000), x)   (default padlen 21)
  const std::vector<double> ref = {
      0.015328016488223212,  0.13275275305584314,  0.20060795720995742,  0.19716828380446655,
      0.13326025734107327,   0.035840205147024774, -0.06942530111936357, -0.16389561311087614,
      -0.2335016347593856,   -0.26695360867170725, -0.25773983114717675, -0.2069916813755979,
      -0.12386218661438865,  -0.022992290820376293, 0.07923652697885739, 0.16784027477082275,
      0.2308825382079435,    0.26006499259235216,  0.2517877201657548,   0.20965864398363154,
      0.146451661821214,     0.08097268310797642,  0.02829568974403296,  -0.009948914299402145};
  const Sos sos = filter::butter(3, {50.0, 200.0}, BandType::bandpass, 1000.0);
  REQUIRE(filter::sosfiltfilt_default_padlen(sos) == 21);
  require_close(filter::sosfiltfilt<double>(sos, reference_input()), ref, 1e-10);
}

TEST_CASE("sosfiltfilt_default_padlen follows scipy's rule", "[filter]") {
  // 3 * (2 * n_sections + 1 - min(#(b2 == 0), #(a2 == 0)))
  CHECK(filter::sosfiltfilt_default_padlen(emg_band(2048.0)) == 27);
  CHECK(filter::sosfiltfilt_default_padlen(filter::butter(1, {100.0}, BandType::lowpass, 1000.0)) == 6);
  CHECK(filter::sosfiltfilt_default_padlen(filter::butter(3, {30.0}, BandType::highpass, 2048.0)) == 12);
}

// ---- streaming -------------------------------------------------------------------------

TEST_CASE("SosFilter: any chunking is bit-identical to one call (double)", "[filter]") {
  const Sos sos = filter::cascade(emg_band(2048.0), filter::mains_notches(50.0, 2048.0));
  const RowMatrix<double> x = random_signal<double>(3, 5000, 1);
  const RowMatrix<double> whole = filter::sosfilt<double>(sos, x);
  for (unsigned seed = 0; seed < 8; ++seed) {
    INFO("seed " << seed);
    const RowMatrix<double> y = stream_in_chunks<double>(sos, x, seed);
    REQUIRE((y.array() == whole.array()).all());
  }
}

TEST_CASE("SosFilter: any chunking is bit-identical to one call (float)", "[filter]") {
  const Sos sos = filter::butter(6, {10.0, 300.0}, BandType::bandpass, 1000.0);
  const RowMatrix<float> x = random_signal<float>(2, 4000, 2);
  const RowMatrix<float> whole = filter::sosfilt<float>(sos, x);
  for (unsigned seed = 0; seed < 8; ++seed) {
    INFO("seed " << seed);
    const RowMatrix<float> y = stream_in_chunks<float>(sos, x, seed);
    REQUIRE((y.array() == whole.array()).all());
  }
}

TEST_CASE("SosFilter<float> keeps state and arithmetic in double", "[filter]") {
  // A 1 Hz high-pass at 10 kHz has poles within 1e-3 of z = 1; float state would drift.
  const Sos sos = filter::butter(4, {1.0}, BandType::highpass, 10000.0);
  const RowMatrix<float> x = random_signal<float>(2, 3000, 3);
  const RowMatrix<double> xd = x.cast<double>();
  const RowMatrix<float> expected = filter::sosfilt<double>(sos, xd).cast<float>();
  CHECK((filter::sosfilt<float>(sos, x).array() == expected.array()).all());
  const RowMatrix<float> expected_ff = filter::sosfiltfilt<double>(sos, xd).cast<float>();
  CHECK((filter::sosfiltfilt<float>(sos, x).array() == expected_ff.array()).all());
}

TEST_CASE("SosFilter: in-place processing gives the same output", "[filter]") {
  const Sos sos = emg_band(2048.0);
  RowMatrix<double> x = random_signal<double>(2, 1000, 4);
  const RowMatrix<double> expected = filter::sosfilt<double>(sos, x);
  SosFilter<double> f(sos, 2);
  f.process(x.leftCols(300), x.leftCols(300));
  f.process(x.rightCols(700), x.rightCols(700));
  CHECK((x.array() == expected.array()).all());

  RowMatrix<float> xf = random_signal<float>(2, 500, 5);
  const RowMatrix<float> expected_f = filter::sosfilt<float>(sos, xf);
  SosFilter<float> ff(sos, 2);
  ff.process(xf, xf);
  CHECK((xf.array() == expected_f.array()).all());
}

TEST_CASE("SosFilter: zero-length chunks and a non-contiguous row stride", "[filter]") {
  const Sos sos = emg_band(2048.0);
  SosFilter<double> f(sos, 2);
  RowMatrix<double> empty(2, 0);
  f.process(empty, empty);
  CHECK((f.state().array() == 0.0).all());

  // Two rows picked out of a 4-channel block: outer stride 2 * n.
  RowMatrix<double> block = random_signal<double>(4, 600, 6);
  const RowMatrix<double> rows = block.topRows(2);
  const RowMatrix<double> expected = filter::sosfilt<double>(sos, rows);
  RowMatrix<double> out(2, 600);
  f.process(block.topRows(2), out);
  CHECK((out.array() == expected.array()).all());
}

TEST_CASE("SosFilter: state round-trips and reset restores a fresh filter", "[filter]") {
  const Sos sos = emg_band(2048.0);
  const RowMatrix<double> x = random_signal<double>(3, 2000, 7);
  const RowMatrix<double> whole = filter::sosfilt<double>(sos, x);

  SosFilter<double> a(sos, 3);
  RowMatrix<double> y(3, 2000);
  a.process(x.leftCols(800), y.leftCols(800));
  REQUIRE(a.state().rows() == 4);
  REQUIRE(a.state().cols() == 6);
  SosFilter<double> b(sos, 3);
  b.set_state(a.state());  // hand the stream over to another filter
  b.process(x.rightCols(1200), y.rightCols(1200));
  CHECK((y.array() == whole.array()).all());

  a.reset();
  CHECK((a.state().array() == 0.0).all());
  RowMatrix<double> again(3, 2000);
  a.process(x, again);
  CHECK((again.array() == whole.array()).all());
  CHECK(a.n_channels() == 3);
  CHECK(a.n_sections() == 4);
  CHECK(SosFilter<double>::latency_samples() == 0);
}

TEST_CASE("sosfilt: zi in and out in scipy layout chains two calls exactly", "[filter]") {
  const Sos sos = emg_band(2048.0);
  const RowMatrix<double> x = random_signal<double>(2, 1500, 8);
  const RowMatrix<double> whole = filter::sosfilt<double>(sos, x);
  RowMatrix<double> zi = RowMatrix<double>::Zero(sos.rows(), 2 * 2);
  const RowMatrix<double> y1 = filter::sosfilt<double>(sos, x.leftCols(600), &zi);
  CHECK((zi.array() != 0.0).any());
  const RowMatrix<double> y2 = filter::sosfilt<double>(sos, x.rightCols(900), &zi);
  CHECK((y1.array() == whole.leftCols(600).array()).all());
  CHECK((y2.array() == whole.rightCols(900).array()).all());
}

TEST_CASE("SosFilter: steady state makes a constant input pass without a transient", "[filter]") {
  const double fs = 1000.0;
  Eigen::VectorXd x0(3);
  x0 << 1.5, -20.0, 300.0;
  RowMatrix<double> x(3, 400);
  for (Index c = 0; c < 3; ++c) x.row(c).setConstant(x0[c]);

  // Low-pass: DC gain 1, so the output equals the input from the first sample.
  SosFilter<double> lp(filter::butter(5, {40.0}, BandType::lowpass, fs), 3);
  lp.set_steady_state(x0);
  RowMatrix<double> y(3, 400);
  lp.process(x, y);
  for (Index c = 0; c < 3; ++c) CHECK(((y.row(c).array() - x0[c]).abs() <= 1e-12 * std::abs(x0[c])).all());

  // Band-pass: DC gain 0, so the output is zero throughout.
  SosFilter<double> bp(emg_band(fs), 3);
  bp.set_steady_state(x0);
  bp.process(x, y);
  CHECK((y.array().abs() <= 1e-10).all());

  // Without it, the same constant rings through the band-pass.
  SosFilter<double> cold(emg_band(fs), 3);
  cold.process(x, y);
  CHECK(y.array().abs().maxCoeff() > 1.0);
}

TEST_CASE("SosFilter: any non-zero a0 is normalised", "[filter]") {
  const Sos sos = emg_band(2048.0);
  Sos scaled = sos;
  scaled *= 2.0;  // exact scaling: identical filter
  const RowMatrix<double> x = random_signal<double>(1, 700, 9);
  CHECK((filter::sosfilt<double>(scaled, x).array() == filter::sosfilt<double>(sos, x).array()).all());
  CHECK((filter::sosfiltfilt<double>(scaled, x).array() == filter::sosfiltfilt<double>(sos, x).array()).all());
}

#ifdef FASCTRACK_TEST_COUNT_MALLOC
TEST_CASE("SosFilter::process never allocates", "[filter]") {
  const Sos sos = filter::cascade(emg_band(2048.0), filter::mains_notches(50.0, 2048.0));
  RowMatrix<double> x = random_signal<double>(4, 3000, 10);
  RowMatrix<float> xf = x.cast<float>();
  SosFilter<double> f(sos, 4);
  SosFilter<float> ff(sos, 4);
  {
    test::MallocCounter mallocs;
    f.process(x.leftCols(1000), x.leftCols(1000));
    f.process(x.rightCols(2000), x.rightCols(2000));
    ff.process(xf, xf);
    f.process(x.leftCols(0), x.leftCols(0));
    CHECK(mallocs.count() == 0);
  }
  // The counter itself works.
  test::MallocCounter mallocs;
  { RowMatrix<double> tmp(4, 1000); tmp.setZero(); }
  CHECK(mallocs.count() > 0);
}
#endif

// ---- zero phase --------------------------------------------------------------------

TEST_CASE("sosfiltfilt: zero phase, squared magnitude, padlen", "[filter]") {
  const double fs = 1000.0;
  const Sos sos = filter::butter(4, {100.0}, BandType::lowpass, fs);
  RowMatrix<double> x(2, 4000);
  for (Index i = 0; i < 4000; ++i) {
    const double t = static_cast<double>(i) / fs;
    x(0, i) = std::sin(2.0 * std::numbers::pi * 30.0 * t);
    x(1, i) = 3.0 * std::cos(2.0 * std::numbers::pi * 100.0 * t) + 7.0;
  }
  const RowMatrix<double> y = filter::sosfiltfilt<double>(sos, x);
  // Away from the edges: 30 Hz passes unshifted with gain |H|^2; at the -3 dB
  // cutoff the amplitude halves, still without phase shift, and DC passes.
  Eigen::VectorXd f(2);
  f << 30.0, 100.0;
  const Eigen::VectorXd h = filter::sos_magnitude(sos, f, fs);
  for (Index i = 500; i < 3500; ++i) {
    CHECK(y(0, i) == Approx(h[0] * h[0] * x(0, i)).margin(1e-6));
    CHECK(y(1, i) == Approx(0.5 * (x(1, i) - 7.0) + 7.0).margin(1e-6));
  }
  CHECK(h[1] * h[1] == Approx(0.5));

  // Explicit padlen, including none at all.
  const RowMatrix<double> y0 = filter::sosfiltfilt<double>(sos, x, Index{0});
  const RowMatrix<double> y100 = filter::sosfiltfilt<double>(sos, x, Index{100});
  CHECK(y0.cols() == 4000);
  CHECK(y100.cols() == 4000);
  CHECK(std::abs(y0(0, 2000) - y(0, 2000)) < 1e-9);
  CHECK(std::abs(y100(0, 2000) - y(0, 2000)) < 1e-9);
}

// ---- errors --------------------------------------------------------------------------

TEST_CASE("apply: shape and argument errors name the argument", "[filter]") {
  using Catch::Contains;
  const Sos sos = emg_band(2048.0);
  REQUIRE_THROWS_WITH(SosFilter<double>(sos, 0), Contains("n_channels") && Contains("got 0"));
  REQUIRE_THROWS_WITH(SosFilter<float>(Sos(0, 6), 1), Contains("sos"));

  SosFilter<double> f(sos, 2);
  RowMatrix<double> x = random_signal<double>(2, 100, 11);
  RowMatrix<double> y(2, 100);
  f.process(x, y);
  const RowMatrix<double> before = f.state();
  RowMatrix<double> three(3, 100);
  REQUIRE_THROWS_AS(f.process(three, three), std::invalid_argument);
  REQUIRE_THROWS_WITH(f.process(three, three), Contains("in") && Contains("2 channel") && Contains("(3, 100)"));
  RowMatrix<double> short_out(2, 99);
  REQUIRE_THROWS_WITH(f.process(x, short_out), Contains("out") && Contains("(2, 99)") && Contains("(2, 100)"));
  CHECK((f.state().array() == before.array()).all());  // untouched by the failed calls

  Eigen::VectorXd x0(3);
  x0.setOnes();
  REQUIRE_THROWS_WITH(f.set_steady_state(x0), Contains("x0") && Contains("got 3"));
  REQUIRE_THROWS_WITH(f.set_state(RowMatrix<double>::Zero(4, 2)), Contains("zi") && Contains("(4, 4)"));

  RowMatrix<double> zi = RowMatrix<double>::Zero(3, 4);
  REQUIRE_THROWS_WITH(filter::sosfilt<double>(sos, x, &zi), Contains("zi") && Contains("(3, 4)"));

  // SciPy raises ValueError when the signal is not longer than padlen.
  const RowMatrix<double> short_x = random_signal<double>(2, 27, 12);
  REQUIRE_THROWS_AS(filter::sosfiltfilt<double>(sos, short_x), std::invalid_argument);
  REQUIRE_THROWS_WITH(filter::sosfiltfilt<double>(sos, short_x),
                      Contains("padlen") && Contains("27 samples") && Contains("padlen = 27"));
  REQUIRE_NOTHROW(filter::sosfiltfilt<double>(sos, random_signal<double>(2, 28, 12)));
  REQUIRE_THROWS_WITH(filter::sosfiltfilt<double>(sos, x, Index{-1}), Contains("padlen") && Contains(">= 0"));
  REQUIRE_THROWS_WITH(filter::sosfiltfilt<float>(sos, x.cast<float>(), Index{100}),
                      Contains("padlen") && Contains("100 samples"));
  Sos nan_sos = sos;
  nan_sos(1, 1) = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_WITH(filter::sosfilt<double>(nan_sos, x), Contains("sos") && Contains("non-finite"));
  REQUIRE_THROWS_WITH(filter::sosfiltfilt<double>(nan_sos, x), Contains("non-finite"));
}
