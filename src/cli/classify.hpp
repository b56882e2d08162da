#pragma once
// `fasctrack classify MANIFEST.json --out REPORT.json [--html REPORT.html]`:
// benign versus warning pattern across a subject's sessions.

#include <CLI/CLI.hpp>

#include <fasctrack/pattern/classify.hpp>

#include <string>

namespace fasctrack::cli {

class ClassifyCommand {
 public:
  /// Adds the `classify` subcommand and its options to app.
  explicit ClassifyCommand(CLI::App& app);
  bool selected() const { return cmd_->parsed(); }
  /// Runs it; returns the exit code. Errors propagate as exceptions, which
  /// main() turns into one line and its exit code (ReadError, ManifestError: 3;
  /// WriteError: 4; std::invalid_argument: 2).
  int run() const;

 private:
  CLI::App* cmd_ = nullptr;
  std::string manifest_;
  std::string out_;
  std::string html_;
  bool quiet_ = false;
  pattern::PatternOptions options_;
  double threshold_sd_;
  std::string mains_ = "auto";
};

}  // namespace fasctrack::cli
