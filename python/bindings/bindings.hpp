#pragma once
#include <pybind11/pybind11.h>

namespace fasctrack::py_bind {
void bind_core(pybind11::module_& m);
void bind_io(pybind11::module_& m);
void bind_filter(pybind11::module_& m);
void bind_detect(pybind11::module_& m);
void bind_sim(pybind11::module_& m);
void bind_pattern(pybind11::module_& m);
void bind_batch(pybind11::module_& m);
}  // namespace fasctrack::py_bind
