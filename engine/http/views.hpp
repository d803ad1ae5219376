// JSON renderings of the actors' views: the wire shapes of the HTTP API.
#pragma once

#include <string>

#include <boost/json/value.hpp>

#include "actors/service.hpp"

namespace blast::engine::http {

boost::json::object render_blast(const actors::blast_summary& b, bool with_counts);
boost::json::object render_recipient(const actors::recipient_view& r);
// A string, not an object: `messageData` is the provider's document byte for
// byte, which a JSON value would re-serialise.
std::string render_detail(const actors::recipient_detail& d);
// Serialised by hand: percentages keep one decimal ("96.0"), which Boost.JSON's
// shortest-round-trip doubles would print as "9.6E1".
std::string render_report(const actors::report& r);

} // namespace blast::engine::http
