// Format names and dispatch to the per-format readers.

#include <fasctrack/io/read.hpp>

#include "io/common.hpp"

#include <charconv>
#include <cmath>
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

GridLayout parse_grid_layout(std::string_view text) {
  const std::string t = detail::lower(detail::trim(text));
  const auto x = t.find('x');
  auto dimension = [&](std::string_view part) {
    int v = 0;
    const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
    if (part.empty() || ec != std::errc() || end != part.data() + part.size() || v <= 0) return 0;
    return v;
  };
  GridLayout g;
  if (x != std::string::npos) {
    g.rows = dimension(std::string_view(t).substr(0, x));
    g.columns = dimension(std::string_view(t).substr(x + 1));
  }
  if (g.rows <= 0 || g.columns <= 0)
    throw std::invalid_argument("grid: expected ROWSxCOLUMNS with positive whole numbers (e.g. 8x8), got '" +
                                std::string(text) + "'");
  return g;
}

void apply_grid_layout(std::vector<ChannelInfo>& channels, const GridLayout& grid, const std::string& source) {
  const std::string where = source.empty() ? std::string("grid") : source + ": grid";
  if (grid.rows <= 0 || grid.columns <= 0)
    throw std::invalid_argument(where + ": rows and columns must be positive, got " + std::to_string(grid.rows) +
                                "x" + std::to_string(grid.columns));
  if (!(grid.ied_mm >= 0.0) || !std::isfinite(grid.ied_mm))
    throw std::invalid_argument(where + ": inter-electrode distance must be >= 0 mm");
  std::vector<ChannelInfo*> emg;
  for (auto& c : channels) {
    if (c.type != "EMG" && !c.type.empty()) continue;
    if (c.grid)
      throw std::invalid_argument(where + ": channel '" + c.name + "' already has a grid position (row " +
                                  std::to_string(c.grid->row) + ", column " + std::to_string(c.grid->column) +
                                  ", from the file's sidecars); give one layout, not two");
    emg.push_back(&c);
  }
  const auto want = static_cast<std::size_t>(grid.rows) * static_cast<std::size_t>(grid.columns);
  if (emg.size() != want)
    throw std::invalid_argument(where + " " + std::to_string(grid.rows) + "x" + std::to_string(grid.columns) +
                                " places " + std::to_string(want) + " electrodes, the recording has " +
                                std::to_string(emg.size()) + " EMG channel(s)" +
                                (emg.size() > want ? " (keep only the grid's channels)" : ""));
  for (std::size_t k = 0; k < emg.size(); ++k) {
    const int r = static_cast<int>(k) / grid.columns, c = static_cast<int>(k) % grid.columns;
    emg[k]->grid = GridPosition{r, c, grid.ied_mm};
  }
}

}  // namespace fasctrack::io
