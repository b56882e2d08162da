#pragma once
// Reading a recording piece by piece, so that a long recording (hours of
// HD-sEMG) never has to sit in memory whole.
//
// The chunks are the very numbers io::read returns: the same header parsing,
// decoding formula, channel selection, BIDS sidecars and sample type, so
// concatenating every chunk gives io::read's samples exactly.

#include <fasctrack/core/recording.hpp>
#include <fasctrack/io/read.hpp>

#include <memory>
#include <string>

namespace fasctrack::io {

/// Opens a recording and hands out (n_channels, n) blocks of microvolts.
///
/// EDF/BDF are read with EDFlib's per-signal seek (or record by record when
/// fasctrack decodes the file itself), WFDB and .npy by offset reads of the
/// frames a block needs. CSV/text has no fixed record size to seek by: it is
/// read whole at open and handed out in blocks.
///
/// ReadOptions apply as in io::read, except max_bytes, which bounds each
/// block (read() throws ReadError for a block that would need more).
/// Not thread-safe: one reader per thread (distinct readers may share a file).
class RecordingReader {
 public:
  /// Reads the header, channels, annotations and warnings; no samples yet.
  /// Throws what io::read throws for a bad file or bad options.
  explicit RecordingReader(const std::string& path, const ReadOptions& options = {});
  ~RecordingReader();
  RecordingReader(RecordingReader&&) noexcept;
  RecordingReader& operator=(RecordingReader&&) noexcept;

  /// What io::read returns, but without the samples: `samples` is an empty
  /// (n_channels, 0) matrix of the output type. Use n_samples() for the length.
  const Recording& header() const;
  Index n_channels() const;
  Index n_samples() const;
  double fs() const;
  SampleType sample_type() const;
  /// Index of the next sample read() returns.
  Index position() const;
  /// Moves to a sample in [0, n_samples()]; throws std::out_of_range otherwise.
  void seek(Index sample);

  /// The next min(max_samples, n_samples() - position()) samples, as an
  /// (n_channels, n) matrix of sample_type(); n = 0 at the end.
  /// max_samples must be positive (std::invalid_argument otherwise).
  SampleMatrix read(Index max_samples);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fasctrack::io
