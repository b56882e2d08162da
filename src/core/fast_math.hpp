#pragma once
// A cube root without a library call, for the detector's hot loop.
//
// The detector's statistic is the cube root of a channel's neighbourhood
// energy (Wilson-Hilferty: it makes its noise distribution near-Gaussian),
// taken over each block's measured samples and wherever a score may cross
// the threshold. A call to std::cbrt per value costs more than the rest of
// those loops, and the call keeps them from being vectorised.
//
// Method (textbook, no library code): dividing the IEEE-754 bit pattern by
// three divides the exponent by three, so bits / 3 plus a bias is a guess
// within a few per cent. Two Halley steps, y <- y (y^3 + 2x) / (2y^3 + x),
// each cube the relative error (3e-2 -> 1e-5 -> 1e-15), and a last Newton
// step, y <- y - (y^3 - x) / (3y^2), squares it to below rounding. The
// result is within 1 ulp of the correctly rounded cube root (tested against
// std::cbrt over the whole normal range).

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace fasctrack::detail {

// The guess and the refinement, shared by the scalar and the array form so
// that both return the same bits.
inline double cbrt_guess(double ax) {
  // The bias maps 1.0 (exponent field 1023) to 1.0: 1023 * 2^52 - (1023 * 2^52) / 3.
  constexpr std::uint64_t kOne = std::uint64_t{1023} << 52;
  constexpr std::uint64_t kBias = kOne - kOne / 3;
  return std::bit_cast<double>((std::bit_cast<std::uint64_t>(ax)) / 3 + kBias);
}

inline double cbrt_refine(double y, double ax) {
  for (int i = 0; i < 2; ++i) {
    const double y3 = y * y * y;
    y *= (y3 + 2.0 * ax) / (2.0 * y3 + ax);  // the ratio first: y * (y3 + 2x) underflows for tiny x
  }
  y -= (y * y * y - ax) / (3.0 * y * y);
  return y;
}

inline bool cbrt_special(double x) {
  const auto biased = (std::bit_cast<std::uint64_t>(x) >> 52) & 0x7ff;
  return biased == 0 || biased == 0x7ff;
}

inline double cbrt_inline(double x) {
  // Zero, subnormals, infinities and NaN go to the library (the detector's
  // energies are positive normals except on unusable channels).
  if (cbrt_special(x)) return std::cbrt(x);
  const double ax = std::fabs(x);
  return std::copysign(cbrt_refine(cbrt_guess(ax), ax), x);
}

/// y[i] = cbrt_inline(x[i]) for i < n, bit for bit, in a form the compiler
/// vectorises: the guesses (a 64-bit division by 3, which SIMD lacks) in one
/// scalar pass, the divisions of the refinement in a branch-free vector pass,
/// and the rare special values redone afterwards. x and y must not overlap.
/// (Out of line, built for SSE2, AVX2 and AVX-512 like the other array
/// kernels: element-wise IEEE operations, so every build gives the same bits.)
void cbrt_array(const double* x, double* y, std::size_t n);

/// mean[i] = the mean over r of rows[r][i] for i < m: the sum from 0.0 in
/// row order, divided by n_rows, exactly as a per-sample loop would compute
/// it. mean must not overlap the rows.
void mean_rows(const double* const* rows, std::size_t n_rows, std::size_t m, double* mean);

/// out[i] += coef[k] * x[offset[k] + i] for k = 0..n_coef-1 in that order,
/// i < m: a sliding dot product (matched filter) added term by term, so each
/// out[i] is rounded as the plain nested loop would round it.
void correlate_add(const double* x, const double* coef, const std::ptrdiff_t* offset, std::size_t n_coef,
                   std::size_t m, double* out);

}  // namespace fasctrack::detail
