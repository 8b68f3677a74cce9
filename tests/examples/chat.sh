#!/usr/bin/env bash
# examples/chat: Python's websockets clients check the room's whole protocol (joins,
# messages to every member, nick rules, leaves), then SIGINT closes it cleanly.
set -euo pipefail
chat_bin=$1 peer=$2
log=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
"$chat_bin" 0 >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$log" && break; sleep 0.05; done
base=$(sed -n 's|^listening on http://\([^ ]*\)/$|\1|p' "$log")
[[ -n "$base" ]] || { echo "chat did not start"; cat "$log"; exit 1; }
/usr/bin/python3 "$peer" "ws://$base/chat"
# A member still connected when the room closes gets 1001.
/usr/bin/python3 - "ws://$base/chat?nick=last" "$pid" <<'PY'
import asyncio, os, signal, sys, websockets
async def main():
    async with websockets.connect(sys.argv[1]) as ws:
        await ws.recv()                      # our own join
        os.kill(int(sys.argv[2]), signal.SIGINT)
        try:
            await asyncio.wait_for(ws.recv(), 10)
        except websockets.ConnectionClosed as e:
            assert e.code == 1001, e.code
            return
    raise SystemExit("no 1001")
asyncio.run(main())
PY
wait "$pid"
pid=
grep -q '^closing the room (1 members)$' "$log" || { cat "$log"; exit 1; }
echo "ok"
