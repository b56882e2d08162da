#include <fasctrack/core/error.hpp>
#include <fasctrack/core/recording.hpp>

#include <catch2/catch.hpp>

#include <cmath>
#include <limits>

using namespace fasctrack;

namespace {
Recording make_recording(Index channels, Index samples, double fs) {
  Recording rec;
  rec.samples = RowMatrix<float>(RowMatrix<float>::Zero(channels, samples));
  rec.fs = fs;
  for (Index i = 0; i < channels; ++i) rec.channels.push_back(ChannelInfo{.name = "ch" + std::to_string(i + 1)});
  return rec;
}
}  // namespace

TEST_CASE("Recording reports its shape, duration and sample type", "[core]") {
  Recording rec = make_recording(3, 4096, 2048.0);
  CHECK(rec.n_channels() == 3);
  CHECK(rec.n_samples() == 4096);
  CHECK(rec.duration_s() == Approx(2.0));
  CHECK(rec.sample_type() == SampleType::float32);
  rec.samples = RowMatrix<double>(RowMatrix<double>::Zero(2, 10));
  CHECK(rec.sample_type() == SampleType::float64);
  CHECK(rec.n_channels() == 2);
}

TEST_CASE("Recording::validate names the problem", "[core]") {
  Recording rec = make_recording(2, 100, 1000.0);
  rec.source = "rec.edf";
  REQUIRE_NOTHROW(rec.validate());

  rec.fs = 0;
  REQUIRE_THROWS_WITH(rec.validate(), Catch::Contains("rec.edf") && Catch::Contains("fs must be a positive"));
  rec.fs = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_AS(rec.validate(), std::invalid_argument);
  rec.fs = 1000;

  rec.channels.pop_back();
  REQUIRE_THROWS_WITH(rec.validate(), Catch::Contains("1 channel descriptions for 2 rows"));

  Recording empty = make_recording(0, 100, 1000.0);
  REQUIRE_THROWS_WITH(empty.validate(), Catch::Contains("zero channels"));
  Recording no_samples = make_recording(2, 0, 1000.0);
  REQUIRE_THROWS_WITH(no_samples.validate(), Catch::Contains("zero samples"));
}

TEST_CASE("channel_index finds channels by name", "[core]") {
  const Recording rec = make_recording(3, 10, 100.0);
  CHECK(rec.channel_index("ch2") == 1);
  REQUIRE_THROWS_WITH(rec.channel_index("C3"), Catch::Contains("no channel named 'C3'"));
}

TEST_CASE("body region and side parse the spellings users write", "[core]") {
  CHECK(parse_body_region("Cervical") == BodyRegion::cervical);
  CHECK(parse_body_region(" lumbar ") == BodyRegion::lumbosacral);
  CHECK(parse_body_region("") == BodyRegion::unknown);
  CHECK(to_string(BodyRegion::bulbar) == "bulbar");
  REQUIRE_THROWS_WITH(parse_body_region("neck"), Catch::Contains("'neck'") && Catch::Contains("bulbar"));
  CHECK(parse_side("R") == Side::right);
  CHECK(parse_side("left") == Side::left);
  CHECK(parse_side("n/a") == Side::unknown);
  REQUIRE_THROWS_WITH(parse_side("up"), Catch::Contains("'up'"));
}

TEST_CASE("duplicate channel names become unique with a warning each", "[core]") {
  std::vector<ChannelInfo> ch{{.name = "F1"}, {.name = "F1"}, {.name = "F1 (2)"}, {.name = "F1"}};
  const auto warnings = make_channel_names_unique(ch);
  CHECK(ch[0].name == "F1");
  CHECK(ch[1].name == "F1 (3)");  // "F1 (2)" is already taken by a real channel
  CHECK(ch[2].name == "F1 (2)");
  CHECK(ch[3].name == "F1 (4)");
  REQUIRE(warnings.size() == 2);
  CHECK_THAT(warnings[0], Catch::Contains("duplicate channel label 'F1'"));
}

TEST_CASE("voltage units convert to microvolts; other units are refused", "[core]") {
  CHECK(microvolts_per_unit("uV") == 1.0);
  CHECK(microvolts_per_unit("\xC2\xB5V") == 1.0);  // UTF-8 micro sign
  CHECK(microvolts_per_unit("\xB5V") == 1.0);      // Latin-1 micro sign (EDF headers)
  CHECK(microvolts_per_unit("mV") == 1e3);
  CHECK(microvolts_per_unit("mv") == 1e3);         // PhysioNet emgdb writes "10000/mv"
  CHECK(microvolts_per_unit(" V ") == 1e6);
  CHECK(microvolts_per_unit("nV") == 1e-3);
  CHECK_FALSE(microvolts_per_unit("MV").has_value());  // megavolt is not a millivolt
  CHECK_FALSE(microvolts_per_unit("Boolean").has_value());
  CHECK_FALSE(microvolts_per_unit("").has_value());
}

TEST_CASE("ReadError messages start with the path", "[core]") {
  const ReadError e("/data/x.edf", "truncated");
  CHECK(std::string(e.what()) == "/data/x.edf: truncated");
  CHECK(e.path() == "/data/x.edf");
  const UnsupportedFormatError u("a.xyz", "unknown extension");
  const ReadError& base = u;
  CHECK(base.problem() == "unknown extension");
}

TEST_CASE("bad_annotation_spans: BAD... in any case, every touched sample, clipped", "[core]") {
  using fasctrack::Annotation;
  const std::vector<Annotation> a{{1.0, 0.5, "BAD_movement"}, {2.0, 1.0, "cough"}, {-1.0, 1.5, "bad"},
                                  {9.9, 5.0, "Bad_end"},      {3.0, NAN, "BAD_nan"}, {4.0, 0.0, "BA"}};
  const auto spans = fasctrack::bad_annotation_spans(a, 10.0, 100);
  REQUIRE(spans.size() == 3);
  CHECK(spans[0] == std::pair<fasctrack::Index, fasctrack::Index>{10, 16});
  CHECK(spans[1] == std::pair<fasctrack::Index, fasctrack::Index>{0, 6});
  CHECK(spans[2] == std::pair<fasctrack::Index, fasctrack::Index>{99, 100});
}
