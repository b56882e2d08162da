#include "classify.hpp"

#include "report.hpp"
#include "signals.hpp"

#include <fasctrack/pattern/manifest.hpp>
#include <fasctrack/stream/detector.hpp>

#include <cstdio>

#include <unistd.h>

namespace fasctrack::cli {

ClassifyCommand::ClassifyCommand(CLI::App& app) : threshold_sd_(DetectOptions{}.threshold_sd) {
  cmd_ = app.add_subcommand("classify",
                            "Benign or warning pattern across a subject's sessions (manifest JSON); writes a report");
  cmd_->add_option("MANIFEST", manifest_, "Session manifest (JSON): subject, sessions with id, date, recording, ...")
      ->required();
  cmd_->add_option("--out", out_, "Report JSON (pattern, reasons, muscles, units, options, ...)")->required();
  cmd_->add_option("--html", html_, "Also write a self-contained HTML report");
  cmd_->add_flag("--quiet", quiet_, "No progress on stderr (shown only on a terminal anyway)");
  auto& o = options_;
  cmd_->add_option("--min-active-count", o.min_active_count, "Active: at least this many FPs...")->capture_default_str();
  cmd_->add_option("--min-active-rate", o.min_active_rate_per_min, "...and at least this many FP per minute of clean rest")
      ->capture_default_str();
  cmd_->add_option("--min-clean-rest", o.min_clean_rest_s, "Seconds of clean rest needed to assess a muscle")
      ->capture_default_str();
  cmd_->add_option("--min-persistent-sessions", o.min_persistent_sessions, "Persistent: active in at least this many sessions...")
      ->capture_default_str();
  cmd_->add_option("--min-persistent-span", o.min_persistent_span_days, "...spanning at least this many days...")
      ->capture_default_str();
  cmd_->add_option("--min-persistent-fraction", o.min_persistent_fraction,
                   "...and active in this share of its analysable sessions within the span")
      ->capture_default_str();
  cmd_->add_option("--min-spread-muscles", o.min_spread_active_muscles,
                   "Spread: active muscles needed in the latest analysable session")
      ->capture_default_str();
  cmd_->add_option("--min-follow-up", o.min_follow_up_days, "Days of follow-up needed to call fasciculations benign")
      ->capture_default_str();
  cmd_->add_flag("--follow-up-from-first-active", o.follow_up_from_first_active,
                 "Count the follow-up from the first session with fasciculations");
  cmd_->add_option("--unit-match-threshold", o.unit_match_threshold, "Template similarity for one unit across sessions")
      ->capture_default_str();
  cmd_->add_option("--min-unit-discharges", o.min_unit_discharges, "Discharges a unit needs in a session to be tracked")
      ->capture_default_str();
  cmd_->add_option("--threshold", threshold_sd_, "Detection threshold in robust noise SDs")->capture_default_str();
  cmd_->add_option("--mains", mains_, "Mains notch: auto, 50, 60 or off")
      ->check(CLI::IsMember({"auto", "50", "60", "off"}))
      ->capture_default_str();
}

int ClassifyCommand::run() const {
  options_.validate();
  DetectOptions d;
  d.threshold_sd = threshold_sd_;
  d.mains = filter::parse_mains_mode(mains_);
  // Detection's own "insufficient" flag follows the pattern threshold, so the
  // two never disagree.
  d.min_clean_rest_s = options_.min_clean_rest_s;

  const pattern::Manifest manifest = pattern::read_manifest(manifest_);
  // Progress only on a terminal: a script reading stderr gets exactly the one
  // error line the README promises. SIGINT/SIGTERM are polled at every step
  // (signals.hpp): detection stops and main() reports the interruption.
  const bool show = !quiet_ && isatty(fileno(stderr));
  const pattern::SessionProgress progress = [&manifest, show, last = std::size_t(-1)](std::size_t i, std::size_t n,
                                                                                     double) mutable {
    if (show && i != last && i < n) {
      std::fprintf(stderr, "fasctrack: session %zu/%zu %s (%s)\n", i + 1, n, manifest.sessions[i].id.c_str(),
                   manifest.sessions[i].recording.filename().string().c_str());
      last = i;
    }
    return pending_signal() == 0;
  };
  const pattern::PatternReport report = pattern::classify_manifest(manifest, options_, d, progress);
  throw_if_interrupted();  // no output once a signal has arrived
  write_text_atomically(out_, pattern::report_json(report) + "\n");
  if (!html_.empty()) write_text_atomically(html_, pattern::report_html(report));

  std::printf("pattern     %s\n", std::string(pattern::to_string(report.pattern)).c_str());
  std::printf("decision    %s\n", report.decision.c_str());
  std::printf("sessions    %zu, muscles %zu, tracked units %zu\n", report.sessions.size(), report.muscle_order.size(),
              report.units.size());
  std::printf("wrote       %s%s%s\n", out_.c_str(), html_.empty() ? "" : ", ", html_.c_str());
  std::printf("note        %s\n", report.disclaimer.c_str());
  return 0;
}

}  // namespace fasctrack::cli
