#pragma once
// The Recording: what every reader returns and every pipeline stage consumes.

#include <fasctrack/core/types.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <utility>
#include <vector>

namespace fasctrack {

/// Body region of a muscle, in the sense used for spread of fasciculations
/// (the four regions of the El Escorial / Awaji criteria).
enum class BodyRegion { unknown, bulbar, cervical, thoracic, lumbosacral };

/// Body side of an electrode.
enum class Side { unknown, left, right, midline };

std::string_view to_string(BodyRegion region) noexcept;
std::string_view to_string(Side side) noexcept;
/// Parses "bulbar", "cervical", ... (case-insensitive; "" -> unknown).
/// Throws std::invalid_argument naming the bad value.
BodyRegion parse_body_region(std::string_view text);
/// Parses "L"/"left", "R"/"right", "M"/"midline" (case-insensitive; "" -> unknown).
Side parse_side(std::string_view text);

/// Electrode position on a grid (HD-sEMG), when known.
struct GridPosition {
  int row = 0;                 ///< 0-based row on the grid
  int column = 0;              ///< 0-based column on the grid
  double ied_mm = 0.0;         ///< inter-electrode distance in mm; 0 when unknown
  bool operator==(const GridPosition&) const = default;
};

/// Per-channel metadata.
struct ChannelInfo {
  std::string name;            ///< unique within the recording
  std::string type = "EMG";    ///< EMG, EEG, ECG, EOG, MISC, ... (BIDS channel types)
  std::string muscle;          ///< e.g. "biceps_r"; empty when unknown
  BodyRegion region = BodyRegion::unknown;
  Side side = Side::unknown;
  std::optional<GridPosition> grid;  ///< set for grid electrodes
  std::string source_unit = "uV";    ///< unit in the file before conversion to microvolts
  bool calibrated = true;      ///< false when the file has no physical scaling (raw ADC counts)
  bool marked_bad = false;     ///< marked bad by the file's metadata or the user
  std::string bad_reason;      ///< why, when marked_bad
};

/// A labelled time span, MNE-style (seconds from the start of the recording).
struct Annotation {
  double onset_s = 0.0;
  double duration_s = 0.0;
  std::string description;
};

/// Samples of either precision, (n_channels, n_samples), in microvolts.
using SampleMatrix = std::variant<RowMatrix<float>, RowMatrix<double>>;

/// A multi-channel recording. Samples are (n_channels, n_samples), physical
/// unit microvolts, row-major.
struct Recording {
  SampleMatrix samples;              ///< (n_channels, n_samples) in microvolts
  double fs = 0.0;                   ///< sampling rate in Hz
  std::vector<ChannelInfo> channels; ///< one per row of samples
  std::string start_time;            ///< ISO 8601 local time of the first sample; empty if unknown
  std::vector<Annotation> annotations;
  std::optional<double> power_line_hz;  ///< mains frequency stated by the file's metadata, if any
  std::string source;                ///< path the recording was read from; empty if built in memory
  std::string format;                ///< "edf", "bdf", "wfdb", "npy", "csv", or "" if built in memory
  std::vector<std::string> warnings; ///< quirks met while reading; never silently dropped

  Index n_channels() const;
  Index n_samples() const;
  double duration_s() const;
  SampleType sample_type() const;
  /// Throws std::invalid_argument if fs is not positive and finite, there are
  /// zero channels or samples, or channels.size() differs from the row count.
  void validate() const;
  /// Index of the channel with this name; throws std::out_of_range naming it.
  Index channel_index(std::string_view name) const;
};

/// Sample spans [start, stop) of the annotations whose description starts
/// with "BAD" (any case; MNE's convention for segments to reject), clipped to
/// [0, n_samples). A span covers every sample its seconds touch.
std::vector<std::pair<Index, Index>> bad_annotation_spans(const std::vector<Annotation>& annotations,
                                                          double fs, Index n_samples);

/// Makes channel names unique by appending " (2)", " (3)", ... to repeats and
/// returns one warning per renamed channel.
std::vector<std::string> make_channel_names_unique(std::vector<ChannelInfo>& channels);

/// Converts a unit string to the factor that turns it into microvolts:
/// "V" -> 1e6, "mV" -> 1e3, "uV"/"µV" -> 1, "nV" -> 1e-3 (case of the
/// prefix matters: "MV" is not a millivolt). Returns nullopt for non-voltage units.
std::optional<double> microvolts_per_unit(std::string_view unit);

}  // namespace fasctrack
