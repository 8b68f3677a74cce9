#!/usr/bin/env python3
"""Seeds fuzz/corpus/<target>/ with the conformance vectors in tests/vectors/.

One file per input, named by the SHA-1 of its bytes (as libFuzzer names its own), so
re-running adds nothing twice. Requests and responses go to fuzz_request and
fuzz_response, the bodies of chunked messages to fuzz_chunked, URLs and request
targets to fuzz_url. Generated inputs larger than 64 KiB are left out: libFuzzer
mutates small inputs best.
"""
import base64
import hashlib
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "..", "tests", "vectors")
LIMIT = 64 * 1024


def load(name):
    with open(os.path.join(VECTORS, name)) as f:
        return json.load(f)


def raw(entry):
    if "raw_b64" in entry:
        return base64.b64decode(entry["raw_b64"])
    g = entry["generate"]
    return (g["prefix"] + g["repeat"] * g["times"] + g["suffix"]).encode("latin-1")


def put(target, data):
    if len(data) > LIMIT:
        return 0
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, hashlib.sha1(data).hexdigest())
    if os.path.exists(path):
        return 0
    with open(path, "wb") as f:
        f.write(data)
    return 1


def chunked_body(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    return body if sep and b"chunked" in head.lower() else None


def target_of(data):
    line = data.lstrip(b"\r\n").split(b"\r\n", 1)[0].split(b" ")
    return line[1] if len(line) >= 3 else None


def main():
    added = {"fuzz_request": 0, "fuzz_response": 0, "fuzz_chunked": 0, "fuzz_url": 0}
    messages = [(e, "request") for e in load("http-parser-requests.json")]
    messages += [(e, "response") for e in load("http-parser-responses.json")]
    messages += [(e, e["type"]) for e in load("http-parser-invalid.json")]
    for name in ("llhttp-requests.json", "llhttp-responses.json"):
        messages += [(e, e["mode"].split("-")[0]) for e in load(name)]
    for e, kind in messages:
        data = raw(e)
        added["fuzz_" + kind] += put("fuzz_" + kind, data)
        body = chunked_body(data)
        if body is not None:
            added["fuzz_chunked"] += put("fuzz_chunked", body)
        if kind == "request" and target_of(data):
            added["fuzz_url"] += put("fuzz_url", target_of(data))
    for e in load("http-parser-urls.json"):
        if e["url"] is not None:
            added["fuzz_url"] += put("fuzz_url", e["url"].encode("latin-1"))
    for e in load("llhttp-urls.json"):
        added["fuzz_url"] += put("fuzz_url", raw(e))
    for t, n in sorted(added.items()):
        print(f"{t}: {n} new inputs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
