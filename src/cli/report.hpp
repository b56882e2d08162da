#pragma once
// Serialising detection results for the command line: events CSV, summary
// and units JSON. Files are written to a temporary name and renamed, so an
// interrupted run never leaves a half-written output.

#include <fasctrack/core/recording.hpp>
#include <fasctrack/stream/detector.hpp>

#include <nlohmann/json.hpp>

#include <string>

namespace fasctrack::cli {

nlohmann::json summary_json(const DetectionResult& result, const Recording& rec);
nlohmann::json units_json(const DetectionResult& result, const Recording& rec);
/// Columns: time_s,sample,unit,channel,channel_index,amplitude_uv,duration_ms,
/// phases,turns,area_uv_ms,n_channels,isolated,doublet,confidence.
std::string events_csv(const DetectionResult& result, const Recording& rec);
/// Throws WriteError naming the path.
void write_text_atomically(const std::string& path, const std::string& text);
/// Human-readable detection summary for the terminal.
std::string summary_text(const DetectionResult& result, const Recording& rec);

}  // namespace fasctrack::cli
