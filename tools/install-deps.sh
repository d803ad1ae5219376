#!/usr/bin/env bash
# Installs every system package blastd needs to build, run and test (Debian 12).
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail

packages=(
  g++ cmake make pkg-config curl ca-certificates
  libcaf-dev librocksdb-dev libssl-dev libjemalloc-dev liburing-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libboost-test1.81-dev libboost-program-options1.81-dev libboost-system1.81-dev
  chromium  # the dashboard's browser test (tests/web), driven by playwright-core
  # tools/bench/pg_compare.sh: PostgreSQL 15 to compare against, and libpq for its webhook
  # receiver (tools/bench/pg_webhook_receiver.cpp)
  postgresql-15 libpq-dev
)
# Node.js and npm for tests/web: the machine's own when it has them (newer
# than Debian's), else Debian's.
command -v node > /dev/null || packages+=(nodejs)
command -v npm > /dev/null || packages+=(npm)

# playwright-core for tests/web, exactly as package-lock.json pins it; no
# browser download (it drives Debian's /usr/bin/chromium). Skipped when the
# installed tree already matches the lock.
npm_ci() {
  local web
  web="$(dirname "$0")/../tests/web"
  if ! cmp -s "$web/package-lock.json" "$web/node_modules/.blastd-lock" 2>/dev/null; then
    (cd "$web" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$web/package-lock.json" "$web/node_modules/.blastd-lock"
  fi
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  npm_ci
  exit 0
fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
npm_ci
