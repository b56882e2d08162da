// The conditioning stage: screen, find mains, band-pass + notch, zero-phase.

#include <fasctrack/filter/apply.hpp>
#include <fasctrack/filter/condition.hpp>

#include "filter/spectral_internal.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace fasctrack::filter {

MainsMode parse_mains_mode(std::string_view text) {
  if (text == "auto" || text == "automatic") return MainsMode::automatic;
  if (text == "50") return MainsMode::hz50;
  if (text == "60") return MainsMode::hz60;
  if (text == "off" || text == "none") return MainsMode::off;
  throw std::invalid_argument("mains: expected 'auto', '50', '60' or 'off', got '" + std::string(text) + "'");
}

std::string_view to_string(MainsMode mode) {
  switch (mode) {
    case MainsMode::hz50: return "50";
    case MainsMode::hz60: return "60";
    case MainsMode::off: return "off";
    case MainsMode::automatic: break;
  }
  return "auto";
}


template <class T>
ConditionResult<T> condition(SignalView<T> x, double fs, const ConditionOptions& options) {
  detail::check_fs(fs);
  if (x.rows() < 1 || x.cols() < 1) {
    throw std::invalid_argument("x: empty input (" + std::to_string(x.rows()) + " channels x " +
                                std::to_string(x.cols()) + " samples)");
  }
  // Band edges first: a configuration error should surface before any work.
  if (!(std::isfinite(options.highpass_hz) && options.highpass_hz > 0.0)) {
    throw std::invalid_argument("highpass_hz: must be positive and finite, got " +
                                detail::format_number(options.highpass_hz));
  }
  if (!(std::isfinite(options.lowpass_hz) && options.lowpass_hz > 0.0)) {
    throw std::invalid_argument("lowpass_hz: must be positive and finite, got " +
                                detail::format_number(options.lowpass_hz));
  }
  // 0.45 * fs keeps the upper edge clear of Nyquist, where the bilinear
  // transform squeezes the Butterworth response; at 1 kHz that is 450 Hz.
  const double lowpass = std::min(options.lowpass_hz, 0.45 * fs);
  if (!(options.highpass_hz < lowpass)) {
    throw std::invalid_argument("highpass_hz: " + detail::format_number(options.highpass_hz) +
                                " Hz must be below lowpass_hz (" + detail::format_number(options.lowpass_hz) +
                                " Hz" +
                                (lowpass < options.lowpass_hz
                                     ? ", clamped to 0.45 * fs = " + detail::format_number(lowpass) + " Hz"
                                     : std::string()) +
                                ")");
  }

  ConditionResult<T> result;
  result.highpass_hz = options.highpass_hz;
  result.lowpass_hz = lowpass;

  // Screening and mains detection share one pass of 0.5 Hz spectra. With a
  // fixed mains frequency the detector still runs: its report tells the
  // caller when the data disagree with the setting (60 Hz forced on 50 Hz data).
  QualityOptions quality_options = options.quality;
  double mains_hz = 0.0;
  if (options.mains == MainsMode::hz50) mains_hz = 50.0;
  if (options.mains == MainsMode::hz60) mains_hz = 60.0;
  if (options.mains == MainsMode::off) {
    result.quality = detail::channel_quality_impl<T>(x, fs, quality_options, options.mains_detection, nullptr);
    result.mains = MainsReport{};
    result.mains.status = MainsStatus::not_found;
    result.mains.candidate_prominence_db.assign(options.mains_detection.candidates_hz.size(), 0.0);
    result.mains.channel_prominence_db.assign(static_cast<std::size_t>(x.rows()), 0.0);
  } else {
    if (quality_options.mains_hz == 0.0 && mains_hz > 0.0) quality_options.mains_hz = mains_hz;
    result.quality =
        detail::channel_quality_impl<T>(x, fs, quality_options, options.mains_detection, &result.mains);
    if (options.mains == MainsMode::automatic && result.mains.status == MainsStatus::found) {
      mains_hz = result.mains.frequency_hz;
    }
  }

  Sos sos = butter(options.order, {options.highpass_hz, lowpass}, BandType::bandpass, fs);
  if (mains_hz > 0.0) {
    // A mains frequency at or above the highest frequency the comb may notch
    // (0.95 * Nyquist by default, e.g. 50 Hz at fs = 100 Hz) already lies in
    // the band-pass's stop band (lowpass <= 0.45 * fs): no notch is needed.
    const double limit = options.notch.max_frequency_hz > 0.0 ? options.notch.max_frequency_hz : 0.95 * fs / 2.0;
    if (mains_hz < limit) {
      sos = cascade(sos, mains_notches(mains_hz, fs, options.notch));
      result.mains_hz = mains_hz;
    }
  }
  result.sos = sos;

  // Gaps become zeros for filtering: a NaN would poison the IIR state for
  // the rest of the channel (and, zero-phase, backwards too). Zero is the
  // value a band-pass output has on average, so the gap leaves only a short
  // transient around its edges.
  RowMatrix<T> filled(x.rows(), x.cols());
  bool any_gap = false;
  for (Index c = 0; c < x.rows(); ++c) {
    for (Index i = 0; i < x.cols(); ++i) {
      const T v = x(c, i);
      const bool ok = std::isfinite(v);
      any_gap = any_gap || !ok;
      filled(c, i) = ok ? v : T(0);
    }
  }

  if (options.zero_phase) {
    // SciPy's default pad (3 * (2 * sections + 1) samples) cannot exceed the
    // signal; very short inputs get the longest pad that fits instead of an
    // error, since filtering them is legal if not very meaningful.
    const Index padlen = std::min(sosfiltfilt_default_padlen(sos), x.cols() - 1);
    result.data = sosfiltfilt<T>(sos, filled, padlen);
  } else {
    result.data = sosfilt<T>(sos, filled);
  }

  if (any_gap) {
    for (Index c = 0; c < x.rows(); ++c) {
      for (Index i = 0; i < x.cols(); ++i) {
        if (!std::isfinite(x(c, i))) result.data(c, i) = std::numeric_limits<T>::quiet_NaN();
      }
    }
  }
  return result;
}

template ConditionResult<float> condition<float>(SignalView<float>, double, const ConditionOptions&);
template ConditionResult<double> condition<double>(SignalView<double>, double, const ConditionOptions&);

}  // namespace fasctrack::filter
