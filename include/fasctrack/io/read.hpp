#pragma once
// Reading recordings. Every reader returns samples in microvolts with
// per-channel metadata, and reports quirks of the file in Recording::warnings.
// Any problem with the file throws fasctrack::ReadError whose message starts
// with the path and says what is wrong.

#include <fasctrack/core/error.hpp>
#include <fasctrack/core/recording.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fasctrack::io {

enum class Format { automatic, edf, bdf, wfdb, npy, csv };

std::string_view to_string(Format format) noexcept;
/// "edf", "bdf", "wfdb", "npy", "csv" (also "txt", "tsv"), "auto".
/// Throws std::invalid_argument naming the value.
Format parse_format(std::string_view text);
/// Format from the file extension (.edf, .bdf, .hea/.dat, .npy, .csv/.txt/.tsv);
/// throws UnsupportedFormatError naming the path for anything else.
Format format_from_path(const std::string& path);

/// An electrode grid's shape, for files that carry no electrode positions.
struct GridLayout {
  int rows = 0;
  int columns = 0;
  double ied_mm = 0.0;  ///< inter-electrode distance; 0 when unknown
};

/// Parses "ROWSxCOLUMNS" (e.g. "8x8"; "x" or "X"). Throws std::invalid_argument naming the value.
GridLayout parse_grid_layout(std::string_view text);

/// Places channels on a grid, row by row: channel k at row k / columns,
/// column k % columns (the order of an HD-sEMG amplifier's channels along
/// its rows). Only EMG channels count (an ECG or trigger lead kept in the
/// file is not an electrode of the grid). Throws std::invalid_argument,
/// prefixed with source, when the EMG channel count is not rows x columns,
/// a dimension is not positive, or a channel already has a grid position
/// (from a BIDS electrodes.tsv: the two could disagree).
void apply_grid_layout(std::vector<ChannelInfo>& channels, const GridLayout& grid, const std::string& source);

struct ReadOptions {
  Format format = Format::automatic;   ///< automatic = from the extension
  /// Sampling rate in Hz. Required for .npy; for CSV used when the file has no
  /// time column or header rate; ignored (must match if given) for EDF/WFDB.
  std::optional<double> fs;
  /// Multiply raw numbers by this to get microvolts (npy/csv only, which carry no unit).
  double scale_to_uv = 1.0;
  /// Element type of the samples; default float64 for EDF/BDF/WFDB/CSV and the
  /// file's own float type for .npy (int16 .npy becomes float32).
  std::optional<SampleType> sample_type;
  /// Keep only these channels, in this order (by name); empty = all.
  std::vector<std::string> channels;
  /// EDF/BDF: also keep channels whose unit is not a voltage (triggers, status).
  bool include_non_voltage = false;
  /// Apply BIDS-EMG sidecars (*_channels.tsv, *_emg.json, *_electrodes.tsv) found next to the file.
  bool use_sidecars = true;
  /// .npy/.csv layout: true when rows are samples and columns channels.
  /// npy default: (channels, samples); csv default: columns are channels.
  std::optional<bool> samples_first;
  /// Memory budget in bytes for reading (the samples plus the reader's
  /// buffers); 0 = no limit. Checked before anything large is allocated: a
  /// file that would need more throws ReadError stating the bytes needed and
  /// the limit. Independently of this, no reader allocates more than the
  /// file's size can justify (a header claiming more data than the file holds
  /// is refused as truncated).
  std::uint64_t max_bytes = 0;
  /// Electrode grid of a file that carries no positions (.npy, CSV, an EDF
  /// without BIDS sidecars), applied after `channels` selects and orders
  /// them (apply_grid_layout). Without positions the channels are analysed
  /// as independent leads: one discharge seen by many electrodes of a grid
  /// is then not one event, and a common-mode artefact is not told from it.
  std::optional<GridLayout> grid;
};

/// Reads any supported file. Throws ReadError / UnsupportedFormatError.
Recording read(const std::string& path, const ReadOptions& options = {});

Recording read_edf(const std::string& path, const ReadOptions& options = {});   // EDF, EDF+, BDF, BDF+
Recording read_wfdb(const std::string& path, const ReadOptions& options = {});  // path to .hea (or record name)
Recording read_npy(const std::string& path, const ReadOptions& options = {});
Recording read_csv(const std::string& path, const ReadOptions& options = {});

/// Applies BIDS-EMG sidecars belonging to data_path to rec (channel types,
/// units, status, muscle, grid positions, PowerLineFrequency). Returns false
/// when no sidecar was found. Throws ReadError for a malformed sidecar.
bool apply_bids_sidecars(Recording& rec, const std::string& data_path);

}  // namespace fasctrack::io
