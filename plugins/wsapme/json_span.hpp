// Finds where a member's value lies in the raw text of a JSON object, so that a provider's
// document can be passed on byte for byte instead of re-serialised (which reorders nothing but
// does rewrite numbers, escapes and spacing).
#pragma once

#include <optional>
#include <string_view>

namespace blast::plugins::wsapme {

// The exact text of the value of member `name` of the top-level object in `text`, or nullopt
// when `text` is not an object or has no such member. With duplicate names the last one is
// returned, as Boost.JSON keeps the last. Member names written with escapes ("\u0064ata") are
// decoded before comparing.
//
// Precondition: `text` is valid JSON (the caller has parsed it with boost::json::parse). The
// scanner relies on that to skip values without validating them; on text that is not, it
// returns nullopt or a meaningless span, but never reads out of bounds.
std::optional<std::string_view> member_span(std::string_view text, std::string_view name);

} // namespace blast::plugins::wsapme
