#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/) from the QEMU 7.2
captures in tests/data/qemu-7.2 and from recorded QMP sessions; ./scripts/fuzz runs it when a
corpus directory is missing, and its output is committed so that every build replays it.

Captured streams are 8 MiB of guest pages; as seeds they are shrunk without breaking them:
every section, command and record kind is kept, but each `ram` section keeps only its first
few page records (the loader then leaves the other pages zero), and each multifd channel keeps
its init packet and its first packets up to its second SYNC.

    tests/fuzz/make_seeds.py [OUTDIR]     # default: tests/fuzz/corpus
"""

from __future__ import annotations

import gzip
import json
import os
import struct
import sys
from typing import Dict, List, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "data", "qemu-7.2")

RAM_FLAG_MEM_SIZE = 0x04
RAM_FLAG_ZERO = 0x02
RAM_FLAG_PAGE = 0x08
RAM_FLAG_EOS = 0x10
RAM_FLAG_CONTINUE = 0x20
PAGE = 4096
KEEP_PAGES = 4


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("stream cut short")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def be16(self) -> int:
        return int(struct.unpack(">H", self.take(2))[0])

    def be32(self) -> int:
        return int(struct.unpack(">I", self.take(4))[0])

    def be64(self) -> int:
        return int(struct.unpack(">Q", self.take(8))[0])

    def counted(self) -> bytes:
        n = self.u8()
        return bytes([n]) + self.take(n)


def shrink_ram_section(r: Reader) -> bytes:
    """Copies one ram section payload up to its EOS, keeping KEEP_PAGES page/zero records."""
    out = bytearray()
    kept = 0
    while True:
        start = r.pos
        word = r.be64()
        flags = word & 0xFFF
        if flags & RAM_FLAG_MEM_SIZE:
            total = word & ~0xFFF
            while total > 0:
                r.counted()
                total -= r.be64()
            out += r.data[start:r.pos]
            continue
        if flags & RAM_FLAG_EOS:
            out += r.data[start:r.pos]
            return bytes(out)
        if not flags & RAM_FLAG_CONTINUE:
            r.counted()
        if flags & RAM_FLAG_ZERO:
            r.take(1)
        elif flags & RAM_FLAG_PAGE:
            r.take(PAGE)
        else:
            raise ValueError(f"unexpected ram flags {flags:#x}")
        if kept < KEEP_PAGES:
            out += r.data[start:r.pos]
            kept += 1


def shrink_main_stream(data: bytes) -> bytes:
    r = Reader(data)
    out = bytearray(r.take(8))  # QEVM, version
    if r.u8() != 0x07:
        raise ValueError("no configuration section")
    n = r.be32()
    out += bytes([0x07]) + struct.pack(">I", n) + r.take(n)
    sections: Dict[int, bytes] = {}
    while r.pos < len(data):
        start = r.pos
        kind = r.u8()
        if kind in (0x01, 0x04):  # START, FULL
            sid = r.be32()
            idstr = r.counted()[1:]
            r.take(8)
            sections[sid] = idstr
            if idstr != b"ram":
                out += data[start:]  # device sections, EOF, vmdesc: verbatim
                return bytes(out)
            out += data[start:r.pos] + shrink_ram_section(r)
        elif kind in (0x02, 0x03):  # PART, END
            sid = r.be32()
            if sections.get(sid) != b"ram":
                out += data[start:]
                return bytes(out)
            out += data[start:r.pos] + shrink_ram_section(r)
        elif kind == 0x7E:  # footer
            r.be32()
            out += data[start:r.pos]
        elif kind == 0x08:  # command
            r.be16()
            n = r.be16()
            r.take(n)
            out += data[start:r.pos]
        else:
            out += data[start:]
            return bytes(out)
    return bytes(out)


def shrink_multifd_channel(data: bytes, compressed: bool) -> bytes:
    out = bytearray(data[:64])
    out[24] = 0  # channel id 0: the receive target takes one channel
    pos, syncs, packets = 64, 0, 0
    while pos + 1344 <= len(data) and syncs < 2 and packets < 8:
        flags, _alloc, normal, next_size = struct.unpack(">IIII", data[pos + 8:pos + 24])
        payload = next_size if compressed else normal * PAGE
        end = pos + 1344 + payload
        if end > len(data):
            break
        header = bytearray(data[pos:pos + 1344])
        if compressed:
            out += header + data[pos + 1344:end]
        else:
            # Two pages per packet are enough to reach every path; the header says so.
            keep = min(normal, 2)
            header[16:20] = struct.pack(">I", keep)
            out += header + data[pos + 1344:pos + 1344 + keep * PAGE]
        pos = end
        packets += 1
        syncs += flags & 1
    return bytes(out)


QMP_CASES: List[Tuple[str, bytes]] = [
    ("negotiate", b'{"execute": "qmp_capabilities"}\r\n{"execute": "query-status"}\n'),
    ("oob", b'{"execute": "qmp_capabilities", "arguments": {"enable": ["oob"]}}\n'
            b'{"exec-oob": "migrate-pause", "id": 1}\n{"execute": "query-version", "id": "x"}\n'),
    ("migration", b'{"execute": "qmp_capabilities"}\n'
                  b'{"execute": "migrate-set-capabilities", "arguments": {"capabilities": '
                  b'[{"capability": "multifd", "state": true}, {"capability": "zero-copy-send",'
                  b' "state": true}]}}\n'
                  b'{"execute": "migrate-set-parameters", "arguments": {"multifd-channels": 4,'
                  b' "multifd-compression": "zstd", "max-bandwidth": 1073741824,'
                  b' "downtime-limit": 300, "tls-creds": ""}}\n'
                  b'{"execute": "query-migrate-parameters"}\n{"execute": "query-migrate"}\n'
                  b'{"execute": "migrate", "arguments": {"uri": "tcp:nohost"}}\n'
                  b'{"execute": "migrate_cancel"}\n{"execute": "migrate-continue",'
                  b' "arguments": {"state": "pre-switchover"}}\n'),
    ("machine", b'{"execute": "qmp_capabilities"}\n{"execute": "cont"}\n{"execute": "stop"}\n'
                b'{"execute": "x-query-ram-digest"}\n{"execute": "x-set-workload", "arguments":'
                b' {"dirty-rate": 1048576, "pattern": "hotspot", "hot-fraction": 0.5}}\n'
                b'{"execute": "x-query-workload"}\n{"execute": "query-name"}\n'
                b'{"execute": "object-add", "arguments": {"qom-type": "memory-backend-ram",'
                b' "id": "m1", "size": 1048576}}\n{"execute": "object-del", "arguments":'
                b' {"id": "m1"}}\n{"execute": "query-commands"}\n'),
    ("faults", b'{"execute": "qmp_capabilities"}\n{"execute": "x-query-fault-points"}\n'
               b'{"execute": "x-inject-fault", "arguments": {"point": "migration.send.write",'
               b' "after": 3, "times": 0, "delay-ms": 1, "fail": false, "message": "m"}}\n'
               b'{"execute": "x-clear-faults"}\n'),
    ("dirty-rate", b'{"execute": "qmp_capabilities"}\n{"execute": "calc-dirty-rate",'
                   b' "arguments": {"calc-time": 1, "sample-pages": 16}}\n'
                   b'{"execute": "query-dirty-rate"}\n'),
    ("malformed", b'{"execute": 1}\n{"execute": "qmp_capabilities", "arguments": []}\n'
                  b'{]\n[1, 2, {"a": nul}\n\x00\xff{"id": 1e400}\n{\'execute\': \'quit\'}\n'
                  b'"\\ud800"\n{"execute": "query-status", "id": {"deep": [[[[]]]]}}\n'),
    ("schema", b'{"execute": "qmp_capabilities"}\n{"execute": "query-qmp-schema"}\n'
               b'{"execute": "human-monitor-command", "arguments": {"command-line":'
               b' "info status"}}\n{"execute": "quit"}\n'),
]

COMMAND_LINES: List[Tuple[str, List[str]]] = [
    ("basic", ["-M", "none", "-m", "64M", "-S", "-name", "guest=vm,debug-threads=on",
               "-nodefaults", "-display", "none"]),
    ("qmp", ["-qmp", "unix:/tmp/q.sock,server=on,wait=off", "-qmp",
             "tcp:127.0.0.1:4444,server=on,wait=off", "-monitor", "none"]),
    ("incoming", ["-incoming", "defer", "-uuid", "12345678-1234-1234-1234-123456789abc"]),
    ("backend", ["-M", "none,memory-backend=ram0", "-object",
                 "memory-backend-file,id=ram0,size=8M,mem-path=/tmp/x.img,share=on",
                 "-mem-prealloc"]),
    ("objects", ["-object", "tls-creds-x509,id=tls0,dir=/tmp/pki,endpoint=server,verify-peer=on",
                 "-object", "tls-creds-psk,id=psk0,dir=/tmp/psk,endpoint=client,username=u",
                 "-object", "authz-list,id=auth0,policy=deny"]),
    ("workload", ["-workload", "dirty-rate=64M/s,pattern=hotspot,hot-fraction=0.25,seed=7,"
                  "threads=2", "-m", "size=1G,slots=2,maxmem=4G"]),
    ("help", ["-object", "help", "-machine", "help", "-daemonize", "-pidfile", "/tmp/p"]),
]

# HMP sessions: one command line per line (the hmp target runs each, and completes it).
HMP_CASES: List[Tuple[str, List[str]]] = [
    ("info", ["info status", "info version", "info name", "info uuid", "info migrate",
              "info migrate_parameters", "info migrate_capabilities", "info dirty_rate",
              "info history", "info"]),
    ("help", ["help", "?", "help migrate", "help info", "help migrate_set_parameter", "help x",
              "help  info  status"]),
    ("settings", ["migrate_set_capability multifd on", "migrate_set_capability zero-copy-send on",
                  "migrate_set_parameter multifd-channels 4",
                  "migrate_set_parameter max-bandwidth 100M",
                  "migrate_set_parameter downtime-limit 300",
                  "migrate_set_parameter multifd-compression zstd",
                  "migrate_set_parameter tls-creds tls0",
                  "migrate_set_parameter announce-initial 1.5k",
                  "migrate_set_capability events off", "info migrate_parameters"]),
    ("run-state", ["cont", "stop", "c", "info status", "stop", "migrate_cancel",
                   "migrate_continue pre-switchover", "migrate_start_postcopy"]),
    ("migrate", ["migrate -d tcp:127.0.0.1:1", "migrate -b exec:true", "migrate", "migrate nope:x",
                 "migrate_incoming tcp:0:1", "migrate_recover unix:/x", "migrate_pause"]),
    ("dirty-rate", ["calc_dirty_rate 1", "calc_dirty_rate -r 1 64", "calc_dirty_rate -b 1",
                    "info dirty_rate"]),
    ("malformed", ["", "   ", "info  ", "migrate_set_parameter", "migrate_set_parameter x 1",
                   "migrate_set_capability multifd maybe", "stop extra", "info nope",
                   "\"quoted\" word", "migrate_set_parameter max-bandwidth 1Z",
                   "migrate_set_parameter downtime-limit -1", "q\x01", "\xff\xfe"]),
    ("complete", ["mig", "info m", "migrate_set_parameter m", "migrate_set_capability x",
                  "migrate_set_capability xbzrle o", "help in", "info migrate_"]),
]

URIS: List[Tuple[str, int, str]] = [
    ("mig-tcp", 0, "tcp:127.0.0.1:4444"),
    ("mig-tcp6", 0, "tcp:[::1]:4444,ipv6=on"),
    ("mig-unix", 1, "unix:/tmp/mig.sock"),
    ("mig-exec", 0, "exec:cat > /tmp/out"),
    ("mig-fd", 1, "fd:migfd"),
    ("mig-vsock", 0, "vsock:3:1234"),
    ("sock-inet-opts", 2, "tcp:localhost:4444,to=4450,ipv4=on,keep-alive=on"),
    ("inet", 3, "0.0.0.0:0,numeric=on"),
    ("chardev-unix", 4, "unix:/tmp/q.sock,server=on,wait=off"),
    ("chardev-tcp", 4, "tcp:127.0.0.1:4444,server=on,wait=off,nodelay=on,tls-creds=tls0"),
    ("size", 5, "1.5G"),
    ("size-mib", 6, "0x10"),
    ("keyval", 7, "ram0,size=8M,share=on,prealloc=off,,comma"),
    ("uuid", 8, "12345678-1234-1234-1234-123456789abc"),
]


def write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    with open(os.path.join(DATA, "captures.json")) as f:
        captures = json.load(f)["captures"]
    compression_byte = {"none": 0, "zlib": 1, "zstd": 2}
    for name in sorted(os.listdir(DATA)):
        if not name.endswith(".bin.gz") or name.endswith(".rp.bin.gz"):
            continue  # the return-path capture is no target's input
        method = "zlib" if "zlib" in name else "zstd" if "zstd" in name else "none"
        with gzip.open(os.path.join(DATA, name), "rb") as g:
            data = g.read()
        base = name.replace(".bin.gz", "")
        if ".main" in name:
            stream = shrink_main_stream(data)
            write(os.path.join(out, "stream_load", base), stream)
            # The same stream with the other setting of `compress` (the target reads the last
            # byte's low bit; a byte after the vmdesc trailer is never read by the loader).
            if stream[-1] & 1:
                write(os.path.join(out, "stream_load", base + ".nocompress"), stream + b"\x00")
            else:
                write(os.path.join(out, "stream_load", base + ".compress"), stream + b"\x01")
        elif ".multifd" in name:
            channel = shrink_multifd_channel(data, method != "none")
            write(os.path.join(out, "multifd_recv", base),
                  bytes([compression_byte[method]]) + channel)
            write(os.path.join(out, "multifd_packet", base), channel[:64 + 3 * 1344])
    for cap in captures:
        # The QMP commands each capture's session ran, as one client's input.
        lines = [b'{"execute": "qmp_capabilities"}']
        for cmd in cap.get("qmp", []):
            req = {k: v for k, v in cmd.items() if k in ("execute", "arguments")}
            lines.append(json.dumps(req).encode())
        write(os.path.join(out, "qmp", "capture-" + cap["name"]), b"\n".join(lines) + b"\n")
    for name, data in QMP_CASES:
        write(os.path.join(out, "qmp", name), data)
        write(os.path.join(out, "json", name), data)
    for name, lines in HMP_CASES:
        write(os.path.join(out, "hmp", name), "\n".join(lines).encode("latin-1") + b"\n")
    for name, args in COMMAND_LINES:
        write(os.path.join(out, "command_line", name), b"\x00".join(a.encode() for a in args))
    for name, selector, text in URIS:
        write(os.path.join(out, "uri", name), bytes([selector]) + text.encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
