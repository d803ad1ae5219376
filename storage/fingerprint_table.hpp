// A bounded map from 64-bit fingerprints of strings (message ids, event ids)
// to small values, for the hot paths that ask "seen before?" and "whose id is
// this?" once per webhook status.
//
// Why not unordered_map<std::string, V>: at millions of ids the strings and
// nodes cost 100+ bytes an entry and an allocation each; here an entry is the
// fingerprint and the value in a flat array (open addressing, linear probing).
//
// Bounded by generations, not by a list of what to evict: entries go into the
// current generation; when it holds `generation_size` entries it becomes the
// previous one (the older previous one is dropped whole) and a new one begins.
// So the table remembers at least the last `generation_size` insertions and at
// most twice that, in at most about 2 x 2 x generation_size slots.
//
// Fingerprints, not strings: two different strings share a fingerprint with
// probability 2^-64 per pair. Callers use the table where such a collision is
// harmless or where that probability is accepted (see each caller).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <utility>
#include <vector>

namespace blast::storage {

// 0 marks an empty slot, so no fingerprint is 0.
inline uint64_t fingerprint(std::string_view s) {
  uint64_t h = std::hash<std::string_view>{}(s);
  return h == 0 ? 1 : h;
}

template <class V>
class fingerprint_table {
public:
  explicit fingerprint_table(size_t generation_size) : generation_size_(generation_size) {}

  // The value for `fp`, newest generation first; nullptr when not held.
  const V* find(uint64_t fp) const {
    if (auto* v = current_.find(fp))
      return v;
    return previous_.find(fp);
  }
  bool contains(uint64_t fp) const { return find(fp) != nullptr; }

  // Inserts or overwrites (the newest value wins). True if `fp` was new to
  // the current generation.
  bool put(uint64_t fp, const V& value) {
    if (current_.size() >= generation_size_) {
      previous_ = std::move(current_);
      current_ = generation{};
    }
    return current_.put(fp, value);
  }

  size_t size() const { return current_.size() + previous_.size(); }
  // Memory held by the slots, for metrics and tests.
  size_t bytes() const { return current_.bytes() + previous_.bytes(); }

private:
  class generation {
  public:
    const V* find(uint64_t fp) const {
      if (slots_.empty())
        return nullptr;
      for (size_t i = fp & mask();; i = (i + 1) & mask()) {
        if (slots_[i].fp == fp)
          return &slots_[i].value;
        if (slots_[i].fp == 0)
          return nullptr;
      }
    }
    bool put(uint64_t fp, const V& value) {
      // At most half full: probes stay short, and there is always an empty slot.
      if ((size_ + 1) * 2 > slots_.size())
        grow();
      return place(fp, value);
    }
    size_t size() const { return size_; }
    size_t bytes() const { return slots_.capacity() * sizeof(slot); }

  private:
    struct slot {
      uint64_t fp = 0;
      V value{};
    };
    size_t mask() const { return slots_.size() - 1; }
    bool place(uint64_t fp, const V& value) {
      for (size_t i = fp & mask();; i = (i + 1) & mask()) {
        if (slots_[i].fp == fp) {
          slots_[i].value = value;
          return false;
        }
        if (slots_[i].fp == 0) {
          slots_[i] = {fp, value};
          ++size_;
          return true;
        }
      }
    }
    void grow() {
      std::vector<slot> old;
      old.swap(slots_);
      slots_.resize(old.empty() ? 64 : old.size() * 2);
      size_ = 0;
      for (auto& s : old)
        if (s.fp != 0)
          place(s.fp, s.value);
    }
    std::vector<slot> slots_;  // a power of two in size
    size_t size_ = 0;
  };

  size_t generation_size_;
  generation current_, previous_;
};

} // namespace blast::storage
