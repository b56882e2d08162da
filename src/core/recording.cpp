#include <fasctrack/core/recording.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

namespace fasctrack {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\r\n");
  return std::string(text.substr(first, last - first + 1));
}

}  // namespace

std::string_view to_string(BodyRegion region) noexcept {
  switch (region) {
    case BodyRegion::bulbar: return "bulbar";
    case BodyRegion::cervical: return "cervical";
    case BodyRegion::thoracic: return "thoracic";
    case BodyRegion::lumbosacral: return "lumbosacral";
    case BodyRegion::unknown: break;
  }
  return "unknown";
}

std::string_view to_string(Side side) noexcept {
  switch (side) {
    case Side::left: return "left";
    case Side::right: return "right";
    case Side::midline: return "midline";
    case Side::unknown: break;
  }
  return "unknown";
}

BodyRegion parse_body_region(std::string_view text) {
  const std::string t = lower(trim(text));
  if (t.empty() || t == "unknown" || t == "n/a") return BodyRegion::unknown;
  if (t == "bulbar") return BodyRegion::bulbar;
  if (t == "cervical") return BodyRegion::cervical;
  if (t == "thoracic") return BodyRegion::thoracic;
  if (t == "lumbosacral" || t == "lumbar" || t == "lumbo-sacral") return BodyRegion::lumbosacral;
  throw std::invalid_argument("region: unknown body region '" + std::string(text) +
                              "' (expected bulbar, cervical, thoracic or lumbosacral)");
}

Side parse_side(std::string_view text) {
  const std::string t = lower(trim(text));
  if (t.empty() || t == "unknown" || t == "n/a") return Side::unknown;
  if (t == "l" || t == "left") return Side::left;
  if (t == "r" || t == "right") return Side::right;
  if (t == "m" || t == "midline" || t == "mid" || t == "c" || t == "centre" || t == "center")
    return Side::midline;
  throw std::invalid_argument("side: unknown side '" + std::string(text) +
                              "' (expected L, R or midline)");
}

Index Recording::n_channels() const {
  return std::visit([](const auto& m) { return m.rows(); }, samples);
}

Index Recording::n_samples() const {
  return std::visit([](const auto& m) { return m.cols(); }, samples);
}

double Recording::duration_s() const {
  return fs > 0 ? static_cast<double>(n_samples()) / fs : 0.0;
}

SampleType Recording::sample_type() const {
  return std::holds_alternative<RowMatrix<float>>(samples) ? SampleType::float32
                                                           : SampleType::float64;
}

void Recording::validate() const {
  const std::string where = source.empty() ? std::string("recording") : source;
  if (!(fs > 0) || !std::isfinite(fs))
    throw std::invalid_argument(where + ": fs must be a positive finite number of Hz, got " +
                                std::to_string(fs));
  if (n_channels() == 0) throw std::invalid_argument(where + ": recording has zero channels");
  if (n_samples() == 0) throw std::invalid_argument(where + ": recording has zero samples");
  if (static_cast<Index>(channels.size()) != n_channels())
    throw std::invalid_argument(where + ": " + std::to_string(channels.size()) +
                                " channel descriptions for " + std::to_string(n_channels()) +
                                " rows of samples");
}

Index Recording::channel_index(std::string_view name) const {
  for (std::size_t i = 0; i < channels.size(); ++i)
    if (channels[i].name == name) return static_cast<Index>(i);
  throw std::out_of_range("no channel named '" + std::string(name) + "'");
}

std::vector<std::string> make_channel_names_unique(std::vector<ChannelInfo>& channels) {
  std::vector<std::string> warnings;
  std::map<std::string, int> seen;
  for (const auto& c : channels) seen.emplace(c.name, 0);
  std::map<std::string, int> count;
  for (auto& c : channels) {
    const int n = ++count[c.name];
    if (n == 1) continue;
    std::string candidate;
    int k = n;
    do {
      candidate = c.name + " (" + std::to_string(k++) + ")";
    } while (seen.count(candidate) != 0);
    warnings.push_back("duplicate channel label '" + c.name + "' renamed to '" + candidate + "'");
    seen.emplace(candidate, 0);
    c.name = candidate;
  }
  return warnings;
}

std::optional<double> microvolts_per_unit(std::string_view unit) {
  std::string u = trim(unit);
  // EDF headers are ASCII; the micro sign appears as Latin-1 0xB5 or UTF-8 C2 B5.
  if (u.rfind("\xC2\xB5", 0) == 0) u = "u" + u.substr(2);
  else if (!u.empty() && static_cast<unsigned char>(u[0]) == 0xB5) u = "u" + u.substr(1);
  if (u.size() == 1 && (u == "V" || u == "v")) return 1e6;
  if (u.size() != 2 || (u[1] != 'V' && u[1] != 'v')) return std::nullopt;
  switch (u[0]) {
    case 'm': return 1e3;
    case 'u': case 'U': return 1.0;
    case 'n': return 1e-3;
    default: return std::nullopt;
  }
}

std::vector<std::pair<Index, Index>> bad_annotation_spans(const std::vector<Annotation>& annotations,
                                                          double fs, Index n_samples) {
  std::vector<std::pair<Index, Index>> spans;
  for (const Annotation& a : annotations) {
    const bool bad = lower(std::string_view(a.description).substr(0, 3)) == "bad";
    if (!bad || !std::isfinite(a.onset_s) || !std::isfinite(a.duration_s)) continue;
    const double first = std::floor(a.onset_s * fs);
    const double last = std::ceil((a.onset_s + std::max(a.duration_s, 0.0)) * fs) + 1.0;
    const Index start = static_cast<Index>(std::clamp(first, 0.0, static_cast<double>(n_samples)));
    const Index stop = static_cast<Index>(std::clamp(last, 0.0, static_cast<double>(n_samples)));
    if (stop > start) spans.emplace_back(start, stop);
  }
  return spans;
}

}  // namespace fasctrack
