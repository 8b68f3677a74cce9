#!/usr/bin/env bash
# bench/run.sh: builds cora's benchmarks and their peers, runs each pair in the same
# run, and prints every cora figure beside its peer's with the ratio, then the
# project's targets with PASS or MISS. `make bench` runs it after scripts/setup.sh
# has installed the peers (Boost.Context, libuv, Go, Python with uvloop, g++, nginx,
# Node.js, libcurl, gorilla/websocket, Python websockets) and the tools (valgrind,
# perf, wrk).
#
# Every benchmark program prints `RESULT <name> <value> <unit>` lines; this script
# collects them by name. bench/README.md says how each figure is measured.
#
#     bench/run.sh [all | core | net | http | ws ...]
#
# Sections (default: all of them): `core` (switches, spawn, memory, timers, ping-pong,
# lock), `net` (TCP echo and bulk transfer), `http` (HTTP server under wrk against
# nginx, Go and Node; HTTP client against Go and libcurl), `ws` (WebSocket echo and a
# broadcast to 1000 members, `cora serve` against Go's gorilla/websocket, Node's ws and
# Python's websockets, all under bench/ws_load.c). The table and the targets show the
# sections that ran.
#
# Environment:
#   BENCH_QUICK=1  smaller counts everywhere: a smoke test of the script (~25 s). The
#                  figures are noisier, and the RSS and timer rows use 10k/100k.
#   BENCH_BUILD=DIR the build directory (default build/bench), Go's cache inside it.
#   CORA_TOOL=PATH the `cora` command-line tool to benchmark in the http and ws
#                  sections (default: the `cora` target of this build, if it builds).
#
# Output: progress and each program's own summary on stderr, the table on stdout;
# every program's full output in bench/out/run.log, the table in bench/out/results.txt.
# Missed targets are reported, not fatal: the exit status says only whether every
# benchmark ran.
set -euo pipefail
cd "$(dirname "$0")/.."

SECTIONS=" "
for a in "${@:-all}"; do
    case "$a" in
    all) SECTIONS+="core net http ws " ;;
    core | net | http | ws) SECTIONS+="$a " ;;
    *) echo "usage: bench/run.sh [all | core | net | http | ws ...]" >&2; exit 2 ;;
    esac
done
want() { [[ "$SECTIONS" == *" $1 "* ]]; }

BUILD=${BENCH_BUILD:-build/bench} # BENCH_BUILD: another build directory
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
    HTTP_ROUNDS=1 HTTP_WARMUP=1 HTTP_SECS=2 HTTP_CLIENT_ROUNDS=3
    WS_ROUNDS=1 WS_WARMUP=0.5 WS_SECS=1.5 WS_BCAST_ROUNDS=1
else
    SWITCH_N=10000000 SWAP_N=1000000 YIELD_N=2000000 REPEATS=5
    SPAWN_N=1000000 PY_N=200000 RSS_SMALL=100000 RSS_BIG=1000000 TIMERS_N=1000000
    CG_N1=100000 CG_N2=200000
    PINGPONG_N=1000000 PY_PINGPONG_N=200000 LOCK_N=1000000 PY_LOCK_N=100000
    ECHO_ROUNDS=4 ECHO_WARMUP=0.25 ECHO_SECS=1.25 ECHO_CG1=0.5 ECHO_CG2=1 ECHO_SYS_SECS=0.6
    BULK_ROUNDS=32 BULK_BYTES=$((256 << 20))
    HTTP_ROUNDS=3 HTTP_WARMUP=1 HTTP_SECS=4 HTTP_CLIENT_ROUNDS=5
    WS_ROUNDS=3 WS_WARMUP=1 WS_SECS=4 WS_BCAST_ROUNDS=3
fi
BATCH=1000
LOCK_TASKS=100 # contending for one lock (the concurrency-toolkit issue's figure)
ECHO_CONNS=64 ECHO_SIZE=64 # the I/O issue's echo load
BULK_CHUNK=$((256 << 10))  # bytes per send(2) in the bulk transfer
# The servers under test get CPU 1, the load clients CPU 0 (bench/README.md).
SERVER_CPU=1 CLIENT_CPU=0
# The HTTP section (issue 5): 64 keep-alive connections; wrk and the clients get CPU 1,
# the servers (nginx for the clients) CPU 0.
HTTP_CONNS=64 HTTP_REQUESTS=10000
HTTP_SERVER_CPU=0 HTTP_CLIENT_CPU=1
# The WebSocket section (its issue): echo of 64-byte text messages over 64 connections,
# and one member's 200 messages of 64 bytes broadcast to a room of 1000. The servers
# get CPU 0 and ws_load CPU 1, as in the HTTP section.
WS_CONNS=64 WS_SIZE=64 WS_MEMBERS=1000 WS_MSGS=200
WS_SERVER_CPU=0 WS_CLIENT_CPU=1

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

# Servers run in the background; whatever happens, none outlives this script (nor
# the HTTP section's temporary directory).
SERVER_PIDS=()
HTTP_DIR=""
stop_servers() {
    local p
    for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${SERVER_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    SERVER_PIDS=()
}
cleanup() {
    stop_servers
    if [[ -n "$HTTP_DIR" ]]; then rm -rf "$HTTP_DIR"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Runs one benchmark: shows its human-readable lines, records its RESULT lines. A
# failure is said and returned instead of ending the script: for the programs whose
# absence leaves only their own rows out (cora's HTTP tool and client, still young).
run_soft() {
    local out
    printf '\n$ %s\n' "$*" >>"$LOG"
    if ! out=$("$@" 2>>"$LOG"); then
        printf '%s\n' "$out" >>"$LOG"
        say "failed: $*"
        tail -n 10 "$LOG" >&2
        return 1
    fi
    printf '%s\n' "$out" >>"$LOG"
    grep -v '^RESULT ' <<<"$out" | sed 's/^/  /' >&2 || true
    local tag name value rest
    while read -r tag name value rest; do
        if [[ "$tag" == RESULT ]]; then R[$name${RSUFFIX:-}]=$value; fi
    done <<<"$out"
}

# As run_soft, but a failure ends the script (with more of the log shown).
run() {
    run_soft "$@" || { tail -n 30 "$LOG" >&2; exit 1; }
}

# Builds one CMake target of $BUILD, output to the log; returns its status.
soft_build() {
    printf '\n$ cmake --build %s --target %s\n' "$BUILD" "$1" >>"$LOG"
    cmake --build "$BUILD" -j2 --target "$1" >>"$LOG" 2>&1
}

# A TCP port on 127.0.0.1 that nothing listens on, for a server that cannot be given
# port 0 (nginx): the kernel picks it, the socket is closed at once.
free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
        return
    fi
    local p
    while :; do
        p=$((20000 + RANDOM % 30000))
        (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
}

# Whether 127.0.0.1:PORT answers GET /hello with 200 and "Hello, World!" (bash's
# /dev/tcp; no curl needed).
http_check() {
    local resp
    resp=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" >&3
        cat <&3' _ "$1" 2>/dev/null) || true
    [[ "$resp" == "HTTP/1.1 200"* && "$resp" == *"Hello, World!"* ]]
}

# CPU time (user + system) in ns of process PID and its direct children (nginx's
# worker under its master), from /proc/PID/stat; -1 if PID is gone.
CLK_TCK=$(getconf CLK_TCK)
proc_tree_cpu_ns() {
    local pid=$1 ticks=0 p s f kids=() c
    [[ -r "/proc/$pid/stat" ]] || { echo -1; return; }
    for c in /proc/"$pid"/task/*/children; do
        read -r -a f <"$c" 2>/dev/null || true
        kids+=("${f[@]}")
    done
    for p in "$pid" "${kids[@]}"; do
        s=$(<"/proc/$p/stat") 2>/dev/null || continue
        s=${s##*) }
        read -r -a f <<<"$s"
        ticks=$((ticks + f[11] + f[12]))
    done
    echo $((ticks * 1000000000 / CLK_TCK))
}

# ---- Build ----------------------------------------------------------------------

say "building cora (Release) and the C/C++ peers in $BUILD"
quiet cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DCORA_BENCH=ON -DCORA_TESTS=OFF \
    -DCORA_EXAMPLES=OFF
targets=()
if want core; then
    targets+=(bench_yield bench_ctx_switch bench_spawn bench_sleep_rss bench_timers
        bench_timer_heap bench_pingpong bench_lock peer_boost_switch peer_swapcontext
        peer_libuv_timers)
fi
if want net; then
    targets+=(bench_echo_server bench_echo_client bench_bulk_client peer_libuv_echo)
fi
if ((${#targets[@]})); then quiet cmake --build "$BUILD" -j2 --target "${targets[@]}"; fi

# The HTTP section's programs are built one at a time: cora's HTTP server and client
# are young, and one that does not build leaves out only its own rows. `cora serve` is
# the server of the WebSocket section too.
CORA_TOOL=${CORA_TOOL:-}
HTTP_FAILED="" HTTP_CORA_SERVER_NOTE="" HTTP_CORA_CLIENT_NOTE=""
NODE=""
if want http; then
    soft_build peer_http_client_curl || say "libcurl client: did not build (see $LOG)"
    if ! soft_build bench_http_client; then
        say "cora client: not built (bench/http_client.c did not compile or link; see $LOG)"
        HTTP_CORA_CLIENT_NOTE="cora client not built"
    fi
fi
if want http || want ws; then
    if [[ -z "$CORA_TOOL" ]] && soft_build cora; then
        for c in "$BUILD/tools/cora/cora" "$BUILD/tools/cora" "$BUILD/cora"; do
            if [[ -f "$c" && -x "$c" ]]; then CORA_TOOL=$c; break; fi
        done
        [[ -n "$CORA_TOOL" ]] ||
            CORA_TOOL=$(find "$BUILD" -name cora -type f -perm -u+x -print -quit 2>/dev/null)
    fi
    if [[ -z "$CORA_TOOL" ]]; then
        say "cora: not built (no 'cora' target in $BUILD, or it failed to build; see $LOG): no cora server row"
        HTTP_CORA_SERVER_NOTE="cora: not built"
    fi
    NODE=$(command -v node || command -v nodejs || true)
    [[ -n "$NODE" ]] || say "node not installed: no Node.js row (scripts/setup.sh bench installs nodejs)"
fi
if want http; then
    command -v wrk >/dev/null || { say "wrk not installed (scripts/setup.sh bench installs it)"; exit 1; }
fi

# The WebSocket section's load generator, plain C with no cora in it (like the TCP echo
# client), built as bench/CMakeLists.txt's bench_ws_load. Its peers are optional, each
# leaving out only its own rows when missing: gorilla/websocket (Debian's GOPATH tree),
# Node's ws (npm ci in tests/ws, scripts/setup.sh), Python's websockets (Debian's, for
# the system Python).
WS_FAILED="" WS_LOAD="" WS_PY="" WS_NODE_WS=tests/ws/node_modules/ws/package.json
WS_GOPATH=/usr/share/gocode
if want ws; then
    soft_build bench_ws_load && WS_LOAD=$BUILD/bench/bench_ws_load
    for py in /usr/bin/python3 python3; do
        if "$py" -c 'import websockets' 2>/dev/null; then WS_PY=$py; break; fi
    done
    [[ -n "$WS_PY" ]] ||
        say "python3-websockets not installed: no Python rows (scripts/setup.sh bench installs it)"
    [[ -z "$NODE" || -f "$WS_NODE_WS" ]] ||
        say "Node's ws package not installed ($WS_NODE_WS): no Node.js rows (scripts/setup.sh runs npm ci in tests/ws)"
fi

say "building the Go peers ($(go version | awk '{ print $3 }'))"
export GOCACHE="$PWD/$BUILD/gocache" GOPATH="$PWD/$BUILD/gopath" GOFLAGS=""
if want core; then
    go_build "$BUILD/go_spawn" bench/peers/go/spawn.go
    go_build "$BUILD/go_sleep" bench/peers/go/sleep.go
    go_build "$BUILD/go_pingpong" bench/peers/go/pingpong.go
    go_build "$BUILD/go_lock" bench/peers/go/lock.go
fi
if want net; then go_build "$BUILD/go_echo" bench/peers/go/echo.go; fi
if want http; then
    go_build "$BUILD/go_http_server" bench/peers/go/http_server.go
    go_build "$BUILD/go_http_client" bench/peers/go/http_client.go
fi
# gorilla/websocket comes as Debian's source tree in $WS_GOPATH, not as a module: a
# GOPATH build (no network, no go.mod).
if want ws; then
    if [[ -d "$WS_GOPATH/src/github.com/gorilla/websocket" ]]; then
        printf '\n$ GO111MODULE=off GOPATH=%s go build -o %s bench/peers/go/ws_server.go\n' \
            "$WS_GOPATH" "$BUILD/go_ws_server" >>"$LOG"
        if ! GO111MODULE=off GOPATH="$WS_GOPATH" go build -o "$BUILD/go_ws_server" \
            bench/peers/go/ws_server.go >>"$LOG" 2>&1; then
            say "Go WebSocket server: did not build (see $LOG)"
            WS_FAILED+=" go-build"
        fi
    else
        say "gorilla/websocket not installed: no Go rows (scripts/setup.sh bench installs golang-github-gorilla-websocket-dev)"
    fi
fi
# A cora loop is one thread; Go gets one thread running Go code too.
export GOMAXPROCS=1

B=$BUILD/bench

# ---- Runs, each cora figure next to its peer's ------------------------------------

if want core; then
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

    # Debug mode (issue 7): the same two programs with CORA_DEBUG=1, named *_debug.
    # On, each switch reads the clock twice and takes an uncontended mutex, and each
    # suspension takes a backtrace. Its cost when off is in docs/debug.md ("Cost").
    say "the same yield and spawn in debug mode (CORA_DEBUG=1)"
    RSUFFIX=_debug CORA_DEBUG=1 run "$B/bench_yield" "$((YIELD_N / 2))" "$REPEATS"
    RSUFFIX=_debug CORA_DEBUG=1 run "$B/bench_spawn" "$SPAWN_N" "$BATCH"

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
fi

# ---- Network: TCP echo and bulk transfer over loopback ------------------------------

NET=$BUILD/net
mkdir -p "$NET"

if want net; then
    # Starts a server on CPU $SERVER_CPU, waits for its "listening <port>" line and adds
    # LABEL=PORT:PID to TARGETS, the clients' list of servers. Every server listens on
    # 127.0.0.1 only, on a free port the kernel picks (port 0).
    #   start_server LABEL COMMAND...
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
fi

# ---- HTTP: GET /hello under wrk, and 10k GETs from each client against nginx --------

if want http; then
    say "HTTP: servers on CPU $HTTP_SERVER_CPU, load (wrk, clients) on CPU $HTTP_CLIENT_CPU"
    HTTP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cora-bench-http.XXXXXX")
    chmod 755 "$HTTP_DIR" # nginx's worker runs as nobody when the master is root
    HTTP_SERVERS=()       # LABEL=PORT:PID, in the order they are visited

    # Starts one HTTP server on CPU $HTTP_SERVER_CPU and waits until it answers GET
    # /hello with 200 "Hello, World!". PORT is the port to use, or 0 when the server
    # is given port 0, so that the kernel picks a free one, and prints it: "listening
    # <port>" (the Go and Node peers) or "listening on http://H:P/" (`cora serve`).
    # Returns 1, with the reason said, if it does not come up within 10 s; the caller
    # decides whether that is fatal.
    #   start_http LABEL PORT COMMAND...
    start_http() {
        local label=$1 port=$2 out="$NET/http_$1.out" pid deadline=$((SECONDS + 10))
        shift 2
        rm -f "$out"
        printf '\n$ taskset -c %s %s &\n' "$HTTP_SERVER_CPU" "$*" >>"$LOG"
        taskset -c "$HTTP_SERVER_CPU" "$@" >"$out" 2>>"$LOG" &
        pid=$!
        SERVER_PIDS+=("$pid")
        while ((SECONDS < deadline)); do
            if [[ "$port" == 0 ]]; then
                # "listening <port>" (the peers), "listening on http://H:P/" (cora)
                port=$(awk '$1 == "listening" && $2 != "on" { print $2 }
                    $1 == "listening" && $2 == "on" { n = split($3, a, ":"); sub("/.*", "", a[n]); print a[n] }' \
                    "$out" 2>/dev/null || true)
                port=${port:-0}
            fi
            if [[ "$port" != 0 ]] && http_check "$port"; then
                HTTP_SERVERS+=("$label=$port:$pid")
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        say "HTTP server $label did not answer GET /hello: $*"
        cat "$out" >>"$LOG" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        unset 'SERVER_PIDS[-1]'
        return 1
    }

    # nginx with a configuration of its own in $HTTP_DIR: one worker, no access log,
    # every path it writes (error log, pid, temp directories) in $HTTP_DIR, so it needs
    # nothing of /etc/nginx or /var/log/nginx. `-e` sends the errors of start-up there
    # too (before the configuration is read, nginx opens its built-in error log).
    nginx_conf() {
        local port=$1 temps="" m
        for m in proxy fastcgi uwsgi scgi; do
            # A module built without has no such directive (nginx-light lacks some).
            nginx -V 2>&1 | grep -q -- "--without-http_${m}_module" ||
                temps+="    ${m}_temp_path $HTTP_DIR/$m;"$'\n'
        done
        cat <<NGINX
worker_processes 1;
daemon off;
pid $HTTP_DIR/nginx.pid;
error_log $HTTP_DIR/nginx-error.log warn;
events {
    worker_connections 1024;
}
http {
    access_log off;
    client_body_temp_path $HTTP_DIR/body;
$temps    keepalive_requests 1000000;
    keepalive_timeout 65;
    server {
        listen 127.0.0.1:$port;
        location = /hello {
            default_type text/plain;
            return 200 "Hello, World!";
        }
    }
}
NGINX
    }

    NGINX=$(command -v nginx || echo /usr/sbin/nginx)
    nginx_port=$(free_port)
    nginx_conf "$nginx_port" >"$HTTP_DIR/nginx.conf"
    nginx_ok=1
    start_http nginx "$nginx_port" "$NGINX" -p "$HTTP_DIR" -e "$HTTP_DIR/nginx-error.log" \
        -c "$HTTP_DIR/nginx.conf" || nginx_ok=0
    if [[ $nginx_ok == 0 ]]; then
        cat "$HTTP_DIR/nginx-error.log" >>"$LOG" 2>/dev/null || true
        HTTP_FAILED+=" nginx"
    else
        nginx_pid=${SERVER_PIDS[-1]}
    fi

    if [[ -n "$CORA_TOOL" ]]; then
        # `cora` is the backend cora picks by itself (io_uring where the kernel has it);
        # `cora_epoll` the same server on the other backend, as the echo rows show both.
        if ! start_http cora 0 "$CORA_TOOL" serve --host 127.0.0.1 --port 0; then
            say "cora: 'cora serve' failed (see $LOG): no cora server row"
            HTTP_CORA_SERVER_NOTE="cora serve failed"
        fi
        start_http cora_epoll 0 env CORA_BACKEND=epoll "$CORA_TOOL" serve --host 127.0.0.1 \
            --port 0 || HTTP_CORA_SERVER_NOTE="cora serve (epoll) failed"
    fi
    start_http go "0" env GOMAXPROCS=1 "$BUILD/go_http_server" 0 || HTTP_FAILED+=" go-server"
    if [[ -n "$NODE" ]]; then
        start_http node "0" "$NODE" bench/peers/node/http_server.js 0 || HTTP_FAILED+=" node"
    fi

    # One wrk round against one server: a warm-up, then the counted window, with the
    # server's CPU time (its process and children: nginx's worker) read around it.
    #   wrk_round LABEL PORT PID
    # The machine's busy time in ns, all CPUs (/proc/stat: all but idle and iowait).
    machine_busy_ns() {
        awk -v t="$CLK_TCK" '$1 == "cpu" { printf "%.0f", ($2 + $3 + $4 + $7 + $8 + $9) * 1e9 / t; exit }' /proc/stat
    }

    # One wrk round against one server: a warm-up, then the counted window. Around the
    # window: the server's CPU time (its process and children: nginx's worker), wrk's
    # (bash's `time`), and the machine's busy time; "other work" is the rest, work of
    # neither (other processes, interrupts charged to nobody).
    #   wrk_round LABEL PORT PID
    wrk_round() {
        local label=$1 port=$2 pid=$3 out c0 c1 m0 m1 t0 t1 rate n cpu util wrk_cpu other
        local url="http://127.0.0.1:$port/hello" TIMEFORMAT='%3U %3S'
        taskset -c "$HTTP_CLIENT_CPU" wrk -t1 -c"$HTTP_CONNS" -d"${HTTP_WARMUP}s" "$url" >/dev/null 2>&1 || true
        printf '\n$ taskset -c %s wrk -t1 -c%s -d%ss --latency %s  (%s)\n' "$HTTP_CLIENT_CPU" \
            "$HTTP_CONNS" "$HTTP_SECS" "$url" "$label" >>"$LOG"
        c0=$(proc_tree_cpu_ns "$pid") m0=$(machine_busy_ns) t0=$(date +%s%N)
        { time taskset -c "$HTTP_CLIENT_CPU" wrk -t1 -c"$HTTP_CONNS" -d"${HTTP_SECS}s" --latency \
            "$url" >"$NET/wrk.out" 2>&1; } 2>"$NET/wrk.time" || true
        c1=$(proc_tree_cpu_ns "$pid") m1=$(machine_busy_ns) t1=$(date +%s%N)
        out=$(<"$NET/wrk.out")
        wrk_cpu=$(awk '{ printf "%.0f", ($1 + $2) * 1e9 }' "$NET/wrk.time")
        printf '%s\n' "$out" >>"$LOG"
        rate=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
        n=$(awk '$2 == "requests" && $3 == "in" { print $1 }' <<<"$out")
        if [[ -z "$rate" || -z "$n" ]] || grep -qE '^ *Non-2xx|Socket errors' <<<"$out"; then
            say "  $label: wrk reported errors or no rate (see $LOG)"
            if [[ -z "$rate" || -z "$n" ]]; then return 0; fi
        fi
        # Per request: over the requests wrk counted; shares of a core: over the wall
        # time of the whole wrk run (its connects and teardown included).
        cpu=$(awk -v a="$c0" -v b="$c1" -v n="$n" \
            'BEGIN { if (a >= 0 && b >= 0 && n > 0) printf "%.3f", (b - a) / 1e3 / n }')
        util=$(awk -v a="$c0" -v b="$c1" -v t="$((t1 - t0))" \
            'BEGIN { if (a >= 0 && b >= 0) printf "%.0f", (b - a) * 100 / t }')
        other=$(awk -v m="$((m1 - m0))" -v srv="$((c1 - c0))" -v w="$wrk_cpu" -v t="$((t1 - t0))" \
            'BEGIN { o = (m - srv - w) * 100 / t; printf "%.0f", o < 0 ? 0 : o }')
        say "  $label: $(printf '%.0f' "$rate") req/s, server CPU $cpu us/req ($util% of a core), wrk $(awk -v w="$wrk_cpu" -v t="$((t1 - t0))" 'BEGIN { printf "%.0f", w * 100 / t }')%, other work $other%, p99 $(awk '$1 == "99%" { print $2 }' <<<"$out")"
        R[http_${label}_cpu_r$round]=$cpu # for the paired comparison below
        # Each server's figures are those of its best round.
        if awk -v r="$rate" -v b="${R[http_${label}_rate]:-0}" 'BEGIN { exit !(r > b) }'; then
            R[http_${label}_rate]=$rate R[http_${label}_cpu]=$cpu R[http_${label}_util]=$util
            R[http_${label}_other]=$other
            R[http_${label}_p99]=$(awk '$1 == "99%" { print $2 }' <<<"$out")
        fi
    }

    say "HTTP server: GET /hello, wrk -t1 -c$HTTP_CONNS, ${HTTP_WARMUP} s warm-up + ${HTTP_SECS} s, $HTTP_ROUNDS round(s), best round"
    for ((round = 0; round < HTTP_ROUNDS; round++)); do
        order=("${HTTP_SERVERS[@]}")
        if ((round % 2)); then # every other round in reverse order
            order=()
            for ((i = ${#HTTP_SERVERS[@]} - 1; i >= 0; i--)); do order+=("${HTTP_SERVERS[i]}"); done
        fi
        for t in "${order[@]}"; do
            label=${t%%=*} port=${t#*=} port=${port%%:*} pid=${t##*:}
            wrk_round "$label" "$port" "$pid"
        done
    done

    # The best rounds of two servers may come from different phases of a machine
    # whose speed drifts (a quarter, on this one, between one round and the next):
    # so each round also compares cora's CPU per request with nginx's in the same
    # round (they run one after the other), and the median of those ratios is the
    # figure the drift does not move.
    for lbl in cora cora_epoll; do
        ratios=""
        for ((round = 0; round < HTTP_ROUNDS; round++)); do
            a=${R[http_nginx_cpu_r$round]:-} b=${R[http_${lbl}_cpu_r$round]:-}
            [[ -n "$a" && -n "$b" ]] && ratios+="$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", a / b }') "
        done
        [[ -z "$ratios" ]] && continue
        R[http_${lbl}_paired_list]=$ratios
        R[http_${lbl}_paired]=$(tr ' ' '\n' <<<"$ratios" | awk 'NF' | sort -n |
            awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
        say "  $lbl against nginx, CPU per request in the same round (nginx / $lbl): $ratios-> median ${R[http_${lbl}_paired]}"
    done

    # Runs one client program (run_soft) and records, over the program's whole run,
    # nginx's CPU as a share of a core, R[WHO_http_client_nginx_util] (near 100%: nginx
    # rather than the client set the rate), and other work, R[WHO_http_client_other]:
    # the machine's busy time less nginx's and the client's (bash's `time`).
    #   client_run WHO COMMAND...
    client_run() {
        local who=$1 c0 c1 t0 t1 m0 m1 cl rc=0 TIMEFORMAT='%3U %3S'
        shift
        c0=$(proc_tree_cpu_ns "$nginx_pid") m0=$(machine_busy_ns) t0=$(date +%s%N)
        { time run_soft "$@" 2>&3; } 3>&2 2>"$NET/client.time" || rc=1
        c1=$(proc_tree_cpu_ns "$nginx_pid") m1=$(machine_busy_ns) t1=$(date +%s%N)
        cl=$(awk 'END { printf "%.0f", ($1 + $2) * 1e9 }' "$NET/client.time")
        R[${who}_http_client_nginx_util]=$(awk -v a="$c0" -v b="$c1" -v t="$((t1 - t0))" \
            'BEGIN { if (a >= 0 && b >= 0 && t > 0) printf "%.0f", (b - a) * 100 / t }')
        R[${who}_http_client_other]=$(awk -v m="$((m1 - m0))" -v n="$((c1 - c0))" -v c="$cl" \
            -v t="$((t1 - t0))" 'BEGIN { o = (m - n - c) * 100 / t; printf "%.0f", o < 0 ? 0 : o }')
        return $rc
    }

    # The clients, one after another, against the same nginx: each makes
    # HTTP_REQUESTS GETs over HTTP_CONNS connections, HTTP_CLIENT_ROUNDS times.
    if [[ $nginx_ok == 1 ]]; then
        url="http://127.0.0.1:$nginx_port/hello"
        say "HTTP client: $HTTP_REQUESTS x GET /hello over $HTTP_CONNS keep-alive connections to nginx, best of $HTTP_CLIENT_ROUNDS"
        if [[ -x "$B/bench_http_client" ]]; then
            client_run cora taskset -c "$HTTP_CLIENT_CPU" "$B/bench_http_client" "$url" \
                "$HTTP_REQUESTS" "$HTTP_CONNS" "$HTTP_CLIENT_ROUNDS" ||
                { say "cora client: failed (see $LOG)"; HTTP_CORA_CLIENT_NOTE="cora client failed"; }
        else
            say "cora client: not built (bench_http_client did not compile or link; see $LOG)"
        fi
        client_run go taskset -c "$HTTP_CLIENT_CPU" env GOMAXPROCS=1 "$BUILD/go_http_client" "$url" \
            "$HTTP_REQUESTS" "$HTTP_CONNS" "$HTTP_CLIENT_ROUNDS" go || HTTP_FAILED+=" go-client"
        # Go's default GOMAXPROCS is the number of CPUs it may use: 1 under taskset.
        client_run godefault taskset -c "$HTTP_CLIENT_CPU" env -u GOMAXPROCS "$BUILD/go_http_client" "$url" \
            "$HTTP_REQUESTS" "$HTTP_CONNS" "$HTTP_CLIENT_ROUNDS" godefault || HTTP_FAILED+=" go-client"
        if [[ -x "$B/peer_http_client_curl" ]]; then
            client_run curl taskset -c "$HTTP_CLIENT_CPU" "$B/peer_http_client_curl" "$url" \
                "$HTTP_REQUESTS" "$HTTP_CONNS" "$HTTP_CLIENT_ROUNDS" || HTTP_FAILED+=" curl-client"
        else
            say "libcurl client: not built (libcurl4-openssl-dev missing?)"
            HTTP_FAILED+=" curl-client"
        fi
    else
        say "nginx did not start: no HTTP client rows (see $LOG)"
    fi
    stop_servers
    if [[ -n "$HTTP_FAILED" ]]; then say "HTTP: these peers failed:$HTTP_FAILED"; fi
fi

# ---- WebSocket: echo and a broadcast to 1000 members under ws_load -------------------

if want ws; then
    say "WebSocket: servers on CPU $WS_SERVER_CPU, ws_load on CPU $WS_CLIENT_CPU"
    # A room of 1000 members is 1000 sockets in each server and in ws_load.
    ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    WS_SERVERS=() # LABEL:PID=ws://127.0.0.1:PORT, ws_load's targets without the path

    # Starts one WebSocket server on CPU $WS_SERVER_CPU, given port 0, and waits (10 s at
    # most) for the port it prints: "listening <port>" (the peers) or "listening on
    # http://H:P/" (`cora serve`). A server that does not come up is said and noted in
    # WS_FAILED; the others go on.
    #   start_ws LABEL COMMAND...
    start_ws() {
        local label=$1 out="$NET/ws_$1.out" pid port="" deadline=$((SECONDS + 10))
        shift
        rm -f "$out"
        printf '\n$ taskset -c %s %s &\n' "$WS_SERVER_CPU" "$*" >>"$LOG"
        taskset -c "$WS_SERVER_CPU" "$@" >"$out" 2>>"$LOG" &
        pid=$!
        SERVER_PIDS+=("$pid")
        while ((SECONDS < deadline)); do
            port=$(awk '$1 == "listening" && $2 != "on" { print $2 }
                $1 == "listening" && $2 == "on" { n = split($3, a, ":"); sub("/.*", "", a[n]); print a[n] }' \
                "$out" 2>/dev/null || true)
            if [[ -n "$port" ]]; then
                WS_SERVERS+=("$label:$pid=ws://127.0.0.1:$port")
                return 0
            fi
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        say "WebSocket server $label did not start: $*"
        cat "$out" >>"$LOG" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
        unset 'SERVER_PIDS[-1]'
        WS_FAILED+=" $label"
        return 1
    }

    # Runs ws_load: shows its summary lines and the reason of any server's failure,
    # records its RESULT lines. ws_load measures every server it can and exits 1 if one
    # failed; the rows of the others stand, and the missing rates are checked below.
    ws_run() {
        local out rc=0 tag name value rest
        printf '\n$ %s\n' "$*" >>"$LOG"
        out=$("$@" 2>"$NET/ws_load.err") || rc=$?
        cat "$NET/ws_load.err" >>"$LOG"
        printf '%s\n' "$out" >>"$LOG"
        grep -v '^RESULT ' <<<"$out" | sed 's/^/  /' >&2 || true
        sed -n 's/^ws_load: /  ws_load: /p' "$NET/ws_load.err" >&2 || true
        while read -r tag name value rest; do
            if [[ "$tag" == RESULT ]]; then R[$name]=$value; fi
        done <<<"$out"
        return $rc
    }

    # cora on both backends, as in the TCP echo: io_uring is what `cora serve` picks
    # where the kernel allows it.
    if [[ -n "$CORA_TOOL" ]]; then
        for b in uring epoll; do
            start_ws "cora_$b" env CORA_BACKEND=$b "$CORA_TOOL" serve --host 127.0.0.1 --port 0 || true
        done
    fi
    if [[ -x "$BUILD/go_ws_server" ]]; then
        start_ws go env GOMAXPROCS=1 "$BUILD/go_ws_server" 0 || true
    fi
    if [[ -n "$NODE" && -f "$WS_NODE_WS" ]]; then
        start_ws node "$NODE" bench/peers/node/ws_server.js 0 || true
    fi
    if [[ -n "$WS_PY" ]]; then
        start_ws python "$WS_PY" bench/peers/python/ws_server.py 0 || true
    fi

    if ((${#WS_SERVERS[@]})); then
        say "WebSocket echo: $WS_CONNS connections x $WS_SIZE-byte text messages, one in flight each, ${WS_WARMUP} s warm-up + ${WS_SECS} s, $WS_ROUNDS round(s), best round"
        ws_run taskset -c "$WS_CLIENT_CPU" "$WS_LOAD" echo -c "$WS_CONNS" -s "$WS_SIZE" \
            -w "$WS_WARMUP" -d "$WS_SECS" -r "$WS_ROUNDS" "${WS_SERVERS[@]/%//ws}" || true
        say "WebSocket broadcast: $WS_MEMBERS members, one sends $WS_MSGS x $WS_SIZE-byte text messages, $WS_BCAST_ROUNDS round(s), best round"
        ws_run taskset -c "$WS_CLIENT_CPU" "$WS_LOAD" broadcast -m "$WS_MEMBERS" -k "$WS_MSGS" \
            -s "$WS_SIZE" -r "$WS_BCAST_ROUNDS" -t 60 "${WS_SERVERS[@]/%//chat/ws}" || true
        for t in "${WS_SERVERS[@]}"; do
            label=${t%%:*}
            [[ -n "${R[${label}_ws_echo_rate]:-}" ]] || WS_FAILED+=" $label-echo"
            [[ -n "${R[${label}_ws_bcast_rate]:-}" ]] || WS_FAILED+=" $label-broadcast"
        done
    fi
    stop_servers
    if [[ -n "$WS_FAILED" ]]; then say "WebSocket: these failed:$WS_FAILED (see $LOG)"; fi
fi

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

# The HTTP section's rows (issue 5): rates, so the ratio is cora / peer.
http_rows() {
    local peer label
    for peer in "nginx:nginx, 1 worker" "go:Go net/http, GOMAXPROCS=1" "node:Node.js http"; do
        label=${peer#*:} peer=${peer%%:*}
        rrow "HTTP server, GET /hello, wrk -c$HTTP_CONNS (k req/s)" http_cora_rate "$label" \
            "http_${peer}_rate" k more 1e3
    done
    for peer in "nginx:nginx, 1 worker" "go:Go net/http, GOMAXPROCS=1" "node:Node.js http"; do
        label=${peer#*:} peer=${peer%%:*}
        row "  server CPU per request (us)" http_cora_cpu "$label" "http_${peer}_cpu" us "less CPU"
    done
    rrow "HTTP server, epoll, GET /hello (k req/s)" http_cora_epoll_rate "nginx, 1 worker" \
        http_nginx_rate k more 1e3
    row "  server CPU per request, epoll (us)" http_cora_epoll_cpu "nginx, 1 worker" \
        http_nginx_cpu us "less CPU"
    line "  CPU/request, nginx / cora, same round" "${R[http_cora_paired]:-?}" "epoll: ${R[http_cora_epoll_paired]:-?}" \
        "" "median of the rounds (above 1: cora less); ${R[http_cora_paired_list]:-}/ ${R[http_cora_epoll_paired_list]:-}"
    line "  server CPU, best round (% of a core)" "$(fig http_cora_util)" "nginx / Go / Node" \
        "$(fig http_nginx_util) / $(fig http_go_util) / $(fig http_node_util)" \
        "below ~95%: wrk, not the server, set the rate"
    line "  latency p99, best round (wrk)" "${R[http_cora_p99]:-?}" "nginx / Go / Node" \
        "${R[http_nginx_p99]:-?} / ${R[http_go_p99]:-?} / ${R[http_node_p99]:-?}" ""
    [[ -n "$HTTP_CORA_SERVER_NOTE" ]] && line "  ($HTTP_CORA_SERVER_NOTE)" "" "" "" ""
    local n
    n=$(awk -v n="$HTTP_REQUESTS" 'BEGIN { printf "%gk", n / 1e3 }')
    rrow "HTTP client, $n GET / $HTTP_CONNS conns (k req/s)" cora_http_client_rate \
        "Go net/http, GOMAXPROCS=1" go_http_client_rate k more 1e3
    rrow "HTTP client, $n GET / $HTTP_CONNS conns (k req/s)" cora_http_client_rate \
        "libcurl multi" curl_http_client_rate k more 1e3
    row "  client CPU per request (us)" cora_http_client_cpu "Go net/http, GOMAXPROCS=1" \
        go_http_client_cpu us "less CPU"
    row "  client CPU per request (us)" cora_http_client_cpu "libcurl multi" curl_http_client_cpu \
        us "less CPU"
    line "  nginx CPU during the run (% of a core)" "$(fig cora_http_client_nginx_util)" \
        "Go / libcurl" "$(fig go_http_client_nginx_util) / $(fig curl_http_client_nginx_util)" \
        "near 100%: nginx, not the client, set the rate"
    line "  Go with its default GOMAXPROCS (k req/s)" "" "Go, GOMAXPROCS=${R[godefault_http_client_procs]:-?}" \
        "$(kilo godefault_http_client_rate) k" "$(fig godefault_http_client_cpu) us CPU/req; pinned to one CPU, Go's default is 1"
    [[ -n "$HTTP_CORA_CLIENT_NOTE" ]] && line "  ($HTTP_CORA_CLIENT_NOTE)" "" "" "" ""
    local t o
    for t in cora nginx go node; do
        o=${R[http_${t}_other]:-}
        if [[ -n "$o" ]] && awk -v o="$o" 'BEGIN { exit !(o > 25) }'; then
            printf 'note: other work took %s%% of a core during the best wrk round of %s: its figures are disturbed\n' \
                "$o" "$t"
        fi
    done
    for t in cora go godefault curl; do
        o=${R[${t}_http_client_other]:-}
        if [[ -n "$o" ]] && awk -v o="$o" 'BEGIN { exit !(o > 25) }'; then
            printf 'note: other work took %s%% of a core during the run of the %s HTTP client: its figures are disturbed\n' \
                "$o" "$t"
        fi
    done
    return 0
}

# The WebSocket section's rows: rates, so the ratio is cora / peer; CPU per message or
# delivery, peer / cora. cora on each backend against the three peers.
WS_PEERS=("go:Go gorilla/websocket" "node:Node.js ws" "python:Python websockets")
# Per backend: the rate rows, then the CPU rows, of one test (echo or bcast).
ws_table() { # test, title, rate unit, what one unit of work is called
    local b peer label
    for b in uring epoll; do
        for peer in "${WS_PEERS[@]}"; do
            label=${peer#*:} peer=${peer%%:*}
            rrow "$2, $b (k $3)" "cora_${b}_ws_$1_rate" "$label" "${peer}_ws_$1_rate" k more 1e3
        done
        for peer in "${WS_PEERS[@]}"; do
            label=${peer#*:} peer=${peer%%:*}
            row "  server CPU per $4, $b (us)" "cora_${b}_ws_$1_cpu" "$label" \
                "${peer}_ws_$1_cpu" us "less CPU"
        done
    done
}

ws_rows() {
    local t o
    ws_table echo "WebSocket echo $WS_CONNS x $WS_SIZE B" "msg/s" message
    line "  round trip p50 / p99 (us)" \
        "$(fig cora_uring_ws_echo_p50)/$(fig cora_uring_ws_echo_p99)" "Go / Node / Python" \
        "$(fig go_ws_echo_p50)/$(fig go_ws_echo_p99) / $(fig node_ws_echo_p50)/$(fig node_ws_echo_p99) / $(fig python_ws_echo_p50)/$(fig python_ws_echo_p99)" \
        "cora uring; epoll $(fig cora_epoll_ws_echo_p50)/$(fig cora_epoll_ws_echo_p99)"
    line "  server CPU, best round (% of a core)" \
        "$(fig cora_uring_ws_echo_util) / $(fig cora_epoll_ws_echo_util)" "Go / Node / Python" \
        "$(fig go_ws_echo_util) / $(fig node_ws_echo_util) / $(fig python_ws_echo_util)" \
        "uring / epoll; ws_load's: $(fig cora_uring_ws_echo_client_util) / $(fig cora_epoll_ws_echo_client_util) / $(fig go_ws_echo_client_util) / $(fig node_ws_echo_client_util) / $(fig python_ws_echo_client_util)"
    ws_table bcast "WebSocket broadcast to $WS_MEMBERS" "deliv/s" delivery
    line "  server CPU, best round (% of a core)" \
        "$(fig cora_uring_ws_bcast_util) / $(fig cora_epoll_ws_bcast_util)" "Go / Node / Python" \
        "$(fig go_ws_bcast_util) / $(fig node_ws_bcast_util) / $(fig python_ws_bcast_util)" \
        "uring / epoll; ws_load's: $(fig cora_uring_ws_bcast_client_util) / $(fig cora_epoll_ws_bcast_client_util) / $(fig go_ws_bcast_client_util) / $(fig node_ws_bcast_client_util) / $(fig python_ws_bcast_client_util)"
    line "  joining: join notices per second (k)" \
        "$(kilo cora_uring_ws_bcast_join_rate) / $(kilo cora_epoll_ws_bcast_join_rate)" \
        "Go / Node / Python" \
        "$(kilo go_ws_bcast_join_rate) / $(kilo node_ws_bcast_join_rate) / $(kilo python_ws_bcast_join_rate)" \
        "uring / epoll; $WS_MEMBERS members connecting, each join announced to all: $((WS_MEMBERS * (WS_MEMBERS + 1) / 2)) notices"
    for t in cora_uring cora_epoll go node python; do
        for b in echo bcast; do
            o=${R[${t}_ws_${b}_other]:-}
            if [[ -n "$o" ]] && awk -v o="$o" 'BEGIN { exit !(o > 25) }'; then
                printf 'note: other work took %s%% of a core during the best WebSocket %s round of %s: its figures are disturbed\n' \
                    "$(num "$o")" "${b/bcast/broadcast}" "$t"
            fi
        done
    done
    return 0
}

table() {
    line benchmark cora peer "peer figure" "ratio (peer / cora)"
    printf '%s\n' "$(printf '%.0s-' {1..130})"
    if want core; then
        row "context switch, raw (ns/switch)" cora_ctx_switch "Boost fiber" boost_fiber_switch ns faster
        row "context switch, raw (ns/switch)" cora_ctx_switch "Boost jump_fcontext" boost_fcontext_switch ns faster
        row "context switch, raw (ns/switch)" cora_ctx_switch "glibc swapcontext" swapcontext_switch ns faster
        row "context switch, raw (instr/switch, callgrind)" cora_ctx_switch_ir "Boost fiber" boost_fiber_switch_ir ir fewer
        row "context switch, raw (instr/switch, callgrind)" cora_ctx_switch_ir "Boost jump_fcontext" boost_fcontext_switch_ir ir fewer
        solo "cora_yield, 2 tasks (ns/yield)" cora_yield ns "task->scheduler->task: 2 switches + scheduling"
        solo "cora_yield, 2 tasks (instr/yield, callgrind)" cora_yield_ir ir "the same, in instructions"
        row "cora_yield, debug mode on (ns/yield)" cora_yield_debug "debug mode off" cora_yield ns faster
        row "spawn+await serial, debug mode on (ns/task)" cora_spawn_serial_debug "debug mode off" \
            cora_spawn_serial ns faster
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
    fi
    if want net; then
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
    fi
    if want http; then
        http_rows
    fi
    if want ws; then
        ws_rows
    fi
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

http_targets() {
    printf '\nTargets (from the HTTP issue):\n'
    target "HTTP server ahead of nginx, 1 worker (req/s)" "${R[http_cora_rate]:-}" ">=" \
        "${R[http_nginx_rate]:-}" \
        "cora $(kilo http_cora_rate), nginx $(kilo http_nginx_rate) k req/s"
    target "HTTP server CPU per request below nginx's (us)" "${R[http_cora_cpu]:-}" "<=" \
        "${R[http_nginx_cpu]:-}" \
        "cora $(fig http_cora_cpu), nginx $(fig http_nginx_cpu) us/req (wrk near its ceiling: see README)"
    target "HTTP server ahead of nginx, epoll (req/s)" "${R[http_cora_epoll_rate]:-}" ">=" \
        "${R[http_nginx_rate]:-}" \
        "cora $(kilo http_cora_epoll_rate), nginx $(kilo http_nginx_rate) k req/s"
    target "HTTP server CPU per request below nginx's, epoll (us)" "${R[http_cora_epoll_cpu]:-}" \
        "<=" "${R[http_nginx_cpu]:-}" \
        "cora $(fig http_cora_epoll_cpu), nginx $(fig http_nginx_cpu) us/req"
    target "HTTP server CPU/request below nginx's, same rounds" "${R[http_cora_paired]:-}" ">=" \
        "1.0" "median nginx / cora ${R[http_cora_paired]:-?} (rounds: ${R[http_cora_paired_list]:-})"
    target "HTTP server CPU/request below nginx's, same rounds, epoll" "${R[http_cora_epoll_paired]:-}" \
        ">=" "1.0" "median nginx / cora ${R[http_cora_epoll_paired]:-?} (rounds: ${R[http_cora_epoll_paired_list]:-})"
    target "HTTP client ahead of Go net/http (req/s)" "${R[cora_http_client_rate]:-}" ">=" \
        "${R[go_http_client_rate]:-}" \
        "cora $(kilo cora_http_client_rate), Go $(kilo go_http_client_rate) k req/s"
    target "HTTP client ahead of libcurl multi (req/s)" "${R[cora_http_client_rate]:-}" ">=" \
        "${R[curl_http_client_rate]:-}" \
        "cora $(kilo cora_http_client_rate), libcurl $(kilo curl_http_client_rate) k req/s"
}

# "Ahead of all three": cora's rate against the best of the peers that ran; a peer
# that did not is named in the detail.
ws_targets() {
    printf '\nTargets (from the WebSocket issue):\n'
    local b kind best missing peer unit
    missing=""
    for peer in go node python; do
        [[ -n "${R[${peer}_ws_echo_rate]:-}" && -n "${R[${peer}_ws_bcast_rate]:-}" ]] ||
            missing+=" $peer"
    done
    [[ -z "$missing" ]] || missing="; missing:$missing"
    for kind in echo bcast; do
        unit="k msg/s"
        [[ $kind == bcast ]] && unit="k deliveries/s"
        for b in uring epoll; do
            best=$(max_of go_ws_${kind}_rate node_ws_${kind}_rate python_ws_${kind}_rate)
            target "WS $([[ $kind == echo ]] && echo "echo" || echo "broadcast to $WS_MEMBERS") ahead of Go, Node, Python, $b" \
                "${R[cora_${b}_ws_${kind}_rate]:-}" ">=" "$best" \
                "cora $(kilo cora_${b}_ws_${kind}_rate), Go $(kilo go_ws_${kind}_rate), Node $(kilo node_ws_${kind}_rate), Python $(kilo python_ws_${kind}_rate) $unit$missing"
        done
    done
}

targets() {
    if want core; then
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
    fi
    if want net; then
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
    fi
    if want http; then
        http_targets
    fi
    if want ws; then
        ws_targets
    fi
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
# The HTTP peers (not cora's young tool and client) and every WebSocket server that was
# started must all have run.
[[ -z "$HTTP_FAILED$WS_FAILED" ]] || exit 1
