// Exact Poisson rate intervals and the chi-square quantile behind them.
//
// Fasciculation counts over a few minutes are small (often 0-20), where the
// normal approximation to a Poisson count is poor and can give negative lower
// limits. The Garwood interval inverts the Poisson CDF exactly through its
// link to the chi-square distribution; it is conservative (coverage >= the
// nominal level), which is what a clinical "is the rate raised?" needs.
//
// chi2_quantile(p, k) = 2 x (inverse regularised lower incomplete gamma at a
// = k/2). P(a, x) by its power series for x < a + 1 and Q(a, x) by Lentz's
// continued fraction otherwise (Numerical Recipes 6.2; each converges fast in
// its region), both in logarithms so tail probabilities down to 1e-300 do not
// underflow. The root is found on ln P (p <= 0.5) or ln Q (p > 0.5), the
// smaller tail, by Newton's method safeguarded with bisection, to ~1e-15
// relative in x.

#include <fasctrack/cluster/summary.hpp>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fasctrack::cluster {
namespace {

constexpr double kEps = 1e-16;
constexpr int kMaxTerms = 100000;

// std::lgamma stores the sign of Gamma in the global signgam (glibc, POSIX),
// a data race when detections run on several threads (ThreadSanitizer, via
// the GIL-free Python bindings); lgamma_r returns it instead. a > 0 here.
double log_gamma(double a) {
  int sign = 0;
  return ::lgamma_r(a, &sign);
}

struct LogTails {
  double log_p;  // ln P(a, x)
  double log_q;  // ln Q(a, x)
};

LogTails log_gamma_tails(double a, double x) {
  if (x <= 0.0) return {-std::numeric_limits<double>::infinity(), 0.0};
  const double log_prefix = a * std::log(x) - x;
  if (x < a + 1.0) {
    // P(a,x) = x^a e^-x / Gamma(a+1) * sum_n x^n / ((a+1)...(a+n))
    double term = 1.0, sum = 1.0, ap = a;
    for (int n = 0; n < kMaxTerms; ++n) {
      ap += 1.0;
      term *= x / ap;
      sum += term;
      if (term < sum * kEps) break;
    }
    const double log_p = log_prefix - log_gamma(a + 1.0) + std::log(sum);
    return {log_p, std::log1p(-std::exp(log_p))};
  }
  // Q(a,x) = x^a e^-x / Gamma(a) * 1 / (x + 1 - a - 1(1-a)/(x + 3 - a - ...)), modified Lentz.
  constexpr double tiny = 1e-300;
  double b = x + 1.0 - a;
  double c = 1.0 / tiny;
  double d = 1.0 / b;
  double h = d;
  for (int i = 1; i < kMaxTerms; ++i) {
    const double an = -i * (i - a);
    b += 2.0;
    d = an * d + b;
    if (std::abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1.0 / d;
    const double delta = d * c;
    h *= delta;
    if (std::abs(delta - 1.0) < kEps) break;
  }
  const double log_q = log_prefix - log_gamma(a) + std::log(h);
  return {std::log1p(-std::exp(log_q)), log_q};
}

// Inverse of P(a, .) at probability p, 0 < p < 1.
double gamma_quantile(double p, double a) {
  const bool lower = p <= 0.5;
  const double target = lower ? std::log(p) : std::log1p(-p);
  const double log_gamma_a = log_gamma(a);

  // Starting point: Wilson-Hilferty for the chi-square, or the small-x
  // asymptote P ~ x^a / Gamma(a+1) where that goes negative.
  double x;
  {
    // Normal quantile (Abramowitz & Stegun 26.2.23, |error| < 5e-4: only a start value).
    const double q = p < 0.5 ? p : 1.0 - p;
    const double t = std::sqrt(-2.0 * std::log(q));
    double z = t - (2.515517 + 0.802853 * t + 0.010328 * t * t) /
                       (1.0 + 1.432788 * t + 0.189269 * t * t + 0.001308 * t * t * t);
    if (p < 0.5) z = -z;
    const double k = 2.0 * a;
    const double c = 2.0 / (9.0 * k);
    const double wh = 1.0 - c + z * std::sqrt(c);
    x = wh > 0.0 ? 0.5 * k * wh * wh * wh : 0.0;
    const double small = std::exp((std::log(p) + log_gamma(a + 1.0)) / a);
    if (!(x > 0.0) || (lower && small < x && small < a)) x = small;
    if (!(x > 0.0) || !std::isfinite(x)) x = a;
  }

  double lo = 0.0, hi = std::numeric_limits<double>::infinity();
  for (int iter = 0; iter < 300; ++iter) {
    const LogTails tails = log_gamma_tails(a, x);
    const double f = (lower ? tails.log_p : tails.log_q) - target;
    // f increases with x for ln P and decreases for ln Q.
    const bool too_high = lower ? f > 0.0 : f < 0.0;
    if (too_high)
      hi = x;
    else
      lo = x;
    if (f == 0.0) return x;
    // d/dx ln P = density / P; d/dx ln Q = -density / Q.
    const double log_density = (a - 1.0) * std::log(x) - x - log_gamma_a;
    const double slope = lower ? std::exp(log_density - tails.log_p) : -std::exp(log_density - tails.log_q);
    double next = x - f / slope;
    if (!(next > lo && next < hi) || !std::isfinite(next))
      next = std::isfinite(hi) ? (lo > 0.0 ? std::sqrt(lo * hi) : 0.5 * hi) : 2.0 * x + 1.0;
    if (std::abs(next - x) <= 4.0 * std::numeric_limits<double>::epsilon() * x) return next;
    if (std::isfinite(hi) && hi - lo <= 4.0 * std::numeric_limits<double>::epsilon() * hi) return next;
    x = next;
  }
  return x;
}

}  // namespace

double chi2_quantile(double p, double dof) {
  if (!(std::isfinite(dof) && dof > 0.0))
    throw std::invalid_argument("chi2_quantile: dof must be positive and finite, got " + std::to_string(dof));
  if (!(p >= 0.0 && p <= 1.0))
    throw std::invalid_argument("chi2_quantile: p must be in [0, 1], got " + std::to_string(p));
  if (p == 0.0) return 0.0;
  if (p == 1.0) return std::numeric_limits<double>::infinity();
  return 2.0 * gamma_quantile(p, 0.5 * dof);
}

RateEstimate poisson_rate(Index count, double minutes, double confidence) {
  if (count < 0) throw std::invalid_argument("poisson_rate: count must be >= 0, got " + std::to_string(count));
  if (!(std::isfinite(minutes) && minutes > 0.0))
    throw std::invalid_argument("poisson_rate: minutes must be positive and finite, got " + std::to_string(minutes));
  if (!(confidence > 0.0 && confidence < 1.0))
    throw std::invalid_argument("poisson_rate: confidence must be in (0, 1), got " + std::to_string(confidence));
  const double alpha = 1.0 - confidence;
  const double k = static_cast<double>(count);
  RateEstimate r;
  r.count = count;
  r.minutes = minutes;
  r.confidence = confidence;
  r.rate_per_min = k / minutes;
  // With no events the lower limit is exactly 0 and the upper limit is the
  // rate at which seeing none has probability alpha/2: -ln(alpha/2).
  r.ci_low = count == 0 ? 0.0 : 0.5 * chi2_quantile(0.5 * alpha, 2.0 * k) / minutes;
  r.ci_high = 0.5 * chi2_quantile(1.0 - 0.5 * alpha, 2.0 * k + 2.0) / minutes;
  return r;
}

}  // namespace fasctrack::cluster
