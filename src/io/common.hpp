#pragma once
// Helpers shared by the readers and writers in src/io. Not installed.

#include <fasctrack/core/error.hpp>
#include <fasctrack/core/recording.hpp>
#include <fasctrack/io/read.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fasctrack::io::detail {

std::string trim(std::string_view text);
std::string lower(std::string_view text);
std::string upper(std::string_view text);
bool iequals(std::string_view a, std::string_view b);
bool starts_with_ci(std::string_view text, std::string_view prefix);
/// Splits on runs of spaces/tabs.
std::vector<std::string_view> split_ws(std::string_view text);
/// Splits on one character (empty fields kept).
std::vector<std::string_view> split_on(std::string_view text, char delimiter);

/// Whole-string number parsing; nullopt when the text is not exactly one number.
/// Leading/trailing spaces are allowed, and a leading '+'.
std::optional<double> parse_double(std::string_view text);
std::optional<long long> parse_int(std::string_view text);

/// Quotes a short excerpt of possibly binary text for an error message.
std::string excerpt(std::string_view text, std::size_t max_len = 40);

/// "1.5", "1000" (shortest round-trip form).
std::string format_number(double value);

/// Lists the extension of path, lower-cased, with the dot ("" when none).
std::string extension_lower(const std::string& path);

/// An open binary input file. Throws ReadError with a clear problem for a
/// missing file, a directory or an unreadable file.
class InputFile {
 public:
  explicit InputFile(const std::string& path);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  std::uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }
  /// Reads exactly n bytes at offset; throws ReadError on a short read.
  void read_at(std::uint64_t offset, void* out, std::size_t n);
  /// Reads up to n bytes at offset, returns how many were read.
  std::size_t read_some_at(std::uint64_t offset, void* out, std::size_t n);

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::uint64_t size_ = 0;
};

/// Reads a whole text file (size-checked against a sanity limit).
std::string read_text_file(const std::string& path);

/// Splits text into lines, accepting LF, CRLF and a missing final newline.
std::vector<std::string_view> split_lines(std::string_view text);

/// EDF-style channel type from a label prefix ("EEG Fp1" -> "EEG"); empty
/// when the label has no recognised prefix.
std::string type_from_label(std::string_view label);

/// Enforces ReadOptions::max_bytes before a reader allocates: `values` output
/// numbers held at `bytes_per_value` each at the peak (e.g. 12 while float64
/// samples are cast to float32) plus `buffer_bytes` of file contents and
/// decode buffers. Throws ReadError stating what was needed. Overflow-safe.
void check_memory(const std::string& path, const ReadOptions& options, std::uint64_t channels,
                  std::uint64_t samples, std::uint64_t bytes_per_value, std::uint64_t buffer_bytes = 0);

/// Bytes per output value at the peak of a reader that decodes to float64
/// and converts to the requested type at the end.
std::uint64_t peak_bytes_per_value(const ReadOptions& options, SampleType default_type);

/// Rejects fs <= 0, non-finite fs or scale_to_uv (std::invalid_argument).
void check_options(const std::string& path, const ReadOptions& options);

/// Checks an fs given in the options against the file's own rate.
void check_fs_option(const std::string& path, const ReadOptions& options, double file_fs);

/// Applies sidecars, the channel selection and the requested sample type,
/// then validates. Every reader ends with this.
void finish(Recording& rec, const ReadOptions& options, SampleType default_type);

/// Matrix helpers on the sample variant.
RowMatrix<double>& as_double(Recording& rec);

/// Reads SamplingFrequency from the BIDS emg.json next to data_path, if any.
std::optional<double> sidecar_sampling_frequency(const std::string& data_path);

/// apply_bids_sidecars with the scale the npy/csv reader used, so that a unit
/// in channels.tsv can replace it.
bool apply_sidecars(Recording& rec, const std::string& data_path, double scale_to_uv);

/// Source unit recorded for npy/csv numbers multiplied by scale_to_uv:
/// "uV", "mV", "V", "nV", or "<scale> uV" (one file unit in microvolts).
std::string unit_for_scale(double scale_to_uv);

}  // namespace fasctrack::io::detail
