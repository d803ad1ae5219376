// The ring that Asio's io_uring backend sets up, with the flags Asio 1.81 has
// no option for. CMake's blast_asio links its users with
// -Wl,--wrap=io_uring_queue_init, so Asio's call to liburing's
// io_uring_queue_init(entries, ring, 0) comes here (the __wrap_/__real_ names
// are GNU ld's convention for that).
//
// - IORING_SETUP_COOP_TASKRUN: a finished send or receive waits for the I/O
//   thread's next entry into the kernel, instead of interrupting it with an
//   IPI and a signal-path lock (~6% of the http thread's samples without it;
//   +8% single-status webhooks/s, tools/bench).
// - IORING_SETUP_TASKRUN_FLAG: liburing's peek then enters the kernel when
//   such work is pending, so no completion waits for an unrelated syscall.
// Both need Linux 5.19. An older kernel refuses them (EINVAL) and gets the
// ring Asio asked for.
#include <cerrno>
#include <cstring>
#include <liburing.h>

extern "C" {

int __real_io_uring_queue_init(unsigned entries, io_uring* ring, unsigned flags);

int __wrap_io_uring_queue_init(unsigned entries, io_uring* ring, unsigned flags) {
  io_uring_params params;
  std::memset(&params, 0, sizeof params);
  params.flags = flags | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;
  int rc = io_uring_queue_init_params(entries, ring, &params);
  if (rc != -EINVAL)
    return rc;
  return __real_io_uring_queue_init(entries, ring, flags);
}

} // extern "C"
