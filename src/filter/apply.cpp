// Applying SOS filters: streaming SosFilter, one-shot sosfilt, zero-phase sosfiltfilt.
//
// Every path runs the same Direct-Form-II-transposed recursion as SciPy's
// _sosfilt, with state and arithmetic in double, so results agree with SciPy to
// rounding and chunked streaming reproduces one-shot filtering bit for bit.

#include <fasctrack/filter/apply.hpp>

#include <stdexcept>
#include <string>

namespace fasctrack::filter {

namespace {

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument(message); }

std::string shape(Index rows, Index cols) { return "(" + std::to_string(rows) + ", " + std::to_string(cols) + ")"; }

// The DF2T recursion assumes a0 == 1 (SciPy requires it); scaling a section by
// 1/a0 leaves its transfer function unchanged, so accept any non-zero a0.
Sos normalised(Sos sos) {
  validate_sos(sos);
  for (Index s = 0; s < sos.rows(); ++s) {
    const double a0 = sos(s, 3);
    if (a0 != 1.0) {
      sos.row(s) /= a0;
      sos(s, 3) = 1.0;
    }
  }
  return sos;
}

// One sample through the whole cascade. DF2T needs only two state words per
// section and has the best round-off behaviour of the direct forms for
// poles near the unit circle; the expression order is SciPy's, so the result
// matches scipy.signal.sosfilt to the last bit where the compiler emits the
// same operations. `z` points at section 0's pair; `z_step` skips to the next
// section's pair (sections are rows of the (n_sections, 2 * n_channels) state).
inline double cascade_sample(const double* coeffs, Index n_sections, double* z, Index z_step, double x) {
  for (Index s = 0; s < n_sections; ++s, coeffs += 6, z += z_step) {
    const double y = coeffs[0] * x + z[0];
    z[0] = coeffs[1] * x - coeffs[4] * y + z[1];
    z[1] = coeffs[2] * x - coeffs[5] * y;
    x = y;
  }
  return x;
}

// Runs one channel in place over n samples spaced `step` apart (step = -1
// filters backwards, which is how the filtfilt reverse pass avoids a copy).
void filter_run(const Sos& sos, double* data, Index n, Index step, double* z, Index z_step) {
  const double* coeffs = sos.data();
  const Index n_sections = sos.rows();
  for (Index i = 0; i < n; ++i, data += step) *data = cascade_sample(coeffs, n_sections, z, z_step, *data);
}

}  // namespace

template <class T>
SosFilter<T>::SosFilter(Sos sos, Index n_channels)
    : sos_(normalised(std::move(sos))), n_channels_(n_channels) {
  if (n_channels < 1) fail("n_channels: must be >= 1, got " + std::to_string(n_channels));
  state_ = State::Zero(sos_.rows(), 2 * n_channels_);
}

template <class T>
void SosFilter<T>::process(SignalView<T> in, SignalSpan<T> out) {
  if (in.rows() != n_channels_) {
    fail("in: expected " + std::to_string(n_channels_) + " channel(s), got shape " + shape(in.rows(), in.cols()));
  }
  if (out.rows() != in.rows() || out.cols() != in.cols()) {
    fail("out: shape " + shape(out.rows(), out.cols()) + " does not match in " + shape(in.rows(), in.cols()));
  }
  const double* coeffs = sos_.data();
  const Index n_sections = sos_.rows();
  const Index n = in.cols();
  const Index z_step = state_.cols();
  // Channel-outer, sample-middle, section-inner: the value passed from section
  // to section stays a double in a register (no float rounding between
  // sections, no scratch buffer), and each channel's state is touched by one
  // contiguous sweep. Reading in(c, i) before writing out(c, i) makes the
  // in-place call (in and out on the same memory) safe.
  for (Index c = 0; c < n_channels_; ++c) {
    const T* src = in.row(c).data();
    T* dst = out.row(c).data();
    double* z = state_.data() + 2 * c;
    for (Index i = 0; i < n; ++i) {
      dst[i] = static_cast<T>(cascade_sample(coeffs, n_sections, z, z_step, static_cast<double>(src[i])));
    }
  }
}

template <class T>
void SosFilter<T>::reset() {
  state_.setZero();
}

template <class T>
void SosFilter<T>::set_steady_state(const Eigen::VectorXd& x0) {
  if (x0.size() != n_channels_) {
    fail("x0: expected one value per channel (" + std::to_string(n_channels_) + "), got " +
         std::to_string(x0.size()));
  }
  const auto zi = sosfilt_zi(sos_);
  for (Index s = 0; s < sos_.rows(); ++s) {
    for (Index c = 0; c < n_channels_; ++c) {
      state_(s, 2 * c) = zi(s, 0) * x0[c];
      state_(s, 2 * c + 1) = zi(s, 1) * x0[c];
    }
  }
}

template <class T>
void SosFilter<T>::set_state(const State& zi) {
  if (zi.rows() != state_.rows() || zi.cols() != state_.cols()) {
    fail("zi: expected shape " + shape(state_.rows(), state_.cols()) + " = (n_sections, 2 * n_channels), got " +
         shape(zi.rows(), zi.cols()));
  }
  state_ = zi;
}

template class SosFilter<float>;
template class SosFilter<double>;

template <class T>
RowMatrix<T> sosfilt(const Sos& sos, SignalView<T> x, RowMatrix<double>* zi) {
  validate_sos(sos);
  RowMatrix<T> y(x.rows(), x.cols());
  if (x.rows() == 0) {
    if (zi != nullptr && (zi->rows() != sos.rows() || zi->cols() != 0)) {
      fail("zi: expected shape " + shape(sos.rows(), 0) + " = (n_sections, 2 * n_channels), got " +
           shape(zi->rows(), zi->cols()));
    }
    return y;
  }
  SosFilter<T> filter(sos, x.rows());
  if (zi != nullptr) filter.set_state(*zi);
  filter.process(x, y);
  if (zi != nullptr) *zi = filter.state();
  return y;
}

template RowMatrix<float> sosfilt<float>(const Sos&, SignalView<float>, RowMatrix<double>*);
template RowMatrix<double> sosfilt<double>(const Sos&, SignalView<double>, RowMatrix<double>*);

Index sosfiltfilt_default_padlen(const Sos& sos) {
  validate_sos(sos);
  const Index n_sections = sos.rows();
  const Index b2_zero = (sos.col(2).array() == 0.0).count();
  const Index a2_zero = (sos.col(5).array() == 0.0).count();
  return 3 * (2 * n_sections + 1 - std::min(b2_zero, a2_zero));
}

template <class T>
RowMatrix<T> sosfiltfilt(const Sos& sos, SignalView<T> x, std::optional<Index> padlen) {
  const Sos s = normalised(sos);
  const Index edge = padlen ? *padlen : sosfiltfilt_default_padlen(s);
  if (edge < 0) fail("padlen: must be >= 0, got " + std::to_string(edge));
  const Index n = x.cols();
  if (n <= edge) {
    fail("padlen: the signal has " + std::to_string(n) + " samples, which must be more than padlen = " +
         std::to_string(edge));
  }
  const Index n_ext = n + 2 * edge;
  const auto zi = sosfilt_zi(s);
  RowMatrix<double> state(s.rows(), 2);
  RowMatrix<double> ext(1, n_ext);
  RowMatrix<T> y(x.rows(), n);
  for (Index c = 0; c < x.rows(); ++c) {
    // Odd extension (scipy's odd_ext): reflect about the end samples so the
    // padded signal continues with the same value and slope, which keeps the
    // start-up transient of each pass small.
    double* e = ext.data();
    const double first = static_cast<double>(x(c, 0));
    const double last = static_cast<double>(x(c, n - 1));
    for (Index j = 0; j < edge; ++j) e[j] = 2.0 * first - static_cast<double>(x(c, edge - j));
    for (Index i = 0; i < n; ++i) e[edge + i] = static_cast<double>(x(c, i));
    for (Index j = 0; j < edge; ++j) e[edge + n + j] = 2.0 * last - static_cast<double>(x(c, n - 2 - j));

    // Each pass starts in the steady state for its first input sample, as if
    // that value had been applied forever: no step transient at the edges.
    state = zi * e[0];
    filter_run(s, e, n_ext, 1, state.data(), 2);
    state = zi * e[n_ext - 1];
    filter_run(s, e + n_ext - 1, n_ext, -1, state.data(), 2);
    for (Index i = 0; i < n; ++i) y(c, i) = static_cast<T>(e[edge + i]);
  }
  return y;
}

template RowMatrix<float> sosfiltfilt<float>(const Sos&, SignalView<float>, std::optional<Index>);
template RowMatrix<double> sosfiltfilt<double>(const Sos&, SignalView<double>, std::optional<Index>);

}  // namespace fasctrack::filter
