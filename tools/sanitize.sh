#!/usr/bin/env bash
# Builds the whole tree with AddressSanitizer + UndefinedBehaviorSanitizer (g++)
# into ./build-asan and runs the test suite there (benchmarks excluded).
# CAF 0.17 and RocksDB come from Debian uninstrumented: bugs inside them are
# not found, but every access our code makes through them is checked.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh

# -O1 -g1: ASan's recommended optimisation (readable stacks), line tables
# only, and assertions kept (no NDEBUG); about half the compile time of -O2 -g
# on the Beast and CAF translation units.
san="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g1" -DCMAKE_CXX_FLAGS="$san" -DCMAKE_C_FLAGS="$san" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" > /dev/null
cmake --build build-asan -j"$(nproc)"

# Child processes (blastd, the simulators the tests start) inherit these.
# halt_on_error/abort_on_error: a report fails the test that caused it;
# detect_leaks: LeakSanitizer at every process exit, with the narrow list of
# third-party leaks in tools/sanitize/lsan.supp.
here="$(pwd)"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0:strict_string_checks=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$here/tools/sanitize/lsan.supp:print_suppressions=0"
ctest --test-dir build-asan --output-on-failure -j"$(nproc)" -LE bench "$@"
