#pragma once
// IIR filter design in second-order sections (SOS).
//
// Sections use SciPy's (n_sections, 6) layout [b0 b1 b2 a0 a1 a2] with a0 == 1,
// and the designs reproduce scipy.signal's (butter, iirnotch) to ~1e-12, so a
// filter designed here and one designed in a SciPy notebook are interchangeable.

#include <fasctrack/core/types.hpp>

#include <string_view>
#include <vector>

namespace fasctrack::filter {

/// Second-order sections, SciPy layout: one row [b0 b1 b2 a0 a1 a2] per section.
using Sos = Eigen::Matrix<double, Eigen::Dynamic, 6, Eigen::RowMajor>;

enum class BandType { lowpass, highpass, bandpass, bandstop };

/// "lowpass"/"low", "highpass"/"high", "bandpass"/"band"/"pass", "bandstop"/"stop"
/// (SciPy's spellings). Throws std::invalid_argument naming the value.
BandType parse_band_type(std::string_view text);
std::string_view to_string(BandType type) noexcept;

/// Digital Butterworth filter, identical to
/// scipy.signal.butter(order, cutoff_hz, btype, output='sos', fs=fs).
/// cutoff_hz has one value (lowpass/highpass) or two ascending values
/// (bandpass/bandstop). Throws std::invalid_argument when order < 1,
/// fs <= 0, or a cutoff is not inside (0, fs/2).
Sos butter(int order, const std::vector<double>& cutoff_hz, BandType type, double fs);

/// Second-order IIR notch, identical to scipy.signal.iirnotch(f0_hz, quality, fs)
/// as a single section. quality = f0 / (-3 dB bandwidth).
Sos iirnotch(double f0_hz, double quality, double fs);

/// Options for mains_notches(). Defaults suit surface EMG at 1-10 kHz.
struct MainsNotchOptions {
  /// -3 dB width of every notch in Hz. Held constant across harmonics (rather
  /// than a constant Q) so the notches at high harmonics stay narrow and do not
  /// carve wide holes in the EMG band.
  double bandwidth_hz = 2.0;
  /// Highest harmonic to remove (1 = fundamental only); 0 = every harmonic below
  /// max_frequency_hz.
  int max_harmonics = 0;
  /// Remove no harmonic at or above this frequency; 0 = 0.95 * Nyquist.
  double max_frequency_hz = 0.0;
};

/// Comb of notches at mains_hz and its harmonics: one iirnotch section per
/// harmonic (a "comb" that, unlike scipy.signal.iircomb, works for any fs).
Sos mains_notches(double mains_hz, double fs, const MainsNotchOptions& options = {});

/// Concatenates cascades: the result filters like a followed by b.
Sos cascade(const Sos& a, const Sos& b);

/// Steady-state initial conditions of each section for a unit step, identical to
/// scipy.signal.sosfilt_zi(sos): shape (n_sections, 2).
Eigen::Matrix<double, Eigen::Dynamic, 2, Eigen::RowMajor> sosfilt_zi(const Sos& sos);

/// Complex frequency response at the given frequencies (Hz), as scipy.signal.sosfreqz.
/// Returns |H| (magnitude) per frequency.
Eigen::VectorXd sos_magnitude(const Sos& sos, const Eigen::VectorXd& freqs_hz, double fs);

/// Throws std::invalid_argument unless sos has at least one row, finite values
/// and a0 != 0 in every section.
void validate_sos(const Sos& sos);

}  // namespace fasctrack::filter
