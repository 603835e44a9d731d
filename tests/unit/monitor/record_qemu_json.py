#!/usr/bin/env python3
"""Records how a real QEMU 7.2 answers raw JSON input on a QMP socket.

The answers are the expected values of tests/unit/monitor/qemu_json_test.cc: every case below is
sent, byte for byte, to `qemu-system-x86_64 -M none` on a fresh QMP connection (fresh parser), and
every line QEMU writes back (after the greeting) is stored in testdata/qemu72_json_cases.json.
After the input the client shuts down its sending side: QEMU reads on until that end of file (it
reads one byte at a time and stops reading while a request is queued, so everything before the
end of file has been answered) and then closes the connection, which ends the recording.

    tests/unit/monitor/record_qemu_json.py [--only NAME_SUBSTRING] [--skip-big]

Cases stay in negotiation mode on purpose: an object {"execute": "x", "id": V} is then answered
with CommandNotFound and V echoed through QEMU's JSON writer, so the recording shows both what the
parser made of V and how the writer prints it. A top-level non-object is answered with "QMP input
must be a JSON object"; parse errors with their desc.

The "writer" section records, in command mode, complete responses (greeting, query-*, an error,
events) whose bytes the writer must reproduce.

Input pieces: a str whose code points 0..255 are the bytes to send, or ("repeat", str, count).
Python standard library only. Takes about an hour with the big cases (QEMU's monitor reads
one byte per main-loop iteration, about 350 KB/s); --skip-big keeps the big cases recorded
before.
"""
import argparse
import json
import os
import socket
import subprocess
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "testdata", "qemu72_json_cases.json")

MIB = 1 << 20
MAX_TOKEN_SIZE = 64 * MIB  # json-streamer.c / json-lexer.c
MAX_TOKEN_COUNT = 2 * MIB
MAX_NESTING = 1024


def cmd(id_json):
    """A request QEMU answers (in negotiation mode) by echoing id_json."""
    return '{"execute": "x", "id": ' + id_json + "}"


def R(s, n):
    return ("repeat", s, n)


C = cmd("1")  # a well-formed request used to show that the parser recovered

CASES = [
    # --- values, numbers (id echo shows the number model and %.17g) ---
    ("int-zero", [cmd("0")]),
    ("int-neg-zero", [cmd("-0")]),
    ("int-small", [cmd("[1, -1, 42, -42, 1000000]")]),
    ("int64-max", [cmd("9223372036854775807")]),
    ("int64-min", [cmd("-9223372036854775808")]),
    ("uint64-first", [cmd("9223372036854775808")]),
    ("uint64-max", [cmd("18446744073709551615")]),
    ("beyond-uint64", [cmd("18446744073709551616")]),
    ("below-int64", [cmd("-9223372036854775809")]),
    ("huge-int", [cmd("123456789012345678901234567890")]),
    ("floats", [cmd("[1.5, -1.5, 0.1, 1.0, -0.0, 0.0, 1e3, 1E+3, 1e-3, 2.5e-5, 1.7976931348623157e308]")]),
    ("float-overflow", [cmd("[1e999, -1e999]")]),
    ("float-underflow", [cmd("[1e-999, 4.9e-324, 2e-324]")]),
    ("float-precision", [cmd("[3.141592653589793, 1e21, 1e22, 123456789.123456789, 5e-7]")]),
    ("keywords", [cmd("[true, false, null]")]),
    # --- strings ---
    ("str-escapes", [cmd(r'"\"\\\/\b\f\n\r\t\''+'"')]),
    ("str-unicode-escapes", [cmd(r'["\u0041", "\u00e9", "\u20AC", "\u007f", "\u0080", "\u001f"]')]),
    ("str-surrogate-pair", [cmd(r'"\ud83d\ude00 \uD800\uDC00 \uDBFF\uDFFD"')]),
    ("str-u0000", [cmd(r'"a\u0000b"')]),
    ("str-raw-utf8", [cmd('"\u00c3\u00a9 \u00e2\u0082\u00ac \u00f0\u009f\u0098\u0080"')]),
    ("str-raw-c080", [cmd('"a\u00c0\u0080b"')]),
    ("str-raw-del", [cmd('"a\u007fb"')]),
    ("str-single-quoted", [cmd("['abc', 'a\"b', 'it\\'s', \"it's\"]")]),
    ("str-percent", [cmd('"100%"'), "%"]),
    ("str-empty", [cmd('["", \'\']')]),
    # --- objects and key order (QDict buckets) ---
    ("obj-empty", [cmd("[{}, [], [[]], {\"a\": {}}]")]),
    ("obj-order", [cmd('{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8}')]),
    # 'a', 'rb', 'rr' share a bucket (tdb_hash % 512): most recently inserted first.
    ("obj-same-bucket", [cmd('[{"a": 1, "rb": 2, "rr": 3}, {"rr": 1, "a": 2, "rb": 3}]')]),
    ("obj-nested", [cmd('{"outer": {"inner": [1, {"x": "y"}], "k": null}, "z": [true]}')]),
    ("obj-sq-keys", [cmd("{'a': 1, \"b\": 'two'}")]),
    # --- framing ---
    ("two-in-one", [cmd("1") + cmd("2")]),
    ("ws-between", [" \t\r\n" + cmd("1") + "\n\n " + cmd("2") + "\r\n"]),
    ("top-scalars", ['1 "two" [3] true null 4.5 ']),
    ("top-number-pending", ["42"]),  # a number ends only at the next byte: no answer
    ("top-number-then-obj", ["42" + C]),
    ("top-keyword-pending", ["true"]),
    ("top-string", ['"s"']),
    ("top-array", ["[1, 2]"]),
    ("pending-object", ['{"execute": "x", "id": 1']),
    # --- lexical errors (stray) and recovery ---
    ("stray-at", ["@" + C]),
    ("stray-percent", ["%" + C]),
    ("stray-upper", ["True " + C]),
    ("stray-minus", ["-x" + C]),
    ("stray-minus-space", ["- 1 " + C]),
    ("stray-leading-zero", ["01 " + C]),
    ("stray-dot", ["1.x " + C]),
    ("stray-dot-space", ["1. " + C]),
    ("stray-exp", ["1ex " + C]),
    ("stray-exp-sign", ["1e+x " + C]),
    ("stray-dot-leading", [".5 " + C]),
    ("stray-plus", ["+1 " + C]),
    ("stray-nul", ["\x00" + C]),
    ("stray-ctrl", ["\x01" + C]),
    ("stray-del", ["\x7f" + C]),
    ("stray-ff", ["\xff" + C]),
    ("stray-fe", ["\xfe" + C]),
    ("stray-utf8-outside", ["\xc3\xa9" + C]),
    ("stray-bom", ["\xef\xbb\xbf" + C]),
    ("stray-string-ctrl", ['"abc\x01def" ' + C]),
    ("stray-string-newline", ['[1, "a\nb"]' + C]),
    ("stray-string-tab", ['"a\tb"\n' + C]),
    ("stray-string-nul", ['"ab\x00cd"\n' + C]),
    ("stray-string-ff", ['"ab\xffcd"\n' + C]),
    ("stray-escape-ctrl", ['"a\\\x01b"\n' + C]),
    ("stray-in-object-drops-pending", ['{"execute": "x", "id": @}' + C]),
    ("stray-then-garbage", ["@garbage and more 'quoted' \"dq\" 123 " + C]),
    ("recovery-tab-skipped", ["@ab\tcd" + C]),
    ("recovery-colon", ["@ab:" + C]),
    ("recovery-comma", ["@ab," + C]),
    ("recovery-close-square", ["@ab]" + C]),
    ("recovery-close-curly", ["@ab}" + C]),
    ("recovery-open-square", ["@ab[1]" + C]),
    ("recovery-newline", ["@ab\n" + C]),
    ("recovery-cr", ["@ab\r" + C]),
    ("recovery-ctrl", ["@ab\x01" + C]),
    ("recovery-nul", ["@ab\x00" + C]),
    ("recovery-ff", ["@ab\xff" + C]),
    ("recovery-fd-skipped", ["@ab\xfd\n" + C]),
    ("recovery-quote-skipped", ['@ab"x{y"' + C]),
    ("recovery-after-partial", ['{"execute": "x", "id": [1, 2\x00' + C]),
    # --- parse errors (reported once the braces balance) ---
    ("err-missing-colon", ['{"a" 1}' + C]),
    ("err-sep-dict", ['{"a": 1 "b": 2}' + C]),
    ("err-sep-list", ["[1 2]" + C]),
    ("err-trailing-comma-list", ["[1,]" + C]),
    ("err-trailing-comma-dict", ['{"a": 1,}' + C]),
    ("err-empty-pair", ["{,}" + C]),
    ("err-leading-comma-list", ["[,1]" + C]),
    ("err-key-not-string", ["{1: 2}" + C]),
    ("err-key-object", ['{{"a": 1}: 2}' + C]),
    ("err-key-error-inside", ['{{"a" 1}: 2}' + C]),
    ("err-key-keyword", ["{null: 1}" + C]),
    ("err-missing-value", ['{"a":}' + C]),
    ("err-duplicate", ['{"a": 1, "a": 2}' + C]),
    ("err-duplicate-sq", ["{\"a\": 1, 'a': 2}" + C]),
    ("err-duplicate-after-value-error", ['{"a": 1, "a": [1 2]}' + C]),
    ("err-duplicate-nested", ['{"a": {"b": 1, "b": 2}}' + C]),
    ("err-colon-top", [":" + C]),
    ("err-comma-top", ["," + C]),
    ("err-close-square-top", ["]" + C]),
    ("err-close-curly-top", ["}" + C]),
    ("err-mismatch-1", ["[}" + C]),
    ("err-mismatch-2", ["{]" + C]),
    ("err-mismatch-3", ["[{]}" + C]),
    ("err-mismatch-4", ['{"a": [}]' + C]),
    ("err-extra-close", ["[1]]" + C]),
    ("err-invalid-keyword", ["nul " + C]),
    ("err-invalid-keyword-in-list", ["[truex]" + C]),
    ("err-invalid-keyword-nan", ["[nan, inf]" + C]),
    ("err-first-error-wins", ['[nope, {"a" 1}]' + C]),
    ("err-string-escape", [r'"\x"' + C]),
    ("err-string-escape-utf8", ['"\\\xc3\xa9"' + C]),
    ("err-string-u-short", [r'"\u12"' + C]),
    ("err-string-u-short-2", [r'"\u"' + C]),
    ("err-string-u-nonhex", [r'"\u12G4xyz"' + C]),
    ("err-string-u-lone-high", [r'"\uD800"' + C]),
    ("err-string-u-lone-high-text", [r'"\uD800abc"' + C]),
    ("err-string-u-lone-low", [r'"\uDC00"' + C]),
    ("err-string-u-high-then-bmp", [r'"\uD800\u0041"' + C]),
    ("err-string-u-high-then-bad", [r'"\uD800\uZZZZ"' + C]),
    ("err-string-u-pair-nonchar", [r'"\uDBFF\uDFFF"' + C]),
    ("err-string-u-ffff", [r'"\uFFFF"' + C]),
    ("err-string-u-fffe", [r'"\uFFFE"' + C]),
    ("err-string-u-fdd0", [r'"\uFDD0"' + C]),
    ("err-string-u-fdef", [r'"\uFDEF"' + C]),
    ("err-string-u-fdf0-ok", [cmd(r'"\uFDF0"')]),
    ("err-utf8-truncated", ['"\xc3"' + C]),
    ("err-utf8-bad-cont", ['"\xc3\x28"' + C]),
    ("err-utf8-lone-cont", ['"\x80"' + C]),
    ("err-utf8-overlong-2", ['"\xc1\x81"' + C]),
    ("err-utf8-overlong-3", ['"\xe0\x80\x80"' + C]),
    ("err-utf8-overlong-4", ['"\xf0\x80\x80\x80"' + C]),
    ("err-utf8-surrogate", ['"\xed\xa0\x80"' + C]),
    ("err-utf8-nonchar", ['"\xef\xbf\xbf"' + C]),
    ("err-utf8-beyond", ['"\xf4\x90\x80\x80"' + C]),
    ("err-utf8-5byte", ['"\xf8\x88\x80\x80\x80"' + C]),
    ("err-utf8-6byte", ['"\xfc\x84\x80\x80\x80\x80"' + C]),
    ("err-utf8-in-key", ['{"\xc3": 1}' + C]),
    ("err-string-error-in-list", ['["ok", "\\q", 1 2]' + C]),
    ("ok-utf8-max", [cmd('"\xf4\x8f\xbf\xbd"')]),
    # --- nesting: the opener that makes brace+bracket exceed 1024 is the error ---
    ("nesting-1024-ok", [R("[", MAX_NESTING), R("]", MAX_NESTING), " " + C]),
    ("nesting-1024-in-id", ['{"execute": "x", "id": ', R("[", MAX_NESTING - 1),
                            R("]", MAX_NESTING - 1), "}"]),
    ("nesting-1025", [R("[", MAX_NESTING + 1), R("]", MAX_NESTING + 1), C]),
    ("nesting-mixed-1025", [R('{"a":[', 512), "{", C]),
    ("nesting-1026-opens-then-value", [R("[", MAX_NESTING + 2), "1" + C]),
]

BIG_CASES = [
    # --- token count: 2 Mi tokens pass, one more fails ---
    # [ + k * "0," + []] is 2k + 4 tokens: exactly 2 Mi.
    ("count-limit-ok", ["[", R("0,", MAX_TOKEN_COUNT // 2 - 2), "[]]", C]),
    # [ + k * "0," + 0] is 2k + 3 tokens: 2 Mi + 1, the last "]" is refused.
    ("count-limit-exceeded", ["[", R("0,", MAX_TOKEN_COUNT // 2 - 1), "0]", C]),
    # Token 2 Mi + 1 is a comma; the rest is read as new values.
    ("count-limit-exceeded-early", ["[", R("0,", MAX_TOKEN_COUNT // 2 + 10), "0]", C]),
    # --- token size: one string token ---
    # token size check in the streamer: size_so_far + len + 1 > 64 MiB
    ("size-string-ok", ['"', R("a", MAX_TOKEN_SIZE - 3), '" ', C]),
    ("size-string-exceeded", ['"', R("a", MAX_TOKEN_SIZE - 2), '" ', C]),
    # The closing quote makes it 64 MiB + 1 bytes; the streamer refuses it first.
    ("size-string-at-lexer-limit", ['"', R("a", MAX_TOKEN_SIZE - 1), '" ', C]),
    # The lexer cuts a token longer than 64 MiB; lexing restarts after the cut.
    ("size-string-lexer-cut-exact", ['"', R("a", MAX_TOKEN_SIZE), '" ', C]),
    ("size-string-lexer-cut", ['"', R("a", MAX_TOKEN_SIZE + 3), '" ', C]),
    # --- token size: sum over a value's tokens ---
    ("size-sum-ok", ['["', R("a", 32 * MIB), '", "', R("b", 32 * MIB - 8), '"]', C]),
    ("size-sum-exceeded", ['["', R("a", 32 * MIB), '", "', R("b", 32 * MIB - 7), '"]', C]),
    ("size-sum-exceeded-mid", ['["', R("a", 32 * MIB), '", "', R("b", 32 * MIB), '", 1]', C]),
    ("size-number-lexer-cut", [R("1", MAX_TOKEN_SIZE + 2), " ", C]),
]

WRITER = [
    # (name, request) sent in command mode after qmp_capabilities; the response is recorded.
    ("query-status", '{"execute": "query-status"}'),
    ("query-status-id", '{"execute": "query-status", "id": "s1"}'),
    ("query-version", '{"execute": "query-version", "id": 7}'),
    ("query-migrate-parameters", '{"execute": "query-migrate-parameters"}'),
    ("query-migrate-capabilities", '{"execute": "query-migrate-capabilities"}'),
    ("query-migrate", '{"execute": "query-migrate"}'),
    ("error-unknown-command", '{"execute": "no-such-command", "id": {"b": [1, "x"], "a": 2.5}}'),
    ("error-bad-param", '{"execute": "migrate-set-parameters", "arguments": {"downtime-limit": "x"}}'),
    ("stop", '{"execute": "stop"}'),
    ("cont", '{"execute": "cont"}'),
]


def to_bytes(pieces):
    out = []
    for p in pieces:
        if isinstance(p, tuple):
            _, s, n = p
            out.append(s.encode("latin-1") * n)
        else:
            out.append(p.encode("latin-1"))
    return b"".join(out)


def to_json_pieces(pieces):
    return [{"repeat": p[1], "count": p[2]} if isinstance(p, tuple) else p for p in pieces]


def compress(lines):
    """Run-length encodes equal consecutive lines: {"line": L, "count": N}."""
    out = []
    for line in lines:
        if out and isinstance(out[-1], dict) and out[-1]["line"] == line:
            out[-1]["count"] += 1
        elif out and out[-1] == line:
            out[-1] = {"line": line, "count": 2}
        else:
            out.append(line)
    return out


class Qemu:
    def __init__(self, workdir):
        self.path = os.path.join(workdir, "qmp.sock")
        self.proc = subprocess.Popen(
            ["qemu-system-x86_64", "-M", "none", "-nodefaults", "-display", "none",
             "-qmp", "unix:%s,server=on,wait=off" % self.path])
        deadline = time.time() + 30
        while not os.path.exists(self.path):
            if time.time() > deadline:
                raise RuntimeError("QEMU did not create its QMP socket")
            time.sleep(0.05)

    def close(self):
        self.proc.terminate()
        self.proc.wait()

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)
        buf = b""
        while b"\r\n" not in buf:
            buf += s.recv(65536)
        greeting, _, rest = buf.partition(b"\r\n")
        return s, greeting, rest

    def exchange(self, data):
        """Sends data on a fresh connection, then end of file; returns QEMU's lines."""
        sock, _, buf = self.connect()

        def send():
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)

        t = threading.Thread(target=send)
        t.start()
        sock.settimeout(900)
        while True:
            d = sock.recv(1 << 20)
            if not d:
                break
            buf += d
        t.join()
        sock.close()
        assert buf.endswith(b"\r\n") or not buf, buf[-200:]
        return lines_of(buf)

    def command(self, sock, buf, request):
        """Sends one request in command mode; returns the lines up to its answer."""
        sock.sendall(request)
        sock.settimeout(30)
        lines = []
        while True:
            while b"\r\n" not in buf:
                buf += sock.recv(65536)
            line, _, buf = buf.partition(b"\r\n")
            lines.append(line.decode("ascii"))
            if not json.loads(line).keys() & {"event", "QMP"}:
                return lines, buf


def lines_of(buf):
    return [line.decode("ascii") for line in buf.split(b"\r\n")[:-1]]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default="")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()

    version = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                             text=True, check=True).stdout.splitlines()[0]
    previous = {}
    if os.path.exists(args.out):
        with open(args.out) as f:
            for c in json.load(f)["cases"]:
                previous[c["name"]] = c
    with tempfile.TemporaryDirectory() as work:
        q = Qemu(work)
        try:
            cases = CASES + ([] if args.skip_big else BIG_CASES)
            recorded = []
            for name, pieces in cases:
                if args.only and args.only not in name:
                    if name in previous:
                        recorded.append(previous[name])
                    continue
                data = to_bytes(pieces)
                t0 = time.time()
                lines = q.exchange(data)
                print("%-40s %9d bytes %6.1fs %d lines: %s" % (
                    name, len(data), time.time() - t0, len(lines), lines[:3]), flush=True)
                recorded.append({"name": name, "input": to_json_pieces(pieces),
                                 "responses": compress(lines)})
            names = {c["name"] for c in recorded}
            recorded += [c for n, c in previous.items() if n not in names and args.skip_big
                         and any(n == b[0] for b in BIG_CASES)]

            s, greeting, buf = q.connect()
            neg, buf = q.command(s, buf, b'{"execute": "qmp_capabilities"}')
            writer = [{"name": "greeting", "request": "", "responses": [greeting.decode()]},
                      {"name": "qmp_capabilities", "request": "", "responses": neg}]
            for name, request in WRITER:
                lines, buf = q.command(s, buf, request.encode())
                writer.append({"name": name, "request": request, "responses": lines})
            s.close()
        finally:
            q.close()
    with open(args.out, "w") as f:
        json.dump({"qemu": version, "cases": recorded, "writer": writer}, f, indent=1,
                  ensure_ascii=True)
        f.write("\n")


if __name__ == "__main__":
    main()
