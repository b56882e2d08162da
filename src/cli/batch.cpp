#include "batch.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <vector>

#ifndef FASCTRACK_DEFAULT_PYTHON
#define FASCTRACK_DEFAULT_PYTHON "python3"
#endif

namespace fasctrack::cli {

namespace {

// Run by the interpreter: a clear message when the package (or Dask) cannot
// be imported, instead of a traceback.
constexpr const char* kBootstrap = R"PY(
import sys
try:
    import fasctrack.batch as batch
except ImportError as e:
    sys.stderr.write("fasctrack: error: batch needs the Python package fasctrack importable by %s (%s); "
                     "install it with pip install 'fasctrack[dask]', or set FASCTRACK_PYTHON to an "
                     "interpreter that has it\n" % (sys.executable, e))
    sys.exit(2)
sys.exit(batch.main(sys.argv[1:]))
)PY";

}  // namespace

BatchCommand::BatchCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("batch",
                            "Detect over a whole dataset on Dask (resumable); "
                            "run `fasctrack batch --help` for its options");
  // Everything after `batch` goes to the Python side untouched, --help included.
  cmd_->prefix_command();
  cmd_->set_help_flag();
  cmd_->allow_extras();
}

int BatchCommand::run() const {
  const char* env = std::getenv("FASCTRACK_PYTHON");
  const std::string python = env != nullptr && *env != '\0' ? env : FASCTRACK_DEFAULT_PYTHON;
  std::vector<std::string> args = {python, "-c", kBootstrap};
  for (const auto& a : cmd_->remaining()) args.push_back(a);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::fflush(stdout);
  ::execvp(python.c_str(), argv.data());
  std::fprintf(stderr,
               "fasctrack: error: batch runs on Python, but '%s' cannot be started (%s); "
               "set FASCTRACK_PYTHON to the interpreter fasctrack is installed for\n",
               python.c_str(), std::strerror(errno));
  return 2;
}

}  // namespace fasctrack::cli
