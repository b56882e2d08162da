#pragma once
// The detector's stages as small, separately testable units: electrode
// neighbourhoods, the robust block-wise noise floor, the space-time
// clustering of supra-threshold samples, and mask bookkeeping.

#include <fasctrack/core/recording.hpp>
#include <fasctrack/detect/events.hpp>

#include <memory>
#include <span>
#include <vector>

namespace fasctrack::detection {

/// Which electrodes see the same discharge. On a grid a surface MUAP covers a
/// few electrodes around its centre (it decays over ~1-2 inter-electrode
/// distances across the fibres and propagates along them), so the 3x3
/// neighbourhood on the same grid (same muscle) is the natural unit of
/// spatial integration. Channels without a grid position (bipolar leads,
/// usually over different muscles) are their own neighbourhood.
struct Neighbourhood {
  bool grid = false;                          ///< at least one channel has a grid neighbour
  std::vector<std::vector<Index>> members;    ///< per channel, itself first, then its neighbours
  bool adjacent(Index a, Index b) const;      ///< a == b or b is in a's neighbourhood
};

/// `usable[c] == false` channels are left out of every neighbourhood but their own.
Neighbourhood build_neighbourhood(const std::vector<ChannelInfo>& channels, const std::vector<bool>& usable = {});

/// Per channel, itself first, then the usable electrodes of the same grid
/// (same muscle) on its row (`along_row`) or its column, at most `reach`
/// places away. A MUAP travels along the fibres and decays within 1-2
/// inter-electrode distances across them, so on a line of electrodes along
/// the fibres it is seen on several at once, where a 3x3 neighbourhood
/// averages in six electrodes across the fibres that mostly hold noise.
/// Unusable channels and channels without a grid position have only
/// themselves. Throws std::invalid_argument if `reach` < 1.
std::vector<std::vector<Index>> build_grid_lines(const std::vector<ChannelInfo>& channels,
                                                 const std::vector<bool>& usable, bool along_row, int reach);

/// Per-channel history of one robust statistic per block (e.g. the block's
/// MAD-based SD) and a floor over a trailing window of blocks. A low quantile
/// of the blocks ignores blocks inflated by activity (discharges, contractions)
/// without needing to know where the activity is.
///
/// floor(c, k) is the quantile over blocks [max(0, k - window + 1), max(k, init - 1)]:
/// the first `init` blocks (the probe the stream buffers anyway) are all used
/// from the start, so the floor is learned before the first detection.
class BlockFloor {
 public:
  BlockFloor(Index n_channels, Index window_blocks, Index init_blocks, double quantile);
  /// Appends one block (one value per channel).
  void push(std::span<const double> values);
  Index blocks() const noexcept { return n_blocks_; }
  /// Requires init blocks pushed (or every block pushed so far when fewer,
  /// at the end of a short stream) and k < blocks().
  double floor(Index channel, Index block) const;
  /// floor(c, block) for every channel c into out (n_channels values), the
  /// same values; channels side by side through a selection network.
  void floors(Index block, std::span<double> out) const;
  void reset();

 private:
  Index n_channels_, window_, init_, capacity_;
  double quantile_;
  Index n_blocks_ = 0;
  std::vector<double> ring_;                  // capacity_ x n_channels_
  mutable std::vector<double> scratch_, select_scratch_;
  struct Memo {
    Index lo = -1, hi = -1;
    double value = 0.0;
  };
  mutable std::vector<Memo> memo_;            // per channel: the last window asked for and its quantile
  // floors(): a network for the current window length and rank, and its lanes.
  mutable std::shared_ptr<const void> net_;
  mutable Index net_n_ = -1, net_rank_ = -1;
  mutable std::vector<double> lanes_;
};

/// A group of supra-threshold (channel, sample) points that belong to one
/// discharge: connected in the electrode adjacency and in time (gaps up to
/// `gap` samples bridge the dips of the energy between the phases of one
/// potential).
struct Cluster {
  Index first = 0;                 ///< first supra-threshold sample
  Index last = 0;                  ///< last supra-threshold sample
  Index peak_sample = 0;           ///< where the detection score is largest
  Index peak_channel = 0;
  double peak_score = 0.0;
  std::vector<char> channels;      ///< per channel: 1 if ever supra-threshold in this cluster
  bool truncated = false;          ///< closed because it reached the maximum length
};

class ClusterTracker {
 public:
  ClusterTracker(const Neighbourhood& neighbourhood, Index gap, Index max_length);
  /// One sample: channels whose score is above threshold (ascending) and
  /// every channel's score. Clusters that can no longer grow are appended to closed.
  void step(Index t, std::span<const Index> hot, std::span<const double> score, std::vector<Cluster>& closed);
  /// Closes every open cluster (end of stream).
  void close_all(std::vector<Cluster>& closed);
  /// Earliest first sample among open clusters, or `otherwise`.
  Index earliest_open(Index otherwise) const;
  bool empty() const noexcept { return open_.empty(); }
  void reset() { open_.clear(); }

 private:
  bool touches(const Cluster& cl, Index c) const;
  const Neighbourhood* nb_;
  Index gap_, max_length_;
  std::vector<Cluster> open_;
  std::vector<int> comp_;          // scratch: component id per hot channel
  std::vector<int> target_;        // scratch
};

/// Adds m to masks (kept sorted by start), merging it with overlapping or
/// touching masks of the same reason.
void add_mask(std::vector<Mask>& masks, Mask m);
/// True if sample lies in any mask.
bool masked(const std::vector<Mask>& masks, Index sample);
/// Samples covered by at least one mask, within [0, n_samples).
Index masked_samples(const std::vector<Mask>& masks, Index n_samples);

}  // namespace fasctrack::detection
