// Every configuration error of the detector names the option (or argument)
// and the problem, and is thrown at setup, before any data is touched.

#include <catch2/catch.hpp>

#include <fasctrack/stream/detector.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

using namespace fasctrack;

namespace {

std::vector<ChannelInfo> two_channels() {
  std::vector<ChannelInfo> ch(2);
  ch[0].name = "a";
  ch[1].name = "b";
  return ch;
}

// Constructing the detector must throw std::invalid_argument starting with
// "<name>: " and containing `problem`.
void require_option_error(const std::function<void(DetectOptions&)>& spoil, const std::string& name,
                          const std::string& problem, double fs = 2048.0) {
  DetectOptions o;
  spoil(o);
  INFO("option " << name);
  bool thrown = false;
  try {
    StreamingDetector<double> det(fs, two_channels(), o);
  } catch (const std::invalid_argument& e) {
    thrown = true;
    const std::string what = e.what();
    INFO("message: " << what);
    CHECK(what.rfind(name + ": ", 0) == 0);
    CHECK(what.find(problem) != std::string::npos);
  }
  CHECK(thrown);
}

}  // namespace

TEST_CASE("detector option errors name the option and the problem", "[stream][errors]") {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  require_option_error([](DetectOptions&) {}, "fs", "must be positive", 0.0);
  require_option_error([](DetectOptions&) {}, "fs", "must be positive", nan);
  require_option_error([&](DetectOptions& o) { o.highpass_hz = nan; }, "highpass_hz", "positive and finite");
  require_option_error([](DetectOptions& o) { o.highpass_hz = 2000.0; }, "highpass_hz", "must be below");
  require_option_error([&](DetectOptions& o) { o.lowpass_hz = -inf; }, "lowpass_hz", "positive and finite");
  require_option_error([](DetectOptions& o) { o.filter_order = 0; }, "filter_order", "must be in");
  require_option_error([](DetectOptions& o) { o.mains_probe_s = -1.0; }, "mains_probe_s", "non-negative");
  require_option_error([](DetectOptions& o) { o.notch_bandwidth_hz = 0.0; }, "notch_bandwidth_hz", "positive");
  require_option_error([](DetectOptions& o) { o.threshold_sd = -5.0; }, "threshold_sd", "positive");
  require_option_error([&](DetectOptions& o) { o.threshold_sd = inf; }, "threshold_sd", "positive and finite");
  require_option_error([](DetectOptions& o) { o.noise_block_s = 0.001; }, "noise_block_s", "at least 16 samples");
  require_option_error([](DetectOptions& o) { o.noise_window_s = 0.1; }, "noise_window_s", "at least noise_block_s");
  require_option_error([](DetectOptions& o) { o.merge_ms = 0.0; }, "merge_ms", "positive");
  require_option_error([](DetectOptions& o) { o.refractory_ms = -1.0; }, "refractory_ms", "positive");
  require_option_error([](DetectOptions& o) { o.snippet_ms = 0.0; }, "snippet_ms", "positive");
  require_option_error([](DetectOptions& o) { o.max_duration_ms = 0.0; }, "max_duration_ms", "positive");
  require_option_error([](DetectOptions& o) { o.tonic_isi_ms = 0.0; }, "tonic_isi_ms", "positive");
  require_option_error([](DetectOptions& o) { o.tonic_min_discharges = 1; }, "tonic_min_discharges", "at least 2");
  require_option_error([](DetectOptions& o) { o.voluntary_rms_ratio = 0.0; }, "voluntary_rms_ratio", "positive");
  require_option_error([](DetectOptions& o) { o.voluntary_min_s = 0.0; }, "voluntary_min_s", "positive");
  require_option_error([](DetectOptions& o) { o.mask_padding_s = -0.1; }, "mask_padding_s", "non-negative");
  require_option_error([](DetectOptions& o) { o.doublet_min_ms = -1.0; }, "doublet_min_ms", "non-negative");
  require_option_error([](DetectOptions& o) { o.doublet_max_ms = 2.0; }, "doublet_max_ms", "must exceed doublet_min_ms");
  require_option_error([](DetectOptions& o) { o.min_clean_rest_s = -1.0; }, "min_clean_rest_s", "non-negative");
}

TEST_CASE("detector argument errors name the argument", "[stream][errors]") {
  StreamingDetector<double> det(2048.0, two_channels());
  RowMatrix<double> wrong(3, 10);
  try {
    det.process(wrong);
    FAIL("a 3-row chunk for a 2-channel detector was accepted");
  } catch (const std::invalid_argument& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find('3') != std::string::npos);
  }
  RowMatrix<double> x = RowMatrix<double>::Zero(3, 100);
  try {
    (void)detect<double>(x, 2048.0, two_channels());
    FAIL("3 rows with 2 channel descriptions were accepted");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).rfind("channels: ", 0) == 0);
  }
  try {
    StreamingDetector<double> none(2048.0, {});
    FAIL("a detector without channels was accepted");
  } catch (const std::invalid_argument& e) {
    INFO(e.what());
    CHECK(std::string(e.what()).find("channel") != std::string::npos);
  }
}
