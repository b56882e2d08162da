// Format names and dispatch to the per-format readers.

#include <fasctrack/io/read.hpp>

#include "io/common.hpp"

#include <filesystem>
#include <stdexcept>

namespace fasctrack::io {

std::string_view to_string(Format format) noexcept {
  switch (format) {
    case Format::edf: return "edf";
    case Format::bdf: return "bdf";
    case Format::wfdb: return "wfdb";
    case Format::npy: return "npy";
    case Format::csv: return "csv";
    case Format::automatic: break;
  }
  return "auto";
}

Format parse_format(std::string_view text) {
  const std::string t = detail::lower(detail::trim(text));
  if (t.empty() || t == "auto" || t == "automatic") return Format::automatic;
  if (t == "edf" || t == "edf+") return Format::edf;
  if (t == "bdf" || t == "bdf+") return Format::bdf;
  if (t == "wfdb" || t == "hea" || t == "dat") return Format::wfdb;
  if (t == "npy") return Format::npy;
  if (t == "csv" || t == "tsv" || t == "txt") return Format::csv;
  throw std::invalid_argument("format: unknown format '" + std::string(text) +
                              "' (expected edf, bdf, wfdb, npy, csv, tsv, txt or auto)");
}

Format format_from_path(const std::string& path) {
  const std::string ext = detail::extension_lower(path);
  if (ext == ".edf") return Format::edf;
  if (ext == ".bdf") return Format::bdf;
  if (ext == ".hea" || ext == ".dat" || ext.empty()) return Format::wfdb;
  if (ext == ".npy") return Format::npy;
  if (ext == ".csv" || ext == ".tsv" || ext == ".txt") return Format::csv;
  throw UnsupportedFormatError(
      path, "unsupported file extension '" + ext +
                "' (supported: .edf, .bdf, .hea/.dat or a WFDB record name without extension, "
                ".npy, .csv, .tsv, .txt); pass format= to override");
}

Recording read(const std::string& path, const ReadOptions& options) {
  const Format format = options.format == Format::automatic ? format_from_path(path) : options.format;
  switch (format) {
    case Format::edf:
    case Format::bdf: return read_edf(path, options);
    case Format::wfdb: return read_wfdb(path, options);
    case Format::npy: return read_npy(path, options);
    case Format::csv: return read_csv(path, options);
    case Format::automatic: break;
  }
  throw std::logic_error("read: unreachable format");
}

}  // namespace fasctrack::io
