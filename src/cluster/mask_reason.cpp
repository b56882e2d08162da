// Names of mask reasons (declared in detect/events.hpp; lives here so the
// summary, which reports excluded time per reason, owns its vocabulary).

#include <fasctrack/detect/events.hpp>

namespace fasctrack {

std::string_view to_string(MaskReason reason) noexcept {
  switch (reason) {
    case MaskReason::startup: return "startup";
    case MaskReason::voluntary: return "voluntary";
    case MaskReason::tonic: return "tonic";
    case MaskReason::artefact: return "artefact";
    case MaskReason::bad_signal: return "bad_signal";
  }
  return "unknown";
}

}  // namespace fasctrack
