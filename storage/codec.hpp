// Little-endian binary writing and bounds-checked reading: the byte layer of
// the event encoding and of state snapshots, so that both read hostile or
// damaged bytes the same careful way. Big-endian for keys.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace blast::storage {

template <class T>
void put_le(std::string& out, T v) {
  static_assert(std::is_unsigned_v<T>);
  for (size_t i = 0; i < sizeof(T); ++i)
    out.push_back(static_cast<char>(static_cast<uint8_t>(v >> (8 * i))));
}

// Big-endian, for RocksDB keys: numbers in keys then sort as numbers.
inline void put_be(std::string& out, uint64_t v, size_t bytes) {
  for (size_t i = bytes; i-- > 0;)
    out.push_back(static_cast<char>(static_cast<uint8_t>(v >> (8 * i))));
}

inline uint64_t get_be(std::string_view in) {
  uint64_t v = 0;
  for (char c : in)
    v = (v << 8) | static_cast<uint8_t>(c);
  return v;
}

inline void put_bytes(std::string& out, std::string_view s) {
  put_le(out, static_cast<uint64_t>(s.size()));
  out.append(s);
}

// A vector of unsigned integers as a count and its elements, little-endian.
// Copied whole on little-endian hosts: a million-recipient column is one memcpy.
template <class T>
void put_column(std::string& out, const std::vector<T>& v) {
  static_assert(std::is_unsigned_v<T>);
  put_le(out, static_cast<uint64_t>(v.size()));
  if constexpr (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
    out.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  } else {
    for (auto x : v)
      put_le(out, x);
  }
}

// Reads from a view and remembers whether any read ran past its end, so that
// a decoder can do all reads first and check once: a failed read yields zeros
// (or empties) and never touches memory outside the view.
class reader {
public:
  explicit reader(std::string_view in) : in_(in) {}

  template <class T>
  T le() {
    static_assert(std::is_unsigned_v<T>);
    if (!take(sizeof(T)))
      return 0;
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i)
      v |= static_cast<T>(static_cast<uint8_t>(in_[pos_ - sizeof(T) + i])) << (8 * i);
    return v;
  }

  std::string_view bytes(size_t n) {
    if (!take(n))
      return {};
    return in_.substr(pos_ - n, n);
  }

  // What put_bytes() wrote.
  std::string_view sized_bytes() { return bytes(static_cast<size_t>(le<uint64_t>())); }

  // What put_column() wrote; `max` bounds the count a damaged input may claim.
  template <class T>
  bool column(std::vector<T>& v, uint64_t max) {
    static_assert(std::is_unsigned_v<T>);
    auto n = le<uint64_t>();
    if (!ok_ || n > max || n > (in_.size() - pos_) / sizeof(T)) {
      ok_ = false;
      return false;
    }
    v.resize(static_cast<size_t>(n));
    if constexpr (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) {
      // An empty vector's data() may be null, and memcpy's pointers must never be (even
      // for 0 bytes): an empty column copies nothing.
      if (n > 0)
        std::memcpy(v.data(), in_.data() + pos_, v.size() * sizeof(T));
      pos_ += v.size() * sizeof(T);
    } else {
      for (auto& x : v)
        x = le<T>();
    }
    return ok_;
  }

  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }
  void fail() { ok_ = false; }

private:
  bool take(size_t n) {
    // Written as a subtraction so that a huge n cannot overflow pos_ + n.
    if (!ok_ || n > in_.size() - pos_) {
      ok_ = false;
      return false;
    }
    pos_ += n;
    return true;
  }

  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

} // namespace blast::storage
