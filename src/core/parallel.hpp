#pragma once
// A fixed team of threads for data-parallel steps over channels.
//
// The detector's per-block work (filtering, noise statistics, energies) is
// independent across channels, so it splits into contiguous channel ranges,
// one per thread, and every channel sees exactly the arithmetic it would on
// one thread: results do not depend on the thread count. Blocks are short
// (0.25 s), so the team is kept alive and woken per step through an atomic
// generation counter (futex-backed std::atomic::wait) rather than spawning
// threads or taking a lock per step. A waiting thread polls the counter
// for up to 200 us before it sleeps, so consecutive steps of a busy
// detector do not each pay a wake-up.

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace fasctrack::detail {

class ThreadTeam {
 public:
  /// n_threads >= 1 in all, the calling thread included (n_threads - 1 are started).
  explicit ThreadTeam(int n_threads);
  ~ThreadTeam();
  ThreadTeam(const ThreadTeam&) = delete;
  ThreadTeam& operator=(const ThreadTeam&) = delete;

  int size() const noexcept { return n_; }
  /// Runs part(i) for i in [0, size()) concurrently, part 0 on the calling
  /// thread, and returns when all are done. part must not throw.
  void run(const std::function<void(int)>& part);

 private:
  void worker(int index);
  int n_;
  std::vector<std::thread> threads_;
  std::atomic<std::uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  const std::function<void(int)>* task_ = nullptr;
};

/// Threads to use for n_threads = 0 (every core) or a given count, at least 1.
int resolve_threads(int n_threads);

}  // namespace fasctrack::detail
