// blast_null_entry.so: an entry point that declines this host by returning
// NULL; the host must refuse the plugin rather than dereference it.
#include "blast_transport.h"

extern "C" BLAST_PLUGIN_EXPORT const blast_transport_v1*
blast_transport_entry(const blast_host_v1*) {
  return nullptr;
}
