#pragma once
// Detection on a file streamed from disk: the recording is read and fed to
// the StreamingDetector block by block, so memory stays bounded by the block
// size whatever the recording's length. The engine's output does not depend
// on chunking, so the result equals detect(io::read(path, read_options)).

#include <fasctrack/io/reader.hpp>
#include <fasctrack/stream/detector.hpp>

#include <string>

namespace fasctrack {

/// Runs the detector over everything the reader has left (from position()),
/// block_samples at a time (0: 10 s of samples). Spans annotated "BAD..."
/// are blanked to NaN before the engine unless options.reject_by_annotation
/// is false, exactly as detect(const Recording&) does. progress gets the
/// fraction done after each block; returning false throws Cancelled.
DetectionResult detect(io::RecordingReader& reader, const DetectOptions& options = {},
                       const ProgressCallback& progress = {}, Index block_samples = 0);

/// Opens path with io::RecordingReader and runs the above. header receives
/// the recording's metadata (io::read's, without samples) when non-null.
DetectionResult detect_file(const std::string& path, const io::ReadOptions& read_options = {},
                            const DetectOptions& options = {}, const ProgressCallback& progress = {},
                            Index block_samples = 0, Recording* header = nullptr);

}  // namespace fasctrack
