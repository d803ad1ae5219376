// Serving the embedded dashboard files: content types, ETags, 304s.
#include "engine/http/static_files.hpp"

#include <string>

namespace blast::engine::http {

const embedded_file* find_embedded(std::string_view path) {
  if (path == "/")
    path = "/index.html";
  for (auto* f = embedded_files_begin(); f != embedded_files_end(); ++f)
    if (path == f->path)
      return f;
  return nullptr;
}

const char* content_type_for(std::string_view path) {
  auto ends = [&](std::string_view ext) {
    return path.size() >= ext.size() && path.substr(path.size() - ext.size()) == ext;
  };
  if (ends(".html"))
    return "text/html; charset=utf-8";
  if (ends(".js"))
    return "text/javascript; charset=utf-8";
  if (ends(".css"))
    return "text/css; charset=utf-8";
  if (ends(".svg"))
    return "image/svg+xml";
  if (ends(".png"))
    return "image/png";
  if (ends(".ico"))
    return "image/x-icon";
  if (ends(".json"))
    return "application/json";
  return "application/octet-stream";
}

namespace {
// If-None-Match is a list of ETags ("a", "b"), possibly weak (W/"a"), or "*".
bool matches(std::string_view header, std::string_view etag) {
  if (header.find('*') != std::string_view::npos)
    return true;
  return header.find(etag) != std::string_view::npos;
}
} // namespace

std::optional<response> serve_static(std::string_view path, std::string_view if_none_match) {
  auto* f = find_embedded(path);
  if (!f)
    return std::nullopt;
  response r;
  r.content_type = content_type_for(f->path);
  r.headers.emplace_back("ETag", f->etag);
  r.headers.emplace_back("Cache-Control", "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (!if_none_match.empty() && matches(if_none_match, f->etag)) {
    r.status = 304;
    return r;
  }
  r.body.assign(reinterpret_cast<const char*>(f->data), f->size);
  return r;
}

} // namespace blast::engine::http
