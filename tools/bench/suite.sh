#!/usr/bin/env bash
# The benchmark suite: runs the benchmarks of tools/bench (each starts blastd on a temporary data
# folder of its own), collects the rows they print through --summary, and prints one table of
# the six figures issue 6 sets targets for, with median and range over the runs.
# Figures are printed, never asserted: the exit code is 1 only when a benchmark failed or did not
# print a figure the table needs (so `ctest -L bench` catches a suite that rotted).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tools/bench/suite.sh [--quick] [--runs R] [--build DIR] [--only LIST] [--startup-log DIR]
                            [--keep-output DIR]
  Runs, each over R runs (default 3; --quick: 1):
    webhook   webhook_bench --batch 1 --connections 64   single-event durable ingestion
    batched   webhook_bench --batch 100 --connections 16 Meta Cloud API batches of 100 statuses
    million   million_bench                              1,000,000-recipient blast, RSS, report
    replay    startup_bench                              full replay of 5,000,000 events
    send      send_bench --time-scale 1                  sends through sim, no rate limit
  --quick        small sizes (a couple of minutes; what `ctest -L bench` runs): figures not
                 comparable with the targets
  --only LIST    comma-separated subset of the names above
  --startup-log  DIR a `startup_bench --keep` left: skips writing the 5M-event log (~2 min)
  --build DIR    the build tree (default: build/ beside tools/)
  --keep-output  DIR: keep each benchmark's full output and summary there
EOF
}

here="$(cd "$(dirname "$0")" && pwd)"
build="$here/../../build"
quick=0
runs=""
only="webhook,batched,million,replay,send"
startup_log=""
out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --runs) runs="${2:?}"; shift ;;
    --build) build="${2:?}"; shift ;;
    --only) only="${2:?}"; shift ;;
    --startup-log) startup_log="${2:?}"; shift ;;
    --keep-output) out="${2:?}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
[ -n "$runs" ] || runs=$((quick ? 1 : 3))
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "suite.sh: --runs takes a positive number" >&2; exit 2; }
for name in ${only//,/ }; do
  case "$name" in webhook|batched|million|replay|send) ;; *)
    echo "suite.sh: unknown benchmark '$name' in --only" >&2; exit 2 ;;
  esac
done
bench="$build/bench"
for exe in webhook_bench million_bench startup_bench send_bench; do
  [ -x "$bench/$exe" ] || { echo "suite.sh: $bench/$exe is not built (cmake --build build --target $exe)" >&2; exit 2; }
done

# Sizes: the targets' (full) or small enough for a smoke run (quick).
if [ "$quick" = 1 ]; then
  webhook_n=2000 batched_n=2000 million_n=2000 replay_n=20000 replay_events=100000
  send_n=2000 send_scale=0
else
  webhook_n=50000 batched_n=100000 million_n=1000000 replay_n=1000000 replay_events=5000000
  send_n=100000 send_scale=1
fi

if [ -n "$out" ]; then
  mkdir -p "$out"
else
  out="$(mktemp -d /tmp/bench-suite-XXXXXX)"
  trap 'rm -rf "$out"' EXIT
fi

wants() { [[ ",$only," == *",$1,"* ]]; }
failed=0
# run NAME ARGS...: one benchmark, its output in $out/NAME.out, its rows in $out/NAME.tsv.
run() {
  local name="$1"; shift
  : > "$out/$name.tsv"
  printf '%-8s %s\n' "$name" "$*" >&2
  local t0=$SECONDS
  if ! "$@" --runs "$runs" --summary "$out/$name.tsv" > "$out/$name.out" 2>&1; then
    echo "suite.sh: $name failed; its last lines:" >&2
    tail -n 15 "$out/$name.out" >&2
    failed=1
  fi
  printf '%-8s %d s\n' "" $((SECONDS - t0)) >&2
}

load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
started=$SECONDS
wants webhook && run webhook "$bench/webhook_bench" --recipients "$webhook_n" --batch 1 --connections 64
# 16 connections: a throughput figure wants the server saturated. With 4 (400 statuses in
# flight) blastd used 1.4 of the 2 cores and each group commit waited for requests; a provider
# delivering at this rate has many requests in flight. README, Performance, has both figures.
wants batched && run batched "$bench/webhook_bench" --recipients "$batched_n" --batch 100 --connections 16
wants million && run million "$bench/million_bench" --recipients "$million_n"
if wants replay; then
  if [ -n "$startup_log" ]; then
    run replay "$bench/startup_bench" --log "$startup_log"
  else
    run replay "$bench/startup_bench" --recipients "$replay_n" --events "$replay_events"
  fi
fi
wants send && run send "$bench/send_bench" --recipients "$send_n" --time-scale "$send_scale"
load_after="$(cut -d' ' -f1-3 /proc/loadavg)"

# row BENCH NAME TARGET SCALE UNIT LABEL: one line of the table from BENCH's summary (the row
# named NAME, its figures times SCALE), beside TARGET (">= X", "<= X" or "").
missing=0
row() {
  local bench="$1" name="$2" target="$3" scale="$4" unit="$5" label="$6"
  wants "$bench" || return 0
  local line
  line="$(awk -F'\t' -v n="$name" '$1 == n { print; exit }' "$out/$bench.tsv" 2>/dev/null || true)"
  if [ -z "$line" ]; then
    printf '%-52s %-16s %s\n' "$label" "$target" "(no figure: '$name' missing from $bench)"
    missing=1
    return 0
  fi
  awk -F'\t' -v t="$target" -v s="$scale" -v u="$unit" -v l="$label" -v q="$quick" '
    function fmt(x) { return x >= 100 ? sprintf("%.0f", x) : x >= 10 ? sprintf("%.1f", x) : sprintf("%.2f", x) }
    {
      m = $3 * s; lo = $4 * s; hi = $5 * s
      verdict = ""
      if (t != "" && !q) {
        split(t, p, " "); lim = p[2] + 0
        verdict = (p[1] == ">=" ? m >= lim : m <= lim) ? "met" : "MISSED"
      }
      printf "%-52s %-16s %10s %-5s %9s .. %-9s %s\n", l, (t == "" ? "" : t " " u), fmt(m), u, fmt(lo), fmt(hi), verdict
    }' <<< "$line"
}

mode="full sizes"
[ "$quick" = 1 ] && mode="QUICK sizes (a smoke run: not comparable with the targets)"
printf '\nblastd benchmark suite: %s, %s run(s) each, %d s\n' "$mode" "$runs" $((SECONDS - started))
printf 'machine: %s, %s GiB RAM; load average (1, 5, 15 min) %s before, %s after\n' \
  "$(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" \
  "$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" "$load_before" "$load_after"
printf '\n%-52s %-16s %10s %-5s %9s .. %-9s %s\n' "metric" "target" "median" "" "min" "max" "verdict"
row webhook "statuses durable (2xx)" ">= 15000" 1 "/s" "1. webhooks, 1 status/request, 64 conns, durable"
row webhook "request latency p50" "" 1 "ms" "   request latency p50"
row webhook "request latency p99" "" 1 "ms" "   request latency p99"
row batched "statuses durable (2xx)" ">= 150000" 1 "/s" "2. webhooks, 100 statuses/request, durable"
row million "POST /api/blasts, $million_n recipients" "<= 3" 1 "s" "3. blast of $million_n recipients accepted (201)"
row million "RSS 1 s after the 201" "<= 1024" 1 "MiB" "   RSS once it is tracked"
row million "GET report p50" "" 0.001 "ms" "4. report at $million_n recipients, p50"
row million "GET report p99" "<= 1" 0.001 "ms" "   report p99"
row replay "full replay (actors::replay) / rate" ">= 1000000" 1 "ev/s" \
  "5. full replay, $( [ -n "$startup_log" ] && echo "the kept log's" || echo "$replay_events") events"
row send "sends/s (N / POST->completed)" ">= 50000" 1 "/s" "6. sends through sim, $send_n recipients"
printf '\nEach benchmark prints more (CPU per status, restart, memory); --keep-output DIR keeps it.\n'

[ "$failed" = 0 ] && [ "$missing" = 0 ]
