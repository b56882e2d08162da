// EDF / EDF+ / BDF / BDF+ reader: fasctrack's own header parser, EDFlib, and
// the fallback decoder EDFlib-refused files take. The extension is chosen
// from the magic bytes so both the .edf and .bdf dispatch are exercised.

#include <fasctrack/io/read.hpp>

#include "fuzz_util.hpp"

#include <cstring>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const bool bdf = size > 0 && data[0] == 0xFF;
  const std::string path = fuzzutil::write_file(bdf ? "input.bdf" : "input.edf", bytes);
  fasctrack::io::ReadOptions options;
  options.use_sidecars = false;
  // Alternate the options that change the decoding path.
  options.include_non_voltage = size % 2 == 1;
  if (size % 3 == 1) options.sample_type = fasctrack::SampleType::float32;
  try {
    fuzzutil::check_recording(fasctrack::io::read(path, options));
  } catch (const fasctrack::ReadError& e) {
    fuzzutil::check_read_error(e);
  }
  return 0;
}
