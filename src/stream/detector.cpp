// The fasciculation detector engine (one engine for offline and streaming).
//
// Data flow, all in fixed blocks aligned to the start of the stream so that no
// decision depends on how the caller chunks the input:
//
//   probe (first mains_probe_s, or more while no line is found; buffered)
//      -> mains decision + filter design
//   A: fill non-finite samples, detect stuck/non-finite runs, causal band-pass
//      + mains notches, per-block robust SD per channel
//   B: normalise by the noise floor, matched-energy over ~5 ms, mean over the
//      3x3 grid neighbourhood and over the lines of 7 electrodes along each
//      grid axis, cube-root (Wilson-Hilferty) to make the noise distribution
//      of each statistic near-Gaussian, per-block robust location and scale
//   C: score = (statistic - location) / scale, the larger of the 3x3's and
//      the fibre-axis line's, threshold at threshold_sd,
//      space-time clustering, voluntary and bad-signal masks
//   refine: zero-phase filtering of a +-150 ms raw window around each cluster,
//      peak channel/sample, features, plausibility (duration, spread)
//   assign: two potentials in one candidate's window separated by fitting
//      established unit templates (peel_pair: overlapping doublets and
//      collisions), time-ordered unit labelling (cluster::UnitTracker),
//      re-timing on the unit's template (retime_to_template), tonic masks
//   finalise: doublet/isolated flags, masks applied, events emitted.
//
// Samples are converted to double on entry so float32 and float64 inputs with
// the same values give bit-identical events.

#include <fasctrack/stream/detector.hpp>

#include <fasctrack/detect/stages.hpp>
#include <fasctrack/features/waveform.hpp>
#include <fasctrack/filter/apply.hpp>
#include <fasctrack/filter/design.hpp>
#include <fasctrack/filter/mains.hpp>
#include <fasctrack/filter/quality.hpp>

#include "core/fast_math.hpp"
#include "core/history.hpp"
#include "core/parallel.hpp"
#include "core/select.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <numbers>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <variant>

namespace fasctrack {

namespace {

// Internal constants, each set from surface-EMG physiology rather than tuned
// to a data set.
// Matched-energy window: the main phases of a surface MUAP last ~3-8 ms, so a
// 5 ms window collects most of a discharge's energy while adding little noise.
constexpr double kEnergyMs = 5.0;
// Mains harmonics are notched up to where the band-pass removes this much.
constexpr double kNotchUntilDb = 24.0;
// Noise floor: 25th percentile of the block SDs in the trailing window, low
// enough to ignore blocks raised by discharges or contractions.
constexpr double kFloorQuantile = 0.25;
// Zero-phase refinement half-window: long enough for the 20 Hz high-pass
// transient of the window edges to die out before the discharge.
constexpr double kRefineMs = 150.0;
// A cluster longer than this is not one discharge (interference or artefact);
// it is closed and judged by its shape.
constexpr double kMaxClusterMs = 100.0;
// Sub-block for the voluntary and bad-signal bookkeeping.
constexpr double kMaskBlockMs = 50.0;
// A block SD from fewer values than this (a short final block) uses more of
// the block: the MAD's relative error is ~1.17/sqrt(n), 15% at 64.
constexpr std::size_t kMinSdValues = 64;
// A contraction raises the band RMS over a good part of the electrodes; one
// quarter is one bipolar lead of four, or ~16 electrodes of an 8x8 grid.
constexpr double kVoluntaryChannelFraction = 0.25;
// Identical consecutive raw samples for this long mean a stuck or clipped
// amplifier (real EMG plus amplifier noise never repeats exactly for 5 ms).
constexpr double kStuckMs = 5.0;
// A sample is unusable as a whole (a bad_signal mask) when this share of the
// usable electrodes is stuck or not finite there; fewer are left out of that
// sample one by one (one lifted electrode of a grid must not blank the
// recording), as any electrode of a single bipolar lead or of four is not.
constexpr double kStuckChannelFraction = 0.25;
// Non-finite runs listed per channel in the result's quality (all are counted).
constexpr std::size_t kMaxReportedRuns = 1000;
// The step where an amplifier enters or leaves clipping rings through the
// band-pass (a 20 Hz high-pass settles in a few tens of ms) and looks like a
// potential; zero-phase refinement puts that ring on both sides of the edge.
constexpr double kClipGuardMs = 25.0;
constexpr double kLowBoxMs = 12.0;
// Surface MUAPs, slow complex ones included, keep well under half of their
// energy below ~40 Hz (under 0.45 in 99% of simulated ones); residual ECG
// QRS complexes keep ~0.8.
constexpr double kMaxLowBandFraction = 0.6;

// Power gain of an m-sample moving average for noise spread evenly over the
// band [lo, hi] Hz: what low_band_fraction() expects from noise alone.
double boxcar_noise_gain(Index m, double lo, double hi, double fs) {
  constexpr int kSteps = 512;
  double acc = 0.0;
  for (int k = 0; k < kSteps; ++k) {
    const double f = lo + (hi - lo) * (k + 0.5) / kSteps;
    const double x = std::numbers::pi * f / fs;
    const double h = std::sin(static_cast<double>(m) * x) / (static_cast<double>(m) * std::sin(x));
    acc += h * h;
  }
  return acc / kSteps;
}
// A rejected candidate this many noise SDs large is an artefact worth masking
// (a small broad one, typically ECG, is just dropped).
constexpr double kArtefactSd = 50.0;
// Far-field (grid median) transients over kFarFieldSd noise SDs are judged
// by shape over +-kFarFieldHalfMs (a QRS lasts ~90 ms): a heartbeat matches
// (r >= kFarFieldMatch) a shape seen kFarFieldBeats times already.
constexpr double kFarFieldSd = 10.0;
constexpr double kFarFieldHalfMs = 60.0;
constexpr double kFarFieldMatch = 0.9;
constexpr int kFarFieldBeats = 3;
// The zero-phase peak precedes the causal detection by the band-pass group
// delay (~2-4 ms) plus the energy window; search this far before the cluster.
constexpr double kSearchBeforeMs = 10.0;
constexpr double kSearchAfterMs = 2.0;
// A common-mode artefact (ECG, movement) has a similar amplitude on most of a
// grid; a MUAP falls to half its peak within ~1-2 electrode distances.
constexpr double kCommonModeFraction = 0.6;
constexpr double kCommonModeLevel = 0.5;
// ... at the same moment (+-kCommonModeHalfMs around the discharge's peak):
// volume conduction is instantaneous, while a MUAP reaches distant columns
// only as it propagates. Comparing each channel's peak to peak over the
// whole window instead counted the noise range of every channel, which at
// 5-7 uV noise is half of a small unit's size.
constexpr double kCommonModeHalfMs = 1.0;
// See `noise_level` in refine_segment.
constexpr double kNoiseRangeSd = 7.0;
// Event channel (see event_channel): sizes measured within +-kSizeHalfMs of
// each channel's largest deflection (a surface MUAP's main phases), and
// electrodes within kSameSizeShare of the largest are "as large" (the
// far-column peaks of a propagating potential are 0.75-0.9 of the largest
// on simulated grids, the noise at low SNR +-20%).
constexpr double kSizeHalfMs = 3.0;
constexpr double kSameSizeShare = 0.8;
// ... and, on a unit's template, within this many SDs of the noise left in
// an electrode's size there (see template_event_channel).
constexpr double kSameSizeNoiseSd = 1.0;
// ... counted over the electrodes joined to the largest through electrodes
// of at least kJoinShare of it: between the innervation zone and a fibre-end
// potential a propagating discharge can dip by a quarter (complex units on
// simulated grids: 1.0, 0.84, 0.77, 0.89, 1.0 along one row), and the
// innervation zone must stay reachable across the dip.
constexpr double kJoinShare = 0.6;
// A one-electrode step (pop): large on one electrode, nothing on its neighbours.
constexpr double kPopNeighbourRatio = 0.15;
constexpr double kPopMinSd = 20.0;
// Splitting a cluster into discharges (see find_bumps).
constexpr double kValleyRatio = 0.5;
constexpr double kSecondaryBump = 0.25;
constexpr double kSecondaryMin = 4.0;
// A doublet repeats its unit's waveform: correlation of the two bumps over
// +-kRepeatHalfMs on the larger bump's channel.
constexpr double kRepeatCorrelation = 0.8;
// Fibre direction (vote_fibre_axis): the electrodes up to kFibreSteps
// places from the event electrode on its row and on its column whose
// template peak to peak reaches kFibreSeenShare of the event electrode's;
// each one's delay is the lag (within kFibreMaxDelayMs per step) at which
// its waveform best matches the event electrode's, and a unit votes when
// the largest delay per step along one axis exceeds the other's by
// kFibreMarginMs (a step along the fibres takes 1-3 ms: 5-10 mm at
// 3-5 m/s; across them ~0). A lag, unlike the time of each electrode's
// own peak, does not jump between the phases of a potential whose shape
// changes across the grid: on simulated grids (noise 3 and 7 uV, ECG
// with complex units; 72 recordings, 150 votes) the peak times voted the
// wrong way 42 times, the lags once, and on the same grids transposed
// rightly 145 times and wrongly twice.
constexpr double kFibreSeenShare = 0.5;
constexpr int kFibreSteps = 2;
constexpr double kFibreMaxDelayMs = 5.0;
constexpr double kFibreMarginMs = 0.5;
// A unit votes once, when its template first averages this many discharges:
// two already take most of the noise out of the delays, and the
// early vote matters because every split before it follows the default
// (validated on transposed grids with the earlier peak-time vote: 2 gave
// F1 0.992 / 0.958 on the two samples, 4 gave 0.989 / 0.932, 1 gave
// 0.994 / 0.927).
constexpr Index kFibreVoteCount = 2;
constexpr double kRepeatHalfMs = 6.0;
// Overlapping doublets (5-10 ms) leave only a shallow valley; a near-identical
// repeat, or bumps centred on different territories, may split at this depth.
constexpr double kShallowValley = 0.8;
constexpr double kStrongRepeat = 0.9;
// A much smaller candidate within merge_ms of a connected larger one is a
// tail of the larger potential, not a discharge of its own.
constexpr double kTailRatio = 0.3;
// Time-locked late components (see time_locked()): the same lag within
// kLockedTolMs, seen kLockedRepeats times before among the last
// kLockedHistory lags between the same two channels.
constexpr double kLockedTolMs = 0.5;
constexpr long kLockedRepeats = 2;
constexpr std::size_t kLockedHistory = 16;
// A late phase is known from its unit's template once that averages this
// many discharges (see late_component): two already hold it at its size
// (simulated bipolar leads and grids, 18 seeds x 10 conditions: 20 false
// events fewer, 2 true events fewer; with four, 5 fewer instead of 9 on
// bipolar leads and ECG grids over 4 seeds).
constexpr Index kLateMinCount = 2;
// Up to kPartRatio of the larger, the smaller candidate must also not repeat
// its waveform (correlation below kPartRepeat; doublets measure 0.65-0.9,
// parts of one potential -0.4-0.25 on simulated grids).
constexpr double kPartRatio = 0.65;
constexpr double kPartRepeat = 0.5;
constexpr double kMaxPeakWidthMs = 6.0;
// After a contraction the recruited units slow down and drop out over ~0.5-1.5 s
// (derecruitment), too sparse for the RMS test but still voluntary firing:
// voluntary masks are held this long past the end of the interference pattern.
constexpr double kDerecruitMs = 1500.0;
// The zero-phase peak on the discharge's channel must reach this many noise
// SDs (the detection score integrates over ~9 electrodes x 5 ms, so a real
// low-SNR discharge still peaks at >= 2.5 SD on its best electrode).
constexpr double kMinPeakSd = 2.5;
// A lone channel (bipolar lead) has no neighbours to integrate over: its
// 5 ms matched energy at threshold implies a zero-phase peak of >= ~4 SD, so
// a candidate below 3.5 SD is a noise (or ECG ripple) excursion.
constexpr double kMinPeakSdSingle = 3.5;
constexpr double kBriefMargin = 1.5;
constexpr double kStrongPeakSd = 5.0;
// The widest main phase (ms) for which a strong single-lead peak counts as
// spanning at least its own height (see `sliver`): surface MUAP main phases
// last ~1-4 ms; the residual QRS tips that reach 5 SD on bipolar leads were
// 4.4-6 ms wide on the simulator.
constexpr double kSliverPeakWidthMs = 4.0;
// ... and whose measured potential spans at least this share of that peak.
// Single-lead discharges missed for want of it measured 0.38-0.57; one-sample
// spikes of the quantised BioSPPy recording 0-0.3.
constexpr double kSliverMinShare = 0.45;
constexpr Index kFaintSpread = 3;
constexpr double kFaintSd = 4.0;
// Template re-timing (see retime_to_template): once a unit's template is an
// average of kRetimeMinCount discharges, a discharge timed more than
// kRetimeTolMs from where the template puts the potential's largest
// deflection moves there, to its own largest deflection within
// +-kRetimeSearchMs of that place.
constexpr Index kRetimeMinCount = 4;
// On a grid, re-timing starts with the unit's second discharge: the tracker
// aligns that one to the founder by the correlation over tens of
// electrodes, not by a peak, so their average already halves the noise that
// timed the founder on an earlier phase of a complex potential, and the
// discharges up to the fourth no longer follow the founder there (simulated
// 8x8 grids, 12 seeds x 10 conditions: 7 more true events, 9 fewer false).
// A single lead's two-discharge template has only one electrode to say
// which phase is larger; there it lost as much as it gained (bipolar 4 ch:
// 2 true events fewer on one sample of 6 seeds, 1 false event fewer on the
// other), so leads wait for kRetimeMinCount.
constexpr Index kRetimeMinCountGrid = 2;
// Tonic firing (see record_assigned) is a unit discharging continually,
// at the 5-20 Hz of low-level voluntary or tonic activity (higher rates
// come with a contraction the RMS rule masks). An interval under this (a
// rate over 40 Hz; the merge window, within which two potentials overlap)
// is a doublet's (5-110 ms), not a step of continual firing. Counted as one, a doublet and the unit's next discharge
// within tonic_isi_ms no longer make a tonic mask (simulated grids with
// doublets, seeds 2000-2005: 7 true events were inside such masks).
constexpr double kDoubletFusedMs = 25.0;
// A candidate too small to stand alone is rescued by the template of a unit
// seen at least twice (see cluster::UnitTracker::assign, may_found) only if
// its zero-phase peak reaches this many noise SDs (band-limited noise
// exceeds 4 SD about once per 30000 samples per channel) and its peak to
// peak kRescueRangeSd: above the ~4.5-5.5 SD that band-limited
// noise spans over the window, if short of the kNoiseRangeSd a candidate
// needs to stand alone (the unit's waveform vouches for the rest).
constexpr double kRescuePeakSd = 4.0;
constexpr double kRescueRangeSd = 6.0;
// Neighbour coherence (see neighbour_coherence): on simulated 8x8 grids at
// 7 uV noise, candidates the size guards rejected measured 0.11-0.89 (median
// 0.6) when they were discharges and -0.5-0.55 (median 0.23) when noise.
// The correlated share of the electrodes' noise (common reference, cable)
// raises the noise's values, hence also a peak of kCoherentPeakSd.
constexpr double kCoherence = 0.6;
constexpr double kCoherentPeakSd = 3.5;
// The tail and late components of a discharge are coherent too: a candidate
// standing on coherence alone must be this far from any other discharge
// (a complex potential lasts up to ~30 ms at the surface).
constexpr double kIsolatedMs = 50.0;
// A potential passing an electrode between the two ends of a propagating
// discharge (see propagates): the fibres' potential keeps most of its size
// along its path, ~0.7-0.9 of the ends on simulated grids.
constexpr double kPassingShare = 0.5;
constexpr double kPassingSd = 2.5;
constexpr double kRetimeTolMs = 1.5;
constexpr double kRetimeSearchMs = 0.5;
// Two discharges in one candidate's window (see peel_pair): potentials less
// than merge_ms apart make one cluster and one candidate, whether a doublet
// of one unit (its second discharge 5-25 ms after the first overlaps the
// first's potential) or two units colliding. With established templates
// (kRetimeMinCount members), a second template copy fitted beside the first
// must cut the whitened residual energy by kPeelMinGain (a chi-square gain
// with one degree of freedom, which white noise alone passes at 60 about
// once in 1e14 tries; the margin is for what a template does not fit of a
// discharge, whose best copies gained up to a few hundred on simulated
// complex units, but at scales or correlations the next tests reject); both copies
// must be of their units' own size (kPeelMinScale-kPeelMaxScale of the
// template: a unit's discharges vary by ~10-20%, while a template smeared by
// discharges timed on different phases of a complex potential fits one
// discharge as a large copy plus a second one, at 1.4 and 0.9 on simulated
// bipolar leads); and what the first copy leaves must look like the second
// (correlation kPeelCorrelation over the second copy's samples).
constexpr double kPeelMinGain = 60.0;
constexpr double kPeelMinScale = 0.65;
constexpr double kPeelMaxScale = 1.35;
constexpr double kPeelCorrelation = 0.6;
// Two copies of one potential a few ms apart can add or cancel: a simple
// (tripolar) potential 6-7 ms after its twin fitted one template copy at
// 0.54 of its size, so no single copy passed the scale test and the pair
// was never tried (simulated grids with ECG, doublets and complex units).
// When no unit's single copy is of its own size, the first copy is the best
// fit between these scales (nothing, 0, to two copies in phase, 2, less a
// margin for noise); the pair must still pass every test above.
constexpr double kPeelFirstMinScale = 0.3;
constexpr double kPeelFirstMaxScale = 2.0;
// A template channel takes part where the unit is seen: peak to peak over
// this many of that channel's noise SDs (the rest adds only noise).
constexpr double kPeelChannelSd = 3.0;
// Known-unit sweep (see sweep_block): a motor unit repeats its multichannel
// potential discharge after discharge, so once its template is established
// (kRetimeMinCount members) a discharge too small for the energy threshold
// is still found by the template's matched filter, whose output adds the
// potential's evidence coherently over its electrodes and phases (the
// energy statistic adds it incoherently, noise included). Its noise-only
// output is near-Gaussian; its scale is taken robustly (MAD) over each
// block, which also absorbs the band-limited noise's correlation. Noise
// alone passes kSweepZ at ~2e-8 of the samples per unit; the hit must also
// be of the unit's own size (the kPeelMinScale-kPeelMaxScale scales: a
// noise peak at kSweepZ measured 0.1-0.4 of the template on simulated
// grids and bipolar leads, a discharge of the unit 15-25 SDs) and then
// repeat the unit's waveform to the tracker's match threshold, as a
// rescued candidate does.
constexpr double kSweepZ = 5.5;
// On single leads the sweep starts at a unit's second discharge: a lead's
// template is one electrode where the unit is seen, and a weak unit that
// only twice reached the threshold was otherwise never swept for (the
// simulated leads, 18 seeds: 12 true events more, no false event). On a
// grid a two-discharge average's residual noise also passes the sweep's
// per-electrode test (kPeelChannelSd) on 73% of the electrodes that do not
// see the unit (4% for an average of four; band-passed noise at 2048 Hz),
// so the sweep waits for kRetimeMinCount (from 2 there: 5 true and 4 false
// events more, 3 of the false at 7 uV noise).
constexpr Index kSweepMinCountLead = 2;
// The sweep's backward pass starts this far after its window, in the steady
// state of its first sample: the 20 Hz high-pass settles within ~50 ms, and
// the notches see only what the causal pass left of the mains. (Refinement,
// which measures, waits the full kRefineMs.)
constexpr double kSweepSettleMs = 60.0;

// The detection statistic's line along the fibres (see run_block_b): this
// many electrodes each side, 7 in all at 8 mm = 48 mm of fibre, over which a
// MUAP travelling at ~4 m/s still shows within +-6 ms. Simulated grids
// (8 conditions x 18 recordings of 120 s, the line fixed along the
// simulator's fibres): 1x7 34 true events more and 14 false events fewer
// than the 3x3 alone; 1x5 23 and 10; 1x9 29 and 10; scoring the line
// across the fibres as well only 14 and 18; the 1x7 line alone, without
// the 3x3, 29 and 25, but on the same grids transposed (the wrong line
// until the first votes) 6 and 9. As voted: 32 and 18, transposed 26 and 19.
constexpr int kFibreLineReach = 3;

// Stage C's mark for an unusable sample among the energies (which are >= 0).
constexpr double kNoScore = -1.0;

Index samples_of(double ms, double fs) { return static_cast<Index>(std::lround(ms * 1e-3 * fs)); }

Index next_pow2(Index n) {
  Index r = 1;
  while (r < n) r <<= 1;
  return r;
}

[[noreturn]] void bad_option(const std::string& name, const std::string& what, double value) {
  throw std::invalid_argument(name + ": " + what + ", got " + std::to_string(value));
}

// The element at size/2 in sorted order (the upper median for even sizes);
// reorders v. v must not be empty.
double upper_median(std::vector<double>& v) {
  const auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  return *mid;
}


// Settling time of a filter: the impulse response's last sample above 1e-3 of
// its peak (the notches' narrow bandwidth dominates: ~1/(pi*bw) time constant).
Index settling_samples(const filter::Sos& sos, double fs) {
  const Index n = static_cast<Index>(std::ceil(5.0 * fs));
  RowMatrix<double> impulse = RowMatrix<double>::Zero(1, n);
  impulse(0, 0) = 1.0;
  const RowMatrix<double> h = filter::sosfilt<double>(sos, impulse);
  const double peak = h.cwiseAbs().maxCoeff();
  Index last = 0;
  for (Index i = 0; i < n; ++i) {
    if (std::abs(h(0, i)) > 1e-3 * peak) last = i;
  }
  return last + 1;
}

struct Candidate {
  Event event;
  RowMatrix<float> snippet;
  std::vector<double> noise_sd;
  std::vector<char> channels;
  double score = 0.0;
  double peak_uv = 0.0;  // largest absolute deflection (zero-phase) on the event channel
  // Peak to peak within the measured duration (WaveformFeatures::span_uv):
  // the size the guards and merge rules compare. The reported amplitude
  // also takes in opposite phases too small for the duration.
  double span_uv = 0.0;
  // Too small to stand on its own, kept only if it repeats the waveform of
  // a unit seen at least twice (see the rescue rule in refine_segment).
  bool tentative = false;
  // Accepted only for the coherence of its neighbours' waveforms (see
  // neighbour_coherence): it gives way to any other candidate nearby.
  bool coherent_only = false;
};

// A candidate's shape fields (its event's, and the span the size guards
// compare) from its waveform's features.
void set_shape(Candidate& cand, const features::WaveformFeatures& f) {
  Event& ev = cand.event;
  ev.amplitude_uv = f.amplitude_uv;
  ev.duration_ms = f.duration_ms;
  ev.phases = f.phases;
  ev.turns = f.turns;
  ev.area_uv_ms = f.area_uv_ms;
  cand.span_uv = f.span_uv;
}

}  // namespace

void DetectOptions::validate(double fs) const {
  if (!(std::isfinite(fs) && fs > 0.0)) bad_option("fs", "must be positive and finite", fs);
  auto positive = [](const char* name, double v) {
    if (!(std::isfinite(v) && v > 0.0)) bad_option(name, "must be positive and finite", v);
  };
  auto non_negative = [](const char* name, double v) {
    if (!(std::isfinite(v) && v >= 0.0)) bad_option(name, "must be non-negative and finite", v);
  };
  positive("highpass_hz", highpass_hz);
  positive("lowpass_hz", lowpass_hz);
  if (!(highpass_hz < std::min(lowpass_hz, 0.45 * fs))) {
    bad_option("highpass_hz", "must be below min(lowpass_hz, 0.45 * fs)", highpass_hz);
  }
  if (filter_order < 1 || filter_order > 12) bad_option("filter_order", "must be in 1..12", filter_order);
  non_negative("mains_probe_s", mains_probe_s);
  non_negative("mains_probe_max_s", mains_probe_max_s);
  // The probe is buffered whole; minutes of it would be memory for nothing.
  if (mains_probe_s > 60.0) bad_option("mains_probe_s", "must be at most 60 s", mains_probe_s);
  if (mains_probe_max_s > 60.0) bad_option("mains_probe_max_s", "must be at most 60 s", mains_probe_max_s);
  positive("notch_bandwidth_hz", notch_bandwidth_hz);
  positive("threshold_sd", threshold_sd);
  positive("voluntary_rms_uv", voluntary_rms_uv);
  positive("noise_block_s", noise_block_s);
  if (noise_block_s * fs < 16.0) bad_option("noise_block_s", "must span at least 16 samples", noise_block_s);
  positive("noise_window_s", noise_window_s);
  if (noise_window_s < noise_block_s) bad_option("noise_window_s", "must be at least noise_block_s", noise_window_s);
  positive("merge_ms", merge_ms);
  positive("refractory_ms", refractory_ms);
  positive("snippet_ms", snippet_ms);
  positive("max_duration_ms", max_duration_ms);
  positive("tonic_isi_ms", tonic_isi_ms);
  if (tonic_min_discharges < 2) bad_option("tonic_min_discharges", "must be at least 2", tonic_min_discharges);
  positive("voluntary_rms_ratio", voluntary_rms_ratio);
  positive("voluntary_min_s", voluntary_min_s);
  non_negative("mask_padding_s", mask_padding_s);
  non_negative("doublet_min_ms", doublet_min_ms);
  if (!(std::isfinite(doublet_max_ms) && doublet_max_ms > doublet_min_ms)) {
    bad_option("doublet_max_ms", "must exceed doublet_min_ms", doublet_max_ms);
  }
  non_negative("min_clean_rest_s", min_clean_rest_s);
  if (n_threads < 0 || n_threads > 1024) bad_option("n_threads", "must be in 0..1024 (0 = automatic)", n_threads);
}

template <class T>
struct StreamingDetector<T>::Impl {
  // ---- configuration ----
  double fs;
  std::vector<ChannelInfo> channels;
  DetectOptions opt;
  Index C;
  Index box_len = 1;
  double box_noise_gain = 0.0;
  Index B, P, Pb, L, Bm, H, gap, max_len, snippet_half, stuck_n, refractory, merge, isolated, search_before, search_after,
      flat_run, feature_half, pad, derecruit, final_delay, assign_margin, latency, Pmax;
  std::vector<bool> usable;
  Index n_usable = 0;
  detection::Neighbourhood nb;
  // Stage B's statistics: kind k of channel c is row k * C + c of d_ring,
  // loc, scale and their floors. Kind 0 is the 3x3 neighbourhood; on a grid
  // kind 1 is the line along the electrode's row, kind 2 along its column.
  Index S = 1;
  Index Q = 1;  // of which stage C scores (see to_scores)
  std::vector<std::vector<Index>> stat_members;
  std::vector<double> q_loc, q_scale;
  std::vector<double> stat_med, stat_sd, best_score;

  // ---- state ----
  Index seen = 0;
  bool started = false;
  // flush(): draining runs the blocks still short of the probe; flushing
  // then closes everything. Kept apart so events met while draining wait
  // for the masks that later blocks add (a rejected candidate's padding
  // reaches back mask_padding_s), exactly as they would mid-stream.
  bool draining = false;
  bool flushing = false;
  // A backward (zero-phase) pass's filter, kept between calls so that a
  // pass allocates nothing while its row count stays the same.
  struct BackFilter {
    std::optional<filter::SosFilter<double>> filt;
    filter::SosFilter<double>::State state;
  };
  filter::Sos sos;
  Eigen::Matrix<double, Eigen::Dynamic, 2, Eigen::RowMajor> sos_zi;  // sosfilt_zi(sos), for backward passes
  BackFilter refine_back;  // refinement's backward pass
  // refine()'s zero-phase window (channels x samples, row-major) and its per-cluster lists, reused.
  using ZpView = Eigen::Ref<const RowMatrix<double>>;
  std::vector<double> refine_buf, refine_noise;
  std::vector<std::pair<Index, Index>> refine_segments;
  std::vector<Index> refine_peaks;
  // template_event_channel's scratch: per channel, the size and the column of the largest deflection.
  mutable std::vector<float> tec_size;
  mutable std::vector<Index> tec_at;
  // Channel ranges, one per thread: each has its own filter state and
  // scratch, and sees exactly the per-channel arithmetic of one thread.
  struct Part {
    Index c0 = 0, c1 = 0;
    std::optional<filter::SosFilter<double>> filt;
    BackFilter back;  // the known-unit sweep's backward pass
    std::vector<double> scratch, deviations, row, subset;
    std::vector<double> lanes;  // the common-mode median's network input; stage B's neighbourhood means
    std::vector<const double*> rows;  // stage B: the energy rows of a neighbourhood
    std::vector<Index> nonfinite_n, stuck_n_at;  // stage A: per sample of the block, the part's counts
    std::vector<std::pair<double, double>> weighted;  // common mode: (regression, weight) per block
  };
  std::vector<Part> parts;
  std::unique_ptr<detail::ThreadTeam> team;
  std::vector<double> block_sd;  // per channel, stage A's block SD
  std::size_t sd_stride_a = 1, sd_stride_b = 1;  // every how many samples stages A and B measure the block SD
  filter::MainsReport mains;
  double mains_hz = 0.0;
  std::vector<filter::ChannelQuality> quality;
  // Common-mode cancellation (grids): per block, sum(y_c m) per channel and
  // sum(m^2), kept for the noise window.
  bool cancel_common = false;
  double sigma_median = 0.0;  // median noise floor over usable channels (far-field check)
  std::vector<std::vector<double>> cm_sym;
  std::vector<double> cm_smm;
  std::vector<double> cm_m, cm_beta, cm_ring;
  std::vector<double> cm_w, cm_sorted;  // scratch: the blocks' weights, and a copy for their quantile
  std::vector<Index> cm_chans;   // usable channels, for the per-sample median
  detail::MedianNetwork cm_net;  // median of cm_chans.size() values
  // Far-field transients waiting for their waveform, and the shapes of the
  // ones seen so far (a heartbeat repeats; a movement does not).
  std::vector<Index> ff_pending;
  Index ff_last = -1, ff_judged = -1;
  struct FarFieldShape {
    std::vector<double> wave;
    int count = 0;
  };
  std::vector<FarFieldShape> ff_shapes;
  RowMatrix<double> probe;
  Index probe_n = 0;
  RowMatrix<double> pending, block_y;
  Index pending_n = 0;
  Index R = 0;
  RowMatrix<double> raw_ring, y_ring, d_ring;
  std::vector<char> bad_ring, chan_bad_ring;  // per sample: whole-sample bad; per (sample, channel): unusable
  std::vector<char> block_bad;  // per channel: any sample of the block in stage A unusable
  std::vector<double> last_finite, prev_raw, esum, z2_hist;
  std::vector<Index> stuck_count;
  // Per channel over the whole stream, for the result's quality: the start-up
  // screening sees only the probe, and an electrode can fail at any time.
  struct ChannelHealth {
    Index non_finite = 0;         // samples
    Index unusable = 0;           // samples left out: non-finite or stuck
    Index longest_stuck = 0;      // longest run of identical samples that was flagged
    Index clipped = 0;            // flagged stuck samples at the channel's extreme so far (clipping)
    double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
    Index open_run = -1;          // start of the non-finite run in progress
    std::vector<SampleRange> runs;  // closed non-finite runs (the first kMaxReportedRuns)
  };
  std::vector<ChannelHealth> health;
  // Gaps: samples at which every usable electrode is non-finite (a blanked
  // BAD annotation, the whole amplifier dropping out). A recording's gap, in
  // its bad_signal mask, not any one electrode's fault.
  ChannelHealth gaps;
  detection::BlockFloor sig_floor, d_loc, d_scale;
  std::vector<detail::ThinnedHistory> sd_history;  // block SDs for the summary's noise floor (bounded)
  std::vector<double> sigma;                  // current block's floor per channel
  std::vector<double> loc, scale;
  std::vector<double> floor_sig, floor_loc, floor_scale;  // per channel, from BlockFloor::floors
  Index a_blocks = 0, b_blocks = 0, c_blocks = 0;
  Index a_end = 0, c_end = 0;
  std::unique_ptr<detection::ClusterTracker> tracker;
  std::vector<detection::Cluster> closed;
  std::vector<Candidate> candidates;
  std::vector<Candidate> assigned;
  struct Recent {
    Index sample;
    int unit;
    Index channel;
  };
  std::vector<Recent> recent;  // assigned discharges, oldest first
  // Lags seen from a discharge on one channel to a later candidate on
  // another (or the same), for time-locked components.
  std::map<std::pair<Index, Index>, std::vector<Index>> pair_lags;
  std::vector<std::vector<Index>> unit_times;
  std::vector<double> retime_row;  // retime_to_template's electrode row
  std::vector<Index> peel_chans;   // peel_pair's channels
  Index sweep_end = 0;             // sweep_block has covered [0, sweep_end)
  Index sweep_settle = 0;          // samples the sweep's backward pass runs in before its window
  RowMatrix<double> sweep_zp;      // sweep_block's zero-phase window
  // The matched filters' terms, flat: per swept unit a run of channel
  // segments, each a row of sweep_zp and a run of (coefficient, offset).
  struct SweepSegment {
    Index row = 0;
    std::size_t begin = 0, end = 0;
  };
  std::vector<SweepSegment> sweep_segments;
  std::vector<std::size_t> sweep_unit_segments;  // unit k's segments: [this[k], this[k + 1])
  std::vector<double> sweep_coef;
  std::vector<std::ptrdiff_t> sweep_offset;
  std::vector<std::size_t> sweep_units;
  std::vector<double> sweep_st, sweep_tt;
  std::vector<Index> sweep_chans, sweep_rows;  // swept channels; each channel's row in sweep_zp (-1: none)
  struct SweepHit {
    Index sample;
    std::size_t unit;
  };
  std::vector<SweepHit> sweep_hits;
  std::vector<Mask> mask_list;
  cluster::UnitTracker units;
  std::vector<Event> emitted;
  // mask bookkeeping
  Index bad_start = -1;
  Index vol_run_start = -1, vol_run_len = 0;
  std::vector<double> sub_sum;
  Index sub_n = 0, sub_start = 0;
  // scratch
  std::vector<double> scratch, deviations, column;
  // Per-block scratch in the layout each pass reads contiguously: the rings
  // are (C, R) with R a power of two, so walking one sample across channels
  // strides by R doubles and every channel lands in the same cache set.
  RowMatrix<double> energy;                   // (C, B): stage B's per-channel matched energy
  std::vector<double> score_t;            // (B, C): transposed energies, then scores (see to_scores)
  std::vector<double> score_roots, energy_threshold;  // per channel: to_scores' roots; threshold_energy
  std::vector<Index> sub_ends;            // stage C: where sub-blocks end in the block
  std::vector<double> sub_sums;           // stage C: each channel's band power up to each of those ends
  std::vector<Index> hot;

  Impl(double fs_, std::vector<ChannelInfo> ch, DetectOptions o)
      : fs(fs_),
        channels(std::move(ch)),
        opt(std::move(o)),
        C(static_cast<Index>(channels.size())),
        sig_floor(1, 1, 1, 0.5),
        d_loc(1, 1, 1, 0.5),
        d_scale(1, 1, 1, 0.5),
        units(1, 1, 1.0) {
    if (!(std::isfinite(fs) && fs > 0.0)) bad_option("fs", "must be positive and finite", fs);
    if (C < 1) throw std::invalid_argument("channels: at least one channel is required");
    opt.validate(fs);
    if (opt.assume_square_grid) assume_grid();
    B = std::max<Index>(16, samples_of(opt.noise_block_s * 1e3, fs));
    P = samples_of(opt.mains_probe_s * 1e3, fs);
    Pmax = opt.mains == filter::MainsMode::automatic ? std::max(P, samples_of(opt.mains_probe_max_s * 1e3, fs)) : P;
    Pb = std::max<Index>(1, (P + B - 1) / B);
    L = std::max<Index>(2, samples_of(kEnergyMs, fs));
    Bm = std::max<Index>(1, samples_of(kMaskBlockMs, fs));
    H = samples_of(kRefineMs, fs);
    // Bridges the energy dips between the phases of one potential and its
    // slower terminal components.
    gap = 2 * L;
    max_len = samples_of(kMaxClusterMs, fs);
    snippet_half = std::max<Index>(1, samples_of(opt.snippet_ms, fs));
    stuck_n = std::max<Index>(3, samples_of(kStuckMs, fs));
    // The screening's flat run: a stuck run this long makes a channel flat,
    // and this much time left out makes it a bad channel.
    flat_run = static_cast<Index>(std::ceil(filter::QualityOptions{}.flat_run_s * fs));
    refractory = std::max<Index>(1, samples_of(opt.refractory_ms, fs));
    merge = samples_of(opt.merge_ms, fs);
    isolated = samples_of(kIsolatedMs, fs);
    search_before = L + samples_of(kSearchBeforeMs, fs);
    search_after = samples_of(kSearchAfterMs, fs);
    feature_half = samples_of(opt.max_duration_ms + 5.0, fs);
    pad = samples_of(opt.mask_padding_s * 1e3, fs);
    box_len = std::max<Index>(2, samples_of(kLowBoxMs, fs));
    // The block SDs need not visit every sample. The band-passed noise is
    // nearly uncorrelated at lags of 1/(2 x low-pass edge) (its
    // autocorrelation's first zero), so samples that far apart carry almost
    // all of a block's information about its SD; the statistic of stage B is
    // a 5 ms moving energy, whose values half a window apart already share
    // only half their samples. Subsets strided from the block start keep the
    // result independent of how the stream is chunked.
    sd_stride_a = static_cast<std::size_t>(std::max(1.0, std::floor(fs / (2.0 * std::min(opt.lowpass_hz, 0.45 * fs)))));
    sd_stride_b = static_cast<std::size_t>(std::max<Index>(1, L / 2));
    box_noise_gain = boxcar_noise_gain(box_len, opt.highpass_hz, std::min(opt.lowpass_hz, 0.45 * fs), fs);
    derecruit = samples_of(kDerecruitMs, fs);
    const double tonic_span_ms = (opt.tonic_min_discharges - 1) * opt.tonic_isi_ms;
    final_delay = pad + samples_of(std::max({tonic_span_ms, opt.doublet_max_ms, opt.tonic_isi_ms}), fs) +
                  samples_of(opt.voluntary_min_s * 1e3, fs) + Bm + 1;
    assign_margin = search_before + std::max(refractory, merge) + 1;
    // Worst case: a cluster as long as allowed, closed after the gap, waits
    // for its refinement window; its events then wait final_delay; the block
    // grid adds up to one block. Events in the probe wait for the probe.
    // The known-unit sweep holds assignment back by up to one block plus its
    // zero-phase window (see sweep_ready).
    sweep_settle = samples_of(kSweepSettleMs, fs);
    const Index sweep_lag = opt.known_unit_sweep ? B + snippet_half + refractory + sweep_settle : 0;
    const Index pipeline = max_len + gap + H + assign_margin + final_delay + 2 * B + sweep_lag;
    latency = Pmax + pipeline;

    usable.assign(static_cast<std::size_t>(C), true);
    for (Index c = 0; c < C; ++c) {
      const auto& info = channels[static_cast<std::size_t>(c)];
      if (info.marked_bad || (info.type != "EMG" && !info.type.empty())) usable[static_cast<std::size_t>(c)] = false;
    }
    R = next_pow2(P + 2 * H + 2 * max_len + 4 * B + samples_of(1000.0, fs));
    units = cluster::UnitTracker(C, 2 * snippet_half + 1, fs, opt.clustering);
    make_parts(opt.n_threads > 0 ? opt.n_threads : 1);
    init_state();
  }

  // DetectOptions::assume_square_grid: positions for the neighbourhood and
  // the spatial rules; names, muscles and sides stay the caller's.
  std::string layout = "independent";
  int grid_side = 0;
  void assume_grid() {
    grid_side = assumed_grid_side(channels);
    if (grid_side == 0) return;
    int k = 0;
    for (auto& c : channels) {
      if (c.type != "EMG" && !c.type.empty()) continue;
      c.grid = GridPosition{k / grid_side, k % grid_side, 0.0};
      ++k;
    }
  }

  Index noise_window_blocks() const {
    return std::max<Index>(1, static_cast<Index>(std::lround(opt.noise_window_s / opt.noise_block_s)));
  }

  // The neighbourhoods of the usable electrodes and what follows from
  // them: the statistics' members and state (see S), and the lines the
  // fibre vote compares (vote_fibre_axis). Before the first block.
  void build_neighbourhoods() {
    nb = detection::build_neighbourhood(channels, usable);
    for (const bool along_row : {true, false})
      vote_lines[along_row ? 0 : 1] = detection::build_grid_lines(channels, usable, along_row, kFibreSteps);
    build_stat_members();
    resize_statistics();
  }

  // The members of each statistic (see S). A grid keeps all three kinds
  // from the start, so the fibre axis the units vote for (which can change
  // mid-stream) always finds its line's floor learnt.
  void build_stat_members() {
    S = nb.grid && opt.fibre_line ? 3 : 1;
    stat_members = nb.members;
    if (S == 1) return;
    for (const bool along_row : {true, false}) {
      auto lines = detection::build_grid_lines(channels, usable, along_row, kFibreLineReach);
      std::move(lines.begin(), lines.end(), std::back_inserter(stat_members));
    }
  }

  // Stage B's and C's state per statistic (before the first block).
  void resize_statistics() {
    const auto n = static_cast<std::size_t>(S * C);
    d_ring.setZero(S * C, R);
    d_loc = detection::BlockFloor(S * C, noise_window_blocks(), Pb, 0.5);
    d_scale = detection::BlockFloor(S * C, noise_window_blocks(), Pb, 0.5);
    stat_med.assign(n, 0.0);
    stat_sd.assign(n, 0.0);
    floor_loc.assign(n, 0.0);
    floor_scale.assign(n, 0.0);
    loc.assign(n, 0.0);
    scale.assign(n, 1.0);
    Q = S > 1 ? 2 : 1;
    const auto nq = static_cast<std::size_t>(Q * C);
    score_t.assign(static_cast<std::size_t>(B) * nq, 0.0);
    score_roots.assign(nq, 0.0);
    energy_threshold.assign(nq, 0.0);
    q_loc.assign(nq, 0.0);
    q_scale.assign(nq, 1.0);
    best_score.assign(static_cast<std::size_t>(C), 0.0);
  }

  void init_state() {
    fibre_votes_rows = fibre_votes_columns = 0;
    seen = 0;
    started = false;
    draining = false;
    flushing = false;
    // The filters are designed again at the next start (the mains may differ).
    for (auto& part : parts) {
      part.filt.reset();
      part.back.filt.reset();
    }
    refine_back.filt.reset();
    block_sd.assign(static_cast<std::size_t>(C), 0.0);
    mains = filter::MainsReport{};
    mains_hz = 0.0;
    quality.clear();
    // Not zeroed: only [0, probe_n) is ever read, and a probe that ends at
    // 2 s of the 8 s it may grow to leaves most of its pages untouched.
    probe.resize(C, std::max<Index>(Pmax, 1));
    probe_n = 0;
    pending.setZero(C, B);
    block_y.setZero(C, B);
    pending_n = 0;
    raw_ring.setZero(C, R);
    y_ring.setZero(C, R);
    bad_ring.assign(static_cast<std::size_t>(R), 0);
    chan_bad_ring.assign(static_cast<std::size_t>(R * C), 0);
    block_bad.assign(static_cast<std::size_t>(C), 0);
    last_finite.assign(static_cast<std::size_t>(C), 0.0);
    prev_raw.assign(static_cast<std::size_t>(C), std::numeric_limits<double>::quiet_NaN());
    esum.assign(static_cast<std::size_t>(C), 0.0);
    z2_hist.assign(static_cast<std::size_t>(C * L), 0.0);
    stuck_count.assign(static_cast<std::size_t>(C), 0);
    health.assign(static_cast<std::size_t>(C), ChannelHealth{});
    gaps = ChannelHealth{};
    sig_floor = detection::BlockFloor(C, noise_window_blocks(), Pb, kFloorQuantile);
    // Constructed in place: each reserves its capacity (a copy would not).
    sd_history.clear();
    sd_history.resize(static_cast<std::size_t>(C));
    sigma.assign(static_cast<std::size_t>(C), 1.0);
    floor_sig.assign(static_cast<std::size_t>(C), 0.0);
    a_blocks = b_blocks = c_blocks = 0;
    a_end = c_end = 0;
    build_neighbourhoods();
    tracker = std::make_unique<detection::ClusterTracker>(nb, gap, max_len);
    closed.clear();
    candidates.clear();
    assigned.clear();
    recent.clear();
    pair_lags.clear();
    unit_times.clear();
    mask_list.clear();
    units.reset();
    emitted.clear();
    sweep_end = 0;
    bad_start = -1;
    vol_run_start = -1;
    vol_run_len = 0;
    sub_sum.assign(static_cast<std::size_t>(C), 0.0);
    sub_n = 0;
    sub_start = 0;
    column.assign(static_cast<std::size_t>(C), 0.0);
    energy.setZero(C, B);
    sub_ends.reserve(static_cast<std::size_t>(B / Bm + 2));
    sub_sums.assign(static_cast<std::size_t>((B / Bm + 2) * C), 0.0);
    for (auto& part : parts) {
      part.nonfinite_n.assign(static_cast<std::size_t>(B), 0);
      part.stuck_n_at.assign(static_cast<std::size_t>(B), 0);
    }
    hot.clear();
    hot.reserve(static_cast<std::size_t>(C));
    n_usable = std::count(usable.begin(), usable.end(), true);
    cancel_common = false;
    sigma_median = 0.0;
    cm_sym.clear();
    cm_smm.clear();
    cm_ring.assign(static_cast<std::size_t>(R), 0.0);
    ff_pending.clear();
    ff_last = -1;
    ff_judged = -1;
    ff_shapes.clear();
  }

  Index slot(Index t) const { return t & (R - 1); }
  // Samples [t0, t0 + n) of a (C, R) ring row: at most two contiguous runs.
  void to_ring(double* ring, Index t0, const double* src, Index n) const {
    const Index s0 = slot(t0), first = std::min(n, R - s0);
    std::copy(src, src + first, ring + s0);
    std::copy(src + first, src + n, ring);
  }

  template <class F>
  void for_parts(F&& f) {
    if (!team) {
      f(parts[0]);
      return;
    }
    const std::function<void(int)> task = [&](int p) { f(parts[static_cast<std::size_t>(p)]); };
    team->run(task);
  }

  // Contiguous channel ranges, on 16-channel boundaries (the filter's lane
  // blocks) when there are enough channels. A range gets at least 16
  // channels: with fewer, a block's work per thread is shorter than waking
  // a thread costs.
  void make_parts(int n_threads) {
    const Index n = std::max<Index>(1, std::min<Index>(n_threads, C / 16));
    parts.assign(static_cast<std::size_t>(n), Part{});
    for (Index p = 0; p < n; ++p) {
      auto edge = [&](Index q) {
        Index e = q * C / n;
        if (C >= 16 * n && q < n) e -= e % 16;
        return e;
      };
      parts[static_cast<std::size_t>(p)].c0 = edge(p);
      parts[static_cast<std::size_t>(p)].c1 = edge(p + 1);
    }
    team.reset();
    if (n > 1) team = std::make_unique<detail::ThreadTeam>(static_cast<int>(n));
  }

  // Share of a waveform's energy (noise expectation removed) below ~40 Hz.
  // A surface MUAP has its energy well above that (median frequency ~80-150
  // Hz); the QRS of a far-field ECG keeps most of its energy at 10-40 Hz even
  // after the 20 Hz high-pass. Measured with a 12 ms moving average (first
  // null at 83 Hz) over +-40 ms, which integrates over the whole complex, so
  // it still works when only the QRS tip stands out of the noise.
  double low_band_fraction(std::span<const double> row, Index pk, double sd) const {
    const Index n = static_cast<Index>(row.size());
    const Index half = samples_of(40.0, fs), m = box_len;
    const Index i0 = std::max<Index>(m, pk - half), i1 = std::min(n - m, pk + half + 1);
    if (i1 <= i0) return 0.0;
    double total = 0.0, low = 0.0, acc = 0.0;
    for (Index j = i0 - m / 2; j < i0 - m / 2 + m; ++j) acc += row[static_cast<std::size_t>(j)];
    for (Index i = i0; i < i1; ++i) {
      const double v = row[static_cast<std::size_t>(i)];
      total += v * v;
      const double mean = acc / static_cast<double>(m);
      low += mean * mean;
      acc += row[static_cast<std::size_t>(i - m / 2 + m)] - row[static_cast<std::size_t>(i - m / 2)];
    }
    const double noise = static_cast<double>(i1 - i0) * sd * sd;
    const double signal = total - noise;
    if (signal <= 0.0) return 0.0;
    return std::clamp((low - box_noise_gain * noise) / signal, 0.0, 1.0);
  }

  // True when channel c was stuck, clipped or non-finite within the clip
  // guard of sample t (the run is flagged only after stuck_n equal samples,
  // so the guard reaches that much further back).
  bool near_flagged(Index c, Index t) const {
    const Index w = stuck_n + samples_of(kClipGuardMs, fs);
    return flagged_between(c, t - w, t + w);
  }

  // Any sample of channel c in [t0, t1] flagged (non-finite or stuck), of
  // those still in the ring.
  bool flagged_between(Index c, Index t0, Index t1) const {
    const Index lo = std::max<Index>({0, t0, a_end - R}), hi = std::min(t1, a_end - 1);
    for (Index i = lo; i <= hi; ++i)
      if (chan_bad_ring[static_cast<std::size_t>(slot(i) * C + c)]) return true;
    return false;
  }

  // Common-mode cancellation. On a monopolar grid the ECG, residual mains and
  // the slow part of movement reach every electrode from far away, with the
  // same shape and a gain that varies smoothly across the grid, while a MUAP
  // covers a minority of the electrodes at any instant. The per-sample median
  // over the electrodes therefore follows the far-field signal and not the
  // MUAPs; each channel's gain on it is its regression coefficient, and
  // subtracting gain x median leaves the local activity. The gain is a
  // robust (weighted-median) summary of per-block regressions over the noise
  // window, so one movement artefact does not set it for the whole window;
  // the weight of a block is its far-field energy, capped so that a few huge
  // blocks cannot outvote the rest.
  void cancel_common_mode(Index t0, Index n) {
    const Index min_count = std::max<Index>(4, n_usable / 2);
    cm_m.assign(static_cast<std::size_t>(n), 0.0);
    // The usable channels, and a median network for that many values (the
    // set only changes when start() decides it).
    cm_chans.clear();
    for (Index c = 0; c < C; ++c)
      if (usable[static_cast<std::size_t>(c)]) cm_chans.push_back(c);
    const std::size_t n_chans = cm_chans.size();
    const bool use_net = n_chans >= 1 && n_chans <= detail::MedianNetwork::kMaxValues &&
                         static_cast<Index>(n_chans) >= min_count;
    if (use_net && cm_net.values() != n_chans) cm_net = detail::MedianNetwork(n_chans);
    constexpr Index W = static_cast<Index>(detail::MedianNetwork::kLanes);
    // Each sample's median is its own: the block's samples are split
    // between the threads (part p takes the p-th share of the samples).
    const auto n_parts = static_cast<Index>(parts.size());
    for_parts([&](Part& part) {
      const Index p = &part - parts.data();
      const Index i0 = p * n / n_parts, i1 = (p + 1) * n / n_parts;
      auto& col = part.row;
      // One sample the slow way: any set of channels, any values.
      const auto one = [&](Index i) {
        const char* cb = &chan_bad_ring[static_cast<std::size_t>(slot(t0 + i) * C)];
        col.clear();
        for (Index c = 0; c < C; ++c)
          if (usable[static_cast<std::size_t>(c)] && !cb[c]) col.push_back(block_y(c, i));
        if (static_cast<Index>(col.size()) < min_count) return;
        const auto mid = col.begin() + static_cast<std::ptrdiff_t>(col.size() / 2);
        std::nth_element(col.begin(), mid, col.end());
        double med = *mid;
        if (col.size() % 2 == 0) med = 0.5 * (med + *std::max_element(col.begin(), mid));
        cm_m[static_cast<std::size_t>(i)] = med;
      };
      // W samples at a time through the network, straight from the
      // channel-major block (no transposition): the common case, where
      // every usable channel is good at all W samples and nothing is NaN.
      auto& lanes = part.lanes;
      if (use_net) lanes.resize(n_chans * static_cast<std::size_t>(W));
      Index i = i0;
      for (; use_net && i + W <= i1; i += W) {
        bool clean = true;
        for (Index l = 0; l < W && clean; ++l) {
          const char* cb = &chan_bad_ring[static_cast<std::size_t>(slot(t0 + i + l) * C)];
          for (Index c : cm_chans) clean = clean && !cb[c];
        }
        bool nan = false;
        if (clean) {
          double* x = lanes.data();
          for (Index c : cm_chans) {
            const double* yc = &block_y(c, i);
            for (Index l = 0; l < W; ++l) {
              x[l] = yc[l];
              nan |= yc[l] != yc[l];
            }
            x += W;
          }
        }
        if (!clean || nan) {
          for (Index l = 0; l < W; ++l) one(i + l);
          continue;
        }
        cm_net.run(lanes.data());
        for (Index l = 0; l < W; ++l)
          cm_m[static_cast<std::size_t>(i + l)] = cm_net.median(lanes.data(), static_cast<std::size_t>(l));
      }
      for (; i < i1; ++i) one(i);
    });
    for (Index i = 0; i < n; ++i) cm_ring[static_cast<std::size_t>(slot(t0 + i))] = cm_m[static_cast<std::size_t>(i)];
    double smm = 0.0;
    for (double v : cm_m) smm += v * v;
    // Each channel's sum runs over the samples in order, one serial chain of
    // additions per channel as in a plain loop (so the same rounding), but a
    // single chain waits on the adder's latency at every sample: eight
    // channels advance side by side so that their chains overlap.
    const Index window = std::max<Index>(1, static_cast<Index>(std::lround(opt.noise_window_s / opt.noise_block_s)));
    // The block leaving the noise window lends its storage to the new one.
    std::vector<double> sym;
    if (static_cast<Index>(cm_smm.size()) >= window) {
      sym = std::move(cm_sym.front());
      cm_sym.erase(cm_sym.begin());
      cm_smm.erase(cm_smm.begin());
    }
    sym.assign(static_cast<std::size_t>(C), 0.0);
    for_parts([&](Part& part) {
      constexpr Index K = 8;
      const double* m = cm_m.data();
      Index c = part.c0;
      for (; c + K <= part.c1; c += K) {
        const double* y[K];
        double acc[K];
        for (Index k = 0; k < K; ++k) {
          y[k] = &block_y(c + k, 0);
          acc[k] = 0.0;
        }
        for (Index i = 0; i < n; ++i)
          for (Index k = 0; k < K; ++k) acc[k] += y[k][i] * m[i];
        for (Index k = 0; k < K; ++k) sym[static_cast<std::size_t>(c + k)] = acc[k];
      }
      for (; c < part.c1; ++c) {
        double acc = 0.0;
        for (Index i = 0; i < n; ++i) acc += block_y(c, i) * m[i];
        sym[static_cast<std::size_t>(c)] = acc;
      }
    });
    cm_sym.push_back(std::move(sym));
    cm_smm.push_back(smm);
    const std::size_t nb_blocks = cm_smm.size();
    std::vector<double>& w = cm_w;
    w.assign(cm_smm.begin(), cm_smm.end());
    {
      std::vector<double>& sorted = cm_sorted;
      sorted.assign(w.begin(), w.end());
      const auto q = sorted.begin() + static_cast<std::ptrdiff_t>((sorted.size() * 9) / 10);
      std::nth_element(sorted.begin(), q, sorted.end());
      for (double& v : w) v = std::min(v, *q);
    }
    double total = 0.0;
    for (double v : w) total += v;
    cm_beta.assign(static_cast<std::size_t>(C), 0.0);
    if (!(total > 0.0)) return;
    for_parts([&](Part& part) {
      auto& bw = part.weighted;
      bw.resize(nb_blocks);
      for (Index c = part.c0; c < part.c1; ++c) {
        if (!usable[static_cast<std::size_t>(c)]) continue;
        std::size_t k = 0;
        for (std::size_t b = 0; b < nb_blocks; ++b) {
          if (!(cm_smm[b] > 0.0)) continue;
          bw[k++] = {cm_sym[b][static_cast<std::size_t>(c)] / cm_smm[b], w[b]};
        }
        std::sort(bw.begin(), bw.begin() + static_cast<std::ptrdiff_t>(k));
        double acc = 0.0, beta = 0.0;
        for (std::size_t j = 0; j < k; ++j) {
          acc += bw[j].second;
          beta = bw[j].first;
          if (acc >= 0.5 * total) break;
        }
        cm_beta[static_cast<std::size_t>(c)] = beta;
        for (Index i = 0; i < n; ++i) block_y(c, i) -= beta * cm_m[static_cast<std::size_t>(i)];
      }
    });
  }

  // ---- start: mains decision and filter design from the probe ----
  // Mains on the latest mains_probe_s of the probe. Returns true when the
  // probe may end: a line was found, the mode needs no decision, or the probe
  // cannot grow further. A contraction or movement at the start of a
  // recording buries the line under broadband power, so when none is found
  // the probe grows (up to mains_probe_max_s) and the next stretch is tried:
  // an un-notched line would inflate the noise floor for the whole recording.
  bool decide_mains() {
    if (opt.mains == filter::MainsMode::off) return true;
    const Index len = std::min(probe_n, std::max<Index>(P, 1));
    RowMatrix<double> head = probe.middleCols(probe_n - len, len);
    for (Index c = 0; c < C; ++c)
      for (Index i = 0; i < len; ++i)
        if (!std::isfinite(head(c, i))) head(c, i) = 0.0;
    mains = filter::detect_mains<double>(head, fs);
    if (opt.mains != filter::MainsMode::automatic) return true;
    return mains.status == filter::MainsStatus::found || probe_n + P > Pmax || P == 0;
  }

  // The notches of a comb (one per harmonic, fundamental first) whose
  // harmonic the probe shows above its chance level. A harmonic below that
  // holds a small share of the band's noise power (a line 10 dB over the
  // noise of a 0.5 Hz bin carries ~1.5% of 20-500 Hz noise), so its notch
  // would only cost time: mains puts its power in the fundamental and a few
  // (mostly odd) harmonics, leaving most of the ~19 notches below 1 kHz
  // idle. The fundamental is kept whenever there is mains; harmonics the
  // probe could not score are kept too.
  filter::Sos present_notches(const filter::Sos& comb, double hz) const {
    const std::vector<bool> need = filter::harmonics_to_notch(mains, hz, static_cast<std::size_t>(comb.rows()));
    filter::Sos out(std::count(need.begin(), need.end(), true), 6);
    for (Index k = 0, i = 0; k < comb.rows(); ++k)
      if (need[static_cast<std::size_t>(k)]) out.row(i++) = comb.row(k);
    return out;
  }

  void start() {
    started = true;
    const Index n = probe_n;
    double hz = 0.0;
    if (opt.mains == filter::MainsMode::hz50) hz = 50.0;
    if (opt.mains == filter::MainsMode::hz60) hz = 60.0;
    if (n > 0) {
      if (opt.mains == filter::MainsMode::automatic && mains.status == filter::MainsStatus::found) {
        hz = mains.frequency_hz;
      }
      filter::QualityOptions qo;
      qo.mains_hz = hz;
      quality = filter::channel_quality<double>(probe.leftCols(n), fs, qo);
      for (Index c = 0; c < C; ++c) {
        // A dead or disconnected electrode carries no discharges and would
        // make the noise normalisation meaningless.
        const auto flags = quality[static_cast<std::size_t>(c)].flags;
        if (flags & (filter::quality_flat | filter::quality_disconnected)) usable[static_cast<std::size_t>(c)] = false;
      }
      // (Fewer usable electrodes can leave no grid neighbours: S may drop to 1.)
      build_neighbourhoods();
      n_usable = std::count(usable.begin(), usable.end(), true);
    }
    // A far-field common mode needs enough electrodes for the median to
    // ignore a MUAP; bipolar leads have already subtracted theirs.
    cancel_common = nb.grid && n_usable >= 8;
    const double lowpass = std::min(opt.lowpass_hz, 0.45 * fs);
    sos = filter::butter(opt.filter_order, {opt.highpass_hz, lowpass}, filter::BandType::bandpass, fs);
    if (hz > 0.0 && hz < 0.95 * fs / 2.0) {
      // Where the band-pass already attenuates by kNotchUntilDb (a
      // Butterworth low-pass edge falls 20 x order dB per decade: twice the
      // edge at order 4), notches only cost time: at 4096 Hz they were 19 of
      // 38, at 10 kHz 75 of 94.
      const double band_limit = lowpass * std::pow(10.0, kNotchUntilDb / (20.0 * opt.filter_order));
      filter::MainsNotchOptions no;
      no.bandwidth_hz = opt.notch_bandwidth_hz;
      no.max_frequency_hz = std::min(0.95 * fs / 2.0, band_limit);
      if (hz < no.max_frequency_hz) sos = filter::cascade(sos, present_notches(filter::mains_notches(hz, fs, no), hz));
      mains_hz = hz;
    }
    for (auto& part : parts) part.filt.emplace(sos, part.c1 - part.c0);
    sos_zi = filter::sosfilt_zi(sos);
    // Starting the filter in the steady state of the first sample removes the
    // step response to the electrode offset (often mV on monopolar grids),
    // which would otherwise ring through the notches for ~1 s; what remains
    // is the band-pass settling to wander and mains, a few hundred ms.
    if (n > 0) {
      Eigen::VectorXd x0(C);
      for (Index c = 0; c < C; ++c) x0(c) = std::isfinite(probe(c, 0)) ? probe(c, 0) : 0.0;
      for (auto& part : parts) part.filt->set_steady_state(x0.segment(part.c0, part.c1 - part.c0));
    }
    const filter::Sos band = filter::butter(opt.filter_order, {opt.highpass_hz, lowpass}, filter::BandType::bandpass, fs);
    detection::add_mask(mask_list, {0, std::max(settling_samples(band, fs), samples_of(100.0, fs)), MaskReason::startup});
    // Replay the probe through the block pipeline from sample 0.
    for (Index i = 0; i < n; i += 1) {
      for (Index c = 0; c < C; ++c) pending(c, pending_n) = probe(c, i);
      if (++pending_n == B) run_block_a();
    }
    probe.resize(0, 0);
  }

  // A block with every sample finite and no two successive samples equal
  // (as a float stream's usually is) changes only the channel's range and
  // its last values (no stuck run starts: stuck_n >= 3): one branch-free
  // pass tells, and the ring takes a copy.
  bool fill_clean_channel(Index c, Index t0, Index n) {
    const auto cs = static_cast<std::size_t>(c);
    ChannelHealth& hl = health[cs];
    if (n == 0 || hl.open_run >= 0) return false;
    const double* row = &pending(c, 0);
    bool clean = std::isfinite(row[0]) && row[0] != prev_raw[cs];
    double lo = row[0], hi = row[0];
    for (Index i = 1; i < n; ++i) {
      const double v = row[i];
      clean &= (v - v == 0.0) & (v != row[i - 1]);
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (!clean) return false;
    hl.lo = std::min(hl.lo, lo);
    hl.hi = std::max(hl.hi, hi);
    to_ring(&raw_ring(c, 0), t0, row, n);
    last_finite[cs] = prev_raw[cs] = row[n - 1];
    stuck_count[cs] = 0;
    return true;
  }

  // Holds a non-finite sample at the channel's last finite value and flags
  // it, flags a channel stuck at one value, and writes the raw ring; counts
  // per sample (usable channels only) feed the whole-sample decision.
  void fill_channel(Index c, Index t0, Index n, Index* nonfinite, Index* stuck_at) {
    const auto cs = static_cast<std::size_t>(c);
    block_bad[cs] = 0;
    if (fill_clean_channel(c, t0, n)) return;
    const bool use = usable[cs];
    double* row = &pending(c, 0);
    double* raw = &raw_ring(c, 0);
    double last = last_finite[cs], prev = prev_raw[cs];
    Index stuck = stuck_count[cs];
    ChannelHealth& hl = health[cs];
    for (Index i = 0; i < n; ++i) {
      const Index t = t0 + i;
      double v = row[i];
      bool bad = false;
      if (!std::isfinite(v)) {
        // Hold the last finite value: unlike zero (the brief's default),
        // it does not put a step the size of the electrode offset into the
        // filters at both ends of the gap.
        v = last;
        bad = true;
        if (use) ++nonfinite[i];
        stuck = 0;
        ++hl.non_finite;
        if (hl.open_run < 0) hl.open_run = t;
      } else {
        if (hl.open_run >= 0) close_run(hl, t);
        stuck = (v == prev) ? stuck + 1 : 0;
        prev = v;
        last = v;
        hl.lo = std::min(hl.lo, v);
        hl.hi = std::max(hl.hi, v);
        if (stuck + 1 >= stuck_n) {
          bad = true;
          if (use) ++stuck_at[i];
          hl.longest_stuck = std::max(hl.longest_stuck, stuck + 1);
          // Stuck at the most extreme value the channel has reached: the
          // amplifier's limit (a channel that never varied is flat instead).
          if (hl.lo < hl.hi && (v == hl.lo || v == hl.hi)) ++hl.clipped;
        }
      }
      hl.unusable += bad ? 1 : 0;
      // The block's flags were cleared before the parts ran: writing only
      // the rare bad ones keeps the threads off each other's cache lines
      // (a sample's flags for all channels share one line).
      if (bad) {
        chan_bad_ring[static_cast<std::size_t>(slot(t) * C + c)] = 1;
        block_bad[cs] = 1;
      }
      row[i] = v;
      raw[slot(t)] = v;
    }
    last_finite[cs] = last;
    prev_raw[cs] = prev;
    stuck_count[cs] = stuck;
  }

  static void close_run(ChannelHealth& hl, Index stop) {
    if (hl.runs.size() < kMaxReportedRuns) hl.runs.push_back({hl.open_run, stop});
    hl.open_run = -1;
  }

  // ---- stage A: fill, flag, filter, block SD ----
  void run_block_a() {
    const Index n = pending_n;
    const Index t0 = a_end;
    const Index frac_min = std::max<Index>(1, static_cast<Index>(std::ceil(kStuckChannelFraction * n_usable)));
    const auto block_stats = [&](Part& part) {
      for (Index c = part.c0; c < part.c1; ++c) {
        const bool any_bad = block_bad[static_cast<std::size_t>(c)] != 0;
        to_ring(&y_ring(c, 0), t0, &block_y(c, 0), n);
        double med = 0.0, sd = 0.0;
        detail::strided_median_and_mad_sd(std::span<const double>(&block_y(c, 0), static_cast<std::size_t>(n)),
                                          sd_stride_a, kMinSdValues, part.subset, part.scratch, part.deviations, med,
                                          sd);
        // A block with filled samples says nothing about the noise: an
        // infinite SD is ignored by the low-quantile floor.
        block_sd[static_cast<std::size_t>(c)] = any_bad ? std::numeric_limits<double>::infinity() : sd;
        if (!any_bad) sd_history[static_cast<std::size_t>(c)].push(sd);
      }
    };
    // The block's channel flags start clear; fill_channel sets the bad ones.
    {
      const Index s0 = slot(t0), first = std::min(n, R - s0);
      std::fill_n(chan_bad_ring.begin() + s0 * C, first * C, char{0});
      std::fill_n(chan_bad_ring.begin(), (n - first) * C, char{0});
    }
    // Each part fills and filters its channels; the per-sample counts of
    // the whole-sample decision are kept per part and added after.
    for_parts([&](Part& part) {
      Index* nonfinite = part.nonfinite_n.data();
      Index* stuck_at = part.stuck_n_at.data();
      std::fill(nonfinite, nonfinite + n, 0);
      std::fill(stuck_at, stuck_at + n, 0);
      for (Index c = part.c0; c < part.c1; ++c) fill_channel(c, t0, n, nonfinite, stuck_at);
      const Index m = part.c1 - part.c0;
      part.filt->process(pending.block(part.c0, 0, m, n), block_y.block(part.c0, 0, m, n));
      // The common mode needs every channel filtered first.
      if (!cancel_common) block_stats(part);
    });
    for (Index i = 0; i < n; ++i) {
      const auto is = static_cast<std::size_t>(i);
      Index n_nonfinite = 0, n_stuck = 0;
      for (const Part& part : parts) {
        n_nonfinite += part.nonfinite_n[is];
        n_stuck += part.stuck_n_at[is];
      }
      const Index t = t0 + i;
      const bool sample_bad = n_usable > 0 && n_nonfinite + n_stuck >= frac_min;
      if (n_usable > 0 && n_nonfinite == n_usable) {
        ++gaps.non_finite;
        if (gaps.open_run < 0) gaps.open_run = t;
      } else if (gaps.open_run >= 0) {
        close_run(gaps, t);
      }
      bad_ring[static_cast<std::size_t>(slot(t))] = sample_bad ? 1 : 0;
      if (sample_bad && bad_start < 0) bad_start = t;
      if (!sample_bad && bad_start >= 0) {
        detection::add_mask(mask_list, {std::max<Index>(0, bad_start - pad), t + pad, MaskReason::bad_signal});
        bad_start = -1;
      }
    }
    if (bad_start >= 0) {
      detection::add_mask(mask_list, {std::max<Index>(0, bad_start - pad), t0 + n + pad, MaskReason::bad_signal});
    }
    if (cancel_common) {
      cancel_common_mode(t0, n);
      for_parts(block_stats);
    }
    sig_floor.push(block_sd);
    a_end += n;
    ++a_blocks;
    pending_n = 0;
  }

  Index block_start(Index k) const { return k * B; }
  Index block_stop(Index k) const { return std::min((k + 1) * B, a_end); }

  // The cube roots of the m values mean[0], mean[stride], ... of the rows'
  // mean that detail::strided_median_and_mad_sd would measure (stride
  // sd_stride_b, see detail::effective_stride), into out. With `whole`
  // the mean is first taken at every sample, into `mean`; otherwise only
  // where it is measured (the same sums: each sample adds its rows in order
  // from 0.0). Returns how many.
  std::size_t strided_cube_roots(const std::vector<const double*>& rows, std::size_t m, bool whole, double* mean,
                                 std::vector<double>& picked, std::vector<double>& out) const {
    const std::size_t stride = std::max<std::size_t>(1, detail::effective_stride(m, sd_stride_b, kMinSdValues));
    const std::size_t k = (m + stride - 1) / stride;
    picked.resize(k);
    out.resize(k);
    if (whole) {
      detail::mean_rows(rows.data(), rows.size(), m, mean);
      for (std::size_t i = 0, j = 0; i < m; i += stride, ++j) picked[j] = mean[i];
    } else {
      const double count = static_cast<double>(rows.size());
      for (std::size_t i = 0, j = 0; i < m; i += stride, ++j) {
        double sum = 0.0;
        for (const double* r : rows) sum += r[i];
        picked[j] = sum / count;
      }
    }
    detail::cbrt_array(picked.data(), out.data(), k);
    return k;
  }

  // ---- stage B: normalised energy, neighbourhood statistic ----
  void run_block_b(Index k) {
    const Index t0 = block_start(k), t1 = block_stop(k);
    sig_floor.floors(k, floor_sig);
    for (Index c = 0; c < C; ++c) {
      const double f = floor_sig[static_cast<std::size_t>(c)];
      sigma[static_cast<std::size_t>(c)] = (std::isfinite(f) && f > 1e-6) ? f : std::numeric_limits<double>::infinity();
    }
    const Index m = t1 - t0;
    // Pass 1, channel by channel: the running 5 ms energy of each channel.
    for_parts([&](Part& part) {
    for (Index c = part.c0; c < part.c1; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      const bool use = usable[cs] && std::isfinite(sigma[cs]);
      const double sg = sigma[cs];
      const double* yr = &y_ring(c, 0);
      double* hist = &z2_hist[static_cast<std::size_t>(c * L)];
      double* er = &energy(c, 0);
      double acc = esum[cs];
      // The window position advances with t (t % L, without a division per
      // sample), and the running sums are scaled in a second, vectorised
      // loop: the serial loop keeps only the additions that depend on it.
      Index h = t0 % L;
      for (Index t = t0; t < t1; ++t) {
        const char cb = chan_bad_ring[static_cast<std::size_t>(slot(t) * C + c)];
        double z2 = 0.0;
        if (use && !cb) {
          const double z = yr[slot(t)] / sg;
          z2 = z * z;
        }
        double& slot_v = hist[h];
        acc += z2 - slot_v;
        slot_v = z2;
        if (h == L - 1) {
          // Exact re-summation once per window keeps the running sum from drifting.
          double sum = 0.0;
          for (Index j = 0; j < L; ++j) sum += hist[j];
          acc = sum;
          h = 0;
        } else {
          ++h;
        }
        er[t - t0] = acc;
      }
      const double len = static_cast<double>(L);
      for (Index i = 0; i < t1 - t0; ++i) er[i] = std::max(er[i], 0.0) / len;
      esum[cs] = acc;
    }
    });
    // Pass 2 (needs every channel's energy): the mean over each statistic's
    // electrodes (see S), and the block's robust location and scale of its
    // cube root (the statistic; see run_block_c), which need only the
    // samples they measure. The line across the fibres (as voted so far)
    // is not scored, so only its location and scale are kept, unless stage
    // C has yet to score this block (the first blocks after the probe run
    // stage B ahead of C, and a vote in between may change the line).
    const Index unscored = S > 1 && b_blocks == c_blocks ? 3 - fibre_line_kind() : -1;
    for_parts([&](Part& part) {
      part.lanes.resize(static_cast<std::size_t>(m));
      double* mean = part.lanes.data();
      const Index width = part.c1 - part.c0;
      for (Index i = 0; i < S * width; ++i) {
        const Index c = (i / width) * C + part.c0 + i % width;  // kind i / width's row
        const auto& mem = stat_members[static_cast<std::size_t>(c)];
        // Member by member over the whole block (contiguous rows, vectorised);
        // each sample still adds its members in the same order from 0.0.
        part.rows.clear();
        for (Index j : mem) part.rows.push_back(&energy(j, 0));
        const bool whole = i / width != unscored;
        const auto k = strided_cube_roots(part.rows, static_cast<std::size_t>(m), whole, mean, part.subset, part.row);
        if (whole) to_ring(&d_ring(c, 0), t0, mean, m);
        double med = 0.0, sd = 0.0;
        detail::median_and_mad_sd(std::span<const double>(part.row.data(), k), part.scratch, part.deviations, med,
                                  sd);
        stat_med[static_cast<std::size_t>(c)] = med;
        stat_sd[static_cast<std::size_t>(c)] = sd;
      }
    });
    d_loc.push(stat_med);
    d_scale.push(stat_sd);
    ++b_blocks;
  }

  // Stage C holds each statistic's mean energy (kNoScore where the sample
  // is unusable) until a score is needed: the statistic is its cube root
  // (Wilson-Hilferty: near-Gaussian under noise), in robust SDs from the
  // floor's location. Per sample stage C holds Q x C of them: the 3x3's,
  // then (grids) the fibre line's, whose location and scale q_loc and
  // q_scale hold in the same order. to_scores turns one sample's values
  // into scores in place (0 where unusable).
  void to_scores(double* v) {
    detail::cbrt_array(v, score_roots.data(), static_cast<std::size_t>(Q * C));
    for (Index c = 0; c < Q * C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      v[c] = v[c] == kNoScore ? 0.0 : (score_roots[cs] - q_loc[cs]) / q_scale[cs];
    }
  }

  // An energy that any score over threshold_sd exceeds: the cube of the
  // root at threshold, less a margin far beyond the cube root's 1 ulp (so
  // the test never misses a score the exact comparison would pass).
  double threshold_energy(double lc, double sl) const {
    if (!(sl < std::numeric_limits<double>::infinity())) return std::numeric_limits<double>::infinity();
    const double root = lc + opt.threshold_sd * sl;
    if (!(root > 0.0)) return -std::numeric_limits<double>::infinity();
    return root * root * root * (1.0 - 1e-9);
  }

  // ---- stage C: threshold, cluster, voluntary masks ----
  void run_block_c(Index k) {
    const Index t0 = block_start(k), t1 = block_stop(k);
    d_loc.floors(k, floor_loc);
    d_scale.floors(k, floor_scale);
    sig_floor.floors(k, floor_sig);
    for (Index c = 0; c < S * C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      loc[cs] = floor_loc[cs];
      const double s = floor_scale[cs];
      scale[cs] = s > 1e-12 ? s : std::numeric_limits<double>::infinity();
    }
    for (Index c = 0; c < C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      const double f = floor_sig[cs];
      sigma[cs] = (std::isfinite(f) && f > 1e-6) ? f : std::numeric_limits<double>::infinity();
    }
    // The line along the fibres, as the units have voted so far (kind 1 for
    // fibres along the columns, the default; see fibres_along_rows). The
    // other line's statistics are kept (stage B), not scored.
    const Index line = S > 1 ? fibre_line_kind() : 0;
    for (Index q = 0; q < Q; ++q)
      for (Index c = 0; c < C; ++c) {
        const auto qs = static_cast<std::size_t>(q * C + c), ks = static_cast<std::size_t>((q == 0 ? 0 : line) * C + c);
        q_loc[qs] = loc[ks];
        q_scale[qs] = scale[ks];
      }
    if (cancel_common) {
      // The far-field check's noise reference, once per block (it runs per sub-block).
      column.clear();
      for (Index c = 0; c < C; ++c)
        if (usable[static_cast<std::size_t>(c)] && std::isfinite(sigma[static_cast<std::size_t>(c)]))
          column.push_back(sigma[static_cast<std::size_t>(c)]);
      sigma_median = column.empty() ? 0.0 : upper_median(column);
    }
    const Index vol_min = std::max<Index>(1, samples_of(opt.voluntary_min_s * 1e3, fs));
    const Index vol_channels =
        std::max<Index>(1, static_cast<Index>(std::ceil(kVoluntaryChannelFraction * static_cast<double>(n_usable))));
    // Scores channel by channel, transposed so that the per-sample pass
    // below reads one contiguous row. The band power needs no transposition:
    // each channel's sub-block sum is added here in time order, as the
    // per-sample pass would (the same rounding), and cut where a sub-block
    // ends (ends: samples into the block; sums: C per end, then the rest).
    sub_ends.clear();
    for (Index i = Bm - sub_n - 1; i < t1 - t0; i += Bm) sub_ends.push_back(i);
    const std::size_t n_ends = sub_ends.size();
    for_parts([&](Part& part) {
    const char* const flags = chan_bad_ring.data();
    const char* const bad = bad_ring.data();
    double* const score = score_t.data();
    const Index ring_mask = R - 1, n_ch = C, n_q = Q * C;
    // Transposed a few channels at a time, so that each sample's row of
    // scores is written a cache line at once.
    constexpr Index kTile = 8;
    for (Index q = 0; q < Q; ++q) {
      const Index kind = q == 0 ? 0 : line;
      for (Index c0 = part.c0; c0 < part.c1; c0 += kTile) {
        const Index w = std::min(part.c1, c0 + kTile) - c0;
        const double* dr[kTile];
        bool use[kTile];
        for (Index i = 0; i < w; ++i) {
          dr[i] = &d_ring(kind * C + c0 + i, 0);
          use[i] = usable[static_cast<std::size_t>(c0 + i)];
        }
        for (Index t = t0; t < t1; ++t) {
          const Index s = t & ring_mask;
          double* row = &score[(t - t0) * n_q + q * C + c0];
          const char* fl = &flags[s * n_ch + c0];
          for (Index i = 0; i < w; ++i) row[i] = use[i] && !bad[s] && !fl[i] ? dr[i][s] : kNoScore;
        }
      }
      for (Index c = part.c0; c < part.c1; ++c) {
        const auto qs = static_cast<std::size_t>(q * C + c);
        energy_threshold[qs] = threshold_energy(q_loc[qs], q_scale[qs]);
      }
    }
    for (Index c = part.c0; c < part.c1; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      const double* yr = &y_ring(c, 0);
      double acc = sub_sum[cs];
      Index t = t0;
      for (std::size_t e = 0; e <= n_ends; ++e) {
        const Index stop = e < n_ends ? t0 + sub_ends[e] + 1 : t1;
        for (; t < stop; ++t) {
          const double y = yr[t & ring_mask];
          acc += y * y;
        }
        sub_sums[e * static_cast<std::size_t>(n_ch) + cs] = acc;
        acc = 0.0;
      }
    }
    });
    std::size_t e = 0;
    const double thr = opt.threshold_sd;
    const double* const eth = energy_threshold.data();
    for (Index t = t0; t < t1; ++t) {
      double* all = &score_t[static_cast<std::size_t>((t - t0) * Q * C)];
      double* sc = best_score.data();
      // Most samples at rest have no channel near threshold: a branch-free
      // (vectorised) test of the energies first, the scores (a cube root
      // each) and the list only when one may be hot. With nothing hot and no
      // open cluster, a step would change nothing.
      bool maybe = false;
      for (Index c = 0; c < Q * C; ++c) maybe |= all[c] > eth[c];
      if (maybe || !tracker->empty()) {
        to_scores(all);
        // A channel scores the larger of its 3x3's and its fibre line's.
        for (Index c = 0; c < C; ++c) sc[c] = Q > 1 ? std::max(all[c], all[C + c]) : all[c];
        hot.clear();
        bool any = false;
        for (Index c = 0; c < C; ++c) any |= sc[c] > thr;
        if (any) {
          for (Index c = 0; c < C; ++c)
            if (sc[c] > thr) hot.push_back(c);
        }
        if (any || !tracker->empty()) tracker->step(t, hot, std::span<const double>(sc, static_cast<std::size_t>(C)), closed);
      }
      if (++sub_n == Bm) {
        std::copy_n(&sub_sums[e++ * static_cast<std::size_t>(C)], C, sub_sum.begin());
        end_sub_block(t + 1, vol_min, vol_channels);
      }
    }
    std::copy_n(&sub_sums[n_ends * static_cast<std::size_t>(C)], C, sub_sum.begin());
    c_end = t1;
    ++c_blocks;
    after_scoring();
  }

  void end_sub_block(Index stop, Index vol_min, Index vol_channels) {
    if (cancel_common) check_far_field(stop);
    Index n_active = 0;
    for (Index c = 0; c < C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      if (!usable[cs] || !std::isfinite(sigma[cs])) continue;
      const double rms = std::sqrt(sub_sum[cs] / static_cast<double>(sub_n));
      // Relative to the floor, or absolute: a contraction that fills the
      // whole noise-floor window (e.g. from the first second of a recording)
      // has raised that floor too.
      if (rms > opt.voluntary_rms_ratio * sigma[cs] || rms > opt.voluntary_rms_uv) ++n_active;
    }
    std::fill(sub_sum.begin(), sub_sum.end(), 0.0);
    const bool active = n_usable > 0 && n_active >= vol_channels;
    if (active) {
      if (vol_run_start < 0) vol_run_start = sub_start;
      vol_run_len += sub_n;
      if (vol_run_len >= vol_min) {
        detection::add_mask(mask_list,
                         {std::max<Index>(0, vol_run_start - pad), stop + pad + derecruit, MaskReason::voluntary});
      }
    } else {
      vol_run_start = -1;
      vol_run_len = 0;
    }
    sub_n = 0;
    sub_start = stop;
  }

  // A far-field transient far above the noise (movement, a cable knock) is
  // cancelled only as well as its gains match the ones learnt from the
  // ECG and noise; what is left of it would pass for local activity, so
  // the period is masked as an artefact, as the uncancelled detector did.
  // A heartbeat of ordinary size stays below this and is cancelled.
  void check_far_field(Index stop) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (Index t = sub_start; t < stop; ++t) {
      const double v = cm_ring[static_cast<std::size_t>(slot(t))];
      lo = std::min(lo, v);
      hi = std::max(hi, v);
    }
    if (!(sigma_median > 0.0) || !(hi > lo)) return;
    if (hi - lo >= kArtefactSd * sigma_median) {
      detection::add_mask(mask_list, {std::max<Index>(0, sub_start - pad), stop + pad, MaskReason::artefact});
    } else if (hi - lo >= kFarFieldSd * sigma_median) {
      Index at = sub_start;
      for (Index t = sub_start; t < stop; ++t)
        if (std::abs(cm_ring[static_cast<std::size_t>(slot(t))]) > std::abs(cm_ring[static_cast<std::size_t>(slot(at))])) at = t;
      const Index w = samples_of(kFarFieldHalfMs, fs);
      if (ff_last < 0 || at - ff_last > w) {
        ff_pending.push_back(at);
        ff_last = at;
      }
    }
    judge_far_field();
  }

  // A moderate far-field transient is cancelled if it is a heartbeat: its
  // waveform (+-kFarFieldHalfMs on the median signal) matches a shape already
  // seen kFarFieldBeats times. Anything else (movement, a cable knock) is
  // masked, as the first beats are while their shape is being learnt.
  void judge_far_field() {
    const Index w = samples_of(kFarFieldHalfMs, fs);
    const Index lag = samples_of(10.0, fs);
    std::size_t done = 0;
    for (; done < ff_pending.size() && ff_pending[done] + 2 * w + lag < a_end; ++done) {
      // Centre on the transient's largest deflection, so that successive
      // beats are compared at the same phase.
      Index at = ff_pending[done];
      for (Index t = ff_pending[done] - w; t <= ff_pending[done] + w; ++t)
        if (t >= 0 && std::abs(cm_ring[static_cast<std::size_t>(slot(t))]) > std::abs(cm_ring[static_cast<std::size_t>(slot(at))])) at = t;
      if (ff_judged >= 0 && std::abs(at - ff_judged) <= w) continue;
      ff_judged = at;
      std::vector<double> x(static_cast<std::size_t>(2 * w + 1));
      for (Index j = -w; j <= w; ++j) x[static_cast<std::size_t>(j + w)] = cm_ring[static_cast<std::size_t>(slot(std::max<Index>(0, at + j)))];
      int best = -1;
      double best_r = -1.0;
      for (std::size_t s = 0; s < ff_shapes.size(); ++s) {
        const auto& tpl = ff_shapes[s].wave;
        for (Index d = -lag; d <= lag; ++d) {
          double sxy = 0.0, sxx = 0.0, syy = 0.0;
          for (Index j = -w; j <= w; ++j) {
            const double a = cm_ring[static_cast<std::size_t>(slot(std::max<Index>(0, at + j + d)))];
            const double b = tpl[static_cast<std::size_t>(j + w)];
            sxy += a * b;
            sxx += a * a;
            syy += b * b;
          }
          const double r = (sxx > 0.0 && syy > 0.0) ? sxy / std::sqrt(sxx * syy) : -1.0;
          if (r > best_r) {
            best_r = r;
            best = static_cast<int>(s);
          }
        }
      }
      const bool known = best >= 0 && best_r >= kFarFieldMatch;
      if (!(known && ff_shapes[static_cast<std::size_t>(best)].count >= kFarFieldBeats)) {
        // A shape that has repeated is a heartbeat still being learnt: only
        // the beat itself is lost, not the padding an unknown artefact gets.
        const Index margin = known ? 0 : pad;
        detection::add_mask(mask_list, {std::max<Index>(0, at - w - margin), at + w + margin, MaskReason::artefact});
      }
      if (known) {
        auto& s = ff_shapes[static_cast<std::size_t>(best)];
        const double a = 1.0 / std::min(s.count + 1, 10);
        for (std::size_t j = 0; j < x.size(); ++j) s.wave[j] += a * (x[j] - s.wave[j]);
        ++s.count;
      } else {
        if (ff_shapes.size() >= 4) ff_shapes.erase(ff_shapes.begin());
        ff_shapes.push_back({x, 1});
      }
    }
    ff_pending.erase(ff_pending.begin(), ff_pending.begin() + static_cast<std::ptrdiff_t>(done));
  }

  // ---- refinement of closed clusters ----
  void refine_ready() {
    for (std::size_t i = 0; i < closed.size();) {
      if (flushing || closed[i].last + H < c_end) {
        refine(closed[i]);
        closed.erase(closed.begin() + static_cast<std::ptrdiff_t>(i));
      } else {
        ++i;
      }
    }
  }

  // Splits a cluster into discharges. The cluster links every supra-threshold
  // point connected in space and time, so two units firing a few ms apart in
  // overlapping territories, or a doublet, share one cluster. In zero-phase
  // terms each discharge is one bump of the neighbourhood energy M(t) (max over
  // the cluster's channels); bumps separated by a valley below half the smaller
  // bump and at least refractory_ms apart are separate discharges. A bump much
  // smaller than the main one (end-of-fibre and tail components of the same
  // potential) stays with its neighbour.
  // Normalised correlation of the waveforms on channel c around two times
  // (each centred on its largest deflection within +-L), best over +-1 ms.
  // The largest normalised correlation over the lags d in +-1 ms, where
  // add(d, sxy, sxx, syy) accumulates the two waveforms' products at lag d.
  template <class Add>
  double best_lagged_correlation(Add&& add) const {
    const Index lag = std::max<Index>(1, samples_of(1.0, fs));
    double best = -1.0;
    for (Index d = -lag; d <= lag; ++d) {
      double sxy = 0.0, sxx = 0.0, syy = 0.0;
      add(d, sxy, sxx, syy);
      if (sxx > 0.0 && syy > 0.0) best = std::max(best, sxy / std::sqrt(sxx * syy));
    }
    return best;
  }

  double bump_similarity(ZpView zp, Index c, Index tp, Index tq) const {
    const Index n = zp.cols();
    std::span<const double> row(zp.row(c).data(), static_cast<std::size_t>(n));
    const Index pp = features::largest_deflection(row, tp - L, tp + L + 1);
    const Index pq = features::largest_deflection(row, tq - L, tq + L + 1);
    if (std::abs(pp - pq) < refractory) return -1.0;  // both bumps point at one deflection
    const Index w = std::max<Index>(2, samples_of(kRepeatHalfMs, fs));
    return best_lagged_correlation([&](Index d, double& sxy, double& sxx, double& syy) {
      for (Index j = -w; j <= w; ++j) {
        const Index i1 = pp + j, i2 = pq + j + d;
        if (i1 < 0 || i1 >= n || i2 < 0 || i2 >= n) continue;
        sxy += zp(c, i1) * zp(c, i2);
        sxx += zp(c, i1) * zp(c, i1);
        syy += zp(c, i2) * zp(c, i2);
      }
    });
  }

  void find_bumps(ZpView zp, const std::vector<double>& noise, const detection::Cluster& cl,
                  Index s0, Index s1, std::vector<std::pair<Index, Index>>& segments, std::vector<Index>& peaks) {
    const Index n = zp.cols();
    const Index m = s1 - s0;
    RowMatrix<double> env = RowMatrix<double>::Zero(C, m);
    const Index half = L / 2;
    std::vector<double> z2(static_cast<std::size_t>(n));
    for (Index c = 0; c < C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      if (!usable[cs]) continue;
      bool relevant = false;
      for (Index j : nb.members[cs]) relevant = relevant || cl.channels[static_cast<std::size_t>(j)];
      if (!relevant) continue;
      for (Index i = 0; i < n; ++i) {
        const double z = zp(c, i) / noise[cs];
        z2[static_cast<std::size_t>(i)] = z * z;
      }
      for (Index t = 0; t < m; ++t) {
        const Index lo = std::max<Index>(0, s0 + t - half), hi = std::min(n, s0 + t - half + L);
        double acc = 0.0;
        for (Index i = lo; i < hi; ++i) acc += z2[static_cast<std::size_t>(i)];
        env(c, t) = acc / static_cast<double>(std::max<Index>(1, hi - lo));
      }
    }
    std::vector<double> M(static_cast<std::size_t>(m), 0.0);
    std::vector<Index> arg(static_cast<std::size_t>(m), cl.peak_channel);
    for (Index c = 0; c < C; ++c) {
      if (!cl.channels[static_cast<std::size_t>(c)]) continue;
      const auto& mem = nb.members[static_cast<std::size_t>(c)];
      for (Index t = 0; t < m; ++t) {
        double acc = 0.0;
        for (Index j : mem) acc += env(j, t);
        acc /= static_cast<double>(mem.size());
        if (acc > M[static_cast<std::size_t>(t)]) {
          M[static_cast<std::size_t>(t)] = acc;
          arg[static_cast<std::size_t>(t)] = c;
        }
      }
    }
    // Local maxima, largest first.
    std::vector<Index> cand;
    for (Index t = 0; t < m; ++t) {
      const double v = M[static_cast<std::size_t>(t)];
      const bool left = t == 0 || v > M[static_cast<std::size_t>(t - 1)];
      const bool right = t == m - 1 || v >= M[static_cast<std::size_t>(t + 1)];
      if (left && right) cand.push_back(t);
    }
    std::stable_sort(cand.begin(), cand.end(), [&](Index x, Index y) {
      return M[static_cast<std::size_t>(x)] > M[static_cast<std::size_t>(y)];
    });
    peaks.clear();
    if (cand.empty()) cand.push_back(0);
    const double top = M[static_cast<std::size_t>(cand[0])] - 1.0;
    for (Index p : cand) {
      const double hp = M[static_cast<std::size_t>(p)] - 1.0;
      if (!peaks.empty() && (hp < kSecondaryBump * top || hp < kSecondaryMin)) break;
      // A cluster shorter than the refractory period cannot hold two discharges.
      if (!peaks.empty() && cl.last - cl.first < refractory) break;
      bool ok = true;
      for (Index q : peaks) {
        if (std::abs(p - q) < refractory) {
          ok = false;
          break;
        }
        const Index lo = std::min(p, q), hi = std::max(p, q);
        double valley = std::numeric_limits<double>::infinity();
        for (Index t = lo; t <= hi; ++t) valley = std::min(valley, M[static_cast<std::size_t>(t)] - 1.0);
        const double depth = valley / std::max(1e-12, std::min(hp, M[static_cast<std::size_t>(q)] - 1.0));
        // Two bumps of one cluster are two discharges only with evidence:
        // the same waveform repeated (a doublet of one unit), or different
        // territories across the fibres (two units). Otherwise the later bump
        // is part of the same potential: its propagation to the tendons
        // and the terminal (end-of-fibre) components a surface MUAP has.
        const Index cp = arg[static_cast<std::size_t>(p)], cq = arg[static_cast<std::size_t>(q)];
        const auto& gp = channels[static_cast<std::size_t>(cp)].grid;
        const auto& gq = channels[static_cast<std::size_t>(cq)].grid;
        const bool apart = gp && gq && (fibres_along_rows() ? std::abs(gp->column - gq->column)
                                                            : std::abs(gp->row - gq->row)) >= 2;
        const Index big = M[static_cast<std::size_t>(p)] >= M[static_cast<std::size_t>(q)] ? cp : cq;
        bool separate = apart && depth < kShallowValley;
        // A repeat is on the same electrodes; the same shape on other
        // electrodes a few ms later is the potential propagating.
        if (!separate && depth < kShallowValley && nb.adjacent(cp, cq)) {
          const double r = bump_similarity(zp, big, s0 + p, s0 + q);
          separate = (r >= kRepeatCorrelation && depth < kValleyRatio) || (r >= kStrongRepeat);
        }
        if (!separate) {
          ok = false;
          break;
        }
      }
      if (ok) peaks.push_back(p);
    }
    std::sort(peaks.begin(), peaks.end());
    // Segment boundaries at the valley minima between successive peaks.
    segments.clear();
    Index start = 0;
    for (std::size_t k = 0; k < peaks.size(); ++k) {
      Index stop = m;
      if (k + 1 < peaks.size()) {
        Index arg = peaks[k];
        for (Index t = peaks[k]; t <= peaks[k + 1]; ++t)
          if (M[static_cast<std::size_t>(t)] < M[static_cast<std::size_t>(arg)]) arg = t;
        stop = arg;
      }
      segments.emplace_back(s0 + start, s0 + stop);
      start = stop;
    }
  }

  // Rows of the causal output, filled latest sample first, made zero-phase
  // in place: the backward pass from the steady state of their first
  // column, then each row back in time order.
  void backward_pass(Eigen::Ref<RowMatrix<double>> rows, BackFilter& back) const {
    const Index m = rows.rows();
    if (!back.filt || back.filt->n_channels() != m) {
      back.filt.emplace(sos, m);
      back.state.resize(sos.rows(), 2 * m);
    }
    // Started in the steady state of the first sample (SosFilter::set_steady_state).
    for (Index s = 0; s < sos.rows(); ++s)
      for (Index c = 0; c < m; ++c) {
        back.state(s, 2 * c) = sos_zi(s, 0) * rows(c, 0);
        back.state(s, 2 * c + 1) = sos_zi(s, 1) * rows(c, 0);
      }
    back.filt->set_state(back.state);
    back.filt->process(rows, rows);
    for (Index k = 0; k < m; ++k) rows.row(k).reverseInPlace();
  }

  // sweep_hit: a known-unit sweep hit (see sweep_block), judged as a rescue.
  void refine(const detection::Cluster& cl, bool sweep_hit = false) {
    const Index a = std::max<Index>(0, cl.first - H);
    const Index b = std::min(a_end, cl.last + H + 1);
    const Index n = b - a;
    if (n < 8) return;
    // Zero-phase = the stream's own causal pass (run from the start of the
    // recording, so the mains notches are in their steady state) followed by
    // a backward pass over the window. Filtering the raw window forwards and
    // backwards instead would restart the notches, whose ~1/(pi x bandwidth)
    // = 160 ms time constant is longer than the window: the mains would leak
    // back into the very samples whose amplitude and noise are measured.
    // In reused storage: a window of a 64-channel grid is ~300 kB, which
    // malloc would map and unmap (page faults included) cluster by cluster.
    refine_buf.resize(static_cast<std::size_t>(C * n));
    Eigen::Map<RowMatrix<double>> zp(refine_buf.data(), C, n);
    for (Index c = 0; c < C; ++c)
      for (Index i = 0; i < n; ++i) zp(c, n - 1 - i) = y_ring(c, slot(a + i));
    backward_pass(zp, refine_back);

    std::vector<double>& noise = refine_noise;
    noise.assign(static_cast<std::size_t>(C), 0.0);
    for (Index c = 0; c < C; ++c) {
      std::span<const double> row(zp.row(c).data(), static_cast<std::size_t>(n));
      double sd = features::robust_sd(row, scratch);
      noise[static_cast<std::size_t>(c)] = sd > 1e-9 ? sd : 1e-9;
    }
    const Index s0 = std::clamp<Index>(cl.first - search_before - a, 0, n - 1);
    const Index s1 = std::clamp<Index>(cl.last + search_after - a + 1, s0 + 1, n);
    auto& segments = refine_segments;
    auto& peaks = refine_peaks;
    segments.clear();
    peaks.clear();
    find_bumps(zp, noise, cl, s0, s1, segments, peaks);
    std::vector<SegmentResult> results;
    double broad_peak = 0.0;
    for (const auto& [g0, g1] : segments) {
      results.push_back(refine_segment(cl, zp, noise, a, g0, g1, segments.size() > 1, sweep_hit));
      if (results.back().broad) broad_peak = std::max(broad_peak, results.back().peak_abs);
    }
    // A cluster holding a broad (ECG-like or movement) component: its other
    // bumps are that component's ripples unless they clearly stand out
    // above it (a fasciculation riding on a heartbeat).
    for (auto& r : results) {
      if (r.accepted && r.peak_abs > broad_peak) insert_candidate(std::move(r.cand));
    }
  }

  // The discharge's channel, and the sample near which its largest
  // deflection lies. Sizes are compared as the peak to peak of a 3-point
  // (~1 ms at 2-4 kHz) smoothed copy within +-kSizeHalfMs of each channel's
  // own largest deflection: the MUAP's phases are barely attenuated, while
  // the noise that decides between electrodes of similar size is reduced
  // and other discharges in the window are left out.
  // On a grid a potential propagating along the fibres keeps a similar size
  // over several columns, so at low SNR the noise decides which of them is
  // the largest and a far column is 5-10 ms late. The discharge starts at
  // the innervation zone, where the two travelling waves still overlap
  // (hence the largest potential of a noise-free discharge): of the
  // electrodes within kSameSizeShare of the largest and joined to it
  // (through electrodes of at least kJoinShare of it), the one that peaks
  // first.
  std::pair<Index, Index> event_channel(const detection::Cluster& cl, ZpView zp, Index s0, Index s1,
                                        Index sm) const {
    const Index n = zp.cols();
    auto smoothed = [&](Index c, Index i) {
      double acc = 0.0;
      Index cnt = 0;
      for (Index j = std::max<Index>(0, i - sm); j <= std::min(n - 1, i + sm); ++j, ++cnt) acc += zp(c, j);
      return acc / static_cast<double>(cnt);
    };
    const Index h = samples_of(kSizeHalfMs, fs);
    std::vector<double> size(static_cast<std::size_t>(C), -1.0);
    std::vector<Index> at(static_cast<std::size_t>(C), s0);
    Index best = -1;
    for (Index c = 0; c < C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      if (!cl.channels[cs]) continue;
      double peak = -1.0;
      for (Index i = s0; i < s1; ++i) {
        const double v = std::abs(smoothed(c, i));
        if (v > peak) {
          peak = v;
          at[cs] = i;
        }
      }
      double lo = 0.0, hi = 0.0;
      for (Index i = std::max<Index>(0, at[cs] - h); i <= std::min(n - 1, at[cs] + h); ++i) {
        const double v = smoothed(c, i);
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
      size[cs] = hi - lo;
      if (best < 0 || size[cs] > size[static_cast<std::size_t>(best)]) best = c;
    }
    if (best < 0) return {cl.peak_channel, s0};
    if (nb.grid) {
      const double level = kSameSizeShare * size[static_cast<std::size_t>(best)];
      const double join = kJoinShare * size[static_cast<std::size_t>(best)];
      std::vector<char> seen(static_cast<std::size_t>(C), 0);
      std::vector<Index> stack{best};
      seen[static_cast<std::size_t>(best)] = 1;
      Index first = best;
      while (!stack.empty()) {
        const Index c = stack.back();
        stack.pop_back();
        const auto cs = static_cast<std::size_t>(c);
        if (size[cs] >= level && at[cs] < at[static_cast<std::size_t>(first)]) first = c;
        for (Index j : nb.members[static_cast<std::size_t>(c)]) {
          const auto js = static_cast<std::size_t>(j);
          if (seen[js] || !cl.channels[js] || size[js] < join) continue;
          seen[js] = 1;
          stack.push_back(j);
        }
      }
      best = first;
    }
    return {best, at[static_cast<std::size_t>(best)]};
  }

  // Mean over the best electrode's neighbours of their waveform's
  // correlation with its own over +-3 ms around the peak (each at its best
  // lag within +-1 ms, for propagation): a discharge is one potential seen
  // by neighbouring electrodes, a noise excursion of the summed statistic
  // is independent noise on each.
  double neighbour_coherence(ZpView zp, Index best, Index pk) const {
    const Index n = zp.cols(), h = samples_of(3.0, fs), m = samples_of(1.0, fs);
    const Index w0 = std::max<Index>(m, pk - h), w1 = std::min(n - m, pk + h + 1);
    if (w1 - w0 < 3) return -1.0;
    double sum = 0.0;
    int count = 0;
    for (Index j : nb.members[static_cast<std::size_t>(best)]) {
      if (j == best || !usable[static_cast<std::size_t>(j)]) continue;
      double r = -1.0;
      for (Index lag = -m; lag <= m; ++lag) {
        double xy = 0.0, xx = 0.0, yy = 0.0;
        for (Index i = w0; i < w1; ++i) {
          const double x = zp(best, i), y = zp(j, i + lag);
          xy += x * y;
          xx += x * x;
          yy += y * y;
        }
        if (xx > 0.0 && yy > 0.0) r = std::max(r, xy / std::sqrt(xx * yy));
      }
      sum += r;
      ++count;
    }
    return count >= 3 ? sum / count : -1.0;
  }

  struct SegmentResult {
    bool accepted = false;
    bool broad = false;
    double peak_abs = 0.0;
    Candidate cand;
  };

  SegmentResult refine_segment(const detection::Cluster& cl, ZpView zp, const std::vector<double>& noise,
                      Index a, Index s0, Index s1, bool split, bool sweep_hit) {
    const Index n = zp.cols();
    std::vector<double> p2p(static_cast<std::size_t>(C), 0.0);
    for (Index c = 0; c < C; ++c) {
      const auto seg = zp.row(c).segment(s0, s1 - s0);
      p2p[static_cast<std::size_t>(c)] = seg.maxCoeff() - seg.minCoeff();
    }
    const Index sm = std::max<Index>(1, samples_of(0.5, fs));
    const auto [best, best_at] = event_channel(cl, zp, s0, s1, sm);
    const double best_p2p = p2p[static_cast<std::size_t>(best)];
    std::span<const double> peak_row(zp.row(best).data(), static_cast<std::size_t>(n));
    const Index pk = features::largest_deflection(peak_row, std::max(s0, best_at - sm), std::min(s1, best_at + sm + 1));
    const double best_abs = std::abs(zp(best, pk));
    const Index sample = a + pk;
    const double sd_best = noise[static_cast<std::size_t>(best)];

    const Index f0 = std::max<Index>(split ? s0 : 0, pk - feature_half);
    const Index f1 = std::min(split ? s1 : n, pk + feature_half + 1);
    const auto feat = features::waveform_features(peak_row.subspan(static_cast<std::size_t>(f0),
                                                                   static_cast<std::size_t>(f1 - f0)),
                                                  pk - f0, sd_best, fs);

    // Spatial plausibility on grids.
    bool common_mode = false, pop = false;
    const Index cm_half = samples_of(kCommonModeHalfMs, fs);
    Index n_chan = 0, n_considered = 0, n_half = 0;
    double max_nb = 0.0;
    for (Index c = 0; c < C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      if (!usable[cs]) continue;
      ++n_considered;
      double at_peak = 0.0;
      for (Index i = std::max<Index>(0, pk - cm_half); i <= std::min(n - 1, pk + cm_half); ++i)
        at_peak = std::max(at_peak, std::abs(zp(c, i)));
      if (at_peak >= kCommonModeLevel * best_abs) ++n_half;
      const double peak_abs = std::max(zp.row(c).segment(s0, s1 - s0).maxCoeff(),
                                       -zp.row(c).segment(s0, s1 - s0).minCoeff());
      if (peak_abs >= 4.0 * noise[cs]) ++n_chan;
      if (c != best && nb.adjacent(best, c)) max_nb = std::max(max_nb, p2p[cs]);
    }
    if (nb.grid && n_considered >= 8 &&
        static_cast<double>(n_half) >= kCommonModeFraction * static_cast<double>(n_considered)) {
      common_mode = true;
    }
    if (nb.grid && nb.members[static_cast<std::size_t>(best)].size() > 1 && best_p2p >= kPopMinSd * sd_best &&
        max_nb < kPopNeighbourRatio * best_p2p) {
      pop = true;
    }
    // Broad waveforms are not surface MUAPs: the whole potential longer than
    // max_duration_ms, or its main phase wider than a MUAP phase can be (the
    // QRS of an ECG after the 20 Hz high-pass keeps a ~10 ms main phase,
    // while a surface MUAP's main phase lasts ~1-4 ms, slow complex units ~6).
    // The same in the frequency domain, robust when the noise hides all but
    // the tip of a QRS: most of the energy below ~40 Hz is ECG (or movement).
    const bool too_long = feat.duration_ms > opt.max_duration_ms || feat.peak_width_ms > kMaxPeakWidthMs ||
                          low_band_fraction(peak_row, pk, sd_best) > kMaxLowBandFraction;
    // A discharge must stand out on its own channel in zero-phase terms too;
    // a cluster made only of neighbourhood energy with no clear deflection
    // anywhere is noise summed over many electrodes.
    // A noise excursion of the statistic crosses the threshold for a sample
    // or two; a discharge keeps the 5 ms energy up for a good part of its
    // window unless it is far above threshold.
    const bool brief = cl.last - cl.first + 1 < L / 2 && cl.peak_score < opt.threshold_sd + kBriefMargin;
    const double min_peak_sd =
        nb.members[static_cast<std::size_t>(best)].size() > 1 ? kMinPeakSd : kMinPeakSdSingle;
    // The brief and sliver guards are against noise; a zero-phase peak of
    // kStrongPeakSd noise SDs is not noise (rarer than once per hour of a
    // 64-channel grid), so a low-SNR discharge that only briefly lifts the
    // statistic, or whose measured duration shrank to its main phase, is
    // still kept.
    const bool strong = best_abs >= kStrongPeakSd * sd_best;
    // The peak test alone can pass on a ripple next to a larger potential or
    // a heartbeat: a candidate seen on one electrode only whose own waveform
    // does not even span the minimum peak from trough to crest is not a
    // discharge (a real MUAP reaching threshold shows on neighbours). At low
    // SNR the measured potential shrinks to its main phase (the opposite
    // phases sink under the duration threshold), so its peak to peak can be
    // half its own peak: a strong peak whose main phase is no wider than
    // kSliverPeakWidthMs (a MUAP's, not a heartbeat's) and rises over at
    // least kSliverMinShare of its height above the duration threshold (a
    // phase, not a one-sample spike of a quantised signal) spans at least
    // that peak from the baseline.
    const bool narrow_muap = strong && feat.peak_width_ms <= kSliverPeakWidthMs &&
                             feat.span_uv >= kSliverMinShare * best_abs;
    const double span_uv = narrow_muap ? std::max(feat.span_uv, best_abs) : feat.span_uv;
    const bool sliver = n_chan <= 1 && span_uv < min_peak_sd * sd_best;
    // A discharge that reaches the detection threshold spans, trough to
    // crest, at least twice its minimum peak; a smaller measured potential
    // is a ripple (ECG, a neighbour's tail) that happened to peak high.
    // Low-SNR discharges on a large grid are vouched for by their spread
    // (many electrodes above 4 SD), so the test is for small footprints.
    const bool faint = nb.grid && n_chan < kFaintSpread && feat.span_uv < kFaintSd * sd_best;
    // Band-limited noise spans ~4.5-5.5 SD from trough to crest over a
    // window of this length; a grid candidate that does not reach
    // kNoiseRangeSd on its own channel is a noise excursion summed over the
    // neighbourhood (real low-SNR discharges measured 7-9 SD).
    const bool noise_level = nb.grid && best_p2p < kNoiseRangeSd * sd_best;
    bool too_small = (!strong && brief) || sliver || faint || noise_level || best_abs < min_peak_sd * sd_best;
    // Nothing is measurable on an electrode at the edge of clipping (its
    // stuck samples are reported in the channel's quality flags instead).
    const bool clipped = near_flagged(best, sample);
    SegmentResult result;
    result.peak_abs = best_abs;
    result.broad = too_long || common_mode;
    const bool implausible = common_mode || pop || too_long || cl.truncated || clipped;
    // Coherence: on a grid a low-SNR discharge too small for the size
    // guards still shows the same potential on the electrodes around its
    // best one, which a noise excursion of the summed statistic does not
    // (see neighbour_coherence). Such a candidate stands, unless another
    // discharge lies within kIsolatedMs (its tail or late component is
    // coherent too; see insert_candidate and assign_ready).
    bool coherent_only = false;
    if (too_small && nb.grid && !implausible && best_abs >= kCoherentPeakSd * sd_best &&
        neighbour_coherence(zp, best, pk) >= kCoherence) {
      coherent_only = true;
      too_small = false;
    }
    // Rescue: a candidate rejected only for its size (the guards against
    // noise excursions, which cost most on single leads where nothing
    // neighbouring can vouch for a discharge) whose zero-phase peak still
    // reaches kRescuePeakSd is kept tentatively, and becomes an event only if
    // it repeats the waveform of a unit that two larger discharges have
    // shown (see assign_ready, cluster::UnitTracker::assign). Noise does not
    // repeat a multichannel waveform; a motor unit does, discharge after
    // discharge.
    // A sweep hit (see sweep_block) is judged the same way, its size vouched
    // for by the template's matched filter; it never makes a mask.
    const bool rescue = sweep_hit ? !implausible
                                  : too_small && !implausible && best_abs >= kRescuePeakSd * sd_best &&
                                        best_p2p >= kRescueRangeSd * sd_best;
    if (sweep_hit) coherent_only = false;
    if (implausible || (too_small && !rescue)) {
      if (best_p2p >= kArtefactSd * sd_best && !too_small && !clipped && !sweep_hit) {
        detection::add_mask(mask_list, {std::max<Index>(0, a + s0 - pad), a + s1 + pad, MaskReason::artefact});
      }
      return result;
    }

    result.accepted = true;
    Candidate& cand = result.cand;
    cand.tentative = rescue;
    cand.coherent_only = coherent_only;
    Event& ev = cand.event;
    ev.sample = sample;
    ev.time_s = static_cast<double>(sample) / fs;
    ev.channel = best;
    set_shape(cand, feat);
    // A rescued sliver's measured potential shrank to part of its main
    // phase (that is why it was too small); its peak to peak around the
    // peak is the better measure of its size.
    if (rescue && sliver) {
      ev.amplitude_uv = std::max(feat.amplitude_uv, best_p2p);
      cand.span_uv = std::max(feat.span_uv, best_p2p);
    }
    ev.n_channels = std::max<Index>(1, n_chan);
    // Confidence: how far above threshold the detection score rose (0.5 at
    // the threshold, towards 1 well above it), times a shape term that
    // falls from 1 to 0.6 as the duration approaches the limit for a MUAP.
    const double margin = std::max(0.0, cl.peak_score - opt.threshold_sd);
    const double snr_term = 1.0 - 0.5 * std::exp(-margin / 2.0);
    const double rel = feat.duration_ms / opt.max_duration_ms;
    const double shape_term = rel <= 0.75 ? 1.0 : 1.0 - 0.4 * std::min(1.0, (rel - 0.75) / 0.25);
    ev.confidence = std::clamp(snr_term * shape_term, 0.0, 1.0);
    cand.score = cl.peak_score;
    cand.peak_uv = best_abs;
    cand.channels = cl.channels;
    cand.noise_sd = noise;
    // An electrode that was not analysed, or lost (non-finite or stuck)
    // anywhere in the snippet, holds filler there: a zero noise SD leaves it
    // out of the unit match, the pair fit and re-timing, which would
    // otherwise compare a unit's potential with the filter's decay.
    for (Index c = 0; c < C; ++c)
      if (!usable[static_cast<std::size_t>(c)] || flagged_between(c, sample - snippet_half, sample + snippet_half))
        cand.noise_sd[static_cast<std::size_t>(c)] = 0.0;
    cand.snippet.setZero(C, 2 * snippet_half + 1);
    for (Index j = -snippet_half; j <= snippet_half; ++j) {
      const Index i = pk + j;
      if (i < 0 || i >= n) continue;
      for (Index c = 0; c < C; ++c) cand.snippet(c, j + snippet_half) = static_cast<float>(zp(c, i));
    }
    return result;
  }

  bool connected(const Candidate& x, const Candidate& y) const {
    if (nb.adjacent(x.event.channel, y.event.channel)) return true;
    for (Index c = 0; c < C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      if (x.channels[cs] && y.channels[cs]) return true;
    }
    return false;
  }

  // The electrode at (row, column) of the grid `like` is on (same muscle), or -1.
  Index grid_channel(Index like, int row, int column) const {
    const auto& m = channels[static_cast<std::size_t>(like)].muscle;
    for (Index c = 0; c < C; ++c) {
      const auto& ch = channels[static_cast<std::size_t>(c)];
      if (ch.grid && ch.grid->row == row && ch.grid->column == column && ch.muscle == m) return c;
    }
    return -1;
  }

  // One discharge propagating along the fibres from x's electrode to y's:
  // the two lie on one grid row or column at least two electrodes apart,
  // and the electrodes between them show the potential passing, at the
  // time the constant conduction velocity from x to y predicts (+-1.5 ms):
  // on average at least kPassingShare of the smaller end and kPassingSd
  // noise SDs (the window's noise maximum alone must not pass; an average,
  // because at low SNR the noise can sink any one electrode). Two units
  // firing close in time on separate parts of the grid leave the electrodes
  // between quiet.
  bool propagates(const Candidate& x, const Candidate& y) const {
    const auto& gx = channels[static_cast<std::size_t>(x.event.channel)].grid;
    const auto& gy = channels[static_cast<std::size_t>(y.event.channel)].grid;
    if (!gx || !gy) return false;
    const int dr = gy->row - gx->row, dc = gy->column - gx->column;
    // Along a row or a column; either end may be one electrode off the
    // line (the fibres' best electrode is decided by noise among two rows).
    const bool along_rows = std::abs(dc) >= std::abs(dr);
    if (std::min(std::abs(dr), std::abs(dc)) > 1) return false;
    const int m = std::max(std::abs(dr), std::abs(dc));
    const Index d = y.event.sample - x.event.sample;
    if (m < 2 || d <= 0 || d > snippet_half) return false;
    const double need = kPassingShare * std::min(x.peak_uv, y.peak_uv);
    const Index tol = samples_of(1.5, fs), N = x.snippet.cols();
    double sum_peak = 0.0, sum_sd = 0.0;
    for (int k = 1; k < m; ++k) {
      const int r = along_rows ? gx->row : gx->row + k * (dr > 0) - k * (dr < 0);
      const int col = along_rows ? gx->column + k * (dc > 0) - k * (dc < 0) : gx->column;
      const Index c = grid_channel(x.event.channel, r, col);
      if (c < 0 || !usable[static_cast<std::size_t>(c)] || !(x.noise_sd[static_cast<std::size_t>(c)] > 0.0)) return false;
      const Index at = snippet_half + d * k / m;
      float peak = 0.0f;
      for (Index j = std::max<Index>(0, at - tol); j <= std::min(N - 1, at + tol); ++j)
        peak = std::max(peak, std::abs(x.snippet(c, j)));
      sum_peak += peak;
      sum_sd += x.noise_sd[static_cast<std::size_t>(c)];
    }
    return sum_peak >= (m - 1) * need && sum_peak >= kPassingSd * sum_sd;
  }

  // Normalised correlation of two candidates' multi-channel snippets (each
  // centred on its own peak), best over +-1 ms: near 1 when the same unit
  // fired twice, lower when the later peak is another part of the same
  // potential (its snippet then holds a shifted copy of the same data).
  double repeat_similarity(const Candidate& x, const Candidate& y) const {
    const Index w = x.snippet.cols();
    // Only the part of each snippet that is its own: within half the
    // interval of its centre, and no wider than a MUAP's main phases.
    const Index dt = y.event.sample - x.event.sample;
    const Index half = std::clamp<Index>(std::min(dt / 2, samples_of(kRepeatHalfMs, fs)), 2, snippet_half);
    return best_lagged_correlation([&](Index d, double& sxy, double& sxx, double& syy) {
      for (Index c = 0; c < C; ++c) {
        if (!usable[static_cast<std::size_t>(c)]) continue;
        for (Index j = std::max<Index>(snippet_half - half, -d); j <= std::min(snippet_half + half, w - 1 - d); ++j) {
          const double a = x.snippet(c, j), b = y.snippet(c, j + d);
          sxy += a * b;
          sxx += a * a;
          syy += b * b;
        }
      }
    });
  }

  // Candidates i and i + 1 are one discharge: the kept one takes the
  // other's channels, the other goes.
  void merge_pair(std::size_t i, bool keep_first) {
    Candidate& keep = candidates[keep_first ? i : i + 1];
    const Candidate& drop = candidates[keep_first ? i + 1 : i];
    for (std::size_t c = 0; c < keep.channels.size(); ++c) keep.channels[c] = keep.channels[c] || drop.channels[c];
    candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(keep_first ? i + 1 : i));
  }

  void insert_candidate(Candidate cand) {
    const auto pos = std::upper_bound(candidates.begin(), candidates.end(), cand.event.sample,
                                      [](Index s, const Candidate& c) { return s < c.event.sample; });
    candidates.insert(pos, std::move(cand));
    // Refractory rule, iterated until stable: one unit cannot discharge twice
    // within refractory_ms, so two connected candidates that close are one
    // discharge seen twice; the larger survives.
    for (bool changed = true; changed;) {
      changed = false;
      for (std::size_t i = 0; i + 1 < candidates.size(); ++i) {
        Candidate& x = candidates[i];
        Candidate& y = candidates[i + 1];
        // A candidate standing on coherence alone gives way to any other
        // within isolated, connected or not (the smaller if both are).
        if ((x.coherent_only || y.coherent_only) && y.event.sample - x.event.sample <= isolated) {
          const bool drop_x = x.coherent_only && (!y.coherent_only || x.peak_uv < y.peak_uv);
          candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(drop_x ? i : i + 1));
          changed = true;
          break;
        }
        // Two ends of one propagating potential (see propagates): at low
        // SNR the electrodes between them can fall under the threshold,
        // splitting the discharge into two clusters that do not touch.
        if (!x.tentative && !y.tentative && propagates(x, y)) {
          // Timed at the innervation-zone end, as in event_channel: the
          // earlier end unless it is under kSameSizeShare of the later.
          const bool keep_x = x.peak_uv >= kSameSizeShare * y.peak_uv;
          merge_pair(i, keep_x);
          changed = true;
          break;
        }
        if (!connected(x, y)) continue;
        const Index dt = y.event.sample - x.event.sample;
        // A tentative candidate next to a real one is part of it (or its
        // ripple): it never takes a real one's place.
        if (x.tentative != y.tentative && dt <= merge) {
          candidates.erase(candidates.begin() + static_cast<std::ptrdiff_t>(x.tentative ? i : i + 1));
          changed = true;
          break;
        }
        const double small = std::min(x.span_uv, y.span_uv);
        const double large = std::max(x.span_uv, y.span_uv);
        // Within merge_ms a clearly smaller candidate that is not the same
        // waveform again (a doublet repeats the unit's potential at a
        // similar size) is another part of the larger one's potential: a
        // late component spreading over the grid, or an early one.
        const bool tail = dt <= merge && (small < kTailRatio * large ||
                                          (small < kPartRatio * large && repeat_similarity(x, y) < kPartRepeat));
        if (dt < refractory || tail) {
          // One discharge seen twice: on one electrode its event is the
          // larger deflection (the measured peak to peak of a small one
          // can shrink to a single phase); across electrodes, the larger
          // potential.
          const bool keep_x = x.event.channel == y.event.channel ? x.peak_uv >= y.peak_uv
                                                                 : x.span_uv >= y.span_uv;
          merge_pair(i, keep_x);
          changed = true;
          break;
        }
      }
    }
  }

  Index horizon() const {
    if (flushing) return std::numeric_limits<Index>::max() / 4;
    Index h = tracker->earliest_open(c_end);
    for (const auto& cl : closed) h = std::min(h, cl.first);
    return h - assign_margin;
  }

  bool masked_by(Index sample, std::initializer_list<MaskReason> reasons) const {
    for (const auto& m : mask_list) {
      if (m.start > sample) break;
      if (sample < m.stop && std::find(reasons.begin(), reasons.end(), m.reason) != reasons.end()) return true;
    }
    return false;
  }

  // A candidate that follows an earlier discharge, from the same channel to
  // the same channel, at the same lag (+-kLockedTolMs) as kLockedRepeats
  // earlier times is a late component of that discharge's potential, not a
  // discharge. Fasciculations fire at random, so neither a second unit nor a
  // doublet interval repeats to a fraction of a millisecond; the
  // desynchronised fibre groups of a reinnervated (complex) unit do,
  // discharge after discharge. Keyed by channels, not unit labels: the
  // snippets of a potential and its late component overlap, which is what
  // makes their labels unstable. The first occurrences are already reported
  // when the pattern becomes evident (the rule is causal, so the stream and
  // the offline call agree).
  // Returns the earlier discharge's sample, or -1.
  Index time_locked(const Event& ev) {
    const Index tol = std::max<Index>(1, samples_of(kLockedTolMs, fs));
    Index locked = -1;
    // `recent` reaches back further than merge_ms from any candidate still
    // to be assigned (finalise_ready keeps the doublet look-back).
    for (auto it = recent.rbegin(); it != recent.rend(); ++it) {
      const Index lag = ev.sample - it->sample;
      if (lag > merge) break;
      if (lag < refractory) continue;
      auto& lags = pair_lags[{it->channel, ev.channel}];
      const auto matches = std::count_if(lags.begin(), lags.end(), [&](Index l) { return std::abs(l - lag) <= tol; });
      if (matches >= kLockedRepeats && locked < 0) locked = it->sample;
      lags.push_back(lag);
      if (lags.size() > kLockedHistory) lags.erase(lags.begin());
    }
    return locked;
  }

  // Whether a candidate is the late phase of a discharge assigned less than
  // snippet_ms before it: that discharge's unit template (of at least
  // kLateMinCount discharges), placed on it within +-kRetimeTolMs and taken
  // off the candidate's row, predicts a potential there (kRescuePeakSd) and
  // leaves nothing of the candidate's own peak (see own_peak_left).
  // time_locked catches a late phase whose lag repeats within kLockedTolMs,
  // but noise moves the measured time of a broad phase by more than that,
  // and a late phase that only now and then splits off as a bump of its own
  // (find_bumps) builds no lag history. A doublet's second discharge is a
  // whole potential that the template does not hold at that lag: it is left.
  bool late_component(const Candidate& cand) {
    const Index ch = cand.event.channel;
    const double sd = cand.noise_sd[static_cast<std::size_t>(ch)];
    if (!(sd > 0.0)) return false;
    const Index N = cand.snippet.cols();
    const Index tol = samples_of(kRetimeTolMs, fs);
    for (auto it = assigned.rbegin(); it != assigned.rend(); ++it) {
      const Index d = cand.event.sample - it->event.sample;
      if (d < refractory) continue;
      if (d >= snippet_half) break;
      if (it->event.unit < 0) continue;
      const auto& t = units.units()[static_cast<std::size_t>(units.canonical(it->event.unit))];
      if (t.count < kLateMinCount) continue;
      const auto& W = t.waveform_uv;
      const Index jt = template_event_channel(W).second;  // the column timed on the discharge
      if (jt < 0) continue;
      for (Index s = -tol; s <= tol; ++s) {
        const Index lag = snippet_half - (jt + d + s);
        if (std::abs(copy_at(W, ch, snippet_half, lag)) < kRescuePeakSd * sd) continue;
        retime_row.resize(static_cast<std::size_t>(N));
        for (Index j = 0; j < N; ++j)
          retime_row[static_cast<std::size_t>(j)] = cand.snippet(ch, j) - copy_at(W, ch, j, lag);
        if (!own_peak_left(retime_row, sd)) return true;
      }
    }
    return false;
  }

  // A time-locked component larger than the discharge it follows is the
  // discharge's main phase (a complex potential whose early fibre group was
  // detected first): the event moves there, keeping its unit label.
  void move_to_larger_component(Index first, const Candidate& late) {
    const auto it = std::find_if(assigned.begin(), assigned.end(), [&](const Candidate& c) { return c.event.sample == first; });
    if (it == assigned.end() || !(late.peak_uv > it->peak_uv)) return;
    Event& ev = it->event;
    const Event& lv = late.event;
    const auto r = std::find_if(recent.begin(), recent.end(),
                                [&](const Recent& x) { return x.sample == ev.sample && x.channel == ev.channel; });
    if (r != recent.end()) {
      r->sample = lv.sample;
      r->channel = lv.channel;
      // Back into time order (the moved entry only goes later): a rotation,
      // no allocation.
      std::rotate(r, r + 1, std::upper_bound(r + 1, recent.end(), lv.sample, [](Index s, const Recent& x) { return s < x.sample; }));
    }
    if (ev.unit >= 0)
      for (auto& t : times_of(ev.unit))
        if (t == ev.sample) t = lv.sample;
    ev.sample = lv.sample;
    ev.time_s = lv.time_s;
    ev.channel = lv.channel;
    ev.amplitude_uv = lv.amplitude_uv;
    ev.duration_ms = lv.duration_ms;
    ev.phases = lv.phases;
    ev.turns = lv.turns;
    ev.area_uv_ms = lv.area_uv_ms;
    ev.n_channels = std::max(ev.n_channels, lv.n_channels);
    ev.confidence = std::max(ev.confidence, lv.confidence);
    it->peak_uv = late.peak_uv;
    it->span_uv = late.span_uv;
    std::rotate(it, it + 1,
                std::upper_bound(it + 1, assigned.end(), lv.sample, [](Index s, const Candidate& x) { return s < x.event.sample; }));
  }

  // event_channel's rule on a unit's template, where averaging has taken
  // the noise out of the sizes: of the usable electrodes within
  // kSameSizeShare of the largest (peak to peak within +-kSizeHalfMs of each
  // one's largest deflection), on a grid the one that peaks first. A
  // template holds one unit only, so no path between them is needed.
  // Given the noise SDs of the discharge's electrodes (noise_sd) and the
  // noise variance left in the template (v, ~1/count), "as large" also
  // means within kSameSizeNoiseSd of the largest's noise: the share stands
  // for the noise that decides between electrodes, and a template whose
  // electrodes differ by more than that noise says which is largest, as
  // the event time is defined. With the share alone a complex unit's
  // other electrode, 0.8-0.9 of the largest and peaking on an earlier
  // phase, kept timing its discharges there (simulated grids, 18 seeds x
  // 10 conditions: 17 true events more and 17 false events fewer; ECG with
  // complex units on the second sample 0.895 -> 0.913, the large units on
  // the third 0.962 -> 0.972; 2 SDs gained 12, half an SD 14).
  // Returns the electrode and the column of its largest deflection.
  std::pair<Index, Index> template_event_channel(const RowMatrix<float>& w,
                                                 const std::vector<double>* noise_sd = nullptr,
                                                 double v = 1.0) const {
    const Index N = w.cols(), h = samples_of(kSizeHalfMs, fs);
    std::vector<float>& size = tec_size;
    std::vector<Index>& at = tec_at;
    size.assign(static_cast<std::size_t>(C), -1.0f);
    at.assign(static_cast<std::size_t>(C), 0);
    Index best = -1;
    for (Index c = 0; c < C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      if (!usable[cs]) continue;
      Index j = 0;
      if (!(w.row(c).cwiseAbs().maxCoeff(&j) > 0.0f)) continue;
      const Index j0 = std::max<Index>(0, j - h), j1 = std::min(N - 1, j + h);
      const auto seg = w.row(c).segment(j0, j1 - j0 + 1);
      size[cs] = seg.maxCoeff() - seg.minCoeff();
      at[cs] = j;
      if (best < 0 || size[cs] > size[static_cast<std::size_t>(best)]) best = c;
    }
    if (best < 0 || !nb.grid) return {best, best < 0 ? 0 : at[static_cast<std::size_t>(best)]};
    const auto bs = static_cast<std::size_t>(best);
    float level = static_cast<float>(kSameSizeShare) * size[bs];
    if (noise_sd != nullptr && (*noise_sd)[bs] > 0.0) {
      // A template electrode's peak to peak (the difference of two of its
      // samples) carries noise of SD ~sqrt(2 v) sd.
      const double spread = kSameSizeNoiseSd * std::sqrt(2.0 * v) * (*noise_sd)[bs];
      level = std::max(level, size[bs] - static_cast<float>(spread));
    }
    Index first = best;
    for (Index c = 0; c < C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      if (size[cs] >= level && at[cs] < at[static_cast<std::size_t>(first)]) first = c;
    }
    return {first, at[static_cast<std::size_t>(first)]};
  }

  // A complex potential whose phases are of similar size is timed, discharge
  // by discharge, on whichever phase the noise makes largest (and on grids
  // on whichever electrode), while the event time is that of the largest
  // deflection of the potential itself. The unit's template averages the
  // noise out: its event electrode (template_event_channel) and that
  // electrode's largest deflection say where the potential peaks, and the discharge,
  // aligned to the template by the tracker, is re-timed there (to its own
  // largest deflection on that electrode near the predicted sample, so the
  // time stays this discharge's). Causal: the template is the one this
  // discharge was matched against plus itself.
  bool retime_to_template(Candidate& cand, int unit) {
    const cluster::UnitTemplate& t = units.units()[static_cast<std::size_t>(unit)];
    if (t.count < (nb.grid ? kRetimeMinCountGrid : kRetimeMinCount)) return false;
    const auto& w = t.waveform_uv;
    const Index N = w.cols();
    const auto [ch, jt] = template_event_channel(w, &cand.noise_sd, t.noise_variance);
    if (ch < 0 || !(cand.noise_sd[static_cast<std::size_t>(ch)] > 0.0)) return false;  // lost there
    const Index at = jt + units.last_lag();
    if (std::abs(at - snippet_half) <= samples_of(kRetimeTolMs, fs)) return false;
    const Index r = samples_of(kRetimeSearchMs, fs);
    const Index j0 = std::max<Index>(0, at - r), j1 = std::min(N - 1, at + r);
    if (j0 > j1) return false;
    retime_row.resize(static_cast<std::size_t>(N));
    for (Index j = 0; j < N; ++j) retime_row[static_cast<std::size_t>(j)] = cand.snippet(ch, j);
    const Index j = features::largest_deflection(retime_row, j0, j1 + 1);
    Event& ev = cand.event;
    // A snippet that also holds another discharge (the first of a doublet,
    // another unit's) can align the template onto that one instead: never
    // move onto a discharge already reported.
    const Index moved = ev.sample + j - snippet_half;
    if (reported_within(moved, refractory)) return false;
    // Only onto a potential: a lone sample over the noise there (a
    // quantised recording's one-sample spike) measures no span at all.
    const auto feat = features::waveform_features(retime_row, j, cand.noise_sd[static_cast<std::size_t>(ch)], fs);
    const double peak = std::abs(retime_row[static_cast<std::size_t>(j)]);
    if (!(feat.span_uv > 0.0)) return false;
    ev.sample = moved;
    ev.time_s = static_cast<double>(ev.sample) / fs;
    ev.channel = ch;
    set_shape(cand, feat);
    cand.peak_uv = peak;
    return true;
  }

  // Two potentials in one candidate's window (see kPeelMinGain). The
  // candidate's snippet S, whitened by each channel's noise, is fitted by
  // one copy of an established unit's template near the snippet's centre
  // (the candidate's own discharge, the best single fit over units and
  // lags within the tracker's realignment range), then by that copy plus a
  // second one (the same unit at another lag: a doublet; another unit at
  // any lag: a collision) with both scales free. Fitting the two jointly
  // finds a second discharge even 5 ms after the first, where the energy
  // envelope shows no valley between them; and the tracker is then given
  // the first discharge alone (its snippet less the second copy), which it
  // recognises, where the overlapped snippet matched no unit.
  struct Peeled {
    bool found = false;
    int first_unit = -1, second_unit = -1;
    Index first_lag = 0, second_lag = 0;  // template column k sits at snippet column k + lag
    double first_scale = 0.0, second_scale = 0.0, gain = 0.0;
  };

  bool established(const cluster::UnitTemplate& t) const { return t.merged_into < 0 && t.count >= kRetimeMinCount; }
  // A unit the known-unit sweep slides over the signal (kSweepMinCountLead).
  bool swept(const cluster::UnitTemplate& t) const {
    return t.merged_into < 0 && t.count >= (nb.grid ? kRetimeMinCount : kSweepMinCountLead);
  }

  // ---- fibre direction on a grid ----
  // A MUAP travels along the muscle fibres (its peak a few ms later at
  // each electrode that way) and only decays across them. The grid's
  // columns are taken to run along the fibres until the units say
  // otherwise: each unit, once its template averages kFibreVoteCount
  // discharges, votes for the axis along which its potential is delayed
  // more from electrode to electrode (a
  // grid stored column-major, or placed across the muscle, has its fibres
  // along the rows). Causal, so a stream and the offline call agree.
  int fibre_votes_rows = 0, fibre_votes_columns = 0;
  bool fibres_along_rows() const { return fibre_votes_rows > fibre_votes_columns; }
  // The statistic kind (see S) of the line along the fibres as voted so far.
  Index fibre_line_kind() const { return fibres_along_rows() ? 2 : 1; }
  // Per channel, the usable electrodes up to kFibreSteps places along its
  // row ([0]) and its column ([1]), itself first (build_neighbourhoods).
  std::array<std::vector<std::vector<Index>>, 2> vote_lines;

  void vote_fibre_axis(const RowMatrix<float>& w) {
    const Index ch = template_event_channel(w).first;
    if (ch < 0 || !channels[static_cast<std::size_t>(ch)].grid) return;
    const GridPosition g = *channels[static_cast<std::size_t>(ch)].grid;
    const auto p2p = [&](Index c) { return w.row(c).maxCoeff() - w.row(c).minCoeff(); };
    const float seen = static_cast<float>(kFibreSeenShare) * p2p(ch);
    const Index r = samples_of(kFibreMaxDelayMs, fs), N = w.cols();
    // The lag of electrode c's waveform behind the event electrode's.
    auto lag_of = [&](Index c, Index reach) {
      double best = -std::numeric_limits<double>::infinity();
      Index at = 0;
      for (Index lag = -reach; lag <= reach; ++lag) {
        double sum = 0.0;
        for (Index j = std::max<Index>(0, -lag); j < std::min(N, N - lag); ++j)
          sum += static_cast<double>(w(ch, j)) * static_cast<double>(w(c, j + lag));
        if (sum > best) {
          best = sum;
          at = lag;
        }
      }
      return at;
    };
    // The largest delay per step over the seen electrodes of the event
    // electrode's row (along_row) or column.
    auto delay = [&](bool along_row) {
      double most = 0.0;
      const auto& line = vote_lines[along_row ? 0 : 1][static_cast<std::size_t>(ch)];
      for (std::size_t i = 1; i < line.size(); ++i) {
        const Index c = line[i];
        const GridPosition& gc = *channels[static_cast<std::size_t>(c)].grid;
        const int step = along_row ? std::abs(gc.column - g.column) : std::abs(gc.row - g.row);
        if (p2p(c) < seen) continue;
        most = std::max(most, static_cast<double>(std::abs(lag_of(c, r * step))) / step);
      }
      return most;
    };
    const double along_row = delay(true), along_column = delay(false);
    const double margin = kFibreMarginMs * 1e-3 * fs;
    if (along_row > along_column + margin) ++fibre_votes_columns;  // moves along a row: across the columns
    else if (along_column > along_row + margin) ++fibre_votes_rows;
  }

  // Template column k - lag of unit u's waveform at snippet column j (0 off its ends).
  static double copy_at(const RowMatrix<float>& w, Index c, Index j, Index lag) {
    const Index k = j - lag;
    return k >= 0 && k < w.cols() ? static_cast<double>(w(c, k)) : 0.0;
  }

  // Channels on which either template shows its unit (the rest add noise only).
  void peel_channels(const Candidate& cand, const RowMatrix<float>& w1, const RowMatrix<float>* w2) {
    peel_chans.clear();
    auto seen = [&](const RowMatrix<float>& w, Index c) {
      return w.row(c).maxCoeff() - w.row(c).minCoeff() >= kPeelChannelSd * cand.noise_sd[static_cast<std::size_t>(c)];
    };
    for (Index c = 0; c < C; ++c) {
      if (!usable[static_cast<std::size_t>(c)] || !(cand.noise_sd[static_cast<std::size_t>(c)] > 0.0)) continue;
      if (seen(w1, c) || (w2 && seen(*w2, c))) peel_chans.push_back(c);
    }
  }

  Peeled peel_pair(const Candidate& cand) {
    Peeled best;
    const auto& all = units.units();
    const Index N = cand.snippet.cols();
    const Index realign = samples_of(opt.clustering.realign_lag_ms, fs);
    auto w_of = [&](Index c) {
      const double sd = cand.noise_sd[static_cast<std::size_t>(c)];
      return 1.0 / (sd * sd);
    };
    // First copy: the best single fit near the centre of its unit's own
    // size, else of an overlapped size (kPeelFirstMinScale).
    double first_gain = 0.0, overlapped_gain = 0.0;
    int overlapped_unit = -1;
    Index overlapped_lag = 0;
    for (std::size_t u = 0; u < all.size(); ++u) {
      if (!established(all[u])) continue;
      const auto& W = all[u].waveform_uv;
      peel_channels(cand, W, nullptr);
      for (Index lag = -realign; lag <= realign; ++lag) {
        double st = 0.0, tt = 0.0;
        for (Index c : peel_chans) {
          const double wc = w_of(c);
          for (Index j = std::max<Index>(0, lag); j < std::min(N, N + lag); ++j) {
            const double y = W(c, j - lag);
            st += wc * cand.snippet(c, j) * y;
            tt += wc * y * y;
          }
        }
        if (!(tt > 0.0)) continue;
        const double a = st / tt, gain = st * st / tt;
        if (a >= kPeelFirstMinScale && a <= kPeelFirstMaxScale && gain > overlapped_gain) {
          overlapped_gain = gain;
          overlapped_unit = static_cast<int>(u);
          overlapped_lag = lag;
        }
        if (a < kPeelMinScale || a > kPeelMaxScale || gain <= first_gain) continue;
        first_gain = gain;
        best.first_unit = static_cast<int>(u);
        best.first_lag = lag;
      }
    }
    if (best.first_unit < 0) {
      best.first_unit = overlapped_unit;
      best.first_lag = overlapped_lag;
    }
    if (best.first_unit < 0) return best;
    const auto& W1 = all[static_cast<std::size_t>(best.first_unit)].waveform_uv;
    const Index L1 = best.first_lag;
    // What the first copy leaves on its unit's electrodes is noise (whitened:
    // ~1 per sample) unless a second potential is there: the search below
    // (most of this function's cost) is skipped when the excess could not
    // reach kPeelMinGain.
    {
      peel_channels(cand, W1, nullptr);
      double ss = 0.0, st = 0.0, tt = 0.0;
      for (Index c : peel_chans) {
        const double wc = w_of(c);
        for (Index j = 0; j < N; ++j) {
          const double x = cand.snippet(c, j), y = copy_at(W1, c, j, L1);
          ss += wc * x * x;
          st += wc * x * y;
          tt += wc * y * y;
        }
      }
      const double left = ss - st * st / tt;
      const double noise = static_cast<double>(peel_chans.size()) * static_cast<double>(N);
      if (left < noise + kPeelMinGain) return best;
    }
    const Index first_peak = template_event_channel(W1).second + L1;
    const Index edge = samples_of(kRetimeSearchMs, fs) + 1;
    for (std::size_t u = 0; u < all.size(); ++u) {
      if (!established(all[u])) continue;
      const auto& W = all[u].waveform_uv;
      const auto [uch, jt] = template_event_channel(W);
      // A discharge elsewhere makes a cluster (and a candidate) of its own;
      // one hidden in this candidate's window is on the electrodes that
      // made this cluster.
      if (uch < 0 || !cand.channels[static_cast<std::size_t>(uch)]) continue;
      const bool same = static_cast<int>(u) == best.first_unit;
      peel_channels(cand, W1, &W);
      double st1 = 0.0, t1t1 = 0.0;
      for (Index c : peel_chans) {
        const double wc = w_of(c);
        for (Index j = 0; j < N; ++j) {
          const double y = copy_at(W1, c, j, L1);
          st1 += wc * cand.snippet(c, j) * y;
          t1t1 += wc * y * y;
        }
      }
      if (!(t1t1 > 0.0)) continue;
      const double single = st1 * st1 / t1t1;
      for (Index col = edge; col < N - edge; ++col) {
        const Index L = col - jt;
        // One unit cannot discharge twice within the refractory period.
        if (same && std::abs(col - first_peak) < refractory) continue;
        if (std::abs(col - first_peak) > merge) continue;
        double st2 = 0.0, t2t2 = 0.0, t1t2 = 0.0;
        const Index j0 = std::max<Index>(0, L), j1 = std::min(N, N + L);
        for (Index c : peel_chans) {
          const double wc = w_of(c);
          for (Index j = j0; j < j1; ++j) {
            const double y = W(c, j - L);
            st2 += wc * cand.snippet(c, j) * y;
            t2t2 += wc * y * y;
            t1t2 += wc * copy_at(W1, c, j, L1) * y;
          }
        }
        const double det = t1t1 * t2t2 - t1t2 * t1t2;
        // Nearly collinear copies (one potential a sample or two apart)
        // cannot be told apart.
        if (!(t2t2 > 0.0) || det < 0.1 * t1t1 * t2t2) continue;
        const double a = (st1 * t2t2 - st2 * t1t2) / det;
        const double b = (st2 * t1t1 - st1 * t1t2) / det;
        if (a < kPeelMinScale || a > kPeelMaxScale || b < kPeelMinScale || b > kPeelMaxScale) continue;
        const double gain = a * st1 + b * st2 - single;
        if (gain < kPeelMinGain || gain <= best.gain) continue;
        // What the first copy leaves must look like the second.
        double rx = 0.0, rr = 0.0, xx = 0.0;
        for (Index c : peel_chans) {
          const double wc = w_of(c);
          for (Index j = j0; j < j1; ++j) {
            const double y = W(c, j - L);
            if (y == 0.0) continue;
            const double r = cand.snippet(c, j) - a * copy_at(W1, c, j, L1);
            rx += wc * r * y;
            rr += wc * r * r;
            xx += wc * y * y;
          }
        }
        if (!(rr > 0.0) || rx / std::sqrt(rr * xx) < kPeelCorrelation) continue;
        best.found = true;
        best.second_unit = static_cast<int>(u);
        best.second_lag = L;
        best.first_scale = a;
        best.second_scale = b;
        best.gain = gain;
      }
    }
    // The candidate is the discharge at its own (centre) sample; the other
    // copy is the new one, whichever of the two was fitted first.
    if (best.found) {
      const Index p2 = template_event_channel(all[static_cast<std::size_t>(best.second_unit)].waveform_uv).second +
                       best.second_lag;
      if (std::abs(p2 - snippet_half) < std::abs(first_peak - snippet_half)) {
        std::swap(best.first_unit, best.second_unit);
        std::swap(best.first_lag, best.second_lag);
        std::swap(best.first_scale, best.second_scale);
      }
    }
    return best;
  }

  // The peeled second potential as a discharge of its own: timed at its
  // largest deflection on its template's event electrode, measured on what
  // the first potential leaves there. centre: the event sample the snippet
  // is centred on. Empty when that discharge is already reported or waits
  // as a candidate of its own.
  std::optional<Candidate> make_peeled(const Candidate& cand, Index centre, const Peeled& p, std::size_t next) {
    const auto& all = units.units();
    const auto& W1 = all[static_cast<std::size_t>(p.first_unit)].waveform_uv;
    const auto [ch, jt] = template_event_channel(all[static_cast<std::size_t>(p.second_unit)].waveform_uv);
    if (ch < 0 || !(cand.noise_sd[static_cast<std::size_t>(ch)] > 0.0)) return std::nullopt;
    const Index N = cand.snippet.cols();
    retime_row.resize(static_cast<std::size_t>(N));
    for (Index j = 0; j < N; ++j)
      retime_row[static_cast<std::size_t>(j)] = cand.snippet(ch, j) - p.first_scale * copy_at(W1, ch, j, p.first_lag);
    const Index col = jt + p.second_lag, r = samples_of(kRetimeSearchMs, fs);
    const Index j = features::largest_deflection(retime_row, std::max<Index>(0, col - r), std::min(N, col + r + 1));
    const Index sample = centre + j - snippet_half;
    // Like any candidate, it must stand out on its own electrode.
    const double sd = cand.noise_sd[static_cast<std::size_t>(ch)];
    if (std::abs(retime_row[static_cast<std::size_t>(j)]) < kRescuePeakSd * sd) return std::nullopt;
    if (std::abs(sample - centre) < refractory / 2 || std::abs(sample - cand.event.sample) < refractory / 2 ||
        reported_within(sample, refractory) || pending_near(next, sample) ||
        masked_by(sample, {MaskReason::startup, MaskReason::bad_signal, MaskReason::artefact}))
      return std::nullopt;
    const auto feat = features::waveform_features(retime_row, j, sd, fs);
    if (!(feat.span_uv > 0.0)) return std::nullopt;  // no span: a lone sample, not a potential
    Candidate second;
    Event& ev = second.event;
    ev = cand.event;
    ev.sample = sample;
    ev.time_s = static_cast<double>(sample) / fs;
    ev.channel = ch;
    set_shape(second, feat);
    // Confidence from the fit's gain (a chi-square with one degree of
    // freedom): 0.5 at kPeelMinGain, towards 1 well above it.
    const double margin = std::sqrt(p.gain) - std::sqrt(kPeelMinGain);
    ev.confidence = std::min(cand.event.confidence, 1.0 - 0.5 * std::exp(-margin / 2.0));
    second.peak_uv = std::abs(retime_row[static_cast<std::size_t>(j)]);
    return second;
  }

  // The candidate's snippet less the second copy: the first discharge alone.
  void remove_second(Candidate& cand, const Peeled& p) const {
    const auto& W = units.units()[static_cast<std::size_t>(p.second_unit)].waveform_uv;
    for (Index c = 0; c < C; ++c)
      for (Index j = 0; j < cand.snippet.cols(); ++j)
        cand.snippet(c, j) -= static_cast<float>(p.second_scale * copy_at(W, c, j, p.second_lag));
  }

  // Whether a candidate's row (its channel's snippet, noise SD sd) still
  // peaks at the candidate's own time (+-kRetimeSearchMs) by kRescuePeakSd.
  bool own_peak_left(const std::vector<double>& row, double sd) const {
    const Index r = samples_of(kRetimeSearchMs, fs);
    const Index j = features::largest_deflection(row, snippet_half - r, snippet_half + r + 1);
    return std::abs(row[static_cast<std::size_t>(j)]) >= kRescuePeakSd * sd;
  }

  // A discharge already reported less than `distance` samples from sample.
  bool reported_within(Index sample, Index distance) const {
    return std::any_of(recent.begin(), recent.end(), [&](const Recent& x) { return std::abs(x.sample - sample) < distance; });
  }

  bool pending_near(std::size_t from, Index sample) const {
    for (std::size_t k = from; k < candidates.size() && candidates[k].event.sample < sample + refractory; ++k)
      if (std::abs(candidates[k].event.sample - sample) < refractory) return true;
    return false;
  }

  // A unit's recent discharge times, including those recorded under the
  // ids of units since merged into it (a unit split early by noise fires
  // one run, which is judged whole).
  std::vector<Index>& times_of(int unit) {
    const int live = units.canonical(unit);
    const auto need = static_cast<std::size_t>(std::max(unit, live)) + 1;
    if (unit_times.size() < need) unit_times.resize(need);
    auto& times = unit_times[static_cast<std::size_t>(live)];
    for (std::size_t v = 0; v < unit_times.size(); ++v) {
      if (static_cast<int>(v) == live || unit_times[v].empty() || units.canonical(static_cast<int>(v)) != live) continue;
      const auto mid = times.insert(times.end(), unit_times[v].begin(), unit_times[v].end());
      std::inplace_merge(times.begin(), mid, times.end());
      unit_times[v].clear();
    }
    return times;
  }

  // An assigned discharge joins its unit's recent times (tonic firing is
  // judged on them) and waits for finalisation.
  void record_assigned(Candidate&& cand) {
    const int unit = cand.event.unit;
    auto& times = times_of(unit);
    // A peeled discharge can precede the one it was found beside.
    if (times.empty() || cand.event.sample >= times.back()) times.push_back(cand.event.sample);
    else times.insert(std::upper_bound(times.begin(), times.end(), cand.event.sample), cand.event.sample);
    recent.insert(std::upper_bound(recent.begin(), recent.end(), cand.event.sample,
                                   [](Index x, const Recent& r) { return x < r.sample; }),
                  {cand.event.sample, unit, cand.event.channel});
    // Tonic firing: tonic_min_discharges in a row at ISIs <= tonic_isi_ms
    // is continual (voluntary or tonic) firing, not fasciculation. A pair
    // closer than kDoubletFusedMs is a doublet, which keeps the chain going
    // but counts as one discharge of it.
    const Index isi = samples_of(opt.tonic_isi_ms, fs);
    const Index fused = samples_of(kDoubletFusedMs, fs);
    const std::size_t n_times = times.size();
    std::size_t run = 1, chain = 1;  // discharges counted, and in the chain
    for (; chain < n_times; ++chain) {
      const Index d = times[n_times - chain] - times[n_times - chain - 1];
      if (d > isi) break;
      if (d >= fused) ++run;
    }
    // Derecruitment: a unit active during a contraction slows down before
    // it stops, so its next discharge within 2 x tonic_isi_ms of one inside
    // a voluntary or tonic mask is still voluntary firing.
    if (times.size() >= 2) {
      const Index prev = times[times.size() - 2];
      if (cand.event.sample - prev <= 2 * isi && masked_by(prev, {MaskReason::voluntary, MaskReason::tonic})) {
        detection::add_mask(mask_list, {prev, cand.event.sample + pad + 1, MaskReason::tonic});
      }
    }
    if (static_cast<int>(run) >= opt.tonic_min_discharges) {
      detection::add_mask(mask_list, {std::max<Index>(0, times[n_times - chain] - pad), cand.event.sample + pad + 1,
                                   MaskReason::tonic});
    }
    // Enough to count tonic_min_discharges even if every other one is a
    // doublet's second, and the one before the run for derecruitment.
    const std::size_t keep = 2 * static_cast<std::size_t>(opt.tonic_min_discharges) + 1;
    if (times.size() > keep) times.erase(times.begin(), times.end() - static_cast<std::ptrdiff_t>(keep));
    assigned.insert(std::upper_bound(assigned.begin(), assigned.end(), cand.event.sample,
                                     [](Index x, const Candidate& c) { return x < c.event.sample; }),
                    std::move(cand));
  }

  void assign_ready(Index hz) {
    std::size_t i = 0;
    for (; i < candidates.size() && candidates[i].event.sample < hz; ++i) {
      Candidate& cand = candidates[i];
      // Discharges during contractions are labelled too (and dropped at
      // finalisation): tonic runs then continue across the mask edges.
      if (masked_by(cand.event.sample, {MaskReason::startup, MaskReason::bad_signal, MaskReason::artefact})) continue;
      if (cand.coherent_only && reported_within(cand.event.sample, isolated + 1)) continue;
      if (const Index first = time_locked(cand.event); first >= 0) {
        move_to_larger_component(first, cand);
        continue;
      }
      if (late_component(cand)) continue;
      const Index centre = cand.event.sample;
      std::optional<Candidate> second;
      Peeled peeled;
      if (!cand.tentative) peeled = peel_pair(cand);
      if (peeled.found) {
        second = make_peeled(cand, centre, peeled, i + 1);
        remove_second(cand, peeled);
        // Measured again without the second potential riding on it.
        const Index ch = cand.event.channel;
        const double sd = cand.noise_sd[static_cast<std::size_t>(ch)];
        retime_row.resize(static_cast<std::size_t>(cand.snippet.cols()));
        for (Index j = 0; j < cand.snippet.cols(); ++j) retime_row[static_cast<std::size_t>(j)] = cand.snippet(ch, j);
        set_shape(cand, features::waveform_features(retime_row, snippet_half, sd, fs));
        // Another unit's copy that leaves nothing of this candidate's own
        // peak (under kRescuePeakSd) explained all of it: the candidate was
        // that discharge's potential, seen through a template timed on
        // another of its phases (a complex unit's late phase that founded a
        // unit of its own). Only the second is a discharge.
        if (second && peeled.second_unit != peeled.first_unit && !own_peak_left(retime_row, sd)) {
          second->event.unit = units.canonical(peeled.second_unit);
          record_assigned(*std::move(second));
          continue;
        }
      }
      const int unit = units.assign(cand.snippet, cand.noise_sd, !cand.tentative);
      if (unit < 0) continue;  // tentative, and no known unit's waveform
      if (nb.grid && units.units()[static_cast<std::size_t>(unit)].count == kFibreVoteCount)
        vote_fibre_axis(units.units()[static_cast<std::size_t>(unit)].waveform_uv);
      cand.event.unit = unit;
      if (second) {
        second->event.unit = peeled.second_unit == peeled.first_unit ? unit : units.canonical(peeled.second_unit);
      }
      // Re-timed onto a candidate still waiting: that candidate is this
      // discharge, detected on the phase the template says is its largest.
      if (retime_to_template(cand, unit) && pending_near(i + 1, cand.event.sample)) continue;
      if (second && second->event.sample < cand.event.sample) {
        record_assigned(*std::move(second));
        second.reset();
      }
      record_assigned(std::move(cand));
      // A second copy at the same lag discharge after discharge is the
      // unit's own late component (see time_locked), not a doublet.
      if (second && time_locked(second->event) < 0) record_assigned(*std::move(second));
    }
    candidates.erase(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(i));
  }

  void finalise_ready(Index hz, std::vector<Event>& out) {
    const Index isi = samples_of(opt.tonic_isi_ms, fs);
    const double dmin = opt.doublet_min_ms * 1e-3 * fs, dmax = opt.doublet_max_ms * 1e-3 * fs;
    std::size_t i = 0;
    for (; i < assigned.size() && (flushing || assigned[i].event.sample + final_delay < hz); ++i) {
      Event ev = assigned[i].event;
      if (detection::masked(mask_list, ev.sample)) continue;
      // The tracker may have merged this discharge's unit into an older one
      // since it was assigned; doublets and isolation are judged per real unit.
      ev.unit = ev.unit >= 0 ? units.canonical(ev.unit) : ev.unit;
      for (const auto& r : recent) {
        if (r.unit < 0 || units.canonical(r.unit) != ev.unit || r.sample == ev.sample) continue;
        const double d = std::abs(static_cast<double>(r.sample - ev.sample));
        if (d >= dmin && d <= dmax) ev.doublet = true;
        if (d <= static_cast<double>(isi)) ev.isolated = false;
      }
      out.push_back(ev);
      emitted.push_back(ev);
    }
    assigned.erase(assigned.begin(), assigned.begin() + static_cast<std::ptrdiff_t>(i));
    // Discharges older than any pending event's look-back are no longer needed.
    const Index keep_from = (assigned.empty() ? hz - final_delay : assigned.front().event.sample) -
                            std::max<Index>(isi, samples_of(opt.doublet_max_ms, fs)) - 1;
    std::size_t drop = 0;
    while (drop < recent.size() && recent[drop].sample < keep_from) ++drop;
    recent.erase(recent.begin(), recent.begin() + static_cast<std::ptrdiff_t>(drop));
  }

  // ---- known-unit sweep ----
  // Sweeps fixed B-sample stretches from the stream start, each once every
  // candidate before its end has been refined (hz) and the zero-phase
  // window after it has arrived; returns how far assignment may go (a hit
  // must be a candidate before assignment passes its sample).
  Index sweep_ready(Index hz) {
    if (!opt.known_unit_sweep) return hz;
    const Index tail = snippet_half + refractory + sweep_settle;
    while (sweep_end < a_end) {
      const Index s1 = std::min(sweep_end + B, a_end);
      if (!flushing && (s1 < sweep_end + B || s1 > hz || s1 + tail > a_end)) break;
      sweep_block(sweep_end, s1);
      sweep_end = s1;
    }
    return sweep_end;
  }

  // Every established unit's template slid over [s0, s1) of the zero-phase
  // signal (each channel whitened by its noise SD): where its matched
  // filter peaks kSweepZ robust SDs over its noise at the unit's own size,
  // and no candidate is within merge_ms, the sample is refined as a
  // cluster of the unit's electrodes and judged as a rescued candidate
  // (tentative: it must repeat an established waveform).
  void sweep_block(Index s0, Index s1) {
    if (!sweep_channels()) return;
    const Index half = snippet_half, pad = refractory;
    const Index lo = s0 - half - pad, hi = std::min(a_end, s1 + half + pad + sweep_settle);
    if (a_end - R > std::max<Index>(0, lo)) return;  // cannot happen: the ring holds the refinement windows
    // The outputs read up to sample s1 + pad + half - 1; at the end of the
    // stream those past its last sample are zeros.
    sweep_zero_phase(lo, hi, std::max(hi, s1 + pad + half));
    // The matched filters' outputs: st(u)[i] at sample s0 - pad + i.
    const Index m = s1 - s0 + 2 * pad;
    const auto& all = units.units();
    sweep_units.clear();
    sweep_tt.clear();
    sweep_segments.clear();
    sweep_coef.clear();
    sweep_offset.clear();
    sweep_unit_segments.assign(1, 0);
    for (std::size_t u = 0; u < all.size(); ++u) {
      if (!swept(all[u])) continue;
      sweep_units.push_back(u);
      sweep_tt.push_back(sweep_template_terms(all[u].waveform_uv, s0 - pad - half - lo));
      sweep_unit_segments.push_back(sweep_segments.size());
    }
    sweep_st.assign(sweep_units.size() * static_cast<std::size_t>(m), 0.0);
    // Split by time, so that each output adds its terms in the same order
    // on any number of threads.
    const auto n_parts = static_cast<Index>(parts.size());
    for_parts([&](Part& part) {
      const Index p = &part - parts.data();
      const Index i0 = p * m / n_parts, i1 = (p + 1) * m / n_parts;
      if (i0 == i1) return;
      for (std::size_t k = 0; k < sweep_units.size(); ++k) {
        double* st = sweep_st.data() + k * static_cast<std::size_t>(m) + i0;
        for (std::size_t g = sweep_unit_segments[k]; g < sweep_unit_segments[k + 1]; ++g) {
          const auto& seg = sweep_segments[g];
          detail::correlate_add(&sweep_zp(seg.row, i0), sweep_coef.data() + seg.begin, sweep_offset.data() + seg.begin,
                                seg.end - seg.begin, static_cast<std::size_t>(i1 - i0), st);
        }
      }
    });
    auto& hits = sweep_hits;
    hits.clear();
    for (std::size_t k = 0; k < sweep_units.size(); ++k) {
      const double tt = sweep_tt[k];
      const double* st = sweep_st.data() + k * static_cast<std::size_t>(m);
      if (!(tt > 0.0)) continue;
      const double noise = features::robust_sd(std::span<const double>(st + pad, static_cast<std::size_t>(s1 - s0)), scratch);
      if (!(noise > 0.0)) continue;
      for (Index i = pad; i < pad + (s1 - s0); ++i) {
        const double v = st[i];
        if (v < kSweepZ * noise) continue;
        const double a = v / tt;
        if (a < kPeelMinScale || a > kPeelMaxScale) continue;
        bool peak = true;
        for (Index d = 1; d <= pad && peak; ++d) peak = v > st[i - d] && v >= st[i + d];
        if (peak) hits.push_back({s0 - pad + i, sweep_units[k]});
      }
    }
    std::sort(hits.begin(), hits.end(), [](const SweepHit& x, const SweepHit& y) {
      return x.sample != y.sample ? x.sample < y.sample : x.unit < y.unit;
    });
    // Nothing is reported inside a mask (a contraction's interference
    // pattern would only cost refinements).
    for (const auto& h : hits)
      if (!near_candidate(h.sample) && !detection::masked(mask_list, h.sample)) refine_sweep_hit(h.sample, h.unit);
  }

  // The electrodes each established unit is seen on (peak to peak over
  // kPeelChannelSd of the channel's noise floor): only they are filtered
  // and correlated. False when there is none.
  bool sweep_seen(const RowMatrix<float>& w, Index c) const {
    return w.row(c).maxCoeff() - w.row(c).minCoeff() >= kPeelChannelSd * sigma[static_cast<std::size_t>(c)];
  }

  bool sweep_channels() {
    const auto& all = units.units();
    sweep_rows.assign(static_cast<std::size_t>(C), -1);
    sweep_chans.clear();
    for (Index c = 0; c < C; ++c) {
      const double sd = sigma[static_cast<std::size_t>(c)];
      if (!usable[static_cast<std::size_t>(c)] || !std::isfinite(sd) || !(sd > 1e-9)) continue;
      for (const auto& u : all) {
        if (!swept(u) || !sweep_seen(u.waveform_uv, c)) continue;
        sweep_rows[static_cast<std::size_t>(c)] = static_cast<Index>(sweep_chans.size());
        sweep_chans.push_back(c);
        break;
      }
    }
    return !sweep_chans.empty();
  }

  // Samples [lo, end) of the swept channels in zero-phase terms, as in
  // refine(): the stream's causal output filtered backwards, from what the
  // stream holds ([0, hi)); zeros outside it. Each thread filters its own rows.
  void sweep_zero_phase(Index lo, Index hi, Index end) {
    const Index n = hi - lo, first = std::max<Index>(0, lo);
    const auto K = static_cast<Index>(sweep_chans.size());
    sweep_zp.setZero(K, end - lo);
    const auto n_parts = static_cast<Index>(parts.size());
    for_parts([&](Part& part) {
      const Index p = &part - parts.data();
      const Index k0 = p * K / n_parts, k1 = (p + 1) * K / n_parts;
      if (k0 == k1) return;
      for (Index k = k0; k < k1; ++k) {
        const double* yr = &y_ring(sweep_chans[static_cast<std::size_t>(k)], 0);
        double* z = &sweep_zp(k, 0);
        for (Index t = first; t < hi; ++t) z[hi - 1 - t] = yr[slot(t)];
      }
      backward_pass(sweep_zp.block(k0, 0, k1 - k0, n), part.back);
      for (Index k = k0; k < k1; ++k)
        for (Index t = lo; t < first; ++t) sweep_zp(k, t - lo) = 0.0;
    });
  }

  // A template's matched-filter terms, channel by channel (each whitened by
  // its noise floor), over the samples where it stands 2 noise SDs off zero
  // (its flat ends and its own residual noise add nothing but noise), every
  // sd_stride_a-th from its centre: band-passed noise decorrelates at that
  // lag, so the skipped samples would add little but time;
  // base: the window column that template column 0 reads at output 0.
  // Returns the template's energy in the same terms.
  double sweep_template_terms(const RowMatrix<float>& W, Index base) {
    const auto stride = static_cast<Index>(sd_stride_a);
    double tt = 0.0;
    for (Index c : sweep_chans) {
      if (!sweep_seen(W, c)) continue;
      const double sd = sigma[static_cast<std::size_t>(c)];
      const double wc = 1.0 / (sd * sd);
      SweepSegment seg{sweep_rows[static_cast<std::size_t>(c)], sweep_coef.size(), 0};
      for (Index j = (snippet_half % stride); j < W.cols(); j += stride) {
        const double y = W(c, j);
        if (std::abs(y) < 2.0 * sd) continue;
        tt += wc * y * y;
        sweep_coef.push_back(wc * y);
        sweep_offset.push_back(base + j);
      }
      seg.end = sweep_coef.size();
      if (seg.end > seg.begin) sweep_segments.push_back(seg);
    }
    return tt;
  }

  // A sweep hit judged as a cluster of the unit's electrodes at that sample.
  void refine_sweep_hit(Index sample, std::size_t u) {
    const auto& W = units.units()[u].waveform_uv;
    const Index ch = template_event_channel(W).first;
    if (ch < 0) return;
    detection::Cluster cl;
    cl.first = cl.last = cl.peak_sample = sample;
    cl.peak_score = opt.threshold_sd;
    cl.peak_channel = ch;
    cl.channels.assign(static_cast<std::size_t>(C), 0);
    for (Index c : sweep_chans)
      if (sweep_seen(W, c)) cl.channels[static_cast<std::size_t>(c)] = 1;
    cl.channels[static_cast<std::size_t>(ch)] = 1;
    refine(cl, true);
  }

  // A candidate or a discharge (assigned ones are all in recent) within
  // merge_ms: the sweep found one the detector already has, or its neighbour.
  bool near_candidate(Index t) const {
    return reported_within(t, merge + 1) || std::any_of(candidates.begin(), candidates.end(), [&](const Candidate& c) {
             return std::abs(c.event.sample - t) <= merge;
           });
  }

  std::vector<Event> out_buffer;
  void after_scoring() {
    refine_ready();
    const Index h = horizon();
    const Index hz = std::min(h, sweep_ready(h));
    assign_ready(hz);
    finalise_ready(hz, out_buffer);
  }

  void pump() {
    while (b_blocks < a_blocks && (a_blocks >= Pb || draining)) run_block_b(b_blocks);
    while (c_blocks < b_blocks && (b_blocks >= Pb || draining)) run_block_c(c_blocks);
  }

  std::vector<Event> process(SignalView<T> x) {
    if (x.rows() != C) {
      throw std::invalid_argument("process: chunk has " + std::to_string(x.rows()) + " channels, detector has " +
                                  std::to_string(C));
    }
    out_buffer.clear();
    const Index n = x.cols();
    Index i = 0;
    while (i < n) {
      if (!started) {
        // The probe is decided at every multiple of P samples.
        const Index next = P > 0 ? (probe_n / P + 1) * P : 0;
        const Index take = std::min(n - i, next - probe_n);
        for (Index c = 0; c < C; ++c)
          for (Index j = 0; j < take; ++j) probe(c, probe_n + j) = static_cast<double>(x(c, i + j));
        probe_n += take;
        i += take;
        seen += take;
        if (probe_n == next && decide_mains()) {
          start();
          pump();
        }
        continue;
      }
      const Index take = std::min(n - i, B - pending_n);
      for (Index c = 0; c < C; ++c)
        for (Index j = 0; j < take; ++j) pending(c, pending_n + j) = static_cast<double>(x(c, i + j));
      pending_n += take;
      i += take;
      seen += take;
      if (pending_n == B) {
        run_block_a();
        pump();
      }
    }
    return std::move(out_buffer);
  }

  std::vector<Event> flush() {
    out_buffer.clear();
    if (!started) {
      // A stream shorter than the probe: decide on what there is.
      if (probe_n > 0 && probe_n % std::max<Index>(P, 1) != 0) decide_mains();
      start();
    }
    if (pending_n > 0) run_block_a();
    draining = true;
    pump();
    flushing = true;
    if (sub_n > 0) {
      end_sub_block(c_end, std::max<Index>(1, samples_of(opt.voluntary_min_s * 1e3, fs)),
                    std::max<Index>(1, static_cast<Index>(std::ceil(kVoluntaryChannelFraction *
                                                                    static_cast<double>(n_usable)))));
    }
    if (tracker) tracker->close_all(closed);
    after_scoring();
    return std::move(out_buffer);
  }

  // The start-up screening's flags and measures, with the non-finite
  // samples, stuck runs and clipping of the whole stream (which includes
  // the probe).
  std::vector<filter::ChannelQuality> whole_stream_quality() const {
    std::vector<filter::ChannelQuality> q = quality;
    if (q.size() != static_cast<std::size_t>(C)) return q;  // nothing screened yet
    const std::vector<SampleRange> gap_runs = runs_of(gaps);
    for (std::size_t c = 0; c < q.size(); ++c) {
      const ChannelHealth& hl = health[c];
      // The channel's own losses: its runs outside the recording's gaps.
      Index in_gaps = 0;
      q[c].non_finite_runs = subtract_runs(runs_of(hl), gap_runs, in_gaps);
      q[c].n_non_finite = hl.non_finite - in_gaps;
      if (q[c].n_non_finite > 0) q[c].flags |= filter::quality_non_finite;
      q[c].longest_flat_run = std::max(q[c].longest_flat_run, hl.longest_stuck);
      if (hl.longest_stuck >= flat_run) q[c].flags |= filter::quality_flat;
      const double clipped = a_end > 0 ? static_cast<double>(hl.clipped) / static_cast<double>(a_end) : 0.0;
      q[c].clipped_fraction = std::max(q[c].clipped_fraction, clipped);
      if (clipped >= filter::QualityOptions{}.saturation_fraction) q[c].flags |= filter::quality_saturated;
    }
    return q;
  }

  std::vector<SampleRange> runs_of(const ChannelHealth& hl) const {
    std::vector<SampleRange> r = hl.runs;
    if (hl.open_run >= 0 && r.size() < kMaxReportedRuns) r.push_back({hl.open_run, a_end});
    return r;
  }

  // The parts of runs a outside runs b (both sorted, disjoint); `removed`
  // counts the samples taken out.
  static std::vector<SampleRange> subtract_runs(const std::vector<SampleRange>& a, const std::vector<SampleRange>& b,
                                                Index& removed) {
    std::vector<SampleRange> out;
    removed = 0;
    std::size_t j = 0;
    for (SampleRange r : a) {
      while (j < b.size() && b[j].stop <= r.start) ++j;
      for (std::size_t k = j; k < b.size() && b[k].start < r.stop; ++k) {
        const Index lo = std::max(r.start, b[k].start), hi = std::min(r.stop, b[k].stop);
        if (lo > r.start) out.push_back({r.start, lo});
        removed += hi - lo;
        r.start = hi;
      }
      if (r.start < r.stop) out.push_back(r);
    }
    return out;
  }

  // EMG channels the data made unusable: not analysed from the start (flat
  // or disconnected in the probe), or left out for at least flat_run_s of the
  // recording (non-finite or stuck), beside those the metadata marked bad.
  // (A flat trigger or a stimulus channel is not a bad EMG channel.)
  void add_bad_channels(const std::vector<filter::ChannelQuality>& q, std::vector<std::string>& bad) const {
    if (q.size() != static_cast<std::size_t>(C)) return;
    for (Index c = 0; c < C; ++c) {
      const auto cs = static_cast<std::size_t>(c);
      if (!channels[cs].type.empty() && channels[cs].type != "EMG") continue;
      const bool unused = (q[cs].flags & (filter::quality_flat | filter::quality_disconnected)) != 0;
      // A usable electrode is non-finite at every gap sample: not its fault.
      const Index own = health[cs].unusable - (usable[cs] ? gaps.non_finite : 0);
      if (!unused && own < flat_run) continue;
      const std::string& name = channels[cs].name;
      if (std::find(bad.begin(), bad.end(), name) == bad.end()) bad.push_back(name);
    }
  }

  DetectionResult result() const {
    DetectionResult r;
    // Events keep the labels they were emitted with (the stream contract:
    // offline returns exactly what a stream emitted). If the tracker later
    // merged a unit into an older one, units and summary count it once.
    r.events = emitted;
    std::vector<Event> canonical = emitted;
    for (auto& e : canonical)
      if (e.unit >= 0) e.unit = units.canonical(e.unit);
    // Padding reaches past the last sample; a mask reports data only.
    for (const Mask& m : mask_list)
      if (m.start < seen) r.masks.push_back({m.start, std::min(m.stop, seen), m.reason});
    r.latency_samples = latency;
    r.quality = whole_stream_quality();
    const Index n = seen;
    const double clean_s = static_cast<double>(n - detection::masked_samples(mask_list, n)) / fs;
    r.units = cluster::summarize_units(canonical, units, clean_s, fs);
    r.summary = cluster::summarize_recording(canonical, mask_list, r.units, channels, n, fs, opt.min_clean_rest_s);
    r.summary.noise_floor_uv.assign(static_cast<std::size_t>(C), 0.0);
    for (Index c = 0; c < C; ++c) {
      auto h = sd_history[static_cast<std::size_t>(c)].values();
      if (!h.empty()) r.summary.noise_floor_uv[static_cast<std::size_t>(c)] = upper_median(h);
    }
    add_bad_channels(r.quality, r.summary.bad_channels);
    r.summary.mains = mains;
    r.summary.mains_hz = mains_hz;
    r.summary.assumed_grid_side = grid_side;
    r.summary.layout = grid_side > 0 ? "assumed_grid" : nb.grid ? "grid" : "independent";
    if (nb.grid) {
      r.summary.fibre_axis = fibre_votes_rows + fibre_votes_columns == 0 ? "unknown"
                             : fibres_along_rows()                         ? "rows"
                                                                           : "columns";
    }
    return r;
  }
};

int assumed_grid_side(const std::vector<ChannelInfo>& channels) {
  constexpr int kMinSide = 4;
  std::size_t emg = 0;
  for (const auto& c : channels) {
    if (c.type != "EMG" && !c.type.empty()) continue;
    if (c.grid) return 0;
    ++emg;
  }
  const auto k = static_cast<int>(std::lround(std::sqrt(static_cast<double>(emg))));
  return k >= kMinSide && static_cast<std::size_t>(k) * static_cast<std::size_t>(k) == emg ? k : 0;
}

template <class T>
StreamingDetector<T>::StreamingDetector(double fs, std::vector<ChannelInfo> channels, DetectOptions options)
    : impl_(std::make_unique<Impl>(fs, std::move(channels), std::move(options))) {}
template <class T>
StreamingDetector<T>::~StreamingDetector() = default;
template <class T>
StreamingDetector<T>::StreamingDetector(StreamingDetector&&) noexcept = default;
template <class T>
StreamingDetector<T>& StreamingDetector<T>::operator=(StreamingDetector&&) noexcept = default;

template <class T>
std::vector<Event> StreamingDetector<T>::process(SignalView<T> chunk) {
  return impl_->process(chunk);
}
template <class T>
std::vector<Event> StreamingDetector<T>::flush() {
  return impl_->flush();
}
template <class T>
void StreamingDetector<T>::reset() {
  impl_->usable.assign(static_cast<std::size_t>(impl_->C), true);
  for (Index c = 0; c < impl_->C; ++c) {
    const auto& info = impl_->channels[static_cast<std::size_t>(c)];
    if (info.marked_bad || (info.type != "EMG" && !info.type.empty())) impl_->usable[static_cast<std::size_t>(c)] = false;
  }
  impl_->init_state();
}
template <class T>
Index StreamingDetector<T>::latency_samples() const {
  return impl_->latency;
}
template <class T>
Index StreamingDetector<T>::samples_seen() const {
  return impl_->seen;
}
template <class T>
std::vector<Mask> StreamingDetector<T>::masks() const {
  return impl_->mask_list;
}
template <class T>
DetectionResult StreamingDetector<T>::result() const {
  return impl_->result();
}

template class StreamingDetector<float>;
template class StreamingDetector<double>;

template <class T>
DetectionResult detect(SignalView<T> x, double fs, const std::vector<ChannelInfo>& channels,
                       const DetectOptions& options, const ProgressCallback& progress) {
  if (static_cast<Index>(channels.size()) != x.rows()) {
    throw std::invalid_argument("channels: " + std::to_string(channels.size()) + " entries for " +
                                std::to_string(x.rows()) + " rows");
  }
  DetectOptions resolved = options;
  resolved.n_threads = detail::resolve_threads(options.n_threads);
  StreamingDetector<T> detector(fs, channels, resolved);
  const Index n = x.cols();
  const Index step = std::max<Index>(1, static_cast<Index>(std::lround(0.5 * fs)));
  for (Index i = 0; i < n; i += step) {
    const Index m = std::min(step, n - i);
    detector.process(x.middleCols(i, m));
    if (progress && !progress(static_cast<double>(i + m) / static_cast<double>(n))) throw Cancelled();
  }
  detector.flush();
  return detector.result();
}

template DetectionResult detect<float>(SignalView<float>, double, const std::vector<ChannelInfo>&,
                                       const DetectOptions&, const ProgressCallback&);
template DetectionResult detect<double>(SignalView<double>, double, const std::vector<ChannelInfo>&,
                                        const DetectOptions&, const ProgressCallback&);

DetectionResult detect(const Recording& recording, const DetectOptions& options, const ProgressCallback& progress) {
  recording.validate();
  const auto spans = options.reject_by_annotation
                         ? bad_annotation_spans(recording.annotations, recording.fs, recording.n_samples())
                         : std::vector<std::pair<Index, Index>>{};
  return std::visit(
      [&](const auto& m) {
        using M = std::decay_t<decltype(m)>;
        using S = typename M::Scalar;
        if (spans.empty()) return detect<S>(SignalView<S>(m), recording.fs, recording.channels, options, progress);
        // Non-finite samples are masked by the engine (bad_signal), so a
        // blanked copy is how annotated spans reach it.
        M blanked = m;
        for (const auto& [start, stop] : spans) {
          blanked.middleCols(start, stop - start).setConstant(std::numeric_limits<S>::quiet_NaN());
        }
        return detect<S>(SignalView<S>(blanked), recording.fs, recording.channels, options, progress);
      },
      recording.samples);
}

}  // namespace fasctrack
