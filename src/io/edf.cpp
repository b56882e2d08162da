// EDF / EDF+ / BDF / BDF+ through EDFlib.
//
// fasctrack parses the header itself first. That gives precise messages for
// broken files (EDFlib reports only "format error") and catches truncation
// before anything is allocated. EDFlib then decodes the file. Some real files
// that every other reader accepts are refused by EDFlib for cosmetic reasons
// (MNE's test.bdf has a right-aligned "number of data records" field); when
// EDFlib refuses a file whose header fasctrack found sound, the file is decoded
// here instead, with the same scaling formula as EDFlib, and a warning says so.

#include <fasctrack/io/read.hpp>
#include <fasctrack/io/write.hpp>

#include "io/common.hpp"
#include "io/source.hpp"

#include <edflib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>

namespace fasctrack::io {
namespace {

using detail::format_number;
using detail::excerpt;
using detail::trim;

// EDFlib keeps its open files in a global table without locking.
std::mutex& edflib_mutex() {
  static std::mutex m;
  return m;
}

constexpr std::uint64_t kFixedHeader = 256;

struct EdfSignal {
  std::string label;
  std::string transducer;
  std::string unit;
  std::string prefilter;
  double phys_min = 0.0;
  double phys_max = 0.0;
  long long dig_min = 0;
  long long dig_max = 0;
  long long samples_per_record = 0;
  bool annotation = false;
  std::uint64_t offset_in_record = 0;  // bytes
};

struct EdfHeader {
  bool bdf = false;
  bool plus = false;
  bool discontinuous = false;
  std::string recording;
  std::string startdate;
  std::string starttime;
  std::uint64_t header_bytes = 0;
  long long n_records = 0;
  double record_duration_s = 0.0;
  std::vector<EdfSignal> signals;
  std::uint64_t record_bytes = 0;
  int bytes_per_sample = 2;
  std::vector<std::string> notes;     // deviations from the standard EDFlib may refuse
  std::vector<std::string> warnings;  // for Recording::warnings
};

std::string field(const char* bytes, std::size_t offset, std::size_t width) {
  return std::string(bytes + offset, width);
}

bool printable(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 32 && static_cast<unsigned char>(c) < 127; });
}

// A numeric header field: parsed leniently, with a note when not left-aligned
// as the standard requires.
template <class T>
T numeric_field(const std::string& path, EdfHeader& h, const std::string& raw, const std::string& name,
                const std::string& of_signal = "") {
  const std::string t = trim(raw);
  std::optional<T> value;
  if constexpr (std::is_same_v<T, double>) {
    value = detail::parse_double(t);
  } else {
    const auto v = detail::parse_int(t);
    if (v) value = static_cast<T>(*v);
  }
  if (!value || !std::isfinite(static_cast<double>(*value)))
    throw ReadError(path, "corrupt header: the " + name + " field" + of_signal + " is " + excerpt(raw) + ", not a number");
  if (!raw.empty() && raw.front() == ' ')
    h.notes.push_back("the " + name + " field" + of_signal + " " + excerpt(raw) + " is not left-aligned");
  if (!printable(raw)) h.notes.push_back("the " + name + " field" + of_signal + " holds non-ASCII bytes");
  return *value;
}

EdfHeader parse_header(detail::InputFile& file) {
  const std::string& path = file.path();
  EdfHeader h;
  if (file.size() == 0) throw ReadError(path, "empty file (0 bytes)");

  std::array<char, kFixedHeader> fixed{};
  const std::size_t got = file.read_some_at(0, fixed.data(), fixed.size());
  const std::string version(fixed.data(), std::min<std::size_t>(got, 8));
  if (version == std::string("\xff" "BIOSEMI")) {
    h.bdf = true;
    h.bytes_per_sample = 3;
  } else if (version.size() == 8 && trim(version) == "0") {
    if (version != "0       ") h.notes.push_back("the version field " + excerpt(version) + " is not '0       '");
  } else {
    throw UnsupportedFormatError(path, "not an EDF/BDF file: the first 8 bytes are " + excerpt(version) +
                                           " (EDF starts with '0' and 7 spaces, BDF with 0xFF 'BIOSEMI')");
  }
  if (got < kFixedHeader)
    throw ReadError(path, "truncated: file is shorter than its header says (the fixed header needs 256 bytes, the file has " +
                              std::to_string(file.size()) + ")");

  for (const auto& [off, width, name] : {std::tuple{8, 80, "patient"}, std::tuple{88, 80, "recording"}})
    if (!printable(field(fixed.data(), off, width))) h.notes.push_back(std::string("the ") + name + " field holds non-ASCII bytes");
  h.recording = field(fixed.data(), 88, 80);
  h.startdate = field(fixed.data(), 168, 8);
  h.starttime = field(fixed.data(), 176, 8);
  const auto header_bytes = numeric_field<long long>(path, h, field(fixed.data(), 184, 8), "header size");
  const std::string reserved = field(fixed.data(), 192, 44);
  h.n_records = numeric_field<long long>(path, h, field(fixed.data(), 236, 8), "number of data records");
  h.record_duration_s = numeric_field<double>(path, h, field(fixed.data(), 244, 8), "data record duration");
  const auto ns = numeric_field<long long>(path, h, field(fixed.data(), 252, 4), "number of signals");

  const std::string plus_tag = h.bdf ? "BDF+" : "EDF+";
  h.plus = reserved.rfind(plus_tag, 0) == 0 || reserved.rfind("EDF+", 0) == 0;
  h.discontinuous = h.plus && reserved.size() > 4 && reserved[4] == 'D';

  if (ns <= 0) throw ReadError(path, "the header declares " + std::to_string(ns) + " signals (zero channels)");
  if (h.n_records == 0) throw ReadError(path, "the file holds zero samples (0 data records)");
  const std::uint64_t need = kFixedHeader * (static_cast<std::uint64_t>(ns) + 1);
  if (file.size() < need)
    throw ReadError(path, "truncated: file is shorter than its header says (a header for " + std::to_string(ns) +
                              " signals needs " + std::to_string(need) + " bytes, the file has " +
                              std::to_string(file.size()) + ")");
  if (header_bytes < 0 || static_cast<std::uint64_t>(header_bytes) != need)
    throw ReadError(path, "corrupt header: the header size field says " + std::to_string(header_bytes) +
                              " bytes, but " + std::to_string(ns) + " signals need " + std::to_string(need));
  h.header_bytes = need;

  const auto n = static_cast<std::size_t>(ns);
  std::string sig(n * 256, '\0');
  file.read_at(kFixedHeader, sig.data(), sig.size());
  std::size_t pos = 0;
  auto column = [&](std::size_t width) {
    std::vector<std::string> out(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = sig.substr(pos + i * width, width);
    pos += n * width;
    return out;
  };
  const auto labels = column(16), transducers = column(80), units = column(8), pmins = column(8),
             pmaxs = column(8), dmins = column(8), dmaxs = column(8), prefilters = column(80),
             sprs = column(8);

  const std::string annot_label = h.bdf ? "BDF Annotations" : "EDF Annotations";
  const long long dig_lo = h.bdf ? -8388608 : -32768;
  const long long dig_hi = h.bdf ? 8388607 : 32767;
  h.signals.resize(n);
  std::uint64_t offset = 0;
  for (std::size_t i = 0; i < n; ++i) {
    EdfSignal& s = h.signals[i];
    s.label = trim(labels[i]);
    s.annotation = h.plus && (s.label == annot_label || s.label == "EDF Annotations");
    s.transducer = trim(transducers[i]);
    s.unit = trim(units[i]);
    s.prefilter = trim(prefilters[i]);
    const std::string who = "signal " + std::to_string(i + 1) + " (" + excerpt(s.label) + ")";
    s.samples_per_record = numeric_field<long long>(path, h, sprs[i], "samples per record", " of " + who);
    if (s.samples_per_record <= 0 ||
        static_cast<std::uint64_t>(s.samples_per_record) > file.size() / static_cast<std::uint64_t>(h.bytes_per_sample))
      throw ReadError(path, "corrupt header: " + who + " has " + std::to_string(s.samples_per_record) +
                                " samples per data record");
    s.offset_in_record = offset;
    offset += static_cast<std::uint64_t>(s.samples_per_record) * static_cast<std::uint64_t>(h.bytes_per_sample);
    if (offset > file.size() - need)
      throw ReadError(path, "truncated: file is shorter than its header says (one data record needs more than the " +
                                std::to_string(file.size() - need) + " bytes that follow the header)");
    if (s.annotation) continue;
    s.phys_min = numeric_field<double>(path, h, pmins[i], "physical minimum", " of " + who);
    s.phys_max = numeric_field<double>(path, h, pmaxs[i], "physical maximum", " of " + who);
    s.dig_min = numeric_field<long long>(path, h, dmins[i], "digital minimum", " of " + who);
    s.dig_max = numeric_field<long long>(path, h, dmaxs[i], "digital maximum", " of " + who);
    if (s.dig_min >= s.dig_max)
      throw ReadError(path, "corrupt header: " + who + " has digital minimum " + std::to_string(s.dig_min) +
                                " >= digital maximum " + std::to_string(s.dig_max));
    if (s.phys_min == s.phys_max)
      throw ReadError(path, "corrupt header: " + who + " has physical minimum = physical maximum = " +
                                format_number(s.phys_min) + ", so no scaling is possible");
    if (s.dig_min < dig_lo || s.dig_max > dig_hi)
      h.notes.push_back(who + " has a digital range outside what " + std::to_string(h.bytes_per_sample * 8) +
                        "-bit samples hold");
  }
  h.record_bytes = offset;

  if (!(h.record_duration_s > 0))
    throw ReadError(path, "the data record duration is " + format_number(h.record_duration_s) +
                              " s; it must be positive to give a sampling rate");
  const std::uint64_t data_bytes = file.size() - h.header_bytes;
  if (h.n_records == -1) {
    h.n_records = static_cast<long long>(data_bytes / h.record_bytes);
    h.warnings.push_back("the header gives -1 data records (recording not finalised); using " +
                         std::to_string(h.n_records) + " from the file size");
    h.notes.push_back("the number of data records is -1");
    if (h.n_records == 0) throw ReadError(path, "the file holds zero samples (no complete data record)");
  } else if (h.n_records < 0) {
    throw ReadError(path, "corrupt header: the number of data records is " + std::to_string(h.n_records));
  }
  if (static_cast<std::uint64_t>(h.n_records) > data_bytes / h.record_bytes)
    throw ReadError(path, "truncated: file is shorter than its header says (" + std::to_string(h.n_records) +
                              " data records of " + std::to_string(h.record_bytes) + " bytes need " +
                              (static_cast<std::uint64_t>(h.n_records) > UINT64_MAX / h.record_bytes
                                   ? std::string("more than 2^64")
                                   : std::to_string(static_cast<std::uint64_t>(h.n_records) * h.record_bytes)) +
                              " bytes after the " + std::to_string(h.header_bytes) + "-byte header, the file holds " +
                              std::to_string(data_bytes) + ")");
  const std::uint64_t extra = data_bytes - static_cast<std::uint64_t>(h.n_records) * h.record_bytes;
  if (extra > 0) {
    h.warnings.push_back(std::to_string(extra) + " bytes after the last complete data record ignored");
    h.notes.push_back("the file is longer than its header says");
  }
  return h;
}

// ---- EDF+ annotations (TALs) -------------------------------------------------

struct Tal {
  double onset = 0.0;
  double duration = 0.0;
  std::vector<std::string> texts;
};

std::vector<Tal> parse_tals(std::string_view block) {
  std::vector<Tal> out;
  for (const auto tal_text : detail::split_on(block, '\0')) {
    if (tal_text.empty()) continue;
    const auto parts = detail::split_on(tal_text, '\x14');
    if (parts.size() < 2) continue;  // not a complete TAL (padding or damage)
    const auto time_parts = detail::split_on(parts[0], '\x15');
    const auto onset = detail::parse_double(time_parts[0]);
    // from_chars also reads "nan" and "inf", which are no time.
    if (!onset || !std::isfinite(*onset) || time_parts[0].empty() ||
        (time_parts[0][0] != '+' && time_parts[0][0] != '-'))
      continue;
    Tal tal;
    tal.onset = *onset;
    if (time_parts.size() > 1)
      if (const auto d = detail::parse_double(time_parts[1]); d && std::isfinite(*d)) tal.duration = *d;
    std::size_t end = parts.size();
    if (parts.back().empty()) --end;  // a complete TAL ends in \x14
    for (std::size_t i = 1; i < end; ++i) tal.texts.emplace_back(parts[i]);
    out.push_back(std::move(tal));
  }
  return out;
}

const EdfSignal* first_annotation_signal(const EdfHeader& h) {
  for (const auto& s : h.signals)
    if (s.annotation) return &s;
  return nullptr;
}

// Onset of every data record from its time-keeping TAL.
std::vector<double> record_onsets(detail::InputFile& file, const EdfHeader& h) {
  std::vector<double> onsets;
  const EdfSignal* a = first_annotation_signal(h);
  if (a == nullptr) return onsets;
  std::string block(static_cast<std::size_t>(a->samples_per_record) * static_cast<std::size_t>(h.bytes_per_sample), '\0');
  for (long long r = 0; r < h.n_records; ++r) {
    file.read_at(h.header_bytes + static_cast<std::uint64_t>(r) * h.record_bytes + a->offset_in_record, block.data(),
                 block.size());
    const auto tals = parse_tals(block);
    if (tals.empty() || tals.front().texts.empty() || !tals.front().texts.front().empty())
      throw ReadError(file.path(), "corrupt EDF+ annotations: data record " + std::to_string(r) +
                                       " has no time-keeping annotation");
    onsets.push_back(tals.front().onset);
  }
  return onsets;
}

void check_continuous(detail::InputFile& file, const EdfHeader& h, std::vector<std::string>& warnings) {
  const auto onsets = record_onsets(file, h);
  for (std::size_t r = 1; r < onsets.size(); ++r) {
    const double expected = onsets[0] + static_cast<double>(r) * h.record_duration_s;
    if (std::abs(onsets[r] - expected) > 1e-6)
      throw UnsupportedFormatError(
          file.path(), "discontinuous recording (EDF+D/BDF+D): data record " + std::to_string(r) + " starts at " +
                           format_number(onsets[r] - onsets[0]) + " s instead of " +
                           format_number(expected - onsets[0]) + " s; recordings with gaps are not supported");
  }
  warnings.push_back("the file is marked discontinuous (EDF+D/BDF+D) but its data records are contiguous; read as continuous");
}

// ---- start time --------------------------------------------------------------

std::string iso_time(int year, int month, int day, int hour, int minute, int second, long long subsecond_100ns) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d", year, month, day, hour, minute, second);
  std::string out = buf;
  if (subsecond_100ns > 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, "%07lld", subsecond_100ns % 10000000LL);
    std::string f = frac;
    while (!f.empty() && f.back() == '0') f.pop_back();
    out += "." + f;
  }
  return out;
}

// The header's dd.mm.yy / hh.mm.ss with the EDF year rule (85-99 -> 19xx)
// and the EDF+ "Startdate dd-MMM-yyyy" for the full year.
std::string own_start_time(const EdfHeader& h, double first_onset, std::vector<std::string>& warnings) {
  int d = 0, mo = 0, y = 0, hh = 0, mi = 0, ss = 0;
  if (std::sscanf(h.startdate.c_str(), "%2d.%2d.%2d", &d, &mo, &y) != 3 ||
      std::sscanf(h.starttime.c_str(), "%2d.%2d.%2d", &hh, &mi, &ss) != 3 || d < 1 || d > 31 || mo < 1 ||
      mo > 12 || hh > 23 || mi > 59 || ss > 59) {
    warnings.push_back("start date/time " + excerpt(h.startdate + " " + h.starttime) + " is not dd.mm.yy hh.mm.ss; start time unknown");
    return {};
  }
  y += y >= 85 ? 1900 : 2000;
  if (h.plus && h.recording.rfind("Startdate ", 0) == 0) {
    static const char* months[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
    const std::string date = h.recording.substr(10, 11);
    if (date.size() == 11 && date[2] == '-' && date[6] == '-' && date.substr(3, 3) == months[mo - 1])
      if (const auto full = detail::parse_int(date.substr(7, 4)); full && *full % 100 == y % 100) y = static_cast<int>(*full);
  }
  if (!(std::abs(first_onset) < 1e9)) {  // ~30 years: no record starts that late; and an int64 must hold it
    warnings.push_back("the first data record's time-keeping annotation says " + format_number(first_onset) +
                       " s; its fraction of a second is not added to start_time");
    first_onset = 0.0;
  }
  long long whole = static_cast<long long>(std::floor(first_onset));
  long long sub = std::llround((first_onset - static_cast<double>(whole)) * 1e7);
  if (sub >= 10000000LL) {
    ++whole;
    sub -= 10000000LL;
  }
  if (whole != 0) {
    warnings.push_back("the first data record starts " + format_number(first_onset) +
                       " s after the header's start time; the whole seconds are not added to start_time");
  }
  return iso_time(y, mo, d, hh, mi, ss, sub);
}

// ---- channel selection -------------------------------------------------------

struct Kept {
  std::size_t signal = 0;  // index into EdfHeader::signals
  double factor = 1.0;     // to microvolts (1 for non-voltage channels)
};

std::vector<Kept> choose_signals(const EdfHeader& h, const ReadOptions& options, Recording& rec) {
  std::vector<Kept> candidates;
  for (std::size_t i = 0; i < h.signals.size(); ++i) {
    const EdfSignal& s = h.signals[i];
    if (s.annotation) continue;
    const auto factor = microvolts_per_unit(s.unit);
    const std::string name = s.label.empty() ? "ch" + std::to_string(i + 1) : s.label;
    if (!factor) {
      if (!options.include_non_voltage) {
        rec.warnings.push_back("channel '" + name + "' excluded: its unit " + excerpt(s.unit) +
                               " is not a voltage (include_non_voltage keeps it)");
        continue;
      }
      rec.warnings.push_back("channel '" + name + "' kept in its own unit " + excerpt(s.unit) +
                             ", not converted to microvolts");
    }
    candidates.push_back({i, factor.value_or(1.0)});
  }
  if (candidates.empty()) return candidates;
  // All signals share the record duration, so equal rates mean equal counts per record.
  std::map<long long, std::size_t> count;
  for (const auto& k : candidates) ++count[h.signals[k.signal].samples_per_record];
  long long majority = h.signals[candidates.front().signal].samples_per_record;
  for (const auto& k : candidates) {
    const long long spr = h.signals[k.signal].samples_per_record;
    if (count[spr] > count[majority]) majority = spr;
  }
  std::vector<Kept> kept;
  for (const auto& k : candidates) {
    const EdfSignal& s = h.signals[k.signal];
    if (s.samples_per_record == majority) {
      kept.push_back(k);
      continue;
    }
    rec.warnings.push_back("channel '" + (s.label.empty() ? "ch" + std::to_string(k.signal + 1) : s.label) +
                           "' excluded: sampled at " +
                           format_number(static_cast<double>(s.samples_per_record) / h.record_duration_s) +
                           " Hz, unlike the majority of channels (" +
                           format_number(static_cast<double>(majority) / h.record_duration_s) + " Hz)");
  }
  return kept;
}

void describe_channels(const EdfHeader& h, const std::vector<Kept>& kept, Recording& rec) {
  for (const auto& k : kept) {
    const EdfSignal& s = h.signals[k.signal];
    ChannelInfo c;
    c.name = s.label.empty() ? "ch" + std::to_string(k.signal + 1) : s.label;
    const std::string type = detail::type_from_label(s.label);
    const bool voltage = microvolts_per_unit(s.unit).has_value();
    c.type = !type.empty() ? type : (voltage ? "EMG" : "MISC");
    c.source_unit = s.unit;
    rec.channels.push_back(std::move(c));
  }
  for (auto& w : make_channel_names_unique(rec.channels)) rec.warnings.push_back(std::move(w));
}

// ---- decoding ----------------------------------------------------------------

struct EdflibFile {
  int handle = -1;
  ~EdflibFile() {
    if (handle >= 0) edfclose_file(handle);
  }
};

std::string edflib_open_problem(int code) {
  switch (code) {
    case EDFLIB_MALLOC_ERROR: return "out of memory while opening";
    case EDFLIB_NO_SUCH_FILE_OR_DIRECTORY: return "no such file or cannot open it";
    case EDFLIB_FILE_CONTAINS_FORMAT_ERRORS: return "not a valid EDF/BDF file (EDFlib reports format errors)";
    case EDFLIB_MAXFILES_REACHED: return "too many EDF/BDF files open at once";
    case EDFLIB_FILE_READ_ERROR: return "read error (file shorter than its header or unreadable)";
    case EDFLIB_FILE_ALREADY_OPENED: return "the file is already open in EDFlib";
    case EDFLIB_FILETYPE_ERROR: return "not an EDF/BDF file";
    case EDFLIB_FILE_WRITE_ERROR: return "write error";
    case EDFLIB_NUMBER_OF_SIGNALS_INVALID: return "invalid number of signals (EDFlib reads at most 640)";
    case EDFLIB_FILE_IS_DISCONTINUOUS: return "discontinuous recording (EDF+D/BDF+D) is not supported";
    case EDFLIB_INVALID_READ_ANNOTS_VALUE: return "internal error: invalid annotation mode";
    case EDFLIB_ARCH_ERROR: return "EDFlib does not support this machine architecture";
    default: return "EDFlib error " + std::to_string(code);
  }
}

// EDFlib numbers the data signals without the annotation signals.
std::vector<int> edflib_signal_index(const std::string& path, const EdfHeader& h, const edf_hdr_struct& hdr) {
  std::vector<int> edflib_index(h.signals.size(), -1);
  int next = 0;
  for (std::size_t i = 0; i < h.signals.size(); ++i)
    if (!h.signals[i].annotation) edflib_index[i] = next++;
  if (next != hdr.edfsignals)
    throw ReadError(path, "EDFlib sees " + std::to_string(hdr.edfsignals) + " signals, the header declares " +
                              std::to_string(next));
  return edflib_index;
}

void edflib_metadata(const edf_hdr_struct& hdr, Recording& rec) {
  rec.start_time = iso_time(hdr.startdate_year, hdr.startdate_month, hdr.startdate_day, hdr.starttime_hour,
                            hdr.starttime_minute, hdr.starttime_second, hdr.starttime_subsecond);
  for (long long i = 0; i < hdr.annotations_in_file; ++i) {
    edf_annotation_struct a{};
    if (edf_get_annotation(hdr.handle, static_cast<int>(i), &a) != 0) break;
    Annotation ann;
    ann.onset_s = static_cast<double>(a.onset) / static_cast<double>(EDFLIB_TIME_DIMENSION);
    if (a.duration_l >= 0) {
      ann.duration_s = static_cast<double>(a.duration_l) / static_cast<double>(EDFLIB_TIME_DIMENSION);
    } else if (const auto d = detail::parse_double(a.duration)) {
      ann.duration_s = *d;
    }
    ann.description = a.annotation;
    rec.annotations.push_back(std::move(ann));
  }
}

void read_with_edflib(const std::string& path, const EdfHeader& h, edf_hdr_struct& hdr,
                      const std::vector<Kept>& kept, Recording& rec) {
  const std::vector<int> edflib_index = edflib_signal_index(path, h, hdr);
  const Index n = static_cast<Index>(h.n_records * h.signals[kept.front().signal].samples_per_record);
  RowMatrix<double> m(static_cast<Index>(kept.size()), n);
  constexpr Index chunk = 1 << 20;
  for (std::size_t r = 0; r < kept.size(); ++r) {
    const int sig = edflib_index[kept[r].signal];
    double* row = m.row(static_cast<Index>(r)).data();
    for (Index done = 0; done < n;) {
      const int want = static_cast<int>(std::min(chunk, n - done));
      const int got = edfread_physical_samples(hdr.handle, sig, want, row + done);
      if (got != want)
        throw ReadError(path, "read error in signal '" + h.signals[kept[r].signal].label + "' at sample " +
                                  std::to_string(done) + " (EDFlib returned " + std::to_string(got) + ")");
      done += want;
    }
    if (kept[r].factor != 1.0) m.row(static_cast<Index>(r)) *= kept[r].factor;
  }
  rec.samples = std::move(m);
  edflib_metadata(hdr, rec);
}

// Decodes samples [from, to) of one data record (EDFlib's formula, so both
// paths give identical numbers) into out[0 .. to-from).
void decode_record(const EdfHeader& h, const Kept& k, const unsigned char* record, long long from, long long to,
                   double* out) {
  const EdfSignal& s = h.signals[k.signal];
  const double bitvalue = (s.phys_max - s.phys_min) / static_cast<double>(s.dig_max - s.dig_min);
  const double offset = s.phys_max / bitvalue - static_cast<double>(s.dig_max);
  const unsigned char* p = record + s.offset_in_record;
  for (long long i = from; i < to; ++i) {
    std::int32_t dig = 0;
    if (h.bdf) {
      const auto u = static_cast<std::uint32_t>(p[3 * i]) | static_cast<std::uint32_t>(p[3 * i + 1]) << 8 |
                     static_cast<std::uint32_t>(p[3 * i + 2]) << 16;
      dig = static_cast<std::int32_t>(u << 8) >> 8;
    } else {
      dig = static_cast<std::int16_t>(static_cast<std::uint16_t>(p[2 * i] | p[2 * i + 1] << 8));
    }
    out[i - from] = bitvalue * (offset + static_cast<double>(dig)) * k.factor;
  }
}

// Walks every data record: annotations and start time into rec, and the
// samples too when decode is set (a chunked reader takes only the metadata).
void read_own(detail::InputFile& file, const EdfHeader& h, const std::vector<Kept>& kept, Recording& rec,
              bool decode = true) {
  const long long spr = h.signals[kept.front().signal].samples_per_record;
  const Index n = static_cast<Index>(h.n_records * spr);
  RowMatrix<double> m(decode ? static_cast<Index>(kept.size()) : 0, decode ? n : 0);
  std::vector<unsigned char> record(static_cast<std::size_t>(h.record_bytes));
  std::vector<double> onsets;
  for (long long r = 0; r < h.n_records; ++r) {
    file.read_at(h.header_bytes + static_cast<std::uint64_t>(r) * h.record_bytes, record.data(), record.size());
    if (decode)
      for (std::size_t k = 0; k < kept.size(); ++k)
        decode_record(h, kept[k], record.data(), 0, spr, m.row(static_cast<Index>(k)).data() + r * spr);
    bool first_annotation_signal = true;
    for (const auto& s : h.signals) {
      if (!s.annotation) continue;
      const std::string_view block(reinterpret_cast<const char*>(record.data() + s.offset_in_record),
                                   static_cast<std::size_t>(s.samples_per_record * h.bytes_per_sample));
      auto tals = parse_tals(block);
      for (std::size_t t = 0; t < tals.size(); ++t) {
        std::size_t first_text = 0;
        if (first_annotation_signal && t == 0 && !tals[t].texts.empty() && tals[t].texts.front().empty()) {
          onsets.push_back(tals[t].onset);  // time-keeping TAL
          first_text = 1;
        }
        for (std::size_t x = first_text; x < tals[t].texts.size(); ++x)
          if (!tals[t].texts[x].empty())
            rec.annotations.push_back({tals[t].onset, tals[t].duration, tals[t].texts[x]});
      }
      first_annotation_signal = false;
    }
  }
  if (decode) rec.samples = std::move(m);
  // Onsets count from the first record's time-keeping annotation, unless
  // that is no usable time (own_start_time warns about it).
  const double first = onsets.empty() || !(std::abs(onsets.front()) < 1e9) ? 0.0 : onsets.front();
  for (auto& a : rec.annotations) a.onset_s -= first;
  rec.start_time = own_start_time(h, onsets.empty() ? 0.0 : onsets.front(), rec.warnings);
}

struct EdfPrepared {
  EdfHeader h;
  std::vector<Kept> kept;
  Recording rec;
};

// Header, channel choice and channel metadata: everything before the samples.
EdfPrepared prepare(detail::InputFile& file, const std::string& path, const ReadOptions& options) {
  EdfPrepared p;
  p.h = parse_header(file);
  const EdfHeader& h = p.h;
  Recording& rec = p.rec;
  rec.source = path;
  rec.format = h.bdf ? "bdf" : "edf";
  rec.warnings = h.warnings;
  if (h.discontinuous) check_continuous(file, h, rec.warnings);

  p.kept = choose_signals(h, options, rec);
  if (p.kept.empty()) {
    std::string why;
    for (const auto& w : rec.warnings) why += "; " + w;
    throw ReadError(path, "no channels to read" + (why.empty() ? std::string(" (the file holds only annotations)") : why));
  }
  rec.fs = static_cast<double>(h.signals[p.kept.front().signal].samples_per_record) / h.record_duration_s;
  detail::check_fs_option(path, options, rec.fs);
  describe_channels(h, p.kept, rec);
  return p;
}

// Opens the file in EDFlib; the caller holds edflib_mutex. Returns false when
// EDFlib refuses a file whose header passed fasctrack's own checks: it then
// objects to something cosmetic (see the notes), and the caller decodes
// without it (a warning says so). Any other refusal throws.
bool open_with_edflib(const std::string& path, const EdfHeader& h, edf_hdr_struct& hdr, EdflibFile& guard,
                      Recording& rec) {
  const int rc = edfopen_file_readonly(path.c_str(), &hdr, EDFLIB_READ_ALL_ANNOTATIONS);
  if (rc == 0) {
    guard.handle = hdr.handle;
    return true;
  }
  const int code = hdr.filetype;
  if (code == EDFLIB_FILE_CONTAINS_FORMAT_ERRORS || code == EDFLIB_NUMBER_OF_SIGNALS_INVALID ||
      code == EDFLIB_FILE_IS_DISCONTINUOUS || code == EDFLIB_FILE_READ_ERROR) {
    std::string reasons;
    for (const auto& note : h.notes) reasons += (reasons.empty() ? "" : "; ") + note;
    rec.warnings.push_back("EDFlib refused the file (" + (reasons.empty() ? edflib_open_problem(code) : reasons) +
                           "); decoded by fasctrack's own EDF/BDF reader");
    return false;
  }
  throw ReadError(path, edflib_open_problem(code));
}

// Chunks of an EDF/BDF file: EDFlib's per-signal seek and read when it
// accepted the file, otherwise whole data records decoded here.
class EdfSource final : public detail::SampleSource {
 public:
  EdfSource(const std::string& path, const ReadOptions& options) : file_(path) {
    EdfPrepared p = prepare(file_, path, options);
    h_ = std::move(p.h);
    kept_ = std::move(p.kept);
    meta = std::move(p.rec);
    spr_ = h_.signals[kept_.front().signal].samples_per_record;
    n_samples = static_cast<Index>(h_.n_records * spr_);
    {
      std::lock_guard<std::mutex> lock(edflib_mutex());
      auto hdr = std::make_unique<edf_hdr_struct>();
      EdflibFile guard;
      use_edflib_ = open_with_edflib(path, h_, *hdr, guard, meta);
      if (use_edflib_) {
        edflib_index_ = edflib_signal_index(path, h_, *hdr);
        edflib_metadata(*hdr, meta);
      }
    }
    if (!use_edflib_) read_own(file_, h_, kept_, meta, false);
    record_.resize(static_cast<std::size_t>(h_.record_bytes));
  }

  void read(Index start, SampleMatrix& out_variant) override {
    auto& out = std::get<RowMatrix<double>>(out_variant);
    const Index n = out.cols();
    if (n == 0) return;
    if (use_edflib_) {
      // EDFlib refuses to open a file twice, so the handle lives only as
      // long as one block: other readers of the same file (and io::read)
      // keep working. Without annotations, opening parses just the header.
      std::lock_guard<std::mutex> lock(edflib_mutex());
      auto hdr = std::make_unique<edf_hdr_struct>();
      if (edfopen_file_readonly(file_.path().c_str(), hdr.get(), EDFLIB_DO_NOT_READ_ANNOTATIONS) != 0)
        throw ReadError(file_.path(), "cannot reopen for reading (" + edflib_open_problem(hdr->filetype) + ")");
      EdflibFile guard;
      guard.handle = hdr->handle;
      for (std::size_t r = 0; r < kept_.size(); ++r) {
        const int sig = edflib_index_[kept_[r].signal];
        double* row = out.row(static_cast<Index>(r)).data();
        if (edfseek(hdr->handle, sig, static_cast<long long>(start), EDFSEEK_SET) != static_cast<long long>(start))
          throw ReadError(file_.path(), "cannot seek to sample " + std::to_string(start) + " of signal '" +
                                            h_.signals[kept_[r].signal].label + "'");
        for (Index done = 0; done < n;) {
          const int want = static_cast<int>(std::min<Index>(Index{1} << 20, n - done));
          const int got = edfread_physical_samples(hdr->handle, sig, want, row + done);
          if (got != want)
            throw ReadError(file_.path(), "read error in signal '" + h_.signals[kept_[r].signal].label +
                                              "' at sample " + std::to_string(start + done) + " (EDFlib returned " +
                                              std::to_string(got) + ")");
          done += want;
        }
        if (kept_[r].factor != 1.0) out.row(static_cast<Index>(r)) *= kept_[r].factor;
      }
      return;
    }
    const long long first = static_cast<long long>(start) / spr_;
    const long long last = static_cast<long long>(start + n - 1) / spr_;
    for (long long rec = first; rec <= last; ++rec) {
      file_.read_at(h_.header_bytes + static_cast<std::uint64_t>(rec) * h_.record_bytes, record_.data(), record_.size());
      const long long from = std::max<long long>(0, static_cast<long long>(start) - rec * spr_);
      const long long to = std::min<long long>(spr_, static_cast<long long>(start + n) - rec * spr_);
      for (std::size_t k = 0; k < kept_.size(); ++k)
        decode_record(h_, kept_[k], record_.data(), from, to,
                      out.row(static_cast<Index>(k)).data() + (rec * spr_ + from - static_cast<long long>(start)));
    }
  }

 private:
  detail::InputFile file_;
  EdfHeader h_;
  std::vector<Kept> kept_;
  long long spr_ = 0;
  bool use_edflib_ = false;
  std::vector<int> edflib_index_;
  std::vector<unsigned char> record_;
};

}  // namespace

Recording read_edf(const std::string& path, const ReadOptions& options) {
  detail::check_options(path, options);
  detail::InputFile file(path);
  EdfPrepared p = prepare(file, path, options);
  const EdfHeader& h = p.h;
  const auto& kept = p.kept;
  Recording& rec = p.rec;
  detail::check_memory(path, options, kept.size(),
                       static_cast<std::uint64_t>(h.n_records) *
                           static_cast<std::uint64_t>(h.signals[kept.front().signal].samples_per_record),
                       detail::peak_bytes_per_value(options, SampleType::float64), h.record_bytes);

  bool use_own = false;
  {
    std::lock_guard<std::mutex> lock(edflib_mutex());
    auto hdr = std::make_unique<edf_hdr_struct>();
    EdflibFile guard;
    if (open_with_edflib(path, h, *hdr, guard, rec)) read_with_edflib(path, h, *hdr, kept, rec);
    else use_own = true;
  }
  if (use_own) read_own(file, h, kept, rec);
  detail::finish(rec, options, SampleType::float64);
  return std::move(rec);
}

namespace detail {

std::unique_ptr<SampleSource> open_edf_source(const std::string& path, const ReadOptions& options) {
  check_options(path, options);
  return std::make_unique<EdfSource>(path, options);
}

}  // namespace detail

// ---- writing -----------------------------------------------------------------

namespace {

// A physical limit that fits the 8-character EDF header field exactly, so the
// scaling EDFlib writes with is the scaling a reader gets back.
double header_limit(double r, const std::string& path) {
  if (!(r > 0) || !std::isfinite(r)) r = 1.0;
  for (int digits = 4; digits >= 1; --digits) {
    const int e = static_cast<int>(std::floor(std::log10(r)));
    const int scale = e - digits + 1;
    const double unit = std::pow(10.0, scale);
    auto m = static_cast<long long>(std::ceil(r / unit - 1e-9));
    std::string s = std::to_string(m);
    if (scale >= 0) {
      s += std::string(static_cast<std::size_t>(scale), '0');
    } else {
      const auto frac = static_cast<std::size_t>(-scale);
      if (s.size() <= frac) s = std::string(frac - s.size() + 1, '0') + s;
      s.insert(s.begin() + static_cast<std::ptrdiff_t>(s.size() - frac), '.');
    }
    if (s.size() + 1 <= 8) {
      const auto v = detail::parse_double(s);
      if (v && *v >= r) return *v;
    }
  }
  throw std::invalid_argument(path + ": physical range " + format_number(r) +
                              " uV does not fit the 8-character EDF header field");
}

struct StartTime {
  int year = 1985, month = 1, day = 1, hour = 0, minute = 0, second = 0;
  long long subsecond_100ns = 0;
};

StartTime parse_iso(const std::string& text, const std::string& path) {
  StartTime t;
  if (text.empty()) return t;  // EDF+ convention for an unknown date: 01.01.85
  char sep = 'T';
  int consumed = 0;
  const int got = std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d%n", &t.year, &t.month, &t.day, &sep, &t.hour,
                              &t.minute, &t.second, &consumed);
  if (got < 3 || (got > 3 && got < 7) || (got >= 4 && sep != 'T' && sep != ' ') || t.month < 1 || t.month > 12 ||
      t.day < 1 || t.day > 31 || t.hour > 23 || t.minute > 59 || t.second > 60)
    throw std::invalid_argument(path + ": start_time '" + text + "' is not ISO 8601 (YYYY-MM-DDTHH:MM:SS)");
  if (got == 7 && static_cast<std::size_t>(consumed) < text.size() && text[static_cast<std::size_t>(consumed)] == '.') {
    std::string frac = text.substr(static_cast<std::size_t>(consumed) + 1, 7);
    while (!frac.empty() && !std::isdigit(static_cast<unsigned char>(frac.back()))) frac.pop_back();
    frac.resize(7, '0');
    t.subsecond_100ns = detail::parse_int(frac).value_or(0);
  }
  if (t.year < 1985 || t.year > 2084)
    throw std::invalid_argument(path + ": start_time year " + std::to_string(t.year) +
                                " is outside what EDF can store (1985-2084)");
  return t;
}

}  // namespace

void write_edf(const std::string& path, const Recording& rec, const EdfWriteOptions& options) {
  rec.validate();
  const long long fs = std::llround(rec.fs);
  if (std::abs(rec.fs - static_cast<double>(fs)) > 1e-9 * rec.fs || fs < 1)
    throw std::invalid_argument(path + ": write_edf needs a whole number of samples per second, fs is " +
                                format_number(rec.fs) + " Hz");
  if (rec.n_channels() > EDFLIB_MAXSIGNALS - 64)
    throw std::invalid_argument(path + ": EDF files written here hold at most " +
                                std::to_string(EDFLIB_MAXSIGNALS - 64) + " channels");
  if (options.physical_range_uv < 0 || !std::isfinite(options.physical_range_uv))
    throw std::invalid_argument(path + ": physical_range_uv must be >= 0");
  const StartTime start = parse_iso(rec.start_time, path);

  const RowMatrix<double> x = std::visit([](const auto& m) -> RowMatrix<double> { return m.template cast<double>(); },
                                         rec.samples);
  for (Index c = 0; c < x.rows(); ++c)
    if (!x.row(c).allFinite())
      throw std::invalid_argument(path + ": channel '" + rec.channels[static_cast<std::size_t>(c)].name +
                                  "' holds NaN or infinite samples, which EDF cannot store");
  for (const auto& a : rec.annotations)
    if (!(a.onset_s >= 0) || !(a.duration_s >= 0) || !std::isfinite(a.onset_s) || !std::isfinite(a.duration_s))
      throw std::invalid_argument(path + ": annotation '" + a.description + "' has a negative or non-finite onset/duration");

  const long long n = x.cols();
  const long long n_records = (n + fs - 1) / fs;
  const long long n_annotations = static_cast<long long>(rec.annotations.size());
  const long long annot_signals = std::clamp<long long>((n_annotations + n_records - 1) / n_records, 1, 64);
  if (n_annotations > annot_signals * n_records)
    throw std::invalid_argument(path + ": too many annotations (" + std::to_string(n_annotations) + ") for " +
                                std::to_string(n_records) + " one-second EDF records");

  std::vector<double> limits;
  for (Index c = 0; c < x.rows(); ++c) {
    const double range = options.physical_range_uv > 0 ? options.physical_range_uv : 1.1 * x.row(c).cwiseAbs().maxCoeff();
    limits.push_back(header_limit(range, path));
  }

  const std::string tmp = path + ".tmp";
  std::lock_guard<std::mutex> lock(edflib_mutex());
  const int handle = edfopen_file_writeonly(tmp.c_str(), options.bdf ? EDFLIB_FILETYPE_BDFPLUS : EDFLIB_FILETYPE_EDFPLUS,
                                            static_cast<int>(x.rows()));
  if (handle < 0) {
    std::error_code ec;
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
      throw WriteError(path, "cannot create file: directory '" + dir.string() + "' does not exist");
    throw WriteError(path, "cannot create file (" + edflib_open_problem(handle) + ")");
  }
  bool ok = true;
  auto fail = [&](const std::string& problem) {
    edfclose_file(handle);
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw WriteError(path, problem);
  };
  const int dig_max = options.bdf ? 8388607 : 32767;
  const int dig_min = options.bdf ? -8388608 : -32768;
  for (Index c = 0; c < x.rows(); ++c) {
    const int i = static_cast<int>(c);
    const double limit = limits[static_cast<std::size_t>(c)];
    ok = ok && edf_set_samplefrequency(handle, i, static_cast<int>(fs)) == 0;
    ok = ok && edf_set_physical_maximum(handle, i, limit) == 0;
    ok = ok && edf_set_physical_minimum(handle, i, -limit) == 0;
    ok = ok && edf_set_digital_maximum(handle, i, dig_max) == 0;
    ok = ok && edf_set_digital_minimum(handle, i, dig_min) == 0;
    ok = ok && edf_set_label(handle, i, rec.channels[static_cast<std::size_t>(c)].name.c_str()) == 0;
    ok = ok && edf_set_physical_dimension(handle, i, "uV") == 0;
  }
  ok = ok && edf_set_startdatetime(handle, start.year, start.month, start.day, start.hour, start.minute, start.second) == 0;
  if (start.subsecond_100ns > 0) ok = ok && edf_set_subsecond_starttime(handle, static_cast<int>(start.subsecond_100ns)) == 0;
  ok = ok && edf_set_equipment(handle, "fasctrack") == 0;
  ok = ok && edf_set_number_of_annotation_signals(handle, static_cast<int>(annot_signals)) == 0;
  if (!ok) fail("EDFlib rejected the header parameters");

  // Digital values are computed here because EDFlib's physical writer
  // truncates; rounding halves the quantisation error. Same scaling a reader uses.
  std::vector<int> buf(static_cast<std::size_t>(fs));
  for (long long r = 0; r < n_records; ++r) {
    for (Index c = 0; c < x.rows(); ++c) {
      const double limit = limits[static_cast<std::size_t>(c)];
      const double bitvalue = 2.0 * limit / (static_cast<double>(dig_max) - static_cast<double>(dig_min));
      const double offset = limit / bitvalue - static_cast<double>(dig_max);
      const long long begin = r * fs;
      const long long count = std::min(fs, n - begin);
      for (long long i = 0; i < fs; ++i) {
        const double v = i < count ? x(c, begin + i) : 0.0;
        const double d = std::round(v / bitvalue - offset);
        buf[static_cast<std::size_t>(i)] = static_cast<int>(std::clamp(d, static_cast<double>(dig_min), static_cast<double>(dig_max)));
      }
      if (edfwrite_digital_samples(handle, buf.data()) != 0) fail("write error in data record " + std::to_string(r));
    }
  }
  for (const auto& a : rec.annotations) {
    const long long onset = std::llround(a.onset_s * 1e4);  // EDFlib's write unit is 100 us
    const long long duration = a.duration_s > 0 ? std::llround(a.duration_s * 1e4) : -1;
    if (edfwrite_annotation_utf8(handle, onset, duration, a.description.c_str()) != 0)
      fail("cannot write annotation '" + a.description + "'");
  }
  if (edfclose_file(handle) != 0) {
    std::error_code ec;
    std::filesystem::remove(tmp, ec);
    throw WriteError(path, "write error while finishing the file");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw WriteError(path, "cannot rename the temporary file into place: " + ec.message());
  }
}

}  // namespace fasctrack::io
