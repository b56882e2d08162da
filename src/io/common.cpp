#include "io/common.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace fasctrack::io::detail {

namespace fs = std::filesystem;

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n\v\f");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n\v\f");
  return std::string(text.substr(first, last - first + 1));
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string upper(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return out;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lower(a) == lower(b);
}

bool starts_with_ci(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

std::vector<std::string_view> split_ws(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r')) ++i;
    if (i >= text.size()) break;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t' && text[i] != '\r') ++i;
    out.push_back(text.substr(start, i - start));
  }
  return out;
}

std::vector<std::string_view> split_on(std::string_view text, char delimiter) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    const auto pos = text.find(delimiter, start);
    if (pos == std::string_view::npos) {
      out.push_back(text.substr(start));
      return out;
    }
    out.push_back(text.substr(start, pos - start));
    start = pos + 1;
  }
}

namespace {

std::string_view strip_view(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

}  // namespace

std::optional<double> parse_double(std::string_view text) {
  text = strip_view(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  double value = 0.0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<long long> parse_int(std::string_view text) {
  text = strip_view(text);
  if (!text.empty() && text.front() == '+') text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  long long value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::string excerpt(std::string_view text, std::size_t max_len) {
  std::string out = "'";
  const std::size_t n = std::min(text.size(), max_len);
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 32 && c < 127) {
      out += static_cast<char>(c);
    } else {
      static constexpr char hex[] = "0123456789ABCDEF";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  if (text.size() > max_len) out += "...";
  out += "'";
  return out;
}

std::string format_number(double value) {
  std::array<char, 64> buf{};
  const auto [ptr, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
  if (ec != std::errc()) return std::to_string(value);
  return std::string(buf.data(), ptr);
}

std::string extension_lower(const std::string& path) {
  return lower(fs::path(path).extension().string());
}

InputFile::InputFile(const std::string& path) : path_(path) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec || !fs::exists(status)) {
    if (ec && ec != std::errc::no_such_file_or_directory)
      throw ReadError(path, "cannot access file: " + ec.message());
    throw ReadError(path, "no such file");
  }
  if (fs::is_directory(status)) throw ReadError(path, "is a directory, not a file");
  // Opening a FIFO would block until a writer appears, and devices have no
  // size to check claims against (a WFDB header may name any path).
  if (!fs::is_regular_file(status)) throw ReadError(path, "not a regular file (a device, pipe or socket)");
  file_ = std::fopen(path.c_str(), "rb");
  if (file_ == nullptr) throw ReadError(path, std::string("cannot open: ") + std::strerror(errno));
  const auto size = fs::file_size(path, ec);
  if (ec) {
    std::fclose(file_);
    throw ReadError(path, "cannot determine file size: " + ec.message());
  }
  size_ = size;
}

InputFile::~InputFile() {
  if (file_ != nullptr) std::fclose(file_);
}

std::size_t InputFile::read_some_at(std::uint64_t offset, void* out, std::size_t n) {
  if (offset > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()) ||
      fseeko(file_, static_cast<off_t>(offset), SEEK_SET) != 0)
    throw ReadError(path_, "cannot seek to byte " + std::to_string(offset));
  return std::fread(out, 1, n, file_);
}

void InputFile::read_at(std::uint64_t offset, void* out, std::size_t n) {
  const std::size_t got = read_some_at(offset, out, n);
  if (got != n) {
    if (std::ferror(file_))
      throw ReadError(path_, "read error at byte " + std::to_string(offset + got));
    throw ReadError(path_, "truncated: needed " + std::to_string(n) + " bytes at offset " +
                               std::to_string(offset) + ", file holds " + std::to_string(size_) +
                               " bytes");
  }
}

std::string read_text_file(const std::string& path) {
  InputFile file(path);
  if (file.size() > static_cast<std::uint64_t>(std::numeric_limits<std::size_t>::max() / 2))
    throw ReadError(path, "file too large to read as text");
  std::string text(static_cast<std::size_t>(file.size()), '\0');
  if (!text.empty()) file.read_at(0, text.data(), text.size());
  return text;
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start < text.size()) {
    auto end = text.find('\n', start);
    const bool last = end == std::string_view::npos;
    if (last) end = text.size();
    auto line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

std::string type_from_label(std::string_view label) {
  const std::string t = trim(label);
  const std::string prefix = upper(t.substr(0, t.find_first_of(" \t")));
  if (prefix == "EEG" || prefix == "EMG" || prefix == "ECG" || prefix == "EOG" || prefix == "MISC" ||
      prefix == "TRIG" || prefix == "RESP" || prefix == "TEMP")
    return prefix;
  if (prefix == "EKG") return "ECG";
  return {};
}

namespace {

std::uint64_t saturating_mul(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  return __builtin_mul_overflow(a, b, &r) ? std::numeric_limits<std::uint64_t>::max() : r;
}

std::uint64_t saturating_add(std::uint64_t a, std::uint64_t b) {
  std::uint64_t r = 0;
  return __builtin_add_overflow(a, b, &r) ? std::numeric_limits<std::uint64_t>::max() : r;
}

std::string human_bytes(std::uint64_t bytes) {
  if (bytes == std::numeric_limits<std::uint64_t>::max()) return "more than 16 EB";
  const char* units[] = {"bytes", "kB", "MB", "GB", "TB", "PB", "EB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000.0 && u < 6) {
    v /= 1000.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.3g %s", v, units[u]);
  return buf;
}

}  // namespace

void check_memory(const std::string& path, const ReadOptions& options, std::uint64_t channels, std::uint64_t samples,
                  std::uint64_t bytes_per_value, std::uint64_t buffer_bytes) {
  if (options.max_bytes == 0) return;
  const std::uint64_t values = saturating_mul(saturating_mul(channels, samples), bytes_per_value);
  const std::uint64_t need = saturating_add(values, buffer_bytes);
  if (need <= options.max_bytes) return;
  std::string detail = std::to_string(channels) + " channel(s) x " + std::to_string(samples) + " samples at " +
                       std::to_string(bytes_per_value) + " bytes each";
  if (buffer_bytes > 0) detail += ", plus " + human_bytes(buffer_bytes) + " of file buffers";
  throw ReadError(path, "reading it needs " + human_bytes(need) + " of memory (" + detail +
                            "), more than the limit max_bytes = " + std::to_string(options.max_bytes) + " (" +
                            human_bytes(options.max_bytes) + ")");
}

std::uint64_t peak_bytes_per_value(const ReadOptions& options, SampleType default_type) {
  // Decoded as float64; a float32 result is a second copy while it is cast.
  return options.sample_type.value_or(default_type) == SampleType::float32 ? 12 : 8;
}

void check_options(const std::string& path, const ReadOptions& options) {
  if (options.fs && (!(*options.fs > 0) || !std::isfinite(*options.fs)))
    throw std::invalid_argument(path + ": fs must be a positive finite number of Hz, got " +
                                format_number(*options.fs));
  if (!(options.scale_to_uv > 0) || !std::isfinite(options.scale_to_uv))
    throw std::invalid_argument(path + ": scale_to_uv must be a positive finite number, got " +
                                format_number(options.scale_to_uv));
}

void check_fs_option(const std::string& path, const ReadOptions& options, double file_fs) {
  if (!options.fs) return;
  // The file's rate is authoritative; a tolerance absorbs rates that a header
  // can only state approximately (e.g. 1228 samples per 9.59375 s).
  if (std::abs(*options.fs - file_fs) > 1e-3 * file_fs)
    throw ReadError(path, "fs given as " + format_number(*options.fs) + " Hz but the file says " +
                              format_number(file_fs) + " Hz");
}

RowMatrix<double>& as_double(Recording& rec) {
  if (auto* f = std::get_if<RowMatrix<float>>(&rec.samples)) {
    RowMatrix<double> d = f->cast<double>();
    rec.samples = std::move(d);
  }
  return std::get<RowMatrix<double>>(rec.samples);
}

namespace {

template <class M>
M select_rows(const M& m, const std::vector<Index>& rows) {
  M out(static_cast<Index>(rows.size()), m.cols());
  for (std::size_t i = 0; i < rows.size(); ++i) out.row(static_cast<Index>(i)) = m.row(rows[i]);
  return out;
}

}  // namespace

void finish(Recording& rec, const ReadOptions& options, SampleType default_type) {
  const std::string& path = rec.source;
  if (rec.channels.empty() || rec.n_channels() == 0) throw ReadError(path, "no channels to read");
  if (rec.n_samples() == 0) throw ReadError(path, "the file holds zero samples");
  if (!(rec.fs > 0) || !std::isfinite(rec.fs))
    throw ReadError(path, "sampling rate must be positive, the file says " + format_number(rec.fs) + " Hz");

  if (options.use_sidecars) apply_sidecars(rec, path, options.scale_to_uv);

  if (!options.channels.empty()) {
    std::vector<Index> rows;
    for (const auto& name : options.channels) {
      const auto it = std::find_if(rec.channels.begin(), rec.channels.end(),
                                   [&](const ChannelInfo& c) { return c.name == name; });
      if (it == rec.channels.end()) {
        std::string available;
        for (const auto& c : rec.channels) available += (available.empty() ? "'" : ", '") + c.name + "'";
        std::string why;
        for (const auto& w : rec.warnings)
          if (w.find("'" + name + "'") != std::string::npos) why = " (" + w + ")";
        throw std::invalid_argument(path + ": no channel named '" + name + "'" + why +
                                    "; available: " + available);
      }
      rows.push_back(static_cast<Index>(it - rec.channels.begin()));
    }
    std::vector<ChannelInfo> channels;
    for (const Index r : rows) channels.push_back(rec.channels[static_cast<std::size_t>(r)]);
    rec.channels = std::move(channels);
    std::visit([&](auto& m) { m = select_rows(m, rows); }, rec.samples);
  }

  if (options.grid) apply_grid_layout(rec.channels, *options.grid, path);

  const SampleType want = options.sample_type.value_or(default_type);
  if (want == SampleType::float32) {
    if (auto* d = std::get_if<RowMatrix<double>>(&rec.samples)) {
      RowMatrix<float> f = d->cast<float>();
      rec.samples = std::move(f);
    }
  } else {
    as_double(rec);
  }
  rec.validate();
}

}  // namespace fasctrack::io::detail
