#pragma once
// Counting malloc, to test that a hot path does not allocate. Every
// allocation (operator new and Eigen's aligned_malloc included) goes through
// malloc. glibc only, and not under sanitizers, which install their own
// malloc: tests that use it are compiled only where
// FASCTRACK_TEST_COUNT_MALLOC is defined.

#include <cstddef>

#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#if defined(__has_feature)
#if !__has_feature(address_sanitizer) && !__has_feature(thread_sanitizer) && !__has_feature(memory_sanitizer)
#define FASCTRACK_TEST_COUNT_MALLOC 1
#endif
#else
#define FASCTRACK_TEST_COUNT_MALLOC 1
#endif
#endif

#ifdef FASCTRACK_TEST_COUNT_MALLOC
namespace fasctrack::test {
/// Counts the calling thread's mallocs from construction to destruction.
class MallocCounter {
 public:
  MallocCounter();
  ~MallocCounter();
  MallocCounter(const MallocCounter&) = delete;
  MallocCounter& operator=(const MallocCounter&) = delete;
  std::size_t count() const;
};
}  // namespace fasctrack::test
#endif
