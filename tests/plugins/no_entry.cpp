// blast_no_entry.so: a loadable library without blast_transport_entry (built
// without the plugin version script), like a stray .so in the plugin folder.
extern "C" __attribute__((visibility("default"))) int blast_transport_entry_v0() {
  return 0;
}
