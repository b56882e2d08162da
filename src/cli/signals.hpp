#pragma once
// Signals for the command-line tool. The tool never dies on a signal:
//  - SIGPIPE is ignored, so writing to a closed pipe is a write error that
//    ends the run with exit code 4 like any other output problem;
//  - SIGINT and SIGTERM only set a flag. Long stages poll it (detection at
//    every progress step, the others between stages and before any output
//    file is written) and throw Interrupted, which main() turns into exit
//    code 128 + signal number (130, 143) and one error line. Output files
//    are written to a temporary file and renamed, and never started once a
//    signal has arrived, so an interrupted run leaves no partial output.

#include <fasctrack/core/error.hpp>

namespace fasctrack::cli {

/// Thrown when SIGINT or SIGTERM has arrived.
class Interrupted : public Error {
 public:
  explicit Interrupted(int signal_number);
  int signal_number() const noexcept { return signal_; }
  int exit_code() const noexcept { return 128 + signal_; }

 private:
  int signal_;
};

/// Installs the handlers; call once at the start of main().
void install_signal_handlers();

/// The signal that arrived (SIGINT, SIGTERM), or 0.
int pending_signal() noexcept;

/// Throws Interrupted if a signal has arrived.
void throw_if_interrupted();

}  // namespace fasctrack::cli
