"""Test PKI for the TLS migration tests, made with certtool (Debian gnutls-bin) at test time.

Mirrors the set-up of QEMU's migration TLS tests: one CA, a server certificate carrying an IP
address and/or a DNS name, a client certificate, and a "hostile" client certificate from the
same CA whose name the server's authz-list does not allow. Directories use QEMU's file names,
so the same directory works for `-object tls-creds-x509,dir=...` in migemu and in QEMU 7.2:

  ca-cert.pem  server-cert.pem  server-key.pem  client-cert.pem  client-key.pem  keys.psk

ECDSA P-256 keys keep generation fast (a few milliseconds each).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Dict, List, Optional

CLIENT_DN = "O=QEMU,CN=qemu-client"  # as gnutls_x509_crt_get_dn() prints it (QEMU authz identity)
HOSTILE_DN = "O=QEMU,CN=qemu-hostile"


def _certtool(args: List[str], template: Optional[str], workdir: str) -> None:
    cmd = ["certtool"] + args
    if template is not None:
        path = os.path.join(workdir, "template.cfg")
        with open(path, "w") as f:
            f.write(template)
        cmd += ["--template", path]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _key(path: str, workdir: str) -> None:
    _certtool(["--generate-privkey", "--key-type=ecdsa", "--curve=secp256r1",
               "--outfile", path], None, workdir)


class Pki:
    """A CA with helpers to issue server and client certificates into QEMU-style dirs."""

    def __init__(self, root: str, name: str) -> None:
        self.root = root
        self.name = name
        self.work = os.path.join(root, f"{name}-work")
        os.makedirs(self.work, exist_ok=True)
        self.ca_key = os.path.join(self.work, "ca-key.pem")
        self.ca_cert = os.path.join(self.work, "ca-cert.pem")
        _key(self.ca_key, self.work)
        _certtool(["--generate-self-signed", "--load-privkey", self.ca_key,
                   "--outfile", self.ca_cert],
                  f'cn = "{name} CA"\norganization = "QEMU"\nca\ncert_signing_key\n'
                  "expiration_days = 30\n", self.work)

    def _issue(self, out_cert: str, out_key: str, template: str) -> None:
        _key(out_key, self.work)
        _certtool(["--generate-certificate", "--load-privkey", out_key,
                   "--load-ca-certificate", self.ca_cert, "--load-ca-privkey", self.ca_key,
                   "--outfile", out_cert], template + "expiration_days = 30\n", self.work)

    def server_dir(self, name: str, ip: Optional[str] = "127.0.0.1",
                   dns: Optional[str] = "localhost") -> str:
        d = os.path.join(self.root, name)
        os.makedirs(d, exist_ok=True)
        shutil.copy(self.ca_cert, os.path.join(d, "ca-cert.pem"))
        t = 'cn = "qemu-server"\norganization = "QEMU"\ntls_www_server\nsigning_key\n' \
            "encryption_key\n"
        if ip:
            t += f'ip_address = "{ip}"\n'
        if dns:
            t += f'dns_name = "{dns}"\n'
        self._issue(os.path.join(d, "server-cert.pem"), os.path.join(d, "server-key.pem"), t)
        return d

    def client_dir(self, name: str, with_cert: bool = True, cn: str = "qemu-client") -> str:
        """A client directory trusting this CA, with a certificate for `cn` when `with_cert`."""
        d = os.path.join(self.root, name)
        os.makedirs(d, exist_ok=True)
        shutil.copy(self.ca_cert, os.path.join(d, "ca-cert.pem"))
        if with_cert:
            self._issue(os.path.join(d, "client-cert.pem"), os.path.join(d, "client-key.pem"),
                        f'cn = "{cn}"\norganization = "QEMU"\ntls_www_client\n'
                        "signing_key\nencryption_key\n")
        return d


def psk_dir(root: str, name: str, key_hex: str, username: str = "qemu") -> str:
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "keys.psk"), "w") as f:
        f.write(f"{username}:{key_hex}\n")
    return d


def make_all(root: str) -> Dict[str, str]:
    """Every directory the TLS matrix uses, by role."""
    ca = Pki(root, "ca")
    dirs = {
        # Server certificate for 127.0.0.1 and localhost (default host), for another IP
        # (mismatch), and for a DNS name only (override host).
        "server": ca.server_dir("server"),
        "server-wrong-ip": ca.server_dir("server-wrong-ip", ip="10.0.0.1", dns=None),
        "server-named": ca.server_dir("server-named", ip=None, dns="qemu.org.local"),
        "client": ca.client_dir("client"),
        "client-anon": ca.client_dir("client-anon", with_cert=False),
        # A valid certificate whose name the destination's authz-list does not allow.
        "client-hostile": ca.client_dir("client-hostile", cn="qemu-hostile"),
        "psk": psk_dir(root, "psk", "9d4c0b1a2e3f405162738495a6b7c8d9"),
        "psk-other": psk_dir(root, "psk-other", "00112233445566778899aabbccddeeff"),
    }
    return dirs
