#!/usr/bin/env bash
# blastd against the design most users would reach for instead: PostgreSQL 15 with the schema a
# Prisma app would have (Blast, BlastRecipient with a messageId index, BlastReport), one UPDATE
# per status event with a durable commit (fsync and synchronous_commit on, their defaults), from
# 64 connections, and the funnel as a GROUP BY. Both are measured in the same run, on the same
# machine (the status workload's runs taking turns), and printed side by side with the ratio.
# PostgreSQL runs from a temporary folder on a private port and Unix socket (initdb, pg_ctl),
# never touching a system cluster.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: tools/bench/pg_compare.sh [--quick] [--runs R] [--recipients N] [--seconds S] [--build DIR]
                                 [--port P] [--keep-output DIR]
  --recipients N  recipients of the status workload, both sides (default 100000; --quick 5000)
  --seconds S     length of each pgbench run of the status workload (default 20; --quick 5)
  --runs R        runs of each workload (default 3; --quick 1)
  --port P        PostgreSQL's private port (default 54329), on a socket in the temporary folder
  --build DIR     blastd's build tree (default: build/ beside tools/)
  --keep-output DIR  keep every output (pgbench logs, the benchmarks' tables) there
  The funnel is measured at 100,000 and 1,000,000 recipients (--quick: 20,000 and 100,000).
  Installs postgresql-15 with apt-get when /usr/lib/postgresql/15/bin is missing.
EOF
}

here="$(cd "$(dirname "$0")" && pwd)"
build="$here/../../build"
quick=0 runs="" n="" seconds="" port=54329 out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --runs) runs="${2:?}"; shift ;;
    --recipients) n="${2:?}"; shift ;;
    --seconds) seconds="${2:?}"; shift ;;
    --port) port="${2:?}"; shift ;;
    --build) build="${2:?}"; shift ;;
    --keep-output) out="${2:?}"; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
  shift
done
if [ "$quick" = 1 ]; then
  : "${runs:=1}" "${n:=5000}" "${seconds:=5}"; funnel_sizes="20000 100000"
else
  : "${runs:=3}" "${n:=100000}" "${seconds:=20}"; funnel_sizes="100000 1000000"
fi
for v in "$runs" "$n" "$seconds" "$port"; do
  [[ "$v" =~ ^[1-9][0-9]*$ ]] || { echo "pg_compare.sh: '$v' is not a positive number" >&2; exit 2; }
done
bench="$build/bench"
for exe in webhook_bench million_bench pg_webhook_receiver http_floor; do
  [ -x "$bench/$exe" ] || { echo "pg_compare.sh: $bench/$exe is not built" \
    "(pg_webhook_receiver needs libpq-dev: tools/install-deps.sh, then tools/build.sh)" >&2; exit 2; }
done

pgbin=/usr/lib/postgresql/15/bin
if [ ! -x "$pgbin/initdb" ] || [ ! -x "$pgbin/pgbench" ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y --no-install-recommends postgresql-15 postgresql-client-15
fi

# PostgreSQL refuses to run as root: as root, the server runs as the `postgres` user the package
# created, from a folder it owns; anyone else runs it as themselves.
tmp="$(mktemp -d /tmp/pg-compare-XXXXXX)"
chmod 755 "$tmp"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$tmp"
  as_pg=(runuser -u postgres --)
fi
[ -n "$out" ] && mkdir -p "$out" || out="$tmp/out"
mkdir -p "$out"
# The benchmarks append their rows and outputs: a kept folder's old ones would be read.
rm -f "$out"/*.tsv "$out"/*.out
chmod 777 "$out"  # pgbench (as postgres) writes its transaction logs here
server_pid=""
stop_pg() {
  [ -z "$server_pid" ] || kill "$server_pid" 2> /dev/null || true
  "${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -m fast -w stop > /dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap stop_pg EXIT

echo "PostgreSQL 15 in $tmp, port $port" >&2
"${as_pg[@]}" "$pgbin/initdb" -D "$tmp/data" -U postgres -A trust --no-sync > "$out/initdb.log"
# Durability as shipped (fsync, synchronous_commit, full_page_writes on), shared_buffers sized for
# a million rows as anyone running this table would, nothing listening beyond the socket.
"${as_pg[@]}" "$pgbin/pg_ctl" -D "$tmp/data" -l "$tmp/postgres.log" -w -o \
  "-c port=$port -c listen_addresses='' -c unix_socket_directories=$tmp -c max_connections=100 \
   -c shared_buffers=256MB -c fsync=on -c synchronous_commit=on" start > /dev/null
psql=("${as_pg[@]}" "$pgbin/psql" -h "$tmp" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt)

# The schema `prisma migrate` writes for the models a typical blast app declares: quoted
# PascalCase tables, camelCase columns, TIMESTAMP(3), a foreign key with its index, and the
# messageId index every status webhook looks recipients up by.
"${psql[@]}" <<'SQL'
CREATE TABLE "Blast" (
  "id" SERIAL PRIMARY KEY,
  "tag" TEXT,
  "message" TEXT NOT NULL,
  "status" TEXT NOT NULL DEFAULT 'sending',
  "totalRecipients" INTEGER NOT NULL,
  "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updatedAt" TIMESTAMP(3) NOT NULL
);
CREATE TABLE "BlastRecipient" (
  "id" SERIAL PRIMARY KEY,
  "blastId" INTEGER NOT NULL REFERENCES "Blast"("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "phone" TEXT NOT NULL,
  "name" TEXT,
  "status" TEXT NOT NULL DEFAULT 'pending',
  "messageId" TEXT,
  "sentAt" TIMESTAMP(3),
  "deliveredAt" TIMESTAMP(3),
  "readAt" TIMESTAMP(3),
  "repliedAt" TIMESTAMP(3),
  "closedAt" TIMESTAMP(3),
  "updatedAt" TIMESTAMP(3) NOT NULL
);
CREATE INDEX "BlastRecipient_blastId_idx" ON "BlastRecipient"("blastId");
CREATE INDEX "BlastRecipient_messageId_idx" ON "BlastRecipient"("messageId");
CREATE TABLE "BlastReport" (
  "id" SERIAL PRIMARY KEY,
  "blastId" INTEGER NOT NULL REFERENCES "Blast"("id") ON DELETE CASCADE ON UPDATE CASCADE,
  "sent" INTEGER NOT NULL, "delivered" INTEGER NOT NULL, "read" INTEGER NOT NULL,
  "replied" INTEGER NOT NULL, "closed" INTEGER NOT NULL, "failed" INTEGER NOT NULL,
  "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX "BlastReport_blastId_idx" ON "BlastReport"("blastId");
SQL

# seed BLAST FROM TO: recipients FROM..TO of blast BLAST, sent (a messageId each), as after the
# sends; the funnel's blasts get a spread of stages so that the GROUP BY has groups to count.
seed() {
  "${psql[@]}" <<SQL
INSERT INTO "Blast" ("id", "tag", "message", "totalRecipients", "updatedAt")
  VALUES ($1, 'bench', 'Hello {{name}}', $3 - $2 + 1, now()) ON CONFLICT ("id") DO NOTHING;
INSERT INTO "BlastRecipient" ("blastId", "phone", "name", "status", "messageId", "sentAt",
                              "deliveredAt", "readAt", "updatedAt")
  SELECT $1, '601' || lpad(g::text, 8, '0'), 'Customer ' || g,
         (ARRAY['sent','delivered','delivered','read','read','read','replied','failed'])[1 + g % 8],
         'wamid.' || $1 || '.' || g, now(), now(), now(), now()
  FROM generate_series($2, $3) g;
VACUUM ANALYZE "BlastRecipient";
CHECKPOINT;
SQL
}

# pgbench_run NAME CLIENTS ARGS...: pgbench with per-transaction logs; prints "tps p50_ms p99_ms".
pgbench_run() {
  local name="$1" clients="$2"; shift 2
  rm -f "$out/$name".log*
  "${as_pg[@]}" "$pgbin/pgbench" -h "$tmp" -p "$port" -U postgres -n -M prepared \
    -c "$clients" -j 2 -l --log-prefix="$out/$name.log" "$@" postgres > "$out/$name.out" 2>&1 ||
    { echo "pg_compare.sh: pgbench $name failed:" >&2; tail -n 20 "$out/$name.out" >&2; exit 1; }
  local tps
  tps="$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out/$name.out" | head -n1)"
  # Field 3 of a transaction log line is its latency in microseconds.
  cat "$out/$name".log* | awk '{ print $3 }' | sort -n |
    awk -v tps="$tps" '{ v[NR] = $1 } END {
      if (NR == 0) exit 1
      p50 = v[int(NR * 0.50 + 0.999999)]; p99 = v[int(NR * 0.99 + 0.999999)]
      printf "%s %.3f %.3f\n", tps, p50 / 1000, p99 / 1000 }'
  rm -f "$out/$name".log*
}

median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{ v[NR] = $1 } END {
  printf "%s", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# The status workload: every event one UPDATE by messageId of a random recipient of blast 1,
# delivered and read equally often, each its own transaction (autocommit), as a webhook handler
# doing `prisma.blastRecipient.update({ where: { messageId }, data: {...} })` per status would.
seed 1 1 "$n"
cat > "$out/delivered.sql" <<SQL
\set r random(1, $n)
UPDATE "BlastRecipient" SET "status" = 'delivered', "deliveredAt" = now(), "updatedAt" = now()
  WHERE "messageId" = 'wamid.1.' || :r::text;
SQL
cat > "$out/read.sql" <<SQL
\set r random(1, $n)
UPDATE "BlastRecipient" SET "status" = 'read', "readAt" = now(), "updatedAt" = now()
  WHERE "messageId" = 'wamid.1.' || :r::text;
SQL
chmod 644 "$out"/*.sql
funnel_sql="$out/funnel.sql"
echo 'SELECT "status", count(*) FROM "BlastRecipient" WHERE "blastId" = :b GROUP BY "status";' \
  > "$funnel_sql"
chmod 644 "$funnel_sql"

# start_server NAME COMMAND...: starts a server that prints "listening on HOST:PORT"; sets
# server_port. post NAME PORT RUNS: posts it the single-status webhook workload (webhook_bench
# --post-to), appending one row per metric to $out/NAME.tsv.
server_port=""
start_server() {
  local name="$1"; shift
  server_port=""
  "$@" > "$out/$name.out" 2> "$out/$name.err" &
  server_pid=$!
  for _ in $(seq 100); do
    server_port="$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out/$name.out")"
    [ -n "$server_port" ] && break
    kill -0 "$server_pid" 2> /dev/null || break
    sleep 0.1
  done
  [ -n "$server_port" ] ||
    { echo "pg_compare.sh: $name did not start:" >&2; cat "$out/$name.err" >&2; exit 1; }
}
stop_server() {
  kill "$server_pid" 2> /dev/null || true
  wait "$server_pid" 2> /dev/null || true
  server_pid=""
}
post() {
  "$bench/webhook_bench" --post-to "$2" --message-ids wamid.1. --recipients "$n" --batch 1 \
    --connections 64 --runs "$3" --summary "$out/$1.tsv" >> "$out/$1-bench.out" 2>&1 ||
    { echo "pg_compare.sh: webhook_bench --post-to $1 failed:" >&2
      tail -n 15 "$out/$1-bench.out" >&2; tail -n 5 "$out/$1.err" >&2; exit 1; }
}

durable="statuses durable (2xx)"  # the rate row of webhook_bench's summary
# figure FILE NAME SCALE: row NAME's median over the summaries appended to FILE (one per run
# where each run is its own webhook_bench --runs 1), times SCALE. nth FILE NAME I: the I-th one.
rows() {
  awk -F'\t' -v n="$2" '$1 == n { print $3 }' "$1" | grep . ||
    { echo "pg_compare.sh: no '$2' in $1" >&2; return 1; }
}
figure() {
  local v
  v="$(rows "$1" "$2")" || return 1
  echo "$v" | median | awk -v s="$3" '{ printf "%.6g", $1 * s }'
}
nth() {
  local v
  v="$(rows "$1" "$2")" || return 1
  echo "$v" | sed -n "${3}p"
}

# The status workload, run by run: PostgreSQL alone (pgbench), the same webhooks through
# pg_webhook_receiver, then blastd, one after the other in each run. This host's speed drifts by
# tens of percent over minutes: side by side in every run, a slow spell slows all three, instead
# of one side's runs all landing in it. The receiver (Beast + libpq) runs the UPDATE above per
# status before its 200, each HTTP connection with its own PostgreSQL connection; blastd starts
# on a fresh folder in each run (webhook_bench creates, sends and then posts the statuses). The
# receiver holds its 64 connections only during its own run, so that pgbench's 64 fit under the
# shipped max_connections. Each side starts after the last one's writes are on disk (blastd's
# folder removed, PostgreSQL's WAL written), so that none pays for another's write-back.
settle() { sync; sleep 2; }
pg_tps=() pg_p50=() pg_p99=()
for i in $(seq "$runs"); do
  settle
  read -r t a b < <(pgbench_run "status$i" 64 -T "$seconds" -f "$out/delivered.sql@1" -f "$out/read.sql@1")
  pg_tps+=("$t") pg_p50+=("$a") pg_p99+=("$b")
  start_server receiver "$bench/pg_webhook_receiver" \
    --conninfo "host=$tmp port=$port user=postgres dbname=postgres" --secret bench-secret
  settle
  post receiver "$server_port" 1
  stop_server
  settle
  "$bench/webhook_bench" --recipients "$n" --batch 1 --connections 64 --runs 1 \
    --summary "$out/webhook.tsv" >> "$out/webhook.out" 2>&1 ||
    { echo "pg_compare.sh: webhook_bench failed:" >&2; tail -n 15 "$out/webhook.out" >&2; exit 1; }
  printf '  status run %d/%d: PostgreSQL alone %.0f updates/s (p50 %s ms, p99 %s ms), behind the receiver %.0f /s; blastd %.0f /s\n' \
    "$i" "$runs" "$t" "$a" "$b" "$(nth "$out/receiver.tsv" "$durable" "$i")" \
    "$(nth "$out/webhook.tsv" "$durable" "$i")" >&2
done
# The same webhooks to http_floor, which answers without doing anything: what HTTP alone costs
# on these cores with this client.
start_server floor "$bench/http_floor"
post floor "$server_port" "$runs"
stop_server

# The funnel at each size: blast 2 holds the first size, blast 3 the second; each measured alone.
declare -A pg_f50 pg_f99
blast=2
for size in $funnel_sizes; do
  seed "$blast" 1 "$size"
  read -r _ a b < <(pgbench_run "funnel$size" 1 -D b="$blast" -t $((size >= 1000000 ? 20 : 100)) -f "$funnel_sql")
  echo "  PostgreSQL funnel at $size: p50 $a ms, p99 $b ms" >&2
  pg_f50[$size]="$a" pg_f99[$size]="$b"
  blast=$((blast + 1))
done

# blastd's report at both sizes.
for size in $funnel_sizes; do
  echo "  blastd: million_bench --recipients $size --runs $runs" >&2
  "$bench/million_bench" --recipients "$size" --runs "$runs" --summary "$out/million$size.tsv" \
    > "$out/million$size.out" 2>&1 ||
    { echo "pg_compare.sh: million_bench failed:" >&2; tail -n 15 "$out/million$size.out" >&2; exit 1; }
done
line() {  # line LABEL BLASTD PG UNIT HIGHER_IS_BETTER
  [ -n "$2" ] && [ -n "$3" ] || { echo "pg_compare.sh: a figure is missing for '$1'" >&2; exit 1; }
  awk -v l="$1" -v b="$2" -v p="$3" -v u="$4" -v hi="$5" '
    function fmt(x) { return x >= 100 ? sprintf("%.0f", x) : sprintf("%.2f", x) }
    BEGIN {
      r = hi ? (p > 0 ? b / p : 0) : (b > 0 ? p / b : 0)
      printf "%-54s %10s %-3s %10s %-3s %8.1fx\n", l, fmt(b), u, fmt(p), u, r }'
}
printf '\nblastd vs PostgreSQL 15, same machine, same run: %s run(s) each, side by side, medians\n' "$runs"
printf 'machine: %s; load average %s\n' \
  "$(nproc) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)" \
  "$(cut -d' ' -f1-3 /proc/loadavg)"
printf 'status events over %s recipients, 64 connections, each durable before its answer:\n' "$n"
printf '  webhooks: the same signed single-status notifications posted to blastd and to\n'
printf '    pg_webhook_receiver (Beast + libpq, one UPDATE per status before its 200)\n'
# shellcheck disable=SC2016  # $1 is SQL here, not the shell's
printf '  database alone: pgbench running that UPDATE ... WHERE "messageId" = $1, %s s per run\n\n' \
  "$seconds"
printf '%-54s %14s %14s %9s\n' "workload" "blastd" "PostgreSQL" "blastd is"
wh="$out/webhook.tsv" rc="$out/receiver.tsv"
line "status webhooks, 1 status per request" "$(figure "$wh" "$durable" 1)" \
  "$(figure "$rc" "$durable" 1)" "/s" 1
line "  latency p50" "$(figure "$wh" "request latency p50" 1)" \
  "$(figure "$rc" "request latency p50" 1)" "ms" 0
line "  latency p99" "$(figure "$wh" "request latency p99" 1)" \
  "$(figure "$rc" "request latency p99" 1)" "ms" 0
line "status events, database alone (pgbench, no HTTP)" "$(figure "$wh" "$durable" 1)" \
  "$(printf '%s ' "${pg_tps[@]}" | median)" "/s" 1
line "  latency p50" "$(figure "$wh" "request latency p50" 1)" \
  "$(printf '%s ' "${pg_p50[@]}" | median)" "ms" 0
line "  latency p99" "$(figure "$wh" "request latency p99" 1)" \
  "$(printf '%s ' "${pg_p99[@]}" | median)" "ms" 0
for size in $funnel_sizes; do
  line "funnel at $size recipients (report / GROUP BY), p50" \
    "$(figure "$out/million$size.tsv" "GET report p50" 0.001)" "${pg_f50[$size]}" "ms" 0
  line "  p99" "$(figure "$out/million$size.tsv" "GET report p99" 0.001)" "${pg_f99[$size]}" "ms" 0
done
floor="$(figure "$out/floor.tsv" "$durable" 1)"
awk -v f="$floor" -v b="$(figure "$wh" "$durable" 1)" \
  -v p="$(figure "$rc" "$durable" 1)" 'BEGIN {
  printf "\nthe HTTP floor (http_floor: Beast, one I/O thread, 200 to every request, nothing done),\n"
  printf "same client and workload: %.0f /s; blastd reaches %.0f%% of it, pg_webhook_receiver %.0f%%\n",
    f, 100 * b / f, 100 * p / f }'
printf '\nthe status workload run by run (PostgreSQL alone, behind the receiver, then blastd, in each):\n'
for i in $(seq "$runs"); do
  awk -v i="$i" -v b="$(nth "$wh" "$durable" "$i")" -v r="$(nth "$rc" "$durable" "$i")" \
    -v t="${pg_tps[$((i - 1))]}" 'BEGIN {
    if (b == "" || r == "" || t == "") exit 1
    printf "  run %d: blastd %.0f /s; behind the receiver %.0f /s (%.1fx); alone %.0f /s (%.1fx)\n",
      i, b, r, b / r, t, b / t }' ||
    { echo "pg_compare.sh: run $i's figures are missing" >&2; exit 1; }
done
printf '\n"blastd is": how many times faster (rates: blastd / PostgreSQL; latencies: PostgreSQL / blastd).\n'
printf 'blastd does more per event: the raw webhook logged, duplicates dropped, no stage moved back.\n'
printf 'The database-alone row spends no CPU on HTTP, which the webhooks share the same two cores with.\n'
