#!/usr/bin/env bash
# Installs the system packages (idempotent) and builds blastd into ./build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" > /dev/null
cmake --build build -j"$(nproc)"
