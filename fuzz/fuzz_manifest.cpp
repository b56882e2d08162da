// The session manifest parser (pattern/manifest.hpp) on arbitrary bytes: it
// must throw ManifestError naming the manifest, or return a manifest whose
// documented invariants hold, and never crash, hang or exhaust the stack.

#include <fasctrack/pattern/manifest.hpp>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  constexpr std::string_view kName = "fuzz/S01.json";
  try {
    const auto m = fasctrack::pattern::parse_manifest(text, "/nonexistent-fuzz-dir", kName);
    std::set<std::string> ids;
    double last = -1e300;
    for (const auto& s : m.sessions) {
      if (!ids.insert(s.id).second) {
        std::fprintf(stderr, "duplicate session id '%s' accepted\n", s.id.c_str());
        std::abort();
      }
      if (s.day < last) {
        std::fprintf(stderr, "sessions not in date order\n");
        std::abort();
      }
      last = s.day;
    }
  } catch (const fasctrack::pattern::ManifestError& e) {
    if (std::string_view(e.what()).rfind(std::string(kName) + ": ", 0) != 0) {
      std::fprintf(stderr, "ManifestError does not start with the manifest's name: '%s'\n", e.what());
      std::abort();
    }
  }
  return 0;
}
