#pragma once
// Shared by the libFuzzer harnesses. The readers take paths, so each input is
// written to a scratch file first; the directory is per process so parallel
// fuzzers (-jobs, -fork) never share files.

#include <fasctrack/core/error.hpp>
#include <fasctrack/core/recording.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

namespace fuzzutil {

inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/fasctrack-fuzz-XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    // Cleaned up at exit, also when libFuzzer finishes a timed run.
    static struct Remover {
      std::filesystem::path p;
      ~Remover() {
        std::error_code ec;
        std::filesystem::remove_all(p, ec);
      }
    } remover{tmpl};
    return std::filesystem::path(tmpl);
  }();
  return dir;
}

inline std::string write_file(const std::string& name, std::string_view bytes) {
  const std::string path = (scratch_dir() / name).string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "cannot write scratch file %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// A reader's error message must start with the file it concerns (the path
// given, or a file it names: a WFDB signal file, which a header may give as
// an absolute path) and state a problem: the contract of fasctrack::ReadError.
inline void check_read_error(const fasctrack::ReadError& e) {
  const std::string what = e.what();
  if (e.path().empty() || what.rfind(e.path() + ": ", 0) != 0 || e.problem().empty()) {
    std::fprintf(stderr, "ReadError does not name the file and the problem: '%s'\n", what.c_str());
    std::abort();
  }
}

// What every successful read must satisfy.
inline void check_recording(const fasctrack::Recording& rec) {
  rec.validate();  // throws (and so crashes the fuzzer) when inconsistent
  if (rec.channels.size() != static_cast<std::size_t>(rec.n_channels())) std::abort();
  for (const auto& c : rec.channels)
    if (c.name.empty()) std::abort();
}

}  // namespace fuzzutil
