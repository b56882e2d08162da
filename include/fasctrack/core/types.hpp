#pragma once
// Basic array vocabulary shared by every module.
//
// Signals are (n_channels, n_samples) blocks in row-major (C) order, the layout
// numpy and MNE use, so a C-contiguous numpy array maps onto them without a copy.
// float and double are both first-class; functions are templates instantiated
// for both.

#include <Eigen/Core>
#include <cstdint>

namespace fasctrack {

using Index = Eigen::Index;

template <class T>
using RowMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Read-only (n_channels, n_samples) view; any row stride, unit column stride.
template <class T>
using SignalView = Eigen::Ref<const RowMatrix<T>>;

/// Writable (n_channels, n_samples) view.
template <class T>
using SignalSpan = Eigen::Ref<RowMatrix<T>>;

/// Element type of a recording's samples.
enum class SampleType { float32, float64 };

/// A half-open run of samples [start, stop).
struct SampleRange {
  Index start = 0;
  Index stop = 0;
  Index size() const { return stop - start; }
  bool operator==(const SampleRange&) const = default;
};

}  // namespace fasctrack
