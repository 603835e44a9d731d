#!/usr/bin/env python3
"""Record what a real QEMU 7.2 destination prints for broken migration streams.

Takes capture (a) of testdata/qemu-7.2 (a plain precopy of 8 MiB from a running source),
applies each mutation below (truncate / overwrite bytes / insert bytes), feeds the result to
    qemu-system-x86_64 -M none,memory-backend=ram0 -m 8M \
      -object memory-backend-file,id=ram0,size=8M,mem-path=DST,share=on \
      -nodefaults -display none -qmp unix:SOCK,server=on,wait=off -incoming exec:cat FILE
(destination RAM starts all zero), and records per case: whether the load completed or failed,
every line QEMU printed on stderr (without the "qemu-system-x86_64: " prefix) and the sha256 of
the destination RAM afterwards. tests/unit/migration/stream_table_test.cc replays the same
mutations through migemu's loader and asserts the same lines and the same RAM.

Usage: gen_qemu_load_table.py [--testdata DIR] [--qemu BIN] [--out FILE] [--only NAME,...]
Only processes started here are stopped (by PID).
"""
import argparse
import gzip
import hashlib
import json
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time

PAGE = 4096
PREFIX = "qemu-system-x86_64: "


def walk(d):
    """Offsets of the structures of capture (a): returns a dict of named offsets and the list of
    ram records of the PART section as (offset, flags, page)."""
    off = {}
    p = 0
    off["magic"] = 0
    off["version"] = 4
    off["config"] = 8
    off["config_len"] = 9
    n = struct.unpack(">I", d[9:13])[0]
    off["config_name"] = 13
    p = 13 + n
    sections = []
    records = []
    while True:
        t = d[p]
        if t in (1, 4):
            sid = struct.unpack(">I", d[p + 1:p + 5])[0]
            ln = d[p + 5]
            name = d[p + 6:p + 6 + ln].decode()
            inst_off = p + 6 + ln
            sec = {"type": t, "off": p, "id_off": p + 1, "idlen_off": p + 5, "idstr_off": p + 6,
                   "inst_off": inst_off, "ver_off": inst_off + 4, "payload": inst_off + 8,
                   "name": name, "id": sid}
            p = inst_off + 8
        elif t in (2, 3):
            sid = struct.unpack(">I", d[p + 1:p + 5])[0]
            name = [s["name"] for s in sections if s["id"] == sid][0]
            sec = {"type": t, "off": p, "id_off": p + 1, "payload": p + 5, "name": name, "id": sid}
            p = p + 5
        elif t == 0:
            off["eof"] = p
            off["vmdesc"] = p + 1
            break
        else:
            raise SystemExit("unexpected type %d at %d" % (t, p))
        if sec["name"] == "ram":
            while True:
                w = struct.unpack(">Q", d[p:p + 8])[0]
                fl = w & 0xfff
                rec = {"off": p, "flags": fl, "addr": w & ~0xfff, "section": len(sections)}
                p += 8
                if fl & 0x04:
                    rec["names"] = []
                    total = w & ~0xfff
                    while total:
                        rec["names"].append(p)
                        ln = d[p]
                        p += 1 + ln
                        total -= struct.unpack(">Q", d[p:p + 8])[0]
                        rec.setdefault("lengths", []).append(p)
                        p += 8
                elif fl & 0x10:
                    pass
                else:
                    if not fl & 0x20:
                        rec["name_off"] = p
                        p += 1 + d[p]
                    rec["data_off"] = p
                    p += PAGE if fl & 0x08 else 1
                records.append(rec)
                if fl & 0x10:
                    break
        elif sec["name"] == "timer":
            p += 24
        elif sec["name"] == "globalstate":
            sec["size_off"] = p
            sec["runstate_off"] = p + 4
            p += 104
        sec["footer_off"] = p
        p += 5
        sections.append(sec)
    return off, sections, records


def build_cases(d):
    off, secs, recs = walk(d)
    start = secs[0]
    part = secs[1]
    end = secs[2]
    timer = [s for s in secs if s["name"] == "timer"][0]
    gs = [s for s in secs if s["name"] == "globalstate"][0]
    memsize = recs[0]
    pages = [r for r in recs if r["flags"] & 0x08]
    zeros = [r for r in recs if r["flags"] & 0x02]
    eos = [r for r in recs if r["flags"] & 0x10]
    first = pages[0]
    later = pages[100]
    C = []

    def case(name, *ops):
        C.append({"name": name, "ops": [list(o) for o in ops]})

    def setb(o, hexs):
        return ("set", o, hexs)

    def be32(v):
        return struct.pack(">I", v).hex()

    def be64(v):
        return struct.pack(">Q", v).hex()

    # -- truncation at every structure boundary
    bounds = {
        "header-magic-half": 2, "after-magic": 4, "after-version": 8, "after-config-byte": 9,
        "in-config-len": 11, "in-config-name": 15, "after-config": off["config_name"] + 4,
        "after-start-type": start["off"] + 1, "in-start-id": start["off"] + 3,
        "in-start-idstr": start["idstr_off"] + 1, "in-start-instance": start["inst_off"] + 2,
        "in-start-version": start["ver_off"] + 2, "after-start-header": start["payload"],
        "in-memsize-word": memsize["off"] + 4, "in-memsize-name": memsize["names"][0] + 2,
        "in-memsize-length": memsize["lengths"][0] + 3, "in-start-eos": eos[0]["off"] + 5,
        "after-start-eos": start["footer_off"], "in-start-footer-mark": start["footer_off"] + 1,
        "in-start-footer-id": start["footer_off"] + 3, "after-start": part["off"],
        "in-part-id": part["off"] + 2, "after-part-header": part["payload"],
        "in-first-page-word": first["off"] + 4, "in-first-page-name": first["name_off"] + 2,
        "in-first-page-data": first["data_off"] + 1000, "after-first-page": pages[1]["off"],
        "in-zero-record-fill": zeros[0]["data_off"], "after-zero-record": zeros[0]["data_off"] + 1,
        "in-later-page-data": later["data_off"] + 4095, "in-part-eos": eos[1]["off"] + 7,
        "in-part-footer": part["footer_off"] + 2, "after-part": end["off"],
        "after-end-header": end["payload"], "after-end-eos": end["footer_off"],
        "after-end": timer["off"], "in-timer-header": timer["idstr_off"] + 2,
        "in-timer-version": timer["ver_off"] + 1, "in-timer-ticks": timer["payload"] + 4,
        "in-timer-unused": timer["payload"] + 12, "in-timer-clock": timer["payload"] + 20,
        "after-timer-payload": timer["footer_off"], "in-timer-footer-id": timer["footer_off"] + 3,
        "after-timer": gs["off"], "in-gs-size": gs["size_off"] + 2,
        "in-gs-runstate": gs["runstate_off"] + 50, "after-gs-payload": gs["footer_off"],
        "in-gs-footer-id": gs["footer_off"] + 2, "after-gs": off["eof"],
        "after-eof": off["eof"] + 1, "in-vmdesc-len": off["vmdesc"] + 3,
        "in-vmdesc-json": off["vmdesc"] + 100,
    }
    for name, n in bounds.items():
        case("truncate-" + name, ("truncate", n))
    rnd = random.Random(7202)
    for i in range(24):
        case("truncate-random-%02d" % i, ("truncate", rnd.randrange(1, len(d))))

    # -- byte flips / overwrites
    case("flip-magic", setb(0, "58"))
    case("version-2", setb(7, "02"))
    case("version-4", setb(7, "04"))
    case("no-config-byte", setb(8, "01"))
    case("config-len-3-prefix", setb(12, "03"))
    case("config-len-5", setb(12, "05"))
    case("config-len-0", setb(12, "00"))
    case("config-name-pone", setb(13, "70"))
    case("config-subsection-unknown", ("insert", off["config_name"] + 4,
                                       "05" + "11" + b"configuration/foo".hex() + be32(1)))
    case("config-subsection-page-bits-13", ("insert", off["config_name"] + 4,
                                            "05" + "1e" + b"configuration/target-page-bits".hex()
                                            + be32(1) + be32(13)))
    case("config-subsection-page-bits-12", ("insert", off["config_name"] + 4,
                                            "05" + "1e" + b"configuration/target-page-bits".hex()
                                            + be32(1) + be32(12)))
    case("config-subsection-caps-x-ignore-shared", ("insert", off["config_name"] + 4,
                                                    "05" + "1a" + b"configuration/capabilities".hex()
                                                    + be32(1) + be32(1) + "0f" +
                                                    b"x-ignore-shared".hex()))
    case("config-subsection-caps-xbzrle", ("insert", off["config_name"] + 4,
                                           "05" + "1a" + b"configuration/capabilities".hex()
                                           + be32(1) + be32(1) + "06" + b"xbzrle".hex()))
    case("config-subsection-caps-bogus", ("insert", off["config_name"] + 4,
                                          "05" + "1a" + b"configuration/capabilities".hex()
                                          + be32(1) + be32(2) + "06" + b"xbzrle".hex() + "05" +
                                          b"bogus".hex()))
    case("config-subsection-caps-version-2", ("insert", off["config_name"] + 4,
                                              "05" + "1a" + b"configuration/capabilities".hex()
                                              + be32(2) + be32(0)))
    case("config-subsection-uuid-no-local", ("insert", off["config_name"] + 4,
                                             "05" + "12" + b"configuration/uuid".hex() + be32(1)
                                             + "00112233445566778899aabbccddeeff"))
    case("start-type-9", setb(start["off"], "09"))
    case("start-id-3", setb(start["id_off"] + 3, "03"))
    case("start-idstr-len-0", setb(start["idlen_off"], "00"))
    case("start-idstr-len-2", setb(start["idlen_off"], "02"))
    case("start-idstr-xam", setb(start["idstr_off"], "78"))
    case("start-idstr-nul", setb(start["idstr_off"] + 2, "00"))
    case("start-instance-1", setb(start["inst_off"] + 3, "01"))
    case("start-version-5", setb(start["ver_off"] + 3, "05"))
    case("start-version-3", setb(start["ver_off"] + 3, "03"))
    case("start-version-big", setb(start["ver_off"], "ff"))
    case("memsize-flags-05", setb(memsize["off"] + 7, "05"))
    case("memsize-continue", setb(memsize["off"] + 7, "24"))
    case("memsize-total-9M", setb(memsize["off"] + 5, "90"))
    case("memsize-total-4M", setb(memsize["off"] + 5, "40"))
    case("memsize-block-ram1", setb(memsize["names"][0] + 4, "31"))
    case("memsize-block-len-3", setb(memsize["names"][0], "03"))
    case("memsize-length-9M", setb(memsize["lengths"][0] + 5, "90"))
    case("memsize-length-unaligned", setb(memsize["lengths"][0] + 7, "01"))
    case("memsize-length-minus-1", setb(memsize["lengths"][0], be64(0x7fffff)))
    case("start-eos-continue", setb(eos[0]["off"] + 7, "30"))
    case("start-eos-zero-bit", setb(eos[0]["off"] + 7, "12"))
    case("start-footer-mark", setb(start["footer_off"], "7f"))
    case("start-footer-id", setb(start["footer_off"] + 4, "03"))
    case("part-type-3", setb(part["off"], "03"))
    case("part-id-3", setb(part["id_off"] + 3, "03"))
    case("part-id-minus-1", setb(part["id_off"], "ffffffff"))
    case("first-page-continue", setb(first["off"] + 7, "28"))
    case("first-page-flags-09", setb(first["off"] + 7, "09"))
    case("first-page-flags-00", setb(first["off"] + 7, "00"))
    case("first-page-flags-full", setb(first["off"] + 7, "01"))
    case("first-page-hook", setb(first["off"] + 7, "88"))
    case("first-page-compress", setb(first["off"] + 6, "01"))
    case("first-page-multifd-flush", setb(first["off"] + 6, "02"))
    case("first-page-xbzrle", setb(first["off"] + 7, "40"))
    case("first-page-zero-and-page", setb(first["off"] + 7, "0a"))
    case("first-page-block-ram9", setb(first["name_off"] + 4, "39"))
    case("first-page-block-len-0", setb(first["name_off"], "00"))
    case("first-page-offset-8M", setb(first["off"] + 5, "80"))
    case("first-page-offset-huge", setb(first["off"], "01"))
    case("later-page-offset-8M-minus", setb(later["off"] + 5, "7f"))
    case("later-page-offset-8M", setb(later["off"] + 5, "80"))
    case("later-page-flags-eos", setb(later["off"] + 7, "30"))
    case("zero-fill-55", setb(zeros[0]["data_off"], "55"))
    case("zero-record-offset-8M", setb(zeros[0]["off"] + 5, "80"))
    case("part-eos-to-page", setb(eos[1]["off"] + 7, "28"))
    case("part-footer-mark", setb(part["footer_off"], "00"))
    case("end-id-0", setb(end["id_off"] + 3, "00"))
    case("timer-version-3", setb(timer["ver_off"] + 3, "03"))
    case("timer-version-1", setb(timer["ver_off"] + 3, "01"))
    case("timer-version-0", setb(timer["ver_off"] + 3, "00"))
    case("timer-instance-1", setb(timer["inst_off"] + 3, "01"))
    case("timer-idstr-timex", setb(timer["idstr_off"] + 4, "78"))
    case("timer-unknown-subsection", ("insert", timer["footer_off"],
                                      "05" + "09" + b"timer/foo".hex() + be32(1)))
    case("timer-non-subsection-05", ("insert", timer["footer_off"], "05" + "02" + "7e7e"))
    case("timer-footer-id", setb(timer["footer_off"] + 4, "01"))
    case("gs-runstate-paused", setb(gs["runstate_off"], "706175736564000000"))
    case("gs-runstate-xunning", setb(gs["runstate_off"], "78"))
    case("gs-runstate-empty", setb(gs["runstate_off"], "00"))
    case("gs-runstate-unterminated", setb(gs["runstate_off"], "61" * 100))
    case("gs-size-garbage", setb(gs["size_off"], "ffffffff"))
    case("gs-version-2", setb(gs["ver_off"] + 3, "02"))
    case("gs-version-0", setb(gs["ver_off"] + 3, "00"))
    case("eof-to-42", setb(off["eof"], "42"))
    case("eof-to-footer", setb(off["eof"], "7e"))
    case("eof-to-subsection", setb(off["eof"], "05"))
    case("vmdesc-type-07", setb(off["vmdesc"], "07"))
    case("vmdesc-len-huge", setb(off["vmdesc"] + 1, "7fffffff"))
    case("no-vmdesc", ("truncate", off["vmdesc"]))

    # -- commands inserted after the configuration
    cfg_end = off["config_name"] + 4
    case("cmd-open-return-path-and-ping", ("insert", cfg_end, "0800010000" + "080002000400000001"))
    case("cmd-open-return-path-twice", ("insert", cfg_end, "0800010000" + "0800010000"))
    case("cmd-ping-no-return-path", ("insert", cfg_end, "080002000400000007"))
    case("cmd-ping-bad-length", ("insert", cfg_end, "08000200020000"))
    case("cmd-invalid-0", ("insert", cfg_end, "0800000000"))
    case("cmd-unknown-11", ("insert", cfg_end, "08000b0003aabbcc"))
    case("cmd-open-return-path-bad-length", ("insert", cfg_end, "080001000100"))
    case("cmd-postcopy-advise-0", ("insert", cfg_end, "0800030000"))
    case("cmd-postcopy-advise-16", ("insert", cfg_end, "0800030010" + "00" * 16))
    case("cmd-postcopy-advise-8", ("insert", cfg_end, "0800030008" + "00" * 8))
    case("cmd-postcopy-advise-twice", ("insert", cfg_end, "0800030000" + "0800030000"))
    case("cmd-postcopy-listen-first", ("insert", cfg_end, "0800040000"))
    case("cmd-postcopy-run-first", ("insert", cfg_end, "0800050000"))
    case("cmd-postcopy-discard-first", ("insert", cfg_end, "0800060000"))
    case("cmd-postcopy-resume", ("insert", cfg_end, "0800090000"))
    case("cmd-enable-colo-bad-length", ("insert", cfg_end, "08000800020000"))
    case("cmd-recv-bitmap-empty-name", ("insert", cfg_end, "08000a000100"))
    case("cmd-recv-bitmap-bad-length", ("insert", cfg_end, "08000a000904" + b"ram0".hex()))
    case("cmd-packaged-bad-length", ("insert", cfg_end, "0800070002" + "0000"))
    case("cmd-truncated", ("insert", cfg_end, "0800"), ("truncate", cfg_end + 2))
    return C


def apply(d, ops):
    d = bytearray(d)
    for op in ops:
        if op[0] == "truncate":
            del d[op[1]:]
        elif op[0] == "set":
            b = bytes.fromhex(op[2])
            d[op[1]:op[1] + len(b)] = b
        elif op[0] == "insert":
            d[op[1]:op[1]] = bytes.fromhex(op[2])
        else:
            raise SystemExit("bad op %r" % (op,))
    return bytes(d)


def qmp_cmd(path, cmds):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    f = s.makefile("rwb")
    f.readline()
    out = []
    for c in ["qmp_capabilities"] + cmds:
        f.write(json.dumps({"execute": c}).encode() + b"\n")
        f.flush()
        while True:
            r = json.loads(f.readline())
            if "event" not in r:
                out.append(r)
                break
    s.close()
    return out


def run_case(qemu, work, data, name):
    src = os.path.join(work, "stream.bin")
    with open(src, "wb") as f:
        f.write(data)
    dram = os.path.join(work, "dst.ram")
    with open(dram, "wb") as f:
        f.truncate(8 << 20)
    sock = os.path.join(work, "qmp.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    cmd = [qemu, "-M", "none,memory-backend=ram0", "-m", "8M", "-object",
           "memory-backend-file,id=ram0,size=8M,mem-path=%s,share=on" % dram,
           "-nodefaults", "-display", "none", "-qmp", "unix:%s,server=on,wait=off" % sock,
           "-incoming", "exec:cat %s" % src]
    errp = os.path.join(work, "stderr")
    with open(errp, "wb") as errf:
        proc = subprocess.Popen(cmd, stdout=errf, stderr=errf)
        status = None
        deadline = time.time() + 30
        try:
            while time.time() < deadline:
                if proc.poll() is not None:
                    status = "failed" if proc.returncode != 0 else "exited"
                    break
                try:
                    st = qmp_cmd(sock, ["query-migrate"])[1]["return"].get("status")
                except (OSError, ValueError, KeyError, IndexError):
                    st = None
                if st == "completed":
                    status = "completed"
                    break
                if st == "failed" and proc.poll() is not None:
                    status = "failed"
                    break
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                try:
                    qmp_cmd(sock, ["quit"])
                except (OSError, ValueError):
                    pass
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    if status is None:
        raise SystemExit("%s: QEMU neither completed nor failed" % name)
    lines = []
    for line in open(errp, "rb").read().decode("latin-1").splitlines():
        lines.append(line[len(PREFIX):] if line.startswith(PREFIX) else line)
    with open(dram, "rb") as f:
        ram = hashlib.sha256(f.read()).hexdigest()
    return status, lines, ram


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--testdata", default="/work/shared/testdata/qemu-7.2")
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--out", default=os.path.join(here, "testdata", "qemu72_load_errors.json"))
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    cap = "a-precopy.main.bin.gz"
    with gzip.open(os.path.join(a.testdata, cap), "rb") as f:
        d = f.read()
    version = subprocess.run([a.qemu, "--version"], capture_output=True, text=True).stdout
    cases = build_cases(d)
    only = set(x for x in a.only.split(",") if x)
    out = []
    with tempfile.TemporaryDirectory() as work:
        for c in cases:
            if only and c["name"] not in only:
                continue
            status, lines, ram = run_case(a.qemu, work, apply(d, c["ops"]), c["name"])
            c.update({"status": status, "lines": lines, "ram_sha256": ram})
            print("%-45s %-9s %s" % (c["name"], status, " | ".join(lines)))
            out.append(c)
    if only:
        return 0
    doc = {
        "generator": "tests/unit/migration/gen_qemu_load_table.py",
        "qemu": version.splitlines()[0] if version else "",
        "capture": cap,
        "capture_sha256": hashlib.sha256(d).hexdigest(),
        "destination": "-M none,memory-backend=ram0 -m 8M, memory-backend-file of zeros, "
                       "-incoming exec:cat FILE",
        "cases": out,
    }
    with open(a.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote %d cases to %s" % (len(out), a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
