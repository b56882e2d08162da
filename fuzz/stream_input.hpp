#pragma once
// Turns fuzzer bytes into a small multichannel recording for the streaming
// detector (fuzz_stream.cpp), and lets a Catch2 test rebuild the recording a
// crash input stands for. Byte 0: channels (1-4), grid layout, float32, one
// channel marked bad; byte 1: rate and duration (2-5 s); bytes 2-3: noise
// seed; then 4-byte edits {position (2 bytes), op | channel << 3, value}:
// special values, NaN/Inf runs, flat runs, discharges, bursts, steps, mains,
// clipping, laid over 5 uV Gaussian noise.

#include <fasctrack/core/recording.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace fuzzstream {

using fasctrack::ChannelInfo;
using fasctrack::GridPosition;
using fasctrack::Index;
using fasctrack::RowMatrix;

struct Input {
  RowMatrix<double> x;
  double fs = 0.0;
  std::vector<ChannelInfo> channels;
  std::uint32_t seed = 0;  ///< also seeds the chunk sizes
  bool float32 = false;
  bool sane = true;        ///< every finite value within +-1e6 uV
};

constexpr double kSpecial[] = {std::numeric_limits<double>::quiet_NaN(),
                               std::numeric_limits<double>::infinity(),
                               -std::numeric_limits<double>::infinity(),
                               0.0,
                               1e6,
                               -1e6,
                               1e30,
                               -1e30,
                               3.4e38,
                               1e300,
                               1e-310,
                               5000.0};

inline std::optional<Input> decode(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return std::nullopt;
  const int nch = 1 + (data[0] & 3);
  const bool grid = data[0] & 4;
  const bool float32 = data[0] & 8;
  const bool one_bad = data[0] & 16;
  constexpr double kRates[] = {128.0, 250.0, 512.0, 1000.0, 2048.0, 256.0, 500.0, 1024.0};
  const double fs = kRates[data[1] & 7];
  const double duration_s = 2.0 + static_cast<double>((data[1] >> 3) % 4);
  const std::uint32_t seed = static_cast<std::uint32_t>(data[2]) << 8 | data[3];
  const Index n = static_cast<Index>(duration_s * fs);

  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0.0, 5.0);
  RowMatrix<double> x(nch, n);
  for (Index c = 0; c < nch; ++c)
    for (Index t = 0; t < n; ++t) x(c, t) = noise(rng);

  bool sane = true;
  for (std::size_t k = 4; k + 4 <= size; k += 4) {
    const Index pos = static_cast<Index>((static_cast<std::uint64_t>(data[k] << 8 | data[k + 1]) * static_cast<std::uint64_t>(n)) >> 16);
    const int op = data[k + 2] & 7;
    const Index ch = (data[k + 2] >> 3) % nch;
    const int v = data[k + 3];
    auto run_len = [&](double max_s) { return std::min<Index>(n - pos, static_cast<Index>(1 + v / 255.0 * max_s * fs)); };
    switch (op) {
      case 0: {
        const double s = kSpecial[v % std::size(kSpecial)];
        x(ch, pos) = s;
        if (std::isfinite(s) && std::abs(s) > 1e6) sane = false;
        break;
      }
      case 1: {
        const double s = kSpecial[v % 3];  // NaN / +Inf / -Inf runs
        for (Index t = pos, e = pos + run_len(1.0); t < e; ++t) x(ch, t) = s;
        break;
      }
      case 2: {  // stuck amplifier: hold the value
        const double hold = x(ch, pos);
        for (Index t = pos, e = pos + run_len(1.0); t < e; ++t) x(ch, t) = hold;
        break;
      }
      case 3: {  // biphasic discharge, largest on ch, smaller on the others
        const double amp = 4.0 * (v + 1);
        const double width = 0.004 * fs;
        for (Index c = 0; c < nch; ++c) {
          const double g = c == ch ? 1.0 : 0.4;
          for (Index d = -static_cast<Index>(3 * width); d <= static_cast<Index>(3 * width); ++d) {
            const Index t = pos + d;
            if (t < 0 || t >= n) continue;
            const double u = static_cast<double>(d) / std::max(width, 1.0);
            x(c, t) += g * amp * -u * std::exp(-0.5 * u * u);
          }
        }
        break;
      }
      case 4: {  // interference burst on every channel
        std::normal_distribution<double> burst(0.0, 1.0 + v);
        for (Index c = 0; c < nch; ++c)
          for (Index t = pos, e = pos + run_len(0.5); t < e; ++t) x(c, t) += burst(rng);
        break;
      }
      case 5:  // electrode pop: a step to the end
        for (Index t = pos; t < n; ++t) x(ch, t) += 10.0 * (v - 128);
        break;
      case 6: {  // mains
        const double hz = v % 2 ? 60.0 : 50.0;
        for (Index t = 0; t < n; ++t) x(ch, t) += 0.5 * v * std::sin(2.0 * M_PI * hz * static_cast<double>(t) / fs);
        break;
      }
      case 7: {  // saturation: clip the channel
        const double limit = 1.0 + v;
        for (Index t = 0; t < n; ++t)
          if (std::isfinite(x(ch, t))) x(ch, t) = std::clamp(x(ch, t), -limit, limit);
        break;
      }
    }
  }

  std::vector<ChannelInfo> channels(static_cast<std::size_t>(nch));
  for (int c = 0; c < nch; ++c) {
    channels[static_cast<std::size_t>(c)].name = "c" + std::to_string(c);
    if (grid) channels[static_cast<std::size_t>(c)].grid = GridPosition{c / 2, c % 2, 8.0};
  }
  if (one_bad) channels[static_cast<std::size_t>(seed % nch)].marked_bad = true;

  Input in;
  in.x = std::move(x);
  in.fs = fs;
  in.channels = std::move(channels);
  in.seed = seed;
  in.float32 = float32;
  in.sane = sane;
  return in;
}

}  // namespace fuzzstream
