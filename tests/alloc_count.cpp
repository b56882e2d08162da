#include "alloc_count.hpp"

#ifdef FASCTRACK_TEST_COUNT_MALLOC
extern "C" void* __libc_malloc(std::size_t size);

namespace {
thread_local bool g_counting = false;
thread_local std::size_t g_mallocs = 0;
}  // namespace

extern "C" void* malloc(std::size_t size) {
  if (g_counting) ++g_mallocs;
  return __libc_malloc(size);
}

namespace fasctrack::test {
MallocCounter::MallocCounter() {
  g_mallocs = 0;
  g_counting = true;
}
MallocCounter::~MallocCounter() { g_counting = false; }
std::size_t MallocCounter::count() const { return g_mallocs; }
}  // namespace fasctrack::test
#endif
