// A streaming RFC 4180 CSV reader for `blastctl create`: one record at a time from a file of
// any size, with the line each record starts on, so errors can name it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace blast::tools {

// Reads comma-separated records: fields may be quoted ("a, b"), a quote inside a quoted field
// is doubled (""), quoted fields may span lines; records end with CRLF, LF or a lone CR; a
// UTF-8 byte order mark at the start is skipped; blank lines are skipped. A quote inside an
// unquoted field is kept as text (common in hand-made files, harmless). Bytes are passed
// through as they are: checking the encoding is the caller's business.
// Not thread-safe; owns nothing but its buffer (the FILE stays the caller's).
class csv_reader {
public:
  explicit csv_reader(std::FILE* in);

  // The next record into `fields` (resized; the strings' capacity is reused across calls).
  // False at the end of the input or on an error; error() tells which.
  bool next(std::vector<std::string>& fields);

  // The 1-based line on which the last record returned by next() started.
  uint64_t line() const { return record_line_; }
  // Non-empty after next() failed on malformed input: "line N: ...".
  const std::string& error() const { return error_; }
  // Bytes consumed from the file so far (for progress displays).
  uint64_t bytes_read() const { return consumed_ + pos_; }

private:
  int peek(); // the next byte, or -1 at the end of the input (refills the buffer)
  bool refill();
  bool quoted_field(std::string& out);
  void unquoted_field(std::string& out);
  bool fail(uint64_t line, const std::string& what);

  std::FILE* in_;
  std::unique_ptr<char[]> buf_;
  size_t pos_ = 0, end_ = 0;
  uint64_t consumed_ = 0; // bytes of the file before buf_[0]
  bool eof_ = false;
  uint64_t line_ = 1; // the line the reader is on
  uint64_t record_line_ = 0;
  std::string error_;
};

} // namespace blast::tools
