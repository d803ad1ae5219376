// blast_bad_create.so: loads fine but refuses every config, so that the host's
// propagation of create's error text can be checked.
#include "blast_transport.hpp"
#include "stub_ops.h"

namespace {
blast_instance* create(const char*, size_t, void*, char* err, size_t err_len) {
  blast_sdk::write_error(err, err_len, "missing token in config");
  return nullptr;
}

const blast_transport_v1 table = {
    BLAST_TRANSPORT_ABI_VERSION,
    sizeof(blast_transport_v1),
    "bad_create",
    "1.0.0",
    BLAST_CAP_SEND,
    create,
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
