#!/usr/bin/env bash
# bench/debug_cost.sh: what debug mode costs when it is off, in instructions (callgrind,
# so the figure does not depend on the machine's load): yield and spawn+await of this
# tree against a base commit built the same way (default 8ac2857, the last commit
# before debug mode). The figure per operation is the difference between two runs
# (N = 20000 and 40000) divided by the extra operations, so start-up cancels out.
#
#     bench/debug_cost.sh [BASE_COMMIT]
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-8ac2857}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
git worktree add -f --detach "$work/base" "$base" >/dev/null 2>&1

instr() { # program, args...: instructions of the whole run
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 | awk '/Collected/ { print $4 }'
}

for tree in "$work/base" "$PWD"; do
  b=$work/build-$(basename "$tree")
  cmake -S "$tree" -B "$b" -DCMAKE_BUILD_TYPE=Release -DCORA_BENCH=ON >/dev/null
  cmake --build "$b" -j2 --target bench_yield bench_spawn >/dev/null
  y=$(find "$b" -name bench_yield -type f | head -1)
  s=$(find "$b" -name bench_spawn -type f | head -1)
  label=$([[ "$tree" == "$PWD" ]] && echo "this tree" || echo "$base")
  awk -v l="$label" -v a="$(instr "$y" 20000 1)" -v b="$(instr "$y" 40000 1)" \
    'BEGIN { printf "%-10s yield:       %.1f instructions\n", l, (b - a) / 40000 }'
  awk -v l="$label" -v a="$(instr "$s" 20000 1)" -v b="$(instr "$s" 40000 1)" \
    'BEGIN { printf "%-10s spawn+await: %.1f instructions\n", l, (b - a) / 20000 }'
done
