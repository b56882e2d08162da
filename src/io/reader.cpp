// RecordingReader: per-format sample sources (source.hpp) behind io::read's
// own finishing step.

#include <fasctrack/io/reader.hpp>

#include "io/common.hpp"
#include "io/source.hpp"

#include <algorithm>
#include <stdexcept>

namespace fasctrack::io {

struct RecordingReader::Impl {
  ReadOptions options;
  std::unique_ptr<detail::SampleSource> source;  // null for CSV, read whole
  Recording whole;                               // CSV only
  Recording header;
  std::vector<Index> rows;      // source row of each output channel
  std::vector<double> scale;    // sidecar unit correction per output channel (npy), 1 otherwise
  SampleType out_type = SampleType::float64;
  Index n = 0;
  Index pos = 0;

  template <class D>
  SampleMatrix block(Index start, Index count) {
    SampleMatrix decoded = RowMatrix<D>(static_cast<Index>(source->meta.channels.size()), count);
    source->read(start, decoded);
    const auto& m = std::get<RowMatrix<D>>(decoded);
    RowMatrix<D> out(static_cast<Index>(rows.size()), count);
    for (std::size_t i = 0; i < rows.size(); ++i) {
      out.row(static_cast<Index>(i)) = m.row(rows[i]);
      // finish() multiplies the row by the same factor in the same type.
      if (scale[i] != 1.0) out.row(static_cast<Index>(i)) *= static_cast<D>(scale[i]);
    }
    if (out_type == SampleType::float32 && std::is_same_v<D, double>) return RowMatrix<float>(out.template cast<float>());
    return out;
  }
};

RecordingReader::RecordingReader(const std::string& path, const ReadOptions& options)
    : impl_(std::make_unique<Impl>()) {
  Impl& s = *impl_;
  s.options = options;
  const Format format = options.format == Format::automatic ? format_from_path(path) : options.format;
  switch (format) {
    case Format::edf:
    case Format::bdf: s.source = detail::open_edf_source(path, options); break;
    case Format::wfdb: s.source = detail::open_wfdb_source(path, options); break;
    case Format::npy: s.source = detail::open_npy_source(path, options); break;
    case Format::csv: {
      ReadOptions whole = options;
      whole.max_bytes = 0;
      s.whole = read_csv(path, whole);
      s.header = s.whole;
      s.n = s.whole.n_samples();
      s.out_type = s.whole.sample_type();
      std::visit([](auto& m) { m.resize(m.rows(), 0); }, s.header.samples);
      return;
    }
    case Format::automatic: throw std::logic_error("RecordingReader: unreachable format");
  }
  // Run io::read's finishing step (sidecars, channel selection, sample type,
  // validation) on a one-sample stand-in of ones: afterwards its channels are
  // io::read's, and each row holds the factor the sidecars scaled it by.
  Recording probe = s.source->meta;
  const auto rows0 = static_cast<Index>(probe.channels.size());
  if (s.source->decoded_type == SampleType::float32) probe.samples = RowMatrix<float>(RowMatrix<float>::Ones(rows0, 1));
  else probe.samples = RowMatrix<double>(RowMatrix<double>::Ones(rows0, 1));
  detail::finish(probe, options, s.source->default_type);
  s.out_type = probe.sample_type();
  s.n = s.source->n_samples;
  for (Index c = 0; c < probe.n_channels(); ++c) {
    const auto& name = probe.channels[static_cast<std::size_t>(c)].name;
    const auto& from = s.source->meta.channels;
    const auto it = std::find_if(from.begin(), from.end(), [&](const ChannelInfo& ch) { return ch.name == name; });
    if (it == from.end()) throw std::logic_error("RecordingReader: channel '" + name + "' lost its source row");
    s.rows.push_back(static_cast<Index>(it - from.begin()));
    s.scale.push_back(std::visit([&](const auto& m) { return static_cast<double>(m(c, 0)); }, probe.samples));
  }
  s.header = std::move(probe);
  std::visit([](auto& m) { m.resize(m.rows(), 0); }, s.header.samples);
}

RecordingReader::~RecordingReader() = default;
RecordingReader::RecordingReader(RecordingReader&&) noexcept = default;
RecordingReader& RecordingReader::operator=(RecordingReader&&) noexcept = default;

const Recording& RecordingReader::header() const { return impl_->header; }
Index RecordingReader::n_channels() const { return static_cast<Index>(impl_->header.channels.size()); }
Index RecordingReader::n_samples() const { return impl_->n; }
double RecordingReader::fs() const { return impl_->header.fs; }
SampleType RecordingReader::sample_type() const { return impl_->out_type; }
Index RecordingReader::position() const { return impl_->pos; }

void RecordingReader::seek(Index sample) {
  if (sample < 0 || sample > impl_->n)
    throw std::out_of_range(impl_->header.source + ": seek to sample " + std::to_string(sample) + " outside [0, " +
                            std::to_string(impl_->n) + "]");
  impl_->pos = sample;
}

SampleMatrix RecordingReader::read(Index max_samples) {
  Impl& s = *impl_;
  if (max_samples <= 0)
    throw std::invalid_argument(s.header.source + ": max_samples must be positive, got " + std::to_string(max_samples));
  const Index count = std::min(max_samples, s.n - s.pos);
  const Index start = s.pos;
  if (!s.source) {
    s.pos += count;
    return std::visit([&](const auto& m) -> SampleMatrix { return m.middleCols(start, count).eval(); }, s.whole.samples);
  }
  const bool f32_decode = s.source->decoded_type == SampleType::float32;
  // The block handed out, plus the decoded block it is made from.
  const std::uint64_t decode_bytes = static_cast<std::uint64_t>(s.source->meta.channels.size()) *
                                     static_cast<std::uint64_t>(count) * (f32_decode ? 4 : 8);
  detail::check_memory(s.header.source, s.options, s.rows.size(), static_cast<std::uint64_t>(count),
                       s.out_type == SampleType::float32 ? 4 : 8, decode_bytes);
  SampleMatrix out = f32_decode ? s.block<float>(start, count) : s.block<double>(start, count);
  s.pos += count;
  return out;
}

}  // namespace fasctrack::io
