// End to end: the log service of examples/log_collector.cc and
// examples/log_worker.cc, run as real processes, stopped with SIGTERM
// mid-stream.
//
// Property (the collector's contract, see log_collector.cc): every record a
// worker had acknowledged when the collector was sent SIGTERM is in the file
// when the collector exits 0; the rest stay in the queue, and a restarted
// collector appends them, so the file ends up with every record each worker
// sent exactly once, in each worker's order. Proof: worker K sends records
// seq 0..N-1 and appends "K:seq" to its ack file once each send returned OK;
// after the first run the file must hold, per worker, exactly seq 0..m-1
// (the collector takes the queue in FIFO order) with m at least the acks read
// before the kill; after the second run, exactly 0..N-1. Each line is also
// checked field by field against what the worker documents it sends, so a
// torn, mixed-up or invented record fails too.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "examples/log_record.h"
#include "gtest/gtest.h"
#include "ringbuf/queue.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace {

constexpr uint32_t kWorkers = 3;
constexpr uint64_t kPerWorker = 3000;
constexpr uint64_t kCapacity = 128;

// A file under $TEST_TMPDIR, named after the running test.
std::string TmpPath(absl::string_view name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  return absl::StrCat(tmp == nullptr ? "/tmp" : tmp, "/", info->name(), "-",
                      getpid(), "-", name);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The processes a test started; any still running when it ends (after a
// failed assertion) are killed and reaped.
class Processes {
 public:
  Processes() = default;
  Processes(const Processes&) = delete;
  Processes& operator=(const Processes&) = delete;
  ~Processes() {
    for (pid_t pid : running_) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }

  // Runs `argv` with stdout sent to `stdout_path`; stderr goes to the log.
  pid_t Start(const std::vector<std::string>& argv,
              const std::string& stdout_path) {
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::fflush(nullptr);
    const pid_t pid = fork();
    // A failed fork must stop the test here: killing pid -1 would kill
    // every process we may signal.
    if (pid < 0) {
      std::perror("fork");
      std::abort();
    }
    if (pid == 0) {
      int fd = open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd < 0 || dup2(fd, 1) < 0) _exit(126);
      execv(args[0], args.data());
      _exit(127);
    }
    if (pid > 0) running_.push_back(pid);
    return pid;
  }

  // testing::WaitChild (bounded; kills on timeout), then forgets `pid`.
  int Wait(pid_t pid, absl::Duration timeout) {
    const int status = testing::WaitChild(pid, timeout);
    running_.erase(std::remove(running_.begin(), running_.end(), pid),
                   running_.end());
    return status;
  }

 private:
  std::vector<pid_t> running_;
};

std::vector<std::string> CollectorArgs(const std::string& queue,
                                       const std::string& out,
                                       int64_t slow_disk_us) {
  return {testing::RunfilePath("examples/log_collector"),
          absl::StrCat("--queue=", queue),
          absl::StrCat("--out=", out),
          "--batch=16",
          absl::StrCat("--capacity=", kCapacity),
          "--slot_size=128",
          absl::StrCat("--slow_disk_us=", slow_disk_us),
          "--stats_every=500ms"};
}

// Waits (bounded) for the collector to create `name`; fails if it exits.
absl::StatusOr<Queue> AwaitQueue(const std::string& name, pid_t collector) {
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  for (;;) {
    absl::StatusOr<Queue> q = Queue::Open(name);
    if (q.ok() || !absl::IsNotFound(q.status()) || absl::Now() >= deadline) {
      return q;
    }
    if (waitpid(collector, nullptr, WNOHANG) == collector) {
      return absl::InternalError("the collector exited before creating its queue");
    }
    usleep(2000);  // polling for the name; bounded by `deadline`
  }
}

// The records in an ack file: its complete lines, each of which must be
// "worker:i" for the i-th line.
uint64_t CountAcks(const std::string& path, uint32_t worker) {
  const std::string content = ReadFile(path);
  uint64_t n = 0;
  // Complete lines only: the worker may be mid-write of the last one.
  for (size_t start = 0, nl; (nl = content.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    const absl::string_view line(content.data() + start, nl - start);
    if (line != absl::StrCat(worker, ":", n)) {
      ADD_FAILURE() << path << ": ack line " << n << " is '" << line << "'";
      break;
    }
    ++n;
  }
  return n;
}

uint64_t TotalAcks(const std::vector<std::string>& ack_files) {
  uint64_t total = 0;
  for (uint32_t w = 0; w < kWorkers; ++w) total += CountAcks(ack_files[w], w);
  return total;
}

// The "wrote N records" of the collector's summary line, or -1.
int64_t SummaryCount(const std::string& stdout_path) {
  for (absl::string_view line : absl::StrSplit(ReadFile(stdout_path), '\n')) {
    int64_t n = 0;
    if (absl::ConsumePrefix(&line, "log_collector: stopped: wrote ") &&
        absl::SimpleAtoi(line.substr(0, line.find(' ')), &n)) {
      return n;
    }
  }
  return -1;
}

// Worker w's sequence numbers in the order the file holds them, each line
// checked against what log_worker.cc documents it sends.
std::map<uint32_t, std::vector<uint64_t>> ReadLog(
    const std::string& path, const std::vector<pid_t>& worker_pids) {
  std::map<uint32_t, std::vector<uint64_t>> by_worker;
  const std::string content = ReadFile(path);
  EXPECT_TRUE(content.empty() || content.back() == '\n') << "torn last line";
  for (absl::string_view line : absl::StrSplit(content, '\n', absl::SkipEmpty())) {
    // time LEVEL pid=P worker=K seq=S text
    std::vector<absl::string_view> f = absl::StrSplit(line, absl::MaxSplits(' ', 5));
    absl::Time time;
    std::string error;
    uint32_t pid = 0, worker = 0;
    uint64_t seq = 0;
    const bool parsed =
        f.size() == 6 &&
        absl::ParseTime("%Y-%m-%dT%H:%M:%E*SZ", f[0], &time, &error) &&
        absl::ConsumePrefix(&f[2], "pid=") && absl::SimpleAtoi(f[2], &pid) &&
        absl::ConsumePrefix(&f[3], "worker=") && absl::SimpleAtoi(f[3], &worker) &&
        absl::ConsumePrefix(&f[4], "seq=") && absl::SimpleAtoi(f[4], &seq);
    if (!parsed || worker >= kWorkers || seq >= kPerWorker) {
      ADD_FAILURE() << "not a record the workers sent: " << line;
      continue;
    }
    EXPECT_EQ(pid, static_cast<uint32_t>(worker_pids[worker])) << line;
    EXPECT_EQ(f[1], logsvc::LevelName(static_cast<logsvc::Level>(seq % 4))) << line;
    EXPECT_EQ(f[5], absl::CEscape(absl::StrCat("record ", seq, " of ", kPerWorker,
                                               seq % 10 == 9 ? "\n\tcontinued" : "")))
        << line;
    by_worker[worker].push_back(seq);
  }
  return by_worker;
}

// True if `seqs` is exactly 0, 1, ..., seqs.size()-1.
bool IsPrefix(const std::vector<uint64_t>& seqs) {
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (seqs[i] != i) return false;
  }
  return true;
}

TEST(LogCollectorTest, SigtermMidStreamKeepsEveryAcknowledgedRecordExactlyOnce) {
  testing::ScopedQueueName name;
  const std::string log = TmpPath("collected.log");
  std::remove(log.c_str());
  Processes procs;

  // Run 1: a slow disk (2 ms per batch of 16), so the workers outpace it.
  const std::string out1 = TmpPath("collector1.out");
  const pid_t collector1 = procs.Start(CollectorArgs(name, log, 2000), out1);
  ASSERT_GT(collector1, 0);
  absl::StatusOr<Queue> queue = AwaitQueue(name, collector1);
  ASSERT_TRUE(queue.ok()) << queue.status();

  // The operator's view: `ringbufctl stat` works on the collector's queue.
  const std::string stat_out = TmpPath("stat.out");
  const pid_t stat = procs.Start(
      {testing::RunfilePath("ringbuf/ringbufctl"), "stat", name.get(), "--json"}, stat_out);
  ASSERT_TRUE(testing::ExitedCleanly(procs.Wait(stat, absl::Seconds(20))));
  const std::string stat_json = ReadFile(stat_out);
  EXPECT_TRUE(absl::StrContains(stat_json, absl::StrCat("\"capacity\":", kCapacity)))
      << stat_json;
  EXPECT_TRUE(absl::StrContains(stat_json, "\"slot_size\":128")) << stat_json;

  std::vector<pid_t> workers;
  std::vector<std::string> ack_files;
  for (uint32_t w = 0; w < kWorkers; ++w) {
    ack_files.push_back(TmpPath(absl::StrCat("acks-", w)));
    workers.push_back(procs.Start(
        {testing::RunfilePath("examples/log_worker"), absl::StrCat("--queue=", name.get()),
         absl::StrCat("--id=", w), absl::StrCat("--count=", kPerWorker),
         absl::StrCat("--ack_file=", ack_files[w]), "--send_timeout=60s"},
        TmpPath(absl::StrCat("worker-", w, ".out"))));
    ASSERT_GT(workers.back(), 0);
  }

  // Mid-stream: some records acknowledged, and backpressure seen (the queue
  // full, so workers were waiting on the disk rather than dropping).
  bool saw_full = false;
  uint64_t acked = 0;
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!(saw_full && acked >= kWorkers * kPerWorker / 6) &&
         absl::Now() < deadline) {
    saw_full = saw_full || queue->GetStats().depth == kCapacity;
    acked = TotalAcks(ack_files);
    usleep(1000);  // polling the ack files and stats; bounded by `deadline`
  }
  ASSERT_TRUE(saw_full) << "the queue never filled: no backpressure";
  std::vector<uint64_t> acked_before_sigterm;
  for (uint32_t w = 0; w < kWorkers; ++w) {
    acked_before_sigterm.push_back(CountAcks(ack_files[w], w));
  }
  ASSERT_GE(std::accumulate(acked_before_sigterm.begin(),
                            acked_before_sigterm.end(), uint64_t{0}),
            kWorkers * kPerWorker / 6);
  ASSERT_EQ(kill(collector1, SIGTERM), 0);
  ASSERT_TRUE(testing::ExitedCleanly(procs.Wait(collector1, absl::Seconds(30))))
      << "the collector did not exit 0 after SIGTERM";

  // After run 1: per worker a prefix of its records, covering every one
  // acknowledged before the SIGTERM.
  std::map<uint32_t, std::vector<uint64_t>> run1 = ReadLog(log, workers);
  uint64_t written1 = 0;
  for (uint32_t w = 0; w < kWorkers; ++w) {
    EXPECT_TRUE(IsPrefix(run1[w])) << "worker " << w << ": lost, duplicated or reordered";
    EXPECT_GE(run1[w].size(), acked_before_sigterm[w])
        << "worker " << w << ": an acknowledged record is missing";
    written1 += run1[w].size();
  }
  EXPECT_EQ(SummaryCount(out1), static_cast<int64_t>(written1));
  ASSERT_LT(written1, kWorkers * kPerWorker) << "SIGTERM came after the stream";
  std::printf("run 1: %" PRIu64 " records acknowledged before SIGTERM, %" PRIu64
              " written\n",
              std::accumulate(acked_before_sigterm.begin(),
                              acked_before_sigterm.end(), uint64_t{0}),
              written1);

  // With no collector the queue fills and the workers wait; nothing is
  // dropped (bounded: they give up after --send_timeout=60s).
  const uint64_t pending = std::min(kCapacity, kWorkers * kPerWorker - written1);
  const absl::Time full_deadline = absl::Now() + absl::Seconds(30);
  while (queue->GetStats().depth != pending && absl::Now() < full_deadline) {
    usleep(1000);  // polling stats; bounded
  }
  EXPECT_EQ(queue->GetStats().depth, pending);

  // Run 2: a restarted collector appends the rest to the same file.
  const std::string out2 = TmpPath("collector2.out");
  const pid_t collector2 = procs.Start(CollectorArgs(name, log, 0), out2);
  ASSERT_GT(collector2, 0);
  for (uint32_t w = 0; w < kWorkers; ++w) {
    ASSERT_TRUE(testing::ExitedCleanly(procs.Wait(workers[w], absl::Seconds(60))))
        << "worker " << w;
    EXPECT_EQ(CountAcks(ack_files[w], w), kPerWorker);
  }
  const absl::Time empty_deadline = absl::Now() + absl::Seconds(30);
  while (queue->GetStats().depth != 0 && absl::Now() < empty_deadline) {
    usleep(1000);  // polling stats; bounded
  }
  ASSERT_EQ(kill(collector2, SIGTERM), 0);
  ASSERT_TRUE(testing::ExitedCleanly(procs.Wait(collector2, absl::Seconds(30))));
  EXPECT_EQ(SummaryCount(out2), static_cast<int64_t>(kWorkers * kPerWorker - written1));

  std::map<uint32_t, std::vector<uint64_t>> all = ReadLog(log, workers);
  for (uint32_t w = 0; w < kWorkers; ++w) {
    EXPECT_EQ(all[w].size(), kPerWorker) << "worker " << w;
    EXPECT_TRUE(IsPrefix(all[w])) << "worker " << w << ": lost, duplicated or reordered";
  }
  const Stats st = queue->GetStats();
  EXPECT_EQ(st.depth, 0u);
  EXPECT_EQ(st.total_sent, kWorkers * kPerWorker);
}

// Regression for the stop path: with nothing to collect the collector is
// blocked in ReceiveBatch with no timeout, and SIGTERM (Queue::Shutdown from
// the handler) must still wake it.
TEST(LogCollectorTest, SigtermWhileIdleStopsPromptly) {
  testing::ScopedQueueName name;
  const std::string log = TmpPath("idle.log");
  std::remove(log.c_str());
  Processes procs;
  const std::string out = TmpPath("collector.out");
  const pid_t collector = procs.Start(
      {testing::RunfilePath("examples/log_collector"), absl::StrCat("--queue=", name.get()),
       absl::StrCat("--out=", log), "--stats_every=0"},
      out);
  ASSERT_GT(collector, 0);
  absl::StatusOr<Queue> queue = AwaitQueue(name, collector);
  ASSERT_TRUE(queue.ok()) << queue.status();
  ASSERT_EQ(kill(collector, SIGTERM), 0);
  ASSERT_TRUE(testing::ExitedCleanly(procs.Wait(collector, absl::Seconds(10))));
  EXPECT_EQ(SummaryCount(out), 0);
  EXPECT_EQ(ReadFile(log), "");
}

}  // namespace
}  // namespace ringbuf
