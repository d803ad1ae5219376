// blast_abi_1_0.so: a plugin as built against the 1.0 header, whose table ends before
// answer_webhook (struct_size = BLAST_TRANSPORT_V1_0_SIZE). A 1.1 host must load it and never
// read past its table. Built with -DDECLARE_ANSWER it also claims BLAST_CAP_WEBHOOK_ANSWER,
// which its table cannot back: that one must be refused.
#include "stub_ops.h"

namespace {
#ifdef DECLARE_ANSWER
constexpr uint32_t caps = BLAST_CAP_WEBHOOK | BLAST_CAP_WEBHOOK_ANSWER;
constexpr const char* name = "answer_short";
#else
constexpr uint32_t caps = BLAST_CAP_WEBHOOK;
constexpr const char* name = "abi_1_0";
#endif

// The trailing answer_webhook is set to a stub the host must not reach: it lies beyond
// struct_size, exactly where a real 1.0 plugin's table would hold unrelated bytes.
int must_not_be_called(blast_instance*, const blast_webhook_request*, blast_webhook_reply_sink sink,
                       void* ctx, char*, size_t) {
  sink(ctx, 299, blast_str{}, blast_str{"read past struct_size", 21});
  return BLAST_OK;
}

const blast_transport_v1 table = {
    (BLAST_TRANSPORT_ABI_MAJOR << 16) | 0u,
    BLAST_TRANSPORT_V1_0_SIZE,
    name,
    "1.0.0",
    caps,
    stub_create,
    stub_destroy,
    stub_send,
    stub_query_status,
    stub_parse_webhook,
    must_not_be_called,
};
} // namespace

extern "C" BLAST_PLUGIN_EXPORT const blast_transport_v1*
blast_transport_entry(const blast_host_v1*) {
  return &table;
}
