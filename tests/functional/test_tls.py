"""TLS migration (issue 8): QEMU's migration-test TLS matrix — x509 default host, override host,
mismatched host, friendly client, hostile client, allow-anon client, reject-anon client; PSK
match and mismatch — for plain precopy and for multifd with 2 channels, migemu to migemu, with
certificates made at test time by certtool (tls_certs.py). A failed case must leave the source
running with its RAM intact, and the same destination still listening: a second migration with
corrected credentials completes with equal digests. Plus the credential objects' texts, the
zero-copy rule, and TLS migrations between real QEMU 7.2 and migemu (same certificates).
"""

from __future__ import annotations

import shutil
from typing import Any, Callable, Dict, List, Optional

import pytest
import tls_certs
from machine import Machine, free_tcp_port
from migration_util import (PATTERN_SHA256, digest, file_backend_args, random_ram_args,
                            ram_backend_args, set_caps, sha256_file, tcp_uri, wait_both,
                            write_pattern, write_zeros)

MachineFactory = Callable[..., Machine]

RAM_MIB = 32  # more than the socket buffers hold: a rejected source cannot "complete"
ZERO_COPY_TEXT = "Zero copy only available for non-compressed non-TLS multifd migration"

pytestmark = [pytest.mark.migemu_qmp]


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    return tls_certs.make_all(str(tmp_path_factory.mktemp("pki")))


def add_creds(vm: Machine, pki: Dict[str, str], role: str, endpoint: str,
              verify_peer: Optional[bool] = None, id: str = "tls0") -> None:
    args: Dict[str, Any] = {
        "qom-type": "tls-creds-psk" if role.startswith("psk") else "tls-creds-x509",
        "id": id, "dir": pki[role], "endpoint": endpoint,
    }
    if verify_peer is not None:
        args["verify-peer"] = verify_peer
    vm.cmd("object-add", args)


def allow_client(vm: Machine) -> None:
    vm.cmd("object-add", {"qom-type": "authz-list", "id": "auth0", "policy": "deny",
                          "rules": [{"match": tls_certs.CLIENT_DN, "policy": "allow",
                                     "format": "exact"}]})
    vm.cmd("migrate-set-parameters", {"tls-authz": "auth0"})


# name -> source creds dir, destination creds dir, destination verify-peer, tls-hostname,
#         authz on the destination, expected source error-desc (None: any), expected
#         destination stderr (None: nothing asserted), and the fix for a second attempt
#         ("creds=<role>" or "hostname=<name>").
MATRIX: Dict[str, Dict[str, Any]] = {
    "x509-default-host": dict(src="client", dst="server", verify=True),
    "x509-override-host": dict(src="client", dst="server-named", verify=True,
                               hostname="qemu.org.local"),
    "x509-mismatch-host": dict(src="client", dst="server-wrong-ip", verify=True,
                               src_error="Certificate does not match the hostname 127.0.0.1",
                               fix="hostname=10.0.0.1"),
    "x509-friendly-client": dict(src="client", dst="server", verify=True, authz=True),
    "x509-hostile-client": dict(src="client-hostile", dst="server", verify=True, authz=True,
                                dst_error=f"TLS x509 authz check for {tls_certs.HOSTILE_DN} "
                                          "is denied",
                                fix="creds=client"),
    "x509-allow-anon-client": dict(src="client-anon", dst="server", verify=False),
    "x509-reject-anon-client": dict(src="client-anon", dst="server", verify=True,
                                    dst_error="Verify failed: No certificate was found.",
                                    fix="creds=client"),
    "psk-match": dict(src="psk", dst="psk"),
    "psk-mismatch": dict(src="psk-other", dst="psk",
                         src_error="TLS handshake failed: ",
                         dst_error="TLS handshake failed: ", fix="creds=psk"),
}


def multifd(vm: Machine) -> None:
    set_caps(vm, multifd=True)
    vm.cmd("migrate-set-parameters", {"multifd-channels": 2})


@pytest.mark.parametrize("mode", ["precopy", "multifd"])
@pytest.mark.parametrize("case", list(MATRIX))
def test_tls_matrix(migemu: MachineFactory, pki: Dict[str, str], tmp_path: Any, case: str,
                    mode: str) -> None:
    c = MATRIX[case]
    dst = migemu(*ram_backend_args(RAM_MIB), "-incoming", "defer", name="dst")
    src = migemu(*random_ram_args(str(tmp_path), RAM_MIB), name="src")
    add_creds(dst, pki, c["dst"], "server", c.get("verify"))
    add_creds(src, pki, c["src"], "client")
    dst.cmd("migrate-set-parameters", {"tls-creds": "tls0"})
    src.cmd("migrate-set-parameters", {"tls-creds": "tls0", "max-bandwidth": 1 << 30})
    if c.get("hostname"):
        src.cmd("migrate-set-parameters", {"tls-hostname": c["hostname"]})
    if c.get("authz"):
        allow_client(dst)
    if mode == "multifd":
        multifd(src)
        multifd(dst)
    uri = tcp_uri()
    dst.cmd("migrate-incoming", uri=uri)
    before = digest(src)
    src.cmd("migrate", uri=uri)
    info = src.wait_migration(timeout=60)

    if "fix" not in c:
        assert info["status"] == "completed", info
        assert dst.wait_migration(("completed",), timeout=30)["status"] == "completed"
        assert digest(dst) == before
        if mode == "multifd":
            assert info["ram"]["multifd-bytes"] > 0
        return

    # The failure: the source fails with a reason, its guest runs on, RAM untouched.
    assert info["status"] == "failed", info
    if c.get("src_error"):
        assert info.get("error-desc", "").startswith(c["src_error"]), info
    else:
        assert info.get("error-desc"), info
    assert src.query_status()["status"] == "running"
    assert digest(src) == before
    # The destination printed QEMU's text, took nothing and still listens.
    if c.get("dst_error"):
        dst_text = c["dst_error"]
        for _ in range(100):
            if dst_text in dst.stderr_text():
                break
            dst.query_status()
        assert dst_text in dst.stderr_text()
    assert dst.is_running()
    assert dst.query_migrate().get("status") is None
    assert dst.query_status()["status"] == "inmigrate"

    # A second attempt with corrected settings, to the same destination, completes.
    what, value = c["fix"].split("=")
    if what == "creds":
        src.cmd("object-del", id="tls0")
        add_creds(src, pki, value, "client")
    else:
        src.cmd("migrate-set-parameters", {"tls-hostname": value})
    src.cmd("migrate", uri=uri)
    info = src.wait_migration(timeout=60)
    assert info["status"] == "completed", info
    assert dst.wait_migration(("completed",), timeout=30)["status"] == "completed"
    src.cmd("stop")
    assert digest(dst) == digest(src)


def test_tls_over_unix_socket_needs_a_hostname_for_x509(migemu: MachineFactory,
                                                        pki: Dict[str, str],
                                                        tmp_path: Any) -> None:
    # A unix: URI has no host, so x509 clients need tls-hostname (QEMU: "No hostname for
    # certificate validation"); PSK needs none.
    dst = migemu("-m", "16M", "-incoming", "defer", name="dst")
    src = migemu("-m", "16M", name="src")
    add_creds(dst, pki, "server", "server")
    add_creds(src, pki, "client", "client")
    dst.cmd("migrate-set-parameters", {"tls-creds": "tls0"})
    src.cmd("migrate-set-parameters", {"tls-creds": "tls0"})
    uri = f"unix:{tmp_path}/mig.sock"
    dst.cmd("migrate-incoming", uri=uri)
    src.cmd("migrate", uri=uri)
    info = src.wait_migration(timeout=30)
    assert info["status"] == "failed"
    assert info["error-desc"] == "No hostname for certificate validation"
    src.cmd("migrate-set-parameters", {"tls-hostname": "localhost"})
    src.cmd("migrate", uri=uri)
    assert wait_both(src, dst)["status"] == "completed"
    src.cmd("stop")
    assert digest(dst) == digest(src)


@pytest.mark.skipif(shutil.which("socat") is None, reason="needs socat")
def test_tls_over_exec_with_psk(migemu: MachineFactory, pki: Dict[str, str]) -> None:
    # TLS wraps any transport: here a pipe to socat on each side (QEMU does the same for exec:).
    port = free_tcp_port()
    dst = migemu("-m", "16M", "-incoming", "defer", name="dst")
    src = migemu("-m", "16M", "-workload", "dirty-rate=8M/s,seed=3", name="src")
    add_creds(dst, pki, "psk", "server")
    add_creds(src, pki, "psk", "client")
    for vm in (src, dst):
        vm.cmd("migrate-set-parameters", {"tls-creds": "tls0"})
    dst.cmd("migrate-incoming", uri=f"exec:socat - TCP-LISTEN:{port},bind=127.0.0.1")
    src.cmd("migrate", uri=f"exec:socat - TCP:127.0.0.1:{port},retry=50,interval=0.1")
    assert wait_both(src, dst)["status"] == "completed"
    assert digest(dst) == digest(src)


def test_credential_objects_report_qemus_errors(migemu: MachineFactory,
                                                pki: Dict[str, str]) -> None:
    vm = migemu("-m", "8M")

    def err(args: Dict[str, Any]) -> str:
        with pytest.raises(Exception) as e:
            vm.cmd("object-add", args)
        return str(e.value)

    x509 = {"qom-type": "tls-creds-x509", "id": "t0"}
    assert "Unable to access credentials /nonexistent/ca-cert.pem: No such file or directory" \
        in err({**x509, "dir": "/nonexistent", "endpoint": "server"})
    assert f"Unable to access credentials {pki['client']}/server-cert.pem" \
        in err({**x509, "dir": pki["client"], "endpoint": "server"})
    assert "Missing 'dir' property value" in err({**x509, "endpoint": "server"})
    assert "Parameter 'endpoint' does not accept value 'sideways'" \
        in err({**x509, "dir": pki["server"], "endpoint": "sideways"})
    assert "Property 'tls-creds-x509.loaded' is not writable" \
        in err({**x509, "dir": pki["server"], "loaded": False})
    assert "No secret with id 'nosuch'" \
        in err({**x509, "dir": pki["server"], "passwordid": "nosuch"})
    psk = {"qom-type": "tls-creds-psk", "id": "p0", "dir": pki["psk"]}
    assert "username should not be set when endpoint=server" \
        in err({**psk, "endpoint": "server", "username": "x"})
    assert f"Username nobody not found in PSK file {pki['psk']}/keys.psk" \
        in err({**psk, "username": "nobody"})
    assert "Parameter 'rules[0].policy' is missing" \
        in err({"qom-type": "authz-list", "id": "a1", "rules": [{"match": "x"}]})
    vm.cmd("object-add", {**x509, "dir": pki["server"], "endpoint": "server"})
    assert "attempt to add duplicate property 't0' to object (type 'container')" \
        in err({**x509, "dir": pki["server"], "endpoint": "server"})
    vm.cmd("object-add", {**x509, "id": "c0", "dir": pki["client-anon"]})  # client: no cert ok
    vm.cmd("object-add", {"qom-type": "authz-list", "id": "a0"})
    vm.cmd("object-del", id="t0")
    with pytest.raises(Exception, match="object 't0' not found"):
        vm.cmd("object-del", id="t0")

    # Resolved at migrate time, reported in error-desc (migration_tls_get_creds()).
    listener = migemu("-m", "8M", "-incoming", "defer", name="dst")
    uri = tcp_uri()
    listener.cmd("migrate-incoming", uri=uri)
    for creds, text in [("nosuch", "No TLS credentials with id 'nosuch'"),
                        ("a0", "Object with id 'a0' is not TLS credentials")]:
        vm.cmd("migrate-set-parameters", {"tls-creds": creds})
        vm.cmd("migrate", uri=uri)
        info = vm.wait_migration(timeout=10)
        assert (info["status"], info.get("error-desc")) == ("failed", text)
    vm.cmd("object-add", {"qom-type": "tls-creds-psk", "id": "ps", "dir": pki["psk"],
                          "endpoint": "server"})
    vm.cmd("migrate-set-parameters", {"tls-creds": "ps"})
    vm.cmd("migrate", uri=uri)
    info = vm.wait_migration(timeout=10)
    assert info.get("error-desc") == "Expected TLS credentials for a client endpoint"
    assert vm.query_status()["status"] == "running"


def test_command_line_objects(migemu: MachineFactory, pki: Dict[str, str]) -> None:
    vm = migemu("-m", "8M",
                "-object", f"tls-creds-x509,id=tls0,dir={pki['server']},endpoint=server,"
                           "verify-peer=on,sanity-check=on",
                "-object", f"tls-creds-psk,id=psk0,dir={pki['psk']},username=qemu",
                "-object", "authz-list,id=auth0,policy=deny,rules.0.match="
                           + tls_certs.CLIENT_DN.replace(",", ",,") + ",rules.0.policy=allow")
    vm.cmd("object-del", id="psk0")
    for spec, text in [
        (f"tls-creds-x509,id=t,dir={pki['server']},endpoint=bogus",
         f"-object tls-creds-x509,id=t,dir={pki['server']},endpoint=bogus: "
         "Parameter 'endpoint' does not accept value 'bogus'"),
        (f"tls-creds-x509,id=t,dir={pki['server']},foo=1",
         f"-object tls-creds-x509,id=t,dir={pki['server']},foo=1: Invalid parameter 'foo'"),
        ("tls-creds-psk,id=p,dir=/nonexistent",
         "Unable to access credentials /nonexistent/keys.psk: No such file or directory"),
    ]:
        bad = Machine(vm.binary, ["-M", "none", "-object", spec], name="bad")
        try:
            bad.launch()
        except Exception:
            pass
        assert bad.wait(timeout=10) == 1
        assert text in bad.stderr_text()


def test_zero_copy_with_tls_is_refused(migemu: MachineFactory, pki: Dict[str, str]) -> None:
    vm = migemu("-m", "8M")
    add_creds(vm, pki, "client", "client")
    set_caps(vm, multifd=True, zero_copy_send=True)
    with pytest.raises(Exception, match=ZERO_COPY_TEXT):
        vm.cmd("migrate-set-parameters", {"tls-creds": "tls0"})
    assert vm.cmd("query-migrate-parameters")["tls-creds"] == ""
    set_caps(vm, zero_copy_send=False)
    vm.cmd("migrate-set-parameters", {"tls-creds": "tls0"})
    with pytest.raises(Exception, match=ZERO_COPY_TEXT):
        set_caps(vm, zero_copy_send=True)
    caps = {c["capability"]: c["state"] for c in vm.cmd("query-migrate-capabilities")}
    assert caps["zero-copy-send"] is False


# ---- interop with real QEMU 7.2 ------------------------------------------------------------

def _qemu_pair_files(tmp_path: Any) -> List[str]:
    src_ram, dst_ram = str(tmp_path / "src.ram"), str(tmp_path / "dst.ram")
    write_pattern(src_ram)
    write_zeros(dst_ram, 8 << 20)
    return [src_ram, dst_ram]


@pytest.mark.qemu
@pytest.mark.parametrize("direction", ["qemu-to-migemu", "migemu-to-qemu"])
@pytest.mark.parametrize("creds", ["x509", "psk"])
@pytest.mark.parametrize("mode", ["precopy", "multifd"])
def test_tls_interop_with_qemu(qemu: MachineFactory, migemu: MachineFactory,
                               pki: Dict[str, str], tmp_path: Any, direction: str, creds: str,
                               mode: str) -> None:
    src_ram, dst_ram = _qemu_pair_files(tmp_path)
    src_factory, dst_factory = (qemu, migemu) if direction == "qemu-to-migemu" else (migemu, qemu)
    dst = dst_factory(*file_backend_args(dst_ram), "-incoming", "defer", name="dst")
    src = src_factory(*file_backend_args(src_ram), name="src")
    if creds == "x509":
        add_creds(dst, pki, "server", "server")
        add_creds(src, pki, "client", "client")
        allow_client(dst)
    else:
        add_creds(dst, pki, "psk", "server")
        add_creds(src, pki, "psk", "client")
    for vm in (src, dst):
        vm.cmd("migrate-set-parameters", {"tls-creds": "tls0"})
        if mode == "multifd":
            multifd(vm)
    uri = tcp_uri()
    dst.cmd("migrate-incoming", uri=uri)
    src.cmd("migrate", uri=uri)
    info = wait_both(src, dst)
    assert info["status"] == "completed", info
    assert dst.query_status()["status"] == "running"
    assert sha256_file(dst_ram) == PATTERN_SHA256
    if direction == "qemu-to-migemu":
        assert dst.cmd("x-query-ram-digest")["digest"] == PATTERN_SHA256
