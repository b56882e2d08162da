// The session manifest: parsing, validation, clear errors, and robustness
// against arbitrary bytes.

#include <catch2/catch.hpp>

#include <fasctrack/pattern/classify.hpp>
#include <fasctrack/pattern/manifest.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>

using namespace fasctrack;
using namespace fasctrack::pattern;

namespace {

const char* kGood = R"({"subject": "S01",
 "sessions": [
   {"id": "s1", "date": "2026-01-05", "recording": "s1.edf", "fs": 2048,
    "channels": [{"name": "ch1", "muscle": "biceps_r", "region": "cervical", "side": "R"},
                 {"name": "ch2", "muscle": "ta_l", "region": "lumbosacral", "side": "L"}],
    "context": ["post-exercise"],
    "clinical": {"weakness": ["biceps_r"], "atrophy": []}},
   {"id": "s2", "date": "2026-02-09", "recording": "sub/s2.npy", "fs": 1000,
    "channels": [{"name": "ch1", "muscle": "biceps_r"}]}]})";

std::string with(std::string text, const std::string& from, const std::string& to) {
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  return text.replace(pos, from.size(), to);
}

bool is_valid_utf8(const std::string& s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    i += n;
  }
  return true;
}

std::string error_of(const std::string& text) {
  try {
    parse_manifest(text, "/data", "m.json");
  } catch (const ManifestError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("manifest: the issue's format parses", "[pattern][manifest]") {
  const Manifest m = parse_manifest(kGood, "/data/subj", "S01.json");
  CHECK(m.subject == "S01");
  CHECK(m.source == "S01.json");
  REQUIRE(m.sessions.size() == 2);
  const auto& s = m.sessions[0];
  CHECK(s.id == "s1");
  CHECK(s.date == "2026-01-05");
  CHECK(s.day == parse_date("2026-01-05"));
  CHECK(s.recording == std::filesystem::path("/data/subj/s1.edf"));
  CHECK(s.fs == 2048.0);
  REQUIRE(s.channels.size() == 2);
  CHECK(s.channels[0].name == "ch1");
  CHECK(s.channels[0].muscle == "biceps_r");
  CHECK(s.channels[0].region == BodyRegion::cervical);
  CHECK(s.channels[0].side == Side::right);
  CHECK(s.channels[1].side == Side::left);
  CHECK(s.context == std::vector<std::string>{"post-exercise"});
  CHECK(s.clinical.weakness == std::vector<std::string>{"biceps_r"});
  CHECK(m.sessions[1].recording == std::filesystem::path("/data/subj/sub/s2.npy"));
  CHECK(m.sessions[1].channels[0].region == BodyRegion::unknown);
  CHECK(m.warnings.empty());
}

TEST_CASE("manifest: optional parts may be left out", "[pattern][manifest]") {
  const Manifest m = parse_manifest(R"({"sessions": [{"id": "a", "date": "2026-01-05", "recording": "/abs/a.edf"}]})", "/x", "m.json");
  CHECK(m.subject.empty());
  CHECK(m.sessions[0].recording == std::filesystem::path("/abs/a.edf"));
  CHECK(!m.sessions[0].fs);
  CHECK(m.sessions[0].channels.empty());
  CHECK(m.sessions[0].context.empty());
  // Unknown keys are ignored with a warning naming them.
  const Manifest w = parse_manifest(R"({"sessions": [{"id": "a", "date": "2026-01-05", "recording": "a.edf", "colour": 1}], "x": 2})", "/x", "m.json");
  REQUIRE(w.warnings.size() == 2);
  CHECK(w.warnings[0] == "x: unknown key, ignored");
  CHECK(w.warnings[1] == "sessions[0].colour: unknown key, ignored");
}

TEST_CASE("manifest: every error names the file and the field", "[pattern][manifest]") {
  struct Case {
    std::string text;
    std::string expect;
  };
  const std::string g = kGood;
  const std::vector<Case> cases{
      {"", "m.json: invalid JSON"},
      {"{", "m.json: invalid JSON"},
      {"[]", "m.json: (document): expected an object"},
      {"{}", "m.json: sessions: missing"},
      {R"({"sessions": {}})", "m.json: sessions: expected an array"},
      {R"({"sessions": []})", "m.json: sessions: must list at least one session"},
      {R"({"sessions": [1]})", "m.json: sessions[0]: expected an object"},
      {R"({"subject": 5, "sessions": []})", "m.json: subject: expected a string"},
      {with(g, R"("id": "s2")", R"("id": "s1")"), "m.json: sessions[1].id: duplicate id 's1' (also sessions[0].id)"},
      {with(g, R"("id": "s2", )", ""), "m.json: sessions[1].id: missing"},
      {with(g, R"("id": "s2")", R"("id": "")"), "m.json: sessions[1].id: must not be empty"},
      {with(g, R"("id": "s2")", R"("id": 2)"), "m.json: sessions[1].id: expected a string, got number"},
      {with(g, "2026-02-09", "2025-12-31"), "m.json: sessions[1].date: 2025-12-31 is before sessions[0].date 2026-01-05"},
      {with(g, "2026-02-09", "2026-02-30"), "m.json: sessions[1].date: '2026-02-30' is not a date"},
      {with(g, "2026-02-09", "09/02/2026"), "m.json: sessions[1].date: '09/02/2026' is not a date: expected YYYY-MM-DD"},
      {with(g, R"("date": "2026-02-09", )", ""), "m.json: sessions[1].date: missing"},
      {with(g, R"("recording": "sub/s2.npy", )", ""), "m.json: sessions[1].recording: missing"},
      {with(g, R"("fs": 1000,)", ""), "m.json: sessions[1].fs: required for a .npy recording (sub/s2.npy)"},
      {with(g, R"("fs": 1000,)", R"("fs": -1,)"), "m.json: sessions[1].fs: must be a positive sampling rate"},
      {with(g, R"("fs": 1000,)", R"("fs": "1000",)"), "m.json: sessions[1].fs: expected a number, got string"},
      {with(g, R"("channels": [{"name": "ch1", "muscle": "biceps_r"}])", R"("channels": {})"),
       "m.json: sessions[1].channels: expected an array"},
      {with(g, R"("side": "L")", R"("side": "up")"), "m.json: sessions[0].channels[1].side: unknown side 'up'"},
      {with(g, R"("region": "lumbosacral")", R"("region": "lumbar spine")"),
       "m.json: sessions[0].channels[1].region: unknown body region 'lumbar spine'"},
      {with(g, R"({"name": "ch2", "muscle": "ta_l")", R"({"name": "ch1", "muscle": "ta_l")"),
       "m.json: sessions[0].channels[1].name: duplicate channel name 'ch1'"},
      {with(g, R"({"name": "ch2", "muscle": "ta_l", )", R"({"name": "ch2", )"), "m.json: sessions[0].channels[1].muscle: missing"},
      {with(g, R"({"name": "ch1", "muscle": "biceps_r"}])", R"({"name": "ch1", "muscle": "biceps_r", "region": "bulbar"}])"),
       "m.json: sessions[1].channels[0].region: 'bulbar' contradicts 'cervical' given for muscle 'biceps_r' in sessions[0].channels[0].region"},
      {with(g, R"("weakness": ["biceps_r"])", R"("weakness": ["deltoid_r"])"),
       "m.json: sessions[0].clinical.weakness[0]: unknown muscle 'deltoid_r' (the channels name: biceps_r, ta_l)"},
      {with(g, R"("atrophy": [])", R"("atrophy": ["biceps_r", "x"])"), "m.json: sessions[0].clinical.atrophy[1]: unknown muscle 'x'"},
      {with(g, R"("atrophy": [])", R"("atrophy": [3])"), "m.json: sessions[0].clinical.atrophy[0]: expected a string"},
      {with(g, R"("context": ["post-exercise"])", R"("context": "post-exercise")"), "m.json: sessions[0].context: expected an array"},
      {with(g, R"("clinical": {)", R"("clinical": [], "x": {)"), "m.json: sessions[0].clinical: expected an object"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK_THAT(error_of(c.text), Catch::StartsWith(c.expect));
  }
  SECTION("ManifestError is a ReadError with the field") {
    try {
      parse_manifest(with(g, "2026-02-09", "2025-12-31"), "/d", "m.json");
      FAIL("no error");
    } catch (const ReadError& e) {
      CHECK(e.path() == "m.json");
      CHECK(dynamic_cast<const ManifestError&>(e).field() == "sessions[1].date");
    }
  }
}

TEST_CASE("manifest: files are checked only when asked", "[pattern][manifest]") {
  const std::filesystem::path dir = std::filesystem::path(FASCTRACK_TEST_TMP_DIR) / "pattern_manifest";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string text = R"({"sessions": [{"id": "a", "date": "2026-01-05", "recording": "missing.edf"}]})";
  CHECK_NOTHROW(parse_manifest(text, dir, "m.json"));
  CHECK_THROWS_WITH(parse_manifest(text, dir, "m.json", true),
                    Catch::StartsWith("m.json: sessions[0].recording: file not found: ") && Catch::Contains("missing.edf"));
  {
    std::ofstream(dir / "m.json") << text;
  }
  CHECK_THROWS_WITH(read_manifest(dir / "m.json"), Catch::Contains("sessions[0].recording: file not found"));
  CHECK_THROWS_AS(read_manifest(dir / "nope.json"), ReadError);
  CHECK_THROWS_WITH(read_manifest(dir / "nope.json"), Catch::Contains("cannot open the manifest"));
  CHECK_THROWS_WITH(read_manifest(dir), Catch::Contains("is a directory"));
  {
    std::ofstream(dir / "missing.edf") << "x";
  }
  const Manifest m = read_manifest(dir / "m.json");
  CHECK(m.sessions[0].recording == (dir / "missing.edf").lexically_normal());
  CHECK(m.source == (dir / "m.json").string());
}

TEST_CASE("manifest: clinical muscles are checked against the recordings when the manifest has no channels",
          "[pattern][manifest]") {
  const Manifest m = parse_manifest(
      R"({"sessions": [{"id": "a", "date": "2026-01-05", "recording": "a.edf", "clinical": {"weakness": ["x"]}}]})", "/d", "m.json");
  SessionResult s;
  s.id = "a";
  s.muscles.push_back({});
  s.muscles.back().muscle = "biceps_r";
  CHECK_THROWS_WITH(check_clinical_muscles(m, {s}),
                    Catch::StartsWith("m.json: sessions[0].clinical.weakness[0]: unknown muscle 'x' (the recordings have: biceps_r)"));
  s.muscles.back().muscle = "x";
  CHECK_NOTHROW(check_clinical_muscles(m, {s}));
}

TEST_CASE("manifest: arbitrary bytes give a clear error, never a crash or hang", "[pattern][manifest][fuzz]") {
  std::mt19937_64 rng(20260105);
  const std::string good = kGood;
  int errors = 0, parsed = 0;
  const auto attempt = [&](const std::string& text) {
    try {
      parse_manifest(text, "/d", "fuzz.json");
      ++parsed;
    } catch (const ManifestError& e) {
      ++errors;
      CHECK_THAT(std::string(e.what()), Catch::StartsWith("fuzz.json: "));
      // Shown to people and turned into Python strings: always valid UTF-8.
      CHECK(is_valid_utf8(e.what()));
    }
  };
  // Truncations and single-byte mutations of a valid manifest.
  for (std::size_t n = 0; n < good.size(); n += 7) attempt(good.substr(0, n));
  std::uniform_int_distribution<int> byte(0, 255);
  for (int i = 0; i < 3000; ++i) {
    std::string t = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) t[rng() % t.size()] = static_cast<char>(byte(rng));
    attempt(t);
  }
  // Random bytes, and JSON-ish noise built from the manifest's own tokens.
  for (int i = 0; i < 500; ++i) {
    std::string t(rng() % 200, '\0');
    for (auto& c : t) c = static_cast<char>(byte(rng));
    attempt(t);
  }
  const std::vector<std::string> tokens{"{", "}", "[", "]", ",", ":", "\"sessions\"", "\"id\"", "\"date\"", "\"recording\"",
                                        "\"2026-01-05\"", "\"a.npy\"", "1e400", "-0", "null", "true", "\"channels\"",
                                        "\"clinical\"", "\"weakness\"", "\"fs\"", "1e-400", "18446744073709551616"};
  for (int i = 0; i < 2000; ++i) {
    std::string t;
    const int n = static_cast<int>(rng() % 40);
    for (int k = 0; k < n; ++k) t += tokens[rng() % tokens.size()];
    attempt(t);
  }
  // Deep nesting is refused before parsing.
  attempt(std::string(100000, '['));
  attempt("{\"sessions\": " + std::string(70, '[') + std::string(70, ']') + "}");
  CHECK_THAT(error_of(std::string(100, '[')), Catch::Contains("nested deeper than 64"));
  // Big numbers and odd strings in the right places.
  attempt(R"({"sessions": [{"id": "a", "date": "2026-01-05", "recording": "a.npy", "fs": 1e400}]})");
  attempt(R"({"sessions": [{"id": "a\u0000b", "date": "2026-01-05", "recording": "a.edf"}]})");
  attempt(R"({"sessions": [{"id": "a", "date": "2026-01-05", "recording": "a\u0000.edf"}]})");
  attempt("\x80");
  attempt("{\"sessions\": [{\"id\": \"a\", \"date\": \"2026-01-\xc3\", \"recording\": \"a.edf\"}]}");
  CHECK_THROWS_AS(parse_date("2026-01-0\xe2\x82"), std::invalid_argument);
  try {
    parse_date(std::string(63, '1') + "\xe2\x82\xac");
  } catch (const std::invalid_argument& e) {
    CHECK(is_valid_utf8(e.what()));
  }
  CHECK(errors > 0);
  CHECK(parsed >= 0);
}

TEST_CASE("session JSON round-trips and its errors name the field", "[pattern][manifest]") {
  SessionResult s;
  s.id = "s1";
  s.date = "2026-01-05";
  s.day = parse_date(s.date);
  s.recording = "x.edf";
  s.duration_s = 90;
  s.clean_rest_s = 88.5;
  s.context = {"caffeine"};
  s.clinical.weakness = {"a"};
  MuscleObservation m;
  m.muscle = "a";
  m.region = BodyRegion::cervical;
  m.side = Side::left;
  m.channels = {"c1", "c2"};
  m.n_events = 7;
  m.clean_rest_s = 88.5;
  m.n_units = 2;
  m.n_complex = 1;
  m.n_isolated = 6;
  m.n_doublet = 2;
  m.rest_minutes = 1;
  m.minutes_with_fp = 1;
  s.muscles.push_back(m);
  UnitObservation u;
  u.muscle = "a";
  u.unit = 3;
  u.count = 5;
  u.rate_per_min = 3.4;
  u.amplitude_uv = 80;
  u.complex_fraction = 0.2;
  u.peak_channel = "c2";
  u.channels = {"c1", "c2"};
  u.fs = 2048;
  u.template_uv = RowMatrix<float>::Random(2, 5);
  s.units.push_back(u);
  const SessionResult t = session_from_json(session_to_json(s));
  CHECK(t.id == s.id);
  CHECK(t.day == s.day);
  CHECK(t.clean_rest_s == s.clean_rest_s);
  CHECK(t.context == s.context);
  CHECK(t.clinical.weakness == s.clinical.weakness);
  REQUIRE(t.muscles.size() == 1);
  CHECK(t.muscles[0].region == BodyRegion::cervical);
  CHECK(t.muscles[0].side == Side::left);
  CHECK(t.muscles[0].n_doublet == 2);
  CHECK(t.muscles[0].channels == m.channels);
  REQUIRE(t.units.size() == 1);
  CHECK(t.units[0].template_uv.isApprox(u.template_uv));
  CHECK(t.units[0].peak_channel == "c2");
  CHECK(session_to_json(t) == session_to_json(s));

  CHECK_THROWS_WITH(session_from_json("{}", "x"), Catch::StartsWith("x: id: missing"));
  CHECK_THROWS_WITH(session_from_json(R"({"id": "a", "date": "2026-01-05"})", "x"), Catch::StartsWith("x: muscles: missing"));
  CHECK_THROWS_WITH(session_from_json(R"({"id": "a", "date": "2026-01-05", "muscles": [{"muscle": "m", "n_events": -1}]})", "x"),
                    Catch::StartsWith("x: muscles[0].n_events: must be a count"));
  CHECK_THROWS_WITH(session_from_json(R"({"id": "a", "date": "2026-01-05", "muscles": [{"muscle": "m", "n_events": 1, "n_complex": 2}]})", "x"),
                    Catch::Contains("cannot exceed n_events"));
  CHECK_THROWS_WITH(session_from_json(R"({"id": "a", "date": "2026-01-05", "muscles": [], "units": [{"muscle": "m"}]})", "x"),
                    Catch::StartsWith("x: units[0].muscle: 'm' is not among the session's muscles"));
  CHECK_THROWS_WITH(
      session_from_json(R"({"id": "a", "date": "2026-01-05", "muscles": [{"muscle": "m"}], "units": [{"muscle": "m", "channels": ["c"], "template_uv": [[1e300, 2], [1]]}]})", "x"),
      Catch::Contains("needs one row per channel"));
  // A hand-written session: only the counts and the clean rest.
  const SessionResult h = session_from_json(R"({"id": "a", "date": "2026-01-05", "clean_rest_s": 90, "muscles": [{"muscle": "m", "n_events": 4}]})");
  CHECK(h.muscles[0].clean_rest_s == 90.0);
  CHECK(classify({h}).muscles[0].state == MuscleState::active);
}
