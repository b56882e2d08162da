#include "signals.hpp"

#include <csignal>
#include <cstring>
#include <string>

namespace fasctrack::cli {
namespace {

volatile std::sig_atomic_t g_signal = 0;

extern "C" void on_signal(int number) {
  if (g_signal == 0) g_signal = number;
}

std::string describe(int number) {
  switch (number) {
    case SIGINT: return "interrupted (SIGINT)";
    case SIGTERM: return "terminated (SIGTERM)";
    default: return "stopped by signal " + std::to_string(number);
  }
}

}  // namespace

Interrupted::Interrupted(int signal_number)
    : Error(describe(signal_number) + "; stopped before writing any output"), signal_(signal_number) {}

void install_signal_handlers() {
  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction action;
  std::memset(&action, 0, sizeof action);
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  // Restart interrupted reads and writes: the flag is polled, not an EINTR.
  action.sa_flags = SA_RESTART;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

int pending_signal() noexcept { return g_signal; }

void throw_if_interrupted() {
  if (const int s = g_signal; s != 0) throw Interrupted(s);
}

}  // namespace fasctrack::cli
