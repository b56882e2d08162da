#pragma once
// Applying SOS filters: a streaming causal filter with explicit per-channel
// state, and SciPy-compatible one-shot sosfilt / sosfiltfilt.
//
// Streaming contract (as iir1 / libsamplerate): coefficients live apart from
// state; process() may be called with chunks of any size, including zero, and
// the concatenated output is bit-identical to one call over the whole signal.
// The state is SciPy's zi: (n_sections, n_channels, 2) in C order, stored here
// as a (n_sections, 2 * n_channels) row-major matrix, which flattens the same.
// State and arithmetic are double for both sample types, so float32 data does
// not lose accuracy in high-Q or low-cutoff sections.

#include <fasctrack/core/types.hpp>
#include <fasctrack/filter/design.hpp>

#include <optional>
#include <vector>

namespace fasctrack::filter {

/// Causal SOS filter for n_channels channels with state kept between calls.
template <class T>
class SosFilter {
 public:
  using State = RowMatrix<double>;  ///< (n_sections, 2 * n_channels), SciPy zi order

  /// Throws std::invalid_argument for an invalid sos or n_channels < 1.
  SosFilter(Sos sos, Index n_channels);

  /// Filters one chunk (n_channels, n) into out (same shape). in and out may be
  /// the same memory. Never allocates and never throws for valid shapes; a
  /// shape mismatch throws std::invalid_argument before touching state.
  void process(SignalView<T> in, SignalSpan<T> out);

  /// Zeroes the state (as a fresh filter).
  void reset();
  /// Sets state to the steady state for a constant input x0[c] on each channel
  /// (scipy: zi = sosfilt_zi(sos)[:, None, :] * x0[None, :, None]).
  void set_steady_state(const Eigen::VectorXd& x0);
  /// Current state in SciPy zi layout.
  const State& state() const noexcept { return state_; }
  /// Replaces the state; throws std::invalid_argument on a shape mismatch.
  void set_state(const State& zi);

  const Sos& sos() const noexcept { return sos_; }
  Index n_channels() const noexcept { return n_channels_; }
  Index n_sections() const noexcept { return sos_.rows(); }
  /// Samples of delay this filter adds to its output before the first sample
  /// appears: always 0 for a direct IIR (group delay is frequency dependent).
  static constexpr Index latency_samples() noexcept { return 0; }

 private:
  Sos sos_;
  Index n_channels_;
  State state_;
  std::vector<double> work_;  // interleaved state and tile scratch (process() never allocates)
};

/// One-shot causal filter from zero (or given) state, as scipy.signal.sosfilt(sos, x, axis=-1).
/// If zi is given (SciPy layout) the final state is written back into it.
template <class T>
RowMatrix<T> sosfilt(const Sos& sos, SignalView<T> x, RowMatrix<double>* zi = nullptr);

/// SciPy's default pad length for sosfiltfilt:
/// 3 * (2 * n_sections + 1 - min(#(b2 == 0), #(a2 == 0))).
Index sosfiltfilt_default_padlen(const Sos& sos);

/// Zero-phase forward-backward filter, identical to
/// scipy.signal.sosfiltfilt(sos, x, axis=-1, padtype='odd', padlen=padlen).
/// padlen defaults to sosfiltfilt_default_padlen(sos). Throws
/// std::invalid_argument when n_samples <= padlen (SciPy raises ValueError too).
template <class T>
RowMatrix<T> sosfiltfilt(const Sos& sos, SignalView<T> x, std::optional<Index> padlen = std::nullopt);

}  // namespace fasctrack::filter
