// Names the calling thread, so that `top -H`, `perf` and gdb tell blastd's
// threads apart (the journal's writer from its syncer, an HTTP thread from a
// worker). Here because every layer above includes storage/.
#pragma once

#include <pthread.h>

#include <string>

namespace blast::storage {

// Linux keeps 15 bytes of a name: longer ones are cut there.
inline void name_this_thread(const std::string& name) {
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

} // namespace blast::storage
