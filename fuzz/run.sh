#!/bin/sh
# fuzz/run.sh [seconds]: builds the libFuzzer targets with clang in build/fuzz, runs
# each for `seconds` (default 60) on its stored corpus, then merges what it found
# into fuzz/corpus/<target>/ with -merge=1, which keeps only inputs that add
# coverage, so the stored corpus stays small. Inputs named crash-* (crashes that
# were fixed) and regress-* (inputs kept for the differential test) are always kept.
# A crash stops the script with the input saved in build/fuzz/crashes/.
set -eu
secs=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build/fuzz
targets="fuzz_request fuzz_response fuzz_chunked fuzz_url fuzz_ws_frame"

cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER="${CC:-clang}" -DCORA_FUZZ=ON \
    -DCORA_SANITIZE= -DCORA_EXAMPLES=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# shellcheck disable=SC2086
cmake --build "$build" -j"$(nproc)" --target $targets

mkdir -p "$build/crashes"
for t in $targets; do
    corpus=$root/fuzz/corpus/$t
    found=$build/found/$t
    merged=$build/merged/$t
    mkdir -p "$corpus" "$found"
    case $t in
        fuzz_ws_*) dict=$root/fuzz/ws.dict ;;
        *) dict=$root/fuzz/http.dict ;;
    esac
    echo "== $t: ${secs}s"
    "$build/fuzz/$t" -max_total_time="$secs" -timeout=10 -max_len=4096 \
        -use_value_profile=1 -dict="$dict" -print_final_stats=1 \
        -artifact_prefix="$build/crashes/$t-" "$found" "$corpus"
    rm -rf "$merged"
    mkdir -p "$merged"
    "$build/fuzz/$t" -merge=1 -max_len=4096 "$merged" "$corpus" "$found" 2>"$build/merge-$t.log"
    find "$corpus" -maxdepth 1 \( -name 'crash-*' -o -name 'regress-*' \) -exec cp {} "$merged/" \;
    rm -rf "$corpus"
    mv "$merged" "$corpus"
    echo "== $t: $(ls "$corpus" | wc -l) inputs, $(du -sk "$corpus" | cut -f1) KiB"
done
