#pragma once
// The session manifest: one subject's history of recordings, in JSON.
//
//   {"subject": "S01",
//    "sessions": [
//      {"id": "s1", "date": "2026-01-05", "recording": "s1.edf", "fs": 2048,
//       "channels": [{"name": "ch1", "muscle": "biceps_r", "region": "cervical", "side": "R"}],
//       "context": ["post-exercise"],
//       "clinical": {"weakness": ["biceps_r"], "atrophy": []}}]}
//
// `recording` paths are relative to the manifest; `fs` is needed only for
// .npy; `channels` may be omitted when the file carries the metadata (EDF
// labels, BIDS sidecars) and, when given, overrides it for the channels it
// names (a channel it leaves out and the file places on no muscle is left
// out of the analysis); `context` and `clinical` are optional. Sessions are listed in date
// order. Every error names the manifest and the JSON field, e.g.
// "S01.json: sessions[2].date: ...".

#include <fasctrack/core/error.hpp>
#include <fasctrack/core/recording.hpp>

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fasctrack::pattern {

/// A manifest that cannot be used. what() is "<manifest>: <field>: <problem>"
/// (field empty for problems with the whole document). A ReadError, so the
/// command line treats it as an input problem and Python raises an OSError.
class ManifestError : public ReadError {
 public:
  /// Invalid UTF-8 in any part (a manifest may hold any bytes) is replaced,
  /// so the message can always be shown (and become a Python str).
  ManifestError(std::string source, std::string field, std::string problem);
  /// JSON path of the offending field, e.g. "sessions[2].date"; "" for the document.
  const std::string& field() const noexcept { return field_; }

 private:
  std::string field_;
};

/// Calendar date (and optional time of day) as days since 1970-01-01.
/// Accepts "YYYY-MM-DD", optionally followed by "T" or " " and "HH:MM" or
/// "HH:MM:SS" (local time; fractional days). Throws std::invalid_argument
/// naming the text for anything else, including impossible dates (2026-02-30).
double parse_date(std::string_view text);

/// Channel metadata given in the manifest (overrides the file's).
struct ManifestChannel {
  std::string name;
  std::string muscle;
  BodyRegion region = BodyRegion::unknown;
  Side side = Side::unknown;
};

/// Clinical findings at a session, by muscle name.
struct ClinicalFindings {
  std::vector<std::string> weakness;
  std::vector<std::string> atrophy;
};

struct ManifestSession {
  std::string id;
  std::string date;                      ///< as written in the manifest
  double day = 0.0;                      ///< parse_date(date)
  std::filesystem::path recording;       ///< resolved against the manifest's folder
  std::optional<double> fs;              ///< Hz; required for .npy
  std::vector<ManifestChannel> channels; ///< empty: take the file's metadata
  std::vector<std::string> context;      ///< e.g. "post-exercise", "caffeine"
  ClinicalFindings clinical;
};

struct Manifest {
  std::string subject;                   ///< "" when the manifest gives none
  std::string source;                    ///< name used in error messages (the manifest path)
  std::filesystem::path base_dir;        ///< recordings are relative to this
  std::vector<ManifestSession> sessions; ///< in date order (non-decreasing)
  std::vector<std::string> warnings;     ///< e.g. unknown keys, which are ignored
};

/// Parses and validates a manifest. Touches the filesystem only to resolve
/// recording paths against base_dir, unless check_files is true (then each
/// recording must exist). Throws ManifestError naming source_name and the
/// field for malformed JSON, missing or mistyped fields, duplicate session
/// ids, dates out of order, bad regions/sides, duplicate channel names,
/// contradicting regions/sides of one muscle, clinical findings naming a
/// muscle no session records (checked here when every session lists its
/// channels; otherwise once the recordings are read), and a .npy recording
/// without fs. Never crashes or hangs on arbitrary bytes (nesting deeper than
/// 64 levels is refused before parsing).
Manifest parse_manifest(std::string_view json_text, const std::filesystem::path& base_dir,
                        std::string_view source_name, bool check_files = false);

/// Reads, parses and validates a manifest file; recordings must exist.
/// Throws ReadError if the file cannot be read, ManifestError if it is invalid.
Manifest read_manifest(const std::filesystem::path& path);

}  // namespace fasctrack::pattern
