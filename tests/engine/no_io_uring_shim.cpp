// LD_PRELOADed into blastd by engine.faults, as the kernel it stands for:
// - NO_IO_URING=refused (or unset): liburing's set-up gets EPERM, as under
//   kernel.io_uring_disabled or a container's seccomp profile;
// - NO_IO_URING=old_kernel: a kernel before 5.19, which refuses the set-up
//   flags it does not know (EINVAL) and sets up a plain ring.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <dlfcn.h>
#include <linux/io_uring.h>

struct io_uring;

namespace {

bool old_kernel() {
  const char* mode = std::getenv("NO_IO_URING");
  return mode && std::strcmp(mode, "old_kernel") == 0;
}

template <typename F>
F real(const char* name) {
  return reinterpret_cast<F>(::dlsym(RTLD_NEXT, name));
}

} // namespace

extern "C" {

int io_uring_queue_init(unsigned entries, io_uring* ring, unsigned flags) {
  if (!old_kernel() || flags != 0)
    return -EPERM;
  using fn = int (*)(unsigned, io_uring*, unsigned);
  return real<fn>("io_uring_queue_init")(entries, ring, flags);
}

int io_uring_queue_init_params(unsigned entries, io_uring* ring, io_uring_params* p) {
  if (!old_kernel())
    return -EPERM;
  if (p->flags & ~0xffu)  // flags newer than Linux 5.18's
    return -EINVAL;
  using fn = int (*)(unsigned, io_uring*, io_uring_params*);
  return real<fn>("io_uring_queue_init_params")(entries, ring, p);
}

} // extern "C"
