// RecordingReader: concatenated chunks equal io::read exactly, per format, on
// the bundled example, real files and synthetic layouts; and detection
// streamed from a file equals detection on the whole recording.

#include "io/io_test_util.hpp"

#include <fasctrack/io/read.hpp>
#include <fasctrack/io/reader.hpp>
#include <fasctrack/io/write.hpp>
#include <fasctrack/stream/detect_file.hpp>

#include <cmath>
#include <cstring>
#include <random>

using namespace fasctrack;
using iotest::real;

namespace {

std::string example() { return std::string(FASCTRACK_SOURCE_DIR) + "/data/sub-01_ses-01_task-rest_emg.edf"; }

template <class T>
bool same_bits(const RowMatrix<T>& a, const RowMatrix<T>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols()) return false;
  // Bitwise: NaN where io::read has NaN, and every number to the last bit.
  return a.size() == 0 || std::memcmp(a.data(), b.data(), sizeof(T) * static_cast<std::size_t>(a.size())) == 0;
}

template <class T>
RowMatrix<T> concat(io::RecordingReader& reader, Index chunk) {
  RowMatrix<T> all(reader.n_channels(), reader.n_samples());
  Index at = 0;
  for (;;) {
    SampleMatrix block = reader.read(chunk);
    REQUIRE(std::holds_alternative<RowMatrix<T>>(block));
    const auto& m = std::get<RowMatrix<T>>(block);
    REQUIRE(m.rows() == reader.n_channels());
    if (m.cols() == 0) break;
    REQUIRE(m.cols() <= chunk);
    REQUIRE(at + m.cols() <= reader.n_samples());
    all.middleCols(at, m.cols()) = m;
    at += m.cols();
  }
  REQUIRE(at == reader.n_samples());
  return all;
}

// Every chunking of the file gives io::read's samples and metadata.
void require_same_as_read(const std::string& path, const io::ReadOptions& options = {}) {
  INFO("file: " << path);
  const Recording whole = io::read(path, options);
  for (const Index chunk : {Index{1} << 30, Index{4096}, Index{1000}, Index{333}, Index{7}}) {
    if (chunk < 100 && whole.n_samples() > 200000) continue;  // tiny chunks of a long file: slow, nothing new
    INFO("chunk " << chunk);
    io::RecordingReader reader(path, options);
    const Recording& h = reader.header();
    CHECK(reader.n_samples() == whole.n_samples());
    CHECK(reader.n_channels() == whole.n_channels());
    CHECK(reader.sample_type() == whole.sample_type());
    CHECK(h.fs == whole.fs);
    CHECK(h.source == whole.source);
    CHECK(h.format == whole.format);
    CHECK(h.start_time == whole.start_time);
    CHECK(h.warnings == whole.warnings);
    CHECK(h.power_line_hz == whole.power_line_hz);
    REQUIRE(h.channels.size() == whole.channels.size());
    for (std::size_t c = 0; c < h.channels.size(); ++c) {
      CHECK(h.channels[c].name == whole.channels[c].name);
      CHECK(h.channels[c].type == whole.channels[c].type);
      CHECK(h.channels[c].muscle == whole.channels[c].muscle);
      CHECK(h.channels[c].source_unit == whole.channels[c].source_unit);
      CHECK(h.channels[c].marked_bad == whole.channels[c].marked_bad);
      CHECK(h.channels[c].grid == whole.channels[c].grid);
    }
    REQUIRE(h.annotations.size() == whole.annotations.size());
    for (std::size_t a = 0; a < h.annotations.size(); ++a) {
      CHECK(h.annotations[a].onset_s == whole.annotations[a].onset_s);
      CHECK(h.annotations[a].description == whole.annotations[a].description);
    }
    if (whole.sample_type() == SampleType::float32)
      CHECK(same_bits(concat<float>(reader, chunk), std::get<RowMatrix<float>>(whole.samples)));
    else
      CHECK(same_bits(concat<double>(reader, chunk), std::get<RowMatrix<double>>(whole.samples)));
  }
}

std::string npy_bytes(const std::string& descr, bool fortran, const std::string& shape, const std::string& data) {
  std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") +
                       ", 'shape': " + shape + ", }";
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header.size() & 0xFF);
  out += static_cast<char>(header.size() >> 8);
  return out + header + data;
}

}  // namespace

TEST_CASE("RecordingReader chunks equal io::read: EDF/BDF", "[io][reader]") {
  require_same_as_read(example());  // EDF+ through EDFlib, BIDS sidecars, annotations
  io::ReadOptions o;
  o.sample_type = SampleType::float32;
  o.channels = {"EMG e6", "EMG e1"};
  require_same_as_read(example(), o);  // channel choice and order, float32
  require_same_as_read(real("mne-python-edf-bdf/test.bdf"));  // EDFlib refuses it: fasctrack's own decoder
  require_same_as_read(real("mne-python-edf-bdf/test_edf_stim_channel.edf"));
  require_same_as_read(real("mne-python-edf-bdf/duplicate_channel_labels.edf"));
}

TEST_CASE("RecordingReader chunks equal io::read: WFDB", "[io][reader]") {
  require_same_as_read(real("physionet-emgdb/emg_healthy.hea"));
  require_same_as_read(real("physionet-emgdb/emg_neuropathy.hea"));  // wrap-around warnings from a full pass

  const std::string dir = iotest::scratch("reader_wfdb");
  // 212 with three interleaved signals (odd frame size: pairs straddle
  // frames), a skew, a checksum and the invalid sentinel.
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> v(-2000, 2000);
  const int n = 1001;
  std::vector<int> s;
  for (int t = 0; t < n; ++t)
    for (int c = 0; c < 3; ++c) s.push_back(t == 500 && c == 1 ? -2048 : v(rng));
  iotest::write_bytes(dir + "/r.dat", iotest::pack212(s));
  iotest::write_bytes(dir + "/r.hea", "r 3 1000 " + std::to_string(n) +
                                          "\n"
                                          "r.dat 212 200/mV 12 0 0 123 0 EMG a\n"
                                          "r.dat 212:3 200/mV 12 0 0 0 0 EMG b\n"
                                          "r.dat 212 2/uV 12 0 0 0 0 EMG c\n");
  require_same_as_read(dir + "/r.hea");
  io::ReadOptions o;
  o.channels = {"EMG c", "EMG a"};
  o.sample_type = SampleType::float32;
  require_same_as_read(dir + "/r.hea", o);
}

TEST_CASE("RecordingReader chunks equal io::read: NPY layouts and CSV", "[io][reader]") {
  const std::string dir = iotest::scratch("reader_npy");
  std::mt19937 rng(7);
  std::normal_distribution<double> g(0.0, 30.0);
  const int C = 3, N = 2501;
  std::string f8, f4_be, i2;
  for (int k = 0; k < C * N; ++k) {
    const double x = g(rng);
    char b[8];
    std::memcpy(b, &x, 8);
    f8.append(b, 8);
    const float y = static_cast<float>(x);
    std::uint32_t u;
    std::memcpy(&u, &y, 4);
    for (int s = 3; s >= 0; --s) f4_be += static_cast<char>((u >> (8 * s)) & 0xFF);
    const auto z = static_cast<std::int16_t>(std::lround(x));
    i2 += static_cast<char>(z & 0xFF);
    i2 += static_cast<char>((static_cast<std::uint16_t>(z) >> 8) & 0xFF);
  }
  const std::string shape = "(" + std::to_string(C) + ", " + std::to_string(N) + ")";
  const std::string shape_t = "(" + std::to_string(N) + ", " + std::to_string(C) + ")";
  iotest::write_bytes(dir + "/c.npy", npy_bytes("<f8", false, shape, f8));
  iotest::write_bytes(dir + "/f.npy", npy_bytes("<f8", true, shape, f8));
  iotest::write_bytes(dir + "/t.npy", npy_bytes(">f4", false, shape_t, f4_be));
  iotest::write_bytes(dir + "/i.npy", npy_bytes("<i2", false, shape, i2));
  iotest::write_bytes(dir + "/one.npy", npy_bytes("<f8", false, "(" + std::to_string(N) + ",)", f8.substr(0, 8 * N)));
  io::ReadOptions o;
  o.fs = 1000.0;
  require_same_as_read(dir + "/c.npy", o);
  require_same_as_read(dir + "/f.npy", o);  // Fortran order: channels vary fastest
  require_same_as_read(dir + "/one.npy", o);
  o.scale_to_uv = 1e3;
  require_same_as_read(dir + "/i.npy", o);
  o.samples_first = true;
  o.sample_type = SampleType::float64;
  require_same_as_read(dir + "/t.npy", o);  // big-endian float32 read as float64, samples first

  // A channels.tsv unit replaces scale_to_uv for one channel (npy has no unit).
  const std::string bids = dir + "/sub-01_task-rest_emg.npy";
  iotest::write_bytes(bids, npy_bytes("<f8", false, shape, f8));
  iotest::write_bytes(dir + "/sub-01_task-rest_channels.tsv", "name\ttype\tunits\nch1\tEMG\tmV\nch2\tEMG\tuV\nch3\tEMG\tuV\n");
  io::ReadOptions b;
  b.fs = 1000.0;
  require_same_as_read(bids, b);
  b.channels = {"ch3", "ch1"};
  b.sample_type = SampleType::float32;
  require_same_as_read(bids, b);

  require_same_as_read(real("biosppy-emg/emg.txt"));  // CSV: read whole, handed out in blocks
}

TEST_CASE("RecordingReader errors and seeking", "[io][reader]") {
  iotest::require_error<ReadError>([] { io::RecordingReader r("/nonexistent/x.edf"); }, "/nonexistent/x.edf", "");
  const std::string dir = iotest::scratch("reader_errors");
  iotest::write_bytes(dir + "/empty.edf", "");
  iotest::require_error<ReadError>([&] { io::RecordingReader r(dir + "/empty.edf"); }, dir + "/empty.edf", "empty file");
  // A truncated file is refused at open, as io::read refuses it.
  const std::string bytes = iotest::read_bytes(example());
  iotest::write_bytes(dir + "/short.edf", bytes.substr(0, bytes.size() / 2));
  iotest::require_error<ReadError>([&] { io::RecordingReader r(dir + "/short.edf"); }, dir + "/short.edf", "truncated");

  io::RecordingReader r(example());
  const Recording whole = io::read(example());
  const auto& x = std::get<RowMatrix<double>>(whole.samples);
  r.seek(12345);
  const auto block = std::get<RowMatrix<double>>(r.read(100));
  CHECK(same_bits<double>(block, x.middleCols(12345, 100)));
  CHECK(r.position() == 12445);
  r.seek(r.n_samples());
  CHECK(std::get<RowMatrix<double>>(r.read(10)).cols() == 0);
  CHECK_THROWS_AS(r.seek(r.n_samples() + 1), std::out_of_range);
  CHECK_THROWS_AS(r.read(0), std::invalid_argument);
  io::ReadOptions tight;
  tight.max_bytes = 1000;  // bounds each block, not the file
  io::RecordingReader small(example(), tight);
  CHECK(std::get<RowMatrix<double>>(small.read(5)).cols() == 5);
  CHECK_THROWS_AS(small.read(100000), ReadError);
}

TEST_CASE("Detection streamed from a file equals detection on the whole recording", "[io][reader][detect]") {
  // The example has BAD annotations? Add one so the blanking path is exercised.
  const std::string dir = iotest::scratch("reader_detect");
  Recording rec = io::read(example());
  rec.annotations.push_back({20.25, 3.5, "BAD_movement"});
  rec.annotations.push_back({40.0, 0.001, "bad blink"});
  const std::string path = dir + "/with_bad.edf";
  io::write_edf(path, rec);

  for (const std::string& file : {example(), path}) {
    INFO(file);
    const Recording whole = io::read(file);
    const DetectionResult a = detect(whole);
    for (const Index block : {Index{0}, Index{777}, Index{100000}}) {
      Recording header;
      const DetectionResult b = detect_file(file, {}, {}, {}, block, &header);
      CHECK(header.channels.size() == whole.channels.size());
      REQUIRE(a.events.size() == b.events.size());
      for (std::size_t i = 0; i < a.events.size(); ++i) {
        CHECK(a.events[i].sample == b.events[i].sample);
        CHECK(a.events[i].channel == b.events[i].channel);
        CHECK(a.events[i].unit == b.events[i].unit);
        CHECK(a.events[i].amplitude_uv == b.events[i].amplitude_uv);
      }
      REQUIRE(a.masks.size() == b.masks.size());
      for (std::size_t i = 0; i < a.masks.size(); ++i) {
        CHECK(a.masks[i].start == b.masks[i].start);
        CHECK(a.masks[i].stop == b.masks[i].stop);
      }
      CHECK(a.summary.clean_rest_s == b.summary.clean_rest_s);
      CHECK(a.summary.rate.rate_per_min == b.summary.rate.rate_per_min);
      CHECK(a.units.size() == b.units.size());
    }
  }
  // The BAD spans were masked (else the two files would give one result).
  const DetectionResult plain = detect_file(example());
  const DetectionResult masked = detect_file(path);
  CHECK(masked.summary.excluded_bad_signal_s > plain.summary.excluded_bad_signal_s + 3.0);

  // Cancelling through the progress callback.
  CHECK_THROWS_AS(detect_file(example(), {}, {}, [](double) { return false; }), Cancelled);
}
