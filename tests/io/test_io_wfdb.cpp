// WFDB records: the PhysioNet emgdb files as published, synthetic records for
// the other formats, and the error paths.

#include "io/io_test_util.hpp"

#include <fasctrack/io/read.hpp>

#include <cmath>
#include <cstdint>

using namespace fasctrack;
using iotest::real;

namespace {

// Independent decode of a format-16 file: little-endian int16.
std::vector<std::int16_t> int16_file(const std::string& path) {
  const std::string b = iotest::read_bytes(path);
  std::vector<std::int16_t> v(b.size() / 2);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<std::int16_t>(static_cast<std::uint16_t>(static_cast<unsigned char>(b[2 * i]) |
                                                                 static_cast<unsigned char>(b[2 * i + 1]) << 8));
  return v;
}

std::string le16(int v) {
  const auto u = static_cast<std::uint16_t>(static_cast<std::int16_t>(v));
  return {static_cast<char>(u & 0xFF), static_cast<char>(u >> 8)};
}

}  // namespace

TEST_CASE("WFDB emgdb records as published (CRLF headers)", "[io][wfdb]") {
  struct Case {
    const char* name;
    Index n;
    int initial;
    const char* unit;
  };
  for (const Case c : {Case{"emg_healthy", 50860, -333, "mV"}, Case{"emg_myopathy", 110337, -50, "mv"},
                       Case{"emg_neuropathy", 147858, 900, "mV"}}) {
    DYNAMIC_SECTION(c.name) {
      const std::string stem = real(std::string("physionet-emgdb/") + c.name);
      const auto rec = io::read(stem + ".hea");
      CHECK(rec.format == "wfdb");
      CHECK(rec.fs == 4000.0);
      REQUIRE(rec.n_channels() == 1);
      CHECK(rec.n_samples() == c.n);
      CHECK(rec.channels[0].name == "EMG");
      CHECK(rec.channels[0].type == "EMG");
      CHECK(rec.channels[0].source_unit == c.unit);  // lower-case 'mv' accepted as millivolts
      CHECK(rec.channels[0].calibrated);
      CHECK(rec.start_time.empty());
      // Checksums and initial values match; only the neuropathy record's wrap-around is reported.
      if (std::string(c.name) == "emg_neuropathy") {
        REQUIRE(rec.warnings.size() == 1);
        CHECK_THAT(rec.warnings[0], Catch::Contains("wrapped around") && Catch::Contains("first near sample 367"));
      } else {
        CHECK(rec.warnings.empty());
      }
      // Same numbers as wfdb.rdrecord(...).p_signal * 1000: adu / 10000 mV.
      const auto adu = int16_file(stem + ".dat");
      REQUIRE(adu.size() == static_cast<std::size_t>(c.n));
      const auto& x = iotest::f64(rec);
      CHECK(x(0, 0) == Approx(c.initial / 10.0).epsilon(1e-12));
      double worst = 0;
      for (Index t = 0; t < c.n; ++t)
        worst = std::max(worst, std::abs(x(0, t) - static_cast<double>(adu[static_cast<std::size_t>(t)]) / 10000.0 * 1000.0));
      CHECK(worst <= 1e-9);
    }
  }
}

TEST_CASE("WFDB record named by .dat or without extension", "[io][wfdb]") {
  const std::string stem = real("physionet-emgdb/emg_healthy");
  const auto a = io::read(stem);
  const auto b = io::read(stem + ".dat");
  CHECK(a.n_samples() == 50860);
  CHECK(iotest::f64(a) == iotest::f64(b));
  io::ReadOptions o;
  o.sample_type = SampleType::float32;
  CHECK(iotest::f32(io::read(stem, o))(0, 0) == Approx(-33.3f));
}

TEST_CASE("WFDB neuropathy keeps the int16 wrap-around", "[io][wfdb]") {
  const auto rec = io::read(real("physionet-emgdb/emg_neuropathy.hea"));
  const auto& x = iotest::f64(rec);
  // The file holds no sample below -3.2768 mV: wrapped samples read as large positive values.
  CHECK(x.minCoeff() >= -3276.8);
  CHECK(x.maxCoeff() > 3000.0);
  // The reader says so. Needle EMG can itself move ~4 mV in one sample, so
  // only the boundaries where the stored value jumps by more than half the
  // 16-bit range are caught (390 of the 255 runs' 510 edges; the first wrapped
  // sample is 365, the first caught jump is into sample 367).
  REQUIRE(rec.warnings.size() == 1);
  CHECK_THAT(rec.warnings[0], Catch::StartsWith("channel 'EMG': 390 jumps larger than half the 16-bit range") &&
                                  Catch::Contains("probably wrapped around"));
  // Last 1000 samples repeat the first 1000 (a splice in the published record).
  CHECK(x.row(0).tail(1000) == x.row(0).head(1000));
}

TEST_CASE("WFDB synthetic formats 212, 80, 24, multi-file, sentinels", "[io][wfdb]") {
  const auto dir = iotest::scratch("wfdb_formats");
  SECTION("212 with two interleaved signals, baseline and units") {
    std::vector<int> s;
    const int n = 5;
    for (int t = 0; t < n; ++t) {
      s.push_back(100 * t - 200);  // signal a
      s.push_back(-t * 7);         // signal b
    }
    s[2 * 3] = -2048;  // invalid sample in a
    iotest::write_bytes(dir + "/r.dat", iotest::pack212(s));
    iotest::write_bytes(dir + "/r.hea",
                        "r 2 500 5 10:11:12.5 03/04/2020\n"
                        "# a comment\n"
                        "r.dat 212 200(-200)/mV 12 0 -200 0 0 EMG left\n"
                        "r.dat 212 2/uV 12 0 0 0 0 MISC b\n");
    const auto rec = io::read(dir + "/r.hea");
    CHECK(rec.fs == 500.0);
    CHECK(rec.start_time == "2020-04-03T10:11:12.5");
    REQUIRE(rec.n_channels() == 2);
    CHECK(rec.channels[0].name == "EMG left");
    CHECK(rec.channels[1].type == "MISC");
    const auto& x = iotest::f64(rec);
    CHECK(x(0, 0) == Approx(0.0).margin(1e-12));          // (-200 - -200)/200 mV
    CHECK(x(0, 4) == Approx(400.0 / 200.0 * 1000.0));     // (200 + 200)/200 mV
    CHECK(std::isnan(x(0, 3)));
    CHECK(x(1, 4) == Approx(-28.0 / 2.0));
    CHECK(iotest::has_warning(rec, "'EMG left'", "1 invalid samples"));
    CHECK(iotest::has_warning(rec, "'MISC b'", "checksum mismatch"));  // header says 0
  }
  SECTION("format 80 and 24 in two files, no sample count") {
    iotest::write_bytes(dir + "/a.dat", std::string{static_cast<char>(128), static_cast<char>(138), static_cast<char>(0), static_cast<char>(118), static_cast<char>(130)});
    iotest::write_bytes(dir + "/b.dat", std::string("\x01\x00\x00\xff\xff\xff\x00\x00\x80\x10\x00\x00\x05", 13));
    iotest::write_bytes(dir + "/m.hea", "m 2 1000\r\na.dat 80 10/mV\r\nb.dat 24 1000/V\r\n");
    const auto rec = io::read(dir + "/m");
    REQUIRE(rec.n_samples() == 4);
    const auto& x = iotest::f64(rec);
    CHECK(x(0, 1) == Approx(1000.0));  // (138-128)/10 mV
    CHECK(std::isnan(x(0, 2)));        // 0 - 128 = -128 is format 80's invalid value
    CHECK(x(1, 0) == Approx(1000.0));  // 1/1000 V
    CHECK(x(1, 1) == Approx(-1000.0));
    CHECK(std::isnan(x(1, 2)));        // -2^23
    CHECK(x(1, 3) == Approx(16000.0));
    CHECK(iotest::has_warning(rec, "differ in length"));  // a.dat holds 5 samples, b.dat 4 and a stray byte
  }
  SECTION("gain 0 means uncalibrated WFDB default 200") {
    iotest::write_bytes(dir + "/g.dat", le16(400) + le16(-200));
    iotest::write_bytes(dir + "/g.hea", "g 1 100 2\ng.dat 16 0 16 0 400 200 0 EMG\n");
    const auto rec = io::read(dir + "/g.hea");
    CHECK_FALSE(rec.channels[0].calibrated);
    CHECK(iotest::f64(rec)(0, 0) == Approx(2000.0));
    CHECK(iotest::has_warning(rec, "WFDB default of 200"));
    CHECK_FALSE(iotest::has_warning(rec, "checksum"));
  }
  SECTION("initial value mismatch and non-voltage signals") {
    iotest::write_bytes(dir + "/i.dat", le16(1) + le16(5) + le16(2) + le16(6));
    iotest::write_bytes(dir + "/i.hea", "i 2 100 2\ni.dat 16 100/mV 16 0 7 0 0 EMG\ni.dat 16 1/mmHg 16 0 5 11 0 BP\n");
    const auto rec = io::read(dir + "/i.hea");
    REQUIRE(rec.n_channels() == 1);
    CHECK(iotest::has_warning(rec, "initial value mismatch", "header 7, first sample 1"));
    CHECK(iotest::has_warning(rec, "'BP' excluded", "mmHg"));
    io::ReadOptions o;
    o.include_non_voltage = true;
    const auto all = io::read(dir + "/i.hea", o);
    REQUIRE(all.n_channels() == 2);
    CHECK(iotest::f64(all)(1, 1) == 6.0);
    CHECK(all.channels[1].type == "MISC");
  }
}

TEST_CASE("WFDB error paths", "[io][wfdb][errors]") {
  const auto dir = iotest::scratch("wfdb_errors");
  const std::string hea = iotest::read_bytes(real("physionet-emgdb/emg_neuropathy.hea"));
  const std::string dat = iotest::read_bytes(real("physionet-emgdb/emg_neuropathy.dat"));

  SECTION("truncated .dat") {
    iotest::write_bytes(dir + "/emg_neuropathy.hea", hea);
    iotest::write_bytes(dir + "/emg_neuropathy.dat", dat.substr(0, 2001));
    iotest::require_error<ReadError>([&] { io::read(dir + "/emg_neuropathy.hea"); }, dir + "/emg_neuropathy.hea",
                                     "truncated: header says 147858 samples, file holds 1000");
  }
  SECTION("header claiming 10^12 samples fails before allocating") {
    iotest::write_bytes(dir + "/big.hea", "big 1 4000 1000000000000\r\nbig.dat 16 10000/mV 16 0\r\n");
    iotest::write_bytes(dir + "/big.dat", dat.substr(0, 100));
    iotest::require_error<ReadError>([&] { io::read(dir + "/big.hea"); }, dir + "/big.hea",
                                     "truncated: header says 1000000000000 samples, file holds 50");
  }
  SECTION("missing sample count is taken from the file size") {
    iotest::write_bytes(dir + "/n.hea", "n 1 4000\nn.dat 16 10000/mV\n");
    iotest::write_bytes(dir + "/n.dat", dat.substr(0, 1001));
    const auto rec = io::read(dir + "/n.hea");
    CHECK(rec.n_samples() == 500);
  }
  SECTION("multi-segment") {
    iotest::write_bytes(dir + "/ms.hea", "ms/2 1 360 1000\nseg1 500\nseg2 500\n");
    iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/ms.hea"); }, dir + "/ms.hea",
                                                  "multi-segment WFDB records");
  }
  SECTION("unsupported format") {
    iotest::write_bytes(dir + "/f.hea", "f 1 360 10\nf.dat 310 200\n");
    iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/f.hea"); }, dir + "/f.hea",
                                                  "WFDB format 310 is not supported");
  }
  SECTION("missing signal file") {
    iotest::write_bytes(dir + "/nodat.hea", "nodat 1 360 10\nnodat.dat 16 200\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/nodat.hea"); }, dir + "/nodat.dat", "no such file");
  }
  SECTION("missing header") {
    iotest::require_error<ReadError>([&] { io::read(dir + "/ghost"); }, dir + "/ghost", "no such WFDB record");
  }
  SECTION("empty header") {
    iotest::write_bytes(dir + "/e.hea", "");
    iotest::require_error<ReadError>([&] { io::read(dir + "/e.hea"); }, dir + "/e.hea", "empty header file");
  }
  SECTION("fewer signal lines than declared") {
    iotest::write_bytes(dir + "/s.hea", "s 3 360 10\ns.dat 16 200\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/s.hea"); }, dir + "/s.hea",
                                     "declares 3 signals but has 1 signal lines");
  }
  SECTION("zero signals") {
    iotest::write_bytes(dir + "/z.hea", "z 0 360 10\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/z.hea"); }, dir + "/z.hea", "0 signals");
  }
  SECTION("garbage header") {
    iotest::write_bytes(dir + "/g.hea", std::string("\x01\x02\x00\xff garbage", 12));
    iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/g.hea"); }, dir + "/g.hea", "not a WFDB header");
  }
  SECTION("bad numbers name the line") {
    iotest::write_bytes(dir + "/b.hea", "b 1 -4000 10\nb.dat 16 200\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/b.hea"); }, dir + "/b.hea",
                                     "line 1: sampling frequency '-4000' must be a positive number");
    iotest::write_bytes(dir + "/c.hea", "c 1 4000 10\n\n# note\nc.dat 16 abc/mV\n");
    iotest::require_error<ReadError>([&] { io::read(dir + "/c.hea"); }, dir + "/c.hea", "line 4: gain 'abc/mV'");
  }
  SECTION("zero samples") {
    iotest::write_bytes(dir + "/zs.hea", "zs 1 4000\nzs.dat 16 200\n");
    iotest::write_bytes(dir + "/zs.dat", "");
    iotest::require_error<ReadError>([&] { io::read(dir + "/zs.hea"); }, dir + "/zs.hea", "zero samples");
  }
}
