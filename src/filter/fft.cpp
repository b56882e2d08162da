#include "filter/fft.hpp"

#include <fftw3.h>

#include <limits>
#include <map>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <utility>

namespace fasctrack::filter::detail {
namespace {

// std::complex<double> and fftw_complex (double[2]) have the same layout
// (guaranteed by the C++ standard for std::complex), which FFTW documents as
// the supported way to use its arrays from C++.
static_assert(sizeof(std::complex<double>) == sizeof(fftw_complex));

struct PlanCache {
  std::mutex mutex;
  std::map<Index, fftw_plan> plans;
};

PlanCache& plan_cache() {
  // Deliberately never destroyed: a static destructor could run while
  // another static's destructor still computes a spectrum. The plans stay
  // reachable, so leak checkers do not report them.
  static PlanCache* cache = new PlanCache;
  return *cache;
}

fftw_plan plan_for(Index n) {
  PlanCache& cache = plan_cache();
  // FFTW's planner keeps global state and is not thread-safe: every plan is
  // created under this one lock.
  std::lock_guard<std::mutex> lock(cache.mutex);
  if (auto it = cache.plans.find(n); it != cache.plans.end()) return it->second;
  // Plan on scratch fftw_malloc buffers: FFTW records their alignment, and
  // fftw_malloc always returns the same (SIMD) alignment, so the plan is
  // valid for every buffer RealFft allocates later.
  double* in = fftw_alloc_real(static_cast<std::size_t>(n));
  fftw_complex* out = fftw_alloc_complex(static_cast<std::size_t>(n / 2 + 1));
  if (in == nullptr || out == nullptr) {
    fftw_free(in);
    fftw_free(out);
    throw std::bad_alloc();
  }
  fftw_plan plan = fftw_plan_dft_r2c_1d(static_cast<int>(n), in, out, FFTW_ESTIMATE);
  fftw_free(in);
  fftw_free(out);
  if (plan == nullptr) {
    throw std::runtime_error("fftw: could not create a real FFT plan of length " + std::to_string(n));
  }
  cache.plans.emplace(n, plan);
  return plan;
}

}  // namespace

RealFft::RealFft(Index n) : n_(n) {
  if (n < 1 || n > static_cast<Index>(std::numeric_limits<int>::max())) {
    throw std::invalid_argument("fft length: must be in 1..INT_MAX, got " + std::to_string(n));
  }
  plan_ = plan_for(n);
  in_ = fftw_alloc_real(static_cast<std::size_t>(n));
  out_ = reinterpret_cast<std::complex<double>*>(fftw_alloc_complex(static_cast<std::size_t>(n / 2 + 1)));
  if (in_ == nullptr || out_ == nullptr) {
    fftw_free(in_);
    fftw_free(out_);
    throw std::bad_alloc();
  }
}

RealFft::~RealFft() {
  fftw_free(in_);
  fftw_free(out_);
}

RealFft::RealFft(RealFft&& other) noexcept
    : n_(std::exchange(other.n_, 0)),
      plan_(std::exchange(other.plan_, nullptr)),
      in_(std::exchange(other.in_, nullptr)),
      out_(std::exchange(other.out_, nullptr)) {}

RealFft& RealFft::operator=(RealFft&& other) noexcept {
  if (this != &other) {
    fftw_free(in_);
    fftw_free(out_);
    n_ = std::exchange(other.n_, 0);
    plan_ = std::exchange(other.plan_, nullptr);
    in_ = std::exchange(other.in_, nullptr);
    out_ = std::exchange(other.out_, nullptr);
  }
  return *this;
}

void RealFft::execute() noexcept {
  // The new-array execute interface is the thread-safe one; the plan is
  // shared and only read. An r2c plan does not overwrite its input.
  fftw_execute_dft_r2c(static_cast<fftw_plan>(const_cast<void*>(plan_)), in_,
                       reinterpret_cast<fftw_complex*>(out_));
}

}  // namespace fasctrack::filter::detail
