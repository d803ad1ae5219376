// The dashboard's files (engine/web/), embedded into the binary at build time
// by engine/web/embed.cmake, and their serving as a pure request → response.
//
// Threading: the table is constant data; serve_static() may be called from
// any thread.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

#include "engine/http/message.hpp"

namespace blast::engine::http {

struct embedded_file {
  const char* path;           // URL path: "/index.html", "/app.js"
  const unsigned char* data;  // the file's bytes, exactly
  size_t size;
  const char* etag;           // quoted strong validator from the bytes' SHA-256
};

// Defined in the generated web_assets.cpp.
const embedded_file* embedded_files_begin();
const embedded_file* embedded_files_end();

// The embedded file at `path` ("/" is "/index.html"), or null.
const embedded_file* find_embedded(std::string_view path);

// "text/html; charset=utf-8" etc. from the file name's extension.
const char* content_type_for(std::string_view path);

// The answer for GET or HEAD of `path` when it names an embedded file: 200
// with the bytes, or 304 when `if_none_match` holds its ETag. Nullopt when no
// file has that path, so the caller answers its usual 404. Cache-Control is
// no-cache: the names carry no version, so the browser revalidates with the
// ETag every time (a 304 costs a few bytes) and never runs a stale app.js.
std::optional<response> serve_static(std::string_view path, std::string_view if_none_match);

} // namespace blast::engine::http
