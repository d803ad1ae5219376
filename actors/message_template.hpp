// Per-recipient message text: {{name}}, {{phoneNumber}} and {{vars.<key>}}
// placeholders filled from the recipient's profile.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace blast::actors {

// Unknown placeholders and missing values render as empty text; a "{{" with
// no closing "}}" is kept as written. `vars_json` is a JSON object or empty.
std::string render_message(std::string_view text, std::string_view name,
                           std::string_view vars_json, uint64_t phone);

} // namespace blast::actors
