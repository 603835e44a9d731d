"""Live precopy migration between two migemu processes: integrity under a running workload,
the state machine and its events, query-migrate, failures and cancellation (issue 6)."""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest

from migration_util import digest, ram_backend_args, random_ram_args, set_caps, tcp_uri, wait_both, wait_status

pytestmark = pytest.mark.migemu_qmp


def test_workload_migration_moves_every_byte(migemu):
    src = migemu("-m", "64M", "-workload", "dirty-rate=48M/s,pattern=random,seed=3")
    uri = tcp_uri()
    dst = migemu("-m", "64M", "-incoming", uri)
    set_caps(src, events=True)
    set_caps(dst, events=True)
    # A bandwidth close to the dirty rate forces several iterations before convergence.
    src.cmd("migrate-set-parameters", {"max-bandwidth": 96 << 20, "downtime-limit": 300})
    src.cmd("migrate", uri=uri)
    info = wait_both(src, dst)
    assert info["status"] == "completed", info
    # The source stopped at completion, so its RAM is what the destination must hold.
    assert src.query_status()["status"] == "postmigrate"
    dst.wait_for_status("running")
    # Destination: active, then the guest resumes, then completed.
    completed = {"data": {"status": "completed"}}
    dst_events = [(e["event"], e.get("data"))
                  for e in dst.qmp.events_until("MIGRATION", timeout=10, match=completed)]
    assert dst_events == [("MIGRATION", {"status": "active"}), ("RESUME", None),
                          ("MIGRATION", {"status": "completed"})]
    src_digest = src.cmd("x-query-ram-digest")
    dst.cmd("stop")
    dst_digest = dst.cmd("x-query-ram-digest")
    assert dst_digest["digest"] == src_digest["digest"]
    assert dst_digest["bad-pages"] == 0
    assert dst_digest["workload-pages"] == src_digest["workload-pages"] > 0
    ram = info["ram"]
    assert ram["dirty-sync-count"] >= 2
    assert ram["remaining"] == 0 and ram["total"] == 64 << 20
    assert ram["normal-bytes"] == ram["normal"] * 4096
    assert set(info) == {"status", "setup-time", "total-time", "downtime", "ram"}
    # Source events: setup, PASS 1, active, ..., STOP, final PASS, completed.
    events = [(e["event"], e.get("data"))
              for e in src.qmp.events_until("MIGRATION", timeout=10, match=completed)]
    names = [e[0] for e in events]
    assert events[0] == ("MIGRATION", {"status": "setup"})
    assert events[1] == ("MIGRATION_PASS", {"pass": 1})
    assert events[2] == ("MIGRATION", {"status": "active"})
    assert events[-1] == ("MIGRATION", {"status": "completed"})
    assert names.index("STOP") < len(names) - 1
    passes = [d["pass"] for n, d in events if n == "MIGRATION_PASS"]
    assert passes == list(range(1, ram["dirty-sync-count"] + 1))


def test_incoming_defer_reports_socket_address(migemu):
    src = migemu("-m", "16M")
    dst = migemu("-m", "16M", "-incoming", "defer")
    assert dst.query_status()["status"] == "inmigrate"
    assert dst.query_migrate() == {}
    dst.cmd("migrate-incoming", uri="tcp:127.0.0.1:0")
    assert dst.qmp.wait_event("MIGRATION", timeout=5)["data"] == {"status": "setup"}
    addr = dst.query_migrate()["socket-address"]
    assert len(addr) == 1 and addr[0]["type"] == "inet" and addr[0]["host"] == "127.0.0.1"
    assert addr[0]["port"] != "0" and addr[0]["ipv4"] is True
    with pytest.raises(Exception, match="The incoming migration has already been started"):
        dst.cmd("migrate-incoming", uri="tcp:127.0.0.1:0")
    src.cmd("migrate", uri=f"tcp:127.0.0.1:{addr[0]['port']}")
    assert wait_both(src, dst)["status"] == "completed"
    assert digest(src) == digest(dst)


def test_runstate_travels_and_dash_s_keeps_destination_paused(migemu):
    # A prelaunch (-S) source sends "prelaunch": the destination ends in prelaunch.
    uri = tcp_uri()
    src = migemu("-m", "8M", "-S")
    dst = migemu("-m", "8M", "-incoming", uri)
    src.cmd("migrate", uri=uri)
    wait_both(src, dst)
    assert dst.query_status()["status"] == "prelaunch"
    # A running source into a destination started with -S: paused.
    uri = tcp_uri()
    src = migemu("-m", "8M")
    dst = migemu("-m", "8M", "-S", "-incoming", uri)
    src.cmd("migrate", uri=uri)
    wait_both(src, dst)
    assert dst.query_status()["status"] == "paused"


def test_exec_to_file_and_back(migemu, tmp_path):
    image = tmp_path / "stream.bin"
    src = migemu("-m", "16M", "-workload", "dirty-rate=8M/s")
    src.cmd("migrate", uri=f"exec:cat > {image}")
    assert src.wait_migration()["status"] == "completed"
    dst = migemu("-m", "16M", "-incoming", f"exec:cat {image}")
    dst.wait_migration(("completed",))
    assert dst.query_status()["status"] == "running"
    dst.cmd("stop")
    assert digest(src) == digest(dst)


def test_destination_killed_midway_then_retry(migemu, tmp_path):
    src = migemu(*random_ram_args(str(tmp_path), 64), "-workload", "dirty-rate=4M/s")
    uri = tcp_uri()
    dst = migemu(*ram_backend_args(64), "-incoming", uri)
    src.cmd("migrate-set-parameters", {"max-bandwidth": 8 << 20})  # about 8 s for 64 MiB
    src.cmd("migrate", uri=uri)
    wait_status(src, ["active"])
    time.sleep(0.3)
    os.kill(dst.pid, signal.SIGKILL)
    info = src.wait_migration(timeout=30)
    assert info["status"] == "failed"
    assert info["error-desc"]
    assert src.query_status()["status"] == "running"
    # The source is usable: a second migration to a fresh destination succeeds.
    uri = tcp_uri()
    dst2 = migemu(*ram_backend_args(64), "-incoming", uri)
    src.cmd("migrate-set-parameters", {"max-bandwidth": 1 << 30})
    src.cmd("migrate", uri=uri)
    assert wait_both(src, dst2)["status"] == "completed"
    dst2.cmd("stop")
    assert digest(src) == digest(dst2)


def test_connection_refused(migemu):
    src = migemu("-m", "8M")
    port = tcp_uri().rsplit(":", 1)[1]
    src.cmd("migrate", uri=f"tcp:127.0.0.1:{port}")
    info = src.wait_migration()
    assert info == {"status": "failed",
                    "error-desc": f"Failed to connect to '127.0.0.1:{port}': Connection refused"}
    assert src.query_status()["status"] == "running"


def test_cancel_then_migrate_again(migemu, tmp_path):
    src = migemu(*random_ram_args(str(tmp_path), 64))
    set_caps(src, events=True)
    uri = tcp_uri()
    dst = migemu(*ram_backend_args(64), "-incoming", uri)
    src.cmd("migrate-set-parameters", {"max-bandwidth": 4 << 20})
    src.cmd("migrate", uri=uri)
    wait_status(src, ["active"])
    src.cmd("migrate_cancel")
    assert src.wait_migration()["status"] == "cancelled"
    assert src.query_status()["status"] == "running"
    statuses = [e["data"]["status"] for e in src.qmp.events_until(
        "MIGRATION", timeout=10, match={"data": {"status": "cancelled"}}) if e["event"] == "MIGRATION"]
    assert statuses[-2:] == ["cancelling", "cancelled"]
    src.cmd("migrate_cancel")  # always succeeds
    dst.shutdown()
    uri = tcp_uri()
    dst2 = migemu(*ram_backend_args(64), "-incoming", uri)
    src.cmd("migrate-set-parameters", {"max-bandwidth": 1 << 30})
    src.cmd("migrate", uri=uri)
    assert wait_both(src, dst2)["status"] == "completed"
    assert digest(src) == digest(dst2)


def test_pause_before_switchover(migemu):
    src = migemu("-m", "16M")
    uri = tcp_uri()
    dst = migemu("-m", "16M", "-incoming", uri)
    set_caps(src, pause_before_switchover=True)
    src.cmd("migrate", uri=uri)
    wait_status(src, ["pre-switchover"])
    assert src.query_status()["status"] == "finish-migrate"
    with pytest.raises(Exception, match="Migration not in expected state: pre-switchover"):
        src.cmd("migrate-continue", state="device")
    src.cmd("migrate-continue", state="pre-switchover")
    assert wait_both(src, dst)["status"] == "completed"
    assert digest(src) == digest(dst)


def test_return_path(migemu):
    src = migemu("-m", "16M")
    uri = tcp_uri()
    dst = migemu("-m", "16M", "-incoming", "defer")
    set_caps(src, return_path=True)
    set_caps(dst, return_path=True)
    dst.cmd("migrate-incoming", uri=uri)
    src.cmd("migrate", uri=uri)
    assert wait_both(src, dst)["status"] == "completed"


def test_migrate_refusals(migemu):
    vm = migemu("-m", "8M")
    with pytest.raises(Exception, match="Parameter 'uri' expects a valid migration protocol"):
        vm.cmd("migrate", uri="foo:bar")
    assert vm.query_migrate() == {"status": "failed"}
    with pytest.raises(Exception, match="error parsing address 'nohost'"):
        vm.cmd("migrate", uri="tcp:nohost")
    assert vm.query_migrate() == {"status": "failed", "error-desc": "error parsing address 'nohost'"}
    inm = migemu("-m", "8M", "-incoming", "defer")
    with pytest.raises(Exception, match="Guest is waiting for an incoming migration"):
        inm.cmd("migrate", uri="tcp:127.0.0.1:1")
    with pytest.raises(Exception, match="'-incoming' was not specified on the command line"):
        vm.cmd("migrate-incoming", uri="tcp:127.0.0.1:0")
    # After a completed migration the paused source refuses another one.
    uri = tcp_uri()
    dst = migemu("-m", "8M", "-incoming", uri)
    vm.cmd("migrate", uri=uri)
    wait_both(vm, dst)
    with pytest.raises(Exception, match="Can't migrate the vm that was paused due to previous migration"):
        vm.cmd("migrate", uri=uri)


def test_bad_stream_makes_the_destination_exit(migemu):
    uri = tcp_uri()
    dst = migemu("-m", "8M", "-incoming", uri)
    host, port = uri[4:].rsplit(":", 1)
    with socket.create_connection((host, int(port))) as s:
        s.sendall(b"NOPE\x00\x00\x00\x03")
    assert dst.wait(timeout=10) == 1
    err = dst.stderr_text()
    assert "migemu: Not a migration stream\n" in err
    assert "migemu: load of migration failed: Invalid argument\n" in err


def test_auto_converge_throttles_the_guest(migemu, tmp_path):
    # Non-zero RAM makes the first pass take over a second, so the dirtying is measured.
    src = migemu(*random_ram_args(str(tmp_path), 32), "-workload",
                 "dirty-rate=256M/s,pattern=random")
    uri = tcp_uri()
    dst = migemu(*ram_backend_args(32), "-incoming", uri)
    set_caps(src, auto_converge=True)
    src.cmd("migrate-set-parameters", {"max-bandwidth": 24 << 20, "cpu-throttle-initial": 60,
                                       "cpu-throttle-increment": 39})
    src.cmd("migrate", uri=uri)
    seen = None
    end = time.monotonic() + 40
    while time.monotonic() < end:
        info = src.query_migrate()
        seen = info.get("cpu-throttle-percentage", seen)
        if info["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.1)
    assert seen is not None and seen >= 60
    assert wait_both(src, dst, timeout=40)["status"] == "completed"
    dst.cmd("stop")
    assert digest(src) == digest(dst)
    assert src.cmd("x-query-workload")["throttle"] == 0  # throttling stops with the migration
