/* stub_ops.h — do-nothing operations shared by the deliberately broken test
 * plugins, which differ only in their entry point or table. Valid C and C++. */
#ifndef BLAST_TEST_STUB_OPS_H
#define BLAST_TEST_STUB_OPS_H

#include "blast_transport.h"

#include <string.h>

/* Never freed: these plugins are loaded only to be refused, or to fail create. */
static inline blast_instance* stub_create(const char* config, size_t len, void* token, char* err,
                                          size_t err_len) {
  static int one_instance;
  return (blast_instance*)&one_instance;
}

static inline void stub_destroy(blast_instance* inst) {}

static inline int stub_send(blast_instance* inst, const blast_send_request* req,
                            blast_send_sink sink, void* sink_ctx, int64_t* retry_after_ms,
                            char* err, size_t err_len) {
  return BLAST_E_UNSUPPORTED;
}

static inline int stub_query_status(blast_instance* inst, blast_str message_id, blast_str document,
                                    blast_observation_sink sink, void* sink_ctx, char* err,
                                    size_t err_len) {
  return BLAST_E_UNSUPPORTED;
}

static inline int stub_parse_webhook(blast_instance* inst, const blast_webhook_request* req,
                                     blast_observation_sink sink, void* sink_ctx, char* err,
                                     size_t err_len) {
  return BLAST_E_UNSUPPORTED;
}

#endif /* BLAST_TEST_STUB_OPS_H */
