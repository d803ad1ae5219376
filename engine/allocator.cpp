// blastd's jemalloc settings, read by jemalloc at its first allocation (linked
// into blastd only when it links jemalloc: see the top-level CMakeLists.txt).
// MALLOC_CONF in the environment still overrides them.
//
// thp:always: jemalloc asks for transparent huge pages (madvise) on the memory
// it maps, where the kernel allows them ("madvise" or "always" in
// /sys/kernel/mm/transparent_hugepage/enabled). A 1M-recipient blast touches
// ~300 MiB of fresh memory (the request's JSON tree, the recipients, the fold),
// and on this VM a 4 KiB page fault costs microseconds: with 2 MiB pages the
// POST took 1.1 s instead of 2.2 s and the restart's replay 0.21 s instead of
// 0.79 s, batched webhooks used ~10% less CPU per status (A/B, same minutes).
// narenas:2, one arena per core: the default (four per core) left more
// half-used huge pages; RSS idle 24 -> 34 MiB, after a 1M blast 183 -> 221 MiB.
extern "C" {
extern const char* malloc_conf;
const char* malloc_conf = "thp:always,narenas:2";
}
