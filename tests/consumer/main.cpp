// Links the installed library and checks that it computes, not just links:
// a low-pass Butterworth filter must pass DC with unit gain.
#include <fasctrack/filter/apply.hpp>
#include <fasctrack/filter/design.hpp>
#include <fasctrack/core/error.hpp>
#include <fasctrack/io/read.hpp>

#include <cmath>
#include <cstdio>

int main(int argc, char** argv) {
  using namespace fasctrack;
  const auto sos = filter::butter(4, {100.0}, filter::BandType::lowpass, 1000.0);
  RowMatrix<double> x = RowMatrix<double>::Ones(2, 4000);
  const RowMatrix<double> y = filter::sosfilt<double>(sos, x);
  if (std::abs(y(1, 3999) - 1.0) > 1e-9) {
    std::fprintf(stderr, "DC gain %.12f, expected 1\n", y(1, 3999));
    return 1;
  }
  if (argc > 1) {  // also exercise a reader (EDFlib linked through the package)
    try {
      const Recording rec = io::read(argv[1]);
      std::printf("%s: %lld channels at %g Hz\n", argv[1], static_cast<long long>(rec.n_channels()), rec.fs);
    } catch (const Error& e) {
      std::fprintf(stderr, "%s\n", e.what());
      return 1;
    }
  }
  std::puts("consumer ok");
  return 0;
}
