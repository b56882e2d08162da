// Surface EMG at rest with known fasciculations, for testing and tuning the
// detector.
//
// Motor unit action potentials come from a line-source volume-conductor model:
// each fibre's transmembrane current is the second spatial derivative of
// Rosenfalck's intracellular action potential (a source-sink-source tripole),
// generated at the endplate, travelling to both tendons at the conduction
// velocity and extinguished there, seen through an anisotropic homogeneous
// conductor. A unit is a handful of fibre groups scattered over its territory;
// a complex (reinnervated) unit is 3-4 desynchronised, slower groups, which is
// what makes a fasciculation potential polyphasic. Everything else a surface
// recording at rest contains is added on top: background noise, mains with
// harmonics, baseline wander, ECG, movement, electrode pops and voluntary
// contractions, the last three with truth masks.
#include <fasctrack/sim/simulate.hpp>

#include "sim_internal.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>

namespace fasctrack::sim {

namespace {

using detail::stream;
constexpr double kPi = std::numbers::pi;

// Stream tags: one independent random stream per part of the simulation.
enum Part : std::uint64_t {
  part_units = 1, part_firing, part_noise, part_common_noise, part_mains, part_wander, part_ecg,
  part_motion, part_pops, part_bursts, part_pool, part_jitter,
};

[[noreturn]] void bad(const std::string& name, const std::string& why) {
  throw std::invalid_argument(name + ": " + why);
}

std::string num(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

// ---------------------------------------------------------------------------
// Electrode layout
// ---------------------------------------------------------------------------

struct Point {
  double z = 0.0;  // along the fibres, mm
  double y = 0.0;  // across the fibres, mm
};

struct Layout {
  // Each channel is a monopolar electrode (grid) or the difference of two
  // electrodes along the fibres (bipolar); `site` is the muscle it lies over.
  std::vector<Point> plus;
  std::vector<std::optional<Point>> minus;
  std::vector<int> site;
  int n_sites = 1;
};

// Bipolar electrodes 20 mm apart along the fibres, the usual clinical montage.
constexpr double kBipolarIedMm = 20.0;

struct MuscleSite {
  const char* muscle;
  BodyRegion region;
  Side side;
};

// Distinct muscles for bipolar sites, spanning the regions used for the
// spread of fasciculations (ALS: cervical and lumbosacral limb muscles).
constexpr std::array<MuscleSite, 8> kBipolarMuscles{{
    {"first_dorsal_interosseous_r", BodyRegion::cervical, Side::right},
    {"tibialis_anterior_l", BodyRegion::lumbosacral, Side::left},
    {"biceps_brachii_l", BodyRegion::cervical, Side::left},
    {"medial_gastrocnemius_r", BodyRegion::lumbosacral, Side::right},
    {"abductor_digiti_minimi_l", BodyRegion::cervical, Side::left},
    {"vastus_lateralis_r", BodyRegion::lumbosacral, Side::right},
    {"deltoid_r", BodyRegion::cervical, Side::right},
    {"tibialis_anterior_r", BodyRegion::lumbosacral, Side::right},
}};

Layout make_layout(const SimulationOptions& o, std::vector<ChannelInfo>& channels) {
  Layout lay;
  if (o.geometry == Geometry::grid) {
    for (int r = 0; r < o.rows; ++r) {
      for (int c = 0; c < o.columns; ++c) {
        lay.plus.push_back({c * o.ied_mm, r * o.ied_mm});
        lay.minus.emplace_back();
        lay.site.push_back(0);
        ChannelInfo ch;
        ch.name = "r" + std::to_string(r + 1) + "c" + std::to_string(c + 1);
        ch.muscle = "biceps_brachii_r";
        ch.region = BodyRegion::cervical;
        ch.side = Side::right;
        ch.grid = GridPosition{r, c, o.ied_mm};
        channels.push_back(std::move(ch));
      }
    }
    lay.n_sites = 1;
  } else {
    for (int i = 0; i < o.bipolar_channels; ++i) {
      lay.plus.push_back({0.5 * kBipolarIedMm, 0.0});
      lay.minus.emplace_back(Point{-0.5 * kBipolarIedMm, 0.0});
      lay.site.push_back(i);
      const auto& m = kBipolarMuscles[static_cast<std::size_t>(i) % kBipolarMuscles.size()];
      ChannelInfo ch;
      ch.name = "bp" + std::to_string(i + 1);
      ch.muscle = m.muscle;
      const auto round = static_cast<std::size_t>(i) / kBipolarMuscles.size();
      if (round > 0) ch.muscle += "_" + std::to_string(round + 1);
      ch.region = m.region;
      ch.side = m.side;
      channels.push_back(std::move(ch));
    }
    lay.n_sites = o.bipolar_channels;
  }
  return lay;
}

// ---------------------------------------------------------------------------
// MUAP model
// ---------------------------------------------------------------------------

// Fibres of a unit that fire together: same endplate region, depth, length.
struct FibreGroup {
  double z_ep = 0.0;       // endplate, mm along the fibres
  double y = 0.0;          // mm across
  double depth = 0.0;      // mm below the skin
  double left_mm = 0.0;    // endplate to the tendon on each side
  double right_mm = 0.0;
  double cv = 4.0;         // conduction velocity, m/s = mm/ms
  double delay_ms = 0.0;   // activation delay (terminal-branch / reinnervation desynchronisation)
  double weight = 1.0;     // number of fibres, relatively
  double end_spread_mm = 8.0;  // fibre ends scattered over +- this along the tendon
};

struct UnitModel {
  int site = 0;
  double z_ep = 0.0, y = 0.0, depth = 0.0;
  std::vector<FibreGroup> groups;
};

// Noise-free waveform of one discharge on the channels of its site.
struct Template {
  Index first_channel = 0;   // rows of w are channels first_channel...
  RowMatrix<double> w;       // (channels, samples), uV
  Index best = 0;            // channel (absolute) with the largest peak-to-peak
  Index peak_offset = 0;     // sample of the largest |w| on `best`, from the start
  double p2p = 0.0;
  int phases = 0;
};

// Rosenfalck (1969) intracellular action potential Vm(l) = 96 l^3 e^-l - 90 mV,
// l in mm behind the wavefront; the transmembrane current density is
// proportional to its second derivative: a source ahead, a sink around the
// depolarised zone and a source behind, ~20 mm long at 4 m/s.
struct Tripole {
  static constexpr int n = 32;
  static constexpr double step = 0.5;  // mm (at 4 m/s); 16 mm holds all but ~1e-4 of it
  std::array<double, n> lambda{};
  std::array<double, n> current{};
  Tripole() {
    // Each cell carries the exact integral of the current density over it,
    // psi'(upper) - psi'(lower) with psi' = (3l^2 - l^3) e^-l, so the net
    // current telescopes to zero (charge is conserved) and the dipole moment
    // stays zero (the membrane potential returns to rest): the far field is
    // the quadrupole it should be.
    auto dpsi = [](double l) { return (3.0 * l * l - l * l * l) * std::exp(-l); };
    for (int k = 0; k < n; ++k) {
      const double lo = k * step, hi = (k + 1) * step;
      lambda[static_cast<std::size_t>(k)] = 0.5 * (lo + hi);
      current[static_cast<std::size_t>(k)] = dpsi(hi) - dpsi(lo);
    }
    current[n - 1] -= dpsi(n * step);  // the ~1e-4 tail beyond the last cell
  }
};

// Radial over axial conductivity of muscle (~0.1 vs 0.5 S/m): potentials
// spread further along the fibres than across them.
constexpr double kAnisotropy = 5.0;

// Potential of a unit point current in an anisotropic homogeneous medium,
// 1 / sqrt(kAnisotropy * r^2 + dz^2) (up to a constant), for one fibre group
// and one electrode row (fixed transverse distance r), tabulated over dz at
// 0.25 mm and interpolated linearly (its spatial scale is >= 4 mm, so this is
// exact to ~1e-3 and saves most of the square roots).
class Kernel {
 public:
  Kernel(double r2, double dz_lo, double dz_hi) : r2_(r2), lo_(dz_lo) {
    const auto n = static_cast<std::size_t>(std::ceil((dz_hi - dz_lo) / kStep)) + 2;
    k_.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
      const double dz = dz_lo + static_cast<double>(i) * kStep;
      k_[i] = 1.0 / std::sqrt(r2 + dz * dz);
    }
  }
  double operator()(double dz) const {
    const double u = (dz - lo_) / kStep;
    if (u < 0.0 || u >= static_cast<double>(k_.size() - 1)) return 1.0 / std::sqrt(r2_ + dz * dz);
    const auto i = static_cast<std::size_t>(u);
    const double f = u - static_cast<double>(i);
    return k_[i] + f * (k_[i + 1] - k_[i]);
  }

 private:
  static constexpr double kStep = 0.25;
  double r2_, lo_;
  std::vector<double> k_;
};

double potential(const FibreGroup& g, const Tripole& tp, double ez, const Kernel& K, double t_ms) {
  const double t = t_ms - g.delay_ms;
  if (t <= 0.0) return 0.0;
  // The intracellular action potential lasts about the same time at any
  // velocity, so its spatial length scales with the velocity.
  const double scale = g.cv / 4.0;
  auto kernel = [&](double z) { return K(ez - z); };
  double v = 0.0;
  for (int dir = -1; dir <= 1; dir += 2) {
    const double len = dir > 0 ? g.right_mm : g.left_mm;
    const double travelled = g.cv * t;  // front position from the endplate
    // Charge is conserved: the part of the tripole not yet generated (still
    // "behind" the endplate) or already past the tendon leaves its current at
    // the endplate or the fibre end, where the axial current turns through
    // the membrane. That is what makes the standing generation and
    // end-of-fibre components, and keeps them dipole-like (they do not swamp
    // the propagating potential the way an unbalanced monopole would).
    // The fibres of a group end over a stretch of tendon (uniformly within
    // +-w of `len`), so the extinction is spread over a few ms: a smooth
    // end-of-fibre wave rather than the sharp one a single fibre would give.
    const double w = std::min(g.end_spread_mm, 0.5 * len);
    const double a = len - w, b = len + w;
    double at_endplate = 0.0, at_end = 0.0;
    for (int k = 0; k < Tripole::n; ++k) {
      const double i = tp.current[static_cast<std::size_t>(k)];
      const double s = travelled - tp.lambda[static_cast<std::size_t>(k)] * scale;  // behind the front
      if (s < 0.0) {
        at_endplate += i;
      } else if (s <= a) {
        v += i * kernel(g.z_ep + dir * s);
      } else if (s >= b) {
        at_end += i;
      } else {
        const double inside = (b - s) / (b - a);  // share of fibres not yet ended at s
        v += i * (inside * kernel(g.z_ep + dir * s) + (1.0 - inside) * kernel(g.z_ep + dir * 0.5 * (a + s)));
      }
    }
    v += at_endplate * kernel(g.z_ep) + at_end * kernel(g.z_ep + dir * len);
  }
  return g.weight * v;
}

Template build_template(const UnitModel& u, const Layout& lay, double fs, double target_p2p) {
  static const Tripole tp;
  Template t;
  std::vector<Index> rows;
  for (Index c = 0; c < static_cast<Index>(lay.site.size()); ++c)
    if (lay.site[static_cast<std::size_t>(c)] == u.site) rows.push_back(c);
  t.first_channel = rows.front();
  double end_ms = 0.0;
  for (const auto& g : u.groups)
    end_ms = std::max(end_ms, g.delay_ms + (std::max(g.left_mm, g.right_mm) + 25.0 * g.cv / 4.0) / g.cv);
  const double pre_ms = 1.0;
  const auto n = static_cast<Index>(std::ceil((pre_ms + end_ms + 2.0) * fs / 1000.0));
  t.w = RowMatrix<double>::Zero(static_cast<Index>(rows.size()), n);
  double ez_lo = 1e300, ez_hi = -1e300;
  for (Index c : rows) {
    const auto ch = static_cast<std::size_t>(c);
    ez_lo = std::min(ez_lo, lay.plus[ch].z);
    ez_hi = std::max(ez_hi, lay.plus[ch].z);
    if (lay.minus[ch]) {
      ez_lo = std::min(ez_lo, lay.minus[ch]->z);
      ez_hi = std::max(ez_hi, lay.minus[ch]->z);
    }
  }
  for (const auto& g : u.groups) {
    const double dz_lo = ez_lo - (g.z_ep + g.right_mm + g.end_spread_mm) - 1.0;
    const double dz_hi = ez_hi - (g.z_ep - g.left_mm - g.end_spread_mm) + 1.0;
    // One table per electrode row (transverse position) for this group.
    std::vector<std::pair<double, Kernel>> tables;
    auto table = [&](double y) -> const Kernel& {
      for (const auto& [ty, k] : tables)
        if (ty == y) return k;
      const double r2 = kAnisotropy * ((y - g.y) * (y - g.y) + g.depth * g.depth);
      tables.emplace_back(y, Kernel(r2, dz_lo, dz_hi));
      return tables.back().second;
    };
    for (std::size_t r = 0; r < rows.size(); ++r) {
      const auto ch = static_cast<std::size_t>(rows[r]);
      const Kernel& kp = table(lay.plus[ch].y);
      const Kernel* km = lay.minus[ch] ? &table(lay.minus[ch]->y) : nullptr;
      for (Index i = 0; i < n; ++i) {
        const double tm = static_cast<double>(i) * 1000.0 / fs - pre_ms;
        double v = potential(g, tp, lay.plus[ch].z, kp, tm);
        if (km) v -= potential(g, tp, lay.minus[ch]->z, *km, tm);
        t.w(static_cast<Index>(r), i) += v;
      }
    }
  }
  double best_p2p = -1.0;
  Index best_row = 0;
  for (Index r = 0; r < t.w.rows(); ++r) {
    const double p2p = t.w.row(r).maxCoeff() - t.w.row(r).minCoeff();
    if (p2p > best_p2p) {
      best_p2p = p2p;
      best_row = r;
    }
  }
  if (best_p2p > 0.0) t.w *= target_p2p / best_p2p;
  t.best = t.first_channel + best_row;
  t.p2p = t.w.row(best_row).maxCoeff() - t.w.row(best_row).minCoeff();
  t.w.row(best_row).cwiseAbs().maxCoeff(&t.peak_offset);
  t.phases = detail::count_phases(t.w.row(best_row).data(), n, 0.1);
  return t;
}

// Where a unit can lie under the electrodes of its site.
struct Territory {
  double z_lo, z_hi, y_lo, y_hi;
};

Territory territory(const SimulationOptions& o) {
  if (o.geometry == Geometry::grid) {
    const double span_z = (o.columns - 1) * o.ied_mm;
    const double span_y = (o.rows - 1) * o.ied_mm;
    // Innervation zones lie mid-muscle, under the middle of a grid placed
    // over the belly; transverse positions cover the grid's width.
    return {0.25 * span_z, 0.75 * span_z, -0.25 * o.ied_mm, span_y + 0.25 * o.ied_mm};
  }
  return {-0.75 * kBipolarIedMm, 0.75 * kBipolarIedMm, -8.0, 8.0};
}

UnitModel draw_unit(std::mt19937_64& rng, int site, const Territory& tr, bool complex, double cv,
                    double depth_lo, double depth_hi, int simple_groups) {
  std::uniform_real_distribution<double> U(0.0, 1.0);
  std::normal_distribution<double> N(0.0, 1.0);
  auto u01 = [&](double lo, double hi) { return lo + (hi - lo) * U(rng); };
  UnitModel u;
  u.site = site;
  u.z_ep = u01(tr.z_lo, tr.z_hi);
  u.y = u01(tr.y_lo, tr.y_hi);
  u.depth = u01(depth_lo, depth_hi);
  // Fibres run 90-160 mm; the innervation zone sits roughly mid-fibre.
  const double left = u01(45.0, 80.0), right = u01(45.0, 80.0);
  auto group = [&](double spread_mm, double cv_factor, double delay, double weight) {
    FibreGroup g;
    g.z_ep = u.z_ep + spread_mm * N(rng);
    g.y = u.y + 1.5 * N(rng);                                  // territory ~5-10 mm across
    g.depth = std::max(2.0, u.depth + 1.0 * N(rng));
    // Scattered tendon insertions smear the end-of-fibre potentials.
    g.left_mm = std::max(10.0, left + 6.0 * N(rng));
    g.right_mm = std::max(10.0, right + 6.0 * N(rng));
    g.cv = cv * cv_factor * (1.0 + 0.03 * N(rng));
    g.delay_ms = delay;
    g.weight = weight;
    g.end_spread_mm = u01(5.0, 12.0);
    return g;
  };
  if (!complex) {
    for (int k = 0; k < simple_groups; ++k) {
      const double jitter = 0.1 * std::abs(N(rng));  // drawn apart: argument order is unspecified
      u.groups.push_back(group(1.5, 1.0, jitter, u01(0.7, 1.3)));
    }
  } else {
    // Reinnervated units: collateral sprouts adopt denervated fibres through
    // long, immature, slowly conducting terminals, so fibre groups fire
    // desynchronised by a few ms: a polyphasic, longer potential.
    const int components = 3 + static_cast<int>(U(rng) * 2.0);  // 3..4
    double delay = 0.0;
    for (int c = 0; c < components; ++c) {
      const double cvf = c == 0 ? 1.0 : u01(0.7, 0.95);
      const double w = c == 0 ? 1.0 : u01(0.7, 1.1);
      for (int k = 0; k < 2; ++k) {
        const double jitter = 0.1 * std::abs(N(rng));
        u.groups.push_back(group(2.0, cvf, delay + jitter, w * u01(0.8, 1.2)));
      }
      delay += u01(4.0, 6.0);
    }
  }
  return u;
}

// Draws a unit and its waveform; complex units are redrawn until the
// waveform at the best channel really is polyphasic (> 4 phases) and simple
// ones until it has at most 4.
std::pair<UnitModel, Template> make_unit(std::mt19937_64& rng, int site, const Territory& tr, bool complex,
                                         const SimulationOptions& o, const Layout& lay, double p2p,
                                         double depth_lo, double depth_hi, int simple_groups = 5) {
  UnitModel best_u;
  Template best_t;
  int best_score = std::numeric_limits<int>::min();
  for (int attempt = 0; attempt < 40; ++attempt) {
    UnitModel u = draw_unit(rng, site, tr, complex, o.conduction_velocity_m_s, depth_lo, depth_hi, simple_groups);
    Template t = build_template(u, lay, o.fs, p2p);
    const bool ok = complex ? t.phases > 4 : t.phases <= 4;
    const int score = ok ? 1000 : (complex ? t.phases : -t.phases);
    if (score > best_score) {
      best_score = score;
      best_u = std::move(u);
      best_t = std::move(t);
    }
    if (ok) break;
  }
  return {std::move(best_u), std::move(best_t)};
}

void add_template(RowMatrix<double>& x, const Template& t, Index at, double gain) {
  const Index n = x.cols();
  const Index i0 = std::max<Index>(0, -at);
  const Index i1 = std::min<Index>(t.w.cols(), n - at);
  if (i1 <= i0) return;
  for (Index r = 0; r < t.w.rows(); ++r)
    x.row(t.first_channel + r).segment(at + i0, i1 - i0) += gain * t.w.row(r).segment(i0, i1 - i0);
}

// ---------------------------------------------------------------------------
// Masks
// ---------------------------------------------------------------------------

bool overlaps(const std::vector<Mask>& masks, Index a, Index b) {
  for (const auto& m : masks)
    if (a < m.stop && m.start < b) return true;
  return false;
}

std::vector<Mask> merge_masks(std::vector<Mask> masks) {
  std::sort(masks.begin(), masks.end(), [](const Mask& a, const Mask& b) {
    return a.start != b.start ? a.start < b.start : static_cast<int>(a.reason) < static_cast<int>(b.reason);
  });
  std::vector<Mask> out;
  for (const auto& m : masks) {
    bool merged = false;
    for (auto it = out.rbegin(); it != out.rend(); ++it) {
      if (it->reason == m.reason && m.start <= it->stop) {
        it->stop = std::max(it->stop, m.stop);
        merged = true;
        break;
      }
      if (it->stop < m.start) break;
    }
    if (!merged) out.push_back(m);
  }
  return out;
}

// Smooth gain across a grid (a far source seen from a slightly different
// angle by each electrode), or one gain per bipolar site.
std::vector<double> smooth_gains(std::mt19937_64& rng, const SimulationOptions& o, Index n_channels, double lo,
                                 double hi, bool random_sign_per_site) {
  std::uniform_real_distribution<double> U(0.0, 1.0);
  std::vector<double> g(static_cast<std::size_t>(n_channels));
  if (o.geometry == Geometry::grid) {
    const double g0 = lo + (hi - lo) * (0.25 + 0.5 * U(rng));
    const double gr = (U(rng) - 0.5) * (hi - lo) * 0.5;
    const double gc = (U(rng) - 0.5) * (hi - lo) * 0.5;
    for (int r = 0; r < o.rows; ++r)
      for (int c = 0; c < o.columns; ++c) {
        const double fr = o.rows > 1 ? static_cast<double>(r) / (o.rows - 1) - 0.5 : 0.0;
        const double fc = o.columns > 1 ? static_cast<double>(c) / (o.columns - 1) - 0.5 : 0.0;
        g[static_cast<std::size_t>(r * o.columns + c)] = std::clamp(g0 + gr * fr + gc * fc, lo, hi);
      }
  } else {
    for (auto& v : g) {
      v = lo + (hi - lo) * U(rng);
      if (random_sign_per_site && U(rng) < 0.5) v = -v;
    }
  }
  return g;
}

// ---------------------------------------------------------------------------
// Additive components
// ---------------------------------------------------------------------------

// A slow sinusoid (a few Hz at most), amp * sin(2 pi f t + phase), evaluated
// every ~20 ms and linearly interpolated in between: exact to ~1e-3 and far
// cheaper than a sine per sample.
class SlowSine {
 public:
  SlowSine(double fs, double amp, double f, double phase)
      : fs_(fs), amp_(amp), f_(f), phase_(phase), step_(std::max<Index>(1, static_cast<Index>(fs / 50.0))) {
    knot(0);
  }
  double next() {
    if (left_ == 0) knot(i_);
    const double v = value_;
    value_ += slope_;
    --left_;
    ++i_;
    return v;
  }

 private:
  double at(Index i) const { return amp_ * std::sin(2.0 * kPi * f_ * static_cast<double>(i) / fs_ + phase_); }
  void knot(Index i) {
    value_ = at(i);
    slope_ = (at(i + step_) - value_) / static_cast<double>(step_);
    left_ = step_;
  }
  double fs_, amp_, f_, phase_;
  Index step_, i_ = 0, left_ = 0;
  double value_ = 0.0, slope_ = 0.0;
};

// Electrode-skin and amplifier noise: white plus a low-pass (~60 Hz, one
// pole) share, independent per channel, and a small common share (shared
// reference and cable pickup) with smooth gains; each channel scaled to
// exactly noise_uv RMS.
void add_noise(RowMatrix<double>& x, const SimulationOptions& o) {
  const Index n = x.cols();
  const double alpha = std::exp(-2.0 * kPi * 60.0 / o.fs);
  const double lp_gain = std::sqrt((1.0 + alpha) / (1.0 - alpha));  // unit-variance low-pass output
  auto coloured = [&](std::mt19937_64& rng, Eigen::Ref<Eigen::RowVectorXd> out) {
    detail::Ziggurat normal;
    double lp = 0.0;
    for (Index i = 0; i < n; ++i) {
      const double w = normal(rng);
      lp = alpha * lp + (1.0 - alpha) * w;
      out[i] = 0.6 * w + 0.8 * lp_gain * lp;
    }
  };
  Eigen::RowVectorXd common(n);
  {
    auto rng = stream(o.seed, part_common_noise);
    coloured(rng, common);
  }
  auto grng = stream(o.seed, part_common_noise, 1);
  const auto gains = smooth_gains(grng, o, x.rows(), 0.2, 0.35, true);
  Eigen::RowVectorXd row(n);
  for (Index c = 0; c < x.rows(); ++c) {
    auto rng = stream(o.seed, part_noise, static_cast<std::uint64_t>(c));
    coloured(rng, row);
    row += gains[static_cast<std::size_t>(c)] * common;
    const double rms = std::sqrt(row.squaredNorm() / static_cast<double>(n));
    x.row(c) += (o.noise_uv / rms) * row;
  }
}

// Power-line interference: a common phase that wanders slowly (the grid
// frequency drifts by hundredths of a Hz), 3rd and 5th harmonics from
// non-linear loads, per-channel coupling (electrode impedance mismatch) and a
// slow amplitude drift per channel (moving cables, changing impedance).
void add_mains(RowMatrix<double>& x, const SimulationOptions& o) {
  const Index n = x.cols();
  auto rng = stream(o.seed, part_mains);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  std::normal_distribution<double> N(0.0, 1.0);
  const double f = o.mains_hz + 0.1 * (U(rng) - 0.5);
  const std::array<int, 3> harmonic{1, 3, 5};
  const std::array<double, 3> rel{1.0, 0.15 + 0.2 * U(rng), 0.05 + 0.15 * U(rng)};
  std::vector<std::size_t> present;
  for (std::size_t k = 0; k < 3; ++k)
    if (harmonic[k] * f < 0.45 * o.fs) present.push_back(k);  // the amplifier's anti-alias filter removes the rest
  std::array<Eigen::RowVectorXd, 3> S, C;
  for (std::size_t k : present) {
    S[k].resize(n);
    C[k].resize(n);
  }
  double phase = 2.0 * kPi * U(rng);
  const double walk = 0.002 * std::sqrt(1000.0 / o.fs);
  for (Index i = 0; i < n; ++i) {
    for (std::size_t k : present) {
      S[k][i] = std::sin(harmonic[k] * phase);
      C[k][i] = std::cos(harmonic[k] * phase);
    }
    phase += 2.0 * kPi * f / o.fs + walk * N(rng);
  }
  for (Index c = 0; c < x.rows(); ++c) {
    const double gain = o.mains_uv * (0.5 + U(rng));
    std::array<double, 3> a{}, b{};
    for (std::size_t k : present) {
      const double th = (k == 0 ? 0.3 : 1.0) * (U(rng) - 0.5) * 2.0;  // small per-channel phase offsets
      const double h = gain * rel[k] * (0.8 + 0.4 * U(rng));
      a[k] = h * std::cos(th);
      b[k] = h * std::sin(th);
    }
    // Amplitude drift 0.05-0.3 Hz, +-15 %.
    // Braced initialisation evaluates its arguments left to right (function
    // arguments have no order), so every compiler draws the same recording.
    SlowSine drift{o.fs, 0.15, 0.05 + 0.25 * U(rng), 2.0 * kPi * U(rng)};
    double* out = x.row(c).data();
    for (Index i = 0; i < n; ++i) {
      double v = 0.0;
      for (std::size_t k : present) v += a[k] * S[k][i] + b[k] * C[k][i];
      out[i] += (1.0 + drift.next()) * v;
    }
  }
}

// Baseline wander below 1 Hz (electrode half-cell drift, breathing, sweat):
// three slow sinusoids per channel and three shared by all channels.
void add_wander(RowMatrix<double>& x, const SimulationOptions& o) {
  const Index n = x.cols();
  auto rng = stream(o.seed, part_wander);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  const double each = o.wander_uv / std::sqrt(6.0);  // total amplitude ~ wander_uv
  auto component = [&](double amp) { return SlowSine{o.fs, amp, 0.05 + 0.75 * U(rng), 2.0 * kPi * U(rng)}; };
  std::array<SlowSine, 3> shared{component(each), component(each), component(each)};
  Eigen::RowVectorXd common(n);
  for (Index i = 0; i < n; ++i) common[i] = shared[0].next() + shared[1].next() + shared[2].next();
  for (Index c = 0; c < x.rows(); ++c) {
    const double g = 0.7 + 0.6 * U(rng);
    std::array<SlowSine, 3> own{component(each), component(each), component(each)};
    double* out = x.row(c).data();
    for (Index i = 0; i < n; ++i) out[i] += g * common[i] + own[0].next() + own[1].next() + own[2].next();
  }
}

// ECG far field: each beat is a P wave, a QRS complex (~90 ms overall, its
// energy mostly 10-40 Hz) and a broad T wave, identical in shape on every
// channel and scaled by a smooth spatial gain -- the heart is far away, so it
// does not fall off over millimetres the way a MUAP does. Heart rate varies
// with breathing (respiratory sinus arrhythmia) and beat to beat.
void add_ecg(RowMatrix<double>& x, const SimulationOptions& o) {
  const Index n = x.cols();
  auto rng = stream(o.seed, part_ecg);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  std::normal_distribution<double> N(0.0, 1.0);
  struct Wave {
    double amp, centre_ms, sigma_ms;
  };
  const std::array<Wave, 5> waves{{{0.12, -170.0, 22.0},
                                   {-0.22, -24.0, 6.5},
                                   {1.0, 0.0, 8.0},
                                   {-0.40, 26.0, 7.5},
                                   {0.28, 260.0, 45.0}}};
  const Index pre = static_cast<Index>(std::ceil(0.25 * o.fs));
  const Index len = pre + static_cast<Index>(std::ceil(0.45 * o.fs));
  Eigen::RowVectorXd beat(len);
  for (Index i = 0; i < len; ++i) {
    const double t = static_cast<double>(i - pre) * 1000.0 / o.fs;
    double v = 0.0;
    for (const auto& w : waves) v += w.amp * std::exp(-0.5 * (t - w.centre_ms) * (t - w.centre_ms) / (w.sigma_ms * w.sigma_ms));
    beat[i] = v;
  }
  const auto gains = smooth_gains(rng, o, x.rows(), 0.5, 1.2, true);
  const double rr0 = 60.0 / o.ecg_bpm;
  const double resp_hz = 0.2 + 0.1 * U(rng), resp_ph = 2.0 * kPi * U(rng);
  double t = rr0 * U(rng);
  while (t < static_cast<double>(n) / o.fs + 0.5) {
    const double resp = std::sin(2.0 * kPi * resp_hz * t + resp_ph);
    const double amp = o.ecg_uv * (1.0 + 0.05 * resp + 0.02 * N(rng));
    const Index at = static_cast<Index>(std::llround(t * o.fs)) - pre;
    const Index i0 = std::max<Index>(0, -at), i1 = std::min<Index>(len, n - at);
    if (i1 > i0)
      for (Index c = 0; c < x.rows(); ++c)
        x.row(c).segment(at + i0, i1 - i0) += (amp * gains[static_cast<std::size_t>(c)]) * beat.segment(i0, i1 - i0);
    t += rr0 * (1.0 + 0.05 * resp + 0.02 * N(rng));
  }
}

// Movement: electrodes and cables shift, a large slow (0.5-5 Hz) transient on
// every channel for 0.3-1 s, with a smooth gain across the grid.
void add_motion(RowMatrix<double>& x, const SimulationOptions& o, std::vector<Mask>& masks) {
  const Index n = x.cols();
  auto rng = stream(o.seed, part_motion);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  for (int k = 0; k < o.motion_artefacts; ++k) {
    const double dur = 0.3 + 0.7 * U(rng);
    const auto len = std::min<Index>(n, static_cast<Index>(dur * o.fs));
    const Index at = static_cast<Index>(U(rng) * static_cast<double>(n - len));
    const double amp = 200.0 + 600.0 * U(rng);
    const double f1 = 0.5 + 4.5 * U(rng), f2 = 0.5 + 4.5 * U(rng);
    const double p1 = 2.0 * kPi * U(rng), p2 = 2.0 * kPi * U(rng);
    auto gains = smooth_gains(rng, o, x.rows(), 0.5, 1.5, true);
    for (auto& g : gains) g *= 0.9 + 0.2 * U(rng);
    // Knocks of the cable or electrode within the movement: fast edges
    // (rise of a few ms) that reach well into the EMG band.
    struct Jerk {
      double at_s, amp, rise_s, decay_s;
    };
    std::vector<Jerk> jerks;
    const int n_jerks = 1 + static_cast<int>(U(rng) * 3.0);
    for (int j = 0; j < n_jerks; ++j) {
      const double at = dur * (0.1 + 0.7 * U(rng));
      const double size = amp * (0.2 + 0.3 * U(rng));  // operands of * are unsequenced: draw apart
      const double sign = U(rng) < 0.5 ? -1.0 : 1.0;
      jerks.push_back({at, size * sign, 0.002 + 0.003 * U(rng), 0.02 + 0.04 * U(rng)});
    }
    for (Index i = 0; i < len; ++i) {
      const double t = static_cast<double>(i) / o.fs;
      const double win = 0.5 - 0.5 * std::cos(2.0 * kPi * static_cast<double>(i) / static_cast<double>(len));
      double v = amp * win * (std::sin(2.0 * kPi * f1 * t + p1) + 0.6 * std::sin(2.0 * kPi * f2 * t + p2)) / 1.6;
      for (const auto& j : jerks)
        if (t >= j.at_s) v += win * j.amp * (std::exp(-(t - j.at_s) / j.decay_s) - std::exp(-(t - j.at_s) / j.rise_s));
      for (Index c = 0; c < x.rows(); ++c) x(c, at + i) += gains[static_cast<std::size_t>(c)] * v;
    }
    const auto guard = static_cast<Index>(0.05 * o.fs);
    masks.push_back({std::max<Index>(0, at - guard), std::min(n, at + len + guard), MaskReason::artefact});
  }
}

// Electrode pop: the electrode-gel contact breaks and re-forms on one
// channel, a fast step of hundreds of uV that the amplifier's input coupling
// and the re-settling half-cell potential bring back over ~100 ms.
void add_pops(RowMatrix<double>& x, const SimulationOptions& o, std::vector<Mask>& masks) {
  const Index n = x.cols();
  auto rng = stream(o.seed, part_pops);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  for (int k = 0; k < o.electrode_pops; ++k) {
    const auto ch = std::min<Index>(x.rows() - 1, static_cast<Index>(U(rng) * static_cast<double>(x.rows())));
    const Index at = static_cast<Index>(U(rng) * static_cast<double>(n));
    const double size = 200.0 + 600.0 * U(rng);
    const double amp = size * (U(rng) < 0.5 ? -1.0 : 1.0);
    const double tau = 0.06 + 0.09 * U(rng);   // decay, s
    const double rise = 0.0005 + 0.001 * U(rng);
    const auto len = std::min<Index>(n - at, static_cast<Index>(std::ceil(6.0 * tau * o.fs)));
    for (Index i = 0; i < len; ++i) {
      const double t = static_cast<double>(i) / o.fs;
      x(ch, at + i) += amp * (1.0 - std::exp(-t / rise)) * std::exp(-t / tau);
    }
    const auto guard = static_cast<Index>(0.02 * o.fs);
    masks.push_back({std::max<Index>(0, at - guard), std::min(n, at + static_cast<Index>(5.0 * tau * o.fs) + guard),
                     MaskReason::artefact});
  }
}

// Voluntary contraction: the excitation ramps up, holds and ramps down;
// units are recruited in order of size (Henneman) and fire at 8-20 Hz,
// faster with excitation, giving a dense interference pattern; one or two
// low-threshold units keep firing tonically (ISI <= 250 ms) after the
// contraction, as in incomplete relaxation.
void add_bursts(RowMatrix<double>& x, const SimulationOptions& o, const Layout& lay, std::vector<Mask>& masks) {
  const Index n = x.cols();
  const double T = static_cast<double>(n) / o.fs;
  auto rng = stream(o.seed, part_bursts);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  std::normal_distribution<double> N(0.0, 1.0);
  const Territory tr = territory(o);

  struct Pool {
    std::vector<Template> units;
    std::vector<double> threshold;
    std::vector<Template> tonic;
  };
  std::vector<std::optional<Pool>> pools(static_cast<std::size_t>(lay.n_sites));
  auto pool_for = [&](int site) -> Pool& {
    auto& p = pools[static_cast<std::size_t>(site)];
    if (!p) {
      p.emplace();
      auto prng = stream(o.seed, part_pool, static_cast<std::uint64_t>(site));
      std::uniform_real_distribution<double> V(0.0, 1.0);
      // Enough units for a dense interference pattern (surface RMS of tens
      // to a hundred uV); bigger units have higher thresholds (size principle).
      const int n_units = 30;
      for (int k = 0; k < n_units; ++k) {
        const double rank = static_cast<double>(k) / n_units;
        const double thr = 0.8 * std::pow(rank, 1.5);
        const double amp = (40.0 + 260.0 * rank) * (0.7 + 0.6 * V(prng));
        p->units.push_back(make_unit(prng, site, tr, false, o, lay, amp, 3.0, 18.0, 3).second);
        p->threshold.push_back(thr);
      }
      for (int k = 0; k < 2; ++k) p->tonic.push_back(make_unit(prng, site, tr, false, o, lay, 30.0 + 70.0 * V(prng), 4.0, 12.0).second);
    }
    return *p;
  };

  std::vector<std::pair<double, double>> placed;
  for (int b = 0; b < o.voluntary_bursts; ++b) {
    const double dur = std::min(o.burst_duration_s, T);
    const double tail = 0.5 + U(rng);
    double start = 0.0;
    for (int attempt = 0; attempt < 100; ++attempt) {
      start = U(rng) * std::max(0.0, T - dur - tail);
      bool clash = false;
      for (const auto& [s, e] : placed) clash = clash || (start < e + 0.5 && s < start + dur + tail + 0.5);
      if (!clash) break;
    }
    placed.emplace_back(start, start + dur + tail);
    const int site = lay.n_sites > 1 ? static_cast<int>(U(rng) * lay.n_sites) % lay.n_sites : 0;
    Pool& pool = pool_for(site);
    const double end = start + dur;
    const double ramp = std::min(0.3 * dur, 1.0);
    const double level = 0.6 + 0.4 * U(rng);
    auto excitation = [&](double t) {
      if (t < start || t > end) return 0.0;
      return level * std::clamp(std::min(t - start, end - t) / ramp, 0.0, 1.0);
    };
    Index last = 0;
    auto fire = [&](const Template& tp, double t) {
      const Index at = static_cast<Index>(std::llround(t * o.fs));
      add_template(x, tp, at, 1.0 + 0.05 * N(rng));
      last = std::max(last, at + tp.w.cols());
    };
    for (std::size_t u = 0; u < pool.units.size(); ++u) {
      const double thr = pool.threshold[u];
      double t = start + 0.01 * U(rng);
      while (t < end) {
        const double e = excitation(t);
        if (e <= thr) {
          t += 0.005;
          continue;
        }
        fire(pool.units[u], t);
        const double rate = 8.0 + 12.0 * (e - thr) / (1.0 - thr);
        t += std::max(0.03, (1.0 + 0.15 * N(rng)) / rate);
      }
    }
    const int n_tonic = 1 + (U(rng) < 0.5 ? 1 : 0);
    for (int k = 0; k < n_tonic; ++k) {
      const double isi = 0.15 + 0.08 * U(rng);
      double t = start + ramp * U(rng);
      while (t < end + tail) {
        fire(pool.tonic[static_cast<std::size_t>(k)], t);
        t += std::clamp(isi * (1.0 + 0.1 * N(rng)), 0.1, 0.25);
      }
    }
    const Index s0 = static_cast<Index>(start * o.fs);
    masks.push_back({std::max<Index>(0, s0), std::min(n, std::max(last, s0 + 1)), MaskReason::voluntary});
  }
}

}  // namespace

void SimulationOptions::validate() const {
  auto finite = [](double v) { return std::isfinite(v); };
  if (!finite(fs) || fs <= 0.0) bad("fs", "must be a positive number of Hz, got " + num(fs));
  if (!finite(duration_s) || duration_s <= 0.0) bad("duration_s", "must be positive, got " + num(duration_s));
  if (duration_s * fs < 1.0) bad("duration_s", "shorter than one sample at fs = " + num(fs));
  if (duration_s * fs > 2e9) bad("duration_s", "too long: more than 2e9 samples");
  if (geometry != Geometry::grid && geometry != Geometry::bipolar) bad("geometry", "must be grid or bipolar");
  if (rows < 1) bad("rows", "must be at least 1, got " + std::to_string(rows));
  if (columns < 1) bad("columns", "must be at least 1, got " + std::to_string(columns));
  if (!finite(ied_mm) || ied_mm <= 0.0) bad("ied_mm", "must be positive, got " + num(ied_mm));
  if (bipolar_channels < 1) bad("bipolar_channels", "must be at least 1, got " + std::to_string(bipolar_channels));
  if (!finite(conduction_velocity_m_s) || conduction_velocity_m_s < 1.0 || conduction_velocity_m_s > 10.0)
    bad("conduction_velocity_m_s", "must be within 1-10 m/s (muscle fibres conduct at 2-6), got " +
                                       num(conduction_velocity_m_s));
  if (n_units < 0) bad("n_units", "must not be negative, got " + std::to_string(n_units));
  if (!finite(amplitude_min_uv) || amplitude_min_uv <= 0.0)
    bad("amplitude_min_uv", "must be positive, got " + num(amplitude_min_uv));
  if (!finite(amplitude_max_uv) || amplitude_max_uv < amplitude_min_uv)
    bad("amplitude_max_uv", "must be at least amplitude_min_uv (" + num(amplitude_min_uv) + "), got " +
                                num(amplitude_max_uv));
  if (!finite(rate_per_min) || rate_per_min < 0.0) bad("rate_per_min", "must not be negative, got " + num(rate_per_min));
  if (rate_per_min > 200.0)
    bad("rate_per_min", "must be at most 200 per minute (faster, with the 100 ms minimum interval, is tonic firing), got " +
                            num(rate_per_min));
  if (!finite(doublet_probability) || doublet_probability < 0.0 || doublet_probability > 1.0)
    bad("doublet_probability", "must be within 0-1, got " + num(doublet_probability));
  if (!finite(complex_fraction) || complex_fraction < 0.0 || complex_fraction > 1.0)
    bad("complex_fraction", "must be within 0-1, got " + num(complex_fraction));
  if (!finite(noise_uv) || noise_uv < 0.0) bad("noise_uv", "must not be negative, got " + num(noise_uv));
  if (!finite(mains_hz) || mains_hz < 0.0) bad("mains_hz", "must not be negative (0 = none), got " + num(mains_hz));
  if (mains_hz >= 0.5 * fs) bad("mains_hz", "must be below the Nyquist frequency " + num(0.5 * fs) + ", got " + num(mains_hz));
  if (!finite(mains_uv) || mains_uv < 0.0) bad("mains_uv", "must not be negative, got " + num(mains_uv));
  if (!finite(wander_uv) || wander_uv < 0.0) bad("wander_uv", "must not be negative, got " + num(wander_uv));
  if (!finite(ecg_uv) || ecg_uv < 0.0) bad("ecg_uv", "must not be negative, got " + num(ecg_uv));
  if (!finite(ecg_bpm) || ecg_bpm < 20.0 || ecg_bpm > 250.0) bad("ecg_bpm", "must be within 20-250, got " + num(ecg_bpm));
  if (motion_artefacts < 0) bad("motion_artefacts", "must not be negative, got " + std::to_string(motion_artefacts));
  if (electrode_pops < 0) bad("electrode_pops", "must not be negative, got " + std::to_string(electrode_pops));
  if (voluntary_bursts < 0) bad("voluntary_bursts", "must not be negative, got " + std::to_string(voluntary_bursts));
  if (!finite(burst_duration_s) || burst_duration_s <= 0.0)
    bad("burst_duration_s", "must be positive, got " + num(burst_duration_s));
}

Simulation simulate(const SimulationOptions& o) {
  o.validate();
  Simulation sim;
  std::vector<ChannelInfo> channels;
  const Layout lay = make_layout(o, channels);
  const auto n_channels = static_cast<Index>(channels.size());
  const auto n = std::max<Index>(1, static_cast<Index>(std::llround(o.duration_s * o.fs)));
  RowMatrix<double> x = RowMatrix<double>::Zero(n_channels, n);

  // Artefacts and contractions first: fasciculations are then drawn only
  // outside them, so every truth event lies in analysable signal.
  std::vector<Mask> masks;
  if (o.voluntary_bursts > 0) add_bursts(x, o, lay, masks);
  if (o.motion_artefacts > 0) add_motion(x, o, masks);
  if (o.electrode_pops > 0) add_pops(x, o, masks);
  masks = merge_masks(std::move(masks));

  // Fasciculating units.
  auto urng = stream(o.seed, part_units);
  std::uniform_real_distribution<double> U(0.0, 1.0);
  const Territory tr = territory(o);
  std::vector<Template> templates;
  // Units spread over the sites in turn, so every bipolar muscle has some.
  const int site_offset = static_cast<int>(U(urng) * lay.n_sites) % lay.n_sites;
  const int n_complex = static_cast<int>(std::lround(o.complex_fraction * o.n_units));
  for (int k = 0; k < o.n_units; ++k) {
    const bool complex = k < n_complex;
    const double amp = o.amplitude_min_uv + (o.amplitude_max_uv - o.amplitude_min_uv) * U(urng);
    const int site = (site_offset + k) % lay.n_sites;
    auto [model, tpl] = make_unit(urng, site, tr, complex, o, lay, amp, 4.0, 14.0);
    TrueUnit tu;
    tu.id = k;
    tu.channel = tpl.best;
    tu.amplitude_uv = tpl.p2p;
    tu.complex = complex;
    // Fasciculation rates differ between units by a factor of a few.
    tu.rate_per_min = o.rate_per_min * (0.5 + U(urng));
    tu.phases = tpl.phases;
    tu.endplate_mm = model.z_ep;
    tu.transverse_mm = model.y;
    tu.depth_mm = model.depth;
    sim.units.push_back(tu);
    templates.push_back(std::move(tpl));
  }

  // Firing: a renewal process with a 100 ms dead time (a fasciculating axon
  // is refractory and rarely re-fires at once), exponential beyond it so the
  // discharges are irregular; with doublet_probability a discharge is
  // followed 5-110 ms later by a second (log-uniform: short intervals are
  // the commonest).
  const double fs = o.fs;
  const auto guard = static_cast<Index>(std::ceil(0.02 * fs));
  for (std::size_t k = 0; k < templates.size(); ++k) {
    const auto& tp = templates[k];
    const auto& tu = sim.units[k];
    if (tu.rate_per_min <= 0.0) continue;
    auto frng = stream(o.seed, part_firing, k);
    auto jrng = stream(o.seed, part_jitter, k);
    std::exponential_distribution<double> E(1.0);
    std::normal_distribution<double> N(0.0, 1.0);
    const double dead = 0.1;
    const double mean_gap = std::max(1e-3, 60.0 / tu.rate_per_min - dead);
    double t = mean_gap * E(frng);
    const double T = static_cast<double>(n) / fs;
    while (t < T) {
      std::vector<double> times{t};
      if (U(frng) < o.doublet_probability) times.push_back(t + 0.001 * std::exp(std::log(5.0) + (std::log(110.0) - std::log(5.0)) * U(frng)));
      const double next = times.back() + dead + mean_gap * E(frng);
      bool ok = true;
      std::vector<Index> at;
      for (double ti : times) {
        const Index s = static_cast<Index>(std::llround(ti * fs));
        if (s < 0 || s + tp.w.cols() > n || overlaps(masks, s - guard, s + tp.w.cols() + guard)) ok = false;
        at.push_back(s);
      }
      // A doublet cut by a mask or the recording's end is left out whole:
      // half of one would be a mislabelled single.
      if (ok) {
        for (Index s : at) {
          const double gain = std::clamp(1.0 + 0.05 * N(jrng), 0.85, 1.15);
          add_template(x, tp, s, gain);
          TrueEvent ev;
          ev.sample = s + tp.peak_offset;
          ev.unit = tu.id;
          ev.channel = tp.best;
          ev.amplitude_uv = gain * tp.p2p;
          ev.doublet = at.size() > 1;
          ev.complex = tu.complex;
          sim.events.push_back(ev);
        }
      }
      t = next;
    }
  }
  std::sort(sim.events.begin(), sim.events.end(), [](const TrueEvent& a, const TrueEvent& b) {
    return a.sample != b.sample ? a.sample < b.sample : a.unit < b.unit;
  });

  if (o.ecg_uv > 0.0) add_ecg(x, o);
  if (o.wander_uv > 0.0) add_wander(x, o);
  if (o.mains_hz > 0.0 && o.mains_uv > 0.0) add_mains(x, o);
  if (o.noise_uv > 0.0) add_noise(x, o);

  sim.masks = std::move(masks);
  sim.recording.samples = std::move(x);
  sim.recording.fs = fs;
  sim.recording.channels = std::move(channels);
  sim.recording.format = "simulated";
  if (o.mains_hz > 0.0) sim.recording.power_line_hz = o.mains_hz;
  return sim;
}

}  // namespace fasctrack::sim
