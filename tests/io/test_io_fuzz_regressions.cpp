// Inputs that once made a reader misbehave (found by the fuzzers in fuzz/ or
// while writing them). Each is also in the fuzzers' seed corpus as
// fuzz/corpus/<target>/regress-*, so the fuzzers start from it.

#include "io/io_test_util.hpp"

#include <fasctrack/io/read.hpp>

#include <cmath>
#include <string>

#include <sys/stat.h>

using namespace fasctrack;

namespace iotest {
inline std::string excerpt_for_info(const std::string& bytes) {
  std::string out;
  for (const unsigned char c : bytes) out += c >= 32 && c < 127 ? std::string(1, static_cast<char>(c)) : "\\x" + std::to_string(c);
  return out;
}
}  // namespace iotest

TEST_CASE("regression: WFDB base time out of int range is a warning, not undefined behaviour", "[io][wfdb][regression]") {
  // "1e300:..." was converted to int unchecked (UBSan: float-cast-overflow).
  const auto dir = iotest::scratch("regress_wfdb_time");
  iotest::write_bytes(dir + "/r.dat", std::string("\x01\x00\x02\x00\x03\x00\x04\x00", 8));
  for (const std::string time : {"1e300:00:00", "nan:00:00", "10:99999999999:00", "10:00:inf", "-1:00:00", "1:2:3:4"}) {
    INFO(time);
    iotest::write_bytes(dir + "/r.hea", "r 1 1000 4 " + time + " 01/02/2003\nr.dat 16 200/mV\n");
    const auto rec = io::read(dir + "/r.hea");
    CHECK(rec.start_time.empty());
    CHECK(iotest::has_warning(rec, "is not HH:MM:SS"));
  }
  iotest::write_bytes(dir + "/r.hea", "r 1 1000 4 10:11:12.5 01/02/99999\nr.dat 16 200/mV\n");
  const auto rec = io::read(dir + "/r.hea");
  CHECK(rec.start_time == "10:11:12.5");
  CHECK(iotest::has_warning(rec, "only the time of day is kept"));
}

TEST_CASE("regression: a WFDB format number beyond int range is unsupported, not format 16", "[io][wfdb][regression]") {
  const auto dir = iotest::scratch("regress_wfdb_format");
  iotest::write_bytes(dir + "/r.dat", std::string(8, '\x01'));
  iotest::write_bytes(dir + "/r.hea", "r 1 1000 4\nr.dat 4294967312 200/mV\n");
  iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/r.hea"); }, dir + "/r.hea",
                                                "WFDB format 4294967312 is not supported");
}

TEST_CASE("regression: EDF+ time-keeping annotations of nan, inf or 1e300 s", "[io][edf][regression]") {
  // The fallback decoder converted the first record's onset to an integer
  // unchecked (UBSan: float-cast-overflow), and non-finite onsets made every
  // annotation time NaN.
  const auto dir = iotest::scratch("regress_edf_onset");
  const std::string original = iotest::read_bytes(iotest::real("mne-python-edf-bdf/duplicate_channel_labels.edf"));
  const std::size_t first_tal = 256 * 5 + 3 * 250 * 2;  // header, then 3 signals of 250 samples
  REQUIRE(original.substr(first_tal, 5) == std::string("+0\x14\x14\0", 5));
  const std::string tals[] = {std::string("+1e300\x14\x14", 8), std::string("+nan\x14\x14\0\0", 8),
                              std::string("+inf\x14\x14\0\0", 8), std::string("+0\x15nan\x14\x14", 8)};
  for (const auto& tal : tals) {
    INFO(iotest::excerpt_for_info(tal));
    std::string edf = original;
    edf.replace(236, 8, "      10");  // right-aligned record count: EDFlib refuses, the fallback decodes
    edf.replace(first_tal, 8, tal);
    const auto p = dir + "/onset.edf";
    iotest::write_bytes(p, edf);
    const auto rec = io::read(p);
    CHECK(iotest::has_warning(rec, "decoded by fasctrack's own EDF/BDF reader"));
    CHECK(rec.n_samples() == 2500);
    if (tal[1] == '1') CHECK(iotest::has_warning(rec, "time-keeping annotation says 1e+300 s"));
    for (const auto& a : rec.annotations) {
      CHECK(std::isfinite(a.onset_s));
      CHECK(std::isfinite(a.duration_s));
    }
  }
}

TEST_CASE("regression: pipes and devices are refused at once, also when a WFDB header names them", "[io][regression]") {
  // A header may name any path as its signal file; opening a FIFO blocked
  // until a writer came (a hang), and a device has no size to check claims by.
  const auto dir = iotest::scratch("regress_fifo");
  const std::string fifo = dir + "/signal.fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  iotest::require_error<ReadError>([&] { io::read(fifo, [] {
                                      io::ReadOptions o;
                                      o.format = io::Format::csv;
                                      o.fs = 1000.0;
                                      return o;
                                    }()); },
                                   fifo, "not a regular file");
  iotest::write_bytes(dir + "/r.hea", "r 1 1000 4\nsignal.fifo 16 200/mV\n");
  iotest::require_error<ReadError>([&] { io::read(dir + "/r.hea"); }, fifo, "not a regular file");
  iotest::write_bytes(dir + "/z.hea", "z 1 1000 4\n/dev/zero 16 200/mV\n");
  iotest::require_error<ReadError>([&] { io::read(dir + "/z.hea"); }, "/dev/zero", "not a regular file");
  // An absolute signal file name is followed (as wfdb does); a missing one is named.
  iotest::write_bytes(dir + "/a.hea", "a 1 1000 4\n/nonexistent-fasctrack-dir/9r.dat 16 200/mV\n");
  iotest::require_error<ReadError>([&] { io::read(dir + "/a.hea"); }, "/nonexistent-fasctrack-dir/9r.dat",
                                   "no such file");
}
