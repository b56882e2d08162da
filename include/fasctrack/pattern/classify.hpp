#pragma once
// Benign versus warning pattern across sessions.
//
// A subject's history of resting recordings is classified as
//   warning        some muscle's fasciculations persist (active in >= 3
//                  sessions spanning >= 28 days, in >= 75% of its analysable
//                  sessions within that span) or they spread (the latest
//                  analysable session has >= 2 active muscles, one of which
//                  was not active in the first analysable session);
//   none           no muscle is active in any analysable session;
//   benign         fasciculations occur but neither criterion holds over a
//                  follow-up of >= 28 days;
//   indeterminate  otherwise (too little follow-up or too little clean rest),
//                  with the reason.
// A muscle is active in a session with >= 3 fasciculation potentials AND
// >= 1 per minute of clean rest (so a couple of spurious events in a quiet
// muscle cannot make it active or fake a spread), and insufficient under 60 s
// of clean rest. Everything else (complex share, new units, rate trend,
// isolated share, clinical weakness or atrophy, benign context, doublets) is
// supporting evidence, reported beside the label and never deciding it.
//
// Classification works on already measured sessions (SessionResult), so the
// rules can be tested without signals and a batch can detect sessions in
// parallel and classify afterwards; analyze_session()/classify_manifest()
// read and detect first.
//
// Research decision support only: a report never makes a diagnosis.

#include <fasctrack/cluster/summary.hpp>
#include <fasctrack/core/recording.hpp>
#include <fasctrack/pattern/manifest.hpp>
#include <fasctrack/stream/detector.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace fasctrack::pattern {

/// fasctrack's version, written into every report.
std::string_view software_version() noexcept;

/// The sentence every report carries.
std::string_view disclaimer() noexcept;

enum class Pattern { none, benign, warning, indeterminate };
enum class MuscleState { active, quiet, insufficient };

std::string_view to_string(Pattern pattern) noexcept;
std::string_view to_string(MuscleState state) noexcept;

/// Every threshold of the classification, with its default. All are printed
/// in the report.
struct PatternOptions {
  // --- state of a muscle in a session ---
  Index min_active_count = 3;             ///< active: at least this many FPs...
  double min_active_rate_per_min = 1.0;   ///< ...and at least this many per minute of clean rest
  double min_clean_rest_s = 60.0;         ///< less clean rest: insufficient (no state)

  // --- persistence of a muscle ---
  int min_persistent_sessions = 3;        ///< active in at least this many sessions...
  double min_persistent_span_days = 28.0; ///< ...whose dates span at least this long...
  double min_persistent_fraction = 0.75;  ///< ...and in this share of its analysable sessions within the span

  // --- spread ---
  int min_spread_active_muscles = 2;      ///< the latest analysable session has at least this many active muscles

  // --- follow-up ---
  double min_follow_up_days = 28.0;       ///< benign needs this long between the first and last analysable session
  /// Count the follow-up from the first session with an active muscle
  /// instead of the first analysable session (stricter).
  bool follow_up_from_first_active = false;

  // --- unit tracking across sessions ---
  /// Units of one muscle in two sessions are the same unit when the
  /// normalised cross-correlation of their templates on the channels both
  /// sessions share (best lag within unit_max_lag_ms), times an amplitude
  /// factor, reaches this. Surface templates of one unit correlate > 0.9
  /// within a session; between sessions electrode re-placement costs some.
  double unit_match_threshold = 0.8;
  double unit_max_lag_ms = 2.0;           ///< alignment search between sessions
  /// Amplitude factor min(1, ratio_limit / ratio) where ratio is the larger
  /// over the smaller template RMS: re-placed electrodes change amplitudes
  /// by up to about this factor.
  double unit_max_amplitude_ratio = 2.0;
  /// A unit needs at least this many discharges in a session to be tracked:
  /// the detector may found a "unit" on one odd discharge, and counting
  /// those as new units would overstate turnover.
  Index min_unit_discharges = 3;
  /// A unit counts as complex in a session when more than this share of its
  /// discharges are complex (> 4 phases).
  double complex_unit_fraction = 0.5;

  double confidence = 0.95;               ///< of rate intervals and the trend interval

  /// Throws std::invalid_argument naming the first bad option.
  void validate() const;
};

/// One muscle in one session, as measured. Its state is decided by classify().
struct MuscleObservation {
  std::string muscle;                     ///< "" is reported as "unspecified"
  BodyRegion region = BodyRegion::unknown;
  Side side = Side::unknown;
  std::vector<std::string> channels;      ///< channel names
  bool usable = true;                     ///< false: every channel bad, flat or disconnected
  Index n_events = 0;                     ///< fasciculation potentials (each discharge of a doublet counts)
  double clean_rest_s = 0.0;
  int n_units = 0;
  Index n_complex = 0;                    ///< potentials with > 4 phases
  Index n_isolated = 0;
  Index n_doublet = 0;                    ///< discharges that belong to a doublet
  /// Within-session persistence: clean rest cut into minutes (a last part
  /// of at least 30 s counts as a minute) and how many hold at least one FP.
  int rest_minutes = 0;
  int minutes_with_fp = 0;
};

/// One unit of one session (its template on the channels of its muscle).
struct UnitObservation {
  std::string muscle;
  int unit = 0;                           ///< the detector's label within the session
  Index count = 0;
  double rate_per_min = 0.0;
  double amplitude_uv = 0.0;              ///< median peak-to-peak
  double complex_fraction = 0.0;
  std::string peak_channel;
  std::vector<std::string> channels;      ///< names of the template rows
  double fs = 0.0;
  RowMatrix<float> template_uv;           ///< (channels, samples), centred on the event sample
};

/// Everything classify() needs from one session.
struct SessionResult {
  std::string id;
  std::string date;                       ///< ISO date as given
  double day = 0.0;                       ///< parse_date(date)
  std::string recording;                  ///< source path, informative
  double duration_s = 0.0;
  double clean_rest_s = 0.0;
  std::vector<MuscleObservation> muscles;
  std::vector<UnitObservation> units;
  std::vector<std::string> context;
  ClinicalFindings clinical;
  std::vector<std::string> warnings;      ///< reader and manifest remarks
};

/// Measures one session from a detection result on rec (whose channels carry
/// the muscle names). info gives the id, date, context and clinical findings.
SessionResult session_result(const DetectionResult& result, const Recording& rec, const ManifestSession& info);

/// Lossless JSON form of a SessionResult (templates included), for caching
/// and for passing sessions between processes.
std::string session_to_json(const SessionResult& session);
/// Inverse of session_to_json; also accepts hand-written sessions without
/// units. Throws ManifestError naming source_name and the field.
SessionResult session_from_json(std::string_view json_text, std::string_view source_name = "session");

// ---------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------

struct Quantity {
  std::string name;
  double value = 0.0;
  std::string unit;                       ///< "", "days", "FP/min", ...
};

/// One criterion as evaluated: what was measured, against which thresholds.
struct Reason {
  std::string criterion;   ///< persistence, spread, no_fasciculations, follow_up, clean_rest, fasciculations
  bool met = false;        ///< the criterion holds
  bool decisive = false;   ///< it decided the label
  std::string muscle;      ///< for per-muscle criteria
  std::string text;        ///< plain words
  std::vector<Quantity> values;
  std::vector<Quantity> thresholds;
  std::vector<std::string> sessions;  ///< session ids involved
  std::vector<std::string> muscles;   ///< muscles involved (spread: the new ones)
  std::string strength;    ///< spread: new_region, new_side, same_region_and_side, onset
};

/// One row of the per-session, per-muscle table.
struct MuscleSessionRow {
  std::string session;
  std::string date;
  double day = 0.0;                       ///< days since the first session
  std::string muscle;
  BodyRegion region = BodyRegion::unknown;
  Side side = Side::unknown;
  MuscleState state = MuscleState::insufficient;
  std::string state_reason;               ///< why insufficient / active / quiet, in words
  Index n_events = 0;
  double clean_rest_min = 0.0;
  cluster::RateEstimate rate;
  int n_units = 0;
  double complex_fraction = 0.0;          ///< NaN without events
  double isolated_fraction = 0.0;         ///< NaN without events
  Index n_doublet = 0;
  int rest_minutes = 0;
  double minutes_with_fp_fraction = 0.0;  ///< NaN without a rest minute
  int new_units = 0;                      ///< tracked units first seen here (after the muscle's first analysable session)
};

struct UnitSighting {
  std::string session;
  int unit = 0;                           ///< the detector's label in that session
  Index count = 0;
  double rate_per_min = 0.0;
  double amplitude_uv = 0.0;
  double complex_fraction = 0.0;
  double similarity = 0.0;                ///< to the track when it joined (NaN for the first sighting)
  std::string peak_channel;
  double fs = 0.0;
  std::vector<float> waveform_uv;         ///< the template on its peak channel
};

/// A unit followed across sessions.
struct TrackedUnit {
  std::string muscle;
  int number = 0;                         ///< 1-based within the muscle
  std::vector<UnitSighting> sightings;    ///< in session order
  bool new_unit = false;                  ///< first seen after the muscle's first analysable session
  bool turned_complex = false;            ///< complex in a later session, not when first seen
  std::string turned_complex_session;
  std::string text;                       ///< "unit 2 of biceps_r seen in sessions s1, s2, s4"
};

/// Rate trend: weighted least-squares slope of the rate over time with a
/// Poisson (quasi-Poisson when overdispersed) confidence interval.
struct RateTrend {
  bool available = false;                 ///< needs >= 2 analysable sessions on different days
  int n_sessions = 0;
  double slope_per_month = 0.0;           ///< FP/min per month (30.44 days)
  double ci_low = 0.0;
  double ci_high = 0.0;
};

/// Supporting evidence per muscle (never decides the label).
struct MuscleEvidence {
  std::string muscle;
  BodyRegion region = BodyRegion::unknown;
  Side side = Side::unknown;
  int sessions_recorded = 0;
  int sessions_analysable = 0;
  int sessions_active = 0;
  bool persistent = false;
  double active_span_days = 0.0;
  double active_fraction_in_span = 0.0;   ///< NaN when never active
  Index n_events = 0;
  double clean_rest_min = 0.0;
  double complex_fraction = 0.0;          ///< NaN without events
  double isolated_fraction = 0.0;         ///< NaN without events
  Index n_doublet = 0;
  int distinct_units = 0;
  int new_units = 0;
  int units_turned_complex = 0;
  RateTrend trend;
  std::vector<std::string> weakness_sessions;  ///< sessions where it was weak AND active
  std::vector<std::string> atrophy_sessions;   ///< sessions where it was atrophic AND active
};

struct SessionSummary {
  std::string id;
  std::string date;
  double day = 0.0;                       ///< days since the first session
  std::string recording;
  double duration_s = 0.0;
  double clean_rest_s = 0.0;
  bool analysable = false;                ///< at least one muscle with enough clean rest
  std::vector<std::string> active_muscles;
  std::vector<std::string> context;
  std::vector<std::string> benign_context;  ///< context tags known to go with benign fasciculations
  ClinicalFindings clinical;
  std::vector<std::string> warnings;
};

struct PatternReport {
  std::string subject;
  Pattern pattern = Pattern::indeterminate;
  std::string decision;                   ///< the label and why, in plain words
  std::vector<Reason> reasons;            ///< every criterion evaluated, decisive ones first
  std::vector<MuscleSessionRow> muscles;  ///< session order, then muscle order
  std::vector<TrackedUnit> units;
  std::vector<MuscleEvidence> evidence;
  std::vector<std::string> notes;         ///< context, clinical findings, doublets, gaps
  std::vector<SessionSummary> sessions;
  std::vector<std::string> muscle_order;  ///< muscles in order of first appearance
  PatternOptions options;
  std::string software_version;
  std::string disclaimer;
};

/// Classifies a history of sessions (in date order: throws
/// std::invalid_argument naming the session when dates go backwards or ids
/// repeat, or when there are no sessions).
PatternReport classify(const std::vector<SessionResult>& sessions, const PatternOptions& options = {},
                       std::string subject = "");

// ---------------------------------------------------------------------------
// Reading and detecting
// ---------------------------------------------------------------------------

/// Reads session i of the manifest (applying its channel metadata), detects
/// and measures it. Throws ReadError for the recording, ManifestError for
/// manifest channels that name no channel of the recording, fasctrack::Error
/// naming the session when detection cannot run on it (e.g. options that do
/// not suit its sampling rate).
SessionResult analyze_session(const Manifest& manifest, std::size_t i, const DetectOptions& detect_options = {},
                              const ProgressCallback& progress = {});

/// Called with the session index, the number of sessions and the fraction of
/// that session done; return false to cancel (throws fasctrack::Cancelled).
using SessionProgress = std::function<bool(std::size_t session, std::size_t n_sessions, double fraction)>;

/// Every session of the manifest through analyze_session(), then the checks
/// that need the recordings (clinical findings must name a recorded muscle).
std::vector<SessionResult> analyze_sessions(const Manifest& manifest, const DetectOptions& detect_options = {},
                                            const SessionProgress& progress = {});

/// analyze_sessions() then classify().
PatternReport classify_manifest(const Manifest& manifest, const PatternOptions& options = {},
                                const DetectOptions& detect_options = {}, const SessionProgress& progress = {});

/// Throws ManifestError (field sessions[i].clinical.weakness[j]) when a
/// clinical finding names a muscle that no session records.
void check_clinical_muscles(const Manifest& manifest, const std::vector<SessionResult>& sessions);

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/// REPORT.json: top-level pattern, decision, reasons, muscles, units,
/// evidence, sessions, notes, options, software_version, disclaimer.
std::string report_json(const PatternReport& report, int indent = 2);

/// A self-contained HTML page (inline CSS and SVG, no scripts, no external
/// resources): the decision and its reasons in words, the disclaimer, a grid
/// of muscle states per session, the rate timeline of every muscle with its
/// confidence intervals, waveforms of every tracked unit, the evidence and
/// the options.
std::string report_html(const PatternReport& report);

}  // namespace fasctrack::pattern
