// The CSV reader: a byte state machine over a 1 MiB buffer, copying each field's runs of plain
// bytes in one append (a million-row file is read at memory speed, never held whole).
#include "tools/blastctl/csv.hpp"

#include <algorithm>
#include <cstring>

namespace blast::tools {

namespace {
constexpr size_t buffer_size = 1 << 20;
} // namespace

csv_reader::csv_reader(std::FILE* in) : in_(in), buf_(new char[buffer_size]) {
  // Spreadsheet programs write a byte order mark before UTF-8 CSV; it is not part of the
  // first column's name.
  if (refill() && end_ >= 3 && std::memcmp(buf_.get(), "\xEF\xBB\xBF", 3) == 0)
    pos_ = 3;
}

bool csv_reader::refill() {
  if (pos_ < end_)
    return true;
  consumed_ += end_;
  pos_ = end_ = 0;
  if (eof_)
    return false;
  end_ = std::fread(buf_.get(), 1, buffer_size, in_);
  if (end_ == 0)
    eof_ = true;
  return end_ > 0;
}

int csv_reader::peek() {
  if (pos_ == end_ && !refill())
    return -1;
  return static_cast<unsigned char>(buf_[pos_]);
}

bool csv_reader::fail(uint64_t line, const std::string& what) {
  error_ = "line " + std::to_string(line) + ": " + what;
  return false;
}

// After the opening quote, up to and past the closing one.
bool csv_reader::quoted_field(std::string& out) {
  const uint64_t opened = line_;
  for (;;) {
    if (pos_ == end_ && !refill())
      return fail(opened, "a quoted field starting on this line is never closed (a stray \"?)");
    const char* b = buf_.get() + pos_;
    const char* e = buf_.get() + end_;
    const char* q = static_cast<const char*>(std::memchr(b, '"', static_cast<size_t>(e - b)));
    const char* stop = q ? q : e;
    line_ += static_cast<uint64_t>(std::count(b, stop, '\n'));
    out.append(b, stop);
    pos_ = static_cast<size_t>(stop - buf_.get());
    if (!q)
      continue;
    ++pos_;
    if (peek() == '"') { // a doubled quote stands for one
      out += '"';
      ++pos_;
      continue;
    }
    return true;
  }
}

void csv_reader::unquoted_field(std::string& out) {
  for (;;) {
    if (pos_ == end_ && !refill())
      return;
    const char* b = buf_.get() + pos_;
    const char* e = buf_.get() + end_;
    const char* p = b;
    while (p < e && *p != ',' && *p != '\n' && *p != '\r')
      ++p;
    out.append(b, p);
    pos_ = static_cast<size_t>(p - buf_.get());
    if (p < e)
      return;
  }
}

bool csv_reader::next(std::vector<std::string>& fields) {
  error_.clear();
  for (;;) {
    if (peek() < 0)
      return false;
    record_line_ = line_;
    size_t n = 0;
    bool blank = false;
    for (;;) {
      if (n == fields.size())
        fields.emplace_back();
      std::string& f = fields[n++];
      f.clear();
      bool quoted = peek() == '"';
      if (quoted) {
        ++pos_;
        if (!quoted_field(f))
          return false;
      } else {
        unquoted_field(f);
      }
      int c = peek();
      if (c == ',') {
        ++pos_;
        continue;
      }
      if (c == '\r') {
        ++pos_;
        if (peek() == '\n')
          ++pos_;
        ++line_;
      } else if (c == '\n') {
        ++pos_;
        ++line_;
      } else if (c >= 0) { // only after a closing quote: "abc"def
        return fail(line_, "text after the closing quote of a field (quotes inside a quoted "
                           "field are doubled: \"\")");
      }
      blank = n == 1 && !quoted && f.empty();
      break;
    }
    if (blank)
      continue;
    fields.resize(n);
    return true;
  }
}

} // namespace blast::tools
