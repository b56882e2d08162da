// WFDB records (PhysioNet): a text header (.hea) and binary signal files.
//
// Values are returned as the file holds them, like the wfdb Python package's
// rdrecord(): physical = (adu - baseline) / gain in the signal's unit. No
// attempt is made to undo clipping or wrap-around in the data.

#include <fasctrack/io/read.hpp>

#include "io/common.hpp"
#include "io/source.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>

namespace fasctrack::io {
namespace {

namespace fs = std::filesystem;
using detail::format_number;
using detail::excerpt;
using detail::trim;

struct Token {
  std::string_view text;
  std::size_t end = 0;  // position after the token in its line
};

std::vector<Token> tokens(std::string_view line) {
  std::vector<Token> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= line.size()) break;
    const std::size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    out.push_back({line.substr(start, i - start), i});
  }
  return out;
}

struct FormatInfo {
  int code = 16;
  double bytes_per_sample = 2;
  std::int32_t invalid = std::numeric_limits<std::int32_t>::min();
  int default_adcres = 16;
};

std::optional<FormatInfo> format_info(int code) {
  switch (code) {
    case 16: return FormatInfo{16, 2, -32768, 16};
    case 61: return FormatInfo{61, 2, -32768, 16};
    case 160: return FormatInfo{160, 2, -32768, 16};
    case 212: return FormatInfo{212, 1.5, -2048, 12};
    case 80: return FormatInfo{80, 1, -128, 8};
    case 24: return FormatInfo{24, 3, -8388608, 24};
    case 32: return FormatInfo{32, 4, std::numeric_limits<std::int32_t>::min(), 32};
    default: return std::nullopt;
  }
}

struct Signal {
  std::string file_name;
  FormatInfo format;
  long long skew = 0;
  std::uint64_t byte_offset = 0;
  double gain = 200.0;
  bool calibrated = true;
  double baseline = 0.0;
  std::string units = "mV";
  std::optional<long long> initial_value;
  std::optional<long long> checksum;
  std::string description;
  int line = 0;
};

// Number of whole samples the bytes hold in this format.
std::uint64_t samples_in(std::uint64_t bytes, const FormatInfo& f) {
  if (f.code == 212) return bytes / 3 * 2 + (bytes % 3 >= 2 ? 1 : 0);
  return bytes / static_cast<std::uint64_t>(f.bytes_per_sample);
}

std::uint64_t bytes_for(std::uint64_t samples, const FormatInfo& f) {
  if (f.code == 212) return samples / 2 * 3 + (samples % 2 ? 2 : 0);
  return samples * static_cast<std::uint64_t>(f.bytes_per_sample);
}

std::int32_t decode(const unsigned char* data, std::uint64_t k, const FormatInfo& f) {
  switch (f.code) {
    case 16: {
      const unsigned char* p = data + 2 * k;
      return static_cast<std::int16_t>(static_cast<std::uint16_t>(p[0] | p[1] << 8));
    }
    case 61: {
      const unsigned char* p = data + 2 * k;
      return static_cast<std::int16_t>(static_cast<std::uint16_t>(p[1] | p[0] << 8));
    }
    case 160: {
      const unsigned char* p = data + 2 * k;
      return static_cast<std::int32_t>(p[0] | p[1] << 8) - 32768;
    }
    case 80: return static_cast<std::int32_t>(data[k]) - 128;
    case 24: {
      const unsigned char* p = data + 3 * k;
      const auto u = static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                     static_cast<std::uint32_t>(p[2]) << 16;
      return static_cast<std::int32_t>(u << 8) >> 8;
    }
    case 32: {
      const unsigned char* p = data + 4 * k;
      return static_cast<std::int32_t>(static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
                                       static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24);
    }
    case 212: {
      // Two 12-bit samples in three bytes; the middle byte holds both high nibbles.
      const unsigned char* p = data + (k / 2) * 3;
      const std::int32_t v = (k % 2 == 0) ? (p[0] | (p[1] & 0x0F) << 8) : (p[2] | (p[1] & 0xF0) << 4);
      return v >= 2048 ? v - 4096 : v;
    }
    default: return 0;
  }
}

std::string header_path_for(const std::string& path) {
  const std::string ext = detail::extension_lower(path);
  if (ext == ".hea") return path;
  if (ext == ".dat") return fs::path(path).replace_extension(".hea").string();
  return path + ".hea";
}

// "HH:MM:SS[.sss]" and "DD/MM/YYYY" to ISO 8601 (time only when the date is absent).
std::string iso_start(std::string_view time, std::string_view date, std::vector<std::string>& warnings) {
  if (time.empty()) return {};
  int h = 0, m = 0;
  double s = 0;
  const std::string t(time);
  const auto parts = detail::split_on(t, ':');
  std::vector<double> v;
  for (const auto p : parts) {
    const auto x = detail::parse_double(p);
    // Each field must be a clock reading (a header may hold anything, and
    // only in-range values convert to int safely).
    const double limit = v.size() + 1 == parts.size() ? 61.0 : (v.size() + 3 == parts.size() ? 24.0 : 60.0);
    if (!x || parts.size() > 3 || !(*x >= 0.0 && *x < limit)) {
      warnings.push_back("base time " + excerpt(time) + " is not HH:MM:SS; start time unknown");
      return {};
    }
    v.push_back(*x);
  }
  if (v.size() == 3) {
    h = static_cast<int>(v[0]);
    m = static_cast<int>(v[1]);
    s = v[2];
  } else if (v.size() == 2) {
    m = static_cast<int>(v[0]);
    s = v[1];
  } else {
    s = v[0];
  }
  const auto sec_text = std::string(parts.back());
  const auto dot = sec_text.find('.');
  char buf[64];
  std::snprintf(buf, sizeof buf, "%02d:%02d:%02d", h, m, static_cast<int>(s));
  std::string out = buf;
  if (dot != std::string::npos && dot + 1 < sec_text.size()) out += sec_text.substr(dot);
  if (date.empty()) return out;
  int d = 0, mo = 0, y = 0;
  if (std::sscanf(std::string(date).c_str(), "%d/%d/%d", &d, &mo, &y) != 3 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
      y < 0 || y > 9999) {
    warnings.push_back("base date " + excerpt(date) + " is not DD/MM/YYYY; only the time of day is kept");
    return out;
  }
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT", y, mo, d);
  return buf + out;
}

struct FileData {
  std::string path;
  std::uint64_t frames_available = 0;
};

// Everything known before the samples are decoded.
struct WfdbPlan {
  Recording rec;  // header warnings so far; no channels, no samples
  std::vector<Signal> sigs;
  std::vector<std::string> files;  // signal files in header order
  std::map<std::string, std::vector<std::size_t>> members;
  std::map<std::string, FileData> data;
  long long n = 0;
  std::vector<std::size_t> kept;
  std::vector<double> factor;
  std::vector<long long> row_of;  // signal -> output row, -1 when not kept
  std::map<std::string, std::uint64_t> frames_to_read;
  std::uint64_t largest_buffer = 0;
};

WfdbPlan plan_wfdb(const std::string& path, const ReadOptions& options) {
  detail::check_options(path, options);
  WfdbPlan plan;
  const std::string hea = header_path_for(path);
  if (!fs::exists(hea)) {
    if (hea != path && fs::exists(path) && !fs::is_directory(path))
      throw ReadError(path, "WFDB header '" + hea + "' not found next to the signal file");
    throw ReadError(path, hea == path ? "no such file" : "no such WFDB record (no header '" + hea + "')");
  }
  const std::string text = detail::read_text_file(hea);
  if (trim(text).empty()) throw ReadError(hea, "empty header file");
  if (text.find('\0') != std::string::npos) throw UnsupportedFormatError(hea, "not a WFDB header: it holds binary data");

  struct Line {
    std::string_view text;
    int number;
  };
  std::vector<Line> lines;
  int number = 0;
  for (const auto line : detail::split_lines(text)) {
    ++number;
    const std::string t = trim(line);
    if (t.empty() || t[0] == '#') continue;
    lines.push_back({line, number});
  }
  if (lines.empty()) throw ReadError(hea, "no record line (the header holds only comments)");

  Recording& rec = plan.rec;
  rec.source = path;
  rec.format = "wfdb";

  // Record line: name[/nseg] nsig [fs[/counterfreq[(base)]]] [nsamp] [time] [date]
  const auto rl = tokens(lines[0].text);
  auto bad = [&](int line, const std::string& what) {
    return ReadError(hea, "line " + std::to_string(line) + ": " + what);
  };
  if (rl.size() < 2) throw bad(lines[0].number, "record line " + excerpt(lines[0].text) + " needs a name and a signal count");
  if (rl[0].text.find('/') != std::string_view::npos)
    throw UnsupportedFormatError(hea, "multi-segment WFDB records ('" + std::string(rl[0].text) +
                                          "') are not supported; read each segment's header instead");
  const auto nsig = detail::parse_int(rl[1].text);
  if (!nsig || *nsig < 0) throw bad(lines[0].number, "signal count " + excerpt(rl[1].text) + " is not a number");
  if (*nsig == 0) throw ReadError(hea, "the header declares 0 signals (zero channels)");
  if (static_cast<std::size_t>(*nsig) > lines.size() - 1)
    throw ReadError(hea, "the header declares " + std::to_string(*nsig) + " signals but has " +
                             std::to_string(lines.size() - 1) + " signal lines");
  double fs = 250.0;  // the WFDB default
  if (rl.size() > 2) {
    std::string_view f = rl[2].text;
    f = f.substr(0, std::min(f.find('/'), f.find('(')));
    const auto v = detail::parse_double(f);
    if (!v || !(*v > 0) || !std::isfinite(*v))
      throw bad(lines[0].number, "sampling frequency " + excerpt(rl[2].text) + " must be a positive number");
    fs = *v;
  } else {
    rec.warnings.push_back("the header gives no sampling frequency; using the WFDB default of 250 Hz");
  }
  std::optional<long long> nsamp;
  if (rl.size() > 3) {
    nsamp = detail::parse_int(rl[3].text);
    if (!nsamp || *nsamp < 0) throw bad(lines[0].number, "sample count " + excerpt(rl[3].text) + " is not a number");
  }
  rec.start_time = iso_start(rl.size() > 4 ? rl[4].text : std::string_view{},
                             rl.size() > 5 ? rl[5].text : std::string_view{}, rec.warnings);
  rec.fs = fs;
  detail::check_fs_option(path, options, fs);

  // Signal lines: file format[xspf][:skew][+offset] [gain[(baseline)][/units]] [adcres] [adczero] [initval] [checksum] [blocksize] [description]
  std::vector<Signal>& sigs = plan.sigs;
  for (long long i = 0; i < *nsig; ++i) {
    const Line& line = lines[static_cast<std::size_t>(i) + 1];
    const auto t = tokens(line.text);
    Signal s;
    s.line = line.number;
    if (t.size() < 2) throw bad(line.number, "signal line " + excerpt(line.text) + " needs a file name and a format");
    s.file_name = std::string(t[0].text);
    std::string spec(t[1].text);
    if (const auto plus = spec.find('+'); plus != std::string::npos) {
      const auto off = detail::parse_int(spec.substr(plus + 1));
      if (!off || *off < 0) throw bad(line.number, "byte offset in " + excerpt(t[1].text) + " is not a number");
      s.byte_offset = static_cast<std::uint64_t>(*off);
      spec.resize(plus);
    }
    if (const auto colon = spec.find(':'); colon != std::string::npos) {
      const auto skew = detail::parse_int(spec.substr(colon + 1));
      if (!skew || *skew < 0) throw bad(line.number, "skew in " + excerpt(t[1].text) + " is not a number");
      s.skew = *skew;
      spec.resize(colon);
    }
    if (const auto x = spec.find('x'); x != std::string::npos) {
      const auto spf = detail::parse_int(spec.substr(x + 1));
      if (!spf || *spf < 1) throw bad(line.number, "samples per frame in " + excerpt(t[1].text) + " is not a number");
      if (*spf != 1)
        throw UnsupportedFormatError(hea, "line " + std::to_string(line.number) + ": " + std::to_string(*spf) +
                                              " samples per frame (multi-rate record) is not supported");
      spec.resize(x);
    }
    const auto code = detail::parse_int(spec);
    if (!code) throw bad(line.number, "format " + excerpt(t[1].text) + " is not a number");
    // Compared before narrowing: 4294967312 must not pass as format 16.
    const auto info = *code >= 0 && *code <= 1000 ? format_info(static_cast<int>(*code)) : std::nullopt;
    if (!info)
      throw UnsupportedFormatError(hea, "line " + std::to_string(line.number) + ": WFDB format " +
                                            std::to_string(*code) + " is not supported (supported: 16, 212, 80, 24, 32, 61, 160)");
    s.format = *info;
    if (s.file_name == "~")
      throw UnsupportedFormatError(hea, "line " + std::to_string(line.number) + ": signals not stored in a file ('~') are not supported");

    std::optional<double> adczero;
    std::optional<double> baseline;
    bool gain_given = false;
    if (t.size() > 2) {
      std::string g(t[2].text);
      if (const auto slash = g.find('/'); slash != std::string::npos) {
        s.units = g.substr(slash + 1);
        g.resize(slash);
      }
      if (const auto paren = g.find('('); paren != std::string::npos) {
        const auto close = g.find(')', paren);
        const auto b = detail::parse_double(g.substr(paren + 1, close == std::string::npos ? std::string::npos : close - paren - 1));
        if (!b || close == std::string::npos) throw bad(line.number, "baseline in " + excerpt(t[2].text) + " is not a number");
        baseline = *b;
        g.resize(paren);
      }
      const auto gain = detail::parse_double(g);
      if (!gain || !std::isfinite(*gain)) throw bad(line.number, "gain " + excerpt(t[2].text) + " is not a number");
      s.gain = *gain;
      gain_given = *gain != 0;
    }
    if (t.size() > 4) {
      adczero = detail::parse_double(t[4].text);
      if (!adczero) throw bad(line.number, "ADC zero " + excerpt(t[4].text) + " is not a number");
    }
    if (t.size() > 5) {
      s.initial_value = detail::parse_int(t[5].text);
      if (!s.initial_value) throw bad(line.number, "initial value " + excerpt(t[5].text) + " is not a number");
    }
    if (t.size() > 6) {
      s.checksum = detail::parse_int(t[6].text);
      if (!s.checksum) throw bad(line.number, "checksum " + excerpt(t[6].text) + " is not a number");
    }
    if (t.size() > 8) s.description = trim(line.text.substr(t[7].end));
    s.baseline = baseline.value_or(adczero.value_or(0.0));
    if (!gain_given) {
      s.gain = 200.0;
      s.calibrated = false;
    }
    sigs.push_back(std::move(s));
  }

  // Signals sharing a file are interleaved frame by frame, in header order.
  const fs::path dir = fs::path(hea).parent_path();
  std::vector<std::string>& files = plan.files;
  std::map<std::string, std::vector<std::size_t>>& members = plan.members;
  for (std::size_t i = 0; i < sigs.size(); ++i) {
    if (!members.count(sigs[i].file_name)) files.push_back(sigs[i].file_name);
    members[sigs[i].file_name].push_back(i);
  }

  std::map<std::string, FileData>& data = plan.data;
  for (const auto& name : files) {
    const auto& m = members[name];
    const Signal& first = sigs[m.front()];
    for (const auto i : m)
      if (sigs[i].format.code != first.format.code || sigs[i].byte_offset != first.byte_offset)
        throw UnsupportedFormatError(hea, "signals in '" + name + "' use different formats or byte offsets");
    FileData fd;
    fd.path = (dir / name).string();
    detail::InputFile f(fd.path);
    const std::uint64_t bytes = f.size() > first.byte_offset ? f.size() - first.byte_offset : 0;
    fd.frames_available = samples_in(bytes, first.format) / m.size();
    data[name] = fd;
  }
  long long& n = plan.n;
  if (nsamp) {
    n = *nsamp;
    for (const auto& name : files) {
      const auto avail = data[name].frames_available;
      if (static_cast<std::uint64_t>(n) > avail)
        throw ReadError(path, "truncated: header says " + std::to_string(n) + " samples, file holds " +
                                  std::to_string(avail) + " (signal file '" + data[name].path + "')");
      if (avail > static_cast<std::uint64_t>(n))
        rec.warnings.push_back("signal file '" + name + "' holds " + std::to_string(avail - static_cast<std::uint64_t>(n)) +
                               " samples per signal more than the header says; ignored");
    }
  } else {
    std::uint64_t fewest = std::numeric_limits<std::uint64_t>::max();
    for (const auto& name : files) fewest = std::min(fewest, data[name].frames_available);
    n = static_cast<long long>(fewest);
    if (files.size() > 1)
      for (const auto& name : files)
        if (data[name].frames_available != fewest)
          rec.warnings.push_back("the header gives no sample count and the signal files differ in length; reading the shortest (" +
                                 std::to_string(fewest) + " samples)");
  }
  if (n == 0) throw ReadError(path, "the record holds zero samples");

  // Which signals to keep (voltage units unless include_non_voltage).
  std::vector<std::size_t>& kept = plan.kept;
  std::vector<double>& factor = plan.factor;
  factor.assign(sigs.size(), 1.0);
  for (std::size_t i = 0; i < sigs.size(); ++i) {
    const std::string name = sigs[i].description.empty() ? "ch" + std::to_string(i + 1) : sigs[i].description;
    const auto f = microvolts_per_unit(sigs[i].units);
    if (!f && !options.include_non_voltage) {
      rec.warnings.push_back("channel '" + name + "' excluded: its unit " + excerpt(sigs[i].units) +
                             " is not a voltage (include_non_voltage keeps it)");
      continue;
    }
    if (!f) rec.warnings.push_back("channel '" + name + "' kept in its own unit " + excerpt(sigs[i].units) +
                                   ", not converted to microvolts");
    factor[i] = f.value_or(1.0);
    kept.push_back(i);
  }
  if (kept.empty()) throw ReadError(path, "no channels to read (no signal has a voltage unit)");

  // Frames each signal file is read for: the record plus the largest skew,
  // never more than the file holds (a skew may claim anything).
  std::map<std::string, std::uint64_t>& frames_to_read = plan.frames_to_read;
  std::uint64_t& largest_buffer = plan.largest_buffer;
  for (const auto& name : files) {
    std::uint64_t max_skew = 0;
    for (const auto i : members[name]) max_skew = std::max(max_skew, static_cast<std::uint64_t>(sigs[i].skew));
    const std::uint64_t avail = data[name].frames_available;
    const std::uint64_t want = max_skew >= avail ? avail : std::min<std::uint64_t>(avail, static_cast<std::uint64_t>(n) + max_skew);
    frames_to_read[name] = want;
    largest_buffer = std::max(largest_buffer, bytes_for(want * members[name].size(), sigs[members[name].front()].format));
  }
  plan.row_of.assign(sigs.size(), -1);
  for (std::size_t r = 0; r < kept.size(); ++r) plan.row_of[kept[r]] = static_cast<long long>(r);
  return plan;
}

// What a pass over the samples learns for the warnings; kept across ranges
// decoded in time order, so a chunked pass ends where a whole one does.
struct WfdbScan {
  std::vector<std::int64_t> sums;
  std::vector<std::int32_t> first_value;
  std::vector<std::uint64_t> invalid;
  // A sampled signal cannot move by more than half the format's storable
  // range between two samples; when it does, a value outside the range was
  // stored modulo 2^bits (PhysioNet emgdb's neuropathy record does this).
  // The reader returns what the file holds, but says so.
  std::vector<std::uint64_t> wrap_jumps;
  std::vector<long long> first_wrap;
  std::vector<std::optional<std::int64_t>> prev;
  explicit WfdbScan(std::size_t n_signals)
      : sums(n_signals, 0), first_value(n_signals, 0), invalid(n_signals, 0), wrap_jumps(n_signals, 0),
        first_wrap(n_signals, -1), prev(n_signals) {}
};

// Decodes samples [t0, t1) of every kept signal into out (columns 0 ..
// t1-t0), and/or updates scan; either may be null. Reads only the frames
// the range needs (plus skew).
void decode_range(const std::string& path, const WfdbPlan& plan, long long t0, long long t1, RowMatrix<double>* out,
                  WfdbScan* scan) {
  (void)path;
  if (t1 <= t0) return;
  const auto& sigs = plan.sigs;
  std::vector<unsigned char> bytes;
  for (const auto& name : plan.files) {
    const auto& mem = plan.members.at(name);
    const Signal& first = sigs[mem.front()];
    const std::uint64_t frames = plan.frames_to_read.at(name);
    const std::uint64_t k = mem.size();
    std::uint64_t min_skew = std::numeric_limits<std::uint64_t>::max(), max_skew = 0;
    for (const auto i : mem) {
      min_skew = std::min(min_skew, static_cast<std::uint64_t>(sigs[i].skew));
      max_skew = std::max(max_skew, static_cast<std::uint64_t>(sigs[i].skew));
    }
    const auto clip = [&](std::uint64_t t, std::uint64_t skew) { return skew >= frames ? frames : std::min(frames, t + skew); };
    const std::uint64_t f_lo = clip(static_cast<std::uint64_t>(t0), min_skew);
    const std::uint64_t f_hi = std::min(frames, clip(static_cast<std::uint64_t>(t1 - 1), max_skew) + 1);
    // Format 212 packs two samples in three bytes: start on a pair.
    std::uint64_t s_lo = f_lo * k;
    if (first.format.code == 212) s_lo &= ~std::uint64_t{1};
    const std::uint64_t s_hi = std::max(f_hi * k, s_lo);
    const std::uint64_t b_lo = bytes_for(s_lo, first.format);
    bytes.resize(static_cast<std::size_t>(bytes_for(s_hi, first.format) - b_lo));
    if (!bytes.empty()) {
      detail::InputFile f(plan.data.at(name).path);
      f.read_at(first.byte_offset + b_lo, bytes.data(), bytes.size());
    }
    for (std::size_t j = 0; j < mem.size(); ++j) {
      const std::size_t i = mem[j];
      const Signal& s = sigs[i];
      double* o = out && plan.row_of[i] >= 0 ? out->row(static_cast<Index>(plan.row_of[i])).data() : nullptr;
      const std::int64_t wrap_limit = std::int64_t{1} << (s.format.default_adcres - 1);
      const auto skew = static_cast<std::uint64_t>(s.skew);
      for (long long t = t0; t < t1; ++t) {
        const std::uint64_t frame = clip(static_cast<std::uint64_t>(t), skew);
        if (frame >= frames) {
          if (o) o[t - t0] = std::numeric_limits<double>::quiet_NaN();
          if (scan) ++scan->invalid[i];
          continue;
        }
        const std::int32_t adu = decode(bytes.data(), frame * k + j - s_lo, s.format);
        if (scan) {
          if (t == 0) scan->first_value[i] = adu;
          scan->sums[i] += adu;
          if (adu != s.format.invalid) {
            auto& prev = scan->prev[i];
            if (prev && std::llabs(static_cast<std::int64_t>(adu) - *prev) > wrap_limit) {
              if (scan->first_wrap[i] < 0) scan->first_wrap[i] = t;
              ++scan->wrap_jumps[i];
            }
            prev = adu;
          }
          if (adu == s.format.invalid) ++scan->invalid[i];
        }
        if (o) o[t - t0] = adu == s.format.invalid ? std::numeric_limits<double>::quiet_NaN()
                                                   : (static_cast<double>(adu) - s.baseline) / s.gain * plan.factor[i];
      }
    }
  }
}

// The data-derived warnings, then the channels (whose renaming warnings follow).
void finish_metadata(WfdbPlan& plan, const WfdbScan& scan) {
  Recording& rec = plan.rec;
  const auto& sigs = plan.sigs;
  const auto& row_of = plan.row_of;
  for (std::size_t i = 0; i < sigs.size(); ++i) {
    const Signal& s = sigs[i];
    const std::string name = s.description.empty() ? "ch" + std::to_string(i + 1) : s.description;
    if (s.checksum && s.skew == 0) {
      const auto sum16 = static_cast<std::int16_t>(static_cast<std::uint16_t>(static_cast<std::uint64_t>(scan.sums[i]) & 0xFFFF));
      if (sum16 != static_cast<std::int16_t>(static_cast<std::uint16_t>(static_cast<std::uint64_t>(*s.checksum) & 0xFFFF)))
        rec.warnings.push_back("channel '" + name + "': checksum mismatch (header " + std::to_string(*s.checksum) +
                               ", data " + std::to_string(sum16) + "); the file may be damaged");
    }
    if (s.initial_value && s.skew == 0 && *s.initial_value != scan.first_value[i])
      rec.warnings.push_back("channel '" + name + "': initial value mismatch (header " + std::to_string(*s.initial_value) +
                             ", first sample " + std::to_string(scan.first_value[i]) + ")");
    if (scan.invalid[i] > 0 && row_of[i] >= 0)
      rec.warnings.push_back("channel '" + name + "': " + std::to_string(scan.invalid[i]) +
                             " invalid samples (WFDB sentinel or missing) set to NaN");
    if (scan.wrap_jumps[i] > 0 && row_of[i] >= 0)
      rec.warnings.push_back("channel '" + name + "': " + std::to_string(scan.wrap_jumps[i]) +
                             " jumps larger than half the " + std::to_string(s.format.default_adcres) +
                             "-bit range between neighbouring samples, the first near sample " +
                             std::to_string(scan.first_wrap[i]) +
                             ": values outside the format's range have probably wrapped around and are wrong there");
    if (!s.calibrated && row_of[i] >= 0)
      rec.warnings.push_back("channel '" + name + "': no ADC gain in the header; WFDB default of 200 adu/" + s.units +
                             " applied, values are uncalibrated");
  }

  for (const auto i : plan.kept) {
    const Signal& s = sigs[i];
    ChannelInfo c;
    c.name = s.description.empty() ? "ch" + std::to_string(i + 1) : s.description;
    const std::string type = detail::type_from_label(c.name);
    c.type = !type.empty() ? type : (microvolts_per_unit(s.units) ? "EMG" : "MISC");
    c.source_unit = s.units;
    c.calibrated = s.calibrated;
    rec.channels.push_back(std::move(c));
  }
  for (auto& w : make_channel_names_unique(rec.channels)) rec.warnings.push_back(std::move(w));
}

// Chunks of a WFDB record. The warnings need a pass over every sample
// (checksums, wrap-around), made at open in bounded blocks.
class WfdbSource final : public detail::SampleSource {
 public:
  WfdbSource(const std::string& path, const ReadOptions& options) : path_(path), plan_(plan_wfdb(path, options)) {
    WfdbScan scan(plan_.sigs.size());
    constexpr long long block = 1 << 16;
    for (long long t = 0; t < plan_.n; t += block) decode_range(path_, plan_, t, std::min(plan_.n, t + block), nullptr, &scan);
    finish_metadata(plan_, scan);
    meta = plan_.rec;
    n_samples = static_cast<Index>(plan_.n);
  }
  void read(Index start, SampleMatrix& out) override {
    auto& m = std::get<RowMatrix<double>>(out);
    if (m.cols() == 0) return;
    decode_range(path_, plan_, static_cast<long long>(start), static_cast<long long>(start + m.cols()), &m, nullptr);
  }

 private:
  std::string path_;
  WfdbPlan plan_;
};

}  // namespace

Recording read_wfdb(const std::string& path, const ReadOptions& options) {
  WfdbPlan plan = plan_wfdb(path, options);
  const auto& kept = plan.kept;
  const long long n = plan.n;
  detail::check_memory(path, options, kept.size(), static_cast<std::uint64_t>(n),
                       detail::peak_bytes_per_value(options, SampleType::float64), plan.largest_buffer);

  RowMatrix<double> m(static_cast<Index>(kept.size()), static_cast<Index>(n));
  WfdbScan scan(plan.sigs.size());
  decode_range(path, plan, 0, n, &m, &scan);
  finish_metadata(plan, scan);
  Recording& rec = plan.rec;
  rec.samples = std::move(m);
  detail::finish(rec, options, SampleType::float64);
  return std::move(rec);
}

namespace detail {

std::unique_ptr<SampleSource> open_wfdb_source(const std::string& path, const ReadOptions& options) {
  return std::make_unique<WfdbSource>(path, options);
}

}  // namespace detail

}  // namespace fasctrack::io
