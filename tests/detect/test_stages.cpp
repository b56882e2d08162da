// Detector stages: neighbourhoods, block noise floor, clustering, masks.

#include <catch2/catch.hpp>

#include <fasctrack/detect/stages.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

using namespace fasctrack;
using namespace fasctrack::detection;

namespace {

std::vector<ChannelInfo> grid(int rows, int cols) {
  std::vector<ChannelInfo> ch;
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      ChannelInfo info;
      info.name = "e" + std::to_string(r) + "_" + std::to_string(c);
      info.muscle = "tibialis";
      info.grid = GridPosition{r, c, 8.0};
      ch.push_back(info);
    }
  return ch;
}

}  // namespace

TEST_CASE("grid neighbourhoods are the 3x3 around each electrode", "[detect]") {
  const auto nb = build_neighbourhood(grid(4, 4));
  CHECK(nb.grid);
  CHECK(nb.members[0].size() == 4);   // corner
  CHECK(nb.members[1].size() == 6);   // edge
  CHECK(nb.members[5].size() == 9);   // interior
  CHECK(nb.members[5][0] == 5);       // itself first
  CHECK(nb.adjacent(5, 10));
  CHECK_FALSE(nb.adjacent(0, 10));
  // Unusable electrodes leave the neighbourhoods.
  std::vector<bool> usable(16, true);
  usable[6] = false;
  const auto nb2 = build_neighbourhood(grid(4, 4), usable);
  CHECK(nb2.members[5].size() == 8);
  CHECK(nb2.members[6].size() == 1);
}

TEST_CASE("grid lines: the electrodes of a row or column within reach", "[detect]") {
  auto g = grid(4, 8);  // channel = row * 8 + column
  std::vector<bool> usable(32, true);
  usable[12] = false;
  g[11].muscle = "soleus";
  const auto rows = build_grid_lines(g, usable, true, 3);
  // Row 1, column 2: columns 0-5 of row 1, less the unusable 12 and the
  // other muscle's 11; itself first.
  CHECK(rows[10] == std::vector<Index>{10, 8, 9, 13});
  CHECK(rows[0] == std::vector<Index>{0, 1, 2, 3});
  CHECK(rows[12] == std::vector<Index>{12});
  const auto cols = build_grid_lines(g, usable, false, 1);
  CHECK(cols[10] == std::vector<Index>{10, 2, 18});
  CHECK(cols[31] == std::vector<Index>{31, 23});
  // Bipolar leads (no grid position) are their own line.
  const auto leads = build_grid_lines(std::vector<ChannelInfo>(2), {}, true, 3);
  CHECK(leads[1] == std::vector<Index>{1});
  CHECK_THROWS_WITH(build_grid_lines(g, usable, true, 0), Catch::Contains("reach must be >= 1"));
}

TEST_CASE("bipolar channels and different muscles are separate", "[detect]") {
  std::vector<ChannelInfo> ch(3);
  const auto nb = build_neighbourhood(ch);
  CHECK_FALSE(nb.grid);
  for (const auto& m : nb.members) CHECK(m.size() == 1);
  auto g = grid(1, 2);
  g[1].muscle = "other";
  CHECK_FALSE(build_neighbourhood(g).grid);
}

TEST_CASE("block floor: low quantile over the trailing window, probe blocks used from the start", "[detect]") {
  BlockFloor f(1, 4, 3, 0.0);  // window 4 blocks, 3 probe blocks, minimum
  for (double v : {5.0, 3.0, 4.0}) f.push(std::vector<double>{v});
  CHECK(f.floor(0, 0) == 3.0);  // block 0 already sees the whole probe
  CHECK(f.floor(0, 2) == 3.0);
  for (double v : {9.0, 9.0, 9.0, 9.0}) f.push(std::vector<double>{v});
  CHECK(f.floor(0, 6) == 9.0);  // the window has moved past the low blocks
  CHECK(f.floor(0, 5) == 4.0);  // only the trailing window (plus one block) is kept
  BlockFloor q(1, 10, 1, 0.5);
  for (double v : {1.0, 100.0, 2.0, 3.0, 200.0}) q.push(std::vector<double>{v});
  CHECK(q.floor(0, 4) == 3.0);  // median ignores the active blocks
}

TEST_CASE("block floor: floors() for all channels equals floor() channel by channel", "[detect]") {
  std::mt19937 gen(3);
  std::exponential_distribution<double> expo(1.0);
  for (const Index channels : {Index{1}, Index{7}, Index{8}, Index{19}}) {
    BlockFloor a(channels, 40, 8, 0.25), b(channels, 40, 8, 0.25);
    std::vector<double> out(static_cast<std::size_t>(channels));
    for (Index k = 0; k < 120; ++k) {
      std::vector<double> v(static_cast<std::size_t>(channels));
      for (auto& x : v) x = expo(gen) < 0.05 ? std::numeric_limits<double>::infinity() : std::round(expo(gen) * 8.0);
      if (k == 50 && channels > 1) v[1] = std::numeric_limits<double>::quiet_NaN();  // that channel falls back
      a.push(v);
      b.push(v);
      if (a.blocks() < 8) continue;
      for (const Index block : {k, std::max<Index>(0, k - 3)}) {
        a.floors(block, out);
        for (Index c = 0; c < channels; ++c) {
          INFO("channels " << channels << " block " << block << " c " << c);
          const double want = b.floor(c, block);
          const double got = out[static_cast<std::size_t>(c)];
          CHECK((got == want || (std::isnan(got) && std::isnan(want))));
        }
      }
    }
  }
}

TEST_CASE("clusters join connected channels over time and close after the gap", "[detect]") {
  const auto ch = grid(3, 3);
  const auto nb = build_neighbourhood(ch);
  ClusterTracker tr(nb, 3, 100);
  std::vector<Cluster> closed;
  std::vector<double> score(9, 0.0);
  auto step = [&](Index t, std::vector<Index> hot) {
    for (Index c : hot) score[static_cast<std::size_t>(c)] = 6.0 + static_cast<double>(t) * 0.1 + static_cast<double>(c);
    tr.step(t, hot, score, closed);
  };
  // A discharge propagating from electrode 0 to 2 along the first row.
  step(0, {0});
  step(1, {0, 1});
  step(2, {1, 2});
  step(3, {2});
  CHECK(closed.empty());
  CHECK(tr.earliest_open(99) == 0);
  for (Index t = 4; t < 8; ++t) step(t, {});
  REQUIRE(closed.size() == 1);
  CHECK(closed[0].first == 0);
  CHECK(closed[0].last == 3);
  CHECK(closed[0].channels[0] == 1);
  CHECK(closed[0].channels[2] == 1);
  CHECK(closed[0].channels[4] == 0);
  CHECK(closed[0].peak_channel == 2);
  // Two simultaneous discharges on non-adjacent electrodes: two clusters.
  closed.clear();
  step(20, {0, 8});
  for (Index t = 21; t < 25; ++t) step(t, {});
  CHECK(closed.size() == 2);
  // Two regions first apart, then linked by the spread: one cluster.
  closed.clear();
  step(40, {0});
  step(41, {0, 6});
  step(42, {3});
  for (Index t = 43; t < 47; ++t) step(t, {});
  CHECK(closed.size() == 1);
  // Too long: closed as truncated.
  closed.clear();
  ClusterTracker shorty(nb, 3, 5);
  for (Index t = 0; t < 8; ++t) shorty.step(t, std::vector<Index>{4}, score, closed);
  REQUIRE(!closed.empty());
  CHECK(closed[0].truncated);
}

TEST_CASE("masks merge per reason and answer coverage", "[detect]") {
  std::vector<Mask> m;
  add_mask(m, {100, 200, MaskReason::voluntary});
  add_mask(m, {150, 300, MaskReason::voluntary});
  add_mask(m, {50, 120, MaskReason::artefact});
  add_mask(m, {400, 400, MaskReason::tonic});  // empty: ignored
  REQUIRE(m.size() == 2);
  CHECK(m[0] == Mask{50, 120, MaskReason::artefact});
  CHECK(m[1] == Mask{100, 300, MaskReason::voluntary});
  CHECK(masked(m, 60));
  CHECK(masked(m, 299));
  CHECK_FALSE(masked(m, 300));
  CHECK_FALSE(masked(m, 10));
  CHECK(masked_samples(m, 1000) == 250);
  CHECK(masked_samples(m, 200) == 150);
}
