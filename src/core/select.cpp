// Exact order statistics by histogram selection (see select.hpp).

#include "core/select.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <utility>

namespace fasctrack::detail {

namespace {

// The passes over the values are built for SSE2, AVX2 and AVX-512 in one
// binary, like the filter kernels (see filter/apply.cpp).
#if defined(__x86_64__) && defined(__ELF__) && !defined(FASCTRACK_NO_MULTIVERSION) && \
    (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__))
#define FASCTRACK_SELECT_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASCTRACK_SELECT_CLONES
#endif

// Values are binned a chunk at a time into a small index buffer (a loop the
// compiler vectorises: subtract, scale, truncate, clamp), then counted or
// compared as integers.
constexpr std::size_t kChunk = 64;

// Below this size quickselect's constant factors win.
constexpr std::size_t kSmall = 48;
// Bins per value on average: the target bin then holds a handful of values
// for any smooth distribution, and the histogram (uint32) stays in L1.
constexpr std::size_t kMaxBins = 1024;
// Interleaved histograms: consecutive samples of a smooth signal fall in the
// same bin, and with one histogram every increment would wait for the
// previous one's store to reach the load.
constexpr std::size_t kSubHists = 4;

double nth(std::span<const double> v, std::size_t k, std::vector<double>& scratch) {
  scratch.assign(v.begin(), v.end());
  const auto at = scratch.begin() + static_cast<std::ptrdiff_t>(k);
  std::nth_element(scratch.begin(), at, scratch.end());
  return *at;
}

// A linear grid of bins over [lo, hi]. The bin of a value is monotone
// non-decreasing in it: subtracting a constant, scaling by a positive
// constant, truncating and clamping never reverse an order. Truncation to
// 32 bits (the grid has at most kMaxBins bins) is cheaper than to size_t,
// which x86 converts through a branch.
struct Grid {
  double lo = 0.0, scale = 0.0;
  std::uint32_t bins = 0;
  std::uint32_t bin(double x) const {
    const auto b = static_cast<std::uint32_t>(static_cast<std::int32_t>((x - lo) * scale));
    return b < bins ? b : bins - 1;
  }
};

// False for ranges the grid cannot represent (an infinity, or a span
// overflowing double): the callers fall back to quickselect.
bool make_grid(std::size_t n, double lo, double hi, Grid& g) {
  const std::size_t bins = std::min(kMaxBins, std::max<std::size_t>(16, n / 2));
  const double width = hi - lo;
  const double scale = static_cast<double>(bins) / width;
  if (!std::isfinite(width) || !std::isfinite(scale) || !(scale > 0.0)) return false;
  g = {lo, scale, static_cast<std::uint32_t>(bins)};
  return true;
}

// Counts per bin of v (values in [lo, hi]) into hist[0, g.bins).
FASCTRACK_SELECT_CLONES void histogram(std::span<const double> v, const Grid& g, std::uint32_t* hist) {
  // Padded so that the sub-histograms are not 4 KiB apart: the same bin in
  // two of them would alias in the store buffer and serialise again.
  constexpr std::size_t kStride = kMaxBins + 16;
  std::uint32_t sub[kSubHists][kStride];
  for (auto& h : sub) std::fill(h, h + g.bins, 0u);
  const std::size_t n = v.size();
  std::uint32_t idx[kChunk];
  for (std::size_t i0 = 0; i0 < n; i0 += kChunk) {
    const std::size_t len = std::min(kChunk, n - i0);
    for (std::size_t i = 0; i < len; ++i) idx[i] = g.bin(v[i0 + i]);
    std::size_t i = 0;
    for (; i + kSubHists <= len; i += kSubHists)
      for (std::size_t s = 0; s < kSubHists; ++s) ++sub[s][idx[i + s]];
    for (; i < len; ++i) ++sub[0][idx[i]];
  }
  static_assert(kSubHists == 4);
  std::uint32_t* __restrict out = hist;
  const std::uint32_t* __restrict s0 = sub[0];
  const std::uint32_t* __restrict s1 = sub[1];
  const std::uint32_t* __restrict s2 = sub[2];
  const std::uint32_t* __restrict s3 = sub[3];
  for (std::uint32_t b = 0; b < g.bins; ++b) out[b] = s0[b] + s1[b] + s2[b] + s3[b];
}

// The bin where the cumulative count first passes k, and the count below it.
std::uint32_t target_bin(const std::uint32_t* hist, std::uint32_t bins, std::size_t k, std::size_t& below) {
  below = 0;
  std::uint32_t t = 0;
  for (; t < bins; ++t) {
    if (below + hist[t] > k) break;
    below += hist[t];
  }
  return t;
}

// The values of v in bin t, into s (room for v.size() + 1); returns how
// many. Branch-free compaction: s[m] is written always and kept when the
// value belongs.
FASCTRACK_SELECT_CLONES std::size_t gather_bin(std::span<const double> v, const Grid& g, std::uint32_t t, double* s) {
  // Short chunks: the bin holds a few values, so most chunks hold none and
  // skip the (serial) compaction after a vectorised count.
  constexpr std::size_t kLen = 16;
  const std::size_t n = v.size();
  std::uint32_t idx[kLen];
  std::size_t m = 0;
  for (std::size_t i0 = 0; i0 < n; i0 += kLen) {
    const std::size_t len = std::min(kLen, n - i0);
    std::uint32_t hits = 0;
    for (std::size_t i = 0; i < len; ++i) {
      idx[i] = g.bin(v[i0 + i]);
      hits += idx[i] == t;
    }
    if (hits == 0) continue;
    for (std::size_t i = 0; i < len; ++i) {
      s[m] = v[i0 + i];
      m += idx[i] == t;
    }
  }
  return m;
}

// The k-th smallest of v, given that it is the (k - below)-th smallest of
// v's values in bin t.
double select_in_bin(std::span<const double> v, const Grid& g, std::uint32_t t, std::size_t k, std::size_t below,
                     std::vector<double>& scratch) {
  scratch.resize(v.size() + 1);
  double* s = scratch.data();
  const std::size_t m = gather_bin(v, g, t, s);
  const auto at = s + (k - below);
  std::nth_element(s, at, s + m);
  return *at;
}

// Selection with a range [lo, hi] known to hold every value.
double select_in_range(std::span<const double> v, std::size_t k, double lo, double hi, std::vector<double>& scratch) {
  if (!(lo < hi)) return lo;  // all equal
  Grid g;
  if (!make_grid(v.size(), lo, hi, g)) return nth(v, k, scratch);
  std::uint32_t hist[kMaxBins];
  histogram(v, g, hist);
  std::size_t below = 0;
  const std::uint32_t t = target_bin(hist, g.bins, k, below);
  return select_in_bin(v, g, t, k, below, scratch);
}

struct Range {
  double lo, hi;
  bool nan;
};

// Four running minima and maxima side by side (a vector of lanes): the
// compiler keeps a single running minimum scalar, since reordering a
// comparison chain could change which NaN or which signed zero wins. With
// no NaN the extremes are the same values; when all values compare equal
// the original scan returned v[0] (a strict comparison never replaced it),
// so that is returned for both, signed zero included.
FASCTRACK_SELECT_CLONES Range range_of(std::span<const double> v) {
  using V = double __attribute__((vector_size(4 * sizeof(double))));
  const std::size_t n = v.size();
  double lo = v[0], hi = v[0];
  bool nan = false;
  std::size_t i = 0;
  if (n >= 4) {
    V vlo, vhi;
    std::memcpy(&vlo, v.data(), sizeof vlo);
    vhi = vlo;
    V vnan = vlo != vlo ? V{1, 1, 1, 1} : V{0, 0, 0, 0};
    for (i = 4; i + 4 <= n; i += 4) {
      V x;
      std::memcpy(&x, v.data() + i, sizeof x);
      vlo = x < vlo ? x : vlo;
      vhi = x > vhi ? x : vhi;
      vnan = x != x ? V{1, 1, 1, 1} : vnan;
    }
    for (int l = 0; l < 4; ++l) {
      lo = vlo[l] < lo ? vlo[l] : lo;
      hi = vhi[l] > hi ? vhi[l] : hi;
      nan = nan || vnan[l] != 0.0;
    }
  }
  for (; i < n; ++i) {
    const double x = v[i];
    lo = x < lo ? x : lo;
    hi = x > hi ? x : hi;
    nan |= x != x;
  }
  if (!nan && !(lo < hi)) lo = hi = v[0];
  return {lo, hi, nan};
}

// With no NaN: how many |v - median| are below a, and those in [a, z]
// into s (room for v.size() + 1); returns how many were kept. Four values
// at a time are tested in a vector (the compiler does not vectorise the
// plain loop: the compaction's store depends on the running count); the few
// groups that hold a kept value are compacted one by one.
FASCTRACK_SELECT_CLONES std::size_t deviations_between(std::span<const double> v, double median, double a, double z,
                                                       double* s, std::size_t& below) {
  // Four lanes: AVX2 width, and on AVX-512F (without DQ) wider comparison
  // masks would be turned into integer vectors one lane at a time.
  using V = double __attribute__((vector_size(4 * sizeof(double))));
  using M = long long __attribute__((vector_size(4 * sizeof(double))));
  constexpr std::size_t W = 4;
  const M abs_mask = ~(M{} + static_cast<long long>(0x8000000000000000ull));
  const V vm = V{} + median, va = V{} + a, vz = V{} + z;
  const std::size_t n = v.size();
  std::size_t m = 0, i = 0;
  M lt{};
  const auto keep = [&](std::size_t j) {
    const double d = std::abs(v[j] - median);
    s[m] = d;
    m += (d >= a) & (d <= z);
  };
  for (; i + W <= n; i += W) {
    V x;
    std::memcpy(&x, v.data() + i, sizeof x);
    const V d = reinterpret_cast<V>(reinterpret_cast<M>(x - vm) & abs_mask);
    lt -= d < va;  // a true comparison is all ones: -1
    const M in = (d >= va) & (d <= vz);
    if ((in[0] | in[1] | in[2] | in[3]) != 0)
      for (std::size_t j = i; j < i + W; ++j) keep(j);
  }
  std::size_t nb = static_cast<std::size_t>(lt[0] + lt[1] + lt[2] + lt[3]);
  for (; i < n; ++i) {
    nb += std::abs(v[i] - median) < a;
    keep(i);
  }
  below = nb;
  return m;
}

// The k-th smallest |v - median| from the histogram of v, without a second
// histogram. A value j or more bins away from the median's bin t is at
// least (j - 1) bin widths from the median, and one within j bins at most
// j + 1 widths. With j the widest window [t - j, t + j] holding at most k
// values, fewer than k + 1 deviations are below j widths and more than k
// are within j + 2: one pass counts the deviations below a = j widths and
// keeps those in [a, z = (j + 2) widths], a few bins' worth, to select
// among. Bin edges are only estimates (rounding in the binning), so the
// pass checks that the answer's rank falls among the kept values; false
// means it did not (values within rounding of an edge) and the caller
// falls back.
bool mad_from_histogram(std::span<const double> v, const Grid& g, const std::uint32_t* hist, std::uint32_t t,
                        double median, std::size_t k, std::vector<double>& scratch, double& mad) {
  std::size_t inside = hist[t];
  std::uint32_t j = 0;
  while (inside <= k) {  // the whole grid holds all n > k values, so this ends
    const std::uint32_t next = j + 1;
    std::size_t add = 0;
    if (t >= next) add += hist[t - next];
    if (t + next < g.bins) add += hist[t + next];
    if (inside + add > k) break;
    inside += add;
    j = next;
  }
  const double step = 1.0 / g.scale;
  const double a = inside > k ? 0.0 : static_cast<double>(j) * step;  // > k: the median's bin alone
  const double z = static_cast<double>(j + 2) * step;
  scratch.resize(v.size() + 1);
  double* s = scratch.data();
  std::size_t below = 0;
  const std::size_t m = deviations_between(v, median, a, z, s, below);
  if (!(below <= k && k < below + m)) return false;
  const auto at = s + (k - below);
  std::nth_element(s, at, s + m);
  mad = *at;
  return true;
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
  const auto deviations = [&] {
    dev.resize(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) dev[i] = std::abs(v[i] - median);
  };
  if (v.size() < kSmall) {
    median = nth(v, k, scratch);
    deviations();
    sd = 1.482602218505602 * nth(dev, k, scratch);
    return;
  }
  const Range r = range_of(v);
  Grid g;
  if (r.nan || !(r.lo < r.hi) || !make_grid(v.size(), r.lo, r.hi, g)) {
    // NaN, constant or unrepresentable: the plain path.
    median = r.nan ? nth(v, k, scratch) : select_in_range(v, k, r.lo, r.hi, scratch);
    deviations();
    const double dev_hi = std::max(std::abs(r.hi - median), std::abs(r.lo - median));
    sd = 1.482602218505602 * (r.nan ? nth(dev, k, scratch) : select_in_range(dev, k, 0.0, dev_hi, scratch));
    return;
  }
  std::uint32_t hist[kMaxBins];
  histogram(v, g, hist);
  std::size_t below = 0;
  const std::uint32_t t = target_bin(hist, g.bins, k, below);
  median = select_in_bin(v, g, t, k, below, scratch);
  double mad = 0.0;
  if (!mad_from_histogram(v, g, hist, t, median, k, scratch, mad)) {
    deviations();
    // Rounding is monotone, so the largest deviation is that of an extreme
    // value: the deviations' range comes without another pass.
    const double dev_hi = std::max(std::abs(r.hi - median), std::abs(r.lo - median));
    mad = select_in_range(dev, k, 0.0, dev_hi, scratch);
  }
  sd = 1.482602218505602 * mad;
}

std::size_t effective_stride(std::size_t n, std::size_t stride, std::size_t min_values) {
  while (stride > 1 && (n + stride - 1) / stride < min_values) --stride;
  return stride;
}

void strided_median_and_mad_sd(std::span<const double> v, std::size_t stride, std::size_t min_values,
                               std::vector<double>& subset, std::vector<double>& scratch, std::vector<double>& dev,
                               double& median, double& sd) {
  const std::size_t n = v.size();
  stride = effective_stride(n, stride, min_values);
  if (stride <= 1) {
    median_and_mad_sd(v, scratch, dev, median, sd);
    return;
  }
  subset.resize((n + stride - 1) / stride);
  for (std::size_t i = 0, j = 0; i < n; i += stride, ++j) subset[j] = v[i];
  median_and_mad_sd(subset, scratch, dev, median, sd);
}

namespace {


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

MedianNetwork::MedianNetwork(std::size_t n) : MedianNetwork(n, n / 2, n > 1 && n % 2 == 0) {}

MedianNetwork::MedianNetwork(std::size_t n, std::size_t rank) : MedianNetwork(n, rank, false) {}

MedianNetwork::MedianNetwork(std::size_t n, std::size_t rank, bool and_below) : n_(n) {
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
  if (rank < n) need[rank] = 1;
  if (and_below && rank >= 1 && rank - 1 < n) need[rank - 1] = 1;
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
