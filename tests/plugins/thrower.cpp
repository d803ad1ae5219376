// blast_thrower.so: every operation throws (inside blast_sdk::guarded, as the
// SDK asks), to check that the host contains it and keeps working.
#include "blast_transport.hpp"

#include <stdexcept>

namespace {
struct instance {};

blast_instance* create(const char*, size_t, void*, char* err, size_t err_len) {
  return blast_sdk::guarded_ptr<blast_instance>(
      err, err_len, [] { return reinterpret_cast<blast_instance*>(new instance); });
}

void destroy(blast_instance* inst) {
  delete reinterpret_cast<instance*>(inst);
}

int send(blast_instance*, const blast_send_request*, blast_send_sink, void*, int64_t*, char* err,
         size_t err_len) {
  return blast_sdk::guarded(
      err, err_len, []() -> int { throw std::runtime_error("thrower: send always throws"); });
}

// Not a std::exception: exercises guarded's catch (...).
int query_status(blast_instance*, blast_str, blast_str, blast_observation_sink, void*, char* err,
                 size_t err_len) {
  return blast_sdk::guarded(err, err_len, []() -> int { throw 42; });
}

// Webhooks are not among the capabilities: the host must not call this at all.
int parse_webhook(blast_instance*, const blast_webhook_request*, blast_observation_sink, void*,
                  char* err, size_t err_len) {
  return blast_sdk::guarded(err, err_len, []() -> int {
    throw std::runtime_error("thrower: parse_webhook called although not a capability");
  });
}

const blast_transport_v1 table = {
    BLAST_TRANSPORT_ABI_VERSION,
    sizeof(blast_transport_v1),
    "thrower",
    "1.0.0",
    BLAST_CAP_SEND | BLAST_CAP_STATUS_QUERY,
    create,
    destroy,
    send,
    query_status,
    parse_webhook,
    nullptr, // answer_webhook (ABI 1.1): not declared
};
} // namespace

extern "C" BLAST_PLUGIN_EXPORT const blast_transport_v1*
blast_transport_entry(const blast_host_v1*) {
  return &table;
}
