#!/usr/bin/env python3
"""Autobahn-style WebSocket conformance driver (client side).

Runs the Autobahn|Testsuite "fuzzingclient" cases described in
tests/vectors/websocket-cases.json against a WebSocket echo server:

    python3 tests/ws/autobahn.py ws://127.0.0.1:9001/ws
    python3 tests/ws/autobahn.py --only 1.,2.,5. --verbose ws://127.0.0.1:9001/

For every case it opens a raw TCP connection, performs the opening handshake
(offering permessage-deflate for the 12.x/13.x cases), performs the case's
client_actions byte for byte (masked frames, chopped writes, waits, timers),
records what the server sends back and judges the case the way Autobahn does:
the received events must equal the OK (or NON-STRICT) list of expected_events,
and the closing behaviour must match expected_close (who initiated the close,
acceptable close codes, whether a clean TCP close is required).  The meaning of
every field is documented in /work/shared/conformance/README.md
("websocket-cases.json").  Implemented from RFC 6455 and RFC 7692; standard
library only.

Exit status: 0 all selected cases passed (non-strict and informational
included), 1 at least one failed, 2 usage error or the server could not be
reached / did not complete a plain handshake at start.
"""

import argparse
import base64
import collections
import fnmatch
import hashlib
import json
import os
import random
import re
import select
import socket
import ssl
import struct
import sys
import threading
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0, 1, 2, 8, 9, 10
MIB = 1 << 20
MAX_MESSAGE = 64 * MIB          # largest message the driver accepts from the server
RECV_CHUNK = 256 * 1024

# Close codes a peer may put on the wire (RFC 6455 7.4.1/7.4.2 + IANA registry).
VALID_WIRE_CODES = set(range(1000, 1004)) | set(range(1007, 1015)) | set(range(3000, 5000))


# ---------------------------------------------------------------------------
# helpers

def repeat_to(pattern, n):
    if n <= 0 or not pattern:
        return b""
    q, r = divmod(n, len(pattern))
    return pattern * q + pattern[:r]


def mask_bytes(key, data):
    """XOR data with the 4-byte masking key (fast for big payloads)."""
    n = len(data)
    if n == 0:
        return b""
    q, r = divmod(n, 4)
    k = key * q + key[:r]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def frame_header(opcode, length, fin=True, rsv=0, key=None):
    b0 = (0x80 if fin else 0) | ((rsv & 7) << 4) | (opcode & 0x0F)
    m = 0x80 if key is not None else 0
    if length < 126:
        h = struct.pack("!BB", b0, m | length)
    elif length < 65536:
        h = struct.pack("!BBH", b0, m | 126, length)
    else:
        h = struct.pack("!BBQ", b0, m | 127, length)
    return h + key if key is not None else h


def build_frame(opcode, payload, fin=True, rsv=0):
    """A masked client frame."""
    key = os.urandom(4)
    return frame_header(opcode, len(payload), fin, rsv, key) + mask_bytes(key, payload)


def short_bytes(b, limit=24):
    if b is None:
        return "?"
    n = len(b)
    head = bytes(b[:limit])
    try:
        s = head.decode("ascii")
        if s.isprintable():
            txt = repr(s)
        else:
            txt = "0x" + head.hex()
    except UnicodeDecodeError:
        txt = "0x" + head.hex()
    if n > limit:
        txt += "...(%d bytes)" % n
    return txt


def utf8_valid(b):
    try:
        bytes(b).decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


class PayloadSpec:
    """A payload object of the case file: hex, repeat_hex, or sha1+head_hex."""

    def __init__(self, obj):
        obj = obj or {}
        self.len = obj.get("len")
        self.sha1 = None
        self.head = None
        if "hex" in obj:
            self.data = bytes.fromhex(obj["hex"])
        elif "repeat_hex" in obj:
            self.data = repeat_to(bytes.fromhex(obj["repeat_hex"]), obj["len"])
        elif "sha1" in obj:
            self.data = None
            self.sha1 = obj["sha1"]
            self.head = bytes.fromhex(obj.get("head_hex", ""))
        else:
            self.data = b""
        if self.len is None:
            self.len = len(self.data) if self.data is not None else 0

    def matches(self, b):
        if self.data is not None:
            return bytes(b) == self.data
        return (len(b) == self.len and bytes(b[:len(self.head)]) == self.head
                and hashlib.sha1(b).hexdigest() == self.sha1)

    def describe(self):
        if self.data is not None:
            return short_bytes(self.data)
        return "%d bytes sha1=%s" % (self.len, self.sha1)


# ---------------------------------------------------------------------------
# synthetic replacements for Autobahn's test-data files (12.x/13.x)

_WORDS = ("the of and to in is that it was for on are as with his they at be this "
          "from have or by one had not but what all were when we there can an your "
          "which their said if do will each about how up out them then she many "
          "some so these would other into has more her two like him see time could "
          "no make than first been its who now people my made over did down only "
          "way find use may water long little very after words called just where "
          "most know get through back much before go good new write our used me "
          "man too any day same right look think also around another came come "
          "work three word must because does part even place well such here take "
          "why things help put years different away again off went old number "
          "autobahn websocket frame deflate window context takeover message echo").split()

_testdata_cache = {}
_testdata_lock = threading.Lock()


def _gen_json(rnd, size):
    out = ["[\n"]
    n = 2
    i = 0
    while n < size:
        words = " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(2, 9)))
        rec = ('  {\n    "id": %d,\n    "name": "%s",\n    "score": %d.%02d,\n'
               '    "active": %s,\n    "tags": ["%s", "%s"],\n    "text": "%s"\n  },\n'
               % (i, rnd.choice(_WORDS).capitalize(), rnd.randint(0, 9999),
                  rnd.randint(0, 99), rnd.choice(("true", "false")),
                  rnd.choice(_WORDS), rnd.choice(_WORDS), words))
        out.append(rec)
        n += len(rec)
        i += 1
    return "".join(out).encode("ascii")


def _gen_html(rnd, size):
    out = ["<!DOCTYPE html>\n<html><head><title>Autobahn</title></head><body>\n"]
    n = len(out[0])
    tags = ("p", "div", "span", "li", "td", "h3")
    while n < size:
        t = rnd.choice(tags)
        words = " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(3, 20)))
        s = '<%s class="c%d" id="e%d">%s</%s>\n' % (t, rnd.randint(0, 30),
                                                   rnd.randint(0, 99999), words, t)
        out.append(s)
        n += len(s)
    return "".join(out).encode("ascii")


def _gen_prose(rnd, size):
    out = []
    n = 0
    while n < size:
        line = " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(4, 12)))
        line = line.capitalize() + rnd.choice((".", ",", "!", "?", ";")) + "\n"
        out.append(line)
        n += len(line)
    return "".join(out).encode("ascii")


def _gen_bitmap(rnd, size):
    # 'BM' + headers, then smooth 8-bit pixels with a little noise
    header = b"BM" + struct.pack("<IHHI", size, 0, 0, 1078) + struct.pack(
        "<IiiHHIIiiII", 40, 512, 512, 1, 8, 0, 0, 2835, 2835, 256, 0)
    palette = b"".join(bytes((i, i, i, 0)) for i in range(256))
    body = bytearray()
    y = 0
    noise = rnd.getrandbits(8 * 4096).to_bytes(4096, "little")
    while len(header) + len(palette) + len(body) < size:
        row = bytes(((x * 3 + y * 2 + ((x * y) >> 7) + (noise[(x + 7 * y) & 4095] & 7)) & 0xFF)
                    for x in range(512))
        body += row
        y += 1
    return (header + palette + bytes(body))[:size]


def _gen_binary_doc(rnd, size):
    # PDF-like: text objects mixed with incompressible "streams"
    out = bytearray(b"%PDF-1.2\n%\xc7\xec\x8f\xa2\n")
    obj = 1
    while len(out) < size:
        if rnd.random() < 0.5:
            words = " ".join(rnd.choice(_WORDS) for _ in range(rnd.randint(10, 60)))
            out += ("%d 0 obj\n<< /Type /Page /Length %d >>\nBT (%s) Tj ET\nendobj\n"
                    % (obj, len(words), words)).encode("ascii")
        else:
            n = rnd.randint(64, 2048)
            out += ("%d 0 obj\n<< /Filter /FlateDecode /Length %d >>\nstream\n"
                    % (obj, n)).encode("ascii")
            out += rnd.getrandbits(8 * n).to_bytes(n, "little")
            out += b"\nendstream\nendobj\n"
        obj += 1
    return bytes(out[:size])


def testdata(source, size_hint, testdata_dir):
    """Contents standing in for one of Autobahn's test-data files."""
    name = os.path.basename(source.get("file", "data.bin"))
    with _testdata_lock:
        if name in _testdata_cache:
            return _testdata_cache[name]
        data = None
        origin = "generated"
        if testdata_dir:
            p = os.path.join(testdata_dir, name)
            if os.path.isfile(p):
                with open(p, "rb") as f:
                    data = f.read()
                origin = p
        if data is None:
            size = size_hint or 256 * 1024
            rnd = random.Random(zlib.crc32(name.encode()))
            ext = os.path.splitext(name)[1].lower()
            if ext == ".json":
                data = _gen_json(rnd, size)
            elif ext in (".html", ".htm"):
                data = _gen_html(rnd, size)
            elif ext == ".txt":
                data = _gen_prose(rnd, size)
            elif ext == ".bmp":
                data = _gen_bitmap(rnd, size)
            elif not source.get("binary", True):
                data = _gen_prose(rnd, size)
            else:
                data = _gen_binary_doc(rnd, size)
            data = data[:size]
        _testdata_cache[name] = (data, origin)
        return data, origin


def slice_wrapping(data, start, size):
    n = len(data)
    start %= n
    if start + size <= n:
        return data[start:start + size]
    out = bytearray(data[start:])
    while len(out) < size:
        out += data[:size - len(out)]
    return bytes(out)


# ---------------------------------------------------------------------------
# permessage-deflate (RFC 7692)

def parse_extensions(value):
    """Parse a Sec-WebSocket-Extensions value: list of (name, [(param, value|None)])."""
    exts = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        items = [x.strip() for x in part.split(";")]
        name = items[0].lower()
        params = []
        for it in items[1:]:
            if not it:
                continue
            if "=" in it:
                k, v = it.split("=", 1)
                v = v.strip()
                if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
                    v = v[1:-1]
                params.append((k.strip().lower(), v))
            else:
                params.append((it.lower(), None))
        exts.append((name, params))
    return exts


class Deflate:
    """Negotiated permessage-deflate state of the client."""

    def __init__(self, params, offers, level):
        self.server_no_ctx = False
        self.client_no_ctx = False
        self.server_bits = 15
        self.client_bits = 15
        seen = set()
        got_server_bits = None
        for k, v in params:
            if k in seen:
                raise ValueError("duplicate parameter %s" % k)
            seen.add(k)
            if k == "server_no_context_takeover":
                if v is not None:
                    raise ValueError("server_no_context_takeover with a value")
                self.server_no_ctx = True
            elif k == "client_no_context_takeover":
                if v is not None:
                    raise ValueError("client_no_context_takeover with a value")
                self.client_no_ctx = True
            elif k in ("server_max_window_bits", "client_max_window_bits"):
                if v is None or not re.fullmatch(r"[1-9][0-9]?", v) or not 8 <= int(v) <= 15:
                    raise ValueError("bad %s value %r" % (k, v))
                if k == "server_max_window_bits":
                    self.server_bits = got_server_bits = int(v)
                else:
                    self.client_bits = int(v)
            else:
                raise ValueError("unknown parameter %s" % k)
        # the response must be acceptable for at least one of our offers
        why = []
        ok = False
        for off in offers:
            op = dict(off)
            problems = []
            if "client_max_window_bits" in seen and "client_max_window_bits" not in op:
                problems.append("client_max_window_bits not offered")
            if "server_no_context_takeover" in op and not self.server_no_ctx:
                problems.append("server_no_context_takeover offered but not accepted")
            if "server_max_window_bits" in op:
                want = int(op["server_max_window_bits"])
                if got_server_bits is None or got_server_bits > want:
                    problems.append("server_max_window_bits=%d offered, got %s"
                                    % (want, got_server_bits))
            if not problems:
                ok = True
                break
            why.extend(problems)
        if not ok:
            raise ValueError("response matches no offer (%s)" % "; ".join(why))
        self.level = level
        # Like Autobahn, the client keeps its compression context between
        # messages unless the server asked for client_no_context_takeover.
        # A client window of 8 cannot be produced by zlib: use stored blocks.
        self.cwbits = max(9, self.client_bits)
        self.clevel = level if self.client_bits >= 9 else 0
        self.comp = None
        self.decomp = None

    def describe(self):
        return "server_bits=%d%s client_bits=%d%s" % (
            self.server_bits, " server_no_ctx" if self.server_no_ctx else "",
            self.client_bits, " client_no_ctx" if self.client_no_ctx else "")

    def compress(self, data):
        if self.comp is None or self.client_no_ctx:
            self.comp = zlib.compressobj(self.clevel, zlib.DEFLATED, -self.cwbits, 8)
        out = self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH)
        if out.endswith(b"\x00\x00\xff\xff"):
            out = out[:-4]
        return out

    def decompress(self, data):
        if self.decomp is None or self.server_no_ctx or self.decomp.eof:
            self.decomp = zlib.decompressobj(-15)
        d = self.decomp
        out = d.decompress(data, MAX_MESSAGE + 1)
        if len(out) > MAX_MESSAGE:
            raise ValueError("decompressed message too large")
        if not d.eof:
            out += d.decompress(b"\x00\x00\xff\xff", MAX_MESSAGE + 1 - len(out))
            if d.unconsumed_tail:
                raise ValueError("decompressed message too large")
        return out


# ---------------------------------------------------------------------------
# one test connection

class CaseAbort(Exception):
    pass


class Conn:
    def __init__(self, url, timeout, close_timeout, stall):
        self.url = url
        self.timeout = timeout
        self.close_timeout = close_timeout
        self.stall = stall
        self.sock = None
        self.rbuf = bytearray()
        self.rpos = 0
        self.tmp = bytearray(RECV_CHUNK)
        self.out = collections.deque()
        self.out_len = 0
        self.open = False             # TCP usable
        self.tcp_closed_by = None     # 'server' | 'client'
        self.close_sent = None        # (time, initiated_by_us)
        self.close_sent_first = False
        self.server_close = None      # (code or None, reason bytes)
        self.server_close_first = False
        self.events = []
        self.violations = []
        self.notes = []
        self.deflate = None
        self.msg_op = None
        self.msg_frags = []
        self.msg_len = 0
        self.msg_compressed = False
        self.timers = []
        self.deadline = None
        self.last_activity = time.monotonic()
        self.on_event = None
        self.drop_reason = None
        self.tcp_close_how = None
        self.t0 = time.monotonic()
        self.level = 6
        self.ext_header = None

    # -- connection setup -------------------------------------------------
    def connect(self, extensions=None):
        u = self.url
        self.sock = socket.create_connection((u.hostname, u.port), timeout=self.timeout)
        if u.scheme == "wss":
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock, server_hostname=u.hostname)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16))
        path = u.path or "/"
        if u.query:
            path += "?" + u.query
        host = u.hostname if ":" not in u.hostname else "[%s]" % u.hostname
        req = ["GET %s HTTP/1.1" % path,
               "Host: %s:%d" % (host, u.port),
               "Upgrade: websocket",
               "Connection: Upgrade",
               "Sec-WebSocket-Key: %s" % key.decode(),
               "Sec-WebSocket-Version: 13"]
        if extensions:
            req.append("Sec-WebSocket-Extensions: %s" % ", ".join(extensions))
        self.sock.sendall(("\r\n".join(req) + "\r\n\r\n").encode("latin-1"))
        buf = bytearray()
        end = time.monotonic() + self.timeout
        while b"\r\n\r\n" not in buf:
            if len(buf) > 65536:
                raise CaseAbort("handshake: response head too long")
            left = end - time.monotonic()
            if left <= 0:
                raise CaseAbort("handshake: no complete response within %gs" % self.timeout)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise CaseAbort("handshake: server closed the connection (got %s)"
                                % short_bytes(bytes(buf), 60))
            buf += chunk
        head, rest = bytes(buf).split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3})(?: (.*))?$", lines[0])
        if not m:
            raise CaseAbort("handshake: bad status line %r" % lines[0])
        if m.group(1) != "101":
            raise CaseAbort("handshake: status %s %s" % (m.group(1), m.group(2) or ""))
        hdrs = {}
        for ln in lines[1:]:
            if ":" not in ln:
                raise CaseAbort("handshake: bad header line %r" % ln)
            k, v = ln.split(":", 1)
            k = k.strip().lower()
            v = v.strip()
            hdrs[k] = hdrs[k] + ", " + v if k in hdrs else v
        if hdrs.get("upgrade", "").lower() != "websocket":
            raise CaseAbort("handshake: Upgrade header is %r" % hdrs.get("upgrade"))
        if "upgrade" not in [t.strip().lower() for t in hdrs.get("connection", "").split(",")]:
            raise CaseAbort("handshake: Connection header is %r" % hdrs.get("connection"))
        want = base64.b64encode(hashlib.sha1(key + GUID).digest()).decode()
        if hdrs.get("sec-websocket-accept") != want:
            raise CaseAbort("handshake: Sec-WebSocket-Accept %r, expected %r"
                            % (hdrs.get("sec-websocket-accept"), want))
        ext = hdrs.get("sec-websocket-extensions")
        self.ext_header = ext
        if ext:
            if not extensions:
                raise CaseAbort("handshake: server sent extensions %r that were not offered" % ext)
            parsed = parse_extensions(ext)
            if len(parsed) != 1 or parsed[0][0] != "permessage-deflate":
                raise CaseAbort("handshake: unexpected Sec-WebSocket-Extensions %r" % ext)
            offers = [parse_extensions(o)[0][1] for o in extensions]
            try:
                self.deflate = Deflate(parsed[0][1], offers, self.level)
            except ValueError as e:
                raise CaseAbort("handshake: bad permessage-deflate response %r: %s" % (ext, e))
        if hdrs.get("sec-websocket-protocol"):
            raise CaseAbort("handshake: unrequested subprotocol %r" % hdrs["sec-websocket-protocol"])
        self.sock.setblocking(False)
        self.rbuf += rest
        self.open = True
        self.last_activity = time.monotonic()
        if self.rbuf:
            self.parse()

    # -- timers -----------------------------------------------------------
    def add_timer(self, seconds, kind):
        self.timers.append((time.monotonic() + seconds, kind))

    def fire_timers(self):
        now = time.monotonic()
        due = [t for t in self.timers if t[0] <= now]
        if not due:
            return
        self.timers = [t for t in self.timers if t[0] > now]
        for _, kind in sorted(due):
            if not self.open:
                return
            if kind == "close_after":
                if self.close_sent is None and self.server_close is None:
                    self.notes.append("close_after timer fired")
                    self.send_close(1000)
            elif kind == "fail_after":
                self.drop("fail_connection_after timer fired")
            elif kind == "close_timeout":
                if self.server_close is None:
                    self.drop("no close frame from the server within %gs of ours"
                              % self.close_timeout)
            elif kind == "tcp_close_timeout":
                self.drop("server did not close TCP within %gs after the closing handshake"
                          % self.close_timeout)

    # -- sending ----------------------------------------------------------
    def queue(self, data):
        if not self.open or not data:
            return
        self.out.append(memoryview(data))
        self.out_len += len(data)

    def send_close(self, code=None, reason=b"", raw=None):
        """Send a close frame (raw payload if given) and note who started."""
        payload = raw if raw is not None else (
            b"" if code is None else struct.pack("!H", code) + reason)
        self.queue(build_frame(OP_CLOSE, payload))
        if self.close_sent is None:
            self.close_sent = time.monotonic()
            if self.server_close is None:
                self.close_sent_first = True
                self.add_timer(self.close_timeout, "close_timeout")

    def _close_socket(self, by):
        self.tcp_closed_by = by
        self.open = False
        try:
            if self.sock is not None:
                self.sock.close()
        except OSError:
            pass

    def drop(self, why):
        if self.open:
            self.drop_reason = why
            self._close_socket("client")

    def server_gone(self, why):
        if self.open:
            if why != "server closed TCP":
                self.tcp_close_how = why
            self._close_socket("server")

    def _do_send(self):
        while self.out:
            mv = self.out[0]
            try:
                n = self.sock.send(mv[:1 << 20])
            except (BlockingIOError, InterruptedError, ssl.SSLWantWriteError,
                    ssl.SSLWantReadError):
                return
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError) as e:
                self.server_gone("send failed: %s" % e.__class__.__name__)
                return
            except OSError as e:
                self.server_gone("send failed: %s" % e)
                return
            self.last_activity = time.monotonic()
            self.out_len -= n
            if n == len(mv):
                self.out.popleft()
            else:
                self.out[0] = mv[n:]

    # -- receiving --------------------------------------------------------
    def _do_recv(self):
        for _ in range(64):
            try:
                n = self.sock.recv_into(self.tmp)
            except (BlockingIOError, InterruptedError, ssl.SSLWantReadError,
                    ssl.SSLWantWriteError):
                break
            except (ConnectionResetError, ConnectionAbortedError):
                self.parse()
                self.server_gone("connection reset by server")
                return
            except OSError as e:
                self.parse()
                self.server_gone("recv failed: %s" % e)
                return
            if n == 0:
                self.parse()
                self.server_gone("server closed TCP")
                return
            self.last_activity = time.monotonic()
            with memoryview(self.tmp) as mv:
                self.rbuf += mv[:n]
            if n < len(self.tmp):
                break
        self.parse()

    def violation(self, why):
        self.violations.append(why)
        # fail the connection: the server broke the protocol
        if self.open:
            self.drop("server protocol violation")

    def parse(self):
        buf = self.rbuf
        while self.open or self.tcp_closed_by == "server":
            avail = len(buf) - self.rpos
            if avail < 2:
                break
            p = self.rpos
            b0, b1 = buf[p], buf[p + 1]
            ln = b1 & 0x7F
            hl = 2
            if ln == 126:
                hl = 4
                if avail < hl:
                    break
                ln = struct.unpack_from("!H", buf, p + 2)[0]
                if ln < 126:
                    return self.violation("non-minimal 16-bit payload length %d" % ln)
            elif ln == 127:
                hl = 10
                if avail < hl:
                    break
                ln = struct.unpack_from("!Q", buf, p + 2)[0]
                if ln >> 63:
                    return self.violation("64-bit payload length with the top bit set")
                if ln < 65536:
                    return self.violation("non-minimal 64-bit payload length %d" % ln)
            if b1 & 0x80:
                return self.violation("server sent a masked frame")
            if ln > MAX_MESSAGE:
                return self.violation("frame of %d bytes exceeds the driver's limit" % ln)
            if avail < hl + ln:
                break
            with memoryview(buf) as mv:
                payload = mv[p + hl:p + hl + ln].tobytes()
            self.rpos = p + hl + ln
            self.on_frame(bool(b0 & 0x80), (b0 >> 4) & 7, b0 & 0x0F, payload)
            if self.violations:
                break
        if self.rpos == len(buf):
            del buf[:]
            self.rpos = 0
        elif self.rpos > MIB:
            del buf[:self.rpos]
            self.rpos = 0

    def on_frame(self, fin, rsv, op, payload):
        if self.server_close is not None:
            return self.violation("frame (opcode %d) after the server's close frame" % op)
        if op >= 8:
            if op not in (OP_CLOSE, OP_PING, OP_PONG):
                return self.violation("reserved control opcode %d" % op)
            if not fin:
                return self.violation("fragmented control frame (opcode %d)" % op)
            if len(payload) > 125:
                return self.violation("control frame with %d-byte payload" % len(payload))
            if rsv:
                return self.violation("RSV bits 0x%x on a control frame" % rsv)
            if op == OP_PING:
                if self.close_sent is None:
                    self.queue(build_frame(OP_PONG, payload))
                return
            if op == OP_PONG:
                self.add_event(("pong", payload))
                return
            # close
            code = None
            reason = b""
            if len(payload) == 1:
                return self.violation("close frame with a 1-byte payload")
            if len(payload) >= 2:
                code = struct.unpack("!H", payload[:2])[0]
                reason = payload[2:]
                if code not in VALID_WIRE_CODES:
                    return self.violation("close frame with invalid code %d" % code)
                if not utf8_valid(reason):
                    return self.violation("close frame reason is not UTF-8")
            self.server_close = (code, reason)
            if self.close_sent is None:
                self.server_close_first = True
                self.send_close(code)      # echo the code (empty if none)
            self.timers = [t for t in self.timers if t[1] != "close_timeout"]
            self.add_timer(self.close_timeout, "tcp_close_timeout")
            return
        # data frames
        if op not in (OP_CONT, OP_TEXT, OP_BINARY):
            return self.violation("reserved data opcode %d" % op)
        compressed = False
        if rsv & 4:
            if self.deflate is None:
                return self.violation("RSV1 set without permessage-deflate")
            if op == OP_CONT:
                return self.violation("RSV1 set on a continuation frame")
            compressed = True
        if rsv & 3:
            return self.violation("RSV2/RSV3 set (rsv=0x%x)" % rsv)
        if op == OP_CONT:
            if self.msg_op is None:
                return self.violation("continuation frame without a message in progress")
        else:
            if self.msg_op is not None:
                return self.violation("new data frame while a fragmented message is in progress")
            self.msg_op = op
            self.msg_compressed = compressed
            self.msg_frags = []
            self.msg_len = 0
        self.msg_frags.append(payload)
        self.msg_len += len(payload)
        if self.msg_len > MAX_MESSAGE:
            return self.violation("message exceeds the driver's limit")
        if not fin:
            return
        data = self.msg_frags[0] if len(self.msg_frags) == 1 else b"".join(self.msg_frags)
        op = self.msg_op
        self.msg_op = None
        self.msg_frags = []
        if self.msg_compressed:
            try:
                data = self.deflate.decompress(data)
            except (zlib.error, ValueError) as e:
                return self.violation("cannot inflate compressed message: %s" % e)
        if op == OP_TEXT and not utf8_valid(data):
            return self.violation("text message with invalid UTF-8 (%s)" % short_bytes(data))
        self.add_event(("message", op == OP_BINARY, data))

    def add_event(self, ev):
        self.events.append(ev)
        if self.on_event:
            self.on_event(ev)

    # -- event loop -------------------------------------------------------
    def pump(self, until=None, limit=None):
        """Run I/O and timers until until() is true, limit passes, or TCP closes.

        Returns True when until() became true."""
        while True:
            self.fire_timers()
            if until is not None and until():
                return True
            if not self.open:
                return until() if until is not None else False
            now = time.monotonic()
            if limit is not None and now >= limit:
                return False
            if now >= self.deadline:
                self.drop("case exceeded its time budget")
                raise CaseAbort("case did not finish within its %.0fs budget" %
                                (self.deadline - self.t0))
            if now - self.last_activity >= self.stall:
                self.drop("stalled")
                raise CaseAbort("nothing received or sent for %gs (stalled)" % self.stall)
            wake = min([self.deadline, self.last_activity + self.stall] +
                       [t[0] for t in self.timers] + ([limit] if limit else []))
            wait = max(0.0, wake - now)
            try:
                if self.out:
                    r, w, _ = select.select([self.sock], [self.sock], [], wait)
                else:
                    r, w = select.select([self.sock], [], [], wait)[0], []
                    if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                        r = [self.sock]
            except (OSError, ValueError):
                self.server_gone("socket error")
                continue
            if w:
                self._do_send()
            if r and self.open:
                self._do_recv()

    def flush(self):
        self.pump(until=lambda: not self.out)

    def finished(self):
        return not self.open


# ---------------------------------------------------------------------------
# running one case

def case_summary_count(case):
    m = re.search(r"(\d+) (?:text|binary) messages of \d+ bytes, each sent after the echo",
                  case.get("summary", ""))
    return int(m.group(1)) if m else None


def plan_budget(case, args):
    """Time budget for a case: fixed waits/timers plus a share scaled with the work."""
    acts = case["client_actions"]
    waits = sum(a.get("seconds", 0) for a in acts if a["op"] == "wait")
    short_timers = [a["seconds"] for a in acts
                    if a["op"] in ("fail_connection_after", "close_after") and a["seconds"] <= 10]
    work = 0
    for a in acts:
        if a["op"] == "frame":
            work += a.get("payload_len", a["payload"].get("len", 0))
        elif a["op"] == "message":
            work += a["payload"].get("len", 0)
    count = 1
    pmd = case.get("permessage_deflate")
    if pmd:
        count = pmd["message_count"]
        work = pmd["message_size"] * count
    else:
        c = case_summary_count(case)
        if c:
            count = c
            work *= c
    factor = 1 + work / (4.0 * MIB) + count / 200.0
    scaled = waits + (max(short_timers) if short_timers else 0) + args.timeout * factor
    # a slow server that keeps making progress gets the case's own (Autobahn)
    # timeout; one that stops making progress is caught by the stall limit
    long_timers = [a["seconds"] for a in acts if a["op"] == "close_after"]
    if long_timers:
        scaled = max(scaled, max(long_timers) + 2 * args.close_timeout + 1)
    return scaled


class Runner:
    def __init__(self, args, url):
        self.args = args
        self.url = url

    def run(self, case):
        t0 = time.monotonic()
        try:
            res = self._run(case)
        except Exception as e:  # driver bug: report, do not crash the run
            import traceback
            res = {"status": "fail", "reason": "driver error: %r" % e,
                   "trace": traceback.format_exc()}
        res["id"] = case["id"]
        res["time"] = time.monotonic() - t0
        if case.get("informational") and "trace" not in res:
            res["info_outcome"] = res["status"]
            res["status"] = "info"
        return res

    def _run(self, case):
        args = self.args
        # stall limit: no byte in or out for this long fails the case; never
        # shorter than the case's own waits and short timers
        idle = [a["seconds"] for a in case["client_actions"]
                if a["op"] in ("wait", "fail_connection_after")]
        stall = max([args.timeout] + [x + 2 for x in idle])
        c = Conn(self.url, args.timeout, args.close_timeout, stall)
        c.level = args.deflate_level
        c.deadline = time.monotonic() + plan_budget(case, args)
        pmd = case.get("permessage_deflate")
        offers = pmd["client_offers"] if pmd else None
        try:
            c.connect(offers)
        except (CaseAbort, OSError) as e:
            if c.sock is not None:
                c.sock.close()
            if isinstance(e, CaseAbort):
                return {"status": "fail", "reason": str(e)}
            return {"status": "fail", "reason": "connect/handshake failed: %s" % e}

        exp_close = case["expected_close"]
        expected = {k: [self._exp_event(e) for e in v]
                    for k, v in case["expected_events"].items()}
        echo_mode = not case["expected_events"]
        state = {"actions_done": False, "echo_expect": [], "echo_seen": 0,
                 "echo_error": None, "auto_closed": False}

        def maybe_auto_close():
            if c.close_sent is not None or c.server_close is not None or not c.open:
                return
            if not state["actions_done"] and state["echo_error"] is None:
                return
            if echo_mode:
                # all echoes in: close; a wrong echo: close at once, the case failed
                if state["echo_error"] is not None or (
                        state["echo_seen"] == len(state["echo_expect"]) and state["echo_seen"]):
                    state["auto_closed"] = True
                    c.send_close(1000)
                return
            if exp_close["initiator"] != "client":
                return
            for lst in expected.values():
                if lst and self._events_match(c.events, lst):
                    state["auto_closed"] = True
                    c.send_close(1000)
                    return

        def on_event(ev):
            if echo_mode:
                i = state["echo_seen"]
                if state["echo_error"] is None:
                    if i >= len(state["echo_expect"]):
                        state["echo_error"] = "unexpected %s" % self._fmt_event(ev)
                    else:
                        want = state["echo_expect"][i]
                        if ev[0] != "message" or ev[1] != want[0] or ev[2] != want[1]:
                            state["echo_error"] = "echo #%d differs: sent %s %s, got %s" % (
                                i + 1, "binary" if want[0] else "text",
                                short_bytes(want[1]), self._fmt_event(ev))
                state["echo_seen"] = i + 1
                # keep memory flat in the 1000-message cases
                c.events[-1] = ("message", ev[1], None) if ev[0] == "message" else ev
            maybe_auto_close()

        c.on_event = on_event

        # per-case message repetition (9.7/9.8, 12.x, 13.x)
        repeat = 1
        gen = None
        if pmd:
            repeat = pmd["message_count"]
            if args.max_deflate_messages:
                repeat = min(repeat, args.max_deflate_messages)
            data, origin = testdata(pmd["payload_source"], self._size_hint(case),
                                    args.testdata)
            size = pmd["message_size"]
            if origin != "generated":
                first = None
                for a in case["client_actions"]:
                    if a["op"] == "message":
                        first = PayloadSpec(a["payload"])
                if first is not None and not first.matches(data[:size]):
                    c.notes.append("test-data file %s does not match the case's first payload"
                                   % origin)
            gen = lambda k: slice_wrapping(data, k * size, size)
        else:
            cnt = case_summary_count(case)
            if cnt:
                repeat = cnt

        error = None
        try:
            self._do_actions(c, case, state, repeat, gen, echo_mode)
            state["actions_done"] = True
            if c.open:
                c.flush()
            maybe_auto_close()
            c.pump(until=c.finished)
        except CaseAbort as e:
            error = str(e)
        finally:
            if c.open:
                c.drop("end of case")
        return self._judge(case, c, expected, exp_close, echo_mode, state, error)

    @staticmethod
    def _size_hint(case):
        m = re.search(r"\((?:[\w ]+), (\d+) bytes\)", case.get("subcategory") or "")
        return int(m.group(1)) if m else None

    # -- actions ----------------------------------------------------------
    def _do_actions(self, c, case, state, repeat, gen, echo_mode):
        stream = None    # begin_message state: [opcode, key, offset, first]
        for a in case["client_actions"]:
            if not c.open or c.server_close is not None:
                break
            op = a["op"]
            if op == "frame":
                payload = PayloadSpec(a["payload"]).data or b""
                if "payload_len" in a:
                    payload = repeat_to(payload, a["payload_len"])
                opcode, fin, rsv = a["opcode"], a["fin"], a.get("rsv", 0)
                for k in range(repeat):
                    if k and not self._await_echo(c, state, k):
                        break
                    if echo_mode and fin and opcode in (OP_TEXT, OP_BINARY):
                        state["echo_expect"].append((opcode == OP_BINARY, payload))
                    frame = build_frame(opcode, payload, fin, rsv)
                    self._write(c, frame, a.get("chopsize"), a.get("sync"))
                    if not c.open or c.server_close is not None:
                        break
                if repeat > 1:
                    self._await_echo(c, state, repeat)
            elif op == "message":
                binary = a.get("binary", False)
                if "payload" not in a:   # streaming API without frames: begin_message
                    stream = [OP_BINARY if binary else OP_TEXT, None, 0, True]
                    continue
                spec = PayloadSpec(a["payload"])
                frag = a.get("fragment_size") or a.get("auto_fragment_size") or 0
                for k in range(repeat):
                    if k and not self._await_echo(c, state, k):
                        break
                    data = gen(k) if gen is not None else spec.data
                    if echo_mode:
                        state["echo_expect"].append((binary, data))
                    self._write(c, self._message_frames(c, binary, data, frag), None, False)
                    if not c.open or c.server_close is not None:
                        break
                if repeat > 1:
                    self._await_echo(c, state, repeat)
            elif op == "begin_message":
                stream = [OP_BINARY if a.get("binary") else OP_TEXT, None, 0, True]
            elif op == "begin_frame":
                key = os.urandom(4)
                opcode = stream[0] if stream[3] else OP_CONT
                stream[3] = False
                stream[1], stream[2] = key, 0
                c.queue(frame_header(opcode, a["length"], False, 0, key))
                c.flush()
            elif op == "frame_data":
                data = PayloadSpec(a["payload"]).data
                key, off = stream[1], stream[2]
                rot = key[off % 4:] + key[:off % 4]
                stream[2] = off + len(data)
                c.queue(mask_bytes(rot, data))
                c.flush()
            elif op == "end_message":
                c.queue(build_frame(stream[0] if stream[3] else OP_CONT, b"", True, 0))
                stream = None
                c.flush()
            elif op == "close":
                reason = a.get("reason", "")
                reason = reason.encode("utf-8") if isinstance(reason, str) else \
                    PayloadSpec(reason).data
                c.send_close(a.get("code", 1000), reason)
            elif op == "close_frame_raw":
                raw = b""
                if a.get("code") is not None:
                    raw += struct.pack("!H", a["code"])
                if a.get("reason") is not None:
                    r = a["reason"]
                    raw += r.encode("utf-8") if isinstance(r, str) else PayloadSpec(r).data
                c.send_close(raw=raw)
            elif op == "wait":
                c.flush()
                end = time.monotonic() + a["seconds"]
                c.pump(until=lambda: not c.open or c.server_close is not None, limit=end)
                if c.open and c.server_close is None and a.get("tag") is not None:
                    c.add_event(("timeout", a["tag"]))
            elif op == "close_after":
                c.flush()
                c.add_timer(a["seconds"], "close_after")
            elif op == "fail_connection_after":
                c.flush()
                c.add_timer(a["seconds"], "fail_after")
            else:
                raise CaseAbort("unknown client action %r" % op)

    def _await_echo(self, c, state, k):
        """Wait until k echoes have arrived (sequential message rounds)."""
        ok = c.pump(until=lambda: state["echo_seen"] >= k or state["echo_error"] is not None
                    or c.server_close is not None)
        return ok and state["echo_error"] is None and c.server_close is None and c.open

    def _message_frames(self, c, binary, data, frag):
        opcode = OP_BINARY if binary else OP_TEXT
        rsv = 0
        if c.deflate is not None:
            data = c.deflate.compress(data)
            rsv = 4
        if not frag or len(data) <= frag:
            return build_frame(opcode, data, True, rsv)
        parts = []
        n = len(data)
        with memoryview(data) as mv:
            for i in range(0, n, frag):
                chunk = mv[i:i + frag]
                parts.append(build_frame(opcode if i == 0 else OP_CONT, chunk,
                                         i + frag >= n, rsv if i == 0 else 0))
        return b"".join(parts)

    def _write(self, c, data, chopsize, sync):
        if chopsize:
            c.flush()
            n = len(data)
            chops = (n + chopsize - 1) // chopsize
            pause = 0.0005 if chops <= 2000 else 0
            mv = memoryview(data)
            for i in range(0, n, chopsize):
                c.queue(mv[i:i + chopsize])
                c.flush()
                if not c.open:
                    return
                if pause:
                    time.sleep(pause)
        elif sync:
            c.flush()
            c.queue(data)
            c.flush()
            time.sleep(0.002)
        else:
            c.queue(data)
            if c.out_len > 4 * MIB:
                c.flush()

    # -- judging ----------------------------------------------------------
    @staticmethod
    def _exp_event(e):
        if e["type"] == "message":
            return ("message", e["binary"], PayloadSpec(e["payload"]))
        if e["type"] == "pong":
            return ("pong", PayloadSpec(e["payload"]))
        if e["type"] == "timeout":
            return ("timeout", e["tag"])
        raise ValueError("unknown expected event type %r" % e["type"])

    @staticmethod
    def _events_match(got, want):
        if len(got) != len(want):
            return False
        for g, w in zip(got, want):
            if g[0] != w[0]:
                return False
            if w[0] == "message":
                if g[1] != w[1] or g[2] is None or not w[2].matches(g[2]):
                    return False
            elif w[0] == "pong":
                if not w[1].matches(g[1]):
                    return False
            elif g[1] != w[1]:
                return False
        return True

    @staticmethod
    def _fmt_event(ev):
        if ev[0] == "message":
            return "%s message %s" % ("binary" if ev[1] else "text", short_bytes(ev[2]))
        if ev[0] == "pong":
            return "pong %s" % short_bytes(ev[1])
        return "timeout %s" % ev[1]

    @staticmethod
    def _fmt_expected(lst):
        out = []
        for w in lst:
            if w[0] == "message":
                out.append("%s message %s" % ("binary" if w[1] else "text", w[2].describe()))
            elif w[0] == "pong":
                out.append("pong %s" % w[1].describe())
            else:
                out.append("timeout %s" % w[1])
        return "[" + ", ".join(out) + "]"

    def _close_story(self, c):
        if c.server_close is not None:
            code, reason = c.server_close
            s = "server close %s%s" % (code if code is not None else "(empty)",
                                       " %r" % reason.decode("utf-8", "replace") if reason else "")
        else:
            s = "no close frame from server"
        who = "close started by client" if c.close_sent_first else (
            "close started by server" if c.server_close_first else "no close frame sent")
        how = c.drop_reason or c.tcp_close_how
        return "%s; %s; TCP closed by %s%s" % (
            s, who, c.tcp_closed_by, " (%s)" % how if how else "")

    def _judge(self, case, c, expected, exp_close, echo_mode, state, error):
        story = self._close_story(c)
        base = {"close": story, "events": [self._fmt_event(e) if e[0] != "message" or e[2] is not None
                                           else "%s message" % ("binary" if e[1] else "text")
                                           for e in c.events[:20]],
                "notes": c.notes, "deflate": c.deflate.describe() if c.deflate else None}
        if c.violations:
            return dict(base, status="fail", reason="server protocol violation: %s (%s)"
                        % (c.violations[0], story))
        if error:
            return dict(base, status="fail", reason="%s (%s)" % (error, story))
        # 1. events
        behaviour = None
        if echo_mode:
            if state["echo_error"]:
                return dict(base, status="fail", reason="%s (%s)" % (state["echo_error"], story))
            want = len(state["echo_expect"])
            if state["echo_seen"] != want or want == 0:
                return dict(base, status="fail", reason="got %d of %d echoes (%s)"
                            % (state["echo_seen"], want, story))
            behaviour = "OK"
            story = "%d echo%s verified; %s" % (want, "" if want == 1 else "es", story)
        else:
            for k in ("OK", "NON-STRICT"):
                if k in expected and self._events_match(c.events, expected[k]):
                    behaviour = k
                    break
            if behaviour is None:
                got = "[" + ", ".join(self._fmt_event(e) for e in c.events[:10]) + \
                    (", ..." if len(c.events) > 10 else "") + "]"
                return dict(base, status="fail", reason="events %s, expected %s (%s)"
                            % (got, " or ".join("%s %s" % (k, self._fmt_expected(v))
                                                for k, v in expected.items()), story))
        # 2. close behaviour
        if c.close_sent_first:
            initiator = "client"
        elif c.server_close_first:
            initiator = "server"
        else:
            initiator = "client" if c.tcp_closed_by == "client" else "server"
        if initiator != exp_close["initiator"]:
            return dict(base, status="fail", reason="connection closed by the wrong endpoint: "
                        "expected %s to start the close (%s)" % (exp_close["initiator"], story))
        clean = (c.server_close is not None and c.close_sent is not None
                 and c.tcp_closed_by == "server")
        if exp_close["clean_required"] and not clean:
            return dict(base, status="fail", reason="unclean close (%s)" % story)
        if c.server_close is not None and c.server_close[0] is not None \
                and c.server_close[0] not in exp_close["codes"]:
            return dict(base, status="fail", reason="close code %d, expected %s (%s)" % (
                c.server_close[0], "/".join(map(str, exp_close["codes"])), story))
        return dict(base, status="nonstrict" if behaviour == "NON-STRICT" else "pass",
                    reason=story)


# ---------------------------------------------------------------------------
# command line

def select_cases(cases, only, skip):
    def pats(s):
        return [p.strip() for p in s.split(",") if p.strip()] if s else []

    def hit(cid, p):
        if any(ch in p for ch in "*?["):
            return fnmatch.fnmatchcase(cid, p)
        if p.endswith("."):
            return cid.startswith(p)
        return cid == p or cid.startswith(p + ".")

    only_p, skip_p = pats(only), pats(skip)
    out = []
    for c in cases:
        if only_p and not any(hit(c["id"], p) for p in only_p):
            continue
        if any(hit(c["id"], p) for p in skip_p):
            continue
        out.append(c)
    return out


def preflight(url, timeout):
    c = Conn(url, timeout, 2, timeout)
    c.level = 6
    c.deadline = time.monotonic() + timeout + 5
    c.connect(None)
    c.send_close(1000)
    try:
        c.pump(until=c.finished)
    except CaseAbort:
        pass
    if c.open:
        c.drop("preflight done")


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    default_cases = os.path.normpath(os.path.join(here, "..", "vectors", "websocket-cases.json"))
    ap = argparse.ArgumentParser(
        description="Run the Autobahn fuzzingclient cases against a WebSocket echo server.")
    ap.add_argument("url", help="echo endpoint, ws://host:port/path (wss:// also accepted)")
    ap.add_argument("--cases", default=default_cases, metavar="FILE",
                    help="case file (default: %(default)s)")
    ap.add_argument("--only", metavar="PATTERNS",
                    help="comma-separated case ids or prefixes (\"1.\", \"6.4.\", \"12.1.1\")")
    ap.add_argument("--skip", metavar="PATTERNS", help="cases to leave out, same syntax")
    ap.add_argument("--jobs", type=int, default=4, help="cases run concurrently (default 4)")
    ap.add_argument("--timeout", type=float, default=10.0,
                    help="per-case time unit in seconds, scaled up for big cases; also the "
                         "stall limit (default 10)")
    ap.add_argument("--close-timeout", type=float, default=2.0,
                    help="seconds to wait for the server's close frame / TCP close "
                         "during the closing handshake (default 2)")
    ap.add_argument("--deflate-level", type=int, default=6,
                    help="zlib level of the client's compression (default 6)")
    ap.add_argument("--testdata", metavar="DIR",
                    help="directory holding Autobahn's testdata files (data1.json, ...); "
                         "missing files are generated")
    ap.add_argument("--max-deflate-messages", type=int, default=0, metavar="N",
                    help="send at most N of each 12.x/13.x case's messages (every case and "
                         "its compression parameters still run; 0: all, as Autobahn does)")
    ap.add_argument("--verbose", "-v", action="store_true", help="one line per case")
    args = ap.parse_args(argv)

    u = urlsplit(args.url)
    if u.scheme not in ("ws", "wss") or not u.hostname:
        ap.error("URL must look like ws://host:port/path")
    try:
        port = u.port or (443 if u.scheme == "wss" else 80)
    except ValueError:
        ap.error("bad port in URL")

    class U:
        pass
    url = U()
    url.scheme, url.hostname, url.port, url.path, url.query = \
        u.scheme, u.hostname, port, u.path, u.query
    if args.jobs < 1:
        ap.error("--jobs must be >= 1")

    try:
        with open(args.cases, "rb") as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print("autobahn: cannot read case file %s: %s" % (args.cases, e), file=sys.stderr)
        return 2
    cases = select_cases(doc["cases"], args.only, args.skip)
    if not cases:
        print("autobahn: no case selected", file=sys.stderr)
        return 2

    try:
        preflight(url, args.timeout)
    except (OSError, CaseAbort) as e:
        print("autobahn: cannot talk to %s: %s" % (args.url, e), file=sys.stderr)
        return 2

    runner = Runner(args, url)
    t0 = time.monotonic()
    counts = collections.Counter()
    failed = []
    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        for res in ex.map(runner.run, cases):
            st = res["status"]
            counts[st] += 1
            if st == "fail":
                failed.append(res["id"])
                print("FAIL %s: %s" % (res["id"], res["reason"]), flush=True)
                if args.verbose and res.get("trace"):
                    print(res["trace"], flush=True)
            elif args.verbose:
                label = {"pass": "ok", "nonstrict": "NON-STRICT",
                         "info": "INFO(%s)" % res.get("info_outcome")}[st]
                extra = ""
                if st == "info" and res.get("info_outcome") == "fail":
                    extra = ": " + res.get("reason", "")
                else:
                    extra = ": " + res.get("reason", "")
                if res.get("deflate"):
                    extra += " [deflate %s]" % res["deflate"]
                print("%-4s %s %.2fs%s" % (label, res["id"], res["time"], extra), flush=True)
            if args.verbose and res.get("notes"):
                print("      notes: %s" % "; ".join(res["notes"]), flush=True)
    passed = counts["pass"] + counts["nonstrict"]
    print("autobahn: %d passed (%d non-strict), %d failed, %d informational, of %d"
          % (passed, counts["nonstrict"], counts["fail"], counts["info"], len(cases)))
    if args.verbose:
        print("autobahn: wall time %.1fs" % (time.monotonic() - t0))
    return 1 if counts["fail"] else 0


if __name__ == "__main__":
    sys.exit(main())
