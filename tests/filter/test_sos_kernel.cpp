// The channel-vectorised SOS kernels against the one-channel DF2T recursion
// they replace: identical to the last bit, for float32 and float64, any
// channel count (full and partial lane blocks), any chunking, in place, and
// the zero-phase filter built on them.

#include <catch2/catch.hpp>

#include <fasctrack/filter/apply.hpp>
#include <fasctrack/filter/design.hpp>

#include <random>

using namespace fasctrack;

namespace {

// The scalar Direct-Form-II-transposed cascade, one channel at a time, in
// SciPy's expression order (the oracle; state in double).
void scalar_run(const filter::Sos& sos, double* x, Index n, Index step, double* z) {
  for (Index i = 0; i < n; ++i, x += step) {
    double v = *x;
    for (Index s = 0; s < sos.rows(); ++s) {
      double* zs = z + 2 * s;
      const double y = sos(s, 0) * v + zs[0];
      zs[0] = sos(s, 1) * v - sos(s, 4) * y + zs[1];
      zs[1] = sos(s, 2) * v - sos(s, 5) * y;
      v = y;
    }
    *x = v;
  }
}

template <class T>
RowMatrix<T> scalar_sosfilt(const filter::Sos& sos, const RowMatrix<T>& x) {
  RowMatrix<T> y(x.rows(), x.cols());
  std::vector<double> row(static_cast<std::size_t>(x.cols()));
  for (Index c = 0; c < x.rows(); ++c) {
    std::vector<double> z(static_cast<std::size_t>(2 * sos.rows()), 0.0);
    for (Index i = 0; i < x.cols(); ++i) row[static_cast<std::size_t>(i)] = static_cast<double>(x(c, i));
    scalar_run(sos, row.data(), x.cols(), 1, z.data());
    for (Index i = 0; i < x.cols(); ++i) y(c, i) = static_cast<T>(row[static_cast<std::size_t>(i)]);
  }
  return y;
}

template <class T>
RowMatrix<T> scalar_sosfiltfilt(const filter::Sos& sos, const RowMatrix<T>& x) {
  const Index edge = filter::sosfiltfilt_default_padlen(sos), n = x.cols(), n_ext = n + 2 * edge;
  const auto zi = filter::sosfilt_zi(sos);
  RowMatrix<T> y(x.rows(), n);
  std::vector<double> e(static_cast<std::size_t>(n_ext)), z(static_cast<std::size_t>(2 * sos.rows()));
  for (Index c = 0; c < x.rows(); ++c) {
    const double first = static_cast<double>(x(c, 0)), last = static_cast<double>(x(c, n - 1));
    for (Index j = 0; j < edge; ++j) e[static_cast<std::size_t>(j)] = 2.0 * first - static_cast<double>(x(c, edge - j));
    for (Index i = 0; i < n; ++i) e[static_cast<std::size_t>(edge + i)] = static_cast<double>(x(c, i));
    for (Index j = 0; j < edge; ++j)
      e[static_cast<std::size_t>(edge + n + j)] = 2.0 * last - static_cast<double>(x(c, n - 2 - j));
    for (Index s = 0; s < sos.rows(); ++s) {
      z[static_cast<std::size_t>(2 * s)] = zi(s, 0) * e[0];
      z[static_cast<std::size_t>(2 * s + 1)] = zi(s, 1) * e[0];
    }
    scalar_run(sos, e.data(), n_ext, 1, z.data());
    for (Index s = 0; s < sos.rows(); ++s) {
      z[static_cast<std::size_t>(2 * s)] = zi(s, 0) * e[static_cast<std::size_t>(n_ext - 1)];
      z[static_cast<std::size_t>(2 * s + 1)] = zi(s, 1) * e[static_cast<std::size_t>(n_ext - 1)];
    }
    scalar_run(sos, e.data() + n_ext - 1, n_ext, -1, z.data());
    for (Index i = 0; i < n; ++i) y(c, i) = static_cast<T>(e[static_cast<std::size_t>(edge + i)]);
  }
  return y;
}

template <class T>
RowMatrix<T> random_signal(Index channels, Index n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<double> dist(0.0, 20.0);
  RowMatrix<T> x(channels, n);
  for (Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<T>(dist(gen) + 300.0);  // with an offset
  return x;
}

filter::Sos detector_sos(double fs) {
  return filter::cascade(filter::butter(4, {20.0, 500.0}, filter::BandType::bandpass, fs),
                         filter::mains_notches(50.0, fs));
}

}  // namespace

TEMPLATE_TEST_CASE("vectorised SosFilter equals the scalar recursion bit for bit", "[filter][kernel]", float,
                   double) {
  const auto sos = detector_sos(2048.0);
  for (Index channels : {1, 3, 4, 5, 8, 9, 15, 16, 17, 31, 33, 64, 70}) {
    INFO("channels " << channels);
    const auto x = random_signal<TestType>(channels, 700, static_cast<unsigned>(channels));
    const auto expected = scalar_sosfilt<TestType>(sos, x);
    // One call, over tiles (700 is not a multiple of the 128-sample tile).
    filter::SosFilter<TestType> one(sos, channels);
    RowMatrix<TestType> y(channels, x.cols());
    one.process(x, y);
    CHECK(y == expected);
    // Uneven chunks, in place.
    filter::SosFilter<TestType> chunked(sos, channels);
    RowMatrix<TestType> z = x;
    Index at = 0;
    for (Index chunk : {1, 2, 127, 128, 129, 0, 13, 300}) {
      const Index m = std::min(chunk, x.cols() - at);
      chunked.process(z.middleCols(at, m), z.middleCols(at, m));
      at += m;
    }
    chunked.process(z.middleCols(at, x.cols() - at), z.middleCols(at, x.cols() - at));
    CHECK(z == expected);
    CHECK(chunked.state() == one.state());
  }
}

TEMPLATE_TEST_CASE("vectorised sosfiltfilt equals the scalar forward-backward pass bit for bit", "[filter][kernel]",
                   float, double) {
  const auto sos = detector_sos(4096.0);
  for (Index channels : {1, 2, 7, 8, 12, 16, 20, 33}) {
    INFO("channels " << channels);
    const auto x = random_signal<TestType>(channels, 1000, 100 + static_cast<unsigned>(channels));
    CHECK(filter::sosfiltfilt<TestType>(sos, x) == scalar_sosfiltfilt<TestType>(sos, x));
  }
}

TEST_CASE("section-blocked kernel: every remainder of the section groups, both directions", "[filter][kernel]") {
  // The kernel runs the cascade in groups of sections over blocks of samples;
  // 1 to 9 sections cover whole groups, every remainder, and none at all
  // beyond one group. 300 samples span several blocks, 1000 more for the
  // zero-phase pass.
  const auto full = detector_sos(2048.0);
  for (Index n_sections = 1; n_sections <= 9; ++n_sections) {
    const filter::Sos sos = full.topRows(n_sections);
    for (Index channels : {1, 6, 16, 21}) {
      INFO("sections " << n_sections << ", channels " << channels);
      const auto x = random_signal<double>(channels, 300, static_cast<unsigned>(7 * n_sections + channels));
      CHECK(filter::sosfilt<double>(sos, x) == scalar_sosfilt<double>(sos, x));
      const auto xl = random_signal<float>(channels, 1000, static_cast<unsigned>(n_sections + channels));
      CHECK(filter::sosfiltfilt<float>(sos, xl) == scalar_sosfiltfilt<float>(sos, xl));
    }
  }
}

TEST_CASE("SosFilter on a row block of a larger matrix (strided rows)", "[filter][kernel]") {
  const auto sos = detector_sos(2048.0);
  const auto x = random_signal<double>(40, 300, 9);
  RowMatrix<double> y = RowMatrix<double>::Zero(40, 300);
  filter::SosFilter<double> f(sos, 17);
  f.process(x.block(5, 0, 17, 300), y.block(5, 0, 17, 300));
  CHECK(y.block(5, 0, 17, 300) == scalar_sosfilt<double>(sos, x.block(5, 0, 17, 300)));
  CHECK(y.topRows(5).isZero(0.0));
  CHECK(y.bottomRows(18).isZero(0.0));
}
