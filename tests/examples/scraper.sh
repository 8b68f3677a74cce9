#!/usr/bin/env bash
# examples/scraper against `cora serve --root` over a generated site: 1 start page, 3
# pages it links to, 9 pages they link to, 27 more one level deeper, with links back
# up, to fragments and to another host. With -d 2 it must crawl exactly 13 pages, each
# once, with at most -n requests at a time.
set -euo pipefail
cora_bin=$1 scraper_bin=$2
site=$(mktemp -d)
log=$(mktemp)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$site" "$log"' EXIT
page() { # name, links...
  local name=$1; shift
  { echo "<html><body><h1>$name</h1>"
    for l in "$@"; do echo "<a href=\"$l\">$l</a>"; done
    echo '<a href="http://elsewhere.invalid/x">away</a><a href="/index.html#top">home</a>'
    echo "</body></html>"; } > "$site/$name.html"
}
page index a1.html a2.html a3.html
for a in 1 2 3; do
  page "a$a" "a$a-b1.html" "a$a-b2.html" "/a$a-b3.html" "index.html"
  for b in 1 2 3; do
    page "a$a-b$b" "a$a-b$b-c1.html" "a$a-b$b-c2.html" "a$a-b$b-c3.html" "a$a.html#x"
    for c in 1 2 3; do page "a$a-b$b-c$c"; done
  done
done
"$cora_bin" serve --port 0 --root "$site" >"$log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^listening on' "$log" && break; sleep 0.05; done
base=$(sed -n 's|^listening on \(http://[^ ]*\)/$|\1|p' "$log")
[[ -n "$base" ]] || { echo "cora serve did not start"; cat "$log"; exit 1; }
out=$("$scraper_bin" "$base/index.html" -d 2 -n 4)
echo "$out"
summary=$(tail -1 <<<"$out")
[[ "$summary" =~ ^crawled\ 13\ pages\ \(0\ errors\).*at\ most\ ([0-9]+)\ requests ]] \
  || { echo "bad summary: $summary"; exit 1; }
(( BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= 4 )) || { echo "limit broken"; exit 1; }
dups=$(grep '^depth' <<<"$out" | awk '{print $NF}' | sort | uniq -d)
[[ -z "$dups" ]] || { echo "fetched twice: $dups"; exit 1; }
kill -TERM "$pid"
wait "$pid" || { echo "cora serve exited $? after SIGTERM, want 0"; exit 1; }
echo "scraper: 13 pages, each once"
