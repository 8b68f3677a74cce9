#!/usr/bin/env bash
# examples/mistakes under CORA_DEBUG=1: each of the seed's mistakes is reported as
# docs/mistakes.md shows, and each fix runs with nothing to report. (Which function a
# spawn site names depends on the optimiser's inlining: only its presence is checked.)
set -uo pipefail
bin=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
fail=0
expect() { # mistake, [--fixed], then needles that must appear in order
  local which=$1; shift
  local args=("$which")
  [[ "${1:-}" == --fixed ]] && { args+=(--fixed); shift; }
  CORA_DEBUG=1 "$bin" "${args[@]}" >"$out" 2>&1
  local rc=$? rest
  rest=$(cat "$out")
  for needle in "$@"; do
    if [[ "$rest" != *"$needle"* ]]; then
      echo "FAIL: mistakes ${args[*]}: missing \"$needle\" (in order) in:"; cat "$out"; fail=1; return
    fi
    rest=${rest#*"$needle"}
  done
  if [[ ${#args[@]} -eq 2 ]] && grep -q '^cora:' "$out"; then
    echo "FAIL: mistakes ${args[*]}: the fix still gets a report:"; cat "$out"; fail=1
  fi
  [[ $rc -eq 0 ]] || { echo "FAIL: mistakes ${args[*]} exited $rc:"; cat "$out"; fail=1; }
  echo "ok: mistakes ${args[*]}"
}
expect forgot "spawned fetch_answer, never awaited it" \
  "task 'fetch'" "spawned at " "was never awaited nor detached" "cora_await() it"
expect forgot --fixed "the answer is 42"
expect sleep "task 'greeter'" "has been running for" "spawned at: " \
  "it is blocked in nanosleep()" "use cora_sleep()" "blocking_greeter" "held the loop for" \
  "the ticker ticked"
expect sleep --fixed "Hello after 0.5 s"
expect nested "cora_run() called while this thread is already running a loop" \
  "task 'nester'" "spawned at " "cora_run_in_thread()" "cora_run inside a task: EBUSY"
expect nested --fixed "other_work gave 7"
expect deadlock "deadlock: 2 tasks wait for each other" "waits for lock" "blocked by task 'a-then-b'" \
  "waits for lock" "blocked by task 'b-then-a'" "a-then-b: ETIMEDOUT"
expect deadlock --fixed "a-then-b: done, b-then-a: done"
"$bin" bogus >/dev/null 2>&1; [[ $? -eq 2 ]] || { echo "FAIL: a bad argument must exit 2"; fail=1; }
exit $fail
