// Test helpers for the bridge: nats-server processes on 127.0.0.1 with free
// ports and temporary storage, and child processes with captured stderr.
// Every process started here gets PR_SET_PDEATHSIG(SIGKILL), so none outlives
// a test binary that dies, and is SIGKILLed by its destructor otherwise.
#ifndef RINGBUF_BRIDGE_TESTING_NATS_SERVER_H_
#define RINGBUF_BRIDGE_TESTING_NATS_SERVER_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace ringbuf {
namespace bridge_testing {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read
// back, closed).
int FreePort();

// A fresh directory under $TEST_TMPDIR (or /tmp), removed by the destructor
// unless $BRIDGE_TEST_KEEP_TMP is set (to read the bridges' logs after a run).
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A process whose stdout and stderr go to `log_path`, with `env` ("K=V")
// added to this process's environment.
class Child {
 public:
  Child() = default;
  Child(std::vector<std::string> argv, std::string log_path,
        std::vector<std::string> env = {});
  ~Child() { Kill(); }
  Child(Child&& other) noexcept;
  Child& operator=(Child&& other) noexcept;

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  // Sends `signal`; then (for SIGKILL) reaps it.
  void Kill(int signal = 9);
  // Sends SIGTERM and waits up to `timeout`; the exit code, or -1 if it had
  // to be SIGKILLed, -2 if it died of a signal.
  int Terminate(absl::Duration timeout);
  // Waits up to `timeout` for it to exit on its own; as Terminate.
  int Wait(absl::Duration timeout);
  // Everything it wrote so far.
  std::string Log() const;
  // Polls Log() until it contains `text`, at most `timeout`.
  bool AwaitLog(const std::string& text, absl::Duration timeout) const;

 private:
  std::vector<std::string> argv_;
  std::string log_path_;
  pid_t pid_ = -1;
};

// One nats-server -js on 127.0.0.1. For a cluster, give every member the
// same `cluster_ports` (one per member) and its own index.
class NatsServer {
 public:
  struct Config {
    std::string name = "n0";
    int client_port = 0;                // 0: pick a free one
    std::vector<int> cluster_ports;     // empty: a single node
    size_t index = 0;                   // this member's place in cluster_ports
    std::string extra_config;           // appended to the config file
  };
  explicit NatsServer(Config config);
  ~NatsServer();

  // Starts the server and waits (bounded) until it accepts connections.
  absl::Status Start();
  void Kill();  // SIGKILL; the store directory is kept for a restart
  pid_t pid() const { return process_.pid(); }
  std::string url() const;
  int client_port() const { return config_.client_port; }
  std::string Log() const { return process_.Log(); }

 private:
  Config config_;
  TempDir dir_;
  Child process_;
};

// The path of a runfile of this workspace ("bridge/ringbuf-bridge").
std::string Runfile(const std::string& path);

}  // namespace bridge_testing
}  // namespace ringbuf

#endif  // RINGBUF_BRIDGE_TESTING_NATS_SERVER_H_
