// The detector's per-block array kernels (see fast_math.hpp), built for
// SSE2, AVX2 and AVX-512 in one binary like the filter kernels: wider
// vectors add and divide more values per instruction.

#include "core/fast_math.hpp"

#include <algorithm>

namespace fasctrack::detail {

#if defined(__x86_64__) && defined(__ELF__) && !defined(FASCTRACK_NO_MULTIVERSION) && \
    (defined(__clang__) ? __clang_major__ >= 14 : defined(__GNUC__))
#define FASCTRACK_MATH_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASCTRACK_MATH_CLONES
#endif

FASCTRACK_MATH_CLONES void cbrt_array(const double* x, double* y, std::size_t n) {
  bool any_special = false;
  for (std::size_t i = 0; i < n; ++i) {
    any_special |= cbrt_special(x[i]);
    y[i] = cbrt_guess(std::fabs(x[i]));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const double ax = std::fabs(x[i]);
    y[i] = std::copysign(cbrt_refine(y[i], ax), x[i]);
  }
  if (any_special)
    for (std::size_t i = 0; i < n; ++i)
      if (cbrt_special(x[i])) y[i] = std::cbrt(x[i]);
}

FASCTRACK_MATH_CLONES void mean_rows(const double* const* rows, std::size_t n_rows, std::size_t m, double* mean) {
  std::fill(mean, mean + m, 0.0);
  for (std::size_t r = 0; r < n_rows; ++r) {
    const double* __restrict e = rows[r];
    double* __restrict acc = mean;
    for (std::size_t i = 0; i < m; ++i) acc[i] += e[i];
  }
  const double count = static_cast<double>(n_rows);
  for (std::size_t i = 0; i < m; ++i) mean[i] /= count;
}

FASCTRACK_MATH_CLONES void correlate_add(const double* x, const double* coef, const std::ptrdiff_t* offset,
                                         std::size_t n_coef, std::size_t m, double* out) {
  // Tiles of out stay in cache (or registers) while every coefficient
  // passes over them; each out[i] still adds its terms in coefficient order.
  constexpr std::size_t kTile = 256;
  for (std::size_t i0 = 0; i0 < m; i0 += kTile) {
    const std::size_t n = std::min(kTile, m - i0);
    double* __restrict acc = out + i0;
    for (std::size_t k = 0; k < n_coef; ++k) {
      const double a = coef[k];
      const double* __restrict xs = x + offset[k] + static_cast<std::ptrdiff_t>(i0);
      for (std::size_t i = 0; i < n; ++i) acc[i] += a * xs[i];
    }
  }
}

}  // namespace fasctrack::detail
