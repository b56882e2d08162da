// Per-recording and per-muscle summaries.
//
// Rules:
//  * Masks are clamped to [0, n_samples). Excluded time is the union of all
//    masks, each sample counted once; where masks of different reasons
//    overlap, the time goes to the first reason in MaskReason order (startup,
//    voluntary, tonic, artefact, bad_signal), so the per-reason times add up
//    to duration - clean rest exactly. Startup first: the detector could not
//    have judged anything then. Voluntary before tonic and artefact: movement
//    is the usual cause of the others.
//  * Rates are per minute of clean rest (time under no mask), because
//    fasciculations are only counted there, with the exact Garwood 95 %
//    interval. Without clean rest the rate is NaN and its interval [0, inf).
//  * Muscles are the distinct ChannelInfo::muscle names in channel order;
//    channels without a name form the muscle "". An event belongs to the
//    muscle of its peak channel. Region and side are the channels' when they
//    agree, otherwise unknown.
//  * Fractions (isolated, complex) are NaN when there are no events.
//  * n_units counts distinct unit labels >= 0 (overall: also every unit in
//    `units`, so a unit is not lost if its events were filtered out).
//  * noise_floor_uv, mains and mains_hz are the detector's to fill.

#include <fasctrack/cluster/summary.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>

namespace fasctrack::cluster {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kComplexPhases = 4;
constexpr std::array<MaskReason, 5> kReasonOrder{MaskReason::startup, MaskReason::voluntary, MaskReason::tonic,
                                                 MaskReason::artefact, MaskReason::bad_signal};

using Intervals = std::vector<std::pair<Index, Index>>;  // sorted, disjoint, [start, stop)

Intervals merged(Intervals v) {
  std::sort(v.begin(), v.end());
  Intervals out;
  for (const auto& iv : v) {
    if (!out.empty() && iv.first <= out.back().second)
      out.back().second = std::max(out.back().second, iv.second);
    else
      out.push_back(iv);
  }
  return out;
}

// Length of a minus b (both sorted and disjoint).
Index length_outside(const Intervals& a, const Intervals& b) {
  Index total = 0;
  std::size_t k = 0;
  for (const auto& [start, stop] : a) {
    Index cursor = start;
    while (k < b.size() && b[k].second <= cursor) ++k;
    for (std::size_t m = k; m < b.size() && b[m].first < stop; ++m) {
      if (b[m].first > cursor) total += b[m].first - cursor;
      cursor = std::max(cursor, b[m].second);
      if (cursor >= stop) break;
    }
    if (cursor < stop) total += stop - cursor;
  }
  return total;
}

RateEstimate rate_over(Index count, double clean_rest_s) {
  if (clean_rest_s > 0.0) return poisson_rate(count, clean_rest_s / 60.0);
  RateEstimate r;
  r.count = count;
  r.minutes = 0.0;
  r.rate_per_min = kNaN;
  r.ci_low = 0.0;
  r.ci_high = std::numeric_limits<double>::infinity();
  return r;
}

}  // namespace

RecordingSummary summarize_recording(const std::vector<Event>& events, const std::vector<Mask>& masks,
                                     const std::vector<UnitSummary>& units,
                                     const std::vector<ChannelInfo>& channels, Index n_samples, double fs,
                                     double min_clean_rest_s) {
  if (!(std::isfinite(fs) && fs > 0.0))
    throw std::invalid_argument("summarize_recording: fs must be positive and finite");
  if (n_samples < 0) throw std::invalid_argument("summarize_recording: n_samples must be >= 0");
  if (!(std::isfinite(min_clean_rest_s) && min_clean_rest_s >= 0.0))
    throw std::invalid_argument("summarize_recording: min_clean_rest_s must be finite and >= 0");
  for (const Event& e : events)
    if (e.channel < 0 || e.channel >= static_cast<Index>(channels.size()))
      throw std::invalid_argument("summarize_recording: event at sample " + std::to_string(e.sample) +
                                  " has channel " + std::to_string(e.channel) + " but there are " +
                                  std::to_string(channels.size()) + " channels");

  RecordingSummary s;
  s.duration_s = static_cast<double>(n_samples) / fs;
  s.min_clean_rest_s = min_clean_rest_s;

  // ---- excluded time ----
  Intervals covered;
  Index excluded = 0;
  for (MaskReason reason : kReasonOrder) {
    Intervals mine;
    for (const Mask& m : masks) {
      if (m.reason != reason) continue;
      const Index start = std::clamp<Index>(m.start, 0, n_samples);
      const Index stop = std::clamp<Index>(m.stop, 0, n_samples);
      if (stop > start) mine.emplace_back(start, stop);
    }
    mine = merged(std::move(mine));
    const Index own = length_outside(mine, covered);
    excluded += own;
    const double seconds = static_cast<double>(own) / fs;
    switch (reason) {
      case MaskReason::startup: s.excluded_startup_s = seconds; break;
      case MaskReason::voluntary: s.excluded_voluntary_s = seconds; break;
      case MaskReason::tonic: s.excluded_tonic_s = seconds; break;
      case MaskReason::artefact: s.excluded_artefact_s = seconds; break;
      case MaskReason::bad_signal: s.excluded_bad_signal_s = seconds; break;
    }
    covered.insert(covered.end(), mine.begin(), mine.end());
    covered = merged(std::move(covered));
  }
  s.clean_rest_s = static_cast<double>(n_samples - excluded) / fs;
  // Fasciculation rates in patients are a few per minute at most sites and
  // far lower in many, so a minute of clean rest is about the least in which
  // their absence means anything; ~70 s is what it takes to see at least one
  // potential with near certainty at typical rates. Below this the summary
  // says so instead of reporting a reassuringly low count.
  s.insufficient = s.clean_rest_s < min_clean_rest_s;

  for (const ChannelInfo& ch : channels)
    if (ch.marked_bad) s.bad_channels.push_back(ch.name);

  // ---- whole recording ----
  s.n_events = static_cast<Index>(events.size());
  std::set<int> all_units;
  Index isolated = 0;
  for (const Event& e : events) {
    if (e.unit >= 0) all_units.insert(e.unit);
    if (e.isolated) ++isolated;
  }
  for (const UnitSummary& u : units)
    if (u.id >= 0 && u.count > 0) all_units.insert(u.id);
  s.n_units = static_cast<int>(all_units.size());
  s.isolated_fraction = events.empty() ? kNaN : static_cast<double>(isolated) / static_cast<double>(events.size());
  s.rate = rate_over(s.n_events, s.clean_rest_s);

  // ---- per muscle ----
  std::vector<std::size_t> muscle_of(channels.size());
  for (std::size_t c = 0; c < channels.size(); ++c) {
    const ChannelInfo& ch = channels[c];
    auto it = std::find_if(s.muscles.begin(), s.muscles.end(),
                           [&](const MuscleSummary& m) { return m.muscle == ch.muscle; });
    if (it == s.muscles.end()) {
      MuscleSummary m;
      m.muscle = ch.muscle;
      m.region = ch.region;
      m.side = ch.side;
      s.muscles.push_back(std::move(m));
      it = s.muscles.end() - 1;
    } else {
      if (it->region != ch.region) it->region = BodyRegion::unknown;
      if (it->side != ch.side) it->side = Side::unknown;
    }
    it->channels.push_back(static_cast<Index>(c));
    muscle_of[c] = static_cast<std::size_t>(it - s.muscles.begin());
  }
  std::vector<std::set<int>> muscle_units(s.muscles.size());
  std::vector<Index> muscle_isolated(s.muscles.size(), 0), muscle_complex(s.muscles.size(), 0);
  for (const Event& e : events) {
    const std::size_t m = muscle_of[static_cast<std::size_t>(e.channel)];
    ++s.muscles[m].n_events;
    if (e.unit >= 0) muscle_units[m].insert(e.unit);
    if (e.isolated) ++muscle_isolated[m];
    if (e.phases > kComplexPhases) ++muscle_complex[m];
  }
  for (std::size_t m = 0; m < s.muscles.size(); ++m) {
    MuscleSummary& ms = s.muscles[m];
    ms.n_units = static_cast<int>(muscle_units[m].size());
    ms.rate = rate_over(ms.n_events, s.clean_rest_s);
    const double n = static_cast<double>(ms.n_events);
    ms.isolated_fraction = ms.n_events > 0 ? static_cast<double>(muscle_isolated[m]) / n : kNaN;
    ms.complex_fraction = ms.n_events > 0 ? static_cast<double>(muscle_complex[m]) / n : kNaN;
  }
  return s;
}

}  // namespace fasctrack::cluster
