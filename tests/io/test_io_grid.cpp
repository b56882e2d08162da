// Electrode grid layout for files that carry none (.npy, CSV, EDF without
// BIDS sidecars): parsing, placement, errors, and that a grid read this way
// is detected exactly as the same grid with positions from its source.

#include "io/io_test_util.hpp"

#include <fasctrack/io/read.hpp>
#include <fasctrack/io/reader.hpp>
#include <fasctrack/io/write.hpp>
#include <fasctrack/sim/simulate.hpp>
#include <fasctrack/stream/detector.hpp>

#include <stdexcept>

using namespace fasctrack;
using Catch::Matchers::Contains;

TEST_CASE("grid layout: parsing ROWSxCOLUMNS", "[io][grid]") {
  const auto g = io::parse_grid_layout("8x8");
  CHECK(g.rows == 8);
  CHECK(g.columns == 8);
  const auto h = io::parse_grid_layout(" 4X16 ");
  CHECK(h.rows == 4);
  CHECK(h.columns == 16);
  for (const char* bad : {"8", "x8", "8x", "0x8", "8x0", "-1x8", "8.5x8", "8x8x8", "8 by 8", ""}) {
    INFO(bad);
    CHECK_THROWS_WITH(io::parse_grid_layout(bad), Contains("grid: expected ROWSxCOLUMNS") && Contains(bad));
  }
}

TEST_CASE("grid layout: EMG channels placed row by row", "[io][grid]") {
  std::vector<ChannelInfo> ch;
  for (int k = 0; k < 6; ++k) ch.push_back({"e" + std::to_string(k + 1)});
  ch.insert(ch.begin() + 2, ChannelInfo{"ECG", "ECG"});
  io::apply_grid_layout(ch, {2, 3, 8.0}, "rec.npy");
  CHECK_FALSE(ch[2].grid.has_value());  // the ECG lead is not an electrode of the grid
  CHECK(*ch[0].grid == GridPosition{0, 0, 8.0});
  CHECK(*ch[1].grid == GridPosition{0, 1, 8.0});
  CHECK(*ch[3].grid == GridPosition{0, 2, 8.0});
  CHECK(*ch[4].grid == GridPosition{1, 0, 8.0});
  CHECK(*ch[6].grid == GridPosition{1, 2, 8.0});

  SECTION("the count must match") {
    std::vector<ChannelInfo> five(5);
    CHECK_THROWS_WITH(io::apply_grid_layout(five, {2, 3, 0.0}, "rec.npy"),
                      Contains("rec.npy: grid 2x3 places 6 electrodes, the recording has 5 EMG channel(s)"));
    std::vector<ChannelInfo> seven(7);
    CHECK_THROWS_WITH(io::apply_grid_layout(seven, {2, 3, 0.0}, "rec.npy"), Contains("keep only the grid's channels"));
  }
  SECTION("one layout, not two") {
    CHECK_THROWS_WITH(io::apply_grid_layout(ch, {2, 3, 8.0}, "rec.npy"),
                      Contains("channel 'e1' already has a grid position"));
  }
  SECTION("bad dimensions or distance") {
    std::vector<ChannelInfo> six(6);
    CHECK_THROWS_AS(io::apply_grid_layout(six, {0, 6, 0.0}, "x"), std::invalid_argument);
    CHECK_THROWS_WITH(io::apply_grid_layout(six, {2, 3, -1.0}, "x"), Contains("inter-electrode distance"));
  }
}

TEST_CASE("grid layout: a grid read from .npy detects as the same grid with positions", "[io][grid][stream]") {
  sim::SimulationOptions so;
  so.rows = 4;
  so.columns = 4;
  so.duration_s = 20.0;
  so.rate_per_min = 30.0;
  so.seed = 911;
  const auto s = sim::simulate(so);
  const auto& x = std::get<RowMatrix<double>>(s.recording.samples);
  const std::string path = iotest::scratch("grid") + "/grid.npy";
  io::write_npy<double>(path, x);

  io::ReadOptions o;
  o.fs = so.fs;
  o.grid = io::GridLayout{4, 4, so.ied_mm};
  const Recording rec = io::read(path, o);
  for (std::size_t k = 0; k < rec.channels.size(); ++k) {
    INFO("channel " << k);
    REQUIRE(rec.channels[k].grid.has_value());
    CHECK(*rec.channels[k].grid == *s.recording.channels[k].grid);
  }
  io::RecordingReader reader(path, o);
  for (std::size_t k = 0; k < rec.channels.size(); ++k) CHECK(*reader.header().channels[k].grid == *rec.channels[k].grid);

  const auto expected = detect(s.recording);
  const auto got = detect(rec);
  REQUIRE(expected.events.size() >= 5);
  REQUIRE(got.events.size() == expected.events.size());
  for (std::size_t i = 0; i < got.events.size(); ++i) {
    CHECK(got.events[i].sample == expected.events[i].sample);
    CHECK(got.events[i].channel == expected.events[i].channel);
    CHECK(got.events[i].unit == expected.events[i].unit);
  }
  CHECK(got.summary.layout == "grid");

  // Without the layout, sixteen channels are assumed to be a 4x4 grid, row
  // by row: the same events.
  io::ReadOptions bare;
  bare.fs = so.fs;
  const Recording unplaced = io::read(path, bare);
  REQUIRE(assumed_grid_side(unplaced.channels) == 4);
  const auto assumed = detect(unplaced);
  CHECK(assumed.summary.layout == "assumed_grid");
  CHECK(assumed.summary.assumed_grid_side == 4);
  REQUIRE(assumed.events.size() == expected.events.size());
  for (std::size_t i = 0; i < assumed.events.size(); ++i) CHECK(assumed.events[i].sample == expected.events[i].sample);
  // As sixteen independent leads the events differ: one discharge on many
  // electrodes is not merged.
  DetectOptions leads;
  leads.assume_square_grid = false;
  const auto independent = detect(unplaced, leads);
  CHECK(independent.summary.layout == "independent");
  bool same = independent.events.size() == expected.events.size();
  for (std::size_t i = 0; same && i < independent.events.size(); ++i)
    same = independent.events[i].sample == expected.events[i].sample;
  CHECK_FALSE(same);
}

TEST_CASE("grid layout: which channel sets are assumed to be a square grid", "[io][grid]") {
  auto leads = [](int n) {
    std::vector<ChannelInfo> ch;
    for (int k = 0; k < n; ++k) ch.push_back({"e" + std::to_string(k + 1)});
    return ch;
  };
  CHECK(assumed_grid_side(leads(64)) == 8);
  CHECK(assumed_grid_side(leads(16)) == 4);
  CHECK(assumed_grid_side(leads(256)) == 16);
  CHECK(assumed_grid_side(leads(9)) == 0);   // 3x3: as likely nine leads
  CHECK(assumed_grid_side(leads(4)) == 0);   // a bipolar montage
  CHECK(assumed_grid_side(leads(32)) == 0);  // 4x8 or 8x4: no guess
  auto with_ecg = leads(64);
  with_ecg.push_back({"ECG", "ECG"});
  CHECK(assumed_grid_side(with_ecg) == 8);   // an ECG lead is not an electrode of the grid
  auto placed = leads(64);
  placed[3].grid = GridPosition{0, 3, 8.0};
  CHECK(assumed_grid_side(placed) == 0);     // positions given: never assumed
}
