#pragma once
// A file's samples decoded piece by piece, for io::RecordingReader. Not installed.
//
// Each format's source shares its header parsing and decoding formula with
// the whole-file reader in the same .cpp, so a range decoded here holds the
// very numbers io::read puts in the same columns.

#include <fasctrack/core/recording.hpp>
#include <fasctrack/io/read.hpp>

#include <memory>
#include <string>

namespace fasctrack::io::detail {

class SampleSource {
 public:
  virtual ~SampleSource() = default;
  /// The recording as the whole-file reader has it just before finish():
  /// channels (one per decoded row), fs, annotations, start time, warnings.
  /// Its samples are empty.
  Recording meta;
  Index n_samples = 0;
  /// The type finish() is given as the default (float64, or the .npy file's own).
  SampleType default_type = SampleType::float64;
  /// The type read() decodes into (what the whole-file reader holds before finish()).
  SampleType decoded_type = SampleType::float64;
  /// Decodes samples [start, start + out.cols()) of every row into out, which
  /// holds decoded_type and has meta.channels.size() rows.
  virtual void read(Index start, SampleMatrix& out) = 0;
};

std::unique_ptr<SampleSource> open_edf_source(const std::string& path, const ReadOptions& options);
std::unique_ptr<SampleSource> open_wfdb_source(const std::string& path, const ReadOptions& options);
std::unique_ptr<SampleSource> open_npy_source(const std::string& path, const ReadOptions& options);

}  // namespace fasctrack::io::detail
