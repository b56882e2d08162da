// Event-level scoring of detections against a simulation's truth.
//
// Conventions (also in the Python docstring):
// - Matching is one-to-one and greedy, closest first: every (true, detected)
//   pair within the tolerance is sorted by |sample difference| (ties by true
//   then detected index) and accepted if neither side is taken yet. This is
//   not a maximum-cardinality matching, but with a tolerance shorter than the
//   100 ms dead time of a fasciculating unit the two practically never differ.
// - True events and detections whose sample lies inside a truth mask are left
//   out of precision, recall and F1; the detections are counted as
//   detections_in_masked (false_per_masked_minute = those / masked minutes,
//   0 when nothing is masked).
// - precision = TP / detections (1 when there are no detections), recall =
//   TP / true events (1 when there are none), F1 = their harmonic mean, 0 when
//   both are 0. So no true events and no detections score 1 throughout.
// - unit_ari: adjusted Rand index (Hubert & Arabie) between true unit ids and
//   detected unit labels over the matched pairs; every unassigned detection
//   (unit -1) is its own singleton cluster. Degenerate cases follow
//   sklearn.metrics.adjusted_rand_score (identical trivial partitions -> 1),
//   except that with fewer than two matched events the index is 0: there is
//   no pair to agree on, so no evidence that units were told apart.
#include <fasctrack/sim/simulate.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <stdexcept>
#include <tuple>
#include <vector>

namespace fasctrack::sim {

namespace {

bool in_masks(const std::vector<Mask>& masks, Index s) {
  for (const auto& m : masks)
    if (s >= m.start && s < m.stop) return true;
  return false;
}

double comb2(double n) { return 0.5 * n * (n - 1.0); }

double adjusted_rand(const std::vector<long long>& a, const std::vector<long long>& b) {
  const auto n = a.size();
  if (n < 2) return 0.0;
  std::map<long long, double> ca, cb;
  std::map<std::pair<long long, long long>, double> cab;
  for (std::size_t i = 0; i < n; ++i) {
    ca[a[i]] += 1.0;
    cb[b[i]] += 1.0;
    cab[{a[i], b[i]}] += 1.0;
  }
  // Partitions that cannot be told apart by chance: identical trivial ones.
  if ((ca.size() == 1 && cb.size() == 1) || (ca.size() == n && cb.size() == n)) return 1.0;
  double sum_ab = 0.0, sum_a = 0.0, sum_b = 0.0;
  for (const auto& [k, v] : cab) sum_ab += comb2(v);
  for (const auto& [k, v] : ca) sum_a += comb2(v);
  for (const auto& [k, v] : cb) sum_b += comb2(v);
  const double expected = sum_a * sum_b / comb2(static_cast<double>(n));
  const double maximum = 0.5 * (sum_a + sum_b);
  if (maximum == expected) return 1.0;
  return (sum_ab - expected) / (maximum - expected);
}

}  // namespace

Evaluation evaluate(const Simulation& truth, const std::vector<Event>& detected, const EvaluationOptions& options) {
  if (!std::isfinite(options.tolerance_ms) || options.tolerance_ms < 0.0)
    throw std::invalid_argument("tolerance_ms: must not be negative, got " + std::to_string(options.tolerance_ms));
  const double fs = truth.recording.fs;
  if (!std::isfinite(fs) || fs <= 0.0)
    throw std::invalid_argument("truth: the simulation's recording has no valid sampling rate");
  const double tol = options.tolerance_ms * fs / 1000.0;

  Evaluation ev;
  // Sorted (sample, original index) of the scored events on each side.
  std::vector<std::pair<Index, std::size_t>> t, d;
  for (std::size_t i = 0; i < truth.events.size(); ++i)
    if (!in_masks(truth.masks, truth.events[i].sample)) t.emplace_back(truth.events[i].sample, i);
  for (std::size_t j = 0; j < detected.size(); ++j) {
    if (in_masks(truth.masks, detected[j].sample))
      ++ev.detections_in_masked;
    else
      d.emplace_back(detected[j].sample, j);
  }
  std::sort(t.begin(), t.end());
  std::sort(d.begin(), d.end());

  // Candidate pairs within the tolerance, found with a sliding window.
  std::vector<std::tuple<Index, std::size_t, std::size_t>> pairs;  // |dt|, t pos, d pos
  std::size_t lo = 0;
  for (std::size_t i = 0; i < t.size(); ++i) {
    while (lo < d.size() && static_cast<double>(t[i].first - d[lo].first) > tol) ++lo;
    for (std::size_t j = lo; j < d.size() && static_cast<double>(d[j].first - t[i].first) <= tol; ++j)
      pairs.emplace_back(std::abs(d[j].first - t[i].first), i, j);
  }
  std::sort(pairs.begin(), pairs.end());
  std::vector<char> t_used(t.size(), 0), d_used(d.size(), 0);
  std::vector<long long> true_labels, det_labels;
  long long singleton = -1;
  for (const auto& [dt, i, j] : pairs) {
    if (t_used[i] || d_used[j]) continue;
    t_used[i] = d_used[j] = 1;
    ++ev.true_positives;
    true_labels.push_back(truth.events[t[i].second].unit);
    const int label = detected[d[j].second].unit;
    // Unassigned detections get distinct negative labels (true ids are >= 0
    // and detected labels >= 0 otherwise, so they cannot collide).
    det_labels.push_back(label >= 0 ? static_cast<long long>(label) : (--singleton) - 1000000000LL);
  }

  ev.true_events = static_cast<Index>(t.size());
  ev.detections = static_cast<Index>(d.size());
  ev.false_positives = ev.detections - ev.true_positives;
  ev.false_negatives = ev.true_events - ev.true_positives;
  ev.precision = ev.detections > 0 ? static_cast<double>(ev.true_positives) / static_cast<double>(ev.detections) : 1.0;
  ev.recall = ev.true_events > 0 ? static_cast<double>(ev.true_positives) / static_cast<double>(ev.true_events) : 1.0;
  ev.f1 = ev.precision + ev.recall > 0.0 ? 2.0 * ev.precision * ev.recall / (ev.precision + ev.recall) : 0.0;
  ev.unit_ari = adjusted_rand(true_labels, det_labels);

  // Masked time is the union of the masks (they may overlap across reasons).
  std::vector<std::pair<Index, Index>> spans;
  for (const auto& m : truth.masks)
    if (m.stop > m.start) spans.emplace_back(m.start, m.stop);
  std::sort(spans.begin(), spans.end());
  Index masked = 0, cur_start = 0, cur_stop = -1;
  for (const auto& [a, b] : spans) {
    if (a > cur_stop) {
      if (cur_stop > cur_start) masked += cur_stop - cur_start;
      cur_start = a;
      cur_stop = b;
    } else {
      cur_stop = std::max(cur_stop, b);
    }
  }
  if (cur_stop > cur_start) masked += cur_stop - cur_start;
  ev.masked_minutes = static_cast<double>(masked) / fs / 60.0;
  ev.false_per_masked_minute =
      ev.masked_minutes > 0.0 ? static_cast<double>(ev.detections_in_masked) / ev.masked_minutes : 0.0;
  return ev;
}

}  // namespace fasctrack::sim
