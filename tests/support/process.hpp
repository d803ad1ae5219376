// Runs servers (blastd, wsapme-sim) as child processes for end-to-end tests:
// starts them on loopback ports and stops them gracefully or by a crash.
#pragma once

#include <algorithm>
#include <arpa/inet.h>
#include <chrono>
#include <csignal>
#include <netinet/in.h>
#include <sys/socket.h>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace blast::test {

// A server child process that prints "... listening on http://HOST:PORT"
// on stdout first (blastd, wsapme-sim): started, its port learnt, stopped with
// SIGTERM (graceful) or SIGKILL (a crash). Tests reach it on 127.0.0.1 (a
// server on 0.0.0.0 answers there too).
class server_process {
public:
  server_process(std::vector<std::string> args, const std::string& stderr_file) {
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    int out[2];
    if (pipe(out) != 0)
      throw std::runtime_error("pipe failed");
    pid_ = fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      dup2(out[1], 1);
      close(out[0]);
      close(out[1]);
      if (FILE* err = std::fopen(stderr_file.c_str(), "a"))
        dup2(fileno(err), 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    out_ = fdopen(out[0], "r");
    char line[512];
    while (std::fgets(line, sizeof line, out_)) {
      const char* marker = "listening on http://";
      if (const char* p = std::strstr(line, marker)) {
        std::string host_port(p + std::strlen(marker));
        host_port = host_port.substr(0, host_port.find_first_of(" \n"));
        port_ = static_cast<uint16_t>(std::atoi(host_port.c_str() + host_port.rfind(':') + 1));
        break;
      }
    }
    if (port_ == 0) {
      kill_hard();
      throw std::runtime_error(args[0] + " did not start; see " + stderr_file);
    }
  }
  ~server_process() {
    if (pid_ > 0)
      kill_hard();
    if (out_)
      std::fclose(out_);
  }
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }

  // SIGTERM and wait; returns the exit status (0 = clean shutdown).
  int stop() {
    ::kill(pid_, SIGTERM);
    return reap();
  }
  // SIGTERM, then waits at most `limit` for the exit: its status, or -1 when
  // the process was still running (it is then killed, so no test hangs on it).
  int stop_within(std::chrono::milliseconds limit) {
    ::kill(pid_, SIGTERM);
    auto end = std::chrono::steady_clock::now() + limit;
    for (;;) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() >= end) {
        kill_hard();
        return -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  // SIGKILL: what a crash looks like to the log.
  void kill_hard() {
    ::kill(pid_, SIGKILL);
    reap();
  }

private:
  int reap() {
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  pid_t pid_ = -1;
  FILE* out_ = nullptr;
  uint16_t port_ = 0;
};

// blastd on a data folder, on a free loopback port unless `extra_args` has --listen.
class blastd_process : public server_process {
public:
  blastd_process(const std::string& binary, const std::string& data_dir,
                 const std::string& stderr_file, std::vector<std::string> extra_args = {})
    : server_process(args(binary, data_dir, std::move(extra_args)), stderr_file) {}

private:
  static std::vector<std::string> args(const std::string& binary, const std::string& data_dir,
                                       std::vector<std::string> extra) {
    std::vector<std::string> a = {binary, "--data-dir", data_dir};
    if (std::find(extra.begin(), extra.end(), "--listen") == extra.end()) {
      a.push_back("--listen");
      a.push_back("127.0.0.1:0");
    }
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

// A free loopback port, for two servers that must know each other's address
// before either starts (a tiny race with other processes, fine for tests).
inline uint16_t free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Runs a shell command; its standard output and exit code (-1 if it did not exit).
struct command_result {
  std::string out;
  int rc = -1;
};
inline command_result run_command(const std::string& cmd) {
  command_result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p)
    return r;
  char buf[1 << 16];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;)
    r.out.append(buf, n);
  int st = pclose(p);
  r.rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

} // namespace blast::test
