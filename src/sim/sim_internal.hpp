#pragma once
// Private helpers of the simulator, shared with its tests.

#include <fasctrack/core/types.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace fasctrack::sim::detail {

/// SplitMix64 finaliser: decorrelates seeds so that each part of a simulation
/// (units, firing, noise per channel, ...) draws from its own stream. A part's
/// random numbers then do not change when another part is switched on or off,
/// so e.g. the same seed with and without noise has the same truth events.
inline std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

inline std::mt19937_64 stream(std::uint64_t seed, std::uint64_t part, std::uint64_t index = 0) {
  return std::mt19937_64(mix(mix(seed) ^ mix(part * 0x100000001B3ULL + index)));
}

/// Standard normal deviates by Marsaglia & Tsang's ziggurat (2000), 128
/// strips: an order of magnitude faster than std::normal_distribution, which
/// matters when a recording holds tens of millions of noise samples. Each
/// 64-bit draw of the engine feeds two 32-bit candidates.
class Ziggurat {
 public:
  Ziggurat() {
    const double m1 = 2147483648.0;
    double dn = 3.442619855899, tn = dn;
    const double vn = 9.91256303526217e-3;
    const double q = vn / std::exp(-0.5 * dn * dn);
    kn_[0] = static_cast<std::int64_t>((dn / q) * m1);
    kn_[1] = 0;
    wn_[0] = q / m1;
    wn_[127] = dn / m1;
    fn_[0] = 1.0;
    fn_[127] = std::exp(-0.5 * dn * dn);
    for (int i = 126; i >= 1; --i) {
      dn = std::sqrt(-2.0 * std::log(vn / dn + std::exp(-0.5 * dn * dn)));
      kn_[i + 1] = static_cast<std::int64_t>((dn / tn) * m1);
      tn = dn;
      fn_[i] = std::exp(-0.5 * dn * dn);
      wn_[i] = dn / m1;
    }
  }

  template <class Engine>
  double operator()(Engine& rng) {
    const std::int64_t hz = next32(rng);
    const int iz = static_cast<int>(hz & 127);
    if (std::abs(hz) < kn_[iz]) return static_cast<double>(hz) * wn_[iz];
    return fix(rng, hz, iz);
  }

 private:
  template <class Engine>
  std::int64_t next32(Engine& rng) {
    if (!have_) {
      buffer_ = rng();
      have_ = true;
      return static_cast<std::int32_t>(static_cast<std::uint32_t>(buffer_));
    }
    have_ = false;
    return static_cast<std::int32_t>(static_cast<std::uint32_t>(buffer_ >> 32));
  }
  template <class Engine>
  double uniform(Engine& rng) {  // (0, 1)
    return (static_cast<double>(static_cast<std::uint32_t>(next32(rng))) + 0.5) / 4294967296.0;
  }
  template <class Engine>
  double fix(Engine& rng, std::int64_t hz, int iz) {
    constexpr double r = 3.442620;
    for (;;) {
      const double x = static_cast<double>(hz) * wn_[iz];
      if (iz == 0) {  // the tail beyond r
        double xt, y;
        do {
          xt = -std::log(uniform(rng)) / r;
          y = -std::log(uniform(rng));
        } while (y + y < xt * xt);
        return hz > 0 ? r + xt : -r - xt;
      }
      if (fn_[iz] + uniform(rng) * (fn_[iz - 1] - fn_[iz]) < std::exp(-0.5 * x * x)) return x;
      hz = next32(rng);
      iz = static_cast<int>(hz & 127);
      if (std::abs(hz) < kn_[iz]) return static_cast<double>(hz) * wn_[iz];
    }
  }

  std::int64_t kn_[128];
  double wn_[128];
  double fn_[128];
  std::uint64_t buffer_ = 0;
  bool have_ = false;
};

/// The waveform as surface-EMG practice reads it: zero-phase (forward and
/// backward) 2nd-order Butterworth high-pass at `cutoff_hz`, after padding with
/// `pad` zeros each side (the waveform starts and ends at rest). Removes the
/// slow monopolar repolarisation tail that hides the phases.
inline std::vector<double> highpass_zero_phase(const double* w, Index n, double fs, double cutoff_hz) {
  const double k = std::tan(3.14159265358979323846 * cutoff_hz / fs);
  const double norm = 1.0 / (1.0 + std::sqrt(2.0) * k + k * k);
  const double b0 = norm, b1 = -2.0 * norm, b2 = norm;
  const double a1 = 2.0 * (k * k - 1.0) * norm, a2 = (1.0 - std::sqrt(2.0) * k + k * k) * norm;
  const auto pad = static_cast<Index>(std::ceil(0.2 * fs));
  std::vector<double> x(static_cast<std::size_t>(n + 2 * pad), 0.0);
  for (Index i = 0; i < n; ++i) x[static_cast<std::size_t>(pad + i)] = w[i];
  auto pass = [&](auto begin, auto end) {
    double x1 = 0, x2 = 0, y1 = 0, y2 = 0;
    for (auto it = begin; it != end; ++it) {
      const double x0 = *it;
      const double y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
      x2 = x1; x1 = x0; y2 = y1; y1 = y0;
      *it = y0;
    }
  };
  pass(x.begin(), x.end());
  pass(x.rbegin(), x.rend());
  return {x.begin() + pad, x.begin() + pad + n};
}

/// Phases of a noise-free waveform: baseline crossings + 1, counted within the
/// span where |w| exceeds 10 % of its peak; a crossing must go from above
/// +band to below -band (or back), band = band_fraction x peak, so ripples
/// around zero do not count.
inline int count_phases(const double* w, Index n, double band_fraction) {
  double peak = 0.0;
  for (Index i = 0; i < n; ++i) peak = std::max(peak, std::abs(w[i]));
  if (peak <= 0.0) return 0;
  Index first = 0, last = n - 1;
  while (first < n && std::abs(w[first]) <= 0.1 * peak) ++first;
  while (last > first && std::abs(w[last]) <= 0.1 * peak) --last;
  const double band = band_fraction * peak;
  int sign = 0, crossings = 0;
  for (Index i = first; i <= last; ++i) {
    const int s = w[i] > band ? 1 : (w[i] < -band ? -1 : 0);
    if (s == 0) continue;
    if (sign != 0 && s != sign) ++crossings;
    sign = s;
  }
  return crossings + 1;
}

}  // namespace fasctrack::sim::detail
