#pragma once
// Spectral estimation (FFTW behind the scenes; plans are created once per
// size under a lock and reused; execution is thread-safe).

#include <fasctrack/core/types.hpp>

namespace fasctrack::filter {

/// Options of welch(), defaults as scipy.signal.welch except nperseg.
struct WelchOptions {
  Index nperseg = 0;    ///< segment length in samples; 0 = round(fs * 1 s), capped at n_samples
  Index noverlap = -1;  ///< overlap in samples; -1 = nperseg / 2
  bool median = false;  ///< average segments by median (robust to bursts) instead of mean
};

/// Power spectral density per channel.
struct Psd {
  Eigen::VectorXd freqs_hz;  ///< (n_freqs,) = 0, fs/nperseg, ..., fs/2
  RowMatrix<double> power;   ///< (n_channels, n_freqs), unit^2/Hz (uV^2/Hz for recordings)
};

/// Welch PSD identical to scipy.signal.welch(x, fs, window='hann', nperseg,
/// noverlap, detrend='constant', scaling='density', average='mean'|'median').
/// Non-finite samples are not allowed (throw std::invalid_argument): screen
/// with channel_quality() first. Throws std::invalid_argument for fs <= 0,
/// empty input, or bad nperseg / noverlap.
template <class T>
Psd welch(SignalView<T> x, double fs, const WelchOptions& options = {});

}  // namespace fasctrack::filter
