#!/usr/bin/env bash
# scripts/test.sh: everything `make test` runs. Each stage builds its own tree under
# build/ and runs its ctest suite (every case once per backend):
#   asan       the whole suite, assembly switch, ASan + UBSan
#   ucontext   the whole suite on the portable switch, ASan + UBSan
#   tsan       the whole suite under ThreadSanitizer (cross-thread calls, loops on threads)
#   release    no sanitizer: one million sleeping tasks on each backend
#   valgrind   the release suite under memcheck (valgrind follows the stack switches)
#   install    cmake --install, then a program built through pkg-config and one
#              through find_package(cora)
#   aarch64    the switch test cross-compiled and run under qemu-user
# Ends with one line "test: N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
mkdir -p build
jobs=${JOBS:-2}
stages=${STAGES:-"asan ucontext tsan release valgrind install aarch64"}
total_pass=0
total_fail=0
failed_stages=()

# Cases with tens of thousands of live tasks: beyond what TSan and valgrind track.
many_tasks='many_sleeping_tasks|guard_budget_exhausted|ten_thousand_connections'

note() { printf '\n=== %s\n' "$*"; }

configure_build() { # dir, cmake args...
  local dir=$1; shift
  cmake -S "$root" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >"$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
}

# Runs ctest in a build dir and adds its counts to the totals.
run_ctest() { # stage, dir, ctest args...
  local stage=$1 dir=$2; shift 2
  local log="$dir.ctest.log"
  (cd "$dir" && ctest -j"$jobs" --output-on-failure "$@") >"$log" 2>&1
  local rc=$?
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [[ -z "$line" ]]; then
    tail -40 "$log"
    record "$stage" 0 1
    return
  fi
  local failed total
  failed=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
  total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
  [[ $rc -ne 0 && $failed -eq 0 ]] && failed=1
  [[ $failed -ne 0 ]] && sed -n '/The following tests FAILED/,$p' "$log"
  [[ $failed -ne 0 ]] && grep -B2 -A30 -E '\*\*\*Failed|\(Failed\)|SEGFAULT|Timeout' "$log" | head -150
  record "$stage" $((total - failed)) "$failed"
}

record() { # stage, passed, failed
  total_pass=$((total_pass + $2))
  total_fail=$((total_fail + $3))
  [[ $3 -ne 0 ]] && failed_stages+=("$1")
  printf '%s: %d passed, %d failed\n' "$1" "$2" "$3"
}

stage_asan() {
  configure_build build/asan -DCORA_SANITIZE=address || { record asan 0 1; return; }
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    run_ctest asan build/asan
}

stage_ucontext() {
  configure_build build/ucontext -DCORA_SANITIZE=address -DCORA_CONTEXT=ucontext \
    || { record ucontext 0 1; return; }
  run_ctest ucontext build/ucontext
}

stage_tsan() {
  configure_build build/tsan -DCORA_SANITIZE=thread || { record tsan 0 1; return; }
  # TSan counts every fiber as a thread and dies past 8128 of them, so the cases with
  # tens of thousands of tasks stay with the other stages.
  TSAN_OPTIONS=halt_on_error=1 run_ctest tsan build/tsan -E "$many_tasks"
}

stage_release() {
  configure_build build/release -DCORA_MILLION=ON || { record release 0 1; return; }
  run_ctest release build/release
}

stage_valgrind() {
  configure_build build/valgrind -DCORA_VALGRIND=ON -DCORA_EXAMPLES=OFF || { record valgrind 0 1; return; }
  # epoll only: memcheck cannot see what the kernel writes into buffers through
  # io_uring (every such read looks uninitialised), and valgrind 3.19 keeps its big
  # lock across io_uring_enter, so another thread's wake-up never runs. The stacks,
  # the switch and the scheduler are the same code on both backends. The overflow case
  # dies on purpose. Valgrind tracks at most a few thousand mappings
  # (VG_N_SEGMENTS), far fewer than the cases with tens of thousands of stacks need.
  # The EMFILE case lowers the fd limit to 64, below what valgrind reserves for itself.
  # Valgrind runs one thread at a time, so debug mode's watchdog cannot interrupt a
  # task that spins without a system call: that case needs real threads.
  run_ctest valgrind build/valgrind -R '/epoll$|^test_switch$' \
    -E "stack_overflow_guard|accept_backs_off_on_emfile|spin_reported_while_blocking|$many_tasks"
}

stage_install() {
  local prefix=$root/build/install-root
  rm -rf "$prefix" build/consumer-*
  [[ -d build/release ]] || configure_build build/release || { record install 0 1; return; }
  local ok=0 bad=0
  if cmake --install build/release --prefix "$prefix" >build/install.log 2>&1; then
    # pkg-config
    if PKG_CONFIG_PATH=$prefix/lib/pkgconfig cc -o build/consumer-pkgconfig tests/install/hello.c \
         $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags --libs cora) \
       && LD_LIBRARY_PATH=$prefix/lib ./build/consumer-pkgconfig | grep -q 'hello from a task'; then
      ok=$((ok + 1))
    else
      echo "install: pkg-config consumer failed"; bad=$((bad + 1))
    fi
    # find_package
    if cmake -S tests/install -B build/consumer-cmake -DCMAKE_PREFIX_PATH="$prefix" >build/consumer.log 2>&1 \
       && cmake --build build/consumer-cmake >>build/consumer.log 2>&1 \
       && ./build/consumer-cmake/hello_static | grep -q 'hello from a task' \
       && LD_LIBRARY_PATH=$prefix/lib ./build/consumer-cmake/hello_shared | grep -q 'hello from a task'; then
      ok=$((ok + 1))
    else
      cat build/consumer.log; echo "install: find_package consumer failed"; bad=$((bad + 1))
    fi
    # Only cora_* leaves the shared library.
    local leaked
    leaked=$(nm -D --defined-only "$prefix"/lib/libcora.so | awk '{print $3}' | grep -v '^cora_[a-z]' || true)
    if [[ -z "$leaked" ]]; then ok=$((ok + 1)); else echo "install: exported non-API symbols: $leaked"; bad=$((bad + 1)); fi
    # The `cora` command is installed and runs.
    if "$prefix"/bin/cora --help | grep -q '^usage: cora fetch'; then
      ok=$((ok + 1))
    else
      echo "install: bin/cora missing or broken"; bad=$((bad + 1))
    fi
  else
    cat build/install.log; bad=1
  fi
  record install "$ok" "$bad"
}

stage_aarch64() {
  local out=build/aarch64
  mkdir -p $out
  if ! aarch64-linux-gnu-gcc -O2 -g -static -D_GNU_SOURCE -Iinclude -o $out/test_switch \
       tests/test_switch.c src/core/ctx_asm.c src/core/arch/switch_aarch64.S -lm >$out.build.log 2>&1; then
    cat $out.build.log; record aarch64 0 1; return
  fi
  local line
  line=$(qemu-aarch64-static $out/test_switch 2>&1 | tail -1)
  echo "aarch64 (qemu-user): $line"
  if [[ "$line" =~ ^([0-9]+)\ passed,\ 0\ failed$ ]]; then record aarch64 1 0; else record aarch64 0 1; fi
}

for s in $stages; do
  note "stage $s"
  "stage_$s"
done

echo
if [[ ${#failed_stages[@]} -ne 0 ]]; then echo "failed stages: ${failed_stages[*]}"; fi
echo "test: $total_pass passed, $total_fail failed"
[[ $total_fail -eq 0 ]]
