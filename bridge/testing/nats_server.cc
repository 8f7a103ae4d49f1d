#include "bridge/testing/nats_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tests/test_util.h"

namespace ringbuf {
namespace bridge_testing {

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string templ = absl::StrCat(base != nullptr ? base : "/tmp", "/nats-XXXXXX");
  if (mkdtemp(&templ[0]) != nullptr) path_ = templ;
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::string cmd = absl::StrCat("rm -rf '", path_, "'");
    if (!std::getenv("BRIDGE_TEST_KEEP_TMP")) (void)!std::system(cmd.c_str());
  }
}

Child::Child(std::vector<std::string> argv, std::string log_path,
             std::vector<std::string> env)
    : argv_(std::move(argv)), log_path_(std::move(log_path)) {
  // Everything the child needs is built before fork: the test process may
  // have other threads (cnats'), so the child only calls async-signal-safe
  // functions until exec.
  std::vector<char*> args;
  for (std::string& a : argv_) args.push_back(&a[0]);
  args.push_back(nullptr);
  std::vector<char*> envp;
  for (char** e = environ; *e != nullptr; ++e) envp.push_back(*e);
  for (std::string& e : env) envp.push_back(&e[0]);
  envp.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);
  const pid_t parent = getpid();
  pid_ = fork();
  // A failed fork must stop the test here: killing pid -1 would kill
  // every process we may signal.
  if (pid_ < 0) {
    std::perror("fork");
    std::abort();
  }
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
}

Child::Child(Child&& other) noexcept { *this = std::move(other); }

Child& Child::operator=(Child&& other) noexcept {
  if (this != &other) {
    Kill();
    argv_ = std::move(other.argv_);
    log_path_ = std::move(other.log_path_);
    pid_ = std::exchange(other.pid_, -1);
  }
  return *this;
}

void Child::Kill(int signal) {
  if (pid_ <= 0) return;
  kill(pid_, signal);
  if (signal == SIGKILL) {
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
}

int Child::Wait(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  int status = ringbuf::testing::WaitChild(pid_, timeout);
  pid_ = -1;
  if (status == -1) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return -2;
}

int Child::Terminate(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  return Wait(timeout);
}

std::string Child::Log() const {
  std::ifstream in(log_path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Child::AwaitLog(const std::string& text, absl::Duration timeout) const {
  const absl::Time deadline = absl::Now() + timeout;
  do {
    if (Log().find(text) != std::string::npos) return true;
    absl::SleepFor(absl::Milliseconds(20));
  } while (absl::Now() < deadline);
  return false;
}

namespace {

std::string NatsServerBinary() {
  for (const char* p : {"/usr/bin/nats-server", "/usr/local/bin/nats-server",
                        "/usr/sbin/nats-server"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "nats-server";
}

bool Accepts(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

}  // namespace

NatsServer::NatsServer(Config config) : config_(std::move(config)) {
  if (config_.client_port == 0) config_.client_port = FreePort();
}

NatsServer::~NatsServer() { Kill(); }

absl::Status NatsServer::Start() {
  if (dir_.path().empty()) return absl::InternalError("no temporary directory");
  const std::string conf = absl::StrCat(dir_.path(), "/server.conf");
  {
    std::ofstream out(conf);
    out << "server_name: " << config_.name << "\n"
        << "host: 127.0.0.1\n"
        << "port: " << config_.client_port << "\n"
        << "jetstream { store_dir: \"" << dir_.path() << "/store\" }\n";
    if (!config_.cluster_ports.empty()) {
      std::vector<std::string> routes;
      for (size_t i = 0; i < config_.cluster_ports.size(); ++i) {
        if (i == config_.index) continue;
        routes.push_back(absl::StrCat("nats://127.0.0.1:", config_.cluster_ports[i]));
      }
      out << "cluster {\n  name: ringbuf-test\n  host: 127.0.0.1\n  port: "
          << config_.cluster_ports[config_.index] << "\n  routes: ["
          << absl::StrJoin(routes, ", ") << "]\n}\n";
    }
    out << config_.extra_config << "\n";
  }
  process_ = Child({NatsServerBinary(), "-c", conf},
                   absl::StrCat(dir_.path(), "/server.log"));
  const absl::Time deadline = absl::Now() + absl::Seconds(15);
  while (!Accepts(config_.client_port)) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "nats-server ", config_.name, " did not accept connections on 127.0.0.1:",
          config_.client_port, " within 15 s; its log:\n", process_.Log()));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::OkStatus();
}

void NatsServer::Kill() { process_.Kill(SIGKILL); }

std::string NatsServer::url() const {
  return absl::StrCat("nats://127.0.0.1:", config_.client_port);
}

std::string Runfile(const std::string& path) {
  return ringbuf::testing::RunfilePath(path);
}

}  // namespace bridge_testing
}  // namespace ringbuf
