#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan + coverage)
# into ./build-fuzz and runs each for a bounded time on a scratch copy of its
# seed corpus. Fails on any crash, leak, timeout or sanitizer report; the
# input that caused it is left in build-fuzz/findings/<target>/ (keep it in
# tests/fuzz/regressions/<target>/ once fixed).
#   FUZZ_SECONDS=60 (per target)   FUZZ_TARGETS="router webhook log"
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh

# clang and its runtimes (libFuzzer is in libclang-rt-14-dev): idempotent.
missing=()
for p in clang-14 libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

seconds="${FUZZ_SECONDS:-60}"
targets=(${FUZZ_TARGETS:-router webhook log})
cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBLASTD_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 > /dev/null
cmake --build build-fuzz -j"$(nproc)" --target blast_fuzz

# LeakSanitizer runs after every input too (libFuzzer's -detect_leaks); the
# same narrow list of third-party leaks as tools/sanitize.sh.
export ASAN_OPTIONS="abort_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="suppressions=$(pwd)/tools/sanitize/lsan.supp:print_suppressions=0"
status=0
summary=()
for t in "${targets[@]}"; do
  work="build-fuzz/corpus/$t"
  findings="build-fuzz/findings/$t"
  rm -rf "$work" "$findings"
  mkdir -p "$work" "$findings"
  cp tests/fuzz/corpus/"$t"/* "$work"/
  [ -d tests/fuzz/regressions/"$t" ] && cp tests/fuzz/regressions/"$t"/* "$work"/ 2>/dev/null || true
  log="build-fuzz/fuzz-$t.log"
  echo "== fuzz_$t for ${seconds}s"
  start=$(date +%s)
  # -timeout: an input that takes over 25 s is a hang (the router's own
  # bound is 20 s); -rss_limit_mb: memory stays bounded by design.
  if build-fuzz/tests/fuzz/fuzz_"$t" "$work" -max_total_time="$seconds" -timeout=25 \
       -rss_limit_mb=3072 -max_len=8192 -artifact_prefix="$findings/" -print_final_stats=1 \
       > "$log" 2>&1; then
    result=ok
  else
    result=FAILED
    status=1
    tail -n 60 "$log"
  fi
  end=$(date +%s)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  corpus=$(ls "$work" | wc -l)
  summary+=("fuzz_$t: $result, ${execs:-?} executions in $((end - start)) s (${rate:-?} exec/s), ${cov:-cov: ?}, corpus $corpus")
done
echo "== fuzzing summary"
printf '%s\n' "${summary[@]}"
exit $status
