// Detector stages: neighbourhoods, noise floor, clustering, masks.

#include <fasctrack/detect/stages.hpp>

#include "core/select.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fasctrack::detection {

bool Neighbourhood::adjacent(Index a, Index b) const {
  if (a == b) return true;
  const auto& m = members[static_cast<std::size_t>(a)];
  return std::find(m.begin(), m.end(), b) != m.end();
}

namespace {

// Per channel, itself first, then the usable electrodes of the same grid
// (same muscle) for which near(its position, theirs) holds.
template <class Near>
std::vector<std::vector<Index>> grid_members(const std::vector<ChannelInfo>& channels, const std::vector<bool>& usable,
                                             Near near) {
  const std::size_t n = channels.size();
  auto ok = [&](std::size_t c) { return usable.empty() || usable[c]; };
  std::vector<std::vector<Index>> members(n);
  for (std::size_t a = 0; a < n; ++a) {
    members[a].push_back(static_cast<Index>(a));
    const auto& ga = channels[a].grid;
    if (!ga || !ok(a)) continue;
    for (std::size_t b = 0; b < n; ++b) {
      const auto& gb = channels[b].grid;
      // Electrodes of different muscles (or different grids) do not share discharges.
      if (b == a || !ok(b) || !gb || channels[b].muscle != channels[a].muscle) continue;
      if (near(*ga, *gb)) members[a].push_back(static_cast<Index>(b));
    }
  }
  return members;
}

}  // namespace

Neighbourhood build_neighbourhood(const std::vector<ChannelInfo>& channels, const std::vector<bool>& usable) {
  Neighbourhood nb;
  nb.members = grid_members(channels, usable, [](const GridPosition& a, const GridPosition& b) {
    return std::abs(a.row - b.row) <= 1 && std::abs(a.column - b.column) <= 1;
  });
  for (const auto& m : nb.members) nb.grid = nb.grid || m.size() > 1;
  return nb;
}

std::vector<std::vector<Index>> build_grid_lines(const std::vector<ChannelInfo>& channels,
                                                 const std::vector<bool>& usable, bool along_row, int reach) {
  if (reach < 1) throw std::invalid_argument("build_grid_lines: reach must be >= 1, got " + std::to_string(reach));
  return grid_members(channels, usable, [&](const GridPosition& a, const GridPosition& b) {
    return along_row ? a.row == b.row && std::abs(a.column - b.column) <= reach
                     : a.column == b.column && std::abs(a.row - b.row) <= reach;
  });
}

BlockFloor::BlockFloor(Index n_channels, Index window_blocks, Index init_blocks, double quantile)
    : n_channels_(n_channels),
      window_(std::max<Index>(1, window_blocks)),
      init_(std::max<Index>(1, init_blocks)),
      capacity_(std::max(window_, init_) + 1),
      quantile_(quantile),
      ring_(static_cast<std::size_t>(capacity_ * n_channels), 0.0) {
  if (n_channels < 1) throw std::invalid_argument("BlockFloor: n_channels must be >= 1");
  if (!(quantile >= 0.0 && quantile <= 1.0)) throw std::invalid_argument("BlockFloor: quantile must be in [0, 1]");
  scratch_.reserve(static_cast<std::size_t>(capacity_));
  memo_.assign(static_cast<std::size_t>(n_channels), Memo{});
}

void BlockFloor::push(std::span<const double> values) {
  const Index slot = n_blocks_ % capacity_;
  for (Index c = 0; c < n_channels_; ++c) {
    ring_[static_cast<std::size_t>(slot * n_channels_ + c)] = values[static_cast<std::size_t>(c)];
  }
  ++n_blocks_;
}

double BlockFloor::floor(Index channel, Index block) const {
  const Index hi = std::min(std::max(block, init_ - 1), n_blocks_ - 1);
  const Index lo = std::max({Index{0}, block - window_ + 1, n_blocks_ - capacity_});
  // The detector asks for the same window twice (stages B and C): the
  // blocks [lo, hi] are still in the ring (slots are only reused once lo
  // has passed them), so the same window has the same quantile.
  auto& memo = memo_[static_cast<std::size_t>(channel)];
  if (memo.lo == lo && memo.hi == hi) return memo.value;
  scratch_.clear();
  for (Index k = lo; k <= hi; ++k) {
    scratch_.push_back(ring_[static_cast<std::size_t>((k % capacity_) * n_channels_ + channel)]);
  }
  if (scratch_.empty()) return 0.0;
  const auto pos = static_cast<std::size_t>(
      std::floor(quantile_ * static_cast<double>(scratch_.size() - 1) + 0.5));
  // The element std::nth_element would select (histogram selection, see
  // core/select.hpp; a window with an infinite block falls back to it).
  const double value = detail::select_kth(scratch_, pos, select_scratch_);
  memo = {lo, hi, value};
  return value;
}

void BlockFloor::floors(Index block, std::span<double> out) const {
  const Index hi = std::min(std::max(block, init_ - 1), n_blocks_ - 1);
  const Index lo = std::max({Index{0}, block - window_ + 1, n_blocks_ - capacity_});
  const Index n = hi - lo + 1;
  bool known = true;
  for (const Memo& m : memo_) known = known && m.lo == lo && m.hi == hi;
  if (known) {
    for (Index c = 0; c < n_channels_; ++c) out[static_cast<std::size_t>(c)] = memo_[static_cast<std::size_t>(c)].value;
    return;
  }
  using detail::MedianNetwork;
  if (n < 1 || n > static_cast<Index>(MedianNetwork::kMaxValues)) {
    for (Index c = 0; c < n_channels_; ++c) out[static_cast<std::size_t>(c)] = floor(c, block);
    return;
  }
  const auto rank = static_cast<Index>(std::floor(quantile_ * static_cast<double>(n - 1) + 0.5));
  // The window's length changes only while the stream fills it, so the
  // network is rebuilt a few times at the start and then reused.
  if (net_n_ != n || net_rank_ != rank) {
    net_ = std::make_shared<const MedianNetwork>(static_cast<std::size_t>(n), static_cast<std::size_t>(rank));
    net_n_ = n;
    net_rank_ = rank;
  }
  const auto& net = *static_cast<const MedianNetwork*>(net_.get());
  constexpr Index W = static_cast<Index>(MedianNetwork::kLanes);
  lanes_.resize(static_cast<std::size_t>(n * W));
  for (Index c0 = 0; c0 < n_channels_; c0 += W) {
    const Index w = std::min(W, n_channels_ - c0);
    bool nan = false;
    double* x = lanes_.data();
    for (Index k = lo; k <= hi; ++k, x += W) {
      const double* row = &ring_[static_cast<std::size_t>((k % capacity_) * n_channels_ + c0)];
      for (Index l = 0; l < W; ++l) {
        const double v = l < w ? row[l] : 0.0;
        x[l] = v;
        nan = nan || v != v;
      }
    }
    if (nan) {  // no order: as std::nth_element does, channel by channel
      for (Index c = c0; c < c0 + w; ++c) out[static_cast<std::size_t>(c)] = floor(c, block);
      continue;
    }
    net.run(lanes_.data());
    for (Index l = 0; l < w; ++l) {
      const double value = lanes_[static_cast<std::size_t>(rank * W + l)];
      out[static_cast<std::size_t>(c0 + l)] = value;
      memo_[static_cast<std::size_t>(c0 + l)] = {lo, hi, value};
    }
  }
}

void BlockFloor::reset() {
  n_blocks_ = 0;
  memo_.assign(static_cast<std::size_t>(n_channels_), Memo{});
  std::fill(ring_.begin(), ring_.end(), 0.0);
}

ClusterTracker::ClusterTracker(const Neighbourhood& neighbourhood, Index gap, Index max_length)
    : nb_(&neighbourhood), gap_(gap), max_length_(max_length) {}

bool ClusterTracker::touches(const Cluster& cl, Index c) const {
  for (Index m : nb_->members[static_cast<std::size_t>(c)]) {
    if (cl.channels[static_cast<std::size_t>(m)]) return true;
  }
  return false;
}

void ClusterTracker::step(Index t, std::span<const Index> hot, std::span<const double> score,
                          std::vector<Cluster>& closed) {
  const std::size_t n_channels = nb_->members.size();
  if (!hot.empty()) {
    // Connected components of this sample's hot channels (the grid is small:
    // a quadratic scan is cheaper than building a graph).
    const std::size_t h = hot.size();
    comp_.assign(h, -1);
    int n_comp = 0;
    for (std::size_t i = 0; i < h; ++i) {
      if (comp_[i] >= 0) continue;
      comp_[i] = n_comp;
      for (bool grew = true; grew;) {
        grew = false;
        for (std::size_t j = 0; j < h; ++j) {
          if (comp_[j] >= 0) continue;
          for (std::size_t k = 0; k < h; ++k) {
            if (comp_[k] == n_comp && nb_->adjacent(hot[k], hot[j])) {
              comp_[j] = n_comp;
              grew = true;
              break;
            }
          }
        }
      }
      ++n_comp;
    }
    for (int comp = 0; comp < n_comp; ++comp) {
      // Every open cluster this component touches joins it: the discharge
      // spreading across the grid links regions first seen apart.
      target_.clear();
      for (std::size_t o = 0; o < open_.size(); ++o) {
        for (std::size_t i = 0; i < h; ++i) {
          if (comp_[i] == comp && touches(open_[o], hot[i])) {
            target_.push_back(static_cast<int>(o));
            break;
          }
        }
      }
      if (target_.empty()) {
        Cluster cl;
        cl.first = t;
        cl.last = t;
        cl.peak_sample = t;
        cl.peak_score = -std::numeric_limits<double>::infinity();
        cl.channels.assign(n_channels, 0);
        open_.push_back(std::move(cl));
        target_.push_back(static_cast<int>(open_.size() - 1));
      }
      Cluster& dst = open_[static_cast<std::size_t>(target_[0])];
      for (std::size_t k = 1; k < target_.size(); ++k) {
        const Cluster& src = open_[static_cast<std::size_t>(target_[k])];
        dst.first = std::min(dst.first, src.first);
        for (std::size_t c = 0; c < n_channels; ++c) dst.channels[c] = dst.channels[c] || src.channels[c];
        if (src.peak_score > dst.peak_score) {
          dst.peak_score = src.peak_score;
          dst.peak_sample = src.peak_sample;
          dst.peak_channel = src.peak_channel;
        }
      }
      for (std::size_t i = 0; i < h; ++i) {
        if (comp_[i] != comp) continue;
        const Index c = hot[i];
        dst.channels[static_cast<std::size_t>(c)] = 1;
        const double s = score[static_cast<std::size_t>(c)];
        if (s > dst.peak_score) {
          dst.peak_score = s;
          dst.peak_sample = t;
          dst.peak_channel = c;
        }
      }
      dst.last = t;
      // Remove merged sources (highest index first keeps indices valid).
      std::sort(target_.begin() + 1, target_.end(), std::greater<int>());
      for (std::size_t k = 1; k < target_.size(); ++k) {
        open_.erase(open_.begin() + target_[k]);
      }
    }
  }
  for (std::size_t o = 0; o < open_.size();) {
    Cluster& cl = open_[o];
    const bool quiet = t - cl.last >= gap_;
    const bool too_long = t - cl.first >= max_length_;
    if (quiet || too_long) {
      cl.truncated = too_long && !quiet;
      closed.push_back(std::move(cl));
      open_.erase(open_.begin() + static_cast<std::ptrdiff_t>(o));
    } else {
      ++o;
    }
  }
}

void ClusterTracker::close_all(std::vector<Cluster>& closed) {
  for (auto& cl : open_) closed.push_back(std::move(cl));
  open_.clear();
}

Index ClusterTracker::earliest_open(Index otherwise) const {
  Index e = otherwise;
  for (const auto& cl : open_) e = std::min(e, cl.first);
  return e;
}

void add_mask(std::vector<Mask>& masks, Mask m) {
  if (m.stop <= m.start) return;
  for (std::size_t i = 0; i < masks.size();) {
    Mask& o = masks[i];
    if (o.reason == m.reason && o.start <= m.stop && m.start <= o.stop) {
      m.start = std::min(m.start, o.start);
      m.stop = std::max(m.stop, o.stop);
      masks.erase(masks.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
  const auto pos = std::upper_bound(masks.begin(), masks.end(), m, [](const Mask& a, const Mask& b) {
    return a.start < b.start || (a.start == b.start && a.reason < b.reason);
  });
  masks.insert(pos, m);
}

bool masked(const std::vector<Mask>& masks, Index sample) {
  for (const auto& m : masks) {
    if (m.start > sample) break;
    if (sample < m.stop) return true;
  }
  return false;
}

Index masked_samples(const std::vector<Mask>& masks, Index n_samples) {
  Index covered = 0, reach = 0;
  for (const auto& m : masks) {
    const Index a = std::max(std::clamp<Index>(m.start, 0, n_samples), reach);
    const Index b = std::clamp<Index>(m.stop, 0, n_samples);
    if (b > a) covered += b - a;
    reach = std::max(reach, b);
  }
  return covered;
}

}  // namespace fasctrack::detection
