#!/usr/bin/env bash
# README command 1: install, build, and start blastd on the embedded default
# (event log in ./data, the simulated channel `sim`, no outside service); on a
# fresh ./data it submits a demo blast of 1000 recipients to watch. Extra
# arguments go to blastd, e.g. tools/run.sh --listen 127.0.0.1:9090.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
exec ./build/blastd --data-dir ./data --demo 1000 "$@"
