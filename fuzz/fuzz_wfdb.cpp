// WFDB reader, header and signal data together. The input is the header text,
// optionally followed by a NUL byte and the signal file's bytes; the data are
// written under every file name the header's signal lines mention, so real
// headers (emg_healthy.hea naming emg_healthy.dat) work as seeds unchanged.

#include <fasctrack/io/read.hpp>

#include "fuzz_util.hpp"

#include <algorithm>
#include <filesystem>
#include <set>
#include <vector>

namespace {

bool safe_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == ".." || name == "input.hea") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
  });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto nul = bytes.find('\0');
  const std::string_view header = bytes.substr(0, nul);
  const std::string_view signal = nul == std::string_view::npos ? std::string_view{} : bytes.substr(nul + 1);

  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(fuzzutil::scratch_dir(), ec))
    std::filesystem::remove(entry.path(), ec);

  // First token of each non-comment line after the record line.
  std::set<std::string> names;
  bool record_line = true;
  std::size_t start = 0;
  while (start <= header.size() && names.size() < 8) {
    auto end = header.find('\n', start);
    if (end == std::string_view::npos) end = header.size();
    std::string_view line = header.substr(start, end - start);
    start = end + 1;
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos || line[first] == '#') continue;
    line.remove_prefix(first);
    if (record_line) {
      record_line = false;
      continue;
    }
    const std::string_view token = line.substr(0, line.find_first_of(" \t\r"));
    if (safe_name(token)) names.emplace(token);
  }
  for (const auto& name : names) fuzzutil::write_file(name, signal);

  const std::string path = fuzzutil::write_file("input.hea", header);
  fasctrack::io::ReadOptions options;
  options.use_sidecars = false;
  options.include_non_voltage = size % 2 == 1;
  try {
    fuzzutil::check_recording(fasctrack::io::read(path, options));
  } catch (const fasctrack::ReadError& e) {
    fuzzutil::check_read_error(e);
  }
  return 0;
}
