#pragma once
// Writing recordings and arrays.

#include <fasctrack/core/recording.hpp>

#include <string>

namespace fasctrack::io {

/// Writes a (n_channels, n_samples) array as a NumPy .npy file (v1.0, C order,
/// little-endian float32 or float64). Written to a temporary file and renamed,
/// so a failed write never leaves a half file. Throws WriteError.
template <class T>
void write_npy(const std::string& path, SignalView<T> x);

struct EdfWriteOptions {
  bool bdf = false;                 ///< BDF+ (24-bit) instead of EDF+ (16-bit)
  double physical_range_uv = 0.0;   ///< symmetric physical range; 0 = from the data with 10% headroom
};

/// Writes an EDF+ / BDF+ file through EDFlib, with channel labels, unit uV,
/// start time and annotations. The recording is padded with zeros to whole
/// one-second data records when fs * 1 s is an integer (otherwise throws
/// std::invalid_argument). Throws WriteError on I/O failure.
void write_edf(const std::string& path, const Recording& rec, const EdfWriteOptions& options = {});

}  // namespace fasctrack::io
