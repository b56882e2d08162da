#pragma once
// A cube root without a library call, for the detector's hot loop.
//
// The detector takes a cube root of every channel's neighbourhood energy at
// every sample (Wilson-Hilferty: it makes the statistic's noise distribution
// near-Gaussian). A call to std::cbrt per sample costs more than the rest of
// that loop, and the call keeps the loop from being vectorised.
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
#include <cstdint>

namespace fasctrack::detail {

inline double cbrt_inline(double x) {
  const auto bits = std::bit_cast<std::uint64_t>(x);
  const auto biased = (bits >> 52) & 0x7ff;
  // Zero, subnormals, infinities and NaN go to the library (the detector's
  // energies are positive normals except on unusable channels).
  if (biased == 0 || biased == 0x7ff) return std::cbrt(x);
  const double ax = std::fabs(x);
  // The bias maps 1.0 (exponent field 1023) to 1.0: 1023 * 2^52 - (1023 * 2^52) / 3.
  constexpr std::uint64_t kOne = std::uint64_t{1023} << 52;
  constexpr std::uint64_t kBias = kOne - kOne / 3;
  double y = std::bit_cast<double>((std::bit_cast<std::uint64_t>(ax)) / 3 + kBias);
  for (int i = 0; i < 2; ++i) {
    const double y3 = y * y * y;
    y *= (y3 + 2.0 * ax) / (2.0 * y3 + ax);  // the ratio first: y * (y3 + 2x) underflows for tiny x
  }
  y -= (y * y * y - ax) / (3.0 * y * y);
  return std::copysign(y, x);
}

}  // namespace fasctrack::detail
