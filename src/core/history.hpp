#pragma once
// A bounded record of one value per block for a whole-recording median.
//
// The summary reports each channel's noise floor as the median of its block
// SDs over the recording. Keeping every block SD made a stream's memory grow
// with the recording (8 bytes per channel per 0.25 s: 15 MB for two hours
// of a 64-channel grid), against the streaming contract. An exact median of
// an unbounded stream needs every value, so past `capacity` values the
// record is thinned by arrival order, never by value: every second kept
// value is dropped and from then on only every (2 x stride)-th block is
// kept. What remains is a systematic sample spread evenly over the whole
// recording (a noise floor that drifts over a session is still represented
// from start to end), the same for any chunking (it depends only on the
// sequence of blocks), and, because the choice ignores the values, scaling
// the input scales the median exactly. Recordings of up to `capacity`
// blocks keep every value, so their median is exact; beyond, the median of
// >= capacity / 2 evenly spread block SDs (whose spread at rest is a few
// per cent) is within a small fraction of a per cent of the exact one.

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <vector>

namespace fasctrack::detail {

class ThinnedHistory {
 public:
  explicit ThinnedHistory(std::size_t capacity = 4096) : capacity_(capacity) {
    if (capacity < 2 || capacity % 2 != 0)
      throw std::invalid_argument("ThinnedHistory: capacity must be even and >= 2");
    values_.reserve(capacity);
  }

  void push(double v) {
    const bool keep = pushed_ % stride_ == 0;
    ++pushed_;
    if (!keep) return;
    values_.push_back(v);
    if (values_.size() < capacity_) return;
    // values_[j] arrived as block j x stride_: the even j are the blocks
    // that are multiples of 2 x stride_.
    std::size_t w = 0;
    for (std::size_t j = 0; j < values_.size(); j += 2) values_[w++] = values_[j];
    values_.resize(w);
    stride_ *= 2;
  }

  /// The kept values, in arrival order.
  const std::vector<double>& values() const noexcept { return values_; }
  /// Values pushed so far (kept or not).
  std::uint64_t pushed() const noexcept { return pushed_; }
  /// 1 while every value is kept; then the spacing of the kept blocks.
  std::uint64_t stride() const noexcept { return stride_; }
  bool empty() const noexcept { return values_.empty(); }
  void clear() {
    values_.clear();
    pushed_ = 0;
    stride_ = 1;
  }

 private:
  std::size_t capacity_;
  std::vector<double> values_;
  std::uint64_t pushed_ = 0;
  std::uint64_t stride_ = 1;
};

}  // namespace fasctrack::detail
