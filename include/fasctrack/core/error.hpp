#pragma once
// Error classes.
//
// Configuration mistakes (bad cutoff, fs <= 0, wrong shapes) throw the standard
// std::invalid_argument / std::out_of_range at setup time; they become
// ValueError / IndexError in Python. Problems with a file's content or access
// throw ReadError (or a subclass), whose message always starts with the path.

#include <stdexcept>
#include <string>

namespace fasctrack {

/// Base class of every exception fasctrack defines itself.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A file could not be read: missing, unreadable, truncated or corrupt.
/// what() is "<path>: <problem>".
class ReadError : public Error {
 public:
  ReadError(std::string path, std::string problem)
      : Error(path + ": " + problem), path_(std::move(path)), problem_(std::move(problem)) {}
  const std::string& path() const noexcept { return path_; }
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string path_;
  std::string problem_;
};

/// The file's format is unknown or not supported (extension, magic bytes, encoding).
class UnsupportedFormatError : public ReadError {
 public:
  using ReadError::ReadError;
};

/// A file could not be written.
class WriteError : public Error {
 public:
  WriteError(std::string path, std::string problem)
      : Error(path + ": " + problem), path_(std::move(path)) {}
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

}  // namespace fasctrack
