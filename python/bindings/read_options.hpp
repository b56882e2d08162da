#pragma once
// fasctrack.read's keyword arguments as io::ReadOptions, shared by the
// one-piece reader and the block reader so both read a file alike.

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
                             std::uint64_t max_bytes);

}  // namespace fasctrack::py_bind
