// BIDS-EMG sidecars.

#include "io/io_test_util.hpp"

#include <fasctrack/io/read.hpp>
#include <fasctrack/io/write.hpp>

using namespace fasctrack;

namespace {

std::string make_dataset(const std::string& name) {
  const auto dir = iotest::scratch(name);
  RowMatrix<double> x(3, 4);
  x << 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12;
  io::write_npy<double>(dir + "/sub-01_task-rest_emg.npy", x);
  iotest::write_bytes(dir + "/sub-01_task-rest_emg.json",
                      "{\n  \"SamplingFrequency\": 2000,\n  \"PowerLineFrequency\": 50,\n"
                      "  \"TaskName\": \"rest \\u00e9\", \"Nested\": {\"a\": [1, 2.5e3, true, null]}\n}\n");
  iotest::write_bytes(dir + "/sub-01_task-rest_channels.tsv",
                      "name\ttype\tunits\tstatus\tstatus_description\tmuscle\tregion\tside\tgrid_row\tgrid_column\tied_mm\tsignal_electrode\n"
                      "ch1\tEMG\tmV\tgood\tn/a\tbiceps_r\tcervical\tR\t0\t1\t8\tE1\n"
                      "ch2\temg\tuV\tbad\tloose electrode\ttibialis_anterior_l\tlumbosacral\tL\tn/a\tn/a\tn/a\tE2\n"
                      "ch3\tMISC\tn/a\tn/a\tn/a\tn/a\tn/a\tn/a\tn/a\tn/a\tn/a\tn/a\n"
                      "ch9\tEMG\tuV\tgood\tn/a\tn/a\tn/a\tn/a\tn/a\tn/a\tn/a\tn/a\n");
  iotest::write_bytes(dir + "/sub-01_electrodes.tsv", "name\tx\ty\tz\tgrid_row\tgrid_column\tied_mm\nE1\t0\t0\t0\t0\t1\t8\nE2\t0\t0\t0\t2\t3\t10\n");
  return dir;
}

}  // namespace

TEST_CASE("BIDS sidecars: channels.tsv, emg.json, electrodes.tsv", "[io][bids]") {
  const auto dir = make_dataset("bids_ok");
  const auto rec = io::read(dir + "/sub-01_task-rest_emg.npy");  // fs from emg.json
  CHECK(rec.fs == 2000.0);
  REQUIRE(rec.power_line_hz.has_value());
  CHECK(*rec.power_line_hz == 50.0);
  REQUIRE(rec.n_channels() == 3);
  const auto& c1 = rec.channels[0];
  CHECK(c1.type == "EMG");
  CHECK(c1.muscle == "biceps_r");
  CHECK(c1.region == BodyRegion::cervical);
  CHECK(c1.side == Side::right);
  REQUIRE(c1.grid.has_value());
  CHECK(*c1.grid == GridPosition{0, 1, 8.0});
  CHECK(c1.source_unit == "mV");
  CHECK(iotest::f64(rec)(0, 0) == 1000.0);  // sidecar unit mV scales the unitless .npy
  const auto& c2 = rec.channels[1];
  CHECK(c2.marked_bad);
  CHECK(c2.bad_reason == "loose electrode");
  CHECK(c2.region == BodyRegion::lumbosacral);
  CHECK(c2.side == Side::left);
  REQUIRE(c2.grid.has_value());  // from electrodes.tsv through signal_electrode
  CHECK(*c2.grid == GridPosition{2, 3, 10.0});
  CHECK(iotest::f64(rec)(1, 0) == 5.0);
  CHECK(rec.channels[2].type == "MISC");
  CHECK_FALSE(rec.channels[2].grid.has_value());
  CHECK(iotest::has_warning(rec, "channel 'ch9' is not in the data"));

  io::ReadOptions off;
  off.use_sidecars = false;
  off.fs = 10;
  const auto plain = io::read(dir + "/sub-01_task-rest_emg.npy", off);
  CHECK_FALSE(plain.power_line_hz.has_value());
  CHECK(plain.channels[0].type == "EMG");
  CHECK_FALSE(plain.channels[1].marked_bad);

  // The public entry point on an in-memory recording.
  Recording mem = plain;
  mem.fs = 2000;
  CHECK(io::apply_bids_sidecars(mem, dir + "/sub-01_task-rest_emg.npy"));
  CHECK(mem.channels[1].marked_bad);
  CHECK_FALSE(io::apply_bids_sidecars(mem, dir + "/not_bids.npy"));
}

TEST_CASE("BIDS sidecar for EDF: the file's unit wins", "[io][bids]") {
  const auto dir = iotest::scratch("bids_edf");
  Recording r;
  r.fs = 100;
  r.samples = RowMatrix<double>(RowMatrix<double>::Constant(1, 200, 5.0));
  r.channels.resize(1);
  r.channels[0].name = "EMG1";
  io::write_edf(dir + "/sub-02_emg.edf", r);
  iotest::write_bytes(dir + "/sub-02_channels.tsv", "name\tunits\nEMG1\tmV\n");
  const auto rec = io::read(dir + "/sub-02_emg.edf");
  CHECK(iotest::f64(rec)(0, 0) == Approx(5.0).epsilon(1e-3));
  CHECK(iotest::has_warning(rec, "gives unit 'mV' for channel 'EMG1' but the file says 'uV'"));
}

TEST_CASE("BIDS sidecar errors name the sidecar and the line", "[io][bids][errors]") {
  const auto dir = make_dataset("bids_bad");
  const std::string data = dir + "/sub-01_task-rest_emg.npy";
  const std::string tsv = dir + "/sub-01_task-rest_channels.tsv";
  const std::string json = dir + "/sub-01_task-rest_emg.json";
  SECTION("no name column") {
    iotest::write_bytes(tsv, "label\ttype\nch1\tEMG\n");
    iotest::require_error<ReadError>([&] { io::read(data); }, tsv, "line 1: no 'name' column");
  }
  SECTION("wrong column count") {
    iotest::write_bytes(tsv, "name\ttype\nch1\tEMG\nch2\n");
    iotest::require_error<ReadError>([&] { io::read(data); }, tsv, "line 3: expected 2 tab-separated columns, found 1");
  }
  SECTION("bad region") {
    iotest::write_bytes(tsv, "name\tregion\nch1\tknee\n");
    iotest::require_error<ReadError>([&] { io::read(data); }, tsv, "line 2: region: unknown body region 'knee'");
  }
  SECTION("bad grid") {
    iotest::write_bytes(tsv, "name\tgrid_row\tgrid_column\nch1\t1.5\t2\n");
    iotest::require_error<ReadError>([&] { io::read(data); }, tsv, "line 2: grid_row '1.5'");
  }
  SECTION("sampling frequency disagrees") {
    io::ReadOptions o;
    o.fs = 1000;
    iotest::require_error<ReadError>([&] { io::read(data, o); }, json, "SamplingFrequency is 2000 Hz but the data file");
  }
  SECTION("malformed JSON") {
    iotest::write_bytes(json, "{\n  \"SamplingFrequency\": 2000,\n  \"PowerLineFrequency\": ,\n}");
    iotest::require_error<ReadError>([&] { io::read(data); }, json, "malformed JSON at line 3, column 25");
  }
  SECTION("JSON of the wrong shape") {
    iotest::write_bytes(json, "[1, 2]");
    iotest::require_error<ReadError>([&] { io::read(data); }, json, "not an object");
    iotest::write_bytes(json, "{\"SamplingFrequency\": \"fast\"}");
    iotest::require_error<ReadError>([&] { io::read(data); }, json, "SamplingFrequency must be a number");
  }
}
