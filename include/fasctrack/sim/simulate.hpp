#pragma once
// A simulator of surface EMG at rest with ground truth, and an evaluator that
// scores detections against it event by event.

#include <fasctrack/core/recording.hpp>
#include <fasctrack/detect/events.hpp>

#include <cstdint>
#include <vector>

namespace fasctrack::sim {

enum class Geometry { grid, bipolar };

/// Defaults: an 8x8 grid at 2048 Hz over one muscle, 2 minutes at rest.
struct SimulationOptions {
  double fs = 2048.0;
  double duration_s = 120.0;
  Geometry geometry = Geometry::grid;
  int rows = 8;                       ///< grid rows (across the fibres)
  int columns = 8;                    ///< grid columns (along the fibres)
  double ied_mm = 8.0;                ///< inter-electrode distance
  int bipolar_channels = 4;           ///< bipolar: separate sites (each its own muscle)
  double conduction_velocity_m_s = 4.0;

  int n_units = 4;
  double amplitude_min_uv = 25.0;     ///< peak-to-peak at a unit's best electrode
  double amplitude_max_uv = 80.0;
  double rate_per_min = 6.0;          ///< mean fasciculation rate per unit (irregular, Poisson-like)
  double doublet_probability = 0.05;  ///< chance a discharge is followed by a second 5-110 ms later
  double complex_fraction = 0.25;     ///< share of units with polyphasic (complex) potentials

  double noise_uv = 5.0;              ///< RMS of the background (electrode + amplifier) noise
  double mains_hz = 50.0;             ///< 0 = none
  double mains_uv = 10.0;             ///< amplitude of the fundamental; 3rd and 5th harmonics added
  double wander_uv = 30.0;            ///< baseline wander amplitude (< 1 Hz)
  double ecg_uv = 0.0;                ///< ECG R-wave amplitude, common to all channels; 0 = none
  double ecg_bpm = 70.0;
  int motion_artefacts = 0;           ///< large low-frequency transients on all channels
  int electrode_pops = 0;             ///< steps on one channel that decay over ~100 ms
  int voluntary_bursts = 0;           ///< contractions: interference pattern plus tonic units
  double burst_duration_s = 3.0;
  std::uint64_t seed = 1;

  /// Throws std::invalid_argument naming the first bad option.
  void validate() const;
};

struct TrueEvent {
  Index sample = 0;                   ///< sample of the largest absolute deflection (noise-free, zero-phase)
  int unit = 0;
  Index channel = 0;                  ///< where it is largest
  double amplitude_uv = 0.0;          ///< peak-to-peak there
  bool doublet = false;
  bool complex = false;
};

struct TrueUnit {
  int id = 0;
  Index channel = 0;
  double amplitude_uv = 0.0;
  bool complex = false;
  double rate_per_min = 0.0;
  int phases = 0;                     ///< phases of the noise-free waveform at `channel`
  double endplate_mm = 0.0;           ///< innervation zone along the fibres (grid: from column 0; bipolar: from the site centre)
  double transverse_mm = 0.0;         ///< across the fibres (grid: from row 0)
  double depth_mm = 0.0;              ///< below the skin (sets the spatial spread)
};

struct Simulation {
  Recording recording;                ///< float64 samples in uV, channels with muscle/region/side/grid
  std::vector<TrueEvent> events;      ///< fasciculations only (not the voluntary/tonic firing)
  std::vector<TrueUnit> units;
  std::vector<Mask> masks;            ///< where voluntary activity and artefacts really are
};

Simulation simulate(const SimulationOptions& options);

struct EvaluationOptions {
  double tolerance_ms = 5.0;          ///< a detection matches a true event within this
};

/// Event-level scores. True events and detections inside true masked periods
/// are left out of precision/recall and counted separately.
struct Evaluation {
  Index true_events = 0;
  Index detections = 0;
  Index true_positives = 0;
  Index false_positives = 0;
  Index false_negatives = 0;
  double precision = 0.0;
  double recall = 0.0;
  double f1 = 0.0;
  double unit_ari = 0.0;              ///< adjusted Rand index of unit labels over matched events
  Index detections_in_masked = 0;     ///< detections inside the true masked periods
  double masked_minutes = 0.0;
  double false_per_masked_minute = 0.0;
};

/// One-to-one matching (closest first) within the tolerance.
Evaluation evaluate(const Simulation& truth, const std::vector<Event>& detected,
                    const EvaluationOptions& options = {});

}  // namespace fasctrack::sim
