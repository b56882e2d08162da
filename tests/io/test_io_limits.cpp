// Resource limits: a reader never allocates more than the file can justify,
// headers that claim absurd sizes fail fast with a message naming the file
// and both sizes, and ReadOptions::max_bytes bounds the memory of a read and
// reports what was needed. README "Guarantees" cites these test names.

#include "io/io_test_util.hpp"

#include <fasctrack/io/read.hpp>

#include <chrono>
#include <cmath>
#include <cstring>

using namespace fasctrack;
using iotest::real;

namespace {

// Claims are refused from the header and the file size alone; this bound is
// generous for sanitizer builds and far below what allocating or touching
// 10^12 samples would take.
constexpr double kFastSeconds = 5.0;

template <class F>
double seconds(F&& f) {
  const auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string npy_v1(const std::string& descr, const std::string& shape, const std::string& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

}  // namespace

TEST_CASE("headers claiming 10^12 samples fail fast, naming the file and both sizes", "[io][limits][errors]") {
  const auto dir = iotest::scratch("limits_claims");

  SECTION("EDF: 10^8 records of 10^8 samples") {
    std::string b = iotest::read_bytes(real("mne-python-edf-bdf/duplicate_channel_labels.edf"));
    b.replace(236, 8, "99999999");  // number of data records
    const auto p = dir + "/records.edf";
    iotest::write_bytes(p, b);
    const double s = seconds([&] {
      iotest::require_error<ReadError>([&] { io::read(p); }, p, "truncated: file is shorter than its header says");
    });
    CHECK(s < kFastSeconds);
    // Samples per record: 4 signal headers after the fixed 256 bytes.
    const std::size_t spr_at = 256 + 4 * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80);
    b.replace(spr_at, 8, "99999999");
    const auto q = dir + "/spr.edf";
    iotest::write_bytes(q, b);
    iotest::require_error<ReadError>([&] { io::read(q); }, q, "has 99999999 samples per data record");
  }
  SECTION("BDF: a data record larger than the file") {
    std::string b = iotest::read_bytes(real("mne-python-edf-bdf/test.bdf"));
    const std::size_t ns = 73;
    const std::size_t spr_at = 256 + ns * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80);
    b.replace(spr_at, 8, "9999999 ");
    const auto p = dir + "/record.bdf";
    iotest::write_bytes(p, b);
    const double s = seconds([&] {
      iotest::require_error<ReadError>([&] { io::read(p); }, p, "has 9999999 samples per data record");
    });
    CHECK(s < kFastSeconds);
  }
  SECTION("WFDB: 10^12 samples in the record line, any skew") {
    iotest::write_bytes(dir + "/big.dat", std::string(100, '\x01'));
    iotest::write_bytes(dir + "/big.hea", "big 1 4000 1000000000000\nbig.dat 16 200/mV\n");
    const double s = seconds([&] {
      iotest::require_error<ReadError>([&] { io::read(dir + "/big.hea"); }, dir + "/big.hea",
                                       "truncated: header says 1000000000000 samples, file holds 50");
    });
    CHECK(s < kFastSeconds);
    // A skew beyond the file is missing data, not an allocation or an overflow.
    iotest::write_bytes(dir + "/skew.hea", "skew 2 4000 25\nbig.dat 16:9223372036854775807 200/mV\nbig.dat 16 200/mV\n");
    const auto rec = io::read(dir + "/skew.hea");
    REQUIRE(rec.n_samples() == 25);
    const auto& x = iotest::f64(rec);
    for (Index t = 0; t < 25; ++t) CHECK(std::isnan(x(0, t)));
    CHECK(x.row(1).allFinite());
    CHECK(iotest::has_warning(rec, "25 invalid samples"));
  }
  SECTION("NPY: shape (10^6, 10^6)") {
    const auto p = dir + "/huge.npy";
    iotest::write_bytes(p, npy_v1("<f8", "(1000000, 1000000)", std::string(48, '\0')));
    io::ReadOptions o;
    o.fs = 1000.0;
    const double s = seconds([&] {
      iotest::require_error<ReadError>([&] { io::read(p, o); }, p,
                                       "which needs 8000000000000 bytes of data, the file holds 48");
    });
    CHECK(s < kFastSeconds);
  }
  SECTION("CSV: a header row of 300000 columns over one-number rows") {
    // The column count comes from the first line; it must not size a buffer
    // of rows x columns before the rows are checked.
    std::string text;
    for (int c = 0; c < 300000; ++c) text += (c ? ",c" : "c");
    text += '\n';
    for (int r = 0; r < 200000; ++r) text += "1\n";
    const auto p = dir + "/wide.csv";
    iotest::write_bytes(p, text);
    io::ReadOptions o;
    o.fs = 1000.0;
    const double s = seconds([&] {
      iotest::require_error<ReadError>([&] { io::read(p, o); }, p, "line 2: expected 300000 comma-separated columns, found 1");
    });
    CHECK(s < kFastSeconds);
  }
}

TEST_CASE("max_bytes bounds a read and reports the bytes needed", "[io][limits][errors]") {
  const auto dir = iotest::scratch("limits_max_bytes");

  SECTION("BDF") {
    const auto p = real("mne-python-edf-bdf/test.bdf");
    io::ReadOptions o;
    o.max_bytes = 1'000'000;
    // 72 voltage channels x 2048 samples x 8 bytes + one 448512-byte data record.
    iotest::require_error<ReadError>([&] { io::read(p, o); }, p,
                                     "reading it needs 1.63 MB of memory (72 channel(s) x 2048 samples at 8 bytes "
                                     "each, plus 449 kB of file buffers), more than the limit max_bytes = 1000000 (1 MB)");
    o.sample_type = SampleType::float32;
    iotest::require_error<ReadError>([&] { io::read(p, o); }, p, "at 12 bytes each");
    o.max_bytes = 3'000'000;
    CHECK(io::read(p, o).n_channels() == 72);
  }
  SECTION("WFDB") {
    const auto p = real("physionet-emgdb/emg_healthy.hea");
    io::ReadOptions o;
    o.max_bytes = 100'000;
    iotest::require_error<ReadError>([&] { io::read(p, o); }, p, "1 channel(s) x 50860 samples at 8 bytes each");
    o.max_bytes = 1'000'000;
    CHECK(io::read(p, o).n_samples() == 50860);
  }
  SECTION("CSV: the file size alone can exceed the limit") {
    const auto p = real("biosppy-emg/emg.txt");
    io::ReadOptions o;
    o.max_bytes = 500'000;
    iotest::require_error<ReadError>([&] { io::read(p, o); }, p, "plus 700 kB of file buffers), more than the limit max_bytes = 500000");
    o.max_bytes = 3'000'000;
    iotest::require_error<ReadError>([&] { io::read(p, o); }, p, "1 channel(s) x 100000 samples at 16 bytes each");
    o.max_bytes = 10'000'000;
    CHECK(io::read(p, o).n_samples() == 100000);
  }
  SECTION("NPY") {
    const auto p = dir + "/a.npy";
    iotest::write_bytes(p, npy_v1("<f4", "(2, 1000)", std::string(8000, '\0')));
    io::ReadOptions o;
    o.fs = 1000.0;
    o.max_bytes = 10'000;
    iotest::require_error<ReadError>([&] { io::read(p, o); }, p,
                                     "reading it needs 16 kB of memory (2 channel(s) x 1000 samples at 4 bytes each, "
                                     "plus 8 kB of file buffers)");
    o.max_bytes = 16'000;
    CHECK(io::read(p, o).n_samples() == 1000);
  }
  SECTION("no limit by default") {
    CHECK(io::ReadOptions{}.max_bytes == 0);
  }
}
