#pragma once
// Exact order statistics by histogram selection.
//
// The detector measures a robust noise SD (median and MAD) of every block of
// every channel, twice per sample in all; with std::nth_element that is the
// most expensive step after filtering, because quickselect's partitioning is
// branchy and its data dependent swaps defeat the pipeline. Binning the values
// on a linear grid between their minimum and maximum is monotone in the value
// (subtracting a constant, scaling by a positive constant and truncating
// never reverse an order), so the k-th smallest lies in the bin where the
// cumulative count first passes k, and only that bin's few values are left
// to select among. The result is the same element nth_element finds, not an
// approximation, in three branch-free passes.

#include <cstddef>
#include <span>
#include <vector>

namespace fasctrack::detail {

/// The k-th smallest value of v (0-based; k < v.size()), the element
/// std::nth_element would put at v[k]. v's order is not changed; scratch is
/// reused between calls and never shrinks. NaN anywhere falls back to
/// std::nth_element (whose answer is then unspecified, as before).
double select_kth(std::span<const double> v, std::size_t k, std::vector<double>& scratch);

/// The upper median (element size/2 in sorted order) and the MAD-based SD
/// (1.4826 x the upper median of |v - median|) of v, which must not be empty.
/// Identical to two std::nth_element selections. Both buffers are scratch.
void median_and_mad_sd(std::span<const double> v, std::vector<double>& scratch, std::vector<double>& deviations,
                       double& median, double& sd);

}  // namespace fasctrack::detail
