// Detection streamed from a file (detect_file.hpp).

#include <fasctrack/stream/detect_file.hpp>

#include "core/parallel.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

namespace fasctrack {

namespace {

template <class T>
DetectionResult run(io::RecordingReader& reader, const DetectOptions& options, const ProgressCallback& progress,
                    Index block) {
  const Recording& h = reader.header();
  const Index n = reader.n_samples();
  // The same spans detect(const Recording&) blanks, over the whole length.
  const auto spans = options.reject_by_annotation ? bad_annotation_spans(h.annotations, h.fs, n)
                                                  : std::vector<std::pair<Index, Index>>{};
  StreamingDetector<T> detector(h.fs, h.channels, options);
  const Index first = reader.position();
  while (reader.position() < n) {
    const Index start = reader.position();
    SampleMatrix chunk = reader.read(block);
    auto& m = std::get<RowMatrix<T>>(chunk);
    const Index stop = start + m.cols();
    for (const auto& [a, b] : spans) {
      const Index lo = std::max(a, start), hi = std::min(b, stop);
      if (lo < hi) m.middleCols(lo - start, hi - lo).setConstant(std::numeric_limits<T>::quiet_NaN());
    }
    detector.process(SignalView<T>(m));
    if (progress && !progress(static_cast<double>(stop - first) / static_cast<double>(std::max<Index>(1, n - first))))
      throw Cancelled();
  }
  detector.flush();
  return detector.result();
}

}  // namespace

DetectionResult detect(io::RecordingReader& reader, const DetectOptions& options, const ProgressCallback& progress,
                       Index block_samples) {
  if (block_samples < 0) throw std::invalid_argument("block_samples: must be >= 0, got " + std::to_string(block_samples));
  const Index block = block_samples > 0 ? block_samples
                                        : std::max<Index>(1, static_cast<Index>(std::lround(10.0 * reader.fs())));
  if (reader.n_samples() == 0 || reader.n_channels() == 0)
    throw std::invalid_argument(reader.header().source + ": the recording holds no samples");
  // An offline job, as detect() is: 0 threads means every core.
  DetectOptions resolved = options;
  resolved.n_threads = detail::resolve_threads(options.n_threads);
  if (reader.sample_type() == SampleType::float32) return run<float>(reader, resolved, progress, block);
  return run<double>(reader, resolved, progress, block);
}

DetectionResult detect_file(const std::string& path, const io::ReadOptions& read_options, const DetectOptions& options,
                            const ProgressCallback& progress, Index block_samples, Recording* header) {
  io::RecordingReader reader(path, read_options);
  if (header != nullptr) *header = reader.header();
  return detect(reader, options, progress, block_samples);
}

}  // namespace fasctrack
