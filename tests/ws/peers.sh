#!/usr/bin/env bash
# tests/ws/peers.sh CORA PEER: `cora serve` against one real WebSocket peer.
#   python       Python's websockets client on /ws, plain and compressed
#   python-chat  Python's websockets clients in the /chat/ws room
#   node         Node's ws client on /ws, plain and compressed
#   chromium     two headless Chromium pages chatting on /chat
#   autobahn     every Autobahn case of tests/vectors/websocket-cases.json on /ws
#   cora-ws      `cora ws` (the command-line client) against /ws and against Python's
#                websockets server, lines from stdin, plain and compressed
set -euo pipefail
cora=$1
peer=$2
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
pid=
trap '[[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; }; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$cora" serve --port 0 >"$work/serve.log" 2>"$work/serve.err" &
pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$work/serve.log" && break; sleep 0.05; done
base=$(sed -n 's|^listening on \(http://[^ ]*\)/$|\1|p' "$work/serve.log")
[[ -n "$base" ]] || fail "cora serve did not say where it listens"
ws=ws${base#http}

# Debian's python3 (with python3-websockets), not whatever python3 comes first.
py=/usr/bin/python3
case "$peer" in
  python)
    "$py" "$here/py_client.py" "$ws/ws"
    "$py" "$here/py_client.py" --compress --require-compress "$ws/ws" ;;
  python-chat)
    "$py" "$here/py_chat_peer.py" "$base"
    "$py" "$here/py_chat_peer.py" --compress "$base" ;;
  node)
    node "$here/node_client.js" "$ws/ws" ;;
  chromium)
    node "$here/chat_browser.js" "$base" ;;
  autobahn)
    # Every case; the compression families (12, 13) with 20 of their messages each,
    # which keeps the run under a minute even under sanitizers (all of them: ~4 min).
    "$py" "$here/autobahn.py" --jobs 2 --max-deflate-messages 20 "$ws/ws" ;;
  cora-ws)
    lines=$'first line\nsecond, with \xc3\xa9\n\nlast without newline'
    want=$'first line\nsecond, with \xc3\xa9\n\nlast without newline'
    for opt in "" --deflate; do
      got=$(printf '%s' "$lines" | "$cora" ws $opt "$ws/ws" 2>"$work/ws.err")
      [[ "$got" == "$want" ]] || fail "cora ws $opt against /ws: got '$got'"
      grep -q "^connected to $ws/ws${opt:+ (deflate)}\$" "$work/ws.err" || fail "$(cat "$work/ws.err")"
    done
    "$py" "$here/py_ws_server.py" >"$work/py.log" &
    pypid=$!
    for _ in $(seq 100); do grep -q '^listening on' "$work/py.log" && break; sleep 0.05; done
    pyurl=$(sed -n 's|^listening on \(ws://[^ ]*\)$|\1|p' "$work/py.log")
    got=$(printf '%s' "$lines" | "$cora" ws --deflate --linger 1 "$pyurl" 2>"$work/ws.err") || true
    kill "$pypid"; wait "$pypid" 2>/dev/null || true
    [[ "$got" == "$want" ]] || fail "cora ws against Python: got '$got' ($(cat "$work/ws.err"))"
    # Errors: bad options, a bad URL, a refused upgrade.
    for bad in "--timeout nan" "--timeout 0" "--linger -1" "--linger inf"; do
      set +e; "$cora" ws $bad "$ws/ws" 2>"$work/ws.err" </dev/null; rc=$?; set -e
      [[ $rc == 2 ]] || fail "cora ws $bad: exit $rc"
      grep -q "wants seconds" "$work/ws.err" || fail "cora ws $bad: $(cat "$work/ws.err")"
    done
    "$cora" ws http://x/ 2>"$work/ws.err" </dev/null && fail "cora ws accepted http://"
    grep -q "not a ws:// or wss:// URL" "$work/ws.err" || fail "bad URL message: $(cat "$work/ws.err")"
    "$cora" ws "$ws/hello" 2>"$work/ws.err" </dev/null && fail "cora ws accepted /hello"
    grep -q "did not accept the WebSocket upgrade" "$work/ws.err" || fail "refused upgrade message: $(cat "$work/ws.err")" ;;
  *) fail "unknown peer $peer" ;;
esac

# The server must still be healthy, and must have said nothing alarming.
[[ $(curl -sS "$base/health") == ok ]] || fail "cora serve unhealthy after the peer"
kill -TERM "$pid"
wait "$pid" || fail "cora serve exited with $? after SIGTERM"
pid=
# (The ucontext build's ASan warns once that it cannot follow swapcontext: not ours.)
if grep -v -e '^cora serve: SIGTERM' -e "ASan doesn't fully support makecontext" \
     "$work/serve.err" | grep -q .; then
  cat "$work/serve.err"
  fail "cora serve complained"
fi
echo "ok: $peer"
