// The HTTP server's worker pool sheds a connection (answers it 503) only
// when every worker serves another one, never because a worker has not
// started yet. The crash harness found that: a daemon just started on a
// loaded machine answered the first request after /readyz with 503
// OVERLOADED ("too many connections") while it served no other.
#include <atomic>
#include <chrono>
#include <future>

#include <gtest/gtest.h>

#include "server/connection_pool.h"

namespace strata {
namespace {

using server::ConnectionPool;
using namespace std::chrono_literals;

TEST(ConnectionPool, AWorkerThatHasNotStartedYetStillTakesTheConnection) {
  // The workers are held back before they first run, as a busy scheduler
  // may hold them.
  std::promise<void> go;
  std::shared_future<void> started = go.get_future().share();
  ConnectionPool pool(2, [started] { started.wait(); });
  std::promise<bool> shed;
  pool.enqueue([&] { shed.set_value(ConnectionPool::shedding()); });
  go.set_value();
  auto answer = shed.get_future();
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(answer.get()) << "the connection was shed while both workers were free";
  pool.shutdown();
}

TEST(ConnectionPool, AConnectionFindingEveryWorkerBusyIsShed) {
  ConnectionPool pool(2);
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<int> busy{0};
  for (int i = 0; i < 2; ++i) {
    pool.enqueue([&, released] {
      EXPECT_FALSE(ConnectionPool::shedding());
      busy++;
      released.wait();
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (busy < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(busy, 2);
  std::promise<bool> shed;
  pool.enqueue([&] { shed.set_value(ConnectionPool::shedding()); });
  auto answer = shed.get_future();
  ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(answer.get()) << "a third connection was queued behind two busy workers";
  release.set_value();
  pool.shutdown();
}

}  // namespace
}  // namespace strata
