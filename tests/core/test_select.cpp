// Exact histogram selection against std::nth_element: the same element for
// every k, on smooth, tied, constant, skewed, huge-range and non-finite data.

#include <catch2/catch.hpp>

#include "core/select.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace fasctrack;

namespace {

double nth(std::vector<double> v, std::size_t k) {
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

std::vector<std::vector<double>> cases() {
  std::mt19937 gen(11);
  std::normal_distribution<double> normal(0.0, 5.0);
  std::exponential_distribution<double> expo(1.0);
  std::uniform_int_distribution<int> small_int(-3, 3);
  std::vector<std::vector<double>> out;
  for (std::size_t n : {1u, 2u, 47u, 48u, 49u, 64u, 255u, 512u, 513u, 1000u, 4096u}) {
    std::vector<double> a(n), b(n), c(n), d(n, 2.5), e(n), f(n);
    for (std::size_t i = 0; i < n; ++i) {
      a[i] = normal(gen);
      b[i] = expo(gen) * expo(gen) * 1e3;                   // heavy tail: most values in one bin
      c[i] = small_int(gen);                                // many ties
      e[i] = (i % 7 == 0 ? 1e300 : 1e-300) * normal(gen);   // range near overflow, subnormal-ish values
      f[i] = std::ldexp(normal(gen), -1070);                // subnormals
    }
    // A smooth, autocorrelated block (the detector's energies) and one with
    // a burst 30x the noise (a discharge inflating the range).
    std::vector<double> smooth(n), burst(n);
    double acc = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      acc = 0.97 * acc + normal(gen);
      smooth[i] = std::cbrt(acc * acc + 0.1);
      burst[i] = normal(gen) * (i > n / 3 && i < n / 3 + n / 12 ? 30.0 : 1.0);
    }
    for (auto* v : {&a, &b, &c, &d, &e, &f, &smooth, &burst}) out.push_back(*v);
    if (n > 3) {
      auto g = a;
      g[1] = std::numeric_limits<double>::infinity();
      g[2] = -std::numeric_limits<double>::infinity();
      out.push_back(g);
      auto h = a;
      h[0] = std::numeric_limits<double>::max();
      h[1] = -std::numeric_limits<double>::max();  // the span overflows double
      out.push_back(h);
    }
  }
  return out;
}

}  // namespace

TEST_CASE("select_kth returns nth_element's element for every k", "[select]") {
  std::vector<double> scratch;
  for (const auto& v : cases()) {
    const std::vector<double> before = v;
    for (std::size_t k = 0; k < v.size(); k += std::max<std::size_t>(1, v.size() / 37)) {
      INFO("n " << v.size() << " k " << k);
      const double got = detail::select_kth(v, k, scratch);
      const double want = nth(v, k);
      CHECK(std::memcmp(&got, &want, sizeof got) == 0);
    }
    CHECK(v == before);  // the input is not reordered
  }
}

TEST_CASE("median_and_mad_sd equals median and MAD by two nth_element calls", "[select]") {
  std::vector<double> scratch, dev;
  for (const auto& v : cases()) {
    INFO("n " << v.size());
    double med = 0.0, sd = 0.0;
    detail::median_and_mad_sd(v, scratch, dev, med, sd);
    const std::size_t k = v.size() / 2;
    const double want_med = nth(v, k);
    std::vector<double> d(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) d[i] = std::abs(v[i] - want_med);
    const double want_sd = 1.482602218505602 * nth(d, k);
    CHECK(med == want_med);
    CHECK((sd == want_sd || (std::isnan(sd) && std::isnan(want_sd))));
  }
}

TEST_CASE("strided_median_and_mad_sd is the median and MAD of every stride-th value", "[select]") {
  std::vector<double> subset, scratch, dev;
  // The reference, the slow way: copy the subset, two nth_element calls.
  const auto reference = [](const std::vector<double>& v, std::size_t stride, double& med, double& sd) {
    std::vector<double> s;
    for (std::size_t i = 0; i < v.size(); i += stride) s.push_back(v[i]);
    const std::size_t k = s.size() / 2;
    med = nth(s, k);
    for (double& x : s) x = std::abs(x - med);
    sd = 1.482602218505602 * nth(s, k);
  };
  for (const auto& v : cases()) {
    for (std::size_t stride : {1u, 2u, 3u, 5u, 8u}) {
      // The stride the helper must use: the largest up to `stride` leaving
      // at least 64 values (or 1).
      std::size_t want_stride = stride;
      while (want_stride > 1 && (v.size() + want_stride - 1) / want_stride < 64) --want_stride;
      INFO("n " << v.size() << " stride " << stride << " effective " << want_stride);
      double med = 0.0, sd = 0.0, want_med = 0.0, want_sd = 0.0;
      detail::strided_median_and_mad_sd(v, stride, 64, subset, scratch, dev, med, sd);
      reference(v, want_stride, want_med, want_sd);
      CHECK((med == want_med || (std::isnan(med) && std::isnan(want_med))));
      CHECK((sd == want_sd || (std::isnan(sd) && std::isnan(want_sd))));
    }
  }
}

TEST_CASE("strided_median_and_mad_sd lowers the stride on short blocks", "[select]") {
  std::mt19937 gen(5);
  std::normal_distribution<double> normal(0.0, 1.0);
  std::vector<double> v(200);
  for (double& x : v) x = normal(gen);
  std::vector<double> subset, scratch, dev;
  double med = 0.0, sd = 0.0;
  // 200 values at stride 4 leave 50 < 64: stride 3 leaves 67.
  detail::strided_median_and_mad_sd(v, 4, 64, subset, scratch, dev, med, sd);
  CHECK(subset.size() == 67);
  std::vector<double> s;
  for (std::size_t i = 0; i < v.size(); i += 3) s.push_back(v[i]);
  CHECK(med == nth(s, s.size() / 2));
  // A block shorter than the minimum is used whole.
  std::vector<double> short_block(v.begin(), v.begin() + 40);
  detail::strided_median_and_mad_sd(short_block, 4, 64, subset, scratch, dev, med, sd);
  CHECK(med == nth(short_block, 20));
}

#include "core/fast_math.hpp"

TEST_CASE("cbrt_inline is within an ulp of the exact cube root", "[select]") {
  std::mt19937_64 gen(17);
  std::uniform_real_distribution<double> decade(-300.0, 300.0);
  std::vector<double> xs = {1.0, 8.0, 27.0, 0.125, std::numeric_limits<double>::min(), std::numeric_limits<double>::max()};
  for (int i = 0; i < 200000; ++i) xs.push_back((i % 2 ? 1.0 : -1.0) * std::pow(10.0, decade(gen)));
  for (int i = 0; i < 200000; ++i) xs.push_back(std::ldexp(static_cast<double>(gen() >> 11), -53 - i % 12));
  // The reference: the long-double root where long double is wider (x86),
  // else the C library's, which is itself only within a few ulps.
  constexpr bool wide = std::numeric_limits<long double>::digits > std::numeric_limits<double>::digits;
  const double allowed_ulps = wide ? 1.0 : 4.0;
  double worst = 0.0;
  for (double x : xs) {
    const long double want = wide ? std::cbrt(static_cast<long double>(x)) : std::cbrt(x);
    const double w = static_cast<double>(want);
    const double ulp = std::nextafter(std::abs(w), std::numeric_limits<double>::infinity()) - std::abs(w);
    worst = std::max(worst, static_cast<double>(std::abs(static_cast<long double>(detail::cbrt_inline(x)) - want) / ulp));
  }
  CHECK(worst <= allowed_ulps);
  // Exact cubes come out exact (the energy of a constant is such a cube).
  for (double r : {1.0, 2.0, 3.0, 0.5, 10.0, 1e5}) CHECK(detail::cbrt_inline(r * r * r) == r);
  // The special values the library handles.
  CHECK(detail::cbrt_inline(0.0) == 0.0);
  CHECK(std::signbit(detail::cbrt_inline(-0.0)));
  CHECK(detail::cbrt_inline(1e-320) == std::cbrt(1e-320));
  CHECK(std::isinf(detail::cbrt_inline(std::numeric_limits<double>::infinity())));
  CHECK(std::isnan(detail::cbrt_inline(std::numeric_limits<double>::quiet_NaN())));
  CHECK(detail::cbrt_inline(-27.0) == -3.0);
}

TEST_CASE("cbrt_array returns cbrt_inline's bits", "[select]") {
  std::mt19937_64 gen(23);
  std::uniform_real_distribution<double> decade(-300.0, 300.0);
  std::vector<double> xs = {0.0, -0.0, 1e-320, std::numeric_limits<double>::infinity(),
                            std::numeric_limits<double>::quiet_NaN(), -8.0, 27.0};
  for (int i = 0; i < 100000; ++i) xs.push_back((i % 5 ? 1.0 : -1.0) * std::pow(10.0, decade(gen)));
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{3}, std::size_t{17}, xs.size()}) {
    std::vector<double> y(n, 1.0);
    detail::cbrt_array(xs.data(), y.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      const double want = detail::cbrt_inline(xs[i]);
      INFO("x " << xs[i]);
      CHECK((std::memcmp(&y[i], &want, sizeof want) == 0 || (std::isnan(y[i]) && std::isnan(want))));
    }
  }
}

TEST_CASE("correlate_add adds each term as the plain nested loop does", "[select]") {
  std::mt19937_64 gen(29);
  std::normal_distribution<double> normal(0.0, 5.0);
  std::vector<double> x(3000);
  for (double& v : x) v = normal(gen);
  for (std::size_t m : {std::size_t{0}, std::size_t{1}, std::size_t{255}, std::size_t{256}, std::size_t{257},
                        std::size_t{1000}}) {
    std::vector<double> coef;
    std::vector<std::ptrdiff_t> offset;
    for (std::ptrdiff_t k = 0; k < 40; k += 1 + static_cast<std::ptrdiff_t>(gen() % 3)) {
      coef.push_back(normal(gen));
      offset.push_back(k * 7 % 1900);
    }
    std::vector<double> want(m, 0.25), got(m, 0.25);
    for (std::size_t i = 0; i < m; ++i)
      for (std::size_t k = 0; k < coef.size(); ++k)
        want[i] += coef[k] * x[static_cast<std::size_t>(offset[k]) + i];
    detail::correlate_add(x.data(), coef.data(), offset.data(), coef.size(), m, got.data());
    INFO("m " << m);
    CHECK((m == 0 || std::memcmp(want.data(), got.data(), m * sizeof(double)) == 0));
  }
}

TEST_CASE("MedianNetwork selects the median nth_element selects", "[select]") {
  constexpr std::size_t W = detail::MedianNetwork::kLanes;
  std::mt19937 gen(5);
  std::normal_distribution<double> normal(0.0, 3.0);
  std::uniform_int_distribution<int> small_int(-2, 2);
  for (std::size_t n = 1; n <= detail::MedianNetwork::kMaxValues; ++n) {
    const detail::MedianNetwork net(n);
    REQUIRE(net.values() == n);
    for (int trial = 0; trial < 6; ++trial) {
      std::vector<double> x(n * W);
      for (std::size_t i = 0; i < x.size(); ++i) {
        // Continuous values, heavy ties, sorted and reversed runs.
        const std::size_t lane = i % W, row = i / W;
        if (trial % 3 == 0) x[i] = normal(gen);
        else if (trial % 3 == 1) x[i] = small_int(gen);
        else x[i] = lane % 2 ? static_cast<double>(row) : -static_cast<double>(row);
      }
      std::vector<double> want(W);
      for (std::size_t l = 0; l < W; ++l) {
        std::vector<double> col(n);
        for (std::size_t r = 0; r < n; ++r) col[r] = x[r * W + l];
        const auto mid = col.begin() + static_cast<std::ptrdiff_t>(n / 2);
        std::nth_element(col.begin(), mid, col.end());
        double med = *mid;
        if (n % 2 == 0) med = 0.5 * (med + *std::max_element(col.begin(), mid));
        want[l] = med;
      }
      net.run(x.data());
      for (std::size_t l = 0; l < W; ++l) {
        INFO("n " << n << " trial " << trial << " lane " << l);
        CHECK(net.median(x.data(), l) == want[l]);
      }
    }
  }
}

TEST_CASE("MedianNetwork for one rank selects that order statistic", "[select]") {
  constexpr std::size_t W = detail::MedianNetwork::kLanes;
  std::mt19937 gen(9);
  std::normal_distribution<double> normal(0.0, 1.0);
  for (std::size_t n : {1u, 2u, 5u, 17u, 40u, 41u, 64u, 128u})
    for (std::size_t rank : {std::size_t{0}, n / 4, n / 2, n - 1}) {
      const detail::MedianNetwork net(n, rank);
      std::vector<double> x(n * W);
      for (std::size_t i = 0; i < x.size(); ++i)
        x[i] = i % 11 == 0 ? std::numeric_limits<double>::infinity() : std::round(4.0 * normal(gen));
      std::vector<double> want(W);
      for (std::size_t l = 0; l < W; ++l) {
        std::vector<double> col(n);
        for (std::size_t r = 0; r < n; ++r) col[r] = x[r * W + l];
        want[l] = nth(col, rank);
      }
      net.run(x.data());
      for (std::size_t l = 0; l < W; ++l) {
        INFO("n " << n << " rank " << rank << " lane " << l);
        CHECK(x[rank * W + l] == want[l]);
      }
    }
}
