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
// approximation. The MAD reuses the median's histogram: a window of bins
// around the median's bin bounds it to two bin widths, and one pass keeps
// the few deviations in that range (select.cpp). Together: a range pass, a
// histogram pass, a gather pass and a deviation pass, mostly vectorised.

#include <cstddef>
#include <cstdint>
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

/// The stride strided_median_and_mad_sd uses over n values: `stride`,
/// lowered while it would leave fewer than min_values values, down to 1.
std::size_t effective_stride(std::size_t n, std::size_t stride, std::size_t min_values);

/// median_and_mad_sd of every stride-th value of v (v[0], v[stride], ...),
/// copied into subset first: a robust SD from a subset of a block. The
/// stride is lowered when it would leave fewer than min_values values (a
/// short block), down to 1 (every value). stride >= 1; v must not be empty.
void strided_median_and_mad_sd(std::span<const double> v, std::size_t stride, std::size_t min_values,
                               std::vector<double>& subset, std::vector<double>& scratch,
                               std::vector<double>& deviations, double& median, double& sd);

/// The median of n values for many sets of n at once, by a comparator network.
///
/// The detector takes the median over the electrodes at every sample (the
/// common mode). std::nth_element on ~64 values is branchy (its partition
/// steps mispredict about half the time) and serial. A sorting network is a
/// fixed sequence of compare-exchanges, each a branch-free min and max; run
/// lane-wise over kLanes samples side by side it vectorises, and pruned to
/// the comparators that can still move a value into rank n/2 (or n/2 - 1) it
/// needs ~445 comparators for n = 64. The network is Batcher's odd-even
/// merge sort for the next power of two with the wires at and above n left
/// out: padding them with +inf would make every comparator touching them a
/// no-op. A network orders values exactly, so the selected ranks hold the
/// same values std::nth_element would put there (an equal -0.0 / +0.0 pair
/// aside, which compare equal and may come out in either order); NaN has no
/// order, so callers keep sets containing one away from it.
class MedianNetwork {
 public:
  static constexpr std::size_t kLanes = 8;
  /// Above this many values quickselect's O(n) beats the network's O(n log^2 n).
  static constexpr std::size_t kMaxValues = 128;

  MedianNetwork() = default;
  /// n in [1, kMaxValues].
  explicit MedianNetwork(std::size_t n);
  /// A network that selects one other rank (0-based, < n) instead: after
  /// run(), row `rank` holds each lane's value of that rank (a quantile).
  MedianNetwork(std::size_t n, std::size_t rank);

  std::size_t values() const { return n_; }

  /// x holds n rows of kLanes values (x[r * kLanes + lane]). Reorders each
  /// lane's values so that row n/2, and for even n also row n/2 - 1, hold
  /// the order statistics of that rank.
  void run(double* x) const;

  /// After run(): the median of one lane, computed as the detector always
  /// has: the upper median, averaged with the largest value below it for
  /// even n (0.5 * (upper + lower)).
  double median(const double* x, std::size_t lane) const {
    const double upper = x[(n_ / 2) * kLanes + lane];
    if (n_ % 2 != 0) return upper;
    return 0.5 * (upper + x[(n_ / 2 - 1) * kLanes + lane]);
  }

 private:
  MedianNetwork(std::size_t n, std::size_t rank, bool and_below);
  std::size_t n_ = 0;
  std::vector<std::uint16_t> pairs_;  // (lower, upper) wire of each comparator, in order
};

}  // namespace fasctrack::detail
