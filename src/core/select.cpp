// Exact order statistics by histogram selection (see select.hpp).

#include "core/select.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>

namespace fasctrack::detail {

namespace {

// Below this size quickselect's constant factors win.
constexpr std::size_t kSmall = 48;
// Bins per value on average: the target bin then holds a handful of values
// for any smooth distribution, and the histogram (uint32) stays in L1.
constexpr std::size_t kMaxBins = 1024;

double nth(std::span<const double> v, std::size_t k, std::vector<double>& scratch) {
  scratch.assign(v.begin(), v.end());
  const auto at = scratch.begin() + static_cast<std::ptrdiff_t>(k);
  std::nth_element(scratch.begin(), at, scratch.end());
  return *at;
}

// Selection with a range [lo, hi] known to hold every value. Falls back to
// quickselect for ranges the grid cannot represent (an infinity, or a span
// overflowing double).
double select_in_range(std::span<const double> v, std::size_t k, double lo, double hi, std::vector<double>& scratch) {
  const std::size_t n = v.size();
  if (!(lo < hi)) return lo;  // all equal
  const std::size_t bins = std::min(kMaxBins, std::max<std::size_t>(16, n / 2));
  const double width = hi - lo;
  const double scale = static_cast<double>(bins) / width;
  if (!std::isfinite(width) || !std::isfinite(scale) || !(scale > 0.0)) return nth(v, k, scratch);
  std::uint32_t hist[kMaxBins];
  std::fill(hist, hist + bins, 0u);
  const auto bin = [&](double x) {
    const auto b = static_cast<std::size_t>((x - lo) * scale);
    return b < bins ? b : bins - 1;
  };
  for (double x : v) ++hist[bin(x)];
  std::size_t below = 0, target = 0;
  for (; target < bins; ++target) {
    if (below + hist[target] > k) break;
    below += hist[target];
  }
  scratch.resize(hist[target]);
  std::size_t m = 0;
  for (double x : v)
    if (bin(x) == target) scratch[m++] = x;
  const auto at = scratch.begin() + static_cast<std::ptrdiff_t>(k - below);
  std::nth_element(scratch.begin(), at, scratch.end());
  return *at;
}

struct Range {
  double lo, hi;
  bool nan;
};

Range range_of(std::span<const double> v) {
  double lo = v[0], hi = v[0];
  bool nan = false;
  for (double x : v) {
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
    nan |= x != x;
  }
  return {lo, hi, nan};
}

}  // namespace

double select_kth(std::span<const double> v, std::size_t k, std::vector<double>& scratch) {
  if (v.size() < kSmall) return nth(v, k, scratch);
  const Range r = range_of(v);
  if (r.nan) return nth(v, k, scratch);
  return select_in_range(v, k, r.lo, r.hi, scratch);
}

void median_and_mad_sd(std::span<const double> v, std::vector<double>& scratch, std::vector<double>& dev,
                       double& median, double& sd) {
  const std::size_t k = v.size() / 2;
  dev.resize(v.size());
  if (v.size() < kSmall) {
    median = nth(v, k, scratch);
    for (std::size_t i = 0; i < v.size(); ++i) dev[i] = std::abs(v[i] - median);
    sd = 1.482602218505602 * nth(dev, k, scratch);
    return;
  }
  const Range r = range_of(v);
  median = r.nan ? nth(v, k, scratch) : select_in_range(v, k, r.lo, r.hi, scratch);
  for (std::size_t i = 0; i < v.size(); ++i) dev[i] = std::abs(v[i] - median);
  // Rounding is monotone, so the largest deviation is that of an extreme
  // value: the deviations' range comes without another pass.
  const double dev_hi = std::max(std::abs(r.hi - median), std::abs(r.lo - median));
  sd = 1.482602218505602 * (r.nan ? nth(dev, k, scratch) : select_in_range(dev, k, 0.0, dev_hi, scratch));
}

namespace {

// Multiversioned like the filter kernels (see filter/apply.cpp): the lane
// loop is 8 doubles, one AVX-512 or two AVX2 registers per row.
#if defined(__x86_64__) && defined(__ELF__) && !defined(FASCTRACK_NO_MULTIVERSION) && \
    (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__))
#define FASCTRACK_SELECT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASCTRACK_SELECT_CLONES
#endif

// A GCC/Clang vector of the lanes, so that each compare-exchange is one
// min and one max per register whatever the target (the plain lane loop was
// compiled to a compare and branch per lane: the compiler cannot prove that
// the two rows never alias).
using Lanes = double __attribute__((vector_size(MedianNetwork::kLanes * sizeof(double))));

FASCTRACK_SELECT_CLONES void compare_exchange_lanes(const std::uint16_t* pairs, std::size_t n_pairs, double* x) {
  constexpr std::size_t W = MedianNetwork::kLanes;
  for (std::size_t p = 0; p < n_pairs; ++p) {
    double* a = x + pairs[2 * p] * W;
    double* b = x + pairs[2 * p + 1] * W;
    Lanes u, v;
    std::memcpy(&u, a, sizeof u);
    std::memcpy(&v, b, sizeof v);
    const Lanes lo = v < u ? v : u;
    const Lanes hi = v < u ? u : v;
    std::memcpy(a, &lo, sizeof lo);
    std::memcpy(b, &hi, sizeof hi);
  }
}

}  // namespace

MedianNetwork::MedianNetwork(std::size_t n) : n_(n) {
  std::size_t m = 1;
  while (m < n) m *= 2;
  // Batcher's odd-even merge sort on m wires, keeping comparators within [0, n).
  std::vector<std::pair<std::size_t, std::size_t>> all;
  for (std::size_t p = 1; p < m; p *= 2)
    for (std::size_t k = p; k >= 1; k /= 2) {
      for (std::size_t j = k % p; j + k < m; j += 2 * k)
        for (std::size_t i = 0; i < std::min(k, m - j - k); ++i)
          if ((i + j) / (2 * p) == (i + j + k) / (2 * p) && i + j + k < n) all.emplace_back(i + j, i + j + k);
      if (k == 1) break;
    }
  // Backwards from the wanted ranks: a comparator matters if it writes a
  // wire that matters, and then both of its inputs matter.
  std::vector<char> need(n, 0);
  if (n > 0) need[n / 2] = 1;
  if (n > 1 && n % 2 == 0) need[n / 2 - 1] = 1;
  std::vector<std::pair<std::size_t, std::size_t>> kept;
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (need[it->first] || need[it->second]) {
      kept.push_back(*it);
      need[it->first] = need[it->second] = 1;
    }
  pairs_.reserve(2 * kept.size());
  for (auto it = kept.rbegin(); it != kept.rend(); ++it) {
    pairs_.push_back(static_cast<std::uint16_t>(it->first));
    pairs_.push_back(static_cast<std::uint16_t>(it->second));
  }
}

void MedianNetwork::run(double* x) const { compare_exchange_lanes(pairs_.data(), pairs_.size() / 2, x); }

}  // namespace fasctrack::detail
