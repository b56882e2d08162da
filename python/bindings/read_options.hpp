#pragma once
// fasctrack.read's keyword arguments as io::ReadOptions, shared by the
// one-piece reader, the block reader and detect_file so all read a file
// alike. grid_rows = grid_columns = 0: no grid layout given.

#include <fasctrack/io/read.hpp>

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fasctrack::py_bind {

io::ReadOptions read_options(const std::string& format, std::optional<double> fs, double scale_to_uv,
                             const pybind11::object& dtype, std::vector<std::string> channels,
                             bool include_non_voltage, bool use_sidecars, std::optional<bool> samples_first,
                             std::uint64_t max_bytes, int grid_rows = 0, int grid_columns = 0, double ied_mm = 0.0);

}  // namespace fasctrack::py_bind
