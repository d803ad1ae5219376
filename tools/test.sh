#!/usr/bin/env bash
# README command 2: install, build, and run every test through CTest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
ctest --test-dir build --output-on-failure -j2
