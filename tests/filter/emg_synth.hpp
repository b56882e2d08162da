#pragma once
// Synthetic surface-EMG-like test signals for the filter tests: band-limited
// Gaussian "EMG" plus amplifier noise, and power-line interference with
// harmonics, slow phase jitter and amplitude drift, in microvolts.

#include <fasctrack/core/types.hpp>
#include <fasctrack/filter/apply.hpp>
#include <fasctrack/filter/design.hpp>

#include <cmath>
#include <numbers>
#include <random>
#include <vector>

namespace fasctrack::test {

/// Band-limited (20-450 Hz, or 0.45 fs) Gaussian noise with RMS emg_uv plus
/// white amplifier noise with RMS white_uv; n_channels x n_samples.
inline RowMatrix<double> emg_noise(Index n_channels, Index n_samples, double fs, double emg_uv, double white_uv,
                                   unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  RowMatrix<double> white(n_channels, n_samples);
  for (Index c = 0; c < n_channels; ++c)
    for (Index i = 0; i < n_samples; ++i) white(c, i) = normal(rng);
  const auto sos = filter::butter(2, {20.0, std::min(450.0, 0.45 * fs)}, filter::BandType::bandpass, fs);
  RowMatrix<double> emg = filter::sosfilt<double>(sos, white);
  for (Index c = 0; c < n_channels; ++c) {
    const double rms = std::sqrt(emg.row(c).squaredNorm() / static_cast<double>(n_samples));
    emg.row(c) *= emg_uv / rms;
    for (Index i = 0; i < n_samples; ++i) emg(c, i) += white_uv * normal(rng);
  }
  return emg;
}

/// Mains interference: amplitude_uv at f0 (slightly off nominal by offset_hz),
/// relative amplitudes rel[k] at harmonics k + 2, phase random walk and a slow
/// (0.1-0.3 Hz) +-20 % amplitude drift, independent per channel.
inline void add_mains(RowMatrix<double>& x, double fs, double f0, double amplitude_uv,
                      const std::vector<double>& rel_harmonics, unsigned seed, double offset_hz = 0.03) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::uniform_real_distribution<double> uniform(0.0, 2.0 * std::numbers::pi);
  const double f = f0 + offset_hz;
  for (Index c = 0; c < x.rows(); ++c) {
    const double phase0 = uniform(rng);
    const double drift_hz = 0.1 + 0.2 * uniform(rng) / (2.0 * std::numbers::pi);
    const double drift_phase = uniform(rng);
    double jitter = 0.0;
    for (Index i = 0; i < x.cols(); ++i) {
      const double t = static_cast<double>(i) / fs;
      jitter += 0.002 * std::sqrt(1000.0 / fs) * normal(rng);  // phase random walk, same rate at any fs
      const double a = amplitude_uv * (1.0 + 0.2 * std::sin(2.0 * std::numbers::pi * drift_hz * t + drift_phase));
      const double phase = 2.0 * std::numbers::pi * f * t + phase0 + jitter;
      double v = std::sin(phase);
      for (std::size_t k = 0; k < rel_harmonics.size(); ++k) {
        v += rel_harmonics[k] * std::sin(static_cast<double>(k + 2) * phase + 0.7 * static_cast<double>(k));
      }
      x(c, i) += a * v;
    }
  }
}

/// A pure sinusoid added to every channel (no drift), e.g. a spurious line.
inline void add_line(RowMatrix<double>& x, double fs, double f, double amplitude_uv) {
  for (Index c = 0; c < x.rows(); ++c)
    for (Index i = 0; i < x.cols(); ++i)
      x(c, i) += amplitude_uv * std::sin(2.0 * std::numbers::pi * f * static_cast<double>(i) / fs + 0.3 * c);
}

}  // namespace fasctrack::test
