// The schedulers in process: each tier's breaker, a hung tier never delaying
// another, and the bounded last round at shutdown.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "server/scheduler.h"
#include "strata/error.h"

namespace strata::server {
namespace {

using namespace std::chrono_literals;

// A job whose outcome the test sets; it can also be made to hang until
// released.
struct Control {
  std::mutex mu;
  std::condition_variable cv;
  bool fail = false;
  bool hang = false;
  int runs = 0;
  int finished = 0;
  uint64_t confirm = 0;
};

class FakeJob : public Job {
 public:
  FakeJob(std::string name, std::shared_ptr<Control> c) : name_(std::move(name)), c_(c) {}
  std::string name() const override { return name_; }
  std::string target() const override { return "nowhere"; }
  JobResult run() override {
    std::unique_lock lock(c_->mu);
    c_->runs++;
    c_->cv.notify_all();
    c_->cv.wait(lock, [&] { return !c_->hang; });
    c_->finished++;
    c_->cv.notify_all();
    if (c_->fail) throw Error(ErrorCode::kStorageNetwork, "the remote is down");
    JobResult r;
    r.summary = "ok";
    r.confirmed_seq = c_->confirm;
    return r;
  }

 private:
  std::string name_;
  std::shared_ptr<Control> c_;
};

template <typename Pred>
bool wait_until(Control& c, Pred pred, std::chrono::seconds timeout = 20s) {
  std::unique_lock lock(c.mu);
  return c.cv.wait_for(lock, timeout, [&] { return pred(); });
}

TEST(Scheduler, BreakerOpensAfterThreeFailuresProbesAfterResetAndClosesOnSuccess) {
  auto c = std::make_shared<Control>();
  c->fail = true;
  Scheduler s({3, 300ms}, {});
  s.add(std::make_unique<FakeJob>("object", c), 0ms);
  for (int i = 0; i < 3; ++i) {
    try {
      s.run_now("object");
      ADD_FAILURE() << "the run should have failed";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), ErrorCode::kStorageNetwork);
    }
  }
  auto st = s.status().at(0);
  EXPECT_EQ(st.breaker, BreakerState::kOpen);
  EXPECT_EQ(st.failures, 3u);
  EXPECT_NE(st.last_error.find("STORAGE_NETWORK"), std::string::npos) << st.last_error;
  // Open: refused without running the job.
  try {
    s.run_now("object");
    ADD_FAILURE() << "an open breaker let a run through";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), ErrorCode::kStorageUnavailable);
  }
  EXPECT_EQ(c->runs, 3);
  EXPECT_EQ(s.status().at(0).skipped, 1u);
  // After the reset period one probe goes through; success closes it.
  std::this_thread::sleep_for(350ms);
  EXPECT_EQ(s.status().at(0).breaker, BreakerState::kHalfOpen);
  {
    std::lock_guard lock(c->mu);
    c->fail = false;
    c->confirm = 42;
  }
  EXPECT_EQ(s.run_now("object").confirmed_seq, 42u);
  st = s.status().at(0);
  EXPECT_EQ(st.breaker, BreakerState::kClosed);
  EXPECT_EQ(st.confirmed_seq, 42u);
  EXPECT_TRUE(st.last_success.has_value());
}

TEST(Scheduler, AHungTierNeverDelaysAnother) {
  auto hung = std::make_shared<Control>();
  hung->hang = true;
  auto busy = std::make_shared<Control>();
  Scheduler s({3, 300000ms}, {});
  s.add(std::make_unique<FakeJob>("object", hung), 10ms);
  s.add(std::make_unique<FakeJob>("git", busy), 10ms);
  s.start();
  ASSERT_TRUE(wait_until(*hung, [&] { return hung->runs == 1; }));
  // The other tier keeps running on its own thread while the first hangs.
  EXPECT_TRUE(wait_until(*busy, [&] { return busy->finished >= 5; }));
  EXPECT_EQ(hung->finished, 0);
  {
    std::lock_guard lock(hung->mu);
    hung->hang = false;
  }
  hung->cv.notify_all();
  s.stop();
}

TEST(Scheduler, TheLastRoundIsBoundedAndReportsWhatDidNotFinish) {
  auto hung = std::make_shared<Control>();
  auto fine = std::make_shared<Control>();
  fine->confirm = 7;
  std::atomic<uint64_t> confirmed{0};
  Scheduler::Hooks hooks;
  hooks.confirmed = [&](const std::string& job, uint64_t seq) {
    if (job == "git") confirmed = seq;
  };
  auto s = std::make_unique<Scheduler>(Scheduler::Breaker{3, 300000ms}, hooks);
  s->add(std::make_unique<FakeJob>("object", hung), 3600000ms);
  s->add(std::make_unique<FakeJob>("git", fine), 3600000ms);
  s->start();
  ASSERT_TRUE(wait_until(*hung, [&] { return hung->runs == 1; }));
  ASSERT_TRUE(wait_until(*fine, [&] { return fine->finished == 1; }));
  {
    std::lock_guard lock(hung->mu);
    hung->hang = true;  // the last round of "object" will hang
  }
  fine->confirm = 9;
  auto unfinished = s->final_round(200ms);
  EXPECT_EQ(unfinished, std::vector<std::string>{"object"});
  EXPECT_EQ(fine->finished, 2) << "the healthy tier's last run did not happen";
  EXPECT_EQ(confirmed, 9u);
  // Let the hung run end; the scheduler's destructor waits for its thread.
  {
    std::lock_guard lock(hung->mu);
    hung->hang = false;
  }
  hung->cv.notify_all();
  ASSERT_TRUE(wait_until(*hung, [&] { return hung->finished == 2; }));
  s.reset();  // waits for the thread the last round left behind
}

}  // namespace
}  // namespace strata::server
