"""getfd / closefd and fd:NAME migration URIs, the way libvirt drives QEMU: the manager opens
the connection and passes the descriptor over the QMP socket (SCM_RIGHTS)."""

from __future__ import annotations

import socket

import pytest

from machine import Machine
from migration_util import digest, tcp_uri, wait_both

pytestmark = pytest.mark.migemu_qmp


def fd_errors(vm: Machine):
    out = []
    out.append(vm.qmp.cmd_raw({"execute": "getfd", "arguments": {"fdname": "x"}}))
    out.append(vm.qmp.cmd_raw({"execute": "closefd", "arguments": {"fdname": "x"}}))
    out.append(vm.qmp.cmd_raw({"execute": "migrate", "arguments": {"uri": "fd:nope"}}))
    out.append(vm.qmp.cmd_raw({"execute": "query-migrate"}))
    a, b = socket.socketpair()
    try:
        try:
            vm.qmp.send_fd(a.fileno(), "1bad")
        except Exception as e:  # noqa: BLE001
            out.append(str(e))
        vm.qmp.send_fd(a.fileno(), "ok")
        out.append(vm.qmp.cmd_raw({"execute": "closefd", "arguments": {"fdname": "ok"}}))
        out.append(vm.qmp.cmd_raw({"execute": "closefd", "arguments": {"fdname": "ok"}}))
    finally:
        a.close()
        b.close()
    return out


def test_fd_commands_answer_like_qemu(target):
    out = target.check(fd_errors)
    assert out[0]["error"]["desc"] == "No file descriptor supplied via SCM_RIGHTS"
    assert out[2]["error"]["desc"] == "File descriptor named 'nope' has not been found"


def test_migrate_over_a_passed_descriptor(migemu):
    src = migemu("-m", "32M", "-workload", "dirty-rate=8M/s")
    uri = tcp_uri()
    dst = migemu("-m", "32M", "-incoming", uri)
    host, port = uri[4:].rsplit(":", 1)
    conn = socket.create_connection((host, int(port)))
    try:
        src.qmp.send_fd(conn.fileno(), "migrate")
    finally:
        conn.close()  # the source holds its own copy now
    src.cmd("migrate", uri="fd:migrate")
    assert wait_both(src, dst)["status"] == "completed"
    dst.cmd("stop")
    assert digest(src) == digest(dst)
    # monitor_get_fd() hands the descriptor over: the name is gone afterwards.
    with pytest.raises(Exception, match="File descriptor named 'migrate' not found"):
        src.cmd("closefd", fdname="migrate")
