// blast_short_table.so: a table whose struct_size ends before `send`, as a
// truncated or mis-built plugin would report; the host must refuse it.
#include "stub_ops.h"

#include <cstddef>

namespace {
const blast_transport_v1 table = {
    BLAST_TRANSPORT_ABI_VERSION,
    offsetof(blast_transport_v1, send),
    "short_table",
    "1.0.0",
    BLAST_CAP_SEND,
    stub_create,
    stub_destroy,
    stub_send,
    stub_query_status,
    stub_parse_webhook,
    nullptr, // answer_webhook (ABI 1.1): not declared
};
} // namespace

extern "C" BLAST_PLUGIN_EXPORT const blast_transport_v1*
blast_transport_entry(const blast_host_v1*) {
  return &table;
}
