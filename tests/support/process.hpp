// Runs blastd as a child process for end-to-end tests and benchmarks: starts
// it on a free loopback port, learns the port from its first stdout line, and
// stops it with SIGTERM (graceful) or SIGKILL (a crash).
#pragma once

#include <csignal>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace blast::test {

class blastd_process {
public:
  blastd_process(const std::string& binary, const std::string& data_dir,
                 const std::string& stderr_file, std::vector<std::string> extra_args = {}) {
    std::vector<std::string> args = {binary, "--data-dir", data_dir, "--listen", "127.0.0.1:0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
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
      execv(binary.c_str(), argv.data());
      _exit(127);
    }
    close(out[1]);
    out_ = fdopen(out[0], "r");
    char line[512];
    while (std::fgets(line, sizeof line, out_)) {
      const char* marker = "listening on http://127.0.0.1:";
      if (const char* p = std::strstr(line, marker)) {
        port_ = static_cast<uint16_t>(std::atoi(p + std::strlen(marker)));
        break;
      }
    }
    if (port_ == 0) {
      kill_hard();
      throw std::runtime_error("blastd did not start; see " + stderr_file);
    }
  }
  ~blastd_process() {
    if (pid_ > 0)
      kill_hard();
    if (out_)
      std::fclose(out_);
  }
  blastd_process(const blastd_process&) = delete;
  blastd_process& operator=(const blastd_process&) = delete;

  uint16_t port() const { return port_; }

  // SIGTERM and wait; returns the exit status (0 = clean shutdown).
  int stop() {
    ::kill(pid_, SIGTERM);
    return reap();
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

} // namespace blast::test
