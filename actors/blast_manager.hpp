// blast_manager: knows every blast by id, creates blast actors and routes
// requests to them; keeps each blast's definition and status for listings.
#pragma once

#include <cstdint>
#include <map>
#include <memory>

#include <caf/fwd.hpp>

namespace blast::actors {

struct runtime;
class blast_state;

// `recovered` holds the blasts rebuilt from the log at start-up (folded).
caf::actor spawn_blast_manager(caf::actor_system& sys, const runtime& rt,
                               std::map<uint64_t, std::shared_ptr<blast_state>> recovered);

} // namespace blast::actors
