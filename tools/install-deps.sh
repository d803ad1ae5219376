#!/usr/bin/env bash
# Installs every system package blastd needs to build, run and test (Debian 12).
# Idempotent: skips apt entirely when everything is already installed.
set -euo pipefail

packages=(
  g++ cmake make pkg-config curl ca-certificates
  libcaf-dev librocksdb-dev libssl-dev
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libboost-test1.81-dev libboost-program-options1.81-dev libboost-system1.81-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
