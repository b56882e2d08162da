// Per-unit statistics over a whole recording.
//
// Undefined statistics are NaN rather than 0, so "no evidence" is never read
// as "perfectly regular" or "never complex":
//  * idi_median_ms: NaN with fewer than 2 discharges (no interval);
//  * idi_cv: NaN with fewer than 3 discharges (one interval has no spread);
//  * amplitude_cv: NaN with fewer than 2 discharges;
//  * rate_per_min: NaN when clean_rest_s is 0 (no observation time);
//  * shape_stability: NaN for a unit of one discharge, or a label the tracker
//    does not know.
// Intervals are between successive member discharges in time, whatever lies
// between them: a masked stretch (voluntary movement) inside an interval
// lengthens it. Fasciculation intervals are seconds and highly irregular
// (CV typically > 0.5), unlike the regular ~50-200 ms of voluntary firing,
// so the CV still separates the two.
// shape_stability is the mean noise-corrected correlation of each member
// (after the founder) with the template at the moment it joined. The template
// moves slowly (template_weight), so this is close to the correlation with
// the final template, which the tracker cannot compute without keeping every
// waveform; a unit whose shape drifts or that absorbed a different unit scores
// lower either way.

#include <fasctrack/cluster/units.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <stdexcept>
#include <vector>

namespace fasctrack::cluster {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kComplexPhases = 4;  // more phases than this: a complex (polyphasic) potential

double median(std::vector<double> v) {
  if (v.empty()) return kNaN;
  const std::size_t mid = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid), v.end());
  const double upper = v[mid];
  if (v.size() % 2 == 1) return upper;
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(mid));
  return 0.5 * (lower + upper);
}

// Sample SD over mean; NaN with fewer than 2 values or a zero mean.
double coefficient_of_variation(const std::vector<double>& v) {
  if (v.size() < 2) return kNaN;
  double mean = 0.0;
  for (double x : v) mean += x;
  mean /= static_cast<double>(v.size());
  if (mean == 0.0) return kNaN;
  double ss = 0.0;
  for (double x : v) ss += (x - mean) * (x - mean);
  return std::sqrt(ss / static_cast<double>(v.size() - 1)) / std::abs(mean);
}

}  // namespace

std::vector<UnitSummary> summarize_units(const std::vector<Event>& events, const UnitTracker& tracker,
                                         double clean_rest_s, double fs) {
  if (!(std::isfinite(fs) && fs > 0.0)) throw std::invalid_argument("summarize_units: fs must be positive and finite");
  if (!(std::isfinite(clean_rest_s) && clean_rest_s >= 0.0))
    throw std::invalid_argument("summarize_units: clean_rest_s must be finite and >= 0");

  // Labels of units the tracker later merged count for the unit they joined.
  std::map<int, std::vector<const Event*>> members;
  for (const Event& e : events)
    if (e.unit >= 0) members[tracker.canonical(e.unit)].push_back(&e);

  const auto& templates = tracker.units();
  std::vector<UnitSummary> out;
  out.reserve(members.size());
  for (auto& [id, list] : members) {
    std::stable_sort(list.begin(), list.end(), [](const Event* a, const Event* b) { return a->sample < b->sample; });
    UnitSummary s;
    s.id = id;
    s.count = static_cast<Index>(list.size());
    s.rate_per_min = clean_rest_s > 0.0 ? static_cast<double>(s.count) / (clean_rest_s / 60.0) : kNaN;

    std::vector<double> amplitudes;
    std::vector<double> intervals_ms;
    amplitudes.reserve(list.size());
    Index complex = 0;
    for (std::size_t i = 0; i < list.size(); ++i) {
      amplitudes.push_back(list[i]->amplitude_uv);
      if (list[i]->phases > kComplexPhases) ++complex;
      if (i > 0) intervals_ms.push_back(static_cast<double>(list[i]->sample - list[i - 1]->sample) / fs * 1000.0);
    }
    s.amplitude_uv = median(amplitudes);
    s.amplitude_cv = coefficient_of_variation(amplitudes);
    s.idi_median_ms = median(intervals_ms);
    s.idi_cv = coefficient_of_variation(intervals_ms);
    s.complex_fraction = static_cast<double>(complex) / static_cast<double>(list.size());

    const UnitTemplate* tpl = nullptr;
    if (id < static_cast<int>(templates.size()) && templates[static_cast<std::size_t>(id)].id == id)
      tpl = &templates[static_cast<std::size_t>(id)];

    if (tpl != nullptr && tpl->waveform_uv.size() > 0) {
      s.template_uv = tpl->waveform_uv;
      s.peak_channel = template_peak_channel(tpl->waveform_uv);
      s.shape_stability = tpl->count > 1 ? tpl->similarity_sum / static_cast<double>(tpl->count - 1) : kNaN;
    } else {
      // No template (labels from elsewhere): the channel most of its
      // discharges peaked on.
      std::map<Index, Index> votes;
      for (const Event* e : list) ++votes[e->channel];
      Index best = -1;
      for (const auto& [channel, n] : votes)
        if (n > best) {
          best = n;
          s.peak_channel = channel;
        }
      s.shape_stability = kNaN;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace fasctrack::cluster
