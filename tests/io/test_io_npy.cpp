// .npy reading and writing.

#include "io/io_test_util.hpp"

#include <fasctrack/io/read.hpp>
#include <fasctrack/io/write.hpp>

#include <cstring>

using namespace fasctrack;

namespace {

// Builds a .npy file the way numpy does, for any version/dtype/order.
std::string npy(int major, const std::string& descr, bool fortran, const std::string& shape, const std::string& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  const std::size_t pre = major == 1 ? 10 : 12;
  header.append((64 - (pre + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += static_cast<char>(major);
  out += '\0';
  const std::size_t n = header.size();
  out += static_cast<char>(n & 0xFF);
  out += static_cast<char>((n >> 8) & 0xFF);
  if (major != 1) {
    out += static_cast<char>((n >> 16) & 0xFF);
    out += static_cast<char>((n >> 24) & 0xFF);
  }
  return out + header + data;
}

template <class T>
std::string raw(const std::vector<T>& v, bool big_endian = false) {
  std::string out(v.size() * sizeof(T), '\0');
  std::memcpy(out.data(), v.data(), out.size());
  if (big_endian)
    for (std::size_t i = 0; i < v.size(); ++i) std::reverse(out.begin() + static_cast<std::ptrdiff_t>(i * sizeof(T)),
                                                            out.begin() + static_cast<std::ptrdiff_t>((i + 1) * sizeof(T)));
  return out;
}

io::ReadOptions with_fs(double fs) {
  io::ReadOptions o;
  o.fs = fs;
  return o;
}

}  // namespace

TEST_CASE("write_npy writes numpy's v1.0 layout and reads back", "[io][npy][write]") {
  const auto dir = iotest::scratch("npy_write");
  RowMatrix<double> x(2, 5);
  x << 1, 2, 3, 4, 5, -1.5, -2.5, 1e-300, 1e300, 0;
  io::write_npy<double>(dir + "/x.npy", x);
  CHECK_FALSE(std::filesystem::exists(dir + "/x.npy.tmp"));
  const std::string b = iotest::read_bytes(dir + "/x.npy");
  CHECK(b.substr(0, 8) == std::string("\x93NUMPY\x01\x00", 8));
  const std::size_t hlen = static_cast<unsigned char>(b[8]) | static_cast<unsigned char>(b[9]) << 8;
  CHECK((10 + hlen) % 64 == 0);
  CHECK(b[10 + hlen - 1] == '\n');
  CHECK(b.find("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 5), }") == 10);
  CHECK(b.size() == 10 + hlen + 10 * 8);

  const auto rec = io::read(dir + "/x.npy", with_fs(100));
  CHECK(rec.format == "npy");
  CHECK(iotest::f64(rec) == x);
  CHECK(rec.channels[1].name == "ch2");
  CHECK(rec.channels[0].source_unit == "uV");
  CHECK(rec.channels[0].calibrated);

  // A strided view (every other row) is written row by row.
  RowMatrix<float> big(4, 3);
  big << 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12;
  const Eigen::Map<const RowMatrix<float>, 0, Eigen::OuterStride<>> view(big.data(), 2, 3, Eigen::OuterStride<>(6));
  io::write_npy<float>(dir + "/f.npy", view);
  const auto f = io::read(dir + "/f.npy", with_fs(1));
  REQUIRE(f.sample_type() == SampleType::float32);
  CHECK(iotest::f32(f)(1, 0) == 7.0f);

  iotest::require_error<WriteError>([&] { io::write_npy<double>(dir + "/no/such/dir/x.npy", x); },
                                    dir + "/no/such/dir/x.npy", "cannot create file");
}

TEST_CASE("npy dtypes, versions, byte order and layout", "[io][npy]") {
  const auto dir = iotest::scratch("npy_read");
  const std::vector<double> d = {1, 2, 3, 4, 5, 6};  // logical (2, 3): rows 1 2 3 / 4 5 6
  RowMatrix<double> want(2, 3);
  want << 1, 2, 3, 4, 5, 6;

  SECTION("v2 and v3 headers") {
    for (int major : {2, 3}) {
      const auto p = dir + "/v" + std::to_string(major) + ".npy";
      iotest::write_bytes(p, npy(major, "<f8", false, "(2, 3)", raw(d)));
      CHECK(iotest::f64(io::read(p, with_fs(10))) == want);
    }
  }
  SECTION("Fortran order") {
    const std::vector<double> col_major = {1, 4, 2, 5, 3, 6};
    iotest::write_bytes(dir + "/f.npy", npy(1, "<f8", true, "(2, 3)", raw(col_major)));
    CHECK(iotest::f64(io::read(dir + "/f.npy", with_fs(10))) == want);
  }
  SECTION("samples first") {
    // (3 samples, 2 channels) C order.
    const std::vector<double> s = {1, 4, 2, 5, 3, 6};
    iotest::write_bytes(dir + "/s.npy", npy(1, "<f8", false, "(3, 2)", raw(s)));
    auto o = with_fs(10);
    o.samples_first = true;
    CHECK(iotest::f64(io::read(dir + "/s.npy", o)) == want);
    // Fortran order + samples first: channel-major in memory.
    iotest::write_bytes(dir + "/sf.npy", npy(1, "<f8", true, "(3, 2)", raw(d)));
    CHECK(iotest::f64(io::read(dir + "/sf.npy", o)) == want);
  }
  SECTION("big-endian f8, f4 and i2") {
    iotest::write_bytes(dir + "/b8.npy", npy(1, ">f8", false, "(2, 3)", raw(d, true)));
    CHECK(iotest::f64(io::read(dir + "/b8.npy", with_fs(10))) == want);
    const std::vector<float> f = {1, 2, 3, 4, 5, 6};
    iotest::write_bytes(dir + "/b4.npy", npy(1, ">f4", false, "(2, 3)", raw(f, true)));
    CHECK(iotest::f32(io::read(dir + "/b4.npy", with_fs(10))) == want.cast<float>());
    const std::vector<std::int16_t> i = {1, 2, 3, 4, 5, -32768};
    iotest::write_bytes(dir + "/b2.npy", npy(1, ">i2", false, "(2, 3)", raw(i, true)));
    const auto r = io::read(dir + "/b2.npy", with_fs(10));
    CHECK(iotest::f32(r)(1, 2) == -32768.0f);
  }
  SECTION("int16 becomes float32, scaled; float64 on request") {
    const std::vector<std::int16_t> i = {10, -20, 30};
    iotest::write_bytes(dir + "/i.npy", npy(1, "<i2", false, "(3,)", raw(i)));
    auto o = with_fs(1000);
    o.scale_to_uv = 0.5;
    const auto r = io::read(dir + "/i.npy", o);
    REQUIRE(r.n_channels() == 1);
    CHECK(r.n_samples() == 3);
    CHECK(iotest::f32(r)(0, 1) == -10.0f);
    CHECK(r.channels[0].source_unit == "0.5 uV");
    o.sample_type = SampleType::float64;
    o.scale_to_uv = 1000;
    const auto r64 = io::read(dir + "/i.npy", o);
    CHECK(iotest::f64(r64)(0, 2) == 30000.0);
    CHECK(r64.channels[0].source_unit == "mV");
  }
  SECTION("float32 stays float32") {
    const std::vector<float> f = {0.25f, 0.5f};
    iotest::write_bytes(dir + "/f4.npy", npy(1, "<f4", false, "(2,)", raw(f)));
    CHECK(io::read(dir + "/f4.npy", with_fs(1)).sample_type() == SampleType::float32);
  }
}

TEST_CASE("npy error paths", "[io][npy][errors]") {
  const auto dir = iotest::scratch("npy_errors");
  const std::vector<double> d = {1, 2, 3, 4, 5, 6};
  SECTION("fs is required") {
    iotest::write_bytes(dir + "/a.npy", npy(1, "<f8", false, "(2, 3)", raw(d)));
    iotest::require_error<std::invalid_argument>([&] { io::read(dir + "/a.npy"); }, dir + "/a.npy",
                                                 "fs is required for .npy files");
  }
  SECTION("fs must be positive") {
    iotest::require_error<std::invalid_argument>([&] { io::read(dir + "/a.npy", with_fs(0)); }, dir + "/a.npy",
                                                 "fs must be a positive");
  }
  SECTION("truncated data names both sizes") {
    iotest::write_bytes(dir + "/t.npy", npy(1, "<f8", false, "(2, 3)", raw(d).substr(0, 40)));
    iotest::require_error<ReadError>([&] { io::read(dir + "/t.npy", with_fs(1)); }, dir + "/t.npy",
                                     "truncated: the header says shape (2, 3) of <f8, which needs 48 bytes of data, the file holds 40");
  }
  SECTION("a huge shape fails before allocating") {
    iotest::write_bytes(dir + "/h.npy", npy(1, "<f8", false, "(1000000, 1000000)", raw(d)));
    iotest::require_error<ReadError>([&] { io::read(dir + "/h.npy", with_fs(1)); }, dir + "/h.npy",
                                     "which needs 8000000000000 bytes of data, the file holds 48");
    iotest::write_bytes(dir + "/o.npy", npy(1, "<f8", false, "(18446744073709551615, 18446744073709551615)", raw(d)));
    iotest::require_error<ReadError>([&] { io::read(dir + "/o.npy", with_fs(1)); }, dir + "/o.npy", "corrupt .npy header");
    iotest::write_bytes(dir + "/o2.npy", npy(1, "<f8", false, "(4294967296, 4294967296)", raw(d)));
    iotest::require_error<ReadError>([&] { io::read(dir + "/o2.npy", with_fs(1)); }, dir + "/o2.npy", "more than 2^64");
  }
  SECTION("unsupported dtype names it") {
    iotest::write_bytes(dir + "/u.npy", npy(1, "<i4", false, "(6,)", std::string(24, '\0')));
    iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/u.npy", with_fs(1)); }, dir + "/u.npy",
                                                  "dtype '<i4' is not supported");
    iotest::write_bytes(dir + "/c.npy", npy(1, "<c16", false, "(1,)", std::string(16, '\0')));
    iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/c.npy", with_fs(1)); }, dir + "/c.npy",
                                                  "dtype '<c16'");
  }
  SECTION("3-D and 0-D arrays") {
    iotest::write_bytes(dir + "/3.npy", npy(1, "<f8", false, "(1, 2, 3)", raw(d)));
    iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/3.npy", with_fs(1)); }, dir + "/3.npy",
                                                  "3 dimensions");
    iotest::write_bytes(dir + "/0.npy", npy(1, "<f8", false, "()", raw(d).substr(0, 8)));
    iotest::require_error<ReadError>([&] { io::read(dir + "/0.npy", with_fs(1)); }, dir + "/0.npy", "0-dimensional");
  }
  SECTION("zero samples") {
    iotest::write_bytes(dir + "/z.npy", npy(1, "<f8", false, "(2, 0)", ""));
    iotest::require_error<ReadError>([&] { io::read(dir + "/z.npy", with_fs(1)); }, dir + "/z.npy", "holds no samples");
  }
  SECTION("not npy, empty, bad version, bad header, truncated header") {
    iotest::write_bytes(dir + "/g.npy", "PK\x03\x04 this is a zip");
    iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/g.npy", with_fs(1)); }, dir + "/g.npy",
                                                  "not a .npy file");
    iotest::write_bytes(dir + "/e.npy", "");
    iotest::require_error<ReadError>([&] { io::read(dir + "/e.npy", with_fs(1)); }, dir + "/e.npy", "empty file");
    std::string v9 = npy(1, "<f8", false, "(6,)", raw(d));
    v9[6] = 9;
    iotest::write_bytes(dir + "/v9.npy", v9);
    iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/v9.npy", with_fs(1)); }, dir + "/v9.npy",
                                                  "version 9.0");
    iotest::write_bytes(dir + "/bh.npy", npy(1, "<f8", false, "[6]", raw(d)));
    iotest::require_error<ReadError>([&] { io::read(dir + "/bh.npy", with_fs(1)); }, dir + "/bh.npy",
                                     "corrupt .npy header: expected '('");
    iotest::write_bytes(dir + "/th.npy", npy(1, "<f8", false, "(6,)", raw(d)).substr(0, 30));
    iotest::require_error<ReadError>([&] { io::read(dir + "/th.npy", with_fs(1)); }, dir + "/th.npy",
                                     "truncated: the .npy header claims");
    iotest::write_bytes(dir + "/st.npy", npy(1, "<f8", false, "(6,)", raw(d)).replace(10, 19, "{'descr': [('a', '<f8')]"));
    iotest::require_error<ReadError>([&] { io::read(dir + "/st.npy", with_fs(1)); }, dir + "/st.npy", "structured dtype");
  }
}
