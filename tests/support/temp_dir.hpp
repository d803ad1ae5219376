// A fresh directory under /tmp for one test case, removed when the case ends,
// so that cases never see each other's data.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>

namespace blast::test {

class temp_dir {
public:
  temp_dir() {
    std::string tmpl = "/tmp/blast-test-XXXXXX";
    if (!mkdtemp(tmpl.data()))
      throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;  // never throw from a destructor; a leftover dir is harmless
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::string& path() const { return path_; }

private:
  std::string path_;
};

} // namespace blast::test
