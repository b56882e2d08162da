#pragma once
// The SOS cascade vectorised across channels.
//
// A biquad cascade is a serial recursion in time, so a single channel cannot
// use SIMD lanes; W channels side by side can: each lane runs one channel's
// recursion with exactly the scalar expression order, so the result is
// bit-identical to the one-channel loop (the library is built without
// floating-point contraction, see CMakeLists.txt). Inside, the cascade runs
// in groups of sections over blocks of samples, each group's state in
// registers (see apply.cpp): the order of the operations per lane is the
// same, only the interleaving of independent sections changes.

#include <fasctrack/core/types.hpp>

namespace fasctrack::filter::detail {

/// Lanes of the interleaved kernels.
inline constexpr Index kLanesMax = 16;

/// Picks the lane count for `remaining` channels: wide enough to hide the
/// recursion's latency, narrow enough not to waste lanes on padding.
inline Index lanes_for(Index remaining) { return remaining > 8 ? 16 : remaining > 4 ? 8 : 4; }

/// Runs the DF2T cascade in place over n samples of `lanes` (4, 8 or 16)
/// interleaved channels: x[i * lanes + k] is sample i of lane k. coeffs is the
/// normalised (n_sections, 6) SOS in row-major order; z is the state,
/// z[(2 * s + j) * lanes + k] = word j of section s for lane k. `step` = +1
/// runs forwards from x[0]; -1 runs backwards from x[(n - 1) * lanes].
void cascade_interleaved(const double* coeffs, Index n_sections, double* z, double* x, Index n, Index lanes,
                         Index step = 1);

}  // namespace fasctrack::filter::detail
