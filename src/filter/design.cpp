// IIR filter design: a port of scipy.signal's butter / iirnotch / zpk2sos.
//
// butter() follows SciPy step by step (buttap -> lp2xx_zpk with bilinear
// prewarping at fs = 2 -> bilinear_zpk -> zpk2sos with 'nearest' pairing) and
// performs the complex arithmetic the way numpy does (componentwise products,
// Smith division with a reciprocal scale). That matters beyond the last ulp:
// zpk2sos orders sections by pole radius and pairs zeros by distance, so a
// pole computed one ulp differently can break a tie the other way and swap
// whole sections. Reproducing numpy's operations keeps those decisions equal.

#include <fasctrack/filter/design.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <complex>
#include <cstddef>
#include <limits>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

// The numpy-compatible arithmetic below must not be contracted into fused
// multiply-adds (builds with -march=native and -ffp-contract=fast would do so);
// the one place numpy does fuse is written as an explicit std::fma.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace fasctrack::filter {

namespace {

using cplx = std::complex<double>;
using CVec = std::vector<cplx>;

// Shortest round-trip-ish formatting for error messages: "600", "0.1", "1e-07".
std::string num(double v) {
  std::ostringstream s;
  s.precision(12);
  s << v;
  return s.str();
}

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

void check_fs(double fs) {
  if (!std::isfinite(fs) || fs <= 0.0) fail("fs: sampling rate must be finite and > 0 Hz, got " + num(fs));
}

// ---- numpy-compatible complex arithmetic -------------------------------------------
// numpy multiplies componentwise without the C99 Annex G special-casing and
// divides with Smith's method using a reciprocal scale; using the same
// formulas reproduces its results bit for bit in the common case.

// Plain product, as numpy's scalar and reduction loops (np.prod) compute it.
cplx cmul(cplx a, cplx b) {
  return {a.real() * b.real() - a.imag() * b.imag(), a.real() * b.imag() + a.imag() * b.real()};
}

cplx cdiv(cplx a, cplx b) {
  const double ar = a.real(), ai = a.imag(), br = b.real(), bi = b.imag();
  if (std::fabs(br) >= std::fabs(bi)) {
    if (br == 0.0 && bi == 0.0) return {ar / std::fabs(br), ai / std::fabs(br)};
    const double rat = bi / br;
    const double scl = 1.0 / (br + bi * rat);
    return {(ar + ai * rat) * scl, (ai - ar * rat) * scl};
  }
  const double rat = br / bi;
  const double scl = 1.0 / (bi + br * rat);
  return {(ar * rat + ai) * scl, (ai * rat - ar) * scl};
}

// numpy's vectorised elementwise complex multiply and square (FMA hardware):
// real = fma(ar, br, -(ai * bi)), imag = fma(ar, bi, ai * br).
cplx cmul_vec(cplx a, cplx b) {
  return {std::fma(a.real(), b.real(), -(a.imag() * b.imag())), std::fma(a.real(), b.imag(), a.imag() * b.real())};
}

cplx csquare(cplx a) { return cmul_vec(a, a); }

// |z| as numpy's vectorised complex absolute computes it on FMA hardware:
// larger * sqrt(ratio^2 + 1) with a fused multiply-add. zpk2sos ranks poles by
// 1 - |p|; with symmetric designs two poles can tie to the last ulp, and only
// the same formula breaks the tie the same way.
double np_abs(cplx z) {
  const double re = std::fabs(z.real());
  const double im = std::fabs(z.imag());
  const double larger = std::max(re, im);
  const double smaller = std::min(re, im);
  if (larger == 0.0 || std::isinf(smaller)) return std::hypot(re, im);
  const double ratio = smaller / larger;
  return larger * std::sqrt(std::fma(ratio, ratio, 1.0));
}

// Correctly rounded tan (via extended precision), the value numpy's vectorised
// tan returns in all but rare cases; libm's tan is off by an ulp more often,
// which moves prewarped band edges and, through ties in zpk2sos, section order.
double tan_rounded(double x) { return static_cast<double>(std::tan(static_cast<long double>(x))); }

// np.prod: sequential product starting from the first element.
cplx cprod(const CVec& v) {
  if (v.empty()) return {1.0, 0.0};
  cplx out = v[0];
  for (std::size_t i = 1; i < v.size(); ++i) out = cmul(out, v[i]);
  return out;
}

CVec negated(const CVec& v) {
  CVec out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = -v[i];
  return out;
}

struct Zpk {
  CVec z;
  CVec p;
  double k = 1.0;
};

// ---- analog prototype and frequency transformations (scipy.signal) ----------------

Zpk buttap(int n) {
  Zpk out;
  for (int m = -n + 1; m < n; m += 2) {
    // p = -exp(1j * pi * m / (2 * N)); the middle pole (m = 0) is exactly real.
    // numpy evaluates 1j*pi*m / (2N) as a complex division, i.e. a multiply by 1/(2N).
    const double theta = (std::numbers::pi * static_cast<double>(m)) * (1.0 / static_cast<double>(2 * n));
    out.p.push_back(-std::exp(cplx(0.0, theta)));
  }
  return out;
}

Zpk lp2lp_zpk(const Zpk& in, double wo) {
  const auto degree = static_cast<double>(in.p.size() - in.z.size());
  Zpk out;
  for (const cplx& z : in.z) out.z.push_back(cmul_vec(cplx(wo, 0.0), z));
  for (const cplx& p : in.p) out.p.push_back(cmul_vec(cplx(wo, 0.0), p));
  out.k = in.k * std::pow(wo, degree);
  return out;
}

Zpk lp2hp_zpk(const Zpk& in, double wo) {
  const std::size_t degree = in.p.size() - in.z.size();
  Zpk out;
  for (const cplx& z : in.z) out.z.push_back(cdiv(cplx(wo, 0.0), z));
  for (const cplx& p : in.p) out.p.push_back(cdiv(cplx(wo, 0.0), p));
  out.z.insert(out.z.end(), degree, cplx(0.0, 0.0));
  out.k = in.k * cdiv(cprod(negated(in.z)), cprod(negated(in.p))).real();
  return out;
}

// s -> (s^2 + wo^2) / (bw s): each low-pass root r becomes the two roots
// r' +- sqrt(r'^2 - wo^2) with r' = r * bw / 2, centred geometrically on wo.
Zpk lp2bp_zpk(const Zpk& in, double wo, double bw) {
  const std::size_t degree = in.p.size() - in.z.size();
  CVec z_lp, p_lp;
  for (const cplx& z : in.z) z_lp.push_back(cdiv(cmul_vec(z, cplx(bw, 0.0)), cplx(2.0, 0.0)));
  for (const cplx& p : in.p) p_lp.push_back(cdiv(cmul_vec(p, cplx(bw, 0.0)), cplx(2.0, 0.0)));
  Zpk out;
  for (const cplx& r : z_lp) out.z.push_back(r + std::sqrt(csquare(r) - std::pow(wo, 2.0)));
  for (const cplx& r : z_lp) out.z.push_back(r - std::sqrt(csquare(r) - std::pow(wo, 2.0)));
  for (const cplx& r : p_lp) out.p.push_back(r + std::sqrt(csquare(r) - std::pow(wo, 2.0)));
  for (const cplx& r : p_lp) out.p.push_back(r - std::sqrt(csquare(r) - std::pow(wo, 2.0)));
  out.z.insert(out.z.end(), degree, cplx(0.0, 0.0));
  out.k = in.k * std::pow(bw, static_cast<double>(degree));
  return out;
}

// s -> bw s / (s^2 + wo^2): as lp2bp on the inverted roots, plus zeros at +-j wo
// (the notch centre) for every pole in excess of the zeros.
Zpk lp2bs_zpk(const Zpk& in, double wo, double bw) {
  const std::size_t degree = in.p.size() - in.z.size();
  CVec z_hp, p_hp;
  for (const cplx& z : in.z) z_hp.push_back(cdiv(cplx(bw / 2, 0.0), z));
  for (const cplx& p : in.p) p_hp.push_back(cdiv(cplx(bw / 2, 0.0), p));
  Zpk out;
  for (const cplx& r : z_hp) out.z.push_back(r + std::sqrt(csquare(r) - std::pow(wo, 2.0)));
  for (const cplx& r : z_hp) out.z.push_back(r - std::sqrt(csquare(r) - std::pow(wo, 2.0)));
  for (const cplx& r : p_hp) out.p.push_back(r + std::sqrt(csquare(r) - std::pow(wo, 2.0)));
  for (const cplx& r : p_hp) out.p.push_back(r - std::sqrt(csquare(r) - std::pow(wo, 2.0)));
  out.z.insert(out.z.end(), degree, cplx(0.0, wo));
  out.z.insert(out.z.end(), degree, cplx(0.0, -wo));
  out.k = in.k * cdiv(cprod(negated(in.z)), cprod(negated(in.p))).real();
  return out;
}

Zpk bilinear_zpk(const Zpk& in, double fs) {
  const std::size_t degree = in.p.size() - in.z.size();
  const double fs2 = 2.0 * fs;
  Zpk out;
  CVec fs2_minus_z, fs2_minus_p;
  for (const cplx& z : in.z) {
    out.z.push_back(cdiv(fs2 + z, fs2 - z));
    fs2_minus_z.push_back(fs2 - z);
  }
  for (const cplx& p : in.p) {
    out.p.push_back(cdiv(fs2 + p, fs2 - p));
    fs2_minus_p.push_back(fs2 - p);
  }
  out.z.insert(out.z.end(), degree, cplx(-1.0, 0.0));
  out.k = in.k * cdiv(cprod(fs2_minus_z), cprod(fs2_minus_p)).real();
  return out;
}

// ---- zpk2sos (pairing='nearest') -------------------------------------------------------

// scipy's _cplxreal: conjugate pairs collapsed to their upper half-plane member
// (sorted by real part, then |imag|), followed by the real roots sorted by value.
// Real roots come back with an exactly zero imaginary part, which is what the
// np.isreal() tests of zpk2sos rely on.
CVec cplxreal(CVec z) {
  if (z.empty()) return z;
  const double tol = 100.0 * std::numeric_limits<double>::epsilon();
  std::stable_sort(z.begin(), z.end(), [](const cplx& a, const cplx& b) {
    if (a.real() != b.real()) return a.real() < b.real();
    return std::fabs(a.imag()) < std::fabs(b.imag());
  });
  CVec zr, zp, zn;
  for (const cplx& v : z) {
    if (std::fabs(v.imag()) <= tol * np_abs(v)) {
      zr.emplace_back(v.real(), 0.0);
    } else if (v.imag() > 0) {
      zp.push_back(v);
    } else {
      zn.push_back(v);
    }
  }
  if (zp.size() != zn.size()) throw std::logic_error("zpk2sos: complex root without a conjugate");
  // Within runs of (nearly) equal real part, order both halves by |imag| so
  // the k-th positive root meets its own conjugate.
  const std::size_t n = zp.size();
  auto by_imag = [](const cplx& a, const cplx& b) { return std::fabs(a.imag()) < std::fabs(b.imag()); };
  std::size_t i = 0;
  while (i + 1 < n) {
    if (zp[i + 1].real() - zp[i].real() <= tol * np_abs(zp[i])) {
      std::size_t stop = i + 1;
      while (stop + 1 < n && zp[stop + 1].real() - zp[stop].real() <= tol * np_abs(zp[stop])) ++stop;
      std::stable_sort(zp.begin() + static_cast<std::ptrdiff_t>(i), zp.begin() + static_cast<std::ptrdiff_t>(stop + 1),
                       by_imag);
      std::stable_sort(zn.begin() + static_cast<std::ptrdiff_t>(i), zn.begin() + static_cast<std::ptrdiff_t>(stop + 1),
                       by_imag);
      i = stop + 1;
    } else {
      ++i;
    }
  }
  CVec out;
  out.reserve(n + zr.size());
  for (std::size_t j = 0; j < n; ++j) {
    if (np_abs(zp[j] - std::conj(zn[j])) > tol * np_abs(zn[j]))
      throw std::logic_error("zpk2sos: complex root without a conjugate");
    out.push_back(cdiv(zp[j] + std::conj(zn[j]), cplx(2.0, 0.0)));
  }
  out.insert(out.end(), zr.begin(), zr.end());
  return out;
}

bool is_real(const cplx& v) { return v.imag() == 0.0; }

// Digital "worst" pole: the one closest to the unit circle (first on ties, as np.argmin).
std::size_t idx_worst(const CVec& p) {
  std::size_t best = 0;
  double best_d = std::fabs(1.0 - np_abs(p[0]));
  for (std::size_t i = 1; i < p.size(); ++i) {
    const double d = std::fabs(1.0 - np_abs(p[i]));
    if (d < best_d) {
      best = i;
      best_d = d;
    }
  }
  return best;
}

enum class Which { real, complex, any };

// Nearest element of `from` to `to` among the wanted kind (scipy's _nearest_real_complex_idx).
std::size_t nearest_idx(const CVec& from, cplx to, Which which) {
  std::size_t best = from.size();
  double best_d = 0.0;
  for (std::size_t i = 0; i < from.size(); ++i) {
    if (which == Which::real && !is_real(from[i])) continue;
    if (which == Which::complex && is_real(from[i])) continue;
    const double d = np_abs(from[i] - to);
    if (best == from.size() || d < best_d) {
      best = i;
      best_d = d;
    }
  }
  if (best == from.size()) throw std::logic_error("zpk2sos: no root of the requested kind left");
  return best;
}

cplx take(CVec& v, std::size_t i) {
  const cplx out = v[i];
  v.erase(v.begin() + static_cast<std::ptrdiff_t>(i));
  return out;
}

// np.poly(roots), real part (conjugate pairs give a real polynomial).
std::vector<double> poly(const CVec& roots) {
  CVec a{cplx(1.0, 0.0)};
  for (const cplx& r : roots) {
    CVec next(a.size() + 1, cplx(0.0, 0.0));
    for (std::size_t i = 0; i < a.size(); ++i) {
      next[i] += a[i];
      next[i + 1] += cmul(a[i], -r);
    }
    a = std::move(next);
  }
  std::vector<double> out;
  for (const cplx& c : a) out.push_back(c.real());
  return out;
}

// One section from up to two zeros and poles, right-aligned as scipy's _single_zpksos.
void single_zpksos(const CVec& z, const CVec& p, double* row) {
  const std::vector<double> b = poly(z);
  const std::vector<double> a = poly(p);
  for (int i = 0; i < 6; ++i) row[i] = 0.0;
  for (std::size_t i = 0; i < b.size(); ++i) row[3 - b.size() + i] = b[i];
  for (std::size_t i = 0; i < a.size(); ++i) row[6 - a.size() + i] = a[i];
}

Sos zpk2sos(CVec z, CVec p, double k) {
  if (z.empty() && p.empty()) {
    Sos sos(1, 6);
    sos << k, 0.0, 0.0, 1.0, 0.0, 0.0;
    return sos;
  }
  // Same number of poles and zeros, and an even count: extra roots at the origin.
  if (z.size() < p.size()) z.insert(z.end(), p.size() - z.size(), cplx(0.0, 0.0));
  if (p.size() < z.size()) p.insert(p.end(), z.size() - p.size(), cplx(0.0, 0.0));
  const std::size_t n_sections = (p.size() + 1) / 2;
  if (p.size() % 2 == 1) {
    p.emplace_back(0.0, 0.0);
    z.emplace_back(0.0, 0.0);
  }
  z = cplxreal(std::move(z));
  p = cplxreal(std::move(p));

  auto count_real = [](const CVec& v) { return std::count_if(v.begin(), v.end(), is_real); };

  Sos sos = Sos::Zero(static_cast<Index>(n_sections), 6);
  // Fill from the last section backwards so the poles nearest the unit circle
  // (highest gain, most sensitive to quantisation) come last in the cascade.
  for (std::size_t si = n_sections; si-- > 0;) {
    double* row = sos.row(static_cast<Index>(si)).data();
    const cplx p1 = take(p, idx_worst(p));
    if (is_real(p1) && count_real(p) == 0) {
      // Last remaining real pole: first-order section with the nearest real zero.
      const cplx z1 = take(z, nearest_idx(z, p1, Which::real));
      single_zpksos({z1, cplx(0.0, 0.0)}, {p1, cplx(0.0, 0.0)}, row);
    } else if (p.size() + 1 == z.size() && !is_real(p1) && count_real(p) == 1 && count_real(z) == 1) {
      // One real pole and one real zero left: this complex pole must take a complex zero.
      const cplx z1 = take(z, nearest_idx(z, p1, Which::complex));
      single_zpksos({z1, std::conj(z1)}, {p1, std::conj(p1)}, row);
    } else {
      cplx p2;
      if (is_real(p1)) {
        CVec reals;
        std::vector<std::size_t> where;
        for (std::size_t i = 0; i < p.size(); ++i) {
          if (is_real(p[i])) {
            reals.push_back(p[i]);
            where.push_back(i);
          }
        }
        p2 = take(p, where[idx_worst(reals)]);
      } else {
        p2 = std::conj(p1);
      }
      if (!z.empty()) {
        const cplx z1 = take(z, nearest_idx(z, p1, Which::any));
        if (!is_real(z1)) {
          single_zpksos({z1, std::conj(z1)}, {p1, p2}, row);
        } else if (!z.empty()) {
          const cplx z2 = take(z, nearest_idx(z, p1, Which::real));
          single_zpksos({z1, z2}, {p1, p2}, row);
        } else {
          single_zpksos({z1}, {p1, p2}, row);
        }
      } else {
        single_zpksos({}, {p1, p2}, row);
      }
    }
  }
  sos.row(0).head<3>() *= k;
  return sos;
}

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

BandType parse_band_type(std::string_view text) {
  // scipy.signal's band_dict, case-insensitive.
  const std::string t = lower(text);
  if (t == "lowpass" || t == "low" || t == "lp" || t == "l") return BandType::lowpass;
  if (t == "highpass" || t == "high" || t == "hp" || t == "h") return BandType::highpass;
  if (t == "bandpass" || t == "band" || t == "pass" || t == "bp") return BandType::bandpass;
  if (t == "bandstop" || t == "stop" || t == "bands" || t == "bs") return BandType::bandstop;
  fail("btype: '" + std::string(text) +
       "' is not a band type (expected lowpass/low, highpass/high, bandpass/band/pass or bandstop/stop)");
}

std::string_view to_string(BandType type) noexcept {
  switch (type) {
    case BandType::lowpass: return "lowpass";
    case BandType::highpass: return "highpass";
    case BandType::bandpass: return "bandpass";
    case BandType::bandstop: return "bandstop";
  }
  return "unknown";
}

Sos butter(int order, const std::vector<double>& cutoff_hz, BandType type, double fs) {
  if (order < 1) fail("order: must be >= 1, got " + std::to_string(order));
  check_fs(fs);
  const bool band = type == BandType::bandpass || type == BandType::bandstop;
  const std::size_t expected = band ? 2 : 1;
  if (cutoff_hz.size() != expected) {
    fail("cutoff_hz: a " + std::string(to_string(type)) + " filter needs " + std::to_string(expected) +
         (band ? " band edges" : " cutoff frequency") + ", got " + std::to_string(cutoff_hz.size()) +
         " value(s)");
  }
  const double nyquist = fs / 2.0;
  for (double f : cutoff_hz) {
    if (!std::isfinite(f)) fail("cutoff_hz: " + num(f) + " Hz is not finite");
    if (f <= 0.0) fail("cutoff_hz: " + num(f) + " Hz is not above 0 Hz");
    if (f >= nyquist) {
      fail("cutoff_hz: " + num(f) + " Hz is not below the Nyquist frequency " + num(nyquist) + " Hz (fs = " +
           num(fs) + " Hz)");
    }
  }
  if (band && !(cutoff_hz[0] < cutoff_hz[1])) {
    fail("cutoff_hz: band edges must be ascending, got [" + num(cutoff_hz[0]) + ", " + num(cutoff_hz[1]) + "] Hz");
  }

  // SciPy: Wn = Wn / (fs / 2), then prewarp for a bilinear transform at fs = 2.
  std::vector<double> warped;
  for (double f : cutoff_hz) {
    const double wn = f / nyquist;
    warped.push_back(2.0 * 2.0 * tan_rounded(std::numbers::pi * wn / 2.0));
  }
  Zpk zpk = buttap(order);
  switch (type) {
    case BandType::lowpass: zpk = lp2lp_zpk(zpk, warped[0]); break;
    case BandType::highpass: zpk = lp2hp_zpk(zpk, warped[0]); break;
    case BandType::bandpass:
    case BandType::bandstop: {
      const double bw = warped[1] - warped[0];
      const double wo = std::sqrt(warped[0] * warped[1]);
      zpk = type == BandType::bandpass ? lp2bp_zpk(zpk, wo, bw) : lp2bs_zpk(zpk, wo, bw);
      break;
    }
  }
  zpk = bilinear_zpk(zpk, 2.0);
  return zpk2sos(std::move(zpk.z), std::move(zpk.p), zpk.k);
}

Sos iirnotch(double f0_hz, double quality, double fs) {
  check_fs(fs);
  if (!std::isfinite(f0_hz) || f0_hz <= 0.0 || f0_hz >= fs / 2.0) {
    fail("f0_hz: notch frequency " + num(f0_hz) + " Hz must be above 0 and below the Nyquist frequency " +
         num(fs / 2.0) + " Hz (fs = " + num(fs) + " Hz)");
  }
  if (!std::isfinite(quality) || quality <= 0.0) fail("quality: Q must be finite and > 0, got " + num(quality));
  // scipy.signal._design_notch_peak_filter(ftype='notch'), -3 dB bandwidth f0 / Q.
  double w0 = 2.0 * f0_hz / fs;
  double bw = w0 / quality;
  bw = bw * std::numbers::pi;
  w0 = w0 * std::numbers::pi;
  const double beta = std::tan(bw / 2.0);
  const double gain = 1.0 / (1.0 + beta);
  Sos sos(1, 6);
  sos << gain * 1.0, gain * (-2.0 * std::cos(w0)), gain * 1.0, 1.0, -2.0 * gain * std::cos(w0), 2.0 * gain - 1.0;
  return sos;
}

Sos mains_notches(double mains_hz, double fs, const MainsNotchOptions& options) {
  check_fs(fs);
  const double nyquist = fs / 2.0;
  if (!std::isfinite(mains_hz) || mains_hz <= 0.0) fail("mains_hz: must be finite and > 0 Hz, got " + num(mains_hz));
  if (!std::isfinite(options.bandwidth_hz) || options.bandwidth_hz <= 0.0)
    fail("bandwidth_hz: must be finite and > 0 Hz, got " + num(options.bandwidth_hz));
  if (options.max_harmonics < 0)
    fail("max_harmonics: must be >= 0 (0 = all below max_frequency_hz), got " + std::to_string(options.max_harmonics));
  if (!std::isfinite(options.max_frequency_hz) || options.max_frequency_hz < 0.0 ||
      options.max_frequency_hz > nyquist) {
    fail("max_frequency_hz: must be in [0, " + num(nyquist) + "] Hz (0 = 0.95 * Nyquist; fs = " + num(fs) +
         " Hz), got " + num(options.max_frequency_hz));
  }
  const double limit = options.max_frequency_hz > 0.0 ? options.max_frequency_hz : 0.95 * nyquist;
  if (!(mains_hz < limit)) {
    fail("mains_hz: " + num(mains_hz) + " Hz is not below the highest frequency to notch, " + num(limit) +
         " Hz (fs = " + num(fs) + " Hz)");
  }
  std::vector<double> harmonics;
  for (int k = 1; options.max_harmonics == 0 || k <= options.max_harmonics; ++k) {
    const double f = k * mains_hz;
    if (!(f < limit)) break;
    harmonics.push_back(f);
  }
  Sos sos(static_cast<Index>(harmonics.size()), 6);
  for (std::size_t i = 0; i < harmonics.size(); ++i) {
    sos.row(static_cast<Index>(i)) = iirnotch(harmonics[i], harmonics[i] / options.bandwidth_hz, fs);
  }
  return sos;
}

Sos cascade(const Sos& a, const Sos& b) {
  Sos out(a.rows() + b.rows(), 6);
  out.topRows(a.rows()) = a;
  out.bottomRows(b.rows()) = b;
  return out;
}

Eigen::Matrix<double, Eigen::Dynamic, 2, Eigen::RowMajor> sosfilt_zi(const Sos& sos) {
  validate_sos(sos);
  Eigen::Matrix<double, Eigen::Dynamic, 2, Eigen::RowMajor> zi(sos.rows(), 2);
  double scale = 1.0;
  for (Index s = 0; s < sos.rows(); ++s) {
    // scipy.signal.lfilter_zi for one section: solve (I - A^T) zi = B with
    // A the companion matrix of the normalised denominator.
    const double a0 = sos(s, 3);
    double b0 = sos(s, 0), b1 = sos(s, 1), b2 = sos(s, 2), a1 = sos(s, 4), a2 = sos(s, 5);
    if (a0 != 1.0) {
      b0 /= a0;
      b1 /= a0;
      b2 /= a0;
      a1 /= a0;
      a2 /= a0;
    }
    // [[1 + a1, -1], [a2, 1]] @ zi = [b1 - a1 b0, b2 - a2 b0]; LU with partial pivoting.
    double m00 = 1.0 + a1, m01 = -1.0, m10 = a2, m11 = 1.0;
    double r0 = b1 - a1 * b0, r1 = b2 - a2 * b0;
    if (std::fabs(m10) > std::fabs(m00)) {
      std::swap(m00, m10);
      std::swap(m01, m11);
      std::swap(r0, r1);
    }
    const double det = m00 * m11 - m01 * m10;
    if (m00 == 0.0 || det == 0.0 || !std::isfinite(det)) {
      fail("sos: section " + std::to_string(s) + " has a pole at z = 1, so it has no steady state");
    }
    const double l = m10 / m00;
    const double u11 = m11 - l * m01;
    const double x1 = (r1 - l * r0) / u11;
    const double x0 = (r0 - m01 * x1) / m00;
    zi(s, 0) = scale * x0;
    zi(s, 1) = scale * x1;
    scale *= (sos(s, 0) + sos(s, 1) + sos(s, 2)) / (sos(s, 3) + sos(s, 4) + sos(s, 5));
  }
  return zi;
}

Eigen::VectorXd sos_magnitude(const Sos& sos, const Eigen::VectorXd& freqs_hz, double fs) {
  validate_sos(sos);
  check_fs(fs);
  Eigen::VectorXd out(freqs_hz.size());
  for (Index i = 0; i < freqs_hz.size(); ++i) {
    const double w = 2.0 * std::numbers::pi * freqs_hz[i] / fs;
    const cplx z1 = std::polar(1.0, -w);       // e^{-jw}
    const cplx z2 = std::polar(1.0, -2.0 * w);  // e^{-2jw}
    double mag = 1.0;
    for (Index s = 0; s < sos.rows(); ++s) {
      const cplx num_ = sos(s, 0) + sos(s, 1) * z1 + sos(s, 2) * z2;
      const cplx den = sos(s, 3) + sos(s, 4) * z1 + sos(s, 5) * z2;
      mag *= std::abs(num_) / std::abs(den);
    }
    out[i] = mag;
  }
  return out;
}

void validate_sos(const Sos& sos) {
  if (sos.rows() < 1) fail("sos: needs at least one section, got 0");
  for (Index s = 0; s < sos.rows(); ++s) {
    for (Index j = 0; j < 6; ++j) {
      if (!std::isfinite(sos(s, j))) {
        fail("sos: section " + std::to_string(s) + " has a non-finite coefficient (sos[" + std::to_string(s) + ", " +
             std::to_string(j) + "] = " + num(sos(s, j)) + ")");
      }
    }
    if (sos(s, 3) == 0.0) fail("sos: section " + std::to_string(s) + " has a0 = 0 (sos[:, 3] must be non-zero)");
  }
}

}  // namespace fasctrack::filter
