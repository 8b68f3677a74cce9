#!/usr/bin/env bash
# bench/run.sh: builds cora's benchmarks and their peers, runs each pair in the same
# run, and prints every cora figure beside its peer's with the ratio, then the
# project's targets with PASS or MISS. `make bench` runs it after scripts/setup.sh
# has installed the peers (Boost.Context, libuv, Go, Python with uvloop, g++) and the
# tools (valgrind, perf).
#
# Every benchmark program prints `RESULT <name> <value> <unit>` lines; this script
# collects them by name. bench/README.md says how each figure is measured.
#
# Environment:
#   BENCH_QUICK=1  smaller counts everywhere: a smoke test of the script (~25 s). The
#                  figures are noisier, and the RSS and timer rows use 10k/100k.
#
# Output: progress and each program's own summary on stderr, the table on stdout;
# every program's full output in bench/out/run.log, the table in bench/out/results.txt.
# Missed targets are reported, not fatal: the exit status says only whether every
# benchmark ran.
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=build/bench
OUT=bench/out
LOG=$OUT/run.log
mkdir -p "$OUT"
: >"$LOG"

# ---- Sizes ----------------------------------------------------------------------

if [[ "${BENCH_QUICK:-0}" == 1 ]]; then
    SWITCH_N=1000000 SWAP_N=100000 YIELD_N=200000 REPEATS=3
    SPAWN_N=100000 PY_N=20000 RSS_SMALL=10000 RSS_BIG=100000 TIMERS_N=100000
    CG_N1=20000 CG_N2=40000
    PINGPONG_N=200000 PY_PINGPONG_N=20000 LOCK_N=200000 PY_LOCK_N=20000
    ECHO_ROUNDS=1 ECHO_WARMUP=0.2 ECHO_SECS=0.8 ECHO_CG1=0.3 ECHO_CG2=0.6 ECHO_SYS_SECS=0.3
    BULK_ROUNDS=6 BULK_BYTES=$((128 << 20))
else
    SWITCH_N=10000000 SWAP_N=1000000 YIELD_N=2000000 REPEATS=5
    SPAWN_N=1000000 PY_N=200000 RSS_SMALL=100000 RSS_BIG=1000000 TIMERS_N=1000000
    CG_N1=100000 CG_N2=200000
    PINGPONG_N=1000000 PY_PINGPONG_N=200000 LOCK_N=1000000 PY_LOCK_N=100000
    ECHO_ROUNDS=4 ECHO_WARMUP=0.25 ECHO_SECS=1.25 ECHO_CG1=0.5 ECHO_CG2=1 ECHO_SYS_SECS=0.6
    BULK_ROUNDS=32 BULK_BYTES=$((256 << 20))
fi
BATCH=1000
LOCK_TASKS=100 # contending for one lock (the concurrency-toolkit issue's figure)
ECHO_CONNS=64 ECHO_SIZE=64 # the I/O issue's echo load
BULK_CHUNK=$((256 << 10))  # bytes per send(2) in the bulk transfer
# The servers under test get CPU 1, the load clients CPU 0 (bench/README.md).
SERVER_CPU=1 CLIENT_CPU=0

# ---- Helpers --------------------------------------------------------------------

say() { printf 'bench: %s\n' "$*" >&2; }

# Runs a command with its output going to the log; on failure shows the log's tail.
quiet() {
    if ! "$@" >>"$LOG" 2>&1; then
        say "failed: $*"
        tail -n 30 "$LOG" >&2
        exit 1
    fi
}

declare -A R # RESULT name -> value

# Runs one benchmark: shows its human-readable lines, records its RESULT lines.
run() {
    local out
    printf '\n$ %s\n' "$*" >>"$LOG"
    if ! out=$("$@" 2>>"$LOG"); then
        say "failed: $*"
        tail -n 30 "$LOG" >&2
        exit 1
    fi
    printf '%s\n' "$out" >>"$LOG"
    grep -v '^RESULT ' <<<"$out" | sed 's/^/  /' >&2 || true
    local tag name value rest
    while read -r tag name value rest; do
        if [[ "$tag" == RESULT ]]; then R[$name]=$value; fi
    done <<<"$out"
}

# The total instruction count of one run under callgrind.
callgrind_total() {
    local total
    printf '\n$ valgrind --tool=callgrind %s\n' "$*" >>"$LOG"
    total=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null |
        tee -a "$LOG" | awk '/Collected :/ { print $NF }')
    if [[ -z "$total" ]]; then
        say "callgrind failed on: $*"
        exit 1
    fi
    printf '%s\n' "$total"
}

# Instructions per operation under callgrind, which counts the same on every run
# (this machine has no hardware counters, and its nanoseconds move with code layout).
# The program runs twice, with CG_N1 and CG_N2 iterations and one repeat; the
# difference in instructions over the difference in operations cancels start-up,
# warm-up and teardown. PER is operations per iteration.
#   callgrind_per_op NAME PER PROGRAM [EXTRA ARGS...]
callgrind_per_op() {
    local name=$1 per=$2 prog=$3
    shift 3
    local c1 c2
    c1=$(callgrind_total "$prog" "$CG_N1" 1 "$@")
    c2=$(callgrind_total "$prog" "$CG_N2" 1 "$@")
    R[$name]=$(awk -v a="$c1" -v b="$c2" -v n1="$CG_N1" -v n2="$CG_N2" -v p="$per" \
        'BEGIN { printf "%.1f", (b - a) / ((n2 - n1) * p) }')
    say "  $name: ${R[$name]} instructions per operation ($c1 and $c2 in all)"
}

# A `go build` of one stdlib-only file. Go builds a lone file outside any module; if
# a newer toolchain refuses, build it as a scratch module instead.
go_build() {
    local out=$1 src=$2 dir
    if go build -o "$out" "$src" >>"$LOG" 2>&1; then return; fi
    dir="$BUILD/gomod/$(basename "$src" .go)"
    mkdir -p "$dir"
    cp "$src" "$dir/main.go"
    printf 'module corabench\n\ngo 1.19\n' >"$dir/go.mod"
    quiet bash -c "cd '$dir' && go build -o '$PWD/$out' ."
}

# ---- Build ----------------------------------------------------------------------

say "building cora (Release) and the C/C++ peers in $BUILD"
quiet cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCORA_BENCH=ON -DCORA_TESTS=OFF \
    -DCORA_EXAMPLES=OFF
quiet cmake --build "$BUILD" -j2 --target bench_yield bench_ctx_switch bench_spawn \
    bench_sleep_rss bench_timers bench_timer_heap bench_pingpong bench_lock peer_boost_switch \
    peer_swapcontext peer_libuv_timers bench_echo_server bench_echo_client bench_bulk_client \
    peer_libuv_echo

say "building the Go peers ($(go version | awk '{ print $3 }'))"
export GOCACHE="$PWD/build/gocache" GOPATH="$PWD/build/gopath" GOFLAGS=""
go_build "$BUILD/go_spawn" bench/peers/go/spawn.go
go_build "$BUILD/go_sleep" bench/peers/go/sleep.go
go_build "$BUILD/go_pingpong" bench/peers/go/pingpong.go
go_build "$BUILD/go_lock" bench/peers/go/lock.go
go_build "$BUILD/go_echo" bench/peers/go/echo.go
# A cora loop is one thread; Go gets one thread running Go code too.
export GOMAXPROCS=1

B=$BUILD/bench

# ---- Runs, each cora figure next to its peer's ------------------------------------

say "context switch"
run "$B/bench_ctx_switch" "$SWITCH_N" "$REPEATS"
run "$B/peer_boost_switch" "$SWITCH_N" "$REPEATS"
run "$B/peer_swapcontext" "$SWAP_N" 3
run "$B/bench_yield" "$((YIELD_N / 2))" "$REPEATS"

# valgrind comes with scripts/setup.sh's test profile, not necessarily with bench.
if command -v valgrind >/dev/null; then
    say "context switch under callgrind: instructions per operation"
    callgrind_per_op cora_ctx_switch_ir 2 "$B/bench_ctx_switch"
    callgrind_per_op boost_fiber_switch_ir 2 "$B/peer_boost_switch" fiber
    callgrind_per_op boost_fcontext_switch_ir 2 "$B/peer_boost_switch" fcontext
    callgrind_per_op cora_yield_ir 2 "$B/bench_yield" # N counts per task, two tasks
else
    say "valgrind not installed: no instruction counts (scripts/setup.sh test installs it)"
fi

say "spawn + await of a trivial task"
run "$B/bench_spawn" "$SPAWN_N" "$BATCH"
run "$BUILD/go_spawn" "$SPAWN_N" "$BATCH"
run python3 bench/peers/python/spawn.py "$PY_N" "$BATCH"

say "RSS per sleeping task"
run "$B/bench_sleep_rss" "$RSS_SMALL"
run "$BUILD/go_sleep" "$RSS_SMALL"
run "$B/bench_sleep_rss" "$RSS_BIG"
run "$BUILD/go_sleep" "$RSS_BIG"

say "timers with random deadlines in [0, 1 s), all fired"
run "$B/bench_timer_heap" "$TIMERS_N"
run "$B/peer_libuv_timers" "$TIMERS_N"
run "$B/bench_timers" "$TIMERS_N"

say "ping-pong between two tasks: channels and queues"
run "$B/bench_pingpong" "$PINGPONG_N" 3
run "$BUILD/go_pingpong" "$PINGPONG_N" 3
run python3 bench/peers/python/pingpong.py "$PY_PINGPONG_N"

say "one lock, $LOCK_TASKS tasks taking it in turn"
run "$B/bench_lock" "$LOCK_N" 3 all "$LOCK_TASKS"
run "$BUILD/go_lock" "$LOCK_N" 3 all "$LOCK_TASKS"
run python3 bench/peers/python/lock.py "$PY_LOCK_N" all "$LOCK_TASKS"

if command -v valgrind >/dev/null; then
    say "ping-pong and lock under callgrind: instructions per operation"
    callgrind_per_op cora_chan_pingpong_ir 2 "$B/bench_pingpong" chan # 2 messages a trip
    callgrind_per_op cora_queue_pingpong_ir 2 "$B/bench_pingpong" queue
    callgrind_per_op cora_lock_contended_ir 1 "$B/bench_lock" contended "$LOCK_TASKS"
    callgrind_per_op cora_lock_noyield_ir 1 "$B/bench_lock" noyield "$LOCK_TASKS"
fi

# ---- Network: TCP echo and bulk transfer over loopback ------------------------------

# Servers run in the background; whatever happens, none outlives this script.
SERVER_PIDS=()
stop_servers() {
    local p
    for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    SERVER_PIDS=()
}
trap stop_servers EXIT
trap 'exit 130' INT TERM

# Starts a server on CPU $SERVER_CPU, waits for its "listening <port>" line and adds
# LABEL=PORT:PID to TARGETS, the clients' list of servers. Every server listens on
# 127.0.0.1 only, on a free port the kernel picks (port 0).
#   start_server LABEL COMMAND...
NET=$BUILD/net
mkdir -p "$NET"
TARGETS=()
start_server() {
    local label=$1 out="$NET/$1.out" pid port i
    shift
    rm -f "$out"
    printf '\n$ taskset -c %s %s &\n' "$SERVER_CPU" "$*" >>"$LOG"
    taskset -c "$SERVER_CPU" "$@" >"$out" 2>>"$LOG" &
    pid=$!
    SERVER_PIDS+=("$pid")
    for i in $(seq 200); do
        # The file may not exist yet: the background job makes it.
        port=$(awk '$1 == "listening" { print $2 }' "$out" 2>/dev/null || true)
        [[ -n "$port" ]] && break
        if ! kill -0 "$pid" 2>/dev/null; then break; fi
        sleep 0.05
    done
    if [[ -z "$port" ]]; then
        say "server $label did not start: $*"
        tail -n 20 "$LOG" >&2
        exit 1
    fi
    TARGETS+=("$label=$port:$pid")
}

# Debian's python3-uvloop is installed for the system Python, which a `python3` found
# first on PATH (pyenv, a venv) may not be.
UVLOOP_PY=""
for py in /usr/bin/python3 python3; do
    if "$py" -c 'import uvloop' 2>/dev/null; then UVLOOP_PY=$py; break; fi
done

echo_servers() {
    start_server cora_uring env CORA_BACKEND=uring "$B/bench_echo_server" 0 echo
    start_server cora_epoll env CORA_BACKEND=epoll "$B/bench_echo_server" 0 echo
    start_server libuv "$B/peer_libuv_echo" 0 echo
    start_server go "$BUILD/go_echo" 0 echo
    if [[ -n "$UVLOOP_PY" ]]; then
        start_server uvloop "$UVLOOP_PY" bench/peers/python/echo_uvloop.py 0
    fi
}

say "TCP echo: $ECHO_CONNS connections x $ECHO_SIZE-byte messages, server on CPU $SERVER_CPU, client on CPU $CLIENT_CPU"
[[ -z "$UVLOOP_PY" ]] && say "python3-uvloop not installed: no uvloop row (scripts/setup.sh bench installs it)"
TARGETS=()
echo_servers
run taskset -c "$CLIENT_CPU" "$B/bench_echo_client" "$ECHO_CONNS" "$ECHO_SIZE" "$ECHO_WARMUP" \
    "$ECHO_SECS" "$ECHO_ROUNDS" "${TARGETS[@]}"

# System calls per message, from the kernel's own tracepoints (perf stat on the
# server's process, all its threads), over one short round of the same load. Not
# timed: tracing slows every server.
if command -v perf >/dev/null && perf stat -e raw_syscalls:sys_enter true >/dev/null 2>&1; then
    say "TCP echo: system calls per message (perf stat)"
    for t in "${TARGETS[@]}"; do
        label=${t%%=*} pid=${t##*:}
        perf stat -x, -e raw_syscalls:sys_enter -p "$pid" -o "$NET/$label.perf" &
        perf_pid=$!
        sleep 0.2 # perf attaches
        run taskset -c "$CLIENT_CPU" "$B/bench_echo_client" "$ECHO_CONNS" "$ECHO_SIZE" 0 \
            "$ECHO_SYS_SECS" 1 "${label}_sys=${t#*=}"
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" || true
        calls=$(awk -F, '/raw_syscalls:sys_enter/ { print $1 }' "$NET/$label.perf")
        R[${label}_echo_syscalls]=$(awk -v c="$calls" -v n="${R[${label}_sys_echo_total]:-0}" \
            'BEGIN { if (n > 0 && c != "") printf "%.2f", c / n }')
        say "  $label: ${R[${label}_echo_syscalls]} system calls per message"
    done
else
    say "perf not usable: no system-call counts (scripts/setup.sh bench installs linux-perf)"
fi
stop_servers

# Instructions per message in the server's user space under callgrind: the server
# (with a connection count, so that it exits normally after the load) serves one
# round of ECHO_CG1 and one of ECHO_CG2 seconds; the difference in instructions over
# the difference in messages cancels start-up and teardown. Only cora and libuv: the
# Go runtime and CPython are not callgrind's ground. ENV is set outside valgrind (an
# `env` under it would exec the server uninstrumented); `timeout` bounds a server
# that failed to exit.
#   echo_callgrind NAME ENV PROGRAM [ARGS...]
echo_callgrind() {
    local name=$1 env=$2 secs total port c1="" c2="" m1="" m2=""
    shift 2
    for secs in "$ECHO_CG1" "$ECHO_CG2"; do
        TARGETS=()
        start_server "cg_$name" env "$env" timeout 120 valgrind --tool=callgrind \
            --callgrind-out-file=/dev/null --log-file="$NET/$name.cg" "$@" "$ECHO_CONNS"
        # pid 0: the process is timeout's, not the server's; no CPU figure is wanted.
        port=${TARGETS[0]#*=} port=${port%%:*}
        run taskset -c "$CLIENT_CPU" "$B/bench_echo_client" "$ECHO_CONNS" "$ECHO_SIZE" 0 \
            "$secs" 1 "cg_${name}=$port:0"
        wait "${SERVER_PIDS[-1]}" || true # it exits once the client has closed
        SERVER_PIDS=()
        total=$(awk '/Collected :/ { print $NF }' "$NET/$name.cg")
        if [[ -z "$c1" ]]; then
            c1=$total m1=${R[cg_${name}_echo_total]}
        else
            c2=$total m2=${R[cg_${name}_echo_total]}
        fi
    done
    R[$name]=$(awk -v a="$c1" -v b="$c2" -v m="$m1" -v n="$m2" \
        'BEGIN { if (n > m && a != "" && b != "") printf "%.0f", (b - a) / (n - m) }')
    say "  $name: ${R[$name]} instructions per message ($c1 for $m1 messages, $c2 for $m2)"
}

if command -v valgrind >/dev/null; then
    say "TCP echo under callgrind: user-space instructions per message"
    echo_callgrind cora_uring_echo_ir CORA_BACKEND=uring "$B/bench_echo_server" 0 echo
    echo_callgrind cora_epoll_echo_ir CORA_BACKEND=epoll "$B/bench_echo_server" 0 echo
    echo_callgrind libuv_echo_ir CORA_BACKEND= "$B/peer_libuv_echo" 0 echo # ENV unused
fi

say "bulk transfer: one connection, $BULK_ROUNDS runs of $((BULK_BYTES >> 20)) MiB per receiver, interleaved"
TARGETS=()
start_server cora_uring env CORA_BACKEND=uring "$B/bench_echo_server" 0 sink
start_server cora_epoll env CORA_BACKEND=epoll "$B/bench_echo_server" 0 sink
start_server libuv "$B/peer_libuv_echo" 0 sink
start_server go "$BUILD/go_echo" 0 sink
run taskset -c "$CLIENT_CPU" "$B/bench_bulk_client" "$BULK_BYTES" "$BULK_CHUNK" "$BULK_ROUNDS" \
    "${TARGETS[@]}"
stop_servers

# ---- Derived figures --------------------------------------------------------------

# Page tables are memory a sleeping task costs that VmRSS does not show.
for who in cora go; do
    R[${who}_sleep_all_$RSS_BIG]=$(awk -v a="${R[${who}_sleep_rss_$RSS_BIG]:-0}" \
        -v b="${R[${who}_sleep_pte_$RSS_BIG]:-0}" 'BEGIN { print a + b }')
done

# Hand-overs per second under contention: acquisitions per second times the share
# that changed hands. cora's and asyncio's locks hand over on every release; Go's
# sync.Mutex lets the running goroutine take it back, so its figure is far lower.
for who in cora go python; do
    R[${who}_lock_handover_rate]=$(awk -v r="${R[${who}_lock_contended_rate]:-0}" \
        -v s="${R[${who}_lock_contended_share]:-0}" 'BEGIN { print r * s / 1e6 }')
done

count() { awk -v n="$1" 'BEGIN { if (n >= 1e6) printf "%gM", n / 1e6; else printf "%gk", n / 1e3 }'; }
rss_small=$(count "$RSS_SMALL") rss_big=$(count "$RSS_BIG") timers=$(count "$TIMERS_N")

# ---- The table ------------------------------------------------------------------

num() { awk -v v="$1" 'BEGIN { printf (v >= 100 ? "%.0f" : (v >= 10 ? "%.1f" : "%.2f")), v }'; }

# R[key], rounded for reading.
fig() { if [[ -n "${R[$1]:-}" ]]; then num "${R[$1]}"; else printf '?'; fi; }

line() { printf '%-46s %12s  %-20s %12s  %s\n' "$@"; }

# Lower is better for every figure here, so the ratio is peer / cora: above 1 cora
# wins by that factor, below 1 the peer wins by its inverse.
#   row BENCHMARK CORA_KEY PEER_LABEL PEER_KEY UNIT WORD [RATE_UNIT]
# With RATE_UNIT (ns figures only), the ratio column also gives both figures as rates,
# 1e9 / ns in millions per second: the unit some targets are stated in.
row() {
    local what=$1 ck=$2 peer=$3 pk=$4 unit=$5 word=$6 rate=${7:-}
    local c=${R[$ck]:-} p=${R[$pk]:-} ratio
    if [[ -z "$c" || -z "$p" ]]; then
        line "$what" "$(fig "$ck") $unit" "$peer" "$(fig "$pk") $unit" "(missing)"
        return
    fi
    ratio=$(awk -v c="$c" -v p="$p" -v w="$word" -v peer="$peer" 'BEGIN {
        if (c <= 0 || p <= 0) { print "n/a"; exit }
        r = p / c
        if (r >= 0.99 && r <= 1.01) printf "about equal (%.2fx)", r
        else if (r > 1) printf "cora %.2fx %s", r, w
        else printf "%s %.2fx %s", peer, 1 / r, w }')
    if [[ -n "$rate" ]]; then
        ratio+=$(awk -v c="$c" -v p="$p" -v u="$rate" \
            'function f(v) { return sprintf(v >= 100 ? "%.0f" : (v >= 10 ? "%.1f" : "%.2f"), v) }
            BEGIN { printf "; %s vs %s %s", f(1e3 / c), f(1e3 / p), u }')
    fi
    line "$what" "$(num "$c") $unit" "$peer" "$(num "$p") $unit" "$ratio"
}

# A row whose figure is a rate (higher is better: messages or bytes per second), so
# the ratio is cora / peer, and above 1 cora wins by that factor.
#   rrow BENCHMARK CORA_KEY PEER_LABEL PEER_KEY UNIT WORD [SCALE]
# SCALE divides both figures for printing (1e3: k msg/s); the ratio does not change.
rrow() {
    local what=$1 ck=$2 peer=$3 pk=$4 unit=$5 word=$6 scale=${7:-1}
    local c=${R[$ck]:-} p=${R[$pk]:-} ratio
    local cs ps
    cs=$([[ -n "$c" ]] && num "$(awk -v v="$c" -v s="$scale" 'BEGIN { print v / s }')" || printf '?')
    ps=$([[ -n "$p" ]] && num "$(awk -v v="$p" -v s="$scale" 'BEGIN { print v / s }')" || printf '?')
    if [[ -z "$c" || -z "$p" ]]; then
        line "$what" "$cs $unit" "$peer" "$ps $unit" "(missing)"
        return
    fi
    ratio=$(awk -v c="$c" -v p="$p" -v w="$word" -v peer="$peer" 'BEGIN {
        if (c <= 0 || p <= 0) { print "n/a"; exit }
        r = c / p
        if (r >= 0.99 && r <= 1.01) printf "about equal (%.2fx)", r
        else if (r > 1) printf "cora %.2fx %s", r, w
        else printf "%s %.2fx %s", peer, 1 / r, w }')
    line "$what" "$cs $unit" "$peer" "$ps $unit" "$ratio"
}

# A row with no peer: a figure that explains another (the scheduler's share).
solo() { line "$1" "$(fig "$2") $3" "-" "-" "$4"; }

# A figure that is not a cost, beside a peer's, with no ratio: a count that explains
# the rows above it.
#   info BENCHMARK CORA_KEY PEER_LABEL PEER_KEY NOTE
info() { line "$1" "$(fig "$2")" "$3" "$(fig "$4")" "$5"; }

table() {
    line benchmark cora peer "peer figure" "ratio (peer / cora)"
    printf '%s\n' "$(printf '%.0s-' {1..130})"
    row "context switch, raw (ns/switch)" cora_ctx_switch "Boost fiber" boost_fiber_switch ns faster
    row "context switch, raw (ns/switch)" cora_ctx_switch "Boost jump_fcontext" boost_fcontext_switch ns faster
    row "context switch, raw (ns/switch)" cora_ctx_switch "glibc swapcontext" swapcontext_switch ns faster
    row "context switch, raw (instr/switch, callgrind)" cora_ctx_switch_ir "Boost fiber" boost_fiber_switch_ir ir fewer
    row "context switch, raw (instr/switch, callgrind)" cora_ctx_switch_ir "Boost jump_fcontext" boost_fcontext_switch_ir ir fewer
    solo "cora_yield, 2 tasks (ns/yield)" cora_yield ns "task->scheduler->task: 2 switches + scheduling"
    solo "cora_yield, 2 tasks (instr/yield, callgrind)" cora_yield_ir ir "the same, in instructions"
    row "spawn+await, serial (ns/task)" cora_spawn_serial "Go, GOMAXPROCS=1" go_spawn_serial ns faster
    row "spawn+await, serial (ns/task)" cora_spawn_serial "Python asyncio" python_spawn_serial ns faster
    row "spawn+await, batches of $BATCH (ns/task)" cora_spawn_batch "Go WaitGroup" go_spawn_batch ns faster
    row "spawn+await, batches of $BATCH (ns/task)" cora_spawn_batch "Python gather" python_spawn_batch ns faster
    row "RSS per sleeping task, $rss_small (KiB)" "cora_sleep_rss_$RSS_SMALL" "Go time.Sleep" "go_sleep_rss_$RSS_SMALL" KiB smaller
    row "RSS per sleeping task, $rss_big (KiB)" "cora_sleep_rss_$RSS_BIG" "Go time.Sleep" "go_sleep_rss_$RSS_BIG" KiB smaller
    row "  the same, RSS + page tables (KiB)" "cora_sleep_all_$RSS_BIG" "Go time.Sleep" "go_sleep_all_$RSS_BIG" KiB smaller
    row "$timers timers, arming only (CPU s)" cora_timers_heap_arm_cpu "libuv uv_timer" libuv_timers_arm_cpu s "less CPU"
    row "$timers timers, no tasks (CPU s)" cora_timers_heap_cpu "libuv uv_timer" libuv_timers_cpu s "less CPU"
    row "$timers timers, one task each (CPU s)" cora_timers_tasks_cpu "libuv uv_timer" libuv_timers_cpu s "less CPU"
    row "$timers timers, no tasks (wall s)" cora_timers_heap_wall "libuv uv_timer" libuv_timers_wall s faster
    row "$timers timers, one task each (wall s)" cora_timers_tasks_wall "libuv uv_timer" libuv_timers_wall s faster
    row "chan ping-pong, unbuffered (ns/msg)" cora_chan_pingpong "Go chan, GOMAXPROCS=1" \
        go_chan_pingpong ns faster "M msg/s"
    row "chan ping-pong, unbuffered (ns/msg)" cora_chan_pingpong "Python asyncio.Queue" \
        python_queue_pingpong ns faster "M msg/s"
    row "queue ping-pong, maxsize 1 (ns/msg)" cora_queue_pingpong "Python asyncio.Queue" \
        python_queue_pingpong ns faster "M msg/s"
    row "queue ping-pong, maxsize 1 (ns/msg)" cora_queue_pingpong "Go chan, GOMAXPROCS=1" \
        go_chan_pingpong ns faster "M msg/s"
    solo "chan ping-pong (instr/msg, callgrind)" cora_chan_pingpong_ir ir "send + recv + park/wake + 2 switches"
    solo "queue ping-pong (instr/msg, callgrind)" cora_queue_pingpong_ir ir "put + get + park/wake + 2 switches"
    row "lock, $LOCK_TASKS tasks, yield inside (ns/acq)" cora_lock_contended "Go Mutex+Gosched" \
        go_lock_contended ns faster "M acq/s"
    row "lock, $LOCK_TASKS tasks, yield inside (ns/acq)" cora_lock_contended "Python asyncio.Lock" \
        python_lock_contended ns faster "M acq/s"
    info "  share of acquisitions changing hands" cora_lock_contended_share "Go Mutex+Gosched" \
        go_lock_contended_share "Python $(fig python_lock_contended_share); 1.00 = every one a hand-over"
    info "  hand-overs per second (M)" cora_lock_handover_rate "Go Mutex+Gosched" \
        go_lock_handover_rate "Python $(fig python_lock_handover_rate); acquisitions/s x share"
    row "lock, $LOCK_TASKS tasks, nothing inside (ns/acq)" cora_lock_noyield "Go sync.Mutex" \
        go_lock_noyield ns faster "M acq/s"
    row "lock, $LOCK_TASKS tasks, nothing inside (ns/acq)" cora_lock_noyield "Python asyncio.Lock" \
        python_lock_noyield ns faster "M acq/s"
    solo "lock, yield inside (instr/acq, callgrind)" cora_lock_contended_ir ir "acquire + yield + release + hand-over"
    solo "lock, nothing inside (instr/acq, callgrind)" cora_lock_noyield_ir ir "acquire + release, nobody waiting"
    local b peer label
    for b in uring epoll; do
        for peer in "libuv:libuv uv_tcp" "go:Go, GOMAXPROCS=1" "uvloop:Python uvloop Protocol"; do
            label=${peer#*:} peer=${peer%%:*}
            rrow "TCP echo $ECHO_CONNS x ${ECHO_SIZE} B, $b (k msg/s)" "cora_${b}_echo_rate" "$label" \
                "${peer}_echo_rate" k more 1e3
        done
        for peer in "libuv:libuv uv_tcp" "go:Go, GOMAXPROCS=1" "uvloop:Python uvloop Protocol"; do
            label=${peer#*:} peer=${peer%%:*}
            row "  server CPU per message, $b (us)" "cora_${b}_echo_cpu" "$label" "${peer}_echo_cpu" \
                us "less CPU"
        done
    done
    # Figures that explain the rows above, cora's two backends against the three peers.
    line "  server CPU, best round (% of a core)" \
        "$(fig cora_uring_echo_util) / $(fig cora_epoll_echo_util)" "libuv / Go / uvloop" \
        "$(fig libuv_echo_util) / $(fig go_echo_util) / $(fig uvloop_echo_util)" \
        "uring / epoll; the client's: $(fig cora_uring_echo_client_util) / $(fig cora_epoll_echo_client_util) / $(fig libuv_echo_client_util) / $(fig go_echo_client_util) / $(fig uvloop_echo_client_util)"
    line "  system calls per message (perf stat)" \
        "$(fig cora_uring_echo_syscalls) / $(fig cora_epoll_echo_syscalls)" "libuv / Go / uvloop" \
        "$(fig libuv_echo_syscalls) / $(fig go_echo_syscalls) / $(fig uvloop_echo_syscalls)" \
        "uring / epoll; io_uring does recv and send inside io_uring_enter"
    row "  user-space instr/msg, uring (callgrind)" cora_uring_echo_ir "libuv uv_tcp" libuv_echo_ir \
        ir fewer
    row "  user-space instr/msg, epoll (callgrind)" cora_epoll_echo_ir "libuv uv_tcp" libuv_echo_ir \
        ir fewer
    for b in uring epoll; do
        for peer in "go:Go, GOMAXPROCS=1" "libuv:libuv uv_tcp"; do
            label=${peer#*:} peer=${peer%%:*}
            rrow "bulk, 1 conn, median GB/s, $b" "cora_${b}_bulk_rate" "$label" "${peer}_bulk_rate" \
                GB/s more
        done
        for peer in "go:Go, GOMAXPROCS=1" "libuv:libuv uv_tcp"; do
            label=${peer#*:} peer=${peer%%:*}
            row "  receiver CPU per GB, $b (ms)" "cora_${b}_bulk_cpu" "$label" "${peer}_bulk_cpu" ms \
                "less CPU"
        done
    done
    # A disturbed echo round (another process on the machine) cannot be told from a
    # slow server by the rate alone; the client measures the rest of the machine's CPU.
    local t o
    for t in cora_uring cora_epoll libuv go uvloop; do
        o=${R[${t}_echo_other]:-}
        if [[ -n "$o" ]] && awk -v o="$o" 'BEGIN { exit !(o > 25) }'; then
            printf 'note: other work took %s%% of a core during the best echo round of %s: its figures are disturbed\n' \
                "$(num "$o")" "$t"
        fi
    done
}

# ---- Targets ----------------------------------------------------------------------

# PASS when `VALUE OP BOUND` holds (OP is <= or >=).
#   target TEXT VALUE OP BOUND DETAIL
target() {
    local verdict
    verdict=$(awk -v v="$2" -v op="$3" -v b="$4" 'BEGIN {
        if (v == "" || b == "") { print "n/a"; exit }
        ok = (op == "<=") ? (v + 0 <= b + 0) : (v + 0 >= b + 0)
        print ok ? "PASS" : "MISS" }')
    printf '%-5s %-54s %s\n' "$verdict" "$1" "$5"
}

# R[key] in millions, for rates.
mega() { if [[ -n "${R[$1]:-}" ]]; then num "$(awk -v v="${R[$1]}" 'BEGIN { print v / 1e6 }')"; else printf '?'; fi; }

# R[key] in thousands, for message rates.
kilo() { if [[ -n "${R[$1]:-}" ]]; then num "$(awk -v v="${R[$1]}" 'BEGIN { print v / 1e3 }')"; else printf '?'; fi; }

# The largest (smallest) of the figures R[key...] that exist; empty if none does.
max_of() { local k; for k in "$@"; do printf '%s\n' "${R[$k]:-}"; done |
    awk 'NF && (m == "" || $1 > m) { m = $1 } END { print m }'; }
min_of() { local k; for k in "$@"; do printf '%s\n' "${R[$k]:-}"; done |
    awk 'NF && (m == "" || $1 < m) { m = $1 } END { print m }'; }

ratio_of() { awk -v a="${R[$1]:-0}" -v b="${R[$2]:-0}" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }

targets() {
    printf 'Targets (from the foundation issue):\n'
    target "switch no slower than Boost.Context (ns)" "${R[cora_ctx_switch]:-}" "<=" \
        "${R[boost_fiber_switch]:-}" \
        "cora $(fig cora_ctx_switch) ns, Boost fiber $(fig boost_fiber_switch) ns"
    target "switch no slower than Boost.Context (instructions)" "${R[cora_ctx_switch_ir]:-}" \
        "<=" "${R[boost_fiber_switch_ir]:-}" \
        "cora $(fig cora_ctx_switch_ir), Boost fiber $(fig boost_fiber_switch_ir) per switch"
    local s b
    s=$(ratio_of go_spawn_serial cora_spawn_serial)
    b=$(ratio_of go_spawn_batch cora_spawn_batch)
    target "spawn+await at least 3x faster than Go, serial" "$s" ">=" 3 "Go / cora = $s"
    target "spawn+await at least 3x faster than Go, batches" "$b" ">=" 3 "Go / cora = $b"
    target "at most 4.5 KiB RSS per sleeping task, $rss_small" \
        "${R[cora_sleep_rss_$RSS_SMALL]:-}" "<=" 4.5 "$(fig "cora_sleep_rss_$RSS_SMALL") KiB"
    target "at most 4.5 KiB RSS per sleeping task, $rss_big" \
        "${R[cora_sleep_rss_$RSS_BIG]:-}" "<=" 4.5 "$(fig "cora_sleep_rss_$RSS_BIG") KiB"
    target "$timers timers at least as fast as libuv (no tasks, CPU)" \
        "${R[cora_timers_heap_cpu]:-}" "<=" "${R[libuv_timers_cpu]:-}" \
        "cora $(fig cora_timers_heap_cpu) s, libuv $(fig libuv_timers_cpu) s"
    target "$timers timers at least as fast as libuv (tasks, CPU)" \
        "${R[cora_timers_tasks_cpu]:-}" "<=" "${R[libuv_timers_cpu]:-}" \
        "cora $(fig cora_timers_tasks_cpu) s, libuv $(fig libuv_timers_cpu) s"
    printf '\nTargets (from the concurrency-toolkit issue):\n'
    target "chan ping-pong ahead of Go's unbuffered chan (msg/s)" "${R[cora_chan_pingpong_rate]:-}" \
        ">=" "${R[go_chan_pingpong_rate]:-}" \
        "cora $(mega cora_chan_pingpong_rate), Go $(mega go_chan_pingpong_rate) M msg/s"
    target "lock, $LOCK_TASKS tasks, ahead of Go's sync.Mutex (acq/s)" \
        "${R[cora_lock_contended_rate]:-}" ">=" "${R[go_lock_contended_rate]:-}" \
        "cora $(mega cora_lock_contended_rate), Go $(mega go_lock_contended_rate) M acq/s (yield inside)"
    target "lock, $LOCK_TASKS tasks, hand-overs ahead of Go's (per s)" \
        "${R[cora_lock_handover_rate]:-}" ">=" "${R[go_lock_handover_rate]:-}" \
        "cora $(fig cora_lock_handover_rate), Go $(fig go_lock_handover_rate) M hand-overs/s"
    printf '\nTargets (from the I/O issue):\n'
    local b best
    for b in uring epoll; do
        best=$(max_of libuv_echo_rate go_echo_rate)
        target "echo ahead of libuv and Go (msg/s), $b" "${R[cora_${b}_echo_rate]:-}" ">=" "$best" \
            "cora $(kilo cora_${b}_echo_rate), libuv $(kilo libuv_echo_rate), Go $(kilo go_echo_rate) k msg/s"
        best=$(min_of libuv_echo_cpu go_echo_cpu)
        target "echo server CPU/msg below libuv's and Go's, $b" "${R[cora_${b}_echo_cpu]:-}" "<=" \
            "$best" "cora $(fig cora_${b}_echo_cpu), libuv $(fig libuv_echo_cpu), Go $(fig go_echo_cpu) us/msg"
    done
    for b in uring epoll; do
        best=$(max_of go_bulk_rate libuv_bulk_rate)
        target "bulk within 10% of the best (median GB/s), $b" "${R[cora_${b}_bulk_rate]:-}" ">=" \
            "$(awk -v b="$best" 'BEGIN { if (b != "") print 0.9 * b }')" \
            "cora $(fig cora_${b}_bulk_rate), best peer $(num "${best:-0}") GB/s"
    done
}

{
    quick=""
    [[ "${BENCH_QUICK:-0}" == 1 ]] && quick=", QUICK sizes"
    printf '\ncora benchmarks, %s, %s, %s CPUs%s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" \
        "$(uname -srm)" "$(nproc)" "$quick"
    table
    printf '\n'
    targets
    printf '\nFull output: %s. How each figure is measured: bench/README.md.\n' "$LOG"
} | tee "$OUT/results.txt"
