/* blast_wrong_major.so: a table from a future ABI 2.0, which the host must refuse.
 * Plain C on purpose: it also proves blast_transport.h compiles as C. */
#include "stub_ops.h"

static const blast_transport_v1 table = {
    2u << 16,          sizeof(blast_transport_v1),
    "wrong_major",     "2.0.0",
    BLAST_CAP_SEND,    stub_create,
    stub_destroy,      stub_send,
    stub_query_status, stub_parse_webhook,
    NULL, /* answer_webhook (ABI 1.1): not declared */
};

BLAST_PLUGIN_EXPORT const blast_transport_v1* blast_transport_entry(const blast_host_v1* host) {
  (void)host;
  return &table;
}
