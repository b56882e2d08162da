#pragma once
// Synthetic surface motor-unit action potentials for the clustering tests.
//
// A unit is a waveform shape (sum of Gaussian-derivative phases), a spatial
// footprint on an 8 x 8 grid (Gaussian decay from an innervation centre, so
// neighbouring units overlap), and propagation along the grid columns from
// the innervation zone at muscle-fibre conduction velocity (~4 m/s, 8 mm
// spacing: 2 ms per row). Each discharge gets sub-sample timing jitter,
// amplitude jitter and (optionally coloured) Gaussian noise.

#include <fasctrack/core/types.hpp>

#include <cmath>
#include <map>
#include <random>
#include <vector>

namespace fasctrack::test {

/// Shape on one channel at time t (ms) relative to the main peak: phases are
/// Gaussian bumps with amplitudes, centres (ms) and widths (ms).
struct Shape {
  std::vector<double> amp, centre_ms, width_ms;
  double at(double t_ms) const {
    double v = 0.0;
    for (std::size_t i = 0; i < amp.size(); ++i) {
      const double z = (t_ms - centre_ms[i]) / width_ms[i];
      v += amp[i] * std::exp(-0.5 * z * z);
    }
    return v;
  }
};

/// Classic triphasic surface MUAP: small positive, large negative, positive.
inline Shape triphasic(double width_ms = 1.2) {
  return Shape{{0.35, -1.0, 0.55}, {-1.8 * width_ms, 0.0, 1.9 * width_ms}, {0.8 * width_ms, width_ms, 1.1 * width_ms}};
}

struct GridUnit {
  Shape shape;
  double row = 3.5, col = 3.5;   ///< footprint centre (grid units)
  double spread = 1.5;           ///< footprint SD (grid units)
  double peak_uv = 50.0;         ///< amplitude at the centre
  double ms_per_row = 2.0;       ///< propagation delay along the columns
};

/// (64, n) snippet of one discharge of a grid unit centred on its peak.
inline RowMatrix<float> grid_discharge(const GridUnit& u, Index n, double fs, double time_jitter_ms,
                                       double amplitude_scale) {
  RowMatrix<float> x(64, n);
  const Index half = (n - 1) / 2;
  const double ir = std::round(u.row);
  for (int r = 0; r < 8; ++r)
    for (int c = 0; c < 8; ++c) {
      const double d2 = (r - u.row) * (r - u.row) + (c - u.col) * (c - u.col);
      const double a = u.peak_uv * amplitude_scale * std::exp(-0.5 * d2 / (u.spread * u.spread));
      const double delay = std::abs(r - ir) * u.ms_per_row;
      for (Index j = 0; j < n; ++j) {
        const double t_ms = static_cast<double>(j - half) / fs * 1000.0 - time_jitter_ms - delay;
        x(r * 8 + c, j) = static_cast<float>(a * u.shape.at(t_ms));
      }
    }
  return x;
}

/// (1, n) snippet of one discharge on a single bipolar channel.
inline RowMatrix<float> channel_discharge(const Shape& s, double peak_uv, Index n, double fs, double time_jitter_ms,
                                          double amplitude_scale) {
  RowMatrix<float> x(1, n);
  const Index half = (n - 1) / 2;
  for (Index j = 0; j < n; ++j) {
    const double t_ms = static_cast<double>(j - half) / fs * 1000.0 - time_jitter_ms;
    x(0, j) = static_cast<float>(peak_uv * amplitude_scale * s.at(t_ms));
  }
  return x;
}

/// Adds noise of SD sd[c] per channel; coloured by a 2-tap average
/// (renormalised), roughly the spectrum of band-passed surface EMG noise.
inline void add_noise(RowMatrix<float>& x, const std::vector<double>& sd, std::mt19937& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  for (Index c = 0; c < x.rows(); ++c) {
    double prev = g(rng);
    for (Index j = 0; j < x.cols(); ++j) {
      const double cur = g(rng);
      x(c, j) += static_cast<float>(sd[static_cast<std::size_t>(c)] * (cur + prev) / std::sqrt(2.0));
      prev = cur;
    }
  }
}

/// Adds noise of SD sd[c] low-passed at cutoff_hz (two one-pole sections):
/// at high sampling rates the conditioned EMG noise is strongly correlated
/// from sample to sample.
inline void add_lowpass_noise(RowMatrix<float>& x, const std::vector<double>& sd, double fs, double cutoff_hz,
                              std::mt19937& rng) {
  const double a = std::exp(-2.0 * 3.141592653589793 * cutoff_hz / fs);
  // Variance of white noise through two cascaded one-pole sections
  // y[n] = a y[n-1] + (1-a) x[n]: sum of h^2, h[n] = (1-a)^2 (n+1) a^n.
  const double gain = std::sqrt(std::pow(1.0 - a, 4.0) * (1.0 + a * a) / std::pow(1.0 - a * a, 3.0));
  std::normal_distribution<double> g(0.0, 1.0);
  const Index burn_in = static_cast<Index>(20.0 / (1.0 - a));
  for (Index c = 0; c < x.rows(); ++c) {
    double y1 = 0.0, y2 = 0.0;
    for (Index j = -burn_in; j < x.cols(); ++j) {
      y1 = a * y1 + (1.0 - a) * g(rng);
      y2 = a * y2 + (1.0 - a) * y1;
      if (j >= 0) x(c, j) += static_cast<float>(sd[static_cast<std::size_t>(c)] * y2 / gain);
    }
  }
}

/// Uncentred normalised correlation of two equally sized waveforms.
inline double correlation(const RowMatrix<float>& a, const RowMatrix<float>& b) {
  const double ab = (a.cast<double>().array() * b.cast<double>().array()).sum();
  return ab / std::sqrt(a.cast<double>().squaredNorm() * b.cast<double>().squaredNorm());
}

/// Adjusted Rand index of two labellings (Hubert & Arabie 1985).
inline double adjusted_rand_index(const std::vector<int>& a, const std::vector<int>& b) {
  std::map<std::pair<int, int>, double> nij;
  std::map<int, double> ai, bj;
  for (std::size_t k = 0; k < a.size(); ++k) {
    nij[{a[k], b[k]}] += 1.0;
    ai[a[k]] += 1.0;
    bj[b[k]] += 1.0;
  }
  auto c2 = [](double n) { return n * (n - 1.0) / 2.0; };
  double sum_ij = 0.0, sum_a = 0.0, sum_b = 0.0;
  for (const auto& [k, n] : nij) sum_ij += c2(n);
  for (const auto& [k, n] : ai) sum_a += c2(n);
  for (const auto& [k, n] : bj) sum_b += c2(n);
  const double expected = sum_a * sum_b / c2(static_cast<double>(a.size()));
  const double max_index = 0.5 * (sum_a + sum_b);
  if (max_index == expected) return 1.0;
  return (sum_ij - expected) / (max_index - expected);
}

}  // namespace fasctrack::test
