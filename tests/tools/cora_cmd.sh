#!/usr/bin/env bash
# The `cora` command end to end: `cora serve` (routes, static files, limits, graceful
# stop on SIGTERM with a request in flight) and `cora fetch` (many URLs, -c, -o, '-',
# --timeout, --sequential, per-URL lines, the summary, the exit status).
set -euo pipefail
cora=$1
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir "$work/root" "$work/out"
printf 'alpha\n' > "$work/root/a.txt"
head -c 200000 /dev/urandom > "$work/root/blob.bin"
"$cora" serve --port 0 --root "$work/root" --access-log >"$work/serve.log" 2>"$work/access.log" &
pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$work/serve.log" && break; sleep 0.05; done
base=$(sed -n 's|^listening on \(http://[^ ]*\)/$|\1|p' "$work/serve.log")
[[ -n "$base" ]] || fail "cora serve did not say where it listens"

# serve: the routes.
[[ $(curl -sS "$base/hello") == "Hello, World!" ]] || fail "/hello"
[[ $(curl -sS -o /dev/null -w '%{http_code}' "$base/health") == 200 ]] || fail "/health"
got=$(curl -sS -D "$work/h" -H 'Content-Type: application/x-thing' --data-binary 'echo me' "$base/echo")
[[ $got == "echo me" ]] || fail "/echo body: $got"
grep -qi '^Content-Type: application/x-thing' "$work/h" || fail "/echo content type"
[[ $(curl -sS -o /dev/null -w '%{http_code}' "$base/delay?ms=70000") == 400 ]] || fail "delay bound"
[[ $(curl -sS -o /dev/null -w '%{http_code}' "$base/delay?ms=x") == 400 ]] || fail "delay ms=x"
[[ $(curl -sS "$base/delay?ms=10") == "waited 10 ms" ]] || fail "/delay"
[[ $(curl -sS "$base/a.txt") == "alpha" ]] || fail "static file"
[[ $(curl -sS -o /dev/null -w '%{http_code}' "$base/missing") == 404 ]] || fail "404"
grep -q '"GET /hello HTTP/1.1" 200 13 ' "$work/access.log" || fail "access log: $(head -2 "$work/access.log")"

# fetch: several URLs at once, bodies saved, exit 0 when every one is 2xx.
out=$("$cora" fetch -c 2 -o "$work/out" "$base/a.txt" "$base/blob.bin" "$base/hello" "$base/delay?ms=50")
echo "$out"
grep -qE '^200 +6 +[0-9.]+ s +http://.*/a\.txt +-> ' <<<"$out" || fail "per-URL line"
grep -qE '^4 URLs, 4 ok \(2xx\), 200032 bytes in [0-9.]+ s with at most 2 at a time$' <<<"$out" \
  || fail "summary: $(tail -1 <<<"$out")"
cmp -s "$work/root/blob.bin" "$(ls "$work"/out/*blob.bin)" || fail "saved body differs"

# A 404 among them: exit 1, and it is listed.
set +e
out=$("$cora" fetch "$base/hello" "$base/nope"); rc=$?
set -e
[[ $rc -eq 1 ]] || fail "exit $rc with a 404, want 1"
grep -qE '^404 ' <<<"$out" || fail "404 not listed"

# URLs from stdin, one after another.
out=$(printf '%s\n' "$base/hello" "# a comment" "" "$base/health" | "$cora" fetch --sequential -)
grep -qE '^2 URLs, 2 ok .* at most 1 at a time$' <<<"$out" || fail "stdin: $out"

# --timeout: a slow URL is reported as timed out, the fast one still succeeds.
set +e
out=$("$cora" fetch --timeout 0.3 "$base/delay?ms=3000" "$base/hello"); rc=$?
set -e
[[ $rc -eq 1 ]] || fail "exit $rc with a timeout, want 1"
grep -qE '^ERR .*delay.*Timer expired|^ERR .*delay.*timed out' <<<"$out" || fail "timeout line: $out"
grep -qE '^200 .*/hello$' <<<"$out" || fail "fast URL with timeout: $out"

# Bad usage is refused with status 2, nothing fetched.
set +e
"$cora" fetch -c 0 "$base/hello" >/dev/null 2>&1; rc=$?
set -e
[[ $rc -eq 2 ]] || fail "-c 0 gave $rc, want 2"
for t in nan inf 0 -1 1e9 x; do
  set +e
  "$cora" fetch --timeout "$t" "$base/hello" >/dev/null 2>&1; rc=$?
  set -e
  [[ $rc -eq 2 ]] || fail "--timeout $t gave $rc, want 2"
done

# Graceful stop: a request in flight when SIGTERM arrives still gets its answer.
curl -sS "$base/delay?ms=500" > "$work/late" &
cpid=$!
sleep 0.2
kill -TERM "$pid"
wait "$cpid" || fail "request in flight failed"
[[ $(cat "$work/late") == "waited 500 ms" ]] || fail "in-flight answer: $(cat "$work/late")"
set +e
wait "$pid"; rc=$?
set -e
[[ $rc -eq 0 ]] || fail "cora serve exited $rc after SIGTERM, want 0"
echo "cora command: all checks passed"
