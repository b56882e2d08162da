// Read a recording, detect fasciculation potentials, print what was found:
// the C++ counterpart of examples/quickstart.py. Usage: detect_example FILE
#include <fasctrack/core/error.hpp>
#include <fasctrack/io/read.hpp>
#include <fasctrack/stream/detector.hpp>

#include <cstdio>
#include <exception>
#include <map>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s RECORDING\n", argv[0]);
    return 2;
  }
  try {
    const fasctrack::Recording rec = fasctrack::io::read(argv[1]);  // samples in microvolts
    std::printf("%s: %lld channels, %.1f s at %g Hz\n", argv[1], static_cast<long long>(rec.n_channels()),
                rec.duration_s(), rec.fs);

    // Default options; print progress to stderr every 10% (return false to cancel).
    int next_tenth = 1;
    const fasctrack::DetectionResult result = fasctrack::detect(rec, {}, [&](double done) {
      for (; next_tenth <= 10 && done * 10 >= next_tenth; ++next_tenth) {
        std::fprintf(stderr, "\r%3d%%", 10 * next_tenth);
      }
      return true;
    });
    std::fputc('\n', stderr);

    const auto& s = result.summary;
    std::printf("%lld events in %d units over %.1f s of clean rest\n", static_cast<long long>(s.n_events),
                s.n_units, s.clean_rest_s);
    std::printf("rate %.2f FP/min (95%% CI %.2f-%.2f)%s\n", s.rate.rate_per_min, s.rate.ci_low, s.rate.ci_high,
                s.insufficient ? ", insufficient clean rest" : "");
    std::map<int, int> per_unit;
    for (const fasctrack::Event& e : result.events) ++per_unit[e.unit];
    for (const auto& [unit, count] : per_unit) std::printf("unit %d: %d discharges\n", unit, count);
    return s.n_events == static_cast<fasctrack::Index>(result.events.size()) ? 0 : 1;
  } catch (const fasctrack::Error& e) {  // unreadable file, cancelled
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {  // e.g. std::invalid_argument for bad options
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
