#pragma once
// numpy <-> Eigen without copies.
//
// C-contiguous float32/float64 arrays are mapped straight onto the C++ views;
// anything else (ints, strided, Fortran order) is converted once, as numpy's
// own ascontiguousarray would. Results move into numpy arrays that own the
// C++ buffer through a capsule, so nothing is copied on the way out either.

#include <fasctrack/core/types.hpp>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

namespace fasctrack::py_bind {

namespace py = pybind11;

/// A 1-D or 2-D array viewed as (n_channels, n_samples); remembers whether it was 1-D.
template <class T>
struct SignalArg {
  py::array_t<T, py::array::c_style> array;  // keeps the memory alive
  Eigen::Map<const RowMatrix<T>> view;
  bool one_d;
};

template <class T>
SignalArg<T> signal_arg(const py::array& x, const char* name) {
  auto a = py::array_t<T, py::array::c_style>::ensure(x);
  if (!a) throw std::invalid_argument(std::string(name) + ": expected a numeric array");
  if (a.ndim() != 1 && a.ndim() != 2)
    throw std::invalid_argument(std::string(name) + ": expected a 1-D or 2-D (channels, samples) array, got " +
                                std::to_string(a.ndim()) + "-D");
  const bool one_d = a.ndim() == 1;
  const Index rows = one_d ? 1 : a.shape(0);
  const Index cols = one_d ? a.shape(0) : a.shape(1);
  Eigen::Map<const RowMatrix<T>> view(a.data(), rows, cols);
  return SignalArg<T>{std::move(a), view, one_d};
}

/// True when x should be processed in float32 (it is float32 already); every
/// other dtype is processed in float64, as SciPy does for integer input.
inline bool is_float32(const py::array& x) {
  return py::dtype::of<float>().equal(x.dtype());
}

/// Calls f.template operator()<T>(x) with T = float or double chosen from x's dtype.
template <class F>
auto dispatch_dtype(const py::array& x, F&& f) {
  if (is_float32(x)) return f(float{});
  return f(double{});
}

/// Moves a matrix into a numpy array that owns it (no copy).
template <class T>
py::array_t<T> to_numpy(RowMatrix<T>&& m, bool one_d = false) {
  auto* heap = new RowMatrix<T>(std::move(m));
  py::capsule owner(heap, [](void* p) { delete static_cast<RowMatrix<T>*>(p); });
  const auto rows = static_cast<py::ssize_t>(heap->rows());
  const auto cols = static_cast<py::ssize_t>(heap->cols());
  if (one_d) return py::array_t<T>({cols}, {static_cast<py::ssize_t>(sizeof(T))}, heap->data(), owner);
  return py::array_t<T>({rows, cols},
                        {static_cast<py::ssize_t>(cols * sizeof(T)), static_cast<py::ssize_t>(sizeof(T))},
                        heap->data(), owner);
}

template <class Derived>
py::array_t<typename Derived::Scalar> eigen_copy(const Eigen::MatrixBase<Derived>& m) {
  using T = typename Derived::Scalar;
  RowMatrix<T> copy = m;
  return to_numpy<T>(std::move(copy));
}

/// One numpy column from a field of every item: results cross to Python as
/// struct-of-arrays (SciPy find_peaks style) that pandas takes as they are.
template <class T, class V>
py::array_t<T> column(const std::vector<V>& items, std::type_identity_t<T (*)(const V&)> get) {
  py::array_t<T> out(static_cast<py::ssize_t>(items.size()));
  auto* p = out.mutable_data();
  for (std::size_t i = 0; i < items.size(); ++i) p[i] = get(items[i]);
  return out;
}

}  // namespace fasctrack::py_bind
