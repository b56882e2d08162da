#pragma once
// The fasciculation detector: one engine, used offline and in a stream.
//
// detect() on a whole recording is the StreamingDetector fed the recording in
// one chunk and flushed, and the engine's output does not depend on how the
// input is chunked, so offline and streaming results are identical by
// construction (tests check it over random chunkings).

#include <fasctrack/cluster/summary.hpp>
#include <fasctrack/core/error.hpp>
#include <fasctrack/cluster/units.hpp>
#include <fasctrack/core/recording.hpp>
#include <fasctrack/detect/events.hpp>
#include <fasctrack/filter/condition.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace fasctrack {

/// Every option has a documented default chosen from surface-EMG physiology.
struct DetectOptions {
  // --- conditioning (causal, so a stream can run it) ---
  double highpass_hz = 20.0;          ///< removes movement/wander; surface MUAP energy is above ~20 Hz
  double lowpass_hz = 500.0;          ///< clamped to 0.45 fs
  int filter_order = 4;
  filter::MainsMode mains = filter::MainsMode::automatic;
  /// Automatic mains: decided from the first mains_probe_s of the stream
  /// (offline uses the same first seconds, so both agree).
  double mains_probe_s = 2.0;
  /// When no line is found, the next mains_probe_s is tried, up to this
  /// much of the stream (a contraction at the start hides the line); events
  /// wait at most this long for the decision (see latency_samples()).
  double mains_probe_max_s = 8.0;
  double notch_bandwidth_hz = 2.0;

  // --- detection ---
  double threshold_sd = 5.0;          ///< candidate threshold in robust noise SDs
  double noise_block_s = 0.25;        ///< noise SD measured per block of this length...
  double noise_window_s = 10.0;       ///< ...and the floor is a low quantile of the blocks in this window
  double merge_ms = 25.0;             ///< peaks of one discharge propagate up to this far apart across a grid
  double refractory_ms = 5.0;         ///< a unit cannot discharge twice within this
  double snippet_ms = 20.0;           ///< half-width of the waveform window kept per event (features, clustering)
  double max_duration_ms = 40.0;      ///< longer waveforms are not surface MUAPs (complex fasciculation potentials reach ~35 ms)
  /// Once a unit's template averages 4 discharges (2 on single leads), slide it over
  /// the signal and take discharges that repeat it at its own size but were
  /// too small for threshold_sd (a matched filter adds the potential's
  /// evidence over its electrodes and phases). Adds 0.34 s to
  /// latency_samples() (one noise block, the snippet and 60 ms) and ~12%
  /// to detection time on a 64-channel grid at 2048 Hz (~25% on 8 leads at
  /// 4096 Hz, where its backward filter pass costs as much as the stream's own).
  bool known_unit_sweep = true;
  /// On a grid, also score each electrode over its line of 7 electrodes
  /// along the fibres (the axis the units vote for), beside its 3x3
  /// neighbourhood: a MUAP travels along the fibres and decays within 1-2
  /// electrodes across them, so the line collects a deep unit the 3x3
  /// dilutes. ~20-25% of detection time on a 64-channel grid; no effect
  /// on independent leads.
  bool fibre_line = true;

  // --- masking ---
  double tonic_isi_ms = 250.0;        ///< continual firing: successive discharges of a unit this close
  /// ...at least this many in a row (a doublet, < 25 ms, counts as one).
  /// Four: a doublet 25-110 ms apart and the unit's next discharge are
  /// three, and fasciculating units fire such multiplets; continual firing
  /// goes on.
  int tonic_min_discharges = 4;
  double voluntary_rms_ratio = 3.0;   ///< interference pattern: band RMS over this x the noise floor...
  /// ...or over this absolute band RMS (uV): resting surface EMG is a few uV,
  /// a weak (1-5% MVC) contraction tens; catches contractions that have
  /// lasted long enough to raise the noise floor itself.
  double voluntary_rms_uv = 25.0;
  double voluntary_min_s = 0.25;      ///< ...sustained at least this long
  double mask_padding_s = 0.25;       ///< added either side of every mask

  // --- events and summary ---
  double doublet_min_ms = 5.0;
  double doublet_max_ms = 110.0;
  double min_clean_rest_s = 60.0;     ///< less clean rest than this: summary.insufficient
  cluster::ClusterOptions clustering{};

  /// Channels with no grid position at all, when the EMG channels number
  /// k x k with k >= 4 (16, 25, ..., 64, ...), are taken as a k x k grid in
  /// row-major order: channel i at row i / k, column i % k (column-major
  /// order gives the transposed grid, which detects the same). A bare array
  /// or .npy from an HD-sEMG grid otherwise runs as k x k independent
  /// leads, where one discharge seen by many electrodes is many events
  /// (simulated 8x8 grids: F1 0.07-0.40 as independent leads, 0.88-0.97 with
  /// the layout). Set false for that many independent (bipolar) leads; other
  /// counts are never assumed to be a grid. summary.layout says what was used.
  bool assume_square_grid = true;

  /// Threads for the per-channel work (filtering, noise statistics,
  /// energies); 0 = every core for detect() and detect_file() and one for a StreamingDetector
  /// (a stream usually runs beside other work). Results do not depend on it.
  int n_threads = 0;

  /// detect(const Recording&) only: spans annotated "BAD..." (MNE's
  /// convention) are masked as bad_signal, as MNE's reject_by_annotation does.
  bool reject_by_annotation = true;

  /// Throws std::invalid_argument naming the first bad option.
  void validate(double fs) const;
};

/// Everything detect() returns.
struct DetectionResult {
  std::vector<Event> events;                 ///< time order
  std::vector<Mask> masks;                   ///< excluded periods with reasons, time order
  std::vector<cluster::UnitSummary> units;
  cluster::RecordingSummary summary;
  /// Per channel: the start-up screening's flags and measures, with the
  /// non-finite samples (count, runs), the longest stuck run and the share
  /// of samples stuck at the channel's extreme of the whole recording
  /// (non_finite; flat from a 1 s run; saturated from 0.1%).
  std::vector<filter::ChannelQuality> quality;
  Index latency_samples = 0;                 ///< the stream's bounded decision delay
};

/// Called now and then with the fraction done (0..1); return false to cancel
/// (the call then throws fasctrack::Cancelled).
using ProgressCallback = std::function<bool(double fraction_done)>;

/// Thrown when a ProgressCallback asks to stop.
class Cancelled : public Error {
 public:
  Cancelled() : Error("cancelled") {}
};

template <class T>
class StreamingDetector {
 public:
  /// Throws std::invalid_argument for fs <= 0, no channels, or bad options.
  StreamingDetector(double fs, std::vector<ChannelInfo> channels, DetectOptions options = {});
  ~StreamingDetector();
  StreamingDetector(StreamingDetector&&) noexcept;
  StreamingDetector& operator=(StreamingDetector&&) noexcept;

  /// Feeds the next (n_channels, n) chunk of raw microvolts (n may be 0) and
  /// returns the events that became final, in time order. Events come out at
  /// most latency_samples() after their sample has been fed.
  std::vector<Event> process(SignalView<T> chunk);
  /// End of stream: returns every event still pending.
  std::vector<Event> flush();
  /// Back to the state of a new detector.
  void reset();

  /// Upper bound on how long after its sample an event is emitted.
  Index latency_samples() const;
  Index samples_seen() const;
  /// Masks final so far.
  std::vector<Mask> masks() const;
  /// Units, summary and quality so far (after flush(): the whole recording).
  DetectionResult result() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Offline detection on a whole recording: identical to a StreamingDetector
/// fed x in any chunks and flushed.
template <class T>
DetectionResult detect(SignalView<T> x, double fs, const std::vector<ChannelInfo>& channels,
                       const DetectOptions& options = {}, const ProgressCallback& progress = {});

DetectionResult detect(const Recording& recording, const DetectOptions& options = {},
                       const ProgressCallback& progress = {});

/// The side k of the grid DetectOptions::assume_square_grid assumes for
/// these channels: no EMG channel has a grid position and there are k x k
/// (k >= 4) of them. 0 otherwise.
int assumed_grid_side(const std::vector<ChannelInfo>& channels);

}  // namespace fasctrack
