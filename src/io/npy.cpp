// NumPy .npy arrays (format versions 1.0, 2.0 and 3.0).
//
// A .npy file carries no unit: its numbers are taken as microvolts times
// 1/scale_to_uv, i.e. multiplied by ReadOptions::scale_to_uv. It carries no
// sampling rate either, so fs must come from the options or a BIDS emg.json.

#include <fasctrack/io/read.hpp>
#include <fasctrack/io/write.hpp>

#include "io/common.hpp"
#include "io/source.hpp"

#include <bit>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <stdexcept>
#include <system_error>

namespace fasctrack::io {
namespace {

using detail::excerpt;

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<std::uint64_t> shape;
};

// Just enough of a Python literal parser for the header dict numpy writes.
class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& path) : s_(text), path_(path) {}

  NpyHeader parse() {
    NpyHeader h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    while (true) {
      skip();
      if (peek() == '}') break;
      const std::string key = string();
      expect(':');
      skip();
      if (key == "descr") {
        if (peek() == '[') throw UnsupportedFormatError(path_, "structured dtype (record array) is not supported");
        h.descr = string();
        have_descr = true;
      } else if (key == "fortran_order") {
        h.fortran_order = boolean();
        have_order = true;
      } else if (key == "shape") {
        h.shape = tuple();
        have_shape = true;
      } else {
        fail("unexpected key " + excerpt(key));
      }
      skip();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != '}') fail("expected ',' or '}'");
    }
    if (!have_descr || !have_order || !have_shape) fail("the header lacks descr, fortran_order or shape");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw ReadError(path_, "corrupt .npy header: " + what + " at character " + std::to_string(i_) + " of " +
                               excerpt(s_, 80));
  }
  void skip() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void expect(char c) {
    skip();
    if (peek() != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  std::string string() {
    skip();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a quoted string");
    const auto end = s_.find(q, i_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string out(s_.substr(i_ + 1, end - i_ - 1));
    i_ = end + 1;
    return out;
  }
  bool boolean() {
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    fail("expected True or False");
  }
  std::vector<std::uint64_t> tuple() {
    expect('(');
    std::vector<std::uint64_t> out;
    while (true) {
      skip();
      if (peek() == ')') {
        ++i_;
        return out;
      }
      const std::size_t start = i_;
      while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
      if (i_ == start) fail("expected a dimension");
      const auto v = detail::parse_int(s_.substr(start, i_ - start));
      if (!v) fail("dimension too large");
      out.push_back(static_cast<std::uint64_t>(*v));
      if (peek() == 'L') ++i_;  // Python 2 long literal
      skip();
      if (peek() == ',') ++i_;
      else if (peek() != ')') fail("expected ',' or ')' in shape");
    }
  }

  std::string_view s_;
  const std::string& path_;
  std::size_t i_ = 0;
};

enum class Kind { f4, f8, i2 };

template <class T>
T load(const unsigned char* p, bool swap) {
  using U = std::conditional_t<sizeof(T) == 2, std::uint16_t, std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>>;
  U u;
  std::memcpy(&u, p, sizeof u);
  if (swap) {
    U r = 0;
    for (std::size_t b = 0; b < sizeof(U); ++b) r = static_cast<U>(r << 8 | ((u >> (8 * b)) & 0xFF));
    u = r;
  }
  T v;
  std::memcpy(&v, &u, sizeof v);
  return v;
}

template <class Out>
RowMatrix<Out> convert(const std::vector<unsigned char>& raw, Kind kind, bool swap, Index channels, Index samples,
                       bool channel_major, double scale) {
  RowMatrix<Out> m(channels, samples);
  const std::size_t item = kind == Kind::f8 ? 8 : kind == Kind::f4 ? 4 : 2;
  for (Index c = 0; c < channels; ++c) {
    Out* row = m.row(c).data();
    for (Index t = 0; t < samples; ++t) {
      const std::size_t k = static_cast<std::size_t>(channel_major ? c * samples + t : t * channels + c);
      const unsigned char* p = raw.data() + k * item;
      double v = kind == Kind::f8 ? load<double>(p, swap)
                 : kind == Kind::f4 ? static_cast<double>(load<float>(p, swap))
                                    : static_cast<double>(load<std::int16_t>(p, swap));
      row[t] = static_cast<Out>(scale == 1.0 ? v : v * scale);
    }
  }
  return m;
}

}  // namespace

namespace detail {

std::string unit_for_scale(double scale_to_uv) {
  if (scale_to_uv == 1.0) return "uV";
  if (scale_to_uv == 1e3) return "mV";
  if (scale_to_uv == 1e6) return "V";
  if (scale_to_uv == 1e-3) return "nV";
  return format_number(scale_to_uv) + " uV";  // one file unit is this many microvolts
}

}  // namespace detail

namespace {

struct NpyPlan {
  Recording rec;  // no samples yet
  Kind kind = Kind::f8;
  bool swap = false;
  std::uint64_t data_start = 0, count = 0, item = 8;
  Index channels = 0, samples = 0;
  bool channel_major = true;
  SampleType out_type = SampleType::float64;
};

// Header, layout and channel metadata: everything before the samples.
NpyPlan plan_npy(detail::InputFile& file, const std::string& path, const ReadOptions& options, double fs_hz) {
  if (file.size() == 0) throw ReadError(path, "empty file (0 bytes)");
  unsigned char pre[12] = {};
  const std::size_t got = file.read_some_at(0, pre, sizeof pre);
  if (got < 8 || std::memcmp(pre, "\x93NUMPY", 6) != 0)
    throw UnsupportedFormatError(path, "not a .npy file: it does not start with \\x93NUMPY");
  const int major = pre[6], minor = pre[7];
  std::uint64_t header_len = 0, header_start = 0;
  if (major == 1) {
    if (got < 10) throw ReadError(path, "truncated: the .npy preamble needs 10 bytes, the file has " + std::to_string(file.size()));
    header_len = pre[8] | static_cast<std::uint64_t>(pre[9]) << 8;
    header_start = 10;
  } else if (major == 2 || major == 3) {
    if (got < 12) throw ReadError(path, "truncated: the .npy preamble needs 12 bytes, the file has " + std::to_string(file.size()));
    header_len = pre[8] | static_cast<std::uint64_t>(pre[9]) << 8 | static_cast<std::uint64_t>(pre[10]) << 16 |
                 static_cast<std::uint64_t>(pre[11]) << 24;
    header_start = 12;
  } else {
    throw UnsupportedFormatError(path, ".npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                                           " is not supported (1.0, 2.0 and 3.0 are)");
  }
  if (header_start + header_len > file.size())
    throw ReadError(path, "truncated: the .npy header claims " + std::to_string(header_len) + " bytes, the file holds " +
                              std::to_string(file.size() - header_start) + " after the preamble");
  std::string header_text(static_cast<std::size_t>(header_len), '\0');
  file.read_at(header_start, header_text.data(), header_text.size());
  const NpyHeader h = HeaderParser(header_text, path).parse();

  Kind kind;
  bool big = false;
  const std::string& d = h.descr;
  if (d.size() == 3 && (d[0] == '<' || d[0] == '>' || d[0] == '=' || d[0] == '|')) {
    big = d[0] == '>';
    const std::string t = d.substr(1);
    if (t == "f4") kind = Kind::f4;
    else if (t == "f8") kind = Kind::f8;
    else if (t == "i2") kind = Kind::i2;
    else throw UnsupportedFormatError(path, "dtype '" + d + "' is not supported (float32, float64 or int16)");
  } else {
    throw UnsupportedFormatError(path, "dtype '" + d + "' is not supported (float32, float64 or int16)");
  }
  const bool swap = big != (std::endian::native == std::endian::big);

  if (h.shape.empty()) throw ReadError(path, "the array is 0-dimensional (a single number), not a signal");
  if (h.shape.size() > 2)
    throw UnsupportedFormatError(path, "the array has " + std::to_string(h.shape.size()) +
                                           " dimensions; expected 1 (samples) or 2 (channels, samples)");
  const std::uint64_t item = kind == Kind::f8 ? 8 : kind == Kind::f4 ? 4 : 2;
  const std::uint64_t data_start = header_start + header_len;
  const std::uint64_t available = file.size() - data_start;
  std::uint64_t count = 1;
  for (const auto dim : h.shape) {
    if (dim != 0 && count > std::numeric_limits<std::uint64_t>::max() / item / dim) {
      count = std::numeric_limits<std::uint64_t>::max() / item;  // beyond any file
      break;
    }
    count *= dim;
  }
  std::string shape_text = "(";
  for (std::size_t i = 0; i < h.shape.size(); ++i) shape_text += (i ? ", " : "") + std::to_string(h.shape[i]);
  shape_text += h.shape.size() == 1 ? ",)" : ")";
  if (count > available / item)
    throw ReadError(path, "truncated: the header says shape " + shape_text + " of " + d + ", which needs " +
                              (count >= std::numeric_limits<std::uint64_t>::max() / item
                                   ? std::string("more than 2^64")
                                   : std::to_string(count * item)) +
                              " bytes of data, the file holds " + std::to_string(available));
  if (count == 0) throw ReadError(path, "the array " + shape_text + " holds no samples");

  NpyPlan p;
  Recording& rec = p.rec;
  rec.source = path;
  rec.format = "npy";
  rec.fs = fs_hz;
  if (available > count * item)
    rec.warnings.push_back(std::to_string(available - count * item) + " bytes after the array data ignored");

  // Logical layout: rows/cols of the array as stored; output is (channels, samples).
  const bool two_d = h.shape.size() == 2;
  const bool samples_first = two_d && options.samples_first.value_or(false);
  const Index rows = two_d ? static_cast<Index>(h.shape[0]) : 1;
  const Index cols = two_d ? static_cast<Index>(h.shape[1]) : static_cast<Index>(h.shape[0]);
  const Index channels = samples_first ? cols : rows;
  const Index samples = samples_first ? rows : cols;
  // Element (channel c, sample t) sits at c*samples+t when the channel index
  // varies slowest in memory.
  const bool channel_major = two_d ? (h.fortran_order == samples_first) : true;

  const SampleType file_type = kind == Kind::f8 ? SampleType::float64 : SampleType::float32;
  const SampleType out_type = options.sample_type.value_or(file_type);
  for (Index c = 0; c < channels; ++c) {
    ChannelInfo ch;
    ch.name = "ch" + std::to_string(c + 1);
    ch.source_unit = detail::unit_for_scale(options.scale_to_uv);
    rec.channels.push_back(std::move(ch));
  }
  p.kind = kind;
  p.swap = swap;
  p.data_start = data_start;
  p.count = count;
  p.item = item;
  p.channels = channels;
  p.samples = samples;
  p.channel_major = channel_major;
  p.out_type = out_type;
  return p;
}

std::optional<double> npy_fs(const std::string& path, const ReadOptions& options) {
  detail::check_options(path, options);
  std::optional<double> fs = options.fs;
  if (!fs && options.use_sidecars) fs = detail::sidecar_sampling_frequency(path);
  if (!fs)
    throw std::invalid_argument(path + ": fs is required for .npy files (they store no sampling rate); pass fs");
  return fs;
}

// Chunks of a .npy array by offset reads: one contiguous run per channel when
// channels vary slowest in the file, one block of frames otherwise.
class NpySource final : public detail::SampleSource {
 public:
  NpySource(const std::string& path, const ReadOptions& options) : fs_(*npy_fs(path, options)), file_(path) {
    p_ = plan_npy(file_, path, options, fs_);
    meta = p_.rec;
    n_samples = p_.samples;
    default_type = decoded_type = p_.out_type;
    scale_ = options.scale_to_uv;
  }
  void read(Index start, SampleMatrix& out) override {
    const Index n = std::visit([](const auto& m) { return m.cols(); }, out);
    if (n == 0) return;
    const std::size_t item = static_cast<std::size_t>(p_.item);
    raw_.resize(static_cast<std::size_t>(p_.channels * n) * item);
    if (p_.channel_major) {
      for (Index c = 0; c < p_.channels; ++c)
        file_.read_at(p_.data_start + static_cast<std::uint64_t>(c * p_.samples + start) * item,
                      raw_.data() + static_cast<std::size_t>(c * n) * item, static_cast<std::size_t>(n) * item);
    } else {
      file_.read_at(p_.data_start + static_cast<std::uint64_t>(start * p_.channels) * item, raw_.data(), raw_.size());
    }
    std::visit([&](auto& m) {
      using M = std::decay_t<decltype(m)>;
      m = convert<typename M::Scalar>(raw_, p_.kind, p_.swap, p_.channels, n, p_.channel_major, scale_);
    }, out);
  }

 private:
  double fs_ = 0.0;
  detail::InputFile file_;
  NpyPlan p_;
  double scale_ = 1.0;
  std::vector<unsigned char> raw_;
};

}  // namespace

Recording read_npy(const std::string& path, const ReadOptions& options) {
  const double fs = *npy_fs(path, options);
  detail::InputFile file(path);
  NpyPlan p = plan_npy(file, path, options, fs);
  Recording& rec = p.rec;
  const Kind kind = p.kind;
  const bool swap = p.swap;
  const std::uint64_t count = p.count, item = p.item, data_start = p.data_start;
  const Index channels = p.channels, samples = p.samples;
  const bool channel_major = p.channel_major;
  const SampleType out_type = p.out_type;
  detail::check_memory(path, options, static_cast<std::uint64_t>(channels), static_cast<std::uint64_t>(samples),
                       out_type == SampleType::float64 ? 8 : 4, count * item);
  std::vector<unsigned char> raw(static_cast<std::size_t>(count * item));
  file.read_at(data_start, raw.data(), raw.size());
  if (out_type == SampleType::float64)
    rec.samples = convert<double>(raw, kind, swap, channels, samples, channel_major, options.scale_to_uv);
  else
    rec.samples = convert<float>(raw, kind, swap, channels, samples, channel_major, options.scale_to_uv);
  raw = {};

  detail::finish(rec, options, out_type);
  return std::move(rec);
}

namespace detail {

std::unique_ptr<SampleSource> open_npy_source(const std::string& path, const ReadOptions& options) {
  return std::make_unique<NpySource>(path, options);
}

}  // namespace detail


template <class T>
void write_npy(const std::string& path, SignalView<T> x) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>);
  std::string header = std::string("{'descr': '<") + (sizeof(T) == 4 ? "f4" : "f8") +
                       "', 'fortran_order': False, 'shape': (" + std::to_string(x.rows()) + ", " +
                       std::to_string(x.cols()) + "), }";
  // numpy pads so that the data starts on a 64-byte boundary; the header ends in '\n'.
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string pre = "\x93NUMPY";
  pre += '\x01';
  pre += '\x00';
  pre += static_cast<char>(header.size() & 0xFF);
  pre += static_cast<char>((header.size() >> 8) & 0xFF);

  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) throw WriteError(path, std::string("cannot create file: ") + std::strerror(errno));
  bool ok = std::fwrite(pre.data(), 1, pre.size(), f) == pre.size() &&
            std::fwrite(header.data(), 1, header.size(), f) == header.size();
  std::vector<T> row(static_cast<std::size_t>(x.cols()));
  for (Index r = 0; ok && r < x.rows(); ++r) {
    for (Index c = 0; c < x.cols(); ++c) {
      T v = x(r, c);
      if constexpr (std::endian::native == std::endian::big) v = load<T>(reinterpret_cast<const unsigned char*>(&v), true);
      row[static_cast<std::size_t>(c)] = v;
    }
    ok = std::fwrite(row.data(), sizeof(T), row.size(), f) == row.size();
  }
  const int err = ok ? 0 : errno;
  if (std::fclose(f) != 0) ok = false;
  std::error_code ec;
  if (!ok) {
    std::filesystem::remove(tmp, ec);
    throw WriteError(path, std::string("write failed: ") + std::strerror(err != 0 ? err : EIO));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw WriteError(path, "cannot rename the temporary file into place: " + ec.message());
  }
}

template void write_npy<float>(const std::string&, SignalView<float>);
template void write_npy<double>(const std::string&, SignalView<double>);

}  // namespace fasctrack::io
