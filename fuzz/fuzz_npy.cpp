// NumPy .npy reader: preamble, the Python-literal header, dtype, shape and
// the claimed size against the bytes present.

#include <fasctrack/io/read.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const std::string path = fuzzutil::write_file("input.npy", bytes);
  fasctrack::io::ReadOptions options;
  options.use_sidecars = false;
  options.fs = 1000.0;
  options.samples_first = size % 2 == 1;
  if (size % 3 == 1) options.sample_type = fasctrack::SampleType::float64;
  if (size % 5 == 2) options.scale_to_uv = 0.8;
  try {
    fuzzutil::check_recording(fasctrack::io::read(path, options));
  } catch (const fasctrack::ReadError& e) {
    fuzzutil::check_read_error(e);
  }
  return 0;
}
