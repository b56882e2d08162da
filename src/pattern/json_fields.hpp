#pragma once
// Checked access to JSON documents written by people (manifests, sessions):
// every problem becomes a ManifestError naming the source and the field path,
// so no nlohmann exception (or a crash) reaches the caller.

#include <fasctrack/pattern/manifest.hpp>

#include <nlohmann/json.hpp>

#include <cmath>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace fasctrack::pattern::detail {

using nlohmann::json;

/// Deeper documents are refused before parsing: nothing a manifest needs is
/// nested more than a few levels, and this bounds every recursion on it.
constexpr int kMaxJsonDepth = 64;

class JsonFields {
 public:
  explicit JsonFields(std::string source) : source_(std::move(source)) {}

  [[noreturn]] void fail(const std::string& field, const std::string& problem) const {
    throw ManifestError(source_, field, problem);
  }
  const std::string& source() const noexcept { return source_; }

  json parse(std::string_view text) const {
    check_depth(text);
    try {
      return json::parse(text.begin(), text.end());
    } catch (const json::exception& e) {
      fail("", std::string("invalid JSON: ") + e.what());
    }
  }

  const json& object(const json& j, const std::string& field) const {
    if (!j.is_object()) fail(field, std::string("expected an object, got ") + j.type_name());
    return j;
  }
  const json& array(const json& j, const std::string& field) const {
    if (!j.is_array()) fail(field, std::string("expected an array, got ") + j.type_name());
    return j;
  }

  /// The member, or nullptr when absent (null counts as absent).
  static const json* find(const json& obj, const char* key) {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return nullptr;
    return &*it;
  }

  std::string string(const json& obj, const char* key, const std::string& parent, bool required,
                     bool allow_empty = false) const {
    const std::string field = join(parent, key);
    const json* v = find(obj, key);
    if (!v) {
      if (required) fail(field, "missing");
      return {};
    }
    if (!v->is_string()) fail(field, std::string("expected a string, got ") + v->type_name());
    std::string s = v->get<std::string>();
    if (s.find('\0') != std::string::npos) fail(field, "contains a NUL character");
    if (required && !allow_empty && s.empty()) fail(field, "must not be empty");
    return s;
  }

  std::optional<double> number(const json& obj, const char* key, const std::string& parent) const {
    const std::string field = join(parent, key);
    const json* v = find(obj, key);
    if (!v) return std::nullopt;
    if (!v->is_number()) fail(field, std::string("expected a number, got ") + v->type_name());
    const double d = v->get<double>();
    if (!std::isfinite(d)) fail(field, "must be finite");
    return d;
  }

  std::vector<std::string> strings(const json& obj, const char* key, const std::string& parent) const {
    const std::string field = join(parent, key);
    const json* v = find(obj, key);
    std::vector<std::string> out;
    if (!v) return out;
    array(*v, field);
    for (std::size_t i = 0; i < v->size(); ++i) {
      const json& e = (*v)[i];
      const std::string ef = field + "[" + std::to_string(i) + "]";
      if (!e.is_string()) fail(ef, std::string("expected a string, got ") + e.type_name());
      std::string s = e.get<std::string>();
      if (s.empty()) fail(ef, "must not be empty");
      if (s.find('\0') != std::string::npos) fail(ef, "contains a NUL character");
      out.push_back(std::move(s));
    }
    return out;
  }

  /// Records keys that are not in `known` as warnings (they are ignored).
  void unknown_keys(const json& obj, std::initializer_list<std::string_view> known, const std::string& parent,
                    std::vector<std::string>& warnings) const {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool ok = false;
      for (auto k : known) ok = ok || it.key() == k;
      if (!ok) warnings.push_back(join(parent, it.key()) + ": unknown key, ignored");
    }
  }

  static std::string join(const std::string& parent, std::string_view key) {
    return parent.empty() ? std::string(key) : parent + "." + std::string(key);
  }
  static std::string index(const std::string& parent, std::size_t i) {
    return parent + "[" + std::to_string(i) + "]";
  }

 private:
  void check_depth(std::string_view text) const {
    int depth = 0;
    bool in_string = false, escaped = false;
    for (char c : text) {
      if (in_string) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == '"') in_string = false;
        continue;
      }
      if (c == '"') in_string = true;
      else if (c == '[' || c == '{') {
        if (++depth > kMaxJsonDepth)
          fail("", "invalid JSON: nested deeper than " + std::to_string(kMaxJsonDepth) + " levels");
      } else if (c == ']' || c == '}') {
        --depth;
      }
    }
  }

  std::string source_;
};

}  // namespace fasctrack::pattern::detail
