// Bodies produced while they are written: the CSV export of a blast's
// recipients (page by page, flat memory at any size) and the live report as
// Server-Sent Events.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "actors/service.hpp"
#include "engine/http/message.hpp"

namespace blast::engine::http {

struct report_stream_options {
  // Updates are coalesced: at most one per interval, and only on a change.
  std::chrono::milliseconds interval{250};
  // A comment line this often keeps proxies from closing an idle stream and
  // lets the server notice a client that went away.
  std::chrono::milliseconds heartbeat{15000};
};

// The CSV header line of the recipients export.
extern const char* const recipients_csv_header;

// One recipient as a CSV line (RFC 4180 quoting; cells a spreadsheet would
// run as a formula are prefixed with an apostrophe).
void append_csv_row(std::string& out, const actors::export_row& row);

// `first` is the export's first page, already fetched (so that a missing
// blast was answered with a 404 before any header went out).
std::shared_ptr<body_source> make_csv_export(actors::service& svc, uint64_t blast,
                                             actors::recipient_query q, actors::export_page first);

// `first` is the report the stream opens with, already rendered.
std::shared_ptr<body_source> make_report_stream(actors::service& svc, uint64_t blast,
                                                std::string first,
                                                report_stream_options opts = {});

} // namespace blast::engine::http
