// Error values of the storage layer: expected failures are returned, never thrown.
// Exceptions from RocksDB or the allocator are bugs or start-up failures.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

namespace blast::storage {

// Numbers are stable: they appear in logs and in HTTP error mapping.
enum class errc : uint8_t {
  ok = 0,
  io_error = 1,       // RocksDB write/sync/read failed (disk full, EIO, ...)
  corruption = 2,     // undecodable record, broken hash chain, sequence gap
  not_found = 3,
  invalid_argument = 4,
  busy = 5,           // journal queue full (backpressure)
  shutting_down = 6,  // journal stopped before the append was written
};

const char* to_string(errc code);

struct status {
  errc code = errc::ok;
  std::string message;

  status() = default;
  status(errc c, std::string msg) : code(c), message(std::move(msg)) {}
  static status ok() { return {}; }
  explicit operator bool() const { return code == errc::ok; }
};

} // namespace blast::storage
