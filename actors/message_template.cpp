// Placeholder substitution for message text.
#include "actors/message_template.hpp"

#include <boost/json.hpp>

#include "actors/phone_number.hpp"

namespace json = boost::json;

namespace blast::actors {

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ')
    s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ')
    s.remove_suffix(1);
  return s;
}
} // namespace

std::string render_message(std::string_view text, std::string_view name,
                           std::string_view vars_json, uint64_t phone) {
  std::string out;
  out.reserve(text.size() + 32);
  json::value vars;  // parsed on first use: most messages use no vars
  bool vars_parsed = false;
  size_t pos = 0;
  while (pos < text.size()) {
    auto open = text.find("{{", pos);
    auto close = open == std::string_view::npos ? open : text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      out.append(text.substr(pos));
      break;
    }
    out.append(text.substr(pos, open - pos));
    auto key = trim(text.substr(open + 2, close - open - 2));
    if (key == "name") {
      out.append(name);
    } else if (key == "phoneNumber") {
      out.append(format_phone(phone));
    } else if (key.substr(0, 5) == "vars.") {
      if (!vars_parsed) {
        json::error_code ec;
        if (!vars_json.empty())
          vars = json::parse(vars_json, ec);
        vars_parsed = true;
      }
      if (auto* o = vars.if_object())
        if (auto* v = o->if_contains(key.substr(5)))
          out.append(v->is_string() ? std::string(v->get_string()) : json::serialize(*v));
    }
    pos = close + 2;
  }
  return out;
}

} // namespace blast::actors
