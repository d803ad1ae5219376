#!/bin/sh
# The conformance check of the whatsapp_cloud plugin against a live wacloud-sim (its send
# checks need an API that answers): starts the simulator on a free port, runs
# `blastctl plugin check` with a config whose appSecret and verifyToken enable the Meta checks
# (multi-status notifications, the GET handshake), stops the simulator, exits with the check's
# status.   plugin_check.sh WACLOUD_SIM BLASTCTL PLUGIN.so
set -u
sim=$1 blastctl=$2 plugin=$3
out=$(mktemp)
"$sim" --token conformance --phone-number-id 1000 >"$out" &
pid=$!
i=0
while ! grep -q listening "$out" && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
port=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$out")
rm -f "$out"
if [ -z "$port" ]; then
  kill "$pid" 2>/dev/null
  echo "wacloud-sim did not start" >&2
  exit 1
fi
"$blastctl" plugin check "$plugin" --config "{\"baseUrl\": \"http://127.0.0.1:$port\",
  \"phoneNumberId\": \"1000\", \"accessToken\": \"conformance\",
  \"appSecret\": \"conformance-secret\", \"verifyToken\": \"conformance-token\"}"
rc=$?
kill "$pid" 2>/dev/null
wait "$pid" 2>/dev/null
exit $rc
