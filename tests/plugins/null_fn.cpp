// blast_null_fn.so: a table whose send is NULL although the plugin claims to
// send; the host must refuse it at load, not crash on the first send.
#include "stub_ops.h"

namespace {
const blast_transport_v1 table = {
    BLAST_TRANSPORT_ABI_VERSION,
    sizeof(blast_transport_v1),
    "null_fn",
    "1.0.0",
    BLAST_CAP_SEND,
    stub_create,
    stub_destroy,
    nullptr,
    stub_query_status,
    stub_parse_webhook,
    nullptr, // answer_webhook (ABI 1.1): not declared
};
} // namespace

extern "C" BLAST_PLUGIN_EXPORT const blast_transport_v1*
blast_transport_entry(const blast_host_v1*) {
  return &table;
}
