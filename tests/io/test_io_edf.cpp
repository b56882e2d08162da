// EDF / BDF reading on real files written by other software, writing, and
// every error path.

#include "io/io_test_util.hpp"

#include <fasctrack/io/read.hpp>
#include <fasctrack/io/write.hpp>

#include <cmath>

using namespace fasctrack;
using iotest::real;

namespace {

const std::string kBdf = "mne-python-edf-bdf/test.bdf";
const std::string kStim = "mne-python-edf-bdf/test_edf_stim_channel.edf";
const std::string kDup = "mne-python-edf-bdf/duplicate_channel_labels.edf";

Recording synthetic(Index channels, Index samples, double fs) {
  Recording rec;
  rec.fs = fs;
  RowMatrix<double> m(channels, samples);
  for (Index c = 0; c < channels; ++c)
    for (Index t = 0; t < samples; ++t)
      m(c, t) = 100.0 * (c + 1) * std::sin(0.05 * static_cast<double>(t) * (c + 1)) + 3.0 * c;
  rec.samples = m;
  for (Index c = 0; c < channels; ++c) {
    ChannelInfo ch;
    ch.name = "EMG" + std::to_string(c + 1);
    rec.channels.push_back(ch);
  }
  rec.start_time = "2021-03-04T05:06:07.25";
  rec.annotations = {{0.5, 0.0, "start"}, {1.25, 0.5, "fasciculation"}, {2.0, 1.0, "movement"}};
  return rec;
}

}  // namespace

TEST_CASE("BDF from BioSemi matches the EEGLAB decode", "[io][edf]") {
  const auto rec = io::read(real(kBdf));
  CHECK(rec.format == "bdf");
  CHECK(rec.fs == 2048.0);
  REQUIRE(rec.n_channels() == 72);  // 73 signals minus Status
  CHECK(rec.n_samples() == 2048);
  CHECK(rec.start_time == "2013-08-01T13:21:46");
  CHECK(rec.channels[0].name == "Fp1");
  CHECK(rec.channels[64].name == "EXG1");
  CHECK(rec.channels[71].name == "EXG8");
  CHECK(rec.channels[0].type == "EMG");  // no type prefix in BioSemi labels
  CHECK(rec.channels[0].source_unit == "uV");
  CHECK(iotest::has_warning(rec, "'Status' excluded", "Boolean"));
  // EDFlib refuses this file (right-aligned record count); the fallback decodes it.
  CHECK(iotest::has_warning(rec, "EDFlib refused", "not left-aligned"));

  // From scipy.io.loadmat("test_bdf_eeglab.mat")["data"] (single, uV, EEGLAB's BioSemi reader).
  struct Ref {
    Index row, col;
    double value;
  };
  const Ref refs[] = {{0, 0, 14660.58203125},     {0, 1, 14655.14453125},   {0, 2047, 14639.51953125},
                      {1, 0, 12457.1796875},      {31, 1000, 22306.505859375}, {63, 2047, 692.9205932617188},
                      {64, 0, -259395.46875},     {71, 2047, -259405.46875}, {70, 5, 1004.9512939453125}};
  const auto& x = iotest::f64(rec);
  for (const auto& r : refs) {
    INFO("row " << r.row << " col " << r.col);
    CHECK(std::abs(x(r.row, r.col) - r.value) <= 1.2e-7 * std::abs(r.value));
  }
}

TEST_CASE("BDF Status channel kept on request, in its own unit", "[io][edf]") {
  io::ReadOptions o;
  o.include_non_voltage = true;
  const auto rec = io::read(real(kBdf), o);
  REQUIRE(rec.n_channels() == 73);
  const auto& status = rec.channels[72];
  CHECK(status.name == "Status");
  CHECK(status.source_unit == "Boolean");
  CHECK(status.type == "MISC");
  CHECK(iotest::has_warning(rec, "'Status' kept in its own unit"));
  // Digital range equals physical range, so the value is the raw 24-bit word.
  CHECK(iotest::f64(rec)(72, 0) == -6815744.0);
}

TEST_CASE("EDF with 9.59375 s data records gives 128 Hz", "[io][edf]") {
  const auto rec = io::read(real(kStim));
  CHECK(rec.format == "edf");
  CHECK(rec.fs == 128.0);
  REQUIRE(rec.n_channels() == 25);
  CHECK(rec.n_samples() == 1228);
  CHECK(rec.start_time == "2015-06-02T10:41:57");
  CHECK(rec.channels[0].name == "EEG Fp1");
  CHECK(rec.channels[0].type == "EEG");
  CHECK(rec.channels[19].type == "EOG");
  CHECK(rec.channels[22].type == "ECG");
  CHECK(rec.channels[24].name == "DIG DTRIG");
  CHECK(rec.warnings.empty());
  // pyedflib readSignal: EEG Fp1 [0], [1], [-1]; EEG Fp2 [0]; huge DC offsets preserved.
  const auto& x = iotest::f64(rec);
  CHECK(x(0, 0) == Approx(175940.65629053177).epsilon(1e-12));
  CHECK(x(0, 1) == Approx(175941.09384298464).epsilon(1e-12));
  CHECK(x(0, 1227) == Approx(175924.28145265888).epsilon(1e-12));
  CHECK(x(1, 0) == Approx(-217680.26440833142).epsilon(1e-12));
  CHECK(x.row(24).maxCoeff() == Approx(100.0));
}

TEST_CASE("EDF+ with duplicate labels renames them", "[io][edf]") {
  const auto rec = io::read(real(kDup));
  CHECK(rec.fs == 250.0);
  REQUIRE(rec.n_channels() == 3);
  CHECK(rec.n_samples() == 2500);
  CHECK(rec.channels[0].name == "EEG F1-Ref");
  CHECK(rec.channels[1].name == "EEG F2-Ref");
  CHECK(rec.channels[2].name == "EEG F1-Ref (2)");
  CHECK(iotest::has_warning(rec, "duplicate channel label 'EEG F1-Ref'"));
  CHECK(rec.start_time == "2018-04-01T14:12:44");
  CHECK(rec.annotations.empty());  // only time-keeping TALs
  const auto& x = iotest::f64(rec);
  // pyedflib readSignal values.
  CHECK(x(0, 0) == Approx(44.6).epsilon(1e-12));
  CHECK(x(1, 0) == Approx(25.6).epsilon(1e-12));
  CHECK(x(2, 2499) == Approx(-10.8).epsilon(1e-12));
}

TEST_CASE("EDF options: channels, sample type, fs check", "[io][edf]") {
  io::ReadOptions o;
  o.channels = {"EEG F1-Ref (2)", "EEG F1-Ref"};
  o.sample_type = SampleType::float32;
  const auto rec = io::read(real(kDup), o);
  REQUIRE(rec.n_channels() == 2);
  CHECK(rec.channels[0].name == "EEG F1-Ref (2)");
  CHECK(iotest::f32(rec)(1, 0) == Approx(44.6f));

  io::ReadOptions bad;
  bad.channels = {"Cz"};
  iotest::require_error<std::invalid_argument>([&] { io::read(real(kDup), bad); }, real(kDup), "no channel named 'Cz'");

  io::ReadOptions fs;
  fs.fs = 500;
  iotest::require_error<ReadError>([&] { io::read(real(kDup), fs); }, real(kDup), "fs given as 500 Hz but the file says 250 Hz");
}

TEST_CASE("EDF path with spaces and non-ASCII characters", "[io][edf]") {
  const auto dir = iotest::scratch("edf_unicode") + "/dir with spaces ü";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/récording 1 µV.edf";
  iotest::write_bytes(path, iotest::read_bytes(real(kDup)));
  const auto rec = io::read(path);
  CHECK(rec.n_channels() == 3);
  CHECK(rec.source == path);
}

TEST_CASE("write_edf round-trips through EDFlib", "[io][edf][write]") {
  const auto dir = iotest::scratch("edf_write");
  for (const bool bdf : {false, true}) {
    DYNAMIC_SECTION((bdf ? "BDF+" : "EDF+")) {
      const Recording rec = synthetic(3, 2500, 1000.0);  // 2.5 s -> padded to 3 records
      const std::string path = dir + (bdf ? "/rt.bdf" : "/rt.edf");
      io::EdfWriteOptions w;
      w.bdf = bdf;
      io::write_edf(path, rec, w);
      CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
      const auto back = io::read(path);
      CHECK(back.format == (bdf ? "bdf" : "edf"));
      CHECK(back.fs == 1000.0);
      REQUIRE(back.n_channels() == 3);
      CHECK(back.n_samples() == 3000);
      CHECK(back.channels[1].name == "EMG2");
      CHECK(back.channels[1].source_unit == "uV");
      CHECK(back.start_time == "2021-03-04T05:06:07.25");
      CHECK(back.warnings.empty());
      const auto& x = std::get<RowMatrix<double>>(rec.samples);
      const auto& y = iotest::f64(back);
      for (Index c = 0; c < 3; ++c) {
        const double range = 2 * 1.1 * x.row(c).cwiseAbs().maxCoeff();
        const double step = range / (bdf ? 16777215.0 : 65535.0);
        const double err = (y.row(c).head(2500) - x.row(c)).cwiseAbs().maxCoeff();
        INFO("channel " << c << " err " << err << " step " << step);
        CHECK(err <= 0.5 * step * 1.001);  // rounded to the nearest step
        CHECK(y.row(c).tail(500).cwiseAbs().maxCoeff() <= step);  // zero padding
      }
      REQUIRE(back.annotations.size() == 3);
      CHECK(back.annotations[1].onset_s == Approx(1.25));
      CHECK(back.annotations[1].duration_s == Approx(0.5));
      CHECK(back.annotations[1].description == "fasciculation");
      CHECK(back.annotations[0].duration_s == 0.0);
    }
  }
}

TEST_CASE("write_edf float32, fixed range, unknown start, bad input", "[io][edf][write]") {
  const auto dir = iotest::scratch("edf_write2");
  Recording rec = synthetic(2, 1000, 500.0);
  rec.samples = std::get<RowMatrix<double>>(rec.samples).cast<float>().eval();
  rec.start_time.clear();
  rec.annotations.clear();
  io::EdfWriteOptions w;
  w.physical_range_uv = 1000.0;
  io::write_edf(dir + "/f.edf", rec, w);
  const auto back = io::read(dir + "/f.edf");
  CHECK(back.start_time == "1985-01-01T00:00:00");
  CHECK(back.n_samples() == 1000);
  CHECK((iotest::f64(back) - std::get<RowMatrix<float>>(rec.samples).cast<double>()).cwiseAbs().maxCoeff() <=
        2000.0 / 65535.0);

  Recording odd = synthetic(1, 100, 256.5);
  iotest::require_error<std::invalid_argument>([&] { io::write_edf(dir + "/odd.edf", odd); }, dir + "/odd.edf",
                                               "whole number of samples per second");
  Recording nan = synthetic(1, 100, 100.0);
  std::get<RowMatrix<double>>(nan.samples)(0, 3) = std::nan("");
  iotest::require_error<std::invalid_argument>([&] { io::write_edf(dir + "/nan.edf", nan); }, dir + "/nan.edf", "NaN");
  const Recording ok = synthetic(1, 100, 100.0);
  iotest::require_error<WriteError>([&] { io::write_edf(dir + "/missing/dir/x.edf", ok); }, dir + "/missing/dir/x.edf",
                                    "does not exist");
}

TEST_CASE("EDF fallback reader decodes annotations like EDFlib", "[io][edf]") {
  const auto dir = iotest::scratch("edf_fallback");
  const Recording rec = synthetic(2, 3000, 1000.0);
  io::write_edf(dir + "/a.edf", rec);
  std::string bytes = iotest::read_bytes(dir + "/a.edf");
  const auto via_edflib = io::read(dir + "/a.edf");
  REQUIRE(bytes.substr(236, 8) == "3       ");
  bytes.replace(236, 8, "   3    ");  // right-aligned: EDFlib refuses, the fallback reads
  iotest::write_bytes(dir + "/b.edf", bytes);
  const auto own = io::read(dir + "/b.edf");
  CHECK(iotest::has_warning(own, "EDFlib refused", "not left-aligned"));
  CHECK(own.start_time == via_edflib.start_time);
  CHECK(own.start_time == "2021-03-04T05:06:07.25");
  CHECK(iotest::f64(own) == iotest::f64(via_edflib));
  REQUIRE(own.annotations.size() == via_edflib.annotations.size());
  for (std::size_t i = 0; i < own.annotations.size(); ++i) {
    CHECK(own.annotations[i].onset_s == Approx(via_edflib.annotations[i].onset_s));
    CHECK(own.annotations[i].duration_s == Approx(via_edflib.annotations[i].duration_s));
    CHECK(own.annotations[i].description == via_edflib.annotations[i].description);
  }
}

TEST_CASE("EDF+D: contiguous records read, gaps rejected", "[io][edf]") {
  const auto dir = iotest::scratch("edf_discont");
  const Recording rec = synthetic(1, 3000, 100.0);
  io::write_edf(dir + "/c.edf", rec);
  std::string bytes = iotest::read_bytes(dir + "/c.edf");
  REQUIRE(bytes.substr(192, 5) == "EDF+C");
  bytes[196] = 'D';
  iotest::write_bytes(dir + "/d.edf", bytes);
  const auto d = io::read(dir + "/d.edf");
  CHECK(iotest::has_warning(d, "discontinuous", "contiguous"));
  CHECK(d.n_samples() == 3000);

  // Time-keeping TALs include the 0.25 s subsecond start offset.
  const auto pos = bytes.find("+2.2500000\x14\x14");
  REQUIRE(pos != std::string::npos);
  bytes[pos + 1] = '7';  // record 2 now starts at 7 s: a gap
  iotest::write_bytes(dir + "/gap.edf", bytes);
  iotest::require_error<UnsupportedFormatError>([&] { io::read(dir + "/gap.edf"); }, dir + "/gap.edf",
                                                "discontinuous recording");
}

TEST_CASE("EDF/BDF error paths", "[io][edf][errors]") {
  const auto dir = iotest::scratch("edf_errors");
  const std::string bdf = iotest::read_bytes(real(kBdf));
  const std::string edf = iotest::read_bytes(real(kDup));

  SECTION("truncated data") {
    const auto p = dir + "/trunc.bdf";
    iotest::write_bytes(p, bdf.substr(0, 100000));
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "truncated: file is shorter than its header says");
  }
  SECTION("truncated signal header") {
    const auto p = dir + "/trunc_hdr.bdf";
    iotest::write_bytes(p, bdf.substr(0, 5000));
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "truncated: file is shorter than its header says");
  }
  SECTION("truncated fixed header") {
    const auto p = dir + "/trunc_fixed.edf";
    iotest::write_bytes(p, edf.substr(0, 200));
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "truncated");
  }
  SECTION("empty") {
    const auto p = dir + "/empty.edf";
    iotest::write_bytes(p, "");
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "empty file");
  }
  SECTION("garbage") {
    const auto p = dir + "/garbage.edf";
    std::string junk(4096, '\0');
    for (std::size_t i = 0; i < junk.size(); ++i) junk[i] = static_cast<char>((i * 7919 + 13) % 251);
    iotest::write_bytes(p, junk);
    iotest::require_error<UnsupportedFormatError>([&] { io::read(p); }, p, "not an EDF/BDF file");
  }
  SECTION("header claiming 10^8 records") {
    const auto p = dir + "/huge.edf";
    std::string b = edf;
    b.replace(236, 8, "99999999");
    iotest::write_bytes(p, b);
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "truncated: file is shorter than its header says");
  }
  SECTION("header claiming 9999 signals") {
    const auto p = dir + "/many.edf";
    std::string b = edf;
    b.replace(252, 4, "9999");
    iotest::write_bytes(p, b);
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "truncated: file is shorter than its header says");
  }
  SECTION("non-numeric field") {
    const auto p = dir + "/nan.edf";
    std::string b = edf;
    b.replace(244, 8, "abc     ");
    iotest::write_bytes(p, b);
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "data record duration field is 'abc     ', not a number");
  }
  SECTION("zero record duration") {
    const auto p = dir + "/zero_dur.edf";
    std::string b = edf;
    b.replace(244, 8, "0       ");
    iotest::write_bytes(p, b);
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "data record duration is 0");
  }
  SECTION("zero records") {
    const auto p = dir + "/zero_rec.edf";
    std::string b = edf.substr(0, 256 * 5);
    b.replace(236, 8, "0       ");
    iotest::write_bytes(p, b);
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "zero samples");
  }
  SECTION("-1 data records (unfinished recording) counted from the file size") {
    const auto p = dir + "/unfinished.edf";
    std::string b = edf;
    b.replace(236, 8, "-1      ");
    iotest::write_bytes(p, b);
    const auto rec = io::read(p);
    CHECK(rec.n_samples() == 2500);
    CHECK(iotest::has_warning(rec, "-1 data records", "using 10"));
  }
  SECTION("trailing bytes are reported") {
    const auto p = dir + "/extra.edf";
    iotest::write_bytes(p, edf + "xyz");
    const auto rec = io::read(p);
    CHECK(rec.n_samples() == 2500);
    CHECK(iotest::has_warning(rec, "3 bytes after the last complete data record ignored"));
  }
  SECTION("missing file") {
    const auto p = dir + "/nope.edf";
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "no such file");
  }
  SECTION("a directory") {
    const auto p = dir + "/folder.edf";
    std::filesystem::create_directories(p);
    iotest::require_error<ReadError>([&] { io::read(p); }, p, "is a directory");
  }
  SECTION("all channels excluded") {
    io::ReadOptions o;
    o.channels = {"Status"};
    iotest::require_error<std::invalid_argument>([&] { io::read(real(kBdf), o); }, real(kBdf),
                                                 "no channel named 'Status' (channel 'Status' excluded");
  }
}

TEST_CASE("EDF: channels at a minority rate are excluded with a warning", "[io][edf]") {
  const auto dir = iotest::scratch("edf_rates");
  // Rewrite the duplicate-label file so its third signal claims 125 samples per record.
  std::string b = iotest::read_bytes(real(kDup));
  const std::size_t ns = 4;
  const std::size_t spr_at = 256 + ns * (16 + 80 + 8 + 8 + 8 + 8 + 8 + 80);
  REQUIRE(b.substr(spr_at + 2 * 8, 8) == "250     ");
  b.replace(spr_at + 2 * 8, 8, "125     ");
  iotest::write_bytes(dir + "/rates.edf", b);
  // Records shrink, so the file is now longer than its header says: reported, not fatal.
  const auto rec = io::read(dir + "/rates.edf");
  CHECK(rec.n_channels() == 2);
  CHECK(iotest::has_warning(rec, "'EEG F1-Ref' excluded: sampled at 125 Hz", "250 Hz"));
}
