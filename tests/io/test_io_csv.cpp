// Delimited text: PhysioNet's text export, BioSPPy's OpenSignals text, and
// synthetic files for the delimiter, header and error handling.

#include "io/io_test_util.hpp"

#include <fasctrack/io/read.hpp>

#include <cmath>

using namespace fasctrack;
using iotest::real;

TEST_CASE("PhysioNet emg_neuropathy.txt: time column, mV values, unwrapped", "[io][csv]") {
  io::ReadOptions o;
  o.scale_to_uv = 1000.0;  // the file holds millivolts but says so nowhere
  const auto txt = io::read(real("physionet-emgdb/emg_neuropathy.txt"), o);
  CHECK(txt.format == "csv");
  CHECK(txt.fs == 4000.0);  // 1 / median step of the rounded time column
  REQUIRE(txt.n_channels() == 1);
  CHECK(txt.n_samples() == 147858);
  CHECK(txt.channels[0].source_unit == "mV");
  CHECK(iotest::has_warning(txt, "time column is irregular"));

  const auto dat = io::read(real("physionet-emgdb/emg_neuropathy.hea"));
  const auto& a = iotest::f64(txt);
  const auto& b = iotest::f64(dat);
  REQUIRE(a.cols() == b.cols());
  // txt = dat everywhere except the samples the 16-bit file wrapped, where txt = dat - 6553.6 uV.
  Index wrapped = 0, runs = 0, first = -1, other = 0;
  bool in_run = false;
  for (Index t = 0; t < a.cols(); ++t) {
    const double diff = a(0, t) - b(0, t);
    if (std::abs(diff) < 1e-6) {
      in_run = false;
      continue;
    }
    if (std::abs(diff + 6553.6) < 1e-6) {
      ++wrapped;
      if (first < 0) first = t;
      if (!in_run) ++runs;
      in_run = true;
    } else {
      ++other;
    }
  }
  CHECK(wrapped == 410);
  CHECK(runs == 255);
  CHECK(first == 365);
  CHECK(other == 0);
  CHECK(a.minCoeff() == Approx(-7300.0));
}

TEST_CASE("BioSPPy text: header fs and labels, raw ADC counts", "[io][csv]") {
  struct Case {
    const char* file;
    Index n;
    double first, min, max;
  };
  for (const Case c : {Case{"biosppy-emg/emg.txt", 100000, 2055, 2037, 2071}, Case{"biosppy-emg/emg_1.txt", 63880, 2034, 1412, 2443}}) {
    DYNAMIC_SECTION(c.file) {
      const auto rec = io::read(real(c.file));
      CHECK(rec.fs == 1000.0);
      REQUIRE(rec.n_channels() == 1);
      CHECK(rec.n_samples() == c.n);
      CHECK(rec.channels[0].name == "EMG");
      CHECK(rec.channels[0].source_unit == "counts");
      CHECK_FALSE(rec.channels[0].calibrated);
      CHECK(iotest::has_warning(rec, "uncalibrated ADC counts", "12-bit"));
      const auto& x = iotest::f64(rec);
      CHECK(x(0, 0) == c.first);
      CHECK(x.minCoeff() == c.min);
      CHECK(x.maxCoeff() == c.max);
    }
  }
  io::ReadOptions o;
  o.scale_to_uv = 0.8;
  const auto scaled = io::read(real("biosppy-emg/emg_1.txt"), o);
  CHECK(iotest::f64(scaled)(0, 0) == Approx(2034 * 0.8));
  CHECK(scaled.channels[0].calibrated);
  CHECK(iotest::has_warning(scaled, "converted with scale_to_uv=0.8"));
  o.fs = 500;
  iotest::require_error<ReadError>([&] { io::read(real("biosppy-emg/emg_1.txt"), o); }, real("biosppy-emg/emg_1.txt"),
                                   "fs given as 500 Hz but the '# Sampling Rate' header says 1000 Hz");
}

TEST_CASE("CSV delimiters, header rows and time columns", "[io][csv]") {
  const auto dir = iotest::scratch("csv_synthetic");
  SECTION("comma with header and named time column") {
    iotest::write_bytes(dir + "/a.csv", "time,EMG biceps,EMG triceps\r\n0.000,1,2\r\n0.002,3,4\r\n0.004,5,6\r\n");
    const auto rec = io::read(dir + "/a.csv");
    CHECK(rec.fs == 500.0);
    REQUIRE(rec.n_channels() == 2);
    CHECK(rec.channels[1].name == "EMG triceps");
    CHECK(iotest::f64(rec)(1, 2) == 6.0);
  }
  SECTION("tab, semicolon and whitespace") {
    iotest::write_bytes(dir + "/t.tsv", "a\tb\n1\t2\n3\t4\n");
    iotest::write_bytes(dir + "/s.csv", "a;b\n1;2\n3;4\n");
    iotest::write_bytes(dir + "/w.txt", "# comment\n  3   2\n 1 \t 4\n");
    io::ReadOptions o;
    o.fs = 100;
    for (const auto* f : {"/t.tsv", "/s.csv", "/w.txt"}) {
      const auto rec = io::read(dir + f, o);
      INFO(f);
      REQUIRE(rec.n_channels() == 2);
      CHECK(iotest::f64(rec)(1, 1) == 4.0);
    }
  }
  SECTION("unnamed increasing first column is not time when steps vary") {
    iotest::write_bytes(dir + "/v.csv", "1,5\n2,6\n4,7\n8,8\n16,9\n");
    io::ReadOptions o;
    o.fs = 10;
    CHECK(io::read(dir + "/v.csv", o).n_channels() == 2);
  }
  SECTION("fs and the time column must agree within 1%") {
    iotest::write_bytes(dir + "/tc.csv", "0.001 7\n0.002 8\n0.003 9\n");
    io::ReadOptions o;
    o.fs = 1005;
    CHECK(io::read(dir + "/tc.csv", o).fs == 1005.0);
    o.fs = 2000;
    iotest::require_error<ReadError>([&] { io::read(dir + "/tc.csv", o); }, dir + "/tc.csv",
                                     "fs given as 2000 Hz but the time column implies 1000 Hz");
  }
  SECTION("rows are channels") {
    iotest::write_bytes(dir + "/r.csv", "1,2,3\n4,5,6\n");
    io::ReadOptions o;
    o.fs = 10;
    o.samples_first = false;
    const auto rec = io::read(dir + "/r.csv", o);
    CHECK(rec.n_channels() == 2);
    CHECK(rec.n_samples() == 3);
  }
  SECTION("duplicate names") {
    iotest::write_bytes(dir + "/d.csv", "x,x\n1,2\n");
    io::ReadOptions o;
    o.fs = 10;
    const auto rec = io::read(dir + "/d.csv", o);
    CHECK(rec.channels[1].name == "x (2)");
  }
}

TEST_CASE("CSV error paths", "[io][csv][errors]") {
  const auto dir = iotest::scratch("csv_errors");
  io::ReadOptions o;
  o.fs = 100;
  SECTION("ragged row names line and counts") {
    iotest::write_bytes(dir + "/r.csv", "a,b\n1,2\n3\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/r.csv", o); }, dir + "/r.csv",
                                     "line 3: expected 2 comma-separated columns, found 1");
  }
  SECTION("non-numeric cell names line and column") {
    iotest::write_bytes(dir + "/n.csv", "# c\n1,2\n3,x4\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/n.csv", o); }, dir + "/n.csv",
                                     "line 3, column 2: 'x4' is not a number");
  }
  SECTION("missing fs") {
    iotest::write_bytes(dir + "/m.csv", "1\n2\n");
    iotest::require_error<std::invalid_argument>([&] { io::read(dir + "/m.csv"); }, dir + "/m.csv", "fs is required");
  }
  SECTION("empty, comments only, header only, binary") {
    iotest::write_bytes(dir + "/e.csv", "");
    iotest::require_error<ReadError>([&] { io::read(dir + "/e.csv", o); }, dir + "/e.csv", "empty file");
    iotest::write_bytes(dir + "/c.csv", "# Sampling Rate (Hz):= 1000\n\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/c.csv", o); }, dir + "/c.csv", "no data rows");
    iotest::write_bytes(dir + "/h.csv", "a,b\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/h.csv", o); }, dir + "/h.csv", "only a header row");
    iotest::write_bytes(dir + "/b.csv", std::string("1,2\n\0\0\0", 7));
    iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/b.csv", o); }, dir + "/b.csv", "not a text file");
  }
  SECTION("time column that goes backwards") {
    iotest::write_bytes(dir + "/t.csv", "time,v\n0.1,1\n0.2,2\n0.15,3\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/t.csv"); }, dir + "/t.csv",
                                     "line 4: the time column 'time' does not increase");
  }
  SECTION("only a time column") {
    iotest::write_bytes(dir + "/o.csv", "time\n0.1\n0.2\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/o.csv"); }, dir + "/o.csv", "no data columns");
  }
}

TEST_CASE("Format dispatch and names", "[io]") {
  CHECK(io::format_from_path("x.EDF") == io::Format::edf);
  CHECK(io::format_from_path("x.bdf") == io::Format::bdf);
  CHECK(io::format_from_path("dir.v2/rec") == io::Format::wfdb);
  CHECK(io::format_from_path("rec.hea") == io::Format::wfdb);
  CHECK(io::format_from_path("rec.dat") == io::Format::wfdb);
  CHECK(io::format_from_path("a.npy") == io::Format::npy);
  CHECK(io::format_from_path("a.tsv") == io::Format::csv);
  CHECK(io::parse_format("TXT") == io::Format::csv);
  CHECK(io::parse_format("auto") == io::Format::automatic);
  CHECK(io::to_string(io::Format::bdf) == "bdf");
  iotest::require_error<std::invalid_argument>([] { io::parse_format("mat"); }, "", "unknown format 'mat'");
  iotest::require_error<UnsupportedFormatError>([] { io::read("/tmp/some file.xyz"); }, "/tmp/some file.xyz",
                                                "unsupported file extension '.xyz' (supported: .edf, .bdf");
  // An explicit format overrides the extension.
  io::ReadOptions o;
  o.format = io::Format::csv;
  o.fs = 1;
  const auto dir = iotest::scratch("dispatch");
  iotest::write_bytes(dir + "/data.log", "1\n2\n");
  CHECK(io::read(dir + "/data.log", o).n_samples() == 2);
  io::ReadOptions neg;
  neg.format = io::Format::csv;
  neg.scale_to_uv = -1;
  iotest::require_error<std::invalid_argument>([&] { io::read(dir + "/data.log", neg); }, dir + "/data.log",
                                               "scale_to_uv must be a positive");
}
