// Waveform features of a surface MUAP. The thresholds are relative to both
// the noise (so a low-SNR potential's duration is not set by noise wiggles)
// and the peak (so a large potential's duration does not grow with its tail,
// the usual 10% convention of needle EMG transferred to the surface).

#include <fasctrack/features/waveform.hpp>

#include "core/select.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace fasctrack::features {

namespace {
// How far from the main peak the peak to peak looks for the opposite phases
// (see waveform_features): a surface MUAP's phases are 1-4 ms wide. On
// simulated 8x8 grids at 7 uV noise the reported amplitude over the true
// one measured median 0.57 (0.88, 0.91, 0.92 with 2, 3, 4 ms), and 44% of
// the events under half of it (2%, 0, 0); 3 ms keeps the 95th percentile
// at 1.17 (4 ms: 1.20), where the noise around a small potential adds to it.
constexpr double kOppositePhaseMs = 3.0;
}  // namespace

Index largest_deflection(std::span<const double> w, Index begin, Index end) {
  const Index n = static_cast<Index>(w.size());
  begin = std::clamp<Index>(begin, 0, n);
  end = std::clamp<Index>(end, begin, n);
  Index best = begin;
  double best_v = -1.0;
  for (Index i = begin; i < end; ++i) {
    const double v = std::abs(w[static_cast<std::size_t>(i)]);
    if (v > best_v) {
      best_v = v;
      best = i;
    }
  }
  return best;
}

double robust_sd(std::span<const double> x, std::vector<double>& scratch) {
  if (x.empty()) return 0.0;
  // Exact histogram selection (core/select.hpp): the same median and MAD as
  // two nth_element calls, a few times faster on the refinement windows.
  std::vector<double> deviations;
  double median = 0.0, sd = 0.0;
  detail::median_and_mad_sd(x, scratch, deviations, median, sd);
  return sd;
}

WaveformFeatures waveform_features(std::span<const double> w, Index peak, double noise_sd, double fs,
                                   double bridge_ms) {
  WaveformFeatures f;
  const Index n = static_cast<Index>(w.size());
  if (n == 0) return f;
  peak = std::clamp<Index>(peak, 0, n - 1);
  auto at = [&](Index i) { return w[static_cast<std::size_t>(i)]; };
  const double sd = std::max(noise_sd, 0.0);
  const double level = std::max(2.5 * sd, 0.1 * std::abs(at(peak)));
  const Index bridge = std::max<Index>(1, static_cast<Index>(std::lround(bridge_ms * 1e-3 * fs)));

  // Grow outwards from the peak while the next supra-level sample is within the bridge.
  Index onset = peak, offset = peak;
  for (bool grew = true; grew;) {
    grew = false;
    for (Index i = onset - 1; i >= 0 && onset - i <= bridge + 1; --i) {
      if (std::abs(at(i)) > level) {
        onset = i;
        grew = true;
        break;
      }
    }
  }
  for (bool grew = true; grew;) {
    grew = false;
    for (Index i = offset + 1; i < n && i - offset <= bridge + 1; ++i) {
      if (std::abs(at(i)) > level) {
        offset = i;
        grew = true;
        break;
      }
    }
  }
  {
    const double half = 0.5 * at(peak);
    Index lo = peak, hi = peak;
    while (lo > 0 && at(lo - 1) * half > 0.0 && std::abs(at(lo - 1)) >= std::abs(half)) --lo;
    while (hi < n - 1 && at(hi + 1) * half > 0.0 && std::abs(at(hi + 1)) >= std::abs(half)) ++hi;
    f.peak_width_ms = static_cast<double>(hi - lo + 1) * 1e3 / fs;
  }
  f.onset = onset;
  f.offset = offset;
  f.duration_ms = static_cast<double>(offset - onset + 1) * 1e3 / fs;

  double lo = at(onset), hi = at(onset), area = 0.0;
  for (Index i = onset; i <= offset; ++i) {
    lo = std::min(lo, at(i));
    hi = std::max(hi, at(i));
    area += std::abs(at(i));
  }
  f.span_uv = hi - lo;
  f.area_uv_ms = area * 1e3 / fs;
  // The opposite phases of a surface MUAP lie within ~kOppositePhaseMs of
  // its main peak. At low SNR they sink under the duration level, and the
  // duration shrinks to the main phase alone, whose own peak to peak is then
  // a fraction of the potential's (a 40 uV potential over 7 uV noise
  // measured 4-15 uV): the peak to peak is taken over that reach as well.
  const Index reach = std::max<Index>(1, static_cast<Index>(std::lround(kOppositePhaseMs * 1e-3 * fs)));
  for (Index i = std::max<Index>(0, peak - reach); i <= std::min(n - 1, peak + reach); ++i) {
    lo = std::min(lo, at(i));
    hi = std::max(hi, at(i));
  }
  f.amplitude_uv = hi - lo;

  // Phases: sign changes with hysteresis at +-noise SD, so noise riding on a
  // slow phase does not count as extra crossings.
  int crossings = 0, sign = 0;
  for (Index i = onset; i <= offset; ++i) {
    const double v = at(i);
    const int s = v > sd ? 1 : (v < -sd ? -1 : 0);
    if (s == 0) continue;
    if (sign != 0 && s != sign) ++crossings;
    sign = s;
  }
  f.phases = crossings + 1;

  // Turns: a reversal counts once the signal has retraced more than delta
  // from the running extremum (hysteresis turn counting).
  const double delta = std::max(4.0 * sd, 0.1 * f.span_uv);
  int turns = 0, direction = 0;
  double extremum = at(onset), hi_seen = at(onset), lo_seen = at(onset);
  for (Index i = onset + 1; i <= offset; ++i) {
    const double v = at(i);
    if (direction == 0) {
      hi_seen = std::max(hi_seen, v);
      lo_seen = std::min(lo_seen, v);
      if (hi_seen - lo_seen > delta) {
        direction = v >= hi_seen ? 1 : -1;
        extremum = v;
      }
    } else if (direction > 0) {
      if (v > extremum) {
        extremum = v;
      } else if (extremum - v > delta) {
        ++turns;
        direction = -1;
        extremum = v;
      }
    } else {
      if (v < extremum) {
        extremum = v;
      } else if (v - extremum > delta) {
        ++turns;
        direction = 1;
        extremum = v;
      }
    }
  }
  f.turns = turns;
  return f;
}

}  // namespace fasctrack::features
