// The session manifest: parsing and validation.
//
// A manifest is written by hand, so every check says which field is wrong
// and why, and nothing in it (wrong types, huge numbers, odd bytes, deep
// nesting) may crash or hang the parser: a fuzzer feeds it arbitrary bytes.
#include <fasctrack/pattern/manifest.hpp>

#include "json_fields.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>

namespace fasctrack::pattern {

namespace {

using detail::json;
using detail::JsonFields;

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
// days_from_civil), exact for every year we accept.
long long days_from_civil(long long y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const long long era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<long long>(doe) - 719468;
}

bool leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap(y) ? 29 : days[m - 1];
}

// Reads exactly n digits at pos; -1 when they are not all digits.
int digits(std::string_view t, std::size_t pos, std::size_t n) {
  if (pos + n > t.size()) return -1;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(t[i]))) return -1;
    v = v * 10 + (t[i] - '0');
  }
  return v;
}

std::string strip_prefix(std::string message, std::string_view prefix) {
  if (message.rfind(prefix, 0) == 0) message.erase(0, prefix.size());
  return message;
}

std::string lower_extension(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

// Copies valid UTF-8 sequences and replaces every other byte with '?'.
std::string valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (std::size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) >> 6) == 0x2;
    // Overlong forms, surrogates and code points beyond U+10FFFF are invalid too.
    if (ok && n == 2) ok = c >= 0xC2;
    if (ok && n == 3) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
    }
    if (ok && n == 4) {
      const auto c1 = static_cast<unsigned char>(s[i + 1]);
      ok = c <= 0xF4 && !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
    }
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

}  // namespace

ManifestError::ManifestError(std::string source, std::string field, std::string problem)
    : ReadError(valid_utf8(source), valid_utf8(field.empty() ? problem : field + ": " + problem)),
      field_(valid_utf8(field)) {}

double parse_date(std::string_view text) {
  const auto bad = [&](const std::string& why) -> double {
    throw std::invalid_argument("'" + valid_utf8(text.substr(0, 64)) + "' is not a date: " + why);
  };
  if (text.size() < 10 || text[4] != '-' || text[7] != '-') return bad("expected YYYY-MM-DD");
  const int y = digits(text, 0, 4), m = digits(text, 5, 2), d = digits(text, 8, 2);
  if (y < 0 || m < 0 || d < 0) return bad("expected YYYY-MM-DD");
  if (y < 1900 || y > 2200) return bad("year outside 1900-2200");
  if (m < 1 || m > 12) return bad("no month " + std::to_string(m));
  if (d < 1 || d > days_in_month(y, m)) return bad("day " + std::to_string(d) + " does not exist in that month");
  double day = static_cast<double>(days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)));
  if (text.size() == 10) return day;
  if (text[10] != 'T' && text[10] != ' ') return bad("expected YYYY-MM-DD, optionally followed by THH:MM[:SS]");
  const std::string_view t = text.substr(11);
  if (t.size() != 5 && t.size() != 8) return bad("expected the time as HH:MM or HH:MM:SS");
  const int hh = digits(t, 0, 2), mm = digits(t, 3, 2);
  const int ss = t.size() == 8 ? digits(t, 6, 2) : 0;
  if (t[2] != ':' || (t.size() == 8 && t[5] != ':') || hh < 0 || mm < 0 || ss < 0 || hh > 23 || mm > 59 || ss > 59)
    return bad("expected the time as HH:MM or HH:MM:SS");
  return day + (hh * 3600.0 + mm * 60.0 + ss) / 86400.0;
}

Manifest parse_manifest(std::string_view json_text, const std::filesystem::path& base_dir,
                        std::string_view source_name, bool check_files) {
  const JsonFields f{std::string(source_name)};
  Manifest out;
  out.source = std::string(source_name);
  out.base_dir = base_dir;
  try {
    const json doc = f.parse(json_text);
    f.object(doc, "(document)");
    f.unknown_keys(doc, {"subject", "sessions", "description", "comment"}, "", out.warnings);
    out.subject = f.string(doc, "subject", "", false);
    const json* sessions = JsonFields::find(doc, "sessions");
    if (!sessions) f.fail("sessions", "missing");
    f.array(*sessions, "sessions");
    if (sessions->empty()) f.fail("sessions", "must list at least one session");

    std::map<std::string, std::size_t> ids;
    // muscle -> (region, side, field that set them), to catch contradictions.
    struct Placement {
      BodyRegion region = BodyRegion::unknown;
      Side side = Side::unknown;
      std::string region_field, side_field;
    };
    std::map<std::string, Placement> placement;
    for (std::size_t i = 0; i < sessions->size(); ++i) {
      const std::string sf = JsonFields::index("sessions", i);
      const json& sj = f.object((*sessions)[i], sf);
      f.unknown_keys(sj, {"id", "date", "recording", "fs", "channels", "context", "clinical", "notes", "comment"},
                     sf, out.warnings);
      ManifestSession s;
      s.id = f.string(sj, "id", sf, true);
      if (auto it = ids.find(s.id); it != ids.end())
        f.fail(sf + ".id", "duplicate id '" + s.id + "' (also sessions[" + std::to_string(it->second) + "].id)");
      ids.emplace(s.id, i);

      s.date = f.string(sj, "date", sf, true);
      try {
        s.day = parse_date(s.date);
      } catch (const std::invalid_argument& e) {
        f.fail(sf + ".date", e.what());
      }
      if (i > 0 && s.day < out.sessions.back().day)
        f.fail(sf + ".date", s.date + " is before sessions[" + std::to_string(i - 1) + "].date " +
                                 out.sessions.back().date + " (sessions must be listed in date order)");

      const std::string rec = f.string(sj, "recording", sf, true);
      const std::filesystem::path rp(rec);
      s.recording = (rp.is_absolute() ? rp : base_dir / rp).lexically_normal();
      if (auto fs = f.number(sj, "fs", sf)) {
        if (*fs <= 0.0 || *fs > 1e7) f.fail(sf + ".fs", "must be a positive sampling rate in Hz");
        s.fs = *fs;
      }
      if (!s.fs && lower_extension(s.recording) == ".npy")
        f.fail(sf + ".fs", "required for a .npy recording (" + rec + ")");
      if (check_files) {
        std::error_code ec;
        if (!std::filesystem::is_regular_file(s.recording, ec))
          f.fail(sf + ".recording", "file not found: " + s.recording.string());
      }

      if (const json* ch = JsonFields::find(sj, "channels")) {
        const std::string cf = sf + ".channels";
        f.array(*ch, cf);
        std::set<std::string> names;
        for (std::size_t k = 0; k < ch->size(); ++k) {
          const std::string kf = JsonFields::index(cf, k);
          const json& cj = f.object((*ch)[k], kf);
          f.unknown_keys(cj, {"name", "muscle", "region", "side", "type", "bad"}, kf, out.warnings);
          ManifestChannel c;
          c.name = f.string(cj, "name", kf, true);
          if (!names.insert(c.name).second) f.fail(kf + ".name", "duplicate channel name '" + c.name + "'");
          c.muscle = f.string(cj, "muscle", kf, true);
          const std::string region = f.string(cj, "region", kf, false);
          const std::string side = f.string(cj, "side", kf, false);
          try {
            c.region = parse_body_region(region);
          } catch (const std::invalid_argument& e) {
            f.fail(kf + ".region", strip_prefix(e.what(), "region: "));
          }
          try {
            c.side = parse_side(side);
          } catch (const std::invalid_argument& e) {
            f.fail(kf + ".side", strip_prefix(e.what(), "side: "));
          }
          Placement& p = placement[c.muscle];
          if (c.region != BodyRegion::unknown) {
            if (p.region != BodyRegion::unknown && p.region != c.region)
              f.fail(kf + ".region", "'" + std::string(to_string(c.region)) + "' contradicts '" +
                                         std::string(to_string(p.region)) + "' given for muscle '" + c.muscle +
                                         "' in " + p.region_field);
            p.region = c.region;
            p.region_field = kf + ".region";
          }
          if (c.side != Side::unknown) {
            if (p.side != Side::unknown && p.side != c.side)
              f.fail(kf + ".side", "'" + std::string(to_string(c.side)) + "' contradicts '" +
                                       std::string(to_string(p.side)) + "' given for muscle '" + c.muscle + "' in " +
                                       p.side_field);
            p.side = c.side;
            p.side_field = kf + ".side";
          }
          s.channels.push_back(std::move(c));
        }
      }
      s.context = f.strings(sj, "context", sf);
      if (const json* cl = JsonFields::find(sj, "clinical")) {
        const std::string clf = sf + ".clinical";
        f.object(*cl, clf);
        f.unknown_keys(*cl, {"weakness", "atrophy", "notes"}, clf, out.warnings);
        s.clinical.weakness = f.strings(*cl, "weakness", clf);
        s.clinical.atrophy = f.strings(*cl, "atrophy", clf);
      }
      out.sessions.push_back(std::move(s));
    }

    // Clinical findings must name a recorded muscle. Without channel lists
    // the muscles are known only once the recordings are read, and the same
    // check runs then (check_clinical_muscles).
    const bool all_listed = std::all_of(out.sessions.begin(), out.sessions.end(),
                                        [](const ManifestSession& s) { return !s.channels.empty(); });
    if (all_listed) {
      std::set<std::string> muscles;
      for (const auto& s : out.sessions)
        for (const auto& c : s.channels) muscles.insert(c.muscle);
      for (std::size_t i = 0; i < out.sessions.size(); ++i) {
        const auto& s = out.sessions[i];
        const auto check = [&](const std::vector<std::string>& list, const char* what) {
          for (std::size_t j = 0; j < list.size(); ++j)
            if (!muscles.count(list[j])) {
              std::string known;
              for (const auto& m : muscles) known += (known.empty() ? "" : ", ") + m;
              f.fail("sessions[" + std::to_string(i) + "].clinical." + what + "[" + std::to_string(j) + "]",
                     "unknown muscle '" + list[j] + "' (the channels name: " + known + ")");
            }
        };
        check(s.clinical.weakness, "weakness");
        check(s.clinical.atrophy, "atrophy");
      }
    }
  } catch (const ManifestError&) {
    throw;
  } catch (const json::exception& e) {
    // Every access above is type-checked first; this is a safety net.
    f.fail("", std::string("invalid manifest: ") + e.what());
  }
  return out;
}

Manifest read_manifest(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ReadError(path.string(), "is a directory, not a manifest");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ReadError(path.string(), "cannot open the manifest");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw ReadError(path.string(), "cannot read the manifest");
  std::filesystem::path base = path.parent_path();
  if (base.empty()) base = ".";
  return parse_manifest(text.str(), base, path.string(), true);
}

}  // namespace fasctrack::pattern
