// LD_PRELOADed into blastd by engine.faults: liburing's set-up refused, as a
// kernel with kernel.io_uring_disabled or a container's seccomp profile
// refuses it (io_uring_setup gives EPERM there).
#include <cerrno>

struct io_uring;
struct io_uring_params;

extern "C" {
int io_uring_queue_init(unsigned, io_uring*, unsigned) { return -EPERM; }
int io_uring_queue_init_params(unsigned, io_uring*, io_uring_params*) { return -EPERM; }
}
