// Delimited-text reader: delimiter detection, header rows, time columns,
// OpenSignals '#' headers and the rate checks between them.

#include <fasctrack/io/read.hpp>

#include "fuzz_util.hpp"

#include <stdexcept>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string path = fuzzutil::write_file(size % 2 ? "input.csv" : "input.txt", bytes);
  fasctrack::io::ReadOptions options;
  options.use_sidecars = false;
  if (size % 3 == 1) options.samples_first = false;
  try {
    try {
      fuzzutil::check_recording(fasctrack::io::read(path, options));
    } catch (const std::invalid_argument& e) {
      // The one documented argument error: a file without its own rate needs fs.
      if (std::string_view(e.what()).find("fs is required") == std::string_view::npos) throw;
      options.fs = 1000.0;
      fuzzutil::check_recording(fasctrack::io::read(path, options));
    }
  } catch (const fasctrack::ReadError& e) {
    fuzzutil::check_read_error(e);
  }
  return 0;
}
