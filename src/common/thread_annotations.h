// Lock discipline the compiler checks: clang's -Wthread-safety attributes
// (https://clang.llvm.org/docs/ThreadSafetyAnalysis.html) behind the usual
// macro names, expanding to nothing on other compilers. libstdc++'s
// std::mutex carries no annotations, so a member guarded by a mutex the
// analysis sees is guarded by a strata::Mutex, locked with a MutexLock.
//
// What the analysis cannot see: a function given a std::unique_lock (the
// commit pipeline, condition variables) may release and retake the mutex
// inside; to the analysis the mutex stays held across the call, which is
// what those functions promise at return.
//
// Checked by any clang build (CMakeLists.txt adds -Wthread-safety for
// clang; STRATA_WERROR makes a violation an error), e.g.:
//   CXX=clang++ cmake -S . -B build-clang -DSTRATA_WERROR=ON
//   cmake --build build-clang --target strata_wal
#pragma once

#include <mutex>

#if defined(__clang__)
#define STRATA_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define STRATA_THREAD_ANNOTATION(x)
#endif

#define CAPABILITY(x) STRATA_THREAD_ANNOTATION(capability(x))
#define SCOPED_CAPABILITY STRATA_THREAD_ANNOTATION(scoped_lockable)
#define GUARDED_BY(x) STRATA_THREAD_ANNOTATION(guarded_by(x))
#define PT_GUARDED_BY(x) STRATA_THREAD_ANNOTATION(pt_guarded_by(x))
#define REQUIRES(...) STRATA_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define EXCLUDES(...) STRATA_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define ACQUIRE(...) STRATA_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define RELEASE(...) STRATA_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define RETURN_CAPABILITY(x) STRATA_THREAD_ANNOTATION(lock_returned(x))
#define NO_THREAD_SAFETY_ANALYSIS STRATA_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace strata {

// A std::mutex the analysis knows as a capability.
class CAPABILITY("mutex") Mutex {
 public:
  void lock() ACQUIRE() { mu_.lock(); }
  void unlock() RELEASE() { mu_.unlock(); }
  // The mutex itself, for MutexLock (and through it condition variables).
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

// std::unique_lock over a Mutex, seen by the analysis: held from
// construction to destruction except between unlock() and lock(). It
// converts to the std::unique_lock<std::mutex>& that condition variables and
// the functions that wait take.
class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lk_(mu.native()) {}
  ~MutexLock() RELEASE() {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  void lock() ACQUIRE() { lk_.lock(); }
  void unlock() RELEASE() { lk_.unlock(); }
  operator std::unique_lock<std::mutex>&() { return lk_; }  // NOLINT: by design

 private:
  std::unique_lock<std::mutex> lk_;
};

}  // namespace strata
