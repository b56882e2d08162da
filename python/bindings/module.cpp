// The compiled half of the fasctrack Python package. The public API lives in
// the pure-Python package beside it, which adds numpydoc docs and defaults.
#include "bindings.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "fasctrack compiled core (use the fasctrack package, not this module)";
  m.attr("__version__") = FASCTRACK_VERSION;
  fasctrack::py_bind::bind_core(m);
  fasctrack::py_bind::bind_io(m);
  fasctrack::py_bind::bind_filter(m);
  fasctrack::py_bind::bind_detect(m);
  fasctrack::py_bind::bind_sim(m);
  fasctrack::py_bind::bind_pattern(m);
  fasctrack::py_bind::bind_batch(m);
}
