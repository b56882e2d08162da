// detect_mains(): 50 vs 60 Hz in synthetic surface EMG.

#include <catch2/catch.hpp>

#include <fasctrack/filter/mains.hpp>

#include "filter/emg_synth.hpp"
#include "filter/spectral_internal.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>
#include <stdexcept>
#include <string>

using namespace fasctrack;
using filter::MainsOptions;
using filter::MainsStatus;

TEST_CASE("detect_mains finds 50 and 60 Hz mains at common sampling rates", "[filter][mains]") {
  // Mains a few uV against 5-20 uV of band-limited EMG-like noise, with 2nd
  // and 3rd harmonics, a random-walk phase, +-20 % amplitude drift and a grid
  // slightly off nominal.
  const double fs = GENERATE(1000.0, 2048.0, 5000.0, 10000.0);
  const double f0 = GENERATE(50.0, 60.0);
  struct Level {
    double emg_uv, mains_uv;
  };
  const Level level = GENERATE(Level{5.0, 2.0}, Level{20.0, 5.0});
  const unsigned seed = static_cast<unsigned>(fs) + static_cast<unsigned>(f0) + static_cast<unsigned>(level.emg_uv);
  RowMatrix<double> x = test::emg_noise(4, static_cast<Index>(10.0 * fs), fs, level.emg_uv, 1.0, seed);
  test::add_mains(x, fs, f0, level.mains_uv, {0.3, 0.5}, seed + 1);

  const auto report = filter::detect_mains<double>(x, fs);
  INFO("fs " << fs << " f0 " << f0 << " emg " << level.emg_uv << " uV, mains " << level.mains_uv
             << " uV: prominence " << report.prominence_db << " dB; 50 Hz " << report.candidate_prominence_db[0]
             << " dB, 60 Hz " << report.candidate_prominence_db[1] << " dB");
  REQUIRE(report.status == MainsStatus::found);
  CHECK(report.frequency_hz == f0);
  REQUIRE(report.candidate_prominence_db.size() == 2);
  const std::size_t right = f0 == 50.0 ? 0 : 1;
  CHECK(report.candidate_prominence_db[right] == report.prominence_db);
  CHECK(report.candidate_prominence_db[1 - right] < 6.0);
  REQUIRE(report.channel_prominence_db.size() == 4);
  for (double db : report.channel_prominence_db) CHECK(db > 6.0);
}

TEST_CASE("detect_mains says not_found for clean EMG-like noise", "[filter][mains]") {
  const double fs = GENERATE(1000.0, 2048.0, 5000.0, 10000.0);
  const double seconds = GENERATE(2.0, 3.0, 10.0);
  for (unsigned seed = 0; seed < 5; ++seed) {
    const RowMatrix<double> x = test::emg_noise(2, static_cast<Index>(seconds * fs), fs, 10.0, 1.0, 100 + seed);
    const auto report = filter::detect_mains<double>(x, fs);
    INFO("fs " << fs << " seconds " << seconds << " seed " << seed << ": 50 Hz " << report.candidate_prominence_db[0]
               << " dB, 60 Hz " << report.candidate_prominence_db[1] << " dB");
    CHECK(report.status == MainsStatus::not_found);
    CHECK(report.frequency_hz == 0.0);
    REQUIRE(report.channel_prominence_db.size() == 2);
    CHECK(report.channel_prominence_db[0] == 0.0);
  }
  // With 10 s the noise-only scores stay well below the 6 dB default.
  const RowMatrix<double> x = test::emg_noise(4, static_cast<Index>(10.0 * fs), fs, 10.0, 1.0, 7);
  const auto report = filter::detect_mains<double>(x, fs);
  CHECK(report.candidate_prominence_db[0] < 5.0);
  CHECK(report.candidate_prominence_db[1] < 5.0);
}

TEST_CASE("detect_mains needs 2 s of data", "[filter][mains]") {
  const double fs = 2000.0;
  RowMatrix<double> x = test::emg_noise(2, 3999, fs, 5.0, 1.0, 3);
  test::add_mains(x, fs, 50.0, 20.0, {}, 4);
  const auto short_report = filter::detect_mains<double>(x, fs);
  CHECK(short_report.status == MainsStatus::too_short);
  CHECK(short_report.frequency_hz == 0.0);
  CHECK(short_report.candidate_prominence_db.size() == 2);
  CHECK(short_report.channel_prominence_db.size() == 2);

  RowMatrix<double> y = test::emg_noise(2, 4000, fs, 5.0, 1.0, 3);
  test::add_mains(y, fs, 50.0, 20.0, {}, 4);
  const auto report = filter::detect_mains<double>(y, fs);
  CHECK(report.status == MainsStatus::found);  // a strong line is clear even in one 2 s segment
  CHECK(report.frequency_hz == 50.0);

  CHECK(filter::detect_mains<double>(RowMatrix<double>(3, 0), fs).status == MainsStatus::too_short);
  CHECK(filter::detect_mains<double>(RowMatrix<double>::Zero(1, 1), fs).status == MainsStatus::too_short);
}

TEST_CASE("detect_mains finds mains carried by harmonics alone", "[filter][mains]") {
  // Rectifier / clipped-amplifier interference: a weak fundamental and most of
  // the energy at the 3rd harmonic (150 or 180 Hz).
  const double fs = 4000.0;
  for (double f0 : {50.0, 60.0}) {
    RowMatrix<double> x = test::emg_noise(3, 40000, fs, 10.0, 1.0, 21);
    test::add_mains(x, fs, f0, 0.2, {0.0, 25.0}, 22);  // 0.2 uV at f0, 5 uV at 3 f0
    const auto report = filter::detect_mains<double>(x, fs);
    INFO("f0 " << f0 << " prominence " << report.prominence_db);
    CHECK(report.status == MainsStatus::found);
    CHECK(report.frequency_hz == f0);
    MainsOptions fundamental_only;
    fundamental_only.harmonics = 1;
    CHECK(filter::detect_mains<double>(x, fs, fundamental_only).status == MainsStatus::not_found);
  }
}

TEST_CASE("harmonics_to_notch keeps the fundamental and the harmonics that stand out", "[filter][mains]") {
  // 50 Hz mains with strong 3rd and weaker 5th harmonics (the simulator's
  // and a rectifier's pattern) and nothing at the even ones, over a probe
  // of 2 s (one Welch segment, the detector's default) and of 8 s.
  const double fs = 2048.0;
  for (double seconds : {2.0, 8.0}) {
    RowMatrix<double> x = test::emg_noise(8, static_cast<Index>(seconds * fs), fs, 5.0, 1.0, 31);
    test::add_mains(x, fs, 50.0, 5.0, {0.0, 0.4, 0.0, 0.2}, 32);
    const auto report = filter::detect_mains<double>(x, fs);
    REQUIRE(report.status == MainsStatus::found);
    REQUIRE(report.candidate_harmonic_prominence_db.size() == 2);
    // Harmonics whose +-8 Hz neighbourhood fits below 1024 Hz: 20 of 50 Hz, 16 of 60 Hz.
    CHECK(report.candidate_harmonic_prominence_db[0].size() == 20);
    CHECK(report.candidate_harmonic_prominence_db[1].size() == 16);
    // The harmonics' chance level is at most the line's threshold (a missed
    // harmonic costs more than a needless notch).
    CHECK(report.harmonic_threshold_db <= report.threshold_db);
    CHECK(report.harmonic_threshold_db >= 6.0);  // min_prominence_db
    const std::vector<bool> need = filter::harmonics_to_notch(report, 50.0, 19);
    INFO("seconds " << seconds << " threshold " << report.harmonic_threshold_db << " dB");
    // Every harmonic that is there; of the 16 that are not, at most two by
    // chance (the threshold is the null's 99th percentile: a needless notch
    // only costs time).
    CHECK(need[0]);
    CHECK(need[2]);
    CHECK(need[4]);
    int extra = 0;
    for (std::size_t k : {1u, 3u, 5u, 6u, 7u, 8u, 9u, 10u, 11u, 12u, 13u, 14u, 15u, 16u, 17u, 18u}) extra += need[k];
    CHECK(extra <= 2);
    // More rows than the report scored (a comb past its spectrum): the rest are kept.
    const std::vector<bool> long_comb = filter::harmonics_to_notch(report, 50.0, 22);
    CHECK(long_comb[20]);
    CHECK(long_comb[21]);
    // On 60 Hz (a forced setting the data do not support): the fundamental,
    // and at most a chance harmonic or two.
    const std::vector<bool> sixty = filter::harmonics_to_notch(report, 60.0, 15);
    CHECK(sixty[0]);
    CHECK(std::count(sixty.begin(), sixty.end(), true) <= 3);
  }
}

TEST_CASE("harmonics_to_notch keeps every notch when the report cannot tell", "[filter][mains]") {
  const double fs = 2000.0;
  RowMatrix<double> x = test::emg_noise(2, 3999, fs, 5.0, 1.0, 3);  // under 2 s: too_short
  test::add_mains(x, fs, 50.0, 20.0, {}, 4);
  const auto short_report = filter::detect_mains<double>(x, fs);
  REQUIRE(short_report.status == MainsStatus::too_short);
  for (bool b : filter::harmonics_to_notch(short_report, 50.0, 19)) CHECK(b);
  // A frequency that is not a candidate of the options.
  RowMatrix<double> y = test::emg_noise(2, 8000, fs, 5.0, 1.0, 3);
  test::add_mains(y, fs, 50.0, 20.0, {}, 4);
  const auto report = filter::detect_mains<double>(y, fs);
  for (bool b : filter::harmonics_to_notch(report, 55.0, 10)) CHECK(b);
  CHECK(filter::harmonics_to_notch(report, 50.0, 0).empty());
}

TEST_CASE("a harmonic shared by 50 and 60 Hz is evidence for neither", "[filter][mains]") {
  const double fs = 2000.0;
  MainsOptions six;
  six.harmonics = 6;  // 300 Hz = 6 x 50 = 5 x 60 is now in both lists
  SECTION("a lone 300 Hz line is not mains of either frequency") {
    RowMatrix<double> x = test::emg_noise(2, 20000, fs, 5.0, 1.0, 31);
    test::add_line(x, fs, 300.0, 10.0);
    const auto report = filter::detect_mains<double>(x, fs, six);
    INFO("50 Hz " << report.candidate_prominence_db[0] << " dB, 60 Hz " << report.candidate_prominence_db[1] << " dB");
    CHECK(report.status == MainsStatus::not_found);
    CHECK(report.candidate_prominence_db[0] < 6.0);
    CHECK(report.candidate_prominence_db[1] < 6.0);
  }
  SECTION("50 Hz mains with a dominant 6th harmonic does not make 60 Hz score") {
    RowMatrix<double> x = test::emg_noise(2, 20000, fs, 5.0, 1.0, 32);
    test::add_mains(x, fs, 50.0, 1.5, {0.2, 0.5, 0.2, 0.5}, 33, 0.0);
    test::add_line(x, fs, 300.0, 30.0);
    const auto report = filter::detect_mains<double>(x, fs, six);
    INFO("50 Hz " << report.candidate_prominence_db[0] << " dB, 60 Hz " << report.candidate_prominence_db[1] << " dB");
    CHECK(report.status == MainsStatus::found);
    CHECK(report.frequency_hz == 50.0);
    CHECK(report.candidate_prominence_db[1] < 6.0);
  }
}

TEST_CASE("detect_mains: the median over channels ignores a single odd electrode", "[filter][mains]") {
  const double fs = 2000.0;
  RowMatrix<double> x = test::emg_noise(5, 20000, fs, 10.0, 1.0, 41);
  test::add_mains(x, fs, 50.0, 4.0, {0.3}, 42);
  RowMatrix<double> odd = x.row(2);
  test::add_mains(odd, fs, 60.0, 200.0, {0.3}, 43);  // one electrode near a 60 Hz device
  x.row(2) = odd;
  const auto report = filter::detect_mains<double>(x, fs);
  CHECK(report.status == MainsStatus::found);
  CHECK(report.frequency_hz == 50.0);
  REQUIRE(report.channel_prominence_db.size() == 5);
  CHECK(report.channel_prominence_db[0] > 6.0);
}

TEST_CASE("detect_mains tolerates an off-nominal grid", "[filter][mains]") {
  const double fs = 2000.0;
  RowMatrix<double> x = test::emg_noise(2, 20000, fs, 10.0, 1.0, 51);
  test::add_mains(x, fs, 60.0, 4.0, {0.3, 0.3}, 52, 0.3);  // 60.3 Hz
  const auto report = filter::detect_mains<double>(x, fs);
  CHECK(report.status == MainsStatus::found);
  CHECK(report.frequency_hz == 60.0);
}

TEST_CASE("detect_mains survives weird data", "[filter][mains]") {
  const double fs = 2000.0;
  RowMatrix<double> x = test::emg_noise(3, 20000, fs, 10.0, 1.0, 61);
  test::add_mains(x, fs, 50.0, 5.0, {0.3}, 62);
  const auto reference = filter::detect_mains<double>(x, fs);
  REQUIRE(reference.status == MainsStatus::found);

  SECTION("NaN and Inf samples are zeroed for the estimate") {
    RowMatrix<double> y = x;
    y.block(0, 5000, 1, 300).setConstant(std::numeric_limits<double>::quiet_NaN());
    y(1, 123) = std::numeric_limits<double>::infinity();
    const auto report = filter::detect_mains<double>(y, fs);
    CHECK(report.status == MainsStatus::found);
    CHECK(report.frequency_hz == 50.0);
    for (double db : report.channel_prominence_db) CHECK(std::isfinite(db));
  }
  SECTION("an all-NaN and a constant channel neither crash nor decide") {
    RowMatrix<double> y = x;
    y.row(0).setConstant(std::numeric_limits<double>::quiet_NaN());
    y.row(1).setConstant(3.0);
    const auto report = filter::detect_mains<double>(y, fs);
    for (double db : report.candidate_prominence_db) CHECK(std::isfinite(db));
    CHECK(report.channel_prominence_db.size() == 3);
  }
  SECTION("absurdly large or small values give the same answer (prominence is a ratio)") {
    for (double scale : {1e250, 1e-250}) {
      const RowMatrix<double> y = x * scale;
      const auto report = filter::detect_mains<double>(y, fs);
      CHECK(report.status == MainsStatus::found);
      CHECK(report.prominence_db == Approx(reference.prominence_db).epsilon(1e-9));
    }
  }
  SECTION("float input gives the double answer") {
    const RowMatrix<float> y = x.cast<float>();
    const auto report = filter::detect_mains<float>(y, fs);
    CHECK(report.status == MainsStatus::found);
    CHECK(report.prominence_db == Approx(reference.prominence_db).epsilon(1e-4));
  }
  SECTION("too low a sampling rate for the candidates is not_found, not an error") {
    const RowMatrix<double> y = test::emg_noise(1, 2000, 100.0, 10.0, 1.0, 63);
    const auto report = filter::detect_mains<double>(y, 100.0);
    CHECK(report.status == MainsStatus::not_found);
  }
}

TEST_CASE("detect_mains rejects bad options with a message naming them", "[filter][mains]") {
  const RowMatrix<double> x = RowMatrix<double>::Zero(1, 10000);
  auto message_of = [&](double fs, const MainsOptions& o, const RowMatrix<double>& data) -> std::string {
    try {
      filter::detect_mains<double>(data, fs, o);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "<no exception>";
  };
  MainsOptions o;
  CHECK_THAT(message_of(0.0, o, x), Catch::Contains("fs"));
  CHECK_THAT(message_of(-5.0, o, x), Catch::Contains("fs"));
  CHECK_THAT(message_of(1000.0, o, RowMatrix<double>(0, 100)), Catch::Contains("x"));
  o.candidates_hz = {};
  CHECK_THAT(message_of(1000.0, o, x), Catch::Contains("candidates_hz"));
  o.candidates_hz = {50.0, -60.0};
  CHECK_THAT(message_of(1000.0, o, x), Catch::Contains("candidates_hz") && Catch::Contains("-60"));
  o = MainsOptions{};
  o.harmonics = 0;
  CHECK_THAT(message_of(1000.0, o, x), Catch::Contains("harmonics"));
  o = MainsOptions{};
  o.min_prominence_db = std::nan("");
  CHECK_THAT(message_of(1000.0, o, x), Catch::Contains("min_prominence_db"));
}

TEST_CASE("MainsStatus names", "[filter][mains]") {
  CHECK(filter::to_string(MainsStatus::found) == "found");
  CHECK(filter::to_string(MainsStatus::not_found) == "not_found");
  CHECK(filter::to_string(MainsStatus::too_short) == "too_short");
}

TEST_CASE("empirical null: prominences by sorting network equal the one-by-one medians bit for bit",
          "[filter][mains]") {
  // The null groups positions with the same number of floor bins by eight
  // and takes their medians with a comparator network; every value must be
  // the one median_in_place gives (ties, zeros, NaN and short floors too).
  std::mt19937 gen(2024);
  std::exponential_distribution<double> power(1.0);
  for (double df : {0.5, 0.25, 1.0 / 3.0}) {
    const Index n_freqs = static_cast<Index>(1024.0 / df) + 1;
    std::vector<char> in_line(static_cast<std::size_t>(n_freqs), 0);
    for (Index j = 0; j < n_freqs; ++j) {
      const double f = static_cast<double>(j) * df;
      const double d50 = std::abs(f - 50.0 * std::max(1.0, std::round(f / 50.0)));
      in_line[static_cast<std::size_t>(j)] = d50 <= 1.0;
    }
    std::vector<double> positions;
    for (double f = 20.0; f <= 1020.0; f += 0.5) positions.push_back(f);
    for (int variant = 0; variant < 4; ++variant) {
      INFO("df " << df << ", variant " << variant);
      std::vector<double> p(static_cast<std::size_t>(n_freqs));
      for (auto& v : p) v = power(gen);
      if (variant == 1)  // coarse values: many ties
        for (auto& v : p) v = std::floor(v * 4.0);
      if (variant == 2) std::fill(p.begin() + n_freqs / 3, p.begin() + n_freqs / 2, 0.0);  // a dead stretch
      if (variant == 3) p[static_cast<std::size_t>(n_freqs / 2)] = std::numeric_limits<double>::quiet_NaN();
      const auto fast = filter::detail::null_prominences_db(p.data(), n_freqs, df, positions, in_line, false);
      const auto ref = filter::detail::null_prominences_db(p.data(), n_freqs, df, positions, in_line, true);
      REQUIRE(fast.size() == ref.size());
      std::size_t same = 0;
      for (std::size_t q = 0; q < ref.size(); ++q)
        same += (std::isnan(fast[q]) && std::isnan(ref[q])) || std::memcmp(&fast[q], &ref[q], sizeof(double)) == 0;
      CHECK(same == ref.size());
    }
  }
}
