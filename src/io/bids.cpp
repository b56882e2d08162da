// BIDS-EMG sidecars next to a data file <stem>_emg.<ext>:
//
//   <stem>_channels.tsv   one row per channel. BIDS columns used: name
//                         (required), type, units, status (good/bad),
//                         status_description, signal_electrode.
//                         fasctrack extension columns (optional):
//                           muscle or target_muscle  muscle name, e.g. biceps_r
//                           region       bulbar | cervical | thoracic | lumbosacral
//                           side         L | R | midline
//                           grid_row, grid_column   0-based electrode position on a grid
//                           ied_mm       inter-electrode distance of that grid in mm
//   <stem>_emg.json       SamplingFrequency (must agree with the data),
//                         PowerLineFrequency (-> Recording::power_line_hz).
//   <stem>_electrodes.tsv name (required); the extension columns grid_row,
//                         grid_column and ied_mm, matched to channels through
//                         channels.tsv's signal_electrode, else by name. Also
//                         looked up under the stem reduced to its sub-/ses-/acq-
//                         entities, as BIDS names it.
//
// BIDS inheritance up the directory tree is not implemented.
// For .npy/.csv data a voltage unit in channels.tsv sets the scaling, since
// those files carry no unit; for EDF/BDF/WFDB the file's own unit stays
// authoritative and a contradiction is reported as a warning.

#include <fasctrack/io/read.hpp>

#include <nlohmann/json.hpp>

#include "io/common.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <stdexcept>

namespace fasctrack::io {
namespace {

namespace fs = std::filesystem;
using detail::format_number;
using detail::trim;

// ---- JSON sidecars (nlohmann/json, parsed without exceptions) -------------

nlohmann::json read_json(const std::string& path) {
  const std::string text = detail::read_text_file(path);
  if (trim(text).empty()) throw ReadError(path, "empty JSON sidecar");
  std::string_view view = text;
  if (view.substr(0, 3) == "\xEF\xBB\xBF") view.remove_prefix(3);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(view);
  } catch (const nlohmann::json::parse_error& e) {
    // e.byte is 1-based and points at the offending character; users fix
    // sidecars in an editor, so report line and column.
    const std::size_t at = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, view.size());
    const std::size_t line = 1 + static_cast<std::size_t>(std::count(view.begin(), view.begin() + static_cast<std::ptrdiff_t>(at), '\n'));
    const std::size_t line_start = view.rfind('\n', at == 0 ? 0 : at - 1);
    const std::size_t column = line_start == std::string_view::npos || line == 1 ? at + 1 : at - line_start;
    throw ReadError(path, "malformed JSON at line " + std::to_string(line) + ", column " + std::to_string(column));
  }
  if (!j.is_object()) throw ReadError(path, "the JSON sidecar is not an object");
  return j;
}

// ---- TSV ---------------------------------------------------------------------

struct Tsv {
  std::string path;
  std::vector<std::string> columns;
  struct Row {
    int line = 0;
    std::vector<std::string> cells;
  };
  std::vector<Row> rows;

  std::optional<std::size_t> column(std::string_view name) const {
    for (std::size_t i = 0; i < columns.size(); ++i)
      if (detail::iequals(columns[i], name)) return i;
    return std::nullopt;
  }
  // The cell, or nullopt when the column is absent or the cell is n/a / empty.
  std::optional<std::string> get(const Row& row, std::optional<std::size_t> col) const {
    if (!col) return std::nullopt;
    const std::string& v = row.cells[*col];
    if (v.empty() || detail::iequals(v, "n/a")) return std::nullopt;
    return v;
  }
};

Tsv read_tsv(const std::string& path) {
  Tsv t;
  t.path = path;
  const std::string text = detail::read_text_file(path);
  int number = 0;
  for (const auto line : detail::split_lines(text)) {
    ++number;
    if (trim(line).empty()) continue;
    std::vector<std::string> cells;
    for (const auto c : detail::split_on(line, '\t')) cells.push_back(trim(c));
    if (t.columns.empty()) {
      if (number == 1 && !cells.empty() && cells[0].rfind("\xEF\xBB\xBF", 0) == 0) cells[0].erase(0, 3);
      t.columns = std::move(cells);
      continue;
    }
    if (cells.size() != t.columns.size())
      throw ReadError(path, "line " + std::to_string(number) + ": expected " + std::to_string(t.columns.size()) +
                                " tab-separated columns, found " + std::to_string(cells.size()));
    t.rows.push_back({number, std::move(cells)});
  }
  if (t.columns.empty()) throw ReadError(path, "empty TSV sidecar (no header row)");
  if (!t.column("name")) {
    std::string cols;
    for (const auto& c : t.columns) cols += (cols.empty() ? "'" : ", '") + c + "'";
    throw ReadError(path, "line 1: no 'name' column (columns: " + cols + ")");
  }
  return t;
}

// ---- file names --------------------------------------------------------------

struct SidecarPaths {
  fs::path channels;
  fs::path json;
  std::vector<fs::path> electrodes;
};

std::optional<SidecarPaths> sidecar_paths(const std::string& data_path) {
  const fs::path p(data_path);
  std::string stem = p.filename().string();
  if (const auto dot = stem.find('.'); dot != std::string::npos) stem.resize(dot);
  const std::string suffix = "_emg";
  if (stem.size() <= suffix.size() || stem.compare(stem.size() - suffix.size(), suffix.size(), suffix) != 0)
    return std::nullopt;
  const std::string base = stem.substr(0, stem.size() - suffix.size());
  const fs::path dir = p.parent_path();
  SidecarPaths s;
  s.channels = dir / (base + "_channels.tsv");
  s.json = dir / (base + "_emg.json");
  s.electrodes.push_back(dir / (base + "_electrodes.tsv"));
  std::string short_base;
  for (const auto entity : detail::split_on(base, '_')) {
    if (entity.rfind("sub-", 0) != 0 && entity.rfind("ses-", 0) != 0 && entity.rfind("acq-", 0) != 0) continue;
    if (!short_base.empty()) short_base += '_';
    short_base.append(entity);
  }
  if (!short_base.empty() && short_base != base) s.electrodes.push_back(dir / (short_base + "_electrodes.tsv"));
  return s;
}

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::optional<double> json_number(const nlohmann::json& j, std::string_view key, const std::string& path) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return std::nullopt;
  if (it->is_number()) return it->get<double>();
  if (it->is_string() && detail::iequals(it->get<std::string>(), "n/a")) return std::nullopt;
  throw ReadError(path, std::string(key) + " must be a number");
}

// The scale an npy/csv reader applied, recovered from the unit it recorded.
double scale_from_unit(const std::string& unit) {
  if (const auto f = microvolts_per_unit(unit)) return *f;
  const auto space = unit.find(' ');
  if (space != std::string::npos && unit.substr(space + 1) == "uV")
    if (const auto v = detail::parse_double(unit.substr(0, space))) return *v;
  return 1.0;
}

int parse_grid_int(const Tsv& t, const Tsv::Row& row, const std::string& value, const char* column) {
  const auto v = detail::parse_int(value);
  if (!v || *v < 0 || *v > 100000)
    throw ReadError(t.path, "line " + std::to_string(row.line) + ": " + column + " '" + value +
                                "' is not a non-negative whole number");
  return static_cast<int>(*v);
}

struct GridCells {
  std::optional<std::string> row, column, ied;
};

void apply_grid(const Tsv& t, const Tsv::Row& row, const GridCells& g, ChannelInfo& c) {
  if (!g.row && !g.column && !g.ied) return;
  if (!g.row || !g.column)
    throw ReadError(t.path, "line " + std::to_string(row.line) + ": grid_row and grid_column must be given together");
  GridPosition pos;
  pos.row = parse_grid_int(t, row, *g.row, "grid_row");
  pos.column = parse_grid_int(t, row, *g.column, "grid_column");
  if (g.ied) {
    const auto v = detail::parse_double(*g.ied);
    if (!v || !(*v >= 0) || !std::isfinite(*v))
      throw ReadError(t.path, "line " + std::to_string(row.line) + ": ied_mm '" + *g.ied + "' is not a distance in mm");
    pos.ied_mm = *v;
  }
  c.grid = pos;
}

}  // namespace

namespace detail {

std::optional<double> sidecar_sampling_frequency(const std::string& data_path) {
  const auto paths = sidecar_paths(data_path);
  if (!paths || !is_file(paths->json)) return std::nullopt;
  const std::string json_path = paths->json.string();
  return json_number(read_json(json_path), "SamplingFrequency", json_path);
}

bool apply_sidecars(Recording& rec, const std::string& data_path, double scale_to_uv) {
  const auto paths = sidecar_paths(data_path);
  if (!paths) return false;
  bool found = false;

  if (is_file(paths->json)) {
    found = true;
    const std::string jp = paths->json.string();
    const nlohmann::json j = read_json(jp);
    if (const auto sf = json_number(j, "SamplingFrequency", jp); sf && std::abs(*sf - rec.fs) > 1e-3 * rec.fs)
      throw ReadError(jp, "SamplingFrequency is " + format_number(*sf) + " Hz but the data file '" + data_path +
                              "' is sampled at " + format_number(rec.fs) + " Hz");
    if (const auto pl = json_number(j, "PowerLineFrequency", jp)) {
      if (!(*pl > 0) || !std::isfinite(*pl)) throw ReadError(jp, "PowerLineFrequency must be a positive number");
      rec.power_line_hz = *pl;
    }
  }

  std::map<std::string, std::string> electrode_of;  // channel name -> electrode name
  if (is_file(paths->channels)) {
    found = true;
    const Tsv t = read_tsv(paths->channels.string());
    const auto c_name = t.column("name"), c_type = t.column("type"), c_units = t.column("units"),
               c_status = t.column("status"), c_desc = t.column("status_description"),
               c_muscle = t.column("muscle") ? t.column("muscle") : t.column("target_muscle"),
               c_region = t.column("region"), c_side = t.column("side"), c_grow = t.column("grid_row"),
               c_gcol = t.column("grid_column"), c_ied = t.column("ied_mm"), c_electrode = t.column("signal_electrode");
    const bool unitless_format = rec.format == "npy" || rec.format == "csv";
    std::vector<bool> listed(rec.channels.size(), false);
    for (const auto& row : t.rows) {
      const std::string& name = row.cells[*c_name];
      const auto it = std::find_if(rec.channels.begin(), rec.channels.end(),
                                   [&](const ChannelInfo& c) { return c.name == name; });
      if (it == rec.channels.end()) {
        rec.warnings.push_back(t.path + " line " + std::to_string(row.line) + ": channel '" + name +
                               "' is not in the data; row ignored");
        continue;
      }
      const auto idx = static_cast<std::size_t>(it - rec.channels.begin());
      listed[idx] = true;
      ChannelInfo& c = *it;
      const std::string where = t.path + " line " + std::to_string(row.line);
      if (const auto v = t.get(row, c_type)) c.type = detail::upper(*v);
      if (const auto u = t.get(row, c_units)) {
        const auto sidecar_factor = microvolts_per_unit(*u);
        const auto file_factor = microvolts_per_unit(c.source_unit);
        if (unitless_format) {
          if (!sidecar_factor) {
            rec.warnings.push_back(where + ": unit '" + *u + "' of channel '" + name + "' is not a voltage; ignored");
          } else if (c.source_unit != *u) {
            const double applied = scale_to_uv;
            if (applied != 1.0 && applied != *sidecar_factor)
              rec.warnings.push_back(where + ": unit '" + *u + "' of channel '" + name + "' replaces scale_to_uv=" +
                                     format_number(applied));
            const double ratio = *sidecar_factor / applied;
            std::visit([&](auto& m) { m.row(static_cast<Index>(idx)) *= static_cast<typename std::decay_t<decltype(m)>::Scalar>(ratio); },
                       rec.samples);
            c.source_unit = *u;
            c.calibrated = true;
          }
        } else if (sidecar_factor != file_factor) {
          rec.warnings.push_back(where + ": channels.tsv gives unit '" + *u + "' for channel '" + name +
                                 "' but the file says '" + c.source_unit + "'; the file's unit is used");
        }
      }
      if (const auto s = t.get(row, c_status)) {
        if (detail::iequals(*s, "bad")) {
          c.marked_bad = true;
          c.bad_reason = t.get(row, c_desc).value_or("marked bad in " + t.path);
        } else if (!detail::iequals(*s, "good")) {
          rec.warnings.push_back(where + ": status '" + *s + "' of channel '" + name + "' is neither good nor bad; ignored");
        }
      }
      if (const auto m = t.get(row, c_muscle)) c.muscle = *m;
      try {
        if (const auto r = t.get(row, c_region)) c.region = parse_body_region(*r);
        if (const auto s = t.get(row, c_side)) c.side = parse_side(*s);
      } catch (const std::invalid_argument& e) {
        throw ReadError(t.path, "line " + std::to_string(row.line) + ": " + e.what());
      }
      apply_grid(t, row, {t.get(row, c_grow), t.get(row, c_gcol), t.get(row, c_ied)}, c);
      if (const auto e = t.get(row, c_electrode)) electrode_of[name] = *e;
    }
    for (std::size_t i = 0; i < rec.channels.size(); ++i)
      if (!listed[i]) rec.warnings.push_back("channel '" + rec.channels[i].name + "' is not listed in " + t.path);
  }

  for (const auto& ep : paths->electrodes) {
    if (!is_file(ep)) continue;
    found = true;
    const Tsv t = read_tsv(ep.string());
    const auto c_name = t.column("name"), c_grow = t.column("grid_row"), c_gcol = t.column("grid_column"),
               c_ied = t.column("ied_mm");
    for (const auto& row : t.rows) {
      const std::string& electrode = row.cells[*c_name];
      for (auto& c : rec.channels) {
        const auto e = electrode_of.find(c.name);
        if ((e != electrode_of.end() ? e->second : c.name) != electrode) continue;
        apply_grid(t, row, {t.get(row, c_grow), t.get(row, c_gcol), t.get(row, c_ied)}, c);
      }
    }
    break;
  }
  return found;
}

}  // namespace detail

bool apply_bids_sidecars(Recording& rec, const std::string& data_path) {
  const double scale = rec.channels.empty() ? 1.0 : scale_from_unit(rec.channels.front().source_unit);
  return detail::apply_sidecars(rec, data_path, scale);
}

}  // namespace fasctrack::io
