#pragma once
// Private real-to-complex FFT over FFTW. FFTW types stay in fft.cpp so no
// header (public or private) drags fftw3.h into other translation units.
//
// Plans are created once per transform length, under a mutex, with
// FFTW_ESTIMATE (measuring would time the machine and could pick a different
// algorithm on every run, making results not bit-reproducible), and then kept
// for the life of the process. Executing a cached plan on fresh fftw_malloc'd
// buffers (fftw_execute_dft_r2c, the "new-array execute") is thread-safe, so
// every RealFft owns its own buffers and any number may run concurrently.

#include <fasctrack/core/types.hpp>

#include <complex>

namespace fasctrack::filter::detail {

/// Forward DFT of n real samples: n/2 + 1 complex bins, unnormalised
/// (the same convention as numpy.fft.rfft).
class RealFft {
 public:
  /// Throws std::invalid_argument for n < 1.
  explicit RealFft(Index n);
  ~RealFft();
  RealFft(const RealFft&) = delete;
  RealFft& operator=(const RealFft&) = delete;
  RealFft(RealFft&& other) noexcept;
  RealFft& operator=(RealFft&& other) noexcept;

  Index size() const noexcept { return n_; }
  Index n_bins() const noexcept { return n_ / 2 + 1; }

  /// n real samples to transform; execute() leaves them unchanged.
  double* input() noexcept { return in_; }
  /// n/2 + 1 bins written by execute().
  const std::complex<double>* output() const noexcept { return out_; }

  void execute() noexcept;

 private:
  Index n_ = 0;
  const void* plan_ = nullptr;  // fftw_plan, owned by the process-wide cache
  double* in_ = nullptr;
  std::complex<double>* out_ = nullptr;
};

}  // namespace fasctrack::filter::detail
