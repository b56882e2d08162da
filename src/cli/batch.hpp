#pragma once
// `fasctrack batch DATASET --out DIR [...]`: whole datasets on Dask. The work
// lives in the Python package (fasctrack.batch, on Dask distributed); this
// subcommand hands its arguments to `python -m fasctrack batch`, run by the
// interpreter the package was installed for (FASCTRACK_PYTHON overrides it).

#include <CLI/CLI.hpp>

#include <string>

namespace fasctrack::cli {

class BatchCommand {
 public:
  explicit BatchCommand(CLI::App& app);
  bool selected() const { return cmd_->parsed(); }
  /// Replaces this process with the Python interpreter; returns only on
  /// failure to start it (exit code 2, with a message naming the interpreter).
  int run() const;

 private:
  CLI::App* cmd_ = nullptr;
};

}  // namespace fasctrack::cli
