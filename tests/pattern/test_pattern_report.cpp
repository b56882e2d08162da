// REPORT.json and the HTML report, and the whole manifest -> detect ->
// classify path on simulated histories written as EDF+.

#include <catch2/catch.hpp>

#include <fasctrack/io/write.hpp>
#include <fasctrack/sim/simulate.hpp>

#include "pattern/pattern_test_util.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

using namespace pattern_test;
using nlohmann::json;

namespace {

PatternReport warning_report() {
  std::vector<SessionResult> h{session("s1", day(0), {{"a_r", 10}, {"c_r", 0}}), session("s2", day(14), {{"a_r", 12}, {"c_r", 1}}),
                               session("s3", day(35), {{"a_r", 9}, {"c_r", 7}})};
  h[0].context = {"<b>post-exercise</b>"};
  return classify(h, {}, "S<01>");
}

}  // namespace

TEST_CASE("REPORT.json has the issue's top-level keys", "[pattern][report]") {
  const json j = json::parse(report_json(warning_report()));
  for (const char* key : {"pattern", "reasons", "muscles", "units", "options", "software_version", "disclaimer"}) {
    CAPTURE(key);
    CHECK(j.contains(key));
  }
  CHECK(j["pattern"] == "warning");
  CHECK(j["subject"] == "S<01>");
  CHECK(j["software_version"] == std::string(software_version()));
  CHECK_THAT(j["disclaimer"].get<std::string>(), Catch::Contains("not a diagnosis"));
  // Reasons carry their values and thresholds.
  const json& first = j["reasons"][0];
  CHECK(first["decisive"] == true);
  CHECK(first["met"] == true);
  CHECK(first["criterion"] == "persistence");
  CHECK(first["muscle"] == "a_r");
  CHECK(first["values"]["active_sessions"] == 3);
  CHECK(first["values"]["active_span_days"] == 35);
  CHECK(first["thresholds"]["min_persistent_sessions"] == 3);
  CHECK(first["thresholds"]["min_persistent_span_days"] == 28);
  CHECK(first["thresholds"]["min_persistent_fraction"] == 0.75);
  bool spread = false;
  for (const auto& r : j["reasons"])
    if (r["criterion"] == "spread") {
      spread = true;
      CHECK(r["met"] == true);
      CHECK(r["strength"] == "new_region");
      CHECK(r["muscles"] == json::array({"c_r"}));
    }
  CHECK(spread);
  // Every option is printed.
  const PatternOptions o;
  CHECK(j["options"]["min_active_count"] == o.min_active_count);
  CHECK(j["options"]["min_active_rate_per_min"] == o.min_active_rate_per_min);
  CHECK(j["options"]["min_clean_rest_s"] == o.min_clean_rest_s);
  CHECK(j["options"]["min_persistent_sessions"] == o.min_persistent_sessions);
  CHECK(j["options"]["min_persistent_span_days"] == o.min_persistent_span_days);
  CHECK(j["options"]["min_persistent_fraction"] == o.min_persistent_fraction);
  CHECK(j["options"]["min_spread_active_muscles"] == o.min_spread_active_muscles);
  CHECK(j["options"]["min_follow_up_days"] == o.min_follow_up_days);
  CHECK(j["options"]["unit_match_threshold"] == o.unit_match_threshold);
  CHECK(j["options"].size() == 15);
  // The per-session, per-muscle table.
  REQUIRE(j["muscles"].size() == 6);
  const json& row = j["muscles"][0];
  for (const char* key : {"session", "date", "muscle", "region", "side", "state", "n_events", "clean_rest_min", "rate_per_min",
                          "ci_low", "ci_high", "n_units", "complex_fraction", "isolated_fraction", "minutes_with_fp_fraction"}) {
    CAPTURE(key);
    CHECK(row.contains(key));
  }
  CHECK(row["state"] == "active");
  CHECK(j["muscles"][1]["complex_fraction"].is_null());  // no events: undefined, not 0
  CHECK(j["evidence"]["muscles"].size() == 2);
  CHECK(j["sessions"][0]["context"][0] == "<b>post-exercise</b>");
}

TEST_CASE("HTML report: self-contained, the decision in words, escaped", "[pattern][report]") {
  const std::string h = report_html(warning_report());
  CHECK_THAT(h, Catch::StartsWith("<!DOCTYPE html>"));
  CHECK_THAT(h, Catch::Contains("<meta name=\"fasctrack-pattern\" content=\"warning\">"));
  CHECK_THAT(h, Catch::Contains("id=\"decision-text\">Warning pattern: a_r was active in 3 of 3 analysable sessions"));
  CHECK_THAT(h, Catch::Contains("Not a diagnosis."));
  CHECK_THAT(h, Catch::Contains("<svg class=\"timeline\""));
  CHECK_THAT(h, Catch::Contains("id=\"states\""));
  CHECK_THAT(h, Catch::Contains("&lt;b&gt;post-exercise&lt;/b&gt;"));
  CHECK_THAT(h, Catch::Contains("S&lt;01&gt;"));
  CHECK_THAT(h, !Catch::Contains("<b>post-exercise</b>"));
  CHECK_THAT(h, !Catch::Contains("<script"));
  CHECK_THAT(h, !Catch::Contains("http://") || Catch::Contains("xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK_THAT(h, !Catch::Contains("src="));
  CHECK_THAT(h, !Catch::Contains("href="));
  // One timeline per muscle.
  std::size_t n = 0;
  for (auto p = h.find("<svg class=\"timeline\""); p != std::string::npos; p = h.find("<svg class=\"timeline\"", p + 1)) ++n;
  CHECK(n == 2);
}

// ---------------------------------------------------------------------------
// End to end
// ---------------------------------------------------------------------------

namespace {

struct MuscleDef {
  const char* name;
  BodyRegion region;
  Side side;
};
const MuscleDef kMuscles[] = {{"biceps_brachii_r", BodyRegion::cervical, Side::right},
                              {"first_dorsal_interosseous_r", BodyRegion::cervical, Side::right},
                              {"tibialis_anterior_l", BodyRegion::lumbosacral, Side::left},
                              {"medial_gastrocnemius_l", BodyRegion::lumbosacral, Side::left}};

// Writes a history like data/make_history.py (8 bipolar channels, two per
// muscle, 90 s sessions at 2048 Hz); active[i] lists the muscles (indices)
// that fasciculate in session i. Returns the manifest path.
std::filesystem::path write_history(const std::filesystem::path& dir, const std::vector<int>& days,
                                    const std::vector<std::vector<int>>& active, std::uint64_t seed) {
  std::filesystem::create_directories(dir);
  const double fs = 2048.0, dur = 90.0;
  const auto n = static_cast<Index>(dur * fs);
  const auto S = days.size();
  std::vector<RowMatrix<double>> units(4);
  for (int k = 0; k < 4; ++k) {
    sim::SimulationOptions o;
    o.fs = fs;
    o.duration_s = dur * static_cast<double>(S);
    o.geometry = sim::Geometry::bipolar;
    o.bipolar_channels = 2;
    o.n_units = 2;
    o.amplitude_min_uv = 50;
    o.amplitude_max_uv = 120;
    o.rate_per_min = 9;
    o.noise_uv = 0;
    o.mains_hz = 0;
    o.wander_uv = 0;
    o.seed = seed * 100 + static_cast<std::uint64_t>(k);
    units[static_cast<std::size_t>(k)] = std::get<RowMatrix<double>>(sim::simulate(o).recording.samples);
  }
  json manifest{{"subject", "e2e"}, {"sessions", json::array()}};
  for (std::size_t i = 0; i < S; ++i) {
    sim::SimulationOptions b;
    b.fs = fs;
    b.duration_s = dur;
    b.geometry = sim::Geometry::bipolar;
    b.bipolar_channels = 8;
    b.n_units = 0;
    b.seed = seed * 100 + 50 + i;
    Recording rec = sim::simulate(b).recording;
    auto& x = std::get<RowMatrix<double>>(rec.samples);
    for (int k : active[i]) x.middleRows(2 * k, 2) += units[static_cast<std::size_t>(k)].middleCols(static_cast<Index>(i) * n, n);
    json channels = json::array();
    for (int c = 0; c < 8; ++c) {
      auto& ch = rec.channels[static_cast<std::size_t>(c)];
      ch.name = "EMG" + std::to_string(c + 1);
      ch.muscle.clear();  // the manifest says which muscle
      const auto& m = kMuscles[c / 2];
      channels.push_back({{"name", ch.name}, {"muscle", m.name}, {"region", std::string(to_string(m.region))},
                          {"side", m.side == Side::left ? "L" : "R"}});
    }
    const std::string file = "ses-" + std::to_string(i + 1) + ".edf";
    io::write_edf((dir / file).string(), rec);
    manifest["sessions"].push_back({{"id", "ses-" + std::to_string(i + 1)}, {"date", day(days[i])}, {"recording", file}, {"channels", channels}});
  }
  std::ofstream(dir / "manifest.json") << manifest.dump(2);
  return dir / "manifest.json";
}

}  // namespace

TEST_CASE("end to end: simulated histories through manifest, EDF, detection and the rules", "[pattern][e2e]") {
  const std::filesystem::path root = std::filesystem::path(FASCTRACK_TEST_TMP_DIR) / "pattern_e2e";
  SECTION("spreading: one muscle, then a second, then the other region") {
    const auto path = write_history(root / "spreading", {0, 12, 26, 41}, {{1}, {1}, {1, 0}, {1, 0, 2}}, 3);
    const Manifest m = read_manifest(path);
    std::vector<double> seen;
    const auto r = classify_manifest(m, {}, {}, [&](std::size_t i, std::size_t n, double f) {
      CHECK(n == 4);
      seen.push_back(static_cast<double>(i) + f);
      return true;
    });
    CHECK(r.pattern == Pattern::warning);
    CHECK(find_reason(r, "spread")->met);
    CHECK(find_reason(r, "spread")->strength == "new_region");
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(state_of(r, "ses-4", "tibialis_anterior_l") == MuscleState::active);
    CHECK(state_of(r, "ses-4", "medial_gastrocnemius_l") == MuscleState::quiet);
    // The units of the index muscle are followed through all 4 sessions.
    bool followed = false;
    for (const auto& u : r.units) followed = followed || (u.muscle == "first_dorsal_interosseous_r" && u.sightings.size() == 4);
    CHECK(followed);
    for (const auto& s : r.sessions) CHECK(s.clean_rest_s >= 80.0);
  }
  SECTION("transient: active in the first session only") {
    const auto path = write_history(root / "transient", {0, 9, 20, 35}, {{2}, {}, {}, {}}, 4);
    const auto r = classify_manifest(read_manifest(path));
    CHECK(r.pattern == Pattern::benign);
    CHECK(r.sessions[0].active_muscles == std::vector<std::string>{"tibialis_anterior_l"});
    for (std::size_t i = 1; i < 4; ++i) CHECK(r.sessions[i].active_muscles.empty());
  }
  SECTION("a cancelled run throws Cancelled") {
    const auto path = write_history(root / "cancel", {0, 30}, {{}, {}}, 5);
    CHECK_THROWS_AS(classify_manifest(read_manifest(path), {}, {}, [](std::size_t, std::size_t, double) { return false; }), Cancelled);
  }
  SECTION("a recording detection cannot run on is named with its session") {
    const auto dir = root / "lowfs";
    std::filesystem::create_directories(dir);
    io::write_npy<double>((dir / "a.npy").string(), RowMatrix<double>::Random(2, 3000));
    std::ofstream(dir / "m.json") << R"({"sessions": [{"id": "a", "date": "2026-01-05", "recording": "a.npy", "fs": 30}]})";
    CHECK_THROWS_WITH(classify_manifest(read_manifest(dir / "m.json")),
                      Catch::Contains("m.json: sessions[0] (") && Catch::Contains("a.npy): cannot detect: highpass_hz"));
  }
  SECTION("channels the manifest leaves out (and the file places on no muscle) are left out") {
    const auto path = write_history(root / "subset", {0}, {{}}, 7);
    json m = json::parse(std::ifstream(path));
    m["sessions"][0]["channels"].erase(7);
    m["sessions"][0]["channels"].erase(6);
    std::ofstream(path) << m.dump();
    const auto r = classify_manifest(read_manifest(path));
    CHECK(r.muscle_order == std::vector<std::string>{"biceps_brachii_r", "first_dorsal_interosseous_r", "tibialis_anterior_l"});
    REQUIRE(r.sessions[0].warnings.size() == 2);
    CHECK_THAT(r.sessions[0].warnings[0], Catch::Contains("channel EMG7 is not in the manifest"));
  }
  SECTION("manifest channels that the recording lacks are named") {
    const auto path = write_history(root / "badchan", {0}, {{}}, 6);
    json m = json::parse(std::ifstream(path));
    m["sessions"][0]["channels"][3]["name"] = "EMG99";
    std::ofstream(path) << m.dump();
    CHECK_THROWS_WITH(classify_manifest(read_manifest(path)),
                      Catch::Contains("sessions[0].channels[3].name: no channel 'EMG99' in") && Catch::Contains("(it has: EMG1, EMG2"));
  }
}
