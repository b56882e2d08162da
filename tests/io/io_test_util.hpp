#pragma once
// Shared helpers for the io tests: paths to the real data, scratch files and
// error-message checks.

#include <catch2/catch.hpp>

#include <fasctrack/core/error.hpp>
#include <fasctrack/core/recording.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace iotest {

inline std::string real(const std::string& relative) {
  return std::string(FASCTRACK_REAL_DATA_DIR) + "/" + relative;
}

/// A fresh scratch directory per test case, so parallel ctest runs never collide.
inline std::string scratch(const std::string& name) {
  const auto dir = std::filesystem::path(FASCTRACK_TEST_TMP_DIR) / "io" / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  REQUIRE(out.good());
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(out.good());
}

/// WFDB format 212: two 12-bit two's-complement samples in three bytes.
inline std::string pack212(const std::vector<int>& samples) {
  std::string out;
  for (std::size_t i = 0; i < samples.size(); i += 2) {
    const unsigned a = static_cast<unsigned>(samples[i]) & 0xFFF;
    const unsigned b = i + 1 < samples.size() ? static_cast<unsigned>(samples[i + 1]) & 0xFFF : 0;
    out += static_cast<char>(a & 0xFF);
    out += static_cast<char>(((a >> 8) & 0x0F) | ((b >> 4) & 0xF0));
    if (i + 1 < samples.size()) out += static_cast<char>(b & 0xFF);
  }
  return out;
}

inline const fasctrack::RowMatrix<double>& f64(const fasctrack::Recording& rec) {
  REQUIRE(std::holds_alternative<fasctrack::RowMatrix<double>>(rec.samples));
  return std::get<fasctrack::RowMatrix<double>>(rec.samples);
}

inline const fasctrack::RowMatrix<float>& f32(const fasctrack::Recording& rec) {
  REQUIRE(std::holds_alternative<fasctrack::RowMatrix<float>>(rec.samples));
  return std::get<fasctrack::RowMatrix<float>>(rec.samples);
}

inline bool has_warning(const fasctrack::Recording& rec, const std::string& a, const std::string& b = "") {
  for (const auto& w : rec.warnings)
    if (w.find(a) != std::string::npos && w.find(b) != std::string::npos) return true;
  return false;
}

/// Runs f, which must throw E, and checks that what() names path and problem.
template <class E, class F>
void require_error(F&& f, const std::string& path, const std::string& problem) {
  bool thrown = false;
  try {
    f();
  } catch (const E& e) {
    thrown = true;
    const std::string what = e.what();
    INFO("message: " << what);
    CHECK(what.find(path) != std::string::npos);
    CHECK(what.find(problem) != std::string::npos);
  }
  CHECK(thrown);
}

}  // namespace iotest
