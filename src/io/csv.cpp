// Delimited text: CSV, TSV and whitespace-separated TXT.
//
// Understands '#' comment lines, including the OpenSignals / BioSPPy
// "Simple Text Format" header ("# Sampling Rate (Hz):= 1000.00",
// "# Resolution:= 12", "# Labels:= EMG"), an optional row of column names and
// an optional time column. Text carries no unit: numbers are multiplied by
// ReadOptions::scale_to_uv. A '# Resolution:=' header marks raw ADC counts.

#include <fasctrack/io/read.hpp>

#include "io/common.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <stdexcept>

namespace fasctrack::io {
namespace {

using detail::format_number;
using detail::excerpt;
using detail::trim;

bool is_time_name(const std::string& name) {
  const std::string n = detail::lower(trim(name));
  return n == "time" || n == "t" || n == "time_s" || n == "seconds" || n == "time (s)" || n == "time(s)" ||
         n == "time [s]" || n == "time_sec" || n == "sec" || n == "s";
}

struct Meta {
  std::optional<double> fs;
  std::vector<std::string> labels;
  std::optional<int> resolution;
};

// "# Key:= value" lines of the OpenSignals Simple Text Format.
void parse_comment(std::string_view line, Meta& meta) {
  const std::string body = trim(line.substr(1));
  const auto sep = body.find(":=");
  if (sep == std::string::npos) return;
  const std::string key = detail::lower(trim(body.substr(0, sep)));
  const std::string value = trim(body.substr(sep + 2));
  if (key.rfind("sampling rate", 0) == 0 || key == "fs" || key == "sampling frequency") {
    if (const auto v = detail::parse_double(value)) meta.fs = *v;
  } else if (key == "labels" || key == "label") {
    meta.labels.clear();
    for (const auto part : detail::split_ws(value)) {
      std::string p(part);
      p.erase(std::remove(p.begin(), p.end(), ','), p.end());
      if (!p.empty()) meta.labels.push_back(p);
    }
  } else if (key == "resolution") {
    if (const auto v = detail::parse_int(value)) meta.resolution = static_cast<int>(*v);
  }
}

enum class Delimiter { comma, tab, semicolon, whitespace };

std::vector<std::string_view> split_cells(std::string_view line, Delimiter d) {
  std::vector<std::string_view> cells;
  switch (d) {
    case Delimiter::whitespace: return detail::split_ws(line);
    case Delimiter::comma: cells = detail::split_on(line, ','); break;
    case Delimiter::tab: cells = detail::split_on(line, '\t'); break;
    case Delimiter::semicolon: cells = detail::split_on(line, ';'); break;
  }
  for (auto& c : cells) {
    while (!c.empty() && (c.front() == ' ' || c.front() == '\t')) c.remove_prefix(1);
    while (!c.empty() && (c.back() == ' ' || c.back() == '\t' || c.back() == '\r')) c.remove_suffix(1);
    if (c.size() >= 2 && c.front() == '"' && c.back() == '"') c = c.substr(1, c.size() - 2);
  }
  return cells;
}

std::string delimiter_name(Delimiter d) {
  switch (d) {
    case Delimiter::comma: return "comma";
    case Delimiter::tab: return "tab";
    case Delimiter::semicolon: return "semicolon";
    case Delimiter::whitespace: break;
  }
  return "whitespace";
}

std::string short_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

double median(std::vector<double> v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  if (v.size() % 2 == 1) return *mid;
  const double hi = *mid;
  const double lo = *std::max_element(v.begin(), mid);
  return 0.5 * (lo + hi);
}

// Rate implied by a time column, rounded to a whole Hz when that is within
// float noise (decimal time stamps such as 0.00025 are not exact in binary).
double rate_from_step(double step) {
  double fs = 1.0 / step;
  if (std::abs(fs - std::round(fs)) < 1e-6 * fs) fs = std::round(fs);
  return fs;
}

}  // namespace

Recording read_csv(const std::string& path, const ReadOptions& options) {
  detail::check_options(path, options);
  if (options.max_bytes > 0) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec) detail::check_memory(path, options, 0, 0, 0, size);
  }
  std::string text = detail::read_text_file(path);
  if (text.empty()) throw ReadError(path, "empty file (0 bytes)");
  if (text.find('\0') != std::string::npos) throw UnsupportedFormatError(path, "not a text file: it holds NUL bytes");
  if (text.rfind("\xEF\xBB\xBF", 0) == 0) text.erase(0, 3);

  Meta meta;
  struct Row {
    std::string_view text;
    int line;
  };
  std::vector<Row> rows;
  int number = 0;
  for (const auto line : detail::split_lines(text)) {
    ++number;
    std::string_view t = line;
    while (!t.empty() && (t.front() == ' ' || t.front() == '\t')) t.remove_prefix(1);
    if (t.empty() || trim(t).empty()) continue;
    if (t.front() == '#') {
      if (rows.empty()) parse_comment(t, meta);
      continue;
    }
    rows.push_back({line, number});
  }
  if (rows.empty()) throw ReadError(path, "no data rows (zero samples)");

  const std::string_view first = rows.front().text;
  Delimiter delim = Delimiter::whitespace;
  if (first.find('\t') != std::string_view::npos) delim = Delimiter::tab;
  else if (first.find(';') != std::string_view::npos) delim = Delimiter::semicolon;
  else if (first.find(',') != std::string_view::npos) delim = Delimiter::comma;

  std::vector<std::string> header;
  {
    const auto cells = split_cells(first, delim);
    const bool numeric = std::all_of(cells.begin(), cells.end(), [](std::string_view c) { return detail::parse_double(c).has_value(); });
    if (!numeric) {
      for (const auto c : cells) header.emplace_back(trim(c));
      rows.erase(rows.begin());
    }
  }
  if (rows.empty()) throw ReadError(path, "only a header row, no data rows (zero samples)");
  const std::size_t ncols = header.empty() ? split_cells(rows.front().text, delim).size() : header.size();

  // The parsed numbers, the matrix and a float32 copy, plus the text held meanwhile.
  const bool rows_are_samples = options.samples_first.value_or(true);
  detail::check_memory(path, options, rows_are_samples ? ncols : rows.size(), rows_are_samples ? rows.size() : ncols,
                       8 + detail::peak_bytes_per_value(options, SampleType::float64),
                       text.size() + rows.size() * sizeof(Row));
  std::vector<double> values;
  // The column count comes from the first line; a long header must not
  // reserve more than the rows can hold (every cell takes at least one byte).
  values.reserve(std::min(rows.size() * ncols, text.size()));
  for (const auto& row : rows) {
    const auto cells = split_cells(row.text, delim);
    if (cells.size() != ncols)
      throw ReadError(path, "line " + std::to_string(row.line) + ": expected " + std::to_string(ncols) + " " +
                                delimiter_name(delim) + "-separated columns, found " + std::to_string(cells.size()));
    for (std::size_t c = 0; c < ncols; ++c) {
      const auto v = detail::parse_double(cells[c]);
      if (!v)
        throw ReadError(path, "line " + std::to_string(row.line) + ", column " + std::to_string(c + 1) + ": " +
                                  excerpt(cells[c]) + " is not a number");
      values.push_back(*v);
    }
  }
  const auto nrows = rows.size();
  auto at = [&](std::size_t r, std::size_t c) { return values[r * ncols + c]; };

  Recording rec;
  rec.source = path;
  rec.format = "csv";
  const bool samples_first = options.samples_first.value_or(true);

  std::optional<std::size_t> time_col;
  std::optional<double> time_fs;
  if (samples_first && nrows >= 2) {
    for (std::size_t c = 0; c < header.size() && !time_col; ++c)
      if (is_time_name(header[c])) time_col = c;
    const bool named = time_col.has_value();
    const std::size_t tc = time_col.value_or(0);
    if (named || (header.empty() && ncols >= 2)) {
      std::vector<double> steps;
      steps.reserve(nrows - 1);
      std::optional<std::size_t> not_increasing;
      for (std::size_t r = 1; r < nrows; ++r) {
        const double s = at(r, tc) - at(r - 1, tc);
        if (!(s > 0) && !not_increasing) not_increasing = r;
        steps.push_back(s);
      }
      if (named && not_increasing)
        throw ReadError(path, "line " + std::to_string(rows[*not_increasing].line) + ": the time column '" + header[tc] +
                                  "' does not increase");
      if (!not_increasing) {
        const double step = median(steps);
        const auto irregular = static_cast<std::size_t>(
            std::count_if(steps.begin(), steps.end(), [&](double s) { return std::abs(s - step) > 0.5 * step; }));
        // Without a name, a column counts as time only when its step is nearly constant.
        if (named || irregular * 10 <= steps.size()) {
          time_col = tc;
          time_fs = rate_from_step(step);
          if (irregular > 0)
            rec.warnings.push_back("the time column is irregular: " + std::to_string(irregular) + " of " +
                                   std::to_string(steps.size()) + " steps differ from the median step (" +
                                   short_number(step) + " s) by more than half; samples are taken as evenly spaced");
        }
      }
    }
  }

  // Sampling rate: the caller's, else the header's, else the time column's;
  // every source present must agree within 1 %.
  std::optional<double> fs = options.fs;
  std::string fs_source = "fs given as";
  if (!fs && meta.fs) {
    fs = meta.fs;
    fs_source = "the '# Sampling Rate' header says";
  }
  if (!fs && time_fs) {
    fs = time_fs;
    fs_source = "the time column implies";
  }
  if (!fs && options.use_sidecars) {
    fs = detail::sidecar_sampling_frequency(path);
    fs_source = "the BIDS emg.json says";
  }
  if (!fs)
    throw std::invalid_argument(path + ": fs is required: the file has no time column or '# Sampling Rate' header; pass fs");
  if (!(*fs > 0) || !std::isfinite(*fs)) throw ReadError(path, "the sampling rate must be positive, " + fs_source + " " + format_number(*fs) + " Hz");
  auto agree = [&](std::optional<double> other, const std::string& what) {
    if (other && std::abs(*other - *fs) > 0.01 * *fs)
      throw ReadError(path, fs_source + " " + format_number(*fs) + " Hz but " + what + " " + format_number(*other) + " Hz");
  };
  agree(meta.fs, "the '# Sampling Rate' header says");
  agree(time_fs, "the time column implies");
  rec.fs = *fs;

  std::vector<std::size_t> data_cols;
  for (std::size_t c = 0; c < ncols; ++c)
    if (!time_col || c != *time_col) data_cols.push_back(c);
  if (data_cols.empty()) throw ReadError(path, "no data columns (only a time column)");

  const double scale = options.scale_to_uv;
  const bool counts = meta.resolution.has_value();
  std::vector<std::string> names;
  if (samples_first) {
    RowMatrix<double> m(static_cast<Index>(data_cols.size()), static_cast<Index>(nrows));
    for (std::size_t k = 0; k < data_cols.size(); ++k)
      for (std::size_t r = 0; r < nrows; ++r) m(static_cast<Index>(k), static_cast<Index>(r)) = at(r, data_cols[k]) * scale;
    rec.samples = std::move(m);
    for (std::size_t k = 0; k < data_cols.size(); ++k) {
      std::string name;
      if (!header.empty()) name = header[data_cols[k]];
      else if (meta.labels.size() == data_cols.size()) name = meta.labels[k];
      names.push_back(name.empty() ? "ch" + std::to_string(k + 1) : name);
    }
  } else {
    RowMatrix<double> m(static_cast<Index>(nrows), static_cast<Index>(ncols));
    for (std::size_t r = 0; r < nrows; ++r)
      for (std::size_t c = 0; c < ncols; ++c) m(static_cast<Index>(r), static_cast<Index>(c)) = at(r, c) * scale;
    rec.samples = std::move(m);
    for (std::size_t r = 0; r < nrows; ++r)
      names.push_back(meta.labels.size() == nrows ? meta.labels[r] : "ch" + std::to_string(r + 1));
    if (!header.empty()) rec.warnings.push_back("the header row is ignored because rows are channels (samples_first=false)");
  }
  values = {};

  for (const auto& name : names) {
    ChannelInfo c;
    c.name = name;
    const std::string type = detail::type_from_label(name);
    c.type = type.empty() ? "EMG" : type;
    if (counts) {
      c.source_unit = "counts";
      c.calibrated = scale != 1.0;
    } else {
      c.source_unit = detail::unit_for_scale(scale);
    }
    rec.channels.push_back(std::move(c));
  }
  if (counts)
    rec.warnings.push_back(
        scale == 1.0
            ? "values are uncalibrated ADC counts (" + std::to_string(*meta.resolution) +
                  "-bit, per the '# Resolution' header), not microvolts; pass scale_to_uv to convert them"
            : "values are ADC counts (" + std::to_string(*meta.resolution) + "-bit) converted with scale_to_uv=" +
                  format_number(scale) + " uV per count");
  for (auto& w : make_channel_names_unique(rec.channels)) rec.warnings.push_back(std::move(w));
  detail::finish(rec, options, SampleType::float64);
  return rec;
}

}  // namespace fasctrack::io
