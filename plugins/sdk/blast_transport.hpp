// blast_transport.hpp — optional C++17 helpers for plugin authors, header-only,
// on top of the C ABI in blast_transport.h. Their main job: no exception ever
// crosses the boundary (guarded), and strings are easy to pass both ways.
#pragma once

#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "blast_transport.h"

namespace blast_sdk {

inline std::string_view view(blast_str s) {
  return s.data ? std::string_view(s.data, s.len) : std::string_view{};
}
inline blast_str str(std::string_view s) { return blast_str{s.data(), s.size()}; }

// Writes `msg` into a caller-owned error buffer, truncated and NUL-terminated.
inline void write_error(char* err, size_t err_len, std::string_view msg) {
  if (!err || err_len == 0)
    return;
  size_t n = msg.size() < err_len - 1 ? msg.size() : err_len - 1;
  std::memcpy(err, msg.data(), n);
  err[n] = '\0';
}

// Runs `f` (returning an int status) and turns any exception into
// BLAST_E_INTERNAL with its message: wrap every ABI entry point in it.
template <class F>
int guarded(char* err, size_t err_len, F&& f) noexcept {
  try {
    return f();
  } catch (const std::exception& e) {
    write_error(err, err_len, std::string("plugin exception: ") + e.what());
  } catch (...) {
    write_error(err, err_len, "plugin exception of unknown type");
  }
  return BLAST_E_INTERNAL;
}

// The same for entry points returning a pointer (create): NULL on exception.
template <class T, class F>
T* guarded_ptr(char* err, size_t err_len, F&& f) noexcept {
  try {
    return f();
  } catch (const std::exception& e) {
    write_error(err, err_len, std::string("plugin exception: ") + e.what());
  } catch (...) {
    write_error(err, err_len, "plugin exception of unknown type");
  }
  return nullptr;
}

// A zeroed observation with its struct_size set; fill its strings with str().
inline blast_observation make_observation() {
  blast_observation o{};
  o.struct_size = sizeof(blast_observation);
  return o;
}

} // namespace blast_sdk
