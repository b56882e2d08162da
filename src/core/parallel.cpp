// A fixed team of threads (see parallel.hpp).

#include "core/parallel.hpp"

#include <algorithm>
#include <chrono>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace fasctrack::detail {

namespace {

void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// Waits until a differs from old: first by polling, then on the futex. The
// detector's parallel steps are ~50-100 us apart, with a short serial step
// between them; a sleeping thread woken through the futex (on a virtual
// machine, out of an idle halt) takes tens of microseconds to start, about
// as long as the step it was woken for. Polling for a while first lets a
// busy team hand steps over without that, and still puts an idle team to
// sleep (a stream waiting for its next chunk, a finished detect()).
template <class V>
V spin_then_wait(const std::atomic<V>& a, V old, std::memory_order order) noexcept {
  constexpr auto kSpin = std::chrono::microseconds(200);
  const auto start = std::chrono::steady_clock::now();
  for (int i = 1;; ++i) {
    const V v = a.load(order);
    if (v != old) return v;
    cpu_relax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() - start > kSpin) break;
  }
  a.wait(old, order);
  return a.load(order);
}

}  // namespace

ThreadTeam::ThreadTeam(int n_threads) : n_(std::max(1, n_threads)) {
  threads_.reserve(static_cast<std::size_t>(n_ - 1));
  for (int i = 1; i < n_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadTeam::~ThreadTeam() {
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadTeam::worker(int index) {
  std::uint64_t seen = 0;
  for (;;) {
    const std::uint64_t g = spin_then_wait(generation_, seen, std::memory_order_acquire);
    if (g == seen) continue;  // spurious wake-up
    seen = g;
    if (stop_.load(std::memory_order_acquire)) return;
    (*task_)(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void ThreadTeam::run(const std::function<void(int)>& part) {
  if (n_ == 1) {
    part(0);
    return;
  }
  task_ = &part;
  pending_.store(n_ - 1, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  part(0);
  for (int p = pending_.load(std::memory_order_acquire); p != 0;) p = spin_then_wait(pending_, p, std::memory_order_acquire);
}

int resolve_threads(int n_threads) {
  if (n_threads > 0) return n_threads;
  const unsigned hw = std::thread::hardware_concurrency();
  return hw == 0 ? 1 : static_cast<int>(hw);
}

}  // namespace fasctrack::detail
