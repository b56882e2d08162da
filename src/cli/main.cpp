// The fasctrack command-line tool.
//
// Exit codes (documented in the README): 0 success, 2 usage or invalid
// argument, 3 input file problem, 4 output file problem (also a closed
// stdout pipe), 5 processing error, 130/143 interrupted by SIGINT/SIGTERM
// (signals.hpp). Every failure prints one line "fasctrack: error: <what>" on
// stderr.

#include <fasctrack/core/error.hpp>
#include <fasctrack/core/recording.hpp>
#include <fasctrack/filter/condition.hpp>
#include <fasctrack/io/read.hpp>
#include <fasctrack/io/reader.hpp>
#include <fasctrack/io/write.hpp>
#include <fasctrack/stream/detect_file.hpp>
#include <fasctrack/stream/detector.hpp>

#include "batch.hpp"
#include "classify.hpp"
#include "report.hpp"
#include "signals.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

namespace {

using namespace fasctrack;
using nlohmann::json;

enum ExitCode : int { exit_ok = 0, exit_usage = 2, exit_input = 3, exit_output = 4, exit_processing = 5 };

struct InputOptions {
  std::string path;
  std::string format = "auto";
  double fs = 0.0;
  double scale_to_uv = 1.0;
  bool no_sidecars = false;
  std::uint64_t max_bytes = 0;
  std::string grid;
  double ied_mm = 0.0;

  void add_to(CLI::App& app) {
    app.add_option("FILE", path, "Recording (EDF/BDF, WFDB .hea, .npy, .csv/.txt)")->required();
    app.add_option("--format", format, "Override the format implied by the extension")
        ->check(CLI::IsMember({"auto", "edf", "bdf", "wfdb", "npy", "csv"}));
    app.add_option("--fs", fs, "Sampling rate in Hz (required for .npy)");
    app.add_option("--scale-to-uv", scale_to_uv, "Factor from the file's numbers to microvolts (.npy/.csv)");
    app.add_flag("--no-sidecars", no_sidecars, "Ignore BIDS-EMG sidecar files");
    app.add_option("--max-bytes", max_bytes,
                   "Refuse a file whose reading needs more than this many bytes (0 = no limit)");
    app.add_option("--grid", grid,
                   "Electrode grid ROWSxCOLUMNS (e.g. 8x8) for a file without electrode positions: "
                   "EMG channels in row-major order");
    app.add_option("--ied-mm", ied_mm, "Inter-electrode distance of --grid in mm (0 = unknown)");
  }

  io::ReadOptions read_options() const {
    io::ReadOptions o;
    o.format = io::parse_format(format);
    if (fs != 0.0) o.fs = fs;
    o.scale_to_uv = scale_to_uv;
    o.use_sidecars = !no_sidecars;
    o.max_bytes = max_bytes;
    if (!grid.empty()) {
      o.grid = io::parse_grid_layout(grid);
      o.grid->ied_mm = ied_mm;
    } else if (ied_mm != 0.0) {
      throw std::invalid_argument("--ied-mm: only with --grid");
    }
    return o;
  }

  Recording read() const {
    Recording rec = io::read(path, read_options());
    rec.validate();
    cli::throw_if_interrupted();
    return rec;
  }
};

struct ConditionCliOptions {
  double highpass_hz = 20.0;
  double lowpass_hz = 500.0;
  int order = 4;
  std::string mains = "auto";
  bool causal = false;

  void add_to(CLI::App& app) {
    app.add_option("--highpass", highpass_hz, "High-pass edge in Hz")->capture_default_str();
    app.add_option("--lowpass", lowpass_hz, "Low-pass edge in Hz (clamped to 0.45 fs)")->capture_default_str();
    app.add_option("--order", order, "Butterworth order")->capture_default_str();
    app.add_option("--mains", mains, "Mains notch: auto, 50, 60 or off")
        ->check(CLI::IsMember({"auto", "50", "60", "off"}))
        ->capture_default_str();
    app.add_flag("--causal", causal, "Causal filtering (default zero-phase)");
  }

  filter::ConditionOptions options() const {
    filter::ConditionOptions o;
    o.highpass_hz = highpass_hz;
    o.lowpass_hz = lowpass_hz;
    o.order = order;
    o.mains = filter::parse_mains_mode(mains);
    o.zero_phase = !causal;
    return o;
  }
};

struct DetectCliOptions {
  double threshold_sd = DetectOptions{}.threshold_sd;
  std::string mains = "auto";
  double min_clean_rest_s = DetectOptions{}.min_clean_rest_s;
  bool keep_bad_annotations = false;
  bool independent_leads = false;
  int threads = 0;

  void add_to(CLI::App& app) {
    app.add_option("--threads", threads, "Threads for detection (0 = every core)")
        ->check(CLI::Range(0, 1024))
        ->capture_default_str();
    app.add_option("--threshold", threshold_sd, "Detection threshold in robust noise SDs")->capture_default_str();
    app.add_option("--mains", mains, "Mains notch: auto, 50, 60 or off")
        ->check(CLI::IsMember({"auto", "50", "60", "off"}))
        ->capture_default_str();
    app.add_option("--min-clean-rest", min_clean_rest_s, "Seconds of clean rest needed to conclude")
        ->capture_default_str();
    app.add_flag("--keep-bad-annotations", keep_bad_annotations,
                 "Analyse spans annotated BAD... too (by default they are masked, as MNE does)");
    app.add_flag("--independent-leads", independent_leads,
                 "Channels without electrode positions are separate leads, even 16, 25, ..., 64 of them "
                 "(by default k x k such channels are taken as a k x k grid, row by row)");
  }

  DetectOptions options() const {
    DetectOptions o;
    o.threshold_sd = threshold_sd;
    o.mains = filter::parse_mains_mode(mains);
    o.min_clean_rest_s = min_clean_rest_s;
    o.reject_by_annotation = !keep_bad_annotations;
    o.n_threads = threads;
    o.assume_square_grid = !independent_leads;
    return o;
  }
};

// A grid stored without electrode positions (.npy, CSV, EDF without BIDS
// sidecars) analysed as independent leads is many events per discharge,
// with tonic masks and spurious units; k x k such channels are assumed to
// be a grid (DetectOptions::assume_square_grid), other counts are not.
// Either way the user is told, since neither is certain. Bipolar montages
// rarely have this many leads.
void note_layout(const Recording& rec, const DetectOptions& o) {
  constexpr std::size_t kManyLeads = 16;
  std::size_t emg = 0, placed = 0;
  for (const auto& c : rec.channels) {
    if (c.type != "EMG" && !c.type.empty()) continue;
    ++emg;
    if (c.grid) ++placed;
  }
  if (emg < kManyLeads || placed > 0) return;
  const int k = o.assume_square_grid ? assumed_grid_side(rec.channels) : 0;
  if (k > 0)
    std::fprintf(stderr,
                 "fasctrack: note: %zu EMG channels without electrode positions are analysed as a %dx%d grid, "
                 "row by row; give --grid ROWSxCOLUMNS (or a BIDS *_electrodes.tsv) if that is wrong, or "
                 "--independent-leads\n",
                 emg, k, k);
  else
    std::fprintf(stderr,
                 "fasctrack: note: %zu EMG channels without electrode positions are analysed as independent "
                 "leads; if they are a grid, give --grid ROWSxCOLUMNS (or a BIDS *_electrodes.tsv)\n",
                 emg);
}

template <class T>
filter::ConditionResult<T> condition_recording(const Recording& rec, const filter::ConditionOptions& o) {
  return filter::condition<T>(std::get<RowMatrix<T>>(rec.samples), rec.fs, o);
}

// Robust noise level of a conditioned channel: 1.4826 * median absolute
// deviation, which ignores sparse large discharges the way an RMS cannot.
template <class T>
double robust_sd(const Eigen::Ref<const Eigen::Matrix<T, 1, Eigen::Dynamic>>& row) {
  std::vector<double> v;
  v.reserve(static_cast<std::size_t>(row.size()));
  for (Index i = 0; i < row.size(); ++i)
    if (std::isfinite(row[i])) v.push_back(row[i]);
  if (v.empty()) return std::nan("");
  auto mid = v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2);
  std::nth_element(v.begin(), mid, v.end());
  const double median = *mid;
  for (auto& x : v) x = std::abs(x - median);
  std::nth_element(v.begin(), mid, v.end());
  return 1.4826 * *mid;
}

json recording_json(const Recording& rec) {
  json j;
  j["file"] = rec.source;
  j["format"] = rec.format;
  j["fs_hz"] = rec.fs;
  j["n_channels"] = rec.n_channels();
  j["n_samples"] = rec.n_samples();
  j["duration_s"] = rec.duration_s();
  j["unit"] = "uV";
  j["start_time"] = rec.start_time;
  if (rec.power_line_hz) j["power_line_hz_metadata"] = *rec.power_line_hz;
  j["annotations"] = rec.annotations.size();
  j["warnings"] = rec.warnings;
  return j;
}

json mains_json(const filter::MainsReport& m) {
  return json{{"status", std::string(filter::to_string(m.status))},
              {"frequency_hz", m.frequency_hz},
              {"prominence_db", m.prominence_db}};
}

template <class T>
json analysis_json(const Recording& rec, const filter::ConditionResult<T>& r, bool include_noise) {
  json channels = json::array();
  for (Index c = 0; c < rec.n_channels(); ++c) {
    const auto& info = rec.channels[static_cast<std::size_t>(c)];
    const auto& q = r.quality[static_cast<std::size_t>(c)];
    json ch{{"name", info.name},
            {"type", info.type},
            {"source_unit", info.source_unit},
            {"calibrated", info.calibrated},
            {"rms_uv", q.rms_uv},
            {"flags", filter::describe_flags(q.flags)},
            {"non_finite_samples", q.n_non_finite},
            {"clipped_fraction", q.clipped_fraction},
            {"mains_fraction", q.mains_fraction}};
    if (!info.muscle.empty()) ch["muscle"] = info.muscle;
    if (info.region != BodyRegion::unknown) ch["region"] = std::string(to_string(info.region));
    if (info.side != Side::unknown) ch["side"] = std::string(to_string(info.side));
    if (info.marked_bad) ch["marked_bad"] = info.bad_reason.empty() ? "yes" : info.bad_reason;
    if (include_noise) ch["noise_sd_uv"] = robust_sd<T>(r.data.row(c));
    channels.push_back(ch);
  }
  return channels;
}

void print_text(const json& summary, bool conditioned) {
  std::printf("file        %s\n", summary["file"].get<std::string>().c_str());
  std::printf("format      %s\n", summary["format"].get<std::string>().c_str());
  std::printf("channels    %lld\n", summary["n_channels"].get<long long>());
  std::printf("fs          %g Hz\n", summary["fs_hz"].get<double>());
  std::printf("duration    %.3f s (%lld samples)\n", summary["duration_s"].get<double>(),
              summary["n_samples"].get<long long>());
  std::printf("units       uV\n");
  if (!summary["start_time"].get<std::string>().empty())
    std::printf("start       %s\n", summary["start_time"].get<std::string>().c_str());
  const auto& m = summary["mains"];
  if (m["status"] == "found")
    std::printf("mains       %g Hz (%.1f dB above neighbouring spectrum)\n", m["frequency_hz"].get<double>(),
                m["prominence_db"].get<double>());
  else
    std::printf("mains       %s\n", m["status"].get<std::string>().c_str());
  if (conditioned)
    std::printf("filter      band-pass %g-%g Hz, %s, %s\n", summary["highpass_hz"].get<double>(),
                summary["lowpass_hz"].get<double>(),
                summary["mains_notch_hz"].get<double>() > 0
                    ? ("notches at " + std::to_string(static_cast<int>(summary["mains_notch_hz"].get<double>())) +
                       " Hz and harmonics").c_str()
                    : "no mains notch",
                summary["zero_phase"].get<bool>() ? "zero-phase" : "causal");
  for (const auto& w : summary["warnings"]) std::printf("warning     %s\n", w.get<std::string>().c_str());
  std::printf("\n%-16s %-5s %12s %s%s\n", "channel", "type", "raw rms uV", conditioned ? "  noise sd uV " : "",
              " quality");
  int flagged = 0;
  for (const auto& ch : summary["channels"]) {
    const std::string flags = ch["flags"].get<std::string>();
    if (flags != "ok") ++flagged;
    std::printf("%-16s %-5s %12.2f", ch["name"].get<std::string>().c_str(), ch["type"].get<std::string>().c_str(),
                ch["rms_uv"].get<double>());
    if (conditioned) std::printf("  %12.2f", ch["noise_sd_uv"].get<double>());
    std::printf("  %s%s\n", flags.c_str(), ch.value("calibrated", true) ? "" : " (uncalibrated counts)");
  }
  std::printf("\n%d of %zu channel(s) flagged\n", flagged, summary["channels"].size());
}

template <class T>
json analyze(const Recording& rec, const filter::ConditionOptions& o, bool keep_data, RowMatrix<T>* out) {
  auto r = condition_recording<T>(rec, o);
  json summary = recording_json(rec);
  summary["mains"] = mains_json(r.mains);
  summary["mains_notch_hz"] = r.mains_hz;
  summary["highpass_hz"] = r.highpass_hz;
  summary["lowpass_hz"] = r.lowpass_hz;
  summary["zero_phase"] = o.zero_phase;
  summary["channels"] = analysis_json<T>(rec, r, true);
  if (keep_data && out) *out = std::move(r.data);
  return summary;
}

json analyze_any(const Recording& rec, const filter::ConditionOptions& o) {
  if (rec.sample_type() == SampleType::float32) return analyze<float>(rec, o, false, nullptr);
  return analyze<double>(rec, o, false, nullptr);
}

template <class T>
json info(const Recording& rec) {
  const auto& x = std::get<RowMatrix<T>>(rec.samples);
  const auto mains = filter::detect_mains<T>(x, rec.fs);
  filter::QualityOptions qo;
  if (mains.status == filter::MainsStatus::found) qo.mains_hz = mains.frequency_hz;
  const auto quality = filter::channel_quality<T>(x, rec.fs, qo);
  json summary = recording_json(rec);
  summary["mains"] = mains_json(mains);
  filter::ConditionResult<T> r;
  r.quality = quality;
  summary["channels"] = analysis_json<T>(rec, r, false);
  return summary;
}

// Detection polls for SIGINT/SIGTERM at every progress step (each 0.5 s of data).
bool continue_unless_signalled(double) { return cli::pending_signal() == 0; }

int run(int argc, char** argv) {
  CLI::App app{"fasctrack: find, characterise and track fasciculations in surface EMG.\n"
               "Research decision support only; never a diagnosis."};
  app.require_subcommand(1);
  app.set_version_flag("--version", "fasctrack 0.1.0");

  InputOptions info_in;
  bool info_json = false;
  auto* info_cmd = app.add_subcommand("info", "Show channels, fs, duration, units, quality flags and mains frequency");
  info_in.add_to(*info_cmd);
  info_cmd->add_flag("--json", info_json, "Print JSON instead of text");

  InputOptions filter_in;
  ConditionCliOptions filter_opts;
  std::string filter_out;
  bool filter_float32 = false;
  auto* filter_cmd = app.add_subcommand("filter", "Condition a recording (band-pass, mains notches) and write .npy");
  filter_in.add_to(*filter_cmd);
  filter_opts.add_to(*filter_cmd);
  filter_cmd->add_option("--out", filter_out, "Output .npy file, (n_channels, n_samples) in uV")->required();
  filter_cmd->add_flag("--float32", filter_float32, "Write float32 (default: the recording's sample type)");

  InputOptions analyze_in;
  ConditionCliOptions analyze_opts;
  bool analyze_json = false;
  auto* analyze_cmd = app.add_subcommand(
      "analyze", "The main job: read, condition, detect fasciculations and print a summary");
  analyze_in.add_to(*analyze_cmd);
  analyze_opts.add_to(*analyze_cmd);
  analyze_cmd->add_flag("--json", analyze_json, "Print JSON instead of text");

  InputOptions detect_in;
  DetectCliOptions detect_opts;
  std::string events_out, summary_out, units_out;
  auto* detect_cmd = app.add_subcommand("detect", "Detect fasciculation potentials; write events, summary, units");
  detect_in.add_to(*detect_cmd);
  detect_opts.add_to(*detect_cmd);
  detect_cmd->add_option("--out", events_out, "Events CSV (one row per discharge)")->required();
  detect_cmd->add_option("--summary", summary_out, "Summary JSON (rates with 95% CI, masks, noise floor)");
  detect_cmd->add_option("--units", units_out, "Units JSON (statistics and multichannel templates)");

  cli::ClassifyCommand classify_cmd(app);
  cli::BatchCommand batch_cmd(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "fasctrack: error: %s (see fasctrack --help)\n", e.what());
    return exit_usage;
  }

  if (classify_cmd.selected()) return classify_cmd.run();
  if (batch_cmd.selected()) return batch_cmd.run();
  if (*info_cmd) {
    const Recording rec = info_in.read();
    const json s = rec.sample_type() == SampleType::float32 ? info<float>(rec) : info<double>(rec);
    if (info_json) std::cout << s.dump(2) << "\n";
    else print_text(s, false);
  } else if (*filter_cmd) {
    Recording rec = filter_in.read();
    const auto o = filter_opts.options();
    json s;
    try {
      if (rec.sample_type() == SampleType::float32 || filter_float32) {
        if (rec.sample_type() == SampleType::float64)
          rec.samples = RowMatrix<float>(std::get<RowMatrix<double>>(rec.samples).cast<float>());
        RowMatrix<float> y;
        s = analyze<float>(rec, o, true, &y);
        cli::throw_if_interrupted();
        io::write_npy<float>(filter_out, y);
      } else {
        RowMatrix<double> y;
        s = analyze<double>(rec, o, true, &y);
        cli::throw_if_interrupted();
        io::write_npy<double>(filter_out, y);
      }
    } catch (const WriteError& e) {
      std::fprintf(stderr, "fasctrack: error: %s\n", e.what());
      return exit_output;
    }
    std::printf("wrote %s: %lld x %lld, %s, band %g-%g Hz, mains %s\n", filter_out.c_str(),
                static_cast<long long>(rec.n_channels()), static_cast<long long>(rec.n_samples()),
                rec.sample_type() == SampleType::float32 ? "float32" : "float64", s["highpass_hz"].get<double>(),
                s["lowpass_hz"].get<double>(),
                s["mains_notch_hz"].get<double>() > 0 ? (std::to_string(s["mains_notch_hz"].get<double>()) + " Hz notched").c_str()
                                                      : "not notched");
  } else if (*analyze_cmd) {
    const Recording rec = analyze_in.read();
    json s = analyze_any(rec, analyze_opts.options());
    DetectOptions o;
    o.highpass_hz = analyze_opts.highpass_hz;
    o.lowpass_hz = analyze_opts.lowpass_hz;
    o.filter_order = analyze_opts.order;
    o.mains = analyze_opts.options().mains;
    const DetectionResult r = detect(rec, o, continue_unless_signalled);
    if (analyze_json) {
      s["detection"] = cli::summary_json(r, rec);
      std::cout << s.dump(2) << "\n";
    } else {
      print_text(s, true);
      std::printf("\n%s", cli::summary_text(r, rec).c_str());
    }
  } else if (*detect_cmd) {
    // Streamed from the file block by block: memory stays bounded for a
    // recording of any length, and the result equals detection on the whole
    // recording (the engine does not depend on chunking). --max-bytes then
    // bounds each block.
    io::RecordingReader reader(detect_in.path, detect_in.read_options());
    const Recording rec = reader.header();
    note_layout(rec, detect_opts.options());
    const DetectionResult r = detect(reader, detect_opts.options(), continue_unless_signalled);
    cli::throw_if_interrupted();
    try {
      cli::write_text_atomically(events_out, cli::events_csv(r, rec));
      if (!summary_out.empty()) cli::write_text_atomically(summary_out, cli::summary_json(r, rec).dump(2) + "\n");
      if (!units_out.empty()) cli::write_text_atomically(units_out, cli::units_json(r, rec).dump(2) + "\n");
    } catch (const WriteError& e) {
      std::fprintf(stderr, "fasctrack: error: %s\n", e.what());
      return exit_output;
    }
    std::printf("%s", cli::summary_text(r, rec).c_str());
    std::printf("wrote %s (%zu events)\n", events_out.c_str(), r.events.size());
  }
  return exit_ok;
}

}  // namespace

static int run_reporting_errors(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const fasctrack::cli::Interrupted& e) {
    std::fprintf(stderr, "fasctrack: error: %s\n", e.what());
    return e.exit_code();
  } catch (const fasctrack::Cancelled&) {
    const fasctrack::cli::Interrupted e(fasctrack::cli::pending_signal());
    std::fprintf(stderr, "fasctrack: error: %s\n", e.what());
    return e.exit_code();
  } catch (const fasctrack::ReadError& e) {
    std::fprintf(stderr, "fasctrack: error: %s\n", e.what());
    return exit_input;
  } catch (const fasctrack::WriteError& e) {
    std::fprintf(stderr, "fasctrack: error: %s\n", e.what());
    return exit_output;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "fasctrack: error: %s\n", e.what());
    return exit_usage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fasctrack: error: %s\n", e.what());
    return exit_processing;
  }
}

int main(int argc, char** argv) {
  fasctrack::cli::install_signal_handlers();
  const int code = run_reporting_errors(argc, argv);
  // With SIGPIPE ignored, a reader that went away (fasctrack info x | head -1)
  // shows up here as a failed flush: an output error, not a silent success.
  errno = 0;
  const bool failed = std::fflush(stdout) != 0 || std::ferror(stdout) != 0;
  if (failed && code == exit_ok) {
    std::fprintf(stderr, "fasctrack: error: standard output: write failed: %s\n",
                 errno != 0 ? std::strerror(errno) : "output error");
    return exit_output;
  }
  return code;
}
