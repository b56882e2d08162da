#pragma once
// Long C++ calls run without the GIL and report a fraction done. Progress goes
// to a Python callable (a tqdm bar, say); Ctrl-C arrives as a pending signal
// that is noticed at each report, cancels the C++ work cleanly, and is raised
// as KeyboardInterrupt once the GIL is back.

#include <fasctrack/stream/detector.hpp>

#include <pybind11/pybind11.h>

#include <memory>

namespace fasctrack::py_bind {

struct PythonProgress {
  pybind11::object callback;
  bool interrupted = false;
  bool operator()(double fraction) {
    pybind11::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      PyErr_Clear();
      interrupted = true;
      return false;
    }
    if (!callback.is_none()) callback(fraction);
    return true;
  }
};

/// Runs work(progress_callback) without the GIL; callback may be None.
template <class F>
auto with_progress(const pybind11::object& callback, F&& work) {
  auto state = std::make_shared<PythonProgress>(PythonProgress{callback});
  try {
    pybind11::gil_scoped_release release;
    return work(ProgressCallback([state](double f) { return (*state)(f); }));
  } catch (const Cancelled&) {
    // The GIL is held again here (the release guard unwound first).
    if (state->interrupted) {
      PyErr_SetNone(PyExc_KeyboardInterrupt);
      throw pybind11::error_already_set();
    }
    throw;
  }
}

}  // namespace fasctrack::py_bind
