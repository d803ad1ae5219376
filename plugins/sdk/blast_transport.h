/* blast_transport.h — the blastd transport plugin ABI, version 1.2.
 *
 * A transport plugin is a shared library exporting one symbol,
 * blast_transport_entry, with plain C types only. This header is all a plugin
 * author needs from blastd. See plugins/README.md for the guide.
 *
 * Rules of the boundary
 *  - Every table starts with abi_version and struct_size; tables only ever grow
 *    at the end. The host refuses a plugin whose major version differs or whose
 *    table is shorter than the version-1.0 table (BLAST_TRANSPORT_V1_0_SIZE); it
 *    reads a field added by a later minor version only when struct_size covers it.
 *  - Strings are (pointer, length) pairs, UTF-8, not NUL-terminated, borrowed:
 *    valid only during the call that passes them. Whoever receives one copies it.
 *  - Results leave the plugin through host callbacks (sinks) that copy what they
 *    are given, so no memory ever changes hands and nobody frees the other's.
 *  - Errors: an int status (BLAST_OK or a BLAST_E* code) plus a message written
 *    into a caller-owned buffer (err, err_len), NUL-terminated, truncated to fit.
 *  - No C++ exception may cross the boundary (catch everything in the plugin).
 *  - Threading: create/destroy are called once per instance from one thread.
 *    send, query_status and parse_webhook may be called concurrently from
 *    several host threads on the same instance; a plugin must be thread-safe.
 *    host->push may be called from any plugin thread, at any time between
 *    create and the return of destroy.
 *  - The entry point may be called more than once per process (a library loaded
 *    twice shares one handle); the host table it receives stays valid until the
 *    library is finally unloaded, so keeping the latest pointer is right.
 *  - Arrays of observations passed to push are stepped by obs[0].struct_size,
 *    so a plugin built against an older or newer header interoperates.
 */
#ifndef BLAST_TRANSPORT_H
#define BLAST_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BLAST_TRANSPORT_ABI_MAJOR 1u
/* Minor versions: 0 = the first table; 1 = answer_webhook appended (and
 * BLAST_CAP_WEBHOOK_ANSWER), so a plugin can answer a webhook request itself;
 * 2 = blast_send_request.vars appended, so a plugin can fill per-recipient
 * fields (template parameters) from the recipient's own data. */
#define BLAST_TRANSPORT_ABI_MINOR 2u
#define BLAST_TRANSPORT_ABI_VERSION ((BLAST_TRANSPORT_ABI_MAJOR << 16) | BLAST_TRANSPORT_ABI_MINOR)
#define BLAST_ABI_MAJOR_OF(v) ((uint32_t)(v) >> 16)

#if defined(_WIN32)
#define BLAST_PLUGIN_EXPORT __declspec(dllexport)
#else
#define BLAST_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ---- status codes ------------------------------------------------------- */
#define BLAST_OK 0
#define BLAST_E_INVALID (-1)      /* bad input or config: do not retry */
#define BLAST_E_RETRYABLE (-2)    /* temporary failure (network, 5xx): retry with backoff */
#define BLAST_E_RATE_LIMITED (-3) /* the provider asks to slow down (see retry_after_ms) */
#define BLAST_E_PERMANENT (-4)    /* the provider refused for good (e.g. 4xx) */
#define BLAST_E_SIGNATURE (-5)    /* webhook signature missing or wrong */
#define BLAST_E_UNSUPPORTED (-6)  /* the operation is not one of the plugin's capabilities */
#define BLAST_E_INTERNAL (-7)     /* a bug or an exception inside the plugin */

/* ---- capabilities ------------------------------------------------------- */
#define BLAST_CAP_SEND 0x1u
#define BLAST_CAP_STATUS_QUERY 0x2u
#define BLAST_CAP_WEBHOOK 0x4u
#define BLAST_CAP_PUSH 0x8u
#define BLAST_CAP_WEBHOOK_ANSWER 0x10u /* since 1.1: answer_webhook is implemented */

/* ---- funnel stages an observation can report (numbers fixed) ------------ */
#define BLAST_STAGE_NONE 0      /* no status yet (e.g. an empty look-up answer) */
#define BLAST_STAGE_SENT 1
#define BLAST_STAGE_DELIVERED 2
#define BLAST_STAGE_READ 3
#define BLAST_STAGE_REPLIED 4   /* an inbound message: set sender (and quoted_id if known) */
#define BLAST_STAGE_FAILED 6

typedef struct blast_str {
  const char* data;
  size_t len;
} blast_str;

#define BLAST_LOG_ERROR 0
#define BLAST_LOG_WARN 1
#define BLAST_LOG_INFO 2
#define BLAST_LOG_DEBUG 3

/* A normalised observation of a message's status or of an inbound message. */
typedef struct blast_observation {
  uint32_t struct_size;     /* sizeof(blast_observation) as the plugin knows it */
  blast_str message_id;     /* the provider's id of our message; may be empty for inbound */
  blast_str sender;         /* inbound: the sender's number (digits); else empty */
  int32_t stage;            /* BLAST_STAGE_* */
  blast_str provider_status;/* the provider's own status text, e.g. "DELIVERY_ACK" */
  int64_t provider_time_ms; /* when the provider says it happened; 0 = unknown */
  blast_str event_id;       /* the provider's event id, for de-duplication; may be empty */
  blast_str raw;            /* the raw fragment this observation was read from */
  blast_str quoted_id;      /* inbound: the id of the message it replies to, if known */
} blast_observation;

/* The host's table, given to the plugin's entry point. */
typedef struct blast_host_v1 {
  uint32_t abi_version; /* BLAST_TRANSPORT_ABI_VERSION of the host */
  uint32_t struct_size; /* sizeof(blast_host_v1) as the host knows it */
  void* host_ctx;       /* pass back to every host function */
  void (*log)(void* host_ctx, int level, blast_str message);
  int64_t (*now_ms)(void* host_ctx); /* wall clock, ms since the Unix epoch */
  /* Pushes observations the plugin learnt by itself (simulated or streamed
   * statuses). `instance_token` is the token the instance got at create. The
   * host copies everything before returning; thread-safe. */
  void (*push)(void* host_ctx, void* instance_token, const blast_observation* obs, size_t count);
} blast_host_v1;

typedef struct blast_instance blast_instance; /* a plugin's own instance type */

typedef struct blast_send_request {
  uint32_t struct_size;      /* sizeof(blast_send_request) as the host knows it */
  blast_str to;              /* E.164 digits without '+' */
  blast_str text;            /* the rendered message */
  blast_str idempotency_key; /* stable per recipient and blast: "b<blast>-r<recipient>" */
  /* ---- since ABI 1.2: read only when BLAST_SEND_REQUEST_HAS_VARS(req) ---- */
  blast_str vars;            /* the recipient's vars as submitted: a JSON object's text,
                                e.g. {"first":"Ana","code":"X12"}; empty when it has none */
} blast_send_request;

/* A 1.0/1.1 host passes a shorter request: a plugin reads `vars` only when the
 * request it was given is long enough to hold it. */
#define BLAST_SEND_REQUEST_HAS_VARS(req)                                                \
  ((req)->struct_size >= offsetof(blast_send_request, vars) + sizeof(blast_str))

/* Receives a send's success: the provider's message id and its exact response
 * document (JSON text, kept byte for byte by the host). */
typedef void (*blast_send_sink)(void* sink_ctx, blast_str message_id, blast_str document);
/* Receives one observation; called zero or more times per call. */
typedef void (*blast_observation_sink)(void* sink_ctx, const blast_observation* obs);

typedef struct blast_header {
  blast_str name;
  blast_str value;
} blast_header;

typedef struct blast_webhook_request {
  uint32_t struct_size;
  blast_str method;
  blast_str path;
  blast_str query;
  const blast_header* headers;
  size_t header_count;
  blast_str body; /* the raw body, exactly as received (signatures are over it) */
} blast_webhook_request;

/* Receives the HTTP reply a plugin gives to a webhook request it answers itself
 * (answer_webhook): the status (100..599), the content type (empty = text/plain)
 * and the body. The host copies all three before returning. */
typedef void (*blast_webhook_reply_sink)(void* sink_ctx, int32_t http_status,
                                         blast_str content_type, blast_str body);

typedef struct blast_transport_v1 {
  uint32_t abi_version; /* BLAST_TRANSPORT_ABI_VERSION the plugin was built with */
  uint32_t struct_size; /* sizeof(blast_transport_v1) as the plugin knows it */
  const char* name;     /* e.g. "sim"; static storage */
  const char* version;  /* the plugin's own version, e.g. "1.0.0"; static storage */
  uint32_t capabilities;/* BLAST_CAP_* */

  /* Creates an instance from its JSON config (the transport's object from the
   * host's configuration, without "plugin"). NULL on error, with err filled. */
  blast_instance* (*create)(const char* config_json, size_t config_len, void* instance_token,
                            char* err, size_t err_len);
  /* Stops the instance's threads and frees it; after it returns, no push. */
  void (*destroy)(blast_instance* inst);

  /* Sends one message. On BLAST_OK, calls `sink` exactly once before returning.
   * On BLAST_E_RATE_LIMITED, sets *retry_after_ms (0 = unknown). */
  int (*send)(blast_instance* inst, const blast_send_request* req, blast_send_sink sink,
              void* sink_ctx, int64_t* retry_after_ms, char* err, size_t err_len);

  /* Looks up a sent message's status from its id and the exact document the
   * send returned. "No status yet" is BLAST_OK with no observation. */
  int (*query_status)(blast_instance* inst, blast_str message_id, blast_str document,
                      blast_observation_sink sink, void* sink_ctx, char* err, size_t err_len);

  /* Verifies and parses one webhook request into observations.
   * BLAST_E_SIGNATURE when the signature does not verify; BLAST_E_INVALID for a
   * body that verified but cannot be parsed. */
  int (*parse_webhook)(blast_instance* inst, const blast_webhook_request* req,
                       blast_observation_sink sink, void* sink_ctx, char* err, size_t err_len);

  /* ---- since ABI 1.1 (the host reads it only when struct_size covers it) ---- */

  /* Answers a webhook request that is not a POST (a provider's verification
   * handshake, e.g. Meta's GET with hub.mode/hub.verify_token/hub.challenge)
   * with the plugin's own HTTP reply: on BLAST_OK, calls `sink` exactly once
   * before returning. Nothing is logged by the host and no observation results.
   * BLAST_E_UNSUPPORTED (or no sink call) = "not mine": the host goes on as a
   * 1.0 host would. POSTs always go to parse_webhook, never here.
   * May be NULL only when BLAST_CAP_WEBHOOK_ANSWER is not declared. */
  int (*answer_webhook)(blast_instance* inst, const blast_webhook_request* req,
                        blast_webhook_reply_sink sink, void* sink_ctx, char* err,
                        size_t err_len);
} blast_transport_v1;

/* The size of a 1.0 table: the shortest table a host accepts. */
#define BLAST_TRANSPORT_V1_0_SIZE offsetof(blast_transport_v1, answer_webhook)

/* The one exported symbol. Returns the plugin's table (static storage), or
 * NULL if the plugin cannot work with this host (it may log why). */
typedef const blast_transport_v1* (*blast_transport_entry_fn)(const blast_host_v1* host);
#define BLAST_TRANSPORT_ENTRY_SYMBOL "blast_transport_entry"

BLAST_PLUGIN_EXPORT const blast_transport_v1* blast_transport_entry(const blast_host_v1* host);

#ifdef __cplusplus
}
#endif

#endif /* BLAST_TRANSPORT_H */
