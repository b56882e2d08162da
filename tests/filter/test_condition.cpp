// condition(): screening + mains + band-pass/notch, checked against SciPy.

#include <catch2/catch.hpp>

#include <fasctrack/filter/apply.hpp>
#include <fasctrack/filter/condition.hpp>
#include <fasctrack/filter/spectral.hpp>

#include "filter/emg_synth.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>

using namespace fasctrack;
using filter::ConditionOptions;
using filter::MainsMode;
using filter::MainsStatus;

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();

// Reproduced exactly in NumPy:
//   fs = 2000.0; n = 4000; i = np.arange(n)
//   x = (30*np.sin(2*np.pi*50.0*i/fs + 0.1) + 10*np.sin(2*np.pi*120.0*i/fs)
//        + 200*np.sin(2*np.pi*0.7*i/fs) + 0.5*(((i*7919) % 101) - 50))
RowMatrix<double> reference_signal() {
  const double fs = 2000.0;
  RowMatrix<double> x(1, 4000);
  for (Index i = 0; i < 4000; ++i) {
    const double t = static_cast<double>(i) / fs;
    x(0, i) = 30.0 * std::sin(2.0 * std::numbers::pi * 50.0 * static_cast<double>(i) / fs + 0.1) +
              10.0 * std::sin(2.0 * std::numbers::pi * 120.0 * static_cast<double>(i) / fs) +
              200.0 * std::sin(2.0 * std::numbers::pi * 0.7 * t) + 0.5 * static_cast<double>(((i * 7919) % 101) - 50);
  }
  return x;
}

struct Expected {
  Index sample;
  double value;
};

void check_samples(const RowMatrix<double>& y, const std::vector<Expected>& expected) {
  for (const Expected& e : expected) {
    INFO("sample " << e.sample);
    CHECK(y(0, e.sample) == Approx(e.value).epsilon(1e-8).margin(1e-8));
  }
}

// Synthetic recording: 10 uV of EMG-like noise, mains with harmonics (30 uV by
// default: more power than the EMG, so the raw channels are flagged
// excessive_mains), 20 uV of 0.5 Hz baseline wander and a DC offset per channel.
RowMatrix<double> recording(double fs, Index n, unsigned seed, double mains_hz = 50.0, double mains_uv = 30.0) {
  RowMatrix<double> x = test::emg_noise(4, n, fs, 10.0, 1.0, seed);
  if (mains_hz > 0.0) test::add_mains(x, fs, mains_hz, mains_uv, {0.3, 0.5}, seed + 1);
  for (Index c = 0; c < x.rows(); ++c)
    for (Index i = 0; i < n; ++i)
      x(c, i) += 20.0 * std::sin(2.0 * std::numbers::pi * 0.5 * static_cast<double>(i) / fs) + 250.0 * c;
  return x;
}

double psd_at(const RowMatrix<double>& x, Index channel, double fs, double f) {
  filter::WelchOptions o;
  o.nperseg = static_cast<Index>(2.0 * fs);
  const auto psd = filter::welch<double>(x.row(channel), fs, o);
  return psd.power(0, static_cast<Index>(std::llround(f / psd.freqs_hz[1])));
}

}  // namespace

TEST_CASE("condition reproduces scipy band-pass + notch comb, zero-phase and causal", "[filter][condition]") {
  const RowMatrix<double> x = reference_signal();
  // sos = np.vstack([scipy.signal.butter(4, [20, 500], btype='bandpass', fs=2000.0, output='sos')]
  //                 + [np.hstack(scipy.signal.iirnotch(50.0*k, 50.0*k/2.0, fs=2000.0))[None]
  //                    for k in range(1, 19)])      # 50 ... 900 Hz, below 0.95 * Nyquist
  SECTION("mains 50 Hz, zero-phase: scipy.signal.sosfiltfilt(sos, x)") {
    ConditionOptions o;
    o.mains = MainsMode::hz50;
    const auto r = filter::condition<double>(x, 2000.0, o);
    CHECK(r.sos.rows() == 4 + 18);
    CHECK(r.mains_hz == 50.0);
    CHECK(r.highpass_hz == 20.0);
    CHECK(r.lowpass_hz == 500.0);
    check_samples(r.data, {{0, -1.2784959939030565},
                           {1, 25.57913510448078},
                           {500, 11.085176168581199},
                           {1234, 13.70296215945719},
                           {2000, 9.4337182264533865},
                           {3999, 0.031336394775541079}});
  }
  SECTION("mains off: scipy.signal.sosfiltfilt(butter sos, x)") {
    ConditionOptions o;
    o.mains = MainsMode::off;
    const auto r = filter::condition<double>(x, 2000.0, o);
    CHECK(r.sos.rows() == 4);
    CHECK(r.mains_hz == 0.0);
    CHECK(r.mains.status == MainsStatus::not_found);
    check_samples(r.data, {{0, 1.7451926630784413},
                           {1, 32.680188964439665},
                           {500, 8.7024306355309609},
                           {1234, -8.6525911840793466},
                           {2000, 12.074736091109509},
                           {3999, -15.765168748791682}});
  }
  SECTION("causal: scipy.signal.sosfilt(sos, x)") {
    ConditionOptions o;
    o.mains = MainsMode::hz50;
    o.zero_phase = false;
    const auto r = filter::condition<double>(x, 2000.0, o);
    check_samples(r.data, {{0, -1.7193435688274306},
                           {1, -6.1334825547567267},
                           {500, -11.596986357596748},
                           {1234, -3.7094226248376336},
                           {2000, -5.4952365422634504},
                           {3999, 2.5243137689846411}});
  }
}

TEST_CASE("condition removes detected mains and keeps the EMG band", "[filter][condition]") {
  const double fs = GENERATE(1000.0, 2048.0, 4000.0);
  const double mains = GENERATE(50.0, 60.0);
  const Index n = static_cast<Index>(10.0 * fs);
  const RowMatrix<double> x = recording(fs, n, static_cast<unsigned>(fs + mains), mains);
  const auto r = filter::condition<double>(x, fs);
  INFO("fs " << fs << " mains " << mains);
  REQUIRE(r.mains.status == MainsStatus::found);
  CHECK(r.mains.frequency_hz == mains);
  CHECK(r.mains_hz == mains);
  CHECK(r.highpass_hz == 20.0);
  CHECK(r.lowpass_hz == std::min(500.0, 0.45 * fs));
  REQUIRE(r.data.rows() == 4);
  REQUIRE(r.data.cols() == n);
  REQUIRE(r.quality.size() == 4);
  // The screening describes the raw input, which mains dominates.
  for (const auto& q : r.quality) CHECK(q.flags == filter::quality_excessive_mains);

  // Exactly the zero-phase filter it reports.
  const RowMatrix<double> expected = filter::sosfiltfilt<double>(r.sos, x);
  CHECK((r.data - expected).cwiseAbs().maxCoeff() == 0.0);

  for (Index c = 0; c < 4; ++c) {
    // The mains line drops by far more than 30 dB...
    const double drop_db = 10.0 * std::log10(psd_at(x, c, fs, mains) / psd_at(r.data, c, fs, mains));
    INFO("channel " << c << " drop " << drop_db << " dB");
    CHECK(drop_db > 30.0);
    // ...and the 3rd harmonic too.
    CHECK(10.0 * std::log10(psd_at(x, c, fs, 3.0 * mains) / psd_at(r.data, c, fs, 3.0 * mains)) > 30.0);
    // Away from the notches, the EMG band passes unchanged (within 1 dB)...
    const double f_pass = mains == 50.0 ? 175.0 : 150.0;
    CHECK(std::abs(10.0 * std::log10(psd_at(x, c, fs, f_pass) / psd_at(r.data, c, fs, f_pass))) < 1.0);
    // ...while the wander and the DC offset are gone.
    CHECK(std::abs(r.data.row(c).mean()) < 1.0);
    CHECK(10.0 * std::log10(psd_at(x, c, fs, 0.5) / psd_at(r.data, c, fs, 0.5)) > 40.0);
  }
}

TEST_CASE("condition keeps NaN where the input was non-finite, and nowhere else", "[filter][condition]") {
  const double fs = 2000.0;
  RowMatrix<double> x = recording(fs, 20000, 11, 50.0, 5.0);
  x.block(1, 3000, 1, 200).setConstant(kNaN);
  x(1, 9000) = std::numeric_limits<double>::infinity();
  x(2, 0) = kNaN;
  x(2, 19999) = -std::numeric_limits<double>::infinity();
  for (bool zero_phase : {true, false}) {
    ConditionOptions o;
    o.zero_phase = zero_phase;
    const auto r = filter::condition<double>(x, fs, o);
    INFO("zero_phase " << zero_phase);
    Index mismatched = 0;
    Index not_nan = 0;
    for (Index c = 0; c < x.rows(); ++c)
      for (Index i = 0; i < x.cols(); ++i) {
        mismatched += std::isfinite(x(c, i)) != std::isfinite(r.data(c, i));
        not_nan += !std::isfinite(x(c, i)) && !std::isnan(r.data(c, i));
      }
    CHECK(mismatched == 0);
    CHECK(not_nan == 0);
    CHECK(r.quality[0].flags == filter::quality_ok);
    CHECK(r.quality[1].flags == filter::quality_non_finite);
    CHECK(r.quality[1].non_finite_runs ==
          std::vector<SampleRange>{{3000, 3200}, {9000, 9001}});
    CHECK(r.quality[2].flags == filter::quality_non_finite);
    CHECK(r.mains.status == MainsStatus::found);

    // Finite samples are the filter applied to the zero-filled input.
    RowMatrix<double> filled = x;
    for (Index i = 0; i < filled.size(); ++i)
      if (!std::isfinite(filled.data()[i])) filled.data()[i] = 0.0;
    const RowMatrix<double> expected =
        zero_phase ? filter::sosfiltfilt<double>(r.sos, filled) : filter::sosfilt<double>(r.sos, filled);
    double worst = 0.0;
    for (Index c = 0; c < x.rows(); ++c)
      for (Index i = 0; i < x.cols(); ++i)
        if (std::isfinite(x(c, i))) worst = std::max(worst, std::abs(r.data(c, i) - expected(c, i)));
    CHECK(worst == 0.0);
  }
}

TEST_CASE("condition follows MainsMode", "[filter][condition]") {
  const double fs = 2000.0;
  const RowMatrix<double> x = recording(fs, 20000, 21);  // 50 Hz mains
  ConditionOptions o;
  const Index bandpass_sections = 4;

  o.mains = MainsMode::off;
  auto r = filter::condition<double>(x, fs, o);
  CHECK(r.mains_hz == 0.0);
  CHECK(r.sos.rows() == bandpass_sections);
  CHECK(r.mains.status == MainsStatus::not_found);
  CHECK(r.quality[0].flags == filter::quality_excessive_mains);  // screening still looks for mains

  o.mains = MainsMode::hz60;  // forced, even though the data say 50 Hz
  r = filter::condition<double>(x, fs, o);
  CHECK(r.mains_hz == 60.0);
  CHECK(r.sos.rows() == bandpass_sections + 15);  // 60 ... 900 Hz
  CHECK(r.mains.status == MainsStatus::found);    // the report still tells the truth
  CHECK(r.mains.frequency_hz == 50.0);

  o.mains = MainsMode::hz50;
  r = filter::condition<double>(x, fs, o);
  CHECK(r.mains_hz == 50.0);
  CHECK(r.sos.rows() == bandpass_sections + 18);

  o.mains = MainsMode::automatic;
  o.notch.max_harmonics = 3;
  r = filter::condition<double>(x, fs, o);
  CHECK(r.mains_hz == 50.0);
  CHECK(r.sos.rows() == bandpass_sections + 3);

  // Clean data: nothing found, nothing notched.
  const RowMatrix<double> clean = recording(fs, 20000, 22, 0.0);
  r = filter::condition<double>(clean, fs);
  CHECK(r.mains.status == MainsStatus::not_found);
  CHECK(r.mains_hz == 0.0);
  CHECK(r.sos.rows() == bandpass_sections);
}

TEST_CASE("condition clamps the upper band edge at low sampling rates", "[filter][condition]") {
  const RowMatrix<double> x = recording(1000.0, 10000, 31);
  const auto r = filter::condition<double>(x, 1000.0);
  CHECK(r.lowpass_hz == 450.0);
  ConditionOptions o;
  o.lowpass_hz = 300.0;
  CHECK(filter::condition<double>(x, 1000.0, o).lowpass_hz == 300.0);
  // 50 Hz at 100 Hz sampling lies above the 45 Hz band edge: no notch needed or possible.
  o = ConditionOptions{};
  o.mains = MainsMode::hz50;
  const auto low = filter::condition<double>(x.leftCols(2000), 100.0, o);
  CHECK(low.lowpass_hz == 45.0);
  CHECK(low.mains_hz == 0.0);
  CHECK(low.sos.rows() == 4);
}

TEST_CASE("condition on float data", "[filter][condition]") {
  const double fs = 2000.0;
  const RowMatrix<double> x = recording(fs, 20000, 41);
  const RowMatrix<float> xf = x.cast<float>();
  const auto rf = filter::condition<float>(xf, fs);
  const auto rd = filter::condition<double>(xf.cast<double>(), fs);
  CHECK(rf.mains_hz == rd.mains_hz);
  CHECK((rf.data.cast<double>() - rd.data).cwiseAbs().maxCoeff() < 1e-4 * rd.data.cwiseAbs().maxCoeff());
}

TEST_CASE("condition survives short and odd input", "[filter][condition]") {
  const double fs = 2000.0;
  SECTION("shorter than the filtfilt pad: the pad shrinks instead of failing") {
    const RowMatrix<double> x = recording(fs, 40, 51);
    const auto r = filter::condition<double>(x, fs);
    CHECK(r.mains.status == MainsStatus::too_short);
    CHECK(r.data.allFinite());
    const RowMatrix<double> one = RowMatrix<double>::Constant(2, 1, 5.0);
    CHECK(filter::condition<double>(one, fs).data.allFinite());
  }
  SECTION("all-NaN and constant channels") {
    RowMatrix<double> x = recording(fs, 10000, 52);
    x.row(0).setConstant(kNaN);
    x.row(1).setConstant(-7.0);
    const auto r = filter::condition<double>(x, fs);
    CHECK(r.data.row(0).array().isNaN().all());
    CHECK(r.data.row(1).cwiseAbs().maxCoeff() < 1e-9);
    CHECK(r.data.bottomRows(2).allFinite());
    CHECK(filter::describe_flags(r.quality[0].flags) == "flat,non_finite");
    CHECK(filter::describe_flags(r.quality[1].flags) == "flat");
  }
}

TEST_CASE("condition rejects bad configuration with a message naming it", "[filter][condition]") {
  const RowMatrix<double> x = recording(2000.0, 4000, 61);
  auto message_of = [&](double fs, const ConditionOptions& o, const RowMatrix<double>& data) -> std::string {
    try {
      filter::condition<double>(data, fs, o);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "<no exception>";
  };
  ConditionOptions o;
  CHECK_THAT(message_of(0.0, o, x), Catch::Contains("fs"));
  CHECK_THAT(message_of(2000.0, o, RowMatrix<double>(2, 0)), Catch::Contains("x"));
  o.highpass_hz = 0.0;
  CHECK_THAT(message_of(2000.0, o, x), Catch::Contains("highpass_hz"));
  o = ConditionOptions{};
  o.lowpass_hz = -1.0;
  CHECK_THAT(message_of(2000.0, o, x), Catch::Contains("lowpass_hz"));
  o = ConditionOptions{};
  o.highpass_hz = 600.0;
  CHECK_THAT(message_of(2000.0, o, x), Catch::Contains("highpass_hz") && Catch::Contains("lowpass_hz"));
  o = ConditionOptions{};
  o.highpass_hz = 480.0;  // below 500 but above 0.45 * 1000
  CHECK_THAT(message_of(1000.0, o, x),
             Catch::Contains("highpass_hz") && Catch::Contains("lowpass_hz") && Catch::Contains("450"));
  o = ConditionOptions{};
  o.order = 0;
  CHECK_THAT(message_of(2000.0, o, x), Catch::Contains("order"));
  o = ConditionOptions{};
  o.mains_detection.candidates_hz = {};
  CHECK_THAT(message_of(2000.0, o, x), Catch::Contains("candidates_hz"));
  o = ConditionOptions{};
  o.quality.saturation_fraction = 2.0;
  CHECK_THAT(message_of(2000.0, o, x), Catch::Contains("saturation_fraction"));
}
