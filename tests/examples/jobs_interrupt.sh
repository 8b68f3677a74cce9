#!/usr/bin/env bash
# Ctrl-C in the middle of examples/jobs: it must stop cleanly (exit 130) and account
# for every job: done, failed, or listed as not done with the reason.
set -euo pipefail
jobs_bin=$1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# A shell starts background jobs with SIGINT ignored (and cora, like Python, respects
# an inherited SIG_IGN): restore the default so the job sees Ctrl-C as a user would.
env --default-signal=INT "$jobs_bin" -n 100 -w 8 -c 4 -r 200 -f 20 -m 200 >"$out" 2>/dev/null &
pid=$!
sleep 0.7
kill -INT "$pid"
set +e
wait "$pid"
rc=$?
set -e
cat "$out"
[[ $rc -eq 130 ]] || { echo "exit status $rc, want 130"; exit 1; }
summary=$(tail -1 "$out")
[[ "$summary" =~ ^100\ jobs:\ ([0-9]+)\ done,\ ([0-9]+)\ failed,\ ([0-9]+)\ not\ done,.*\(interrupted\)$ ]] \
  || { echo "bad summary: $summary"; exit 1; }
done=${BASH_REMATCH[1]} failed=${BASH_REMATCH[2]} notdone=${BASH_REMATCH[3]}
(( done + failed + notdone == 100 )) || { echo "jobs lost: $done + $failed + $notdone != 100"; exit 1; }
(( done > 0 && notdone > 0 )) || { echo "interrupt did not land mid-run"; exit 1; }
listed=$(grep -c '^job [0-9]*: not done: ' "$out" || true)
(( listed == notdone )) || { echo "$listed jobs listed as not done, summary says $notdone"; exit 1; }
echo "jobs_interrupt: every job accounted for"
