#pragma once
// Per-recording and per-muscle summaries with honest uncertainty.

#include <fasctrack/cluster/units.hpp>
#include <fasctrack/core/recording.hpp>
#include <fasctrack/detect/events.hpp>
#include <fasctrack/filter/mains.hpp>

#include <string>
#include <vector>

namespace fasctrack::cluster {

/// A rate with an exact (Garwood) Poisson confidence interval.
struct RateEstimate {
  Index count = 0;
  double minutes = 0.0;
  double rate_per_min = 0.0;
  double ci_low = 0.0;
  double ci_high = 0.0;
  double confidence = 0.95;
};

/// Exact Poisson interval for count events in minutes of observation:
/// [chi2(a/2, 2k)/2, chi2(1-a/2, 2k+2)/2] / minutes. Throws
/// std::invalid_argument for minutes <= 0 or confidence outside (0, 1).
RateEstimate poisson_rate(Index count, double minutes, double confidence = 0.95);

/// Inverse CDF of the chi-square distribution (exposed for tests).
double chi2_quantile(double p, double dof);

struct MuscleSummary {
  std::string muscle;                 ///< "" when channels carry no muscle name
  BodyRegion region = BodyRegion::unknown;
  Side side = Side::unknown;
  std::vector<Index> channels;        ///< channels of this muscle
  Index n_events = 0;
  RateEstimate rate;                  ///< FP per minute of clean rest, 95% CI
  int n_units = 0;
  double isolated_fraction = 0.0;
  double complex_fraction = 0.0;
};

struct RecordingSummary {
  double duration_s = 0.0;
  double clean_rest_s = 0.0;          ///< time not covered by any mask
  double excluded_startup_s = 0.0;
  double excluded_voluntary_s = 0.0;
  double excluded_tonic_s = 0.0;
  double excluded_artefact_s = 0.0;
  double excluded_bad_signal_s = 0.0;
  std::vector<double> noise_floor_uv;  ///< per channel, median of the robust SDs of its noise blocks (noise_block_s) of the conditioned signal (exact up to 4096 blocks, then over an even sample of them)
  /// Marked bad by the metadata; from detection also those the data made
  /// unusable (flat or disconnected from the start, or left out for >= 1 s).
  std::vector<std::string> bad_channels;
  filter::MainsReport mains;
  double mains_hz = 0.0;              ///< notched frequency (0 if none)
  Index n_events = 0;
  int n_units = 0;
  double isolated_fraction = 0.0;
  RateEstimate rate;                  ///< all muscles together
  std::vector<MuscleSummary> muscles;
  bool insufficient = false;          ///< clean_rest_s < min_clean_rest_s: too little rest to conclude
  double min_clean_rest_s = 60.0;
  /// Electrode layout the detector used: "grid" (positions given),
  /// "assumed_grid" (DetectOptions::assume_square_grid, a square of
  /// assumed_grid_side) or "independent" (separate leads).
  std::string layout = "independent";
  int assumed_grid_side = 0;
  /// On a grid, the axis along which the units' potentials were found to
  /// travel, i.e. the direction of the muscle fibres: "columns" (from
  /// column to column, along each row: a grid placed with its columns
  /// along the fibres, the detector's assumption until units say
  /// otherwise), "rows" (from row to row), or "unknown" (no unit yet
  /// averaged enough discharges to tell). Empty for independent leads.
  std::string fibre_axis;
};

/// Builds the summary from events and masks. Masks may overlap; excluded
/// time is counted once, attributed to the first reason in MaskReason order.
RecordingSummary summarize_recording(const std::vector<Event>& events, const std::vector<Mask>& masks,
                                     const std::vector<UnitSummary>& units,
                                     const std::vector<ChannelInfo>& channels, Index n_samples, double fs,
                                     double min_clean_rest_s = 60.0);

}  // namespace fasctrack::cluster
