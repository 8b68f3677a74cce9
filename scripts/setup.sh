#!/usr/bin/env bash
# scripts/setup.sh [test|bench|all]: installs the Debian 12 packages cora needs that
# are missing. Every Makefile target runs it first, so a fresh machine needs nothing
# done by hand. Installing needs root; as another user it names what is missing and
# stops.
set -euo pipefail

profile=${1:-test}

# Building the library and running its tests (both context switches, ASan, TSan,
# valgrind, the aarch64 switch under qemu-user).
build_pkgs=(build-essential cmake pkg-config liburing-dev libcmocka-dev libssl-dev openssl libc-ares-dev zlib1g-dev)
test_pkgs=(valgrind gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static libcurl4-openssl-dev
           curl nginx-light python3 libhttp-parser-dev libjansson-dev clang libclang-rt-14-dev
           python3-websockets chromium nodejs)
# The peers bench/ measures against, in the same run.
bench_pkgs=(libboost-context-dev libuv1-dev golang-go python3 python3-uvloop g++ valgrind linux-perf
            wrk nginx-light nodejs libcurl4-openssl-dev golang-github-gorilla-websocket-dev
            python3-websockets)

case "$profile" in
  demo) want=("${build_pkgs[@]}" libcurl4-openssl-dev) ;;
  test) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) want=("${build_pkgs[@]}" "${bench_pkgs[@]}" libcurl4-openssl-dev) ;;
  all) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 [demo|test|bench|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# npm ships inside some nodejs builds (NodeSource's) and separately in Debian's.
if [[ "$profile" != demo ]] && ! command -v npm >/dev/null; then
  missing+=(npm)
fi

if [[ ${#missing[@]} -ne 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing Debian packages: ${missing[*]}" >&2
    echo "setup: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The browser-side test tools (Node's ws client, playwright-core driving Debian's
# chromium), at the versions package-lock.json pins, from the npm registry; bench/
# measures Node's ws server from the same tree.
if [[ "$profile" != demo ]]; then
  ws=$(cd "$(dirname "$0")/../tests/ws" && pwd)
  if ! cmp -s "$ws/package-lock.json" "$ws/node_modules/.package-lock.json.installed" 2>/dev/null; then
    echo "setup: npm ci in tests/ws"
    (cd "$ws" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    cp "$ws/package-lock.json" "$ws/node_modules/.package-lock.json.installed"
  fi
fi
