"""Certificates for the TLS tests, made per test with openssl(1): a private CA
and leaf certificates it signs (EC P-256, valid two days, keys mode 0600).

    ca = make_ca(tmp_path / "pki", "test CA")
    server = ca.issue("server", dns=["syslog.test"], ips=["127.0.0.1"])
    client = ca.issue("client", dns=["client.test"], client=True)
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import pytest

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
DAYS = "2"


def _openssl(*args: str, cwd: Path) -> None:
    if not Path(OPENSSL).exists():
        pytest.skip("openssl is not installed (tools/bootstrap.sh installs it)")
    result = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True,
                            timeout=60)
    if result.returncode != 0:
        pytest.fail(f"openssl {' '.join(args)} failed:\n{result.stderr}")


def _new_key(path: Path, cwd: Path) -> None:
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", str(path), cwd=cwd)
    os.chmod(path, 0o600)


@dataclass
class Leaf:
    name: str
    cert: Path
    key: Path


@dataclass
class Ca:
    directory: Path
    cert: Path
    key: Path

    def issue(self, name: str, dns: Sequence[str] = (), ips: Sequence[str] = (),
              client: bool = False) -> Leaf:
        """A certificate for `name` (the CN; the file names too) with these
        subjectAltNames, for a TLS server, or a client when `client`."""
        key = self.directory / f"{name}.key"
        csr = self.directory / f"{name}.csr"
        cert = self.directory / f"{name}.pem"
        ext = self.directory / f"{name}.ext"
        _new_key(key, self.directory)
        cn = (list(dns) + list(ips) + [name])[0]
        _openssl("req", "-new", "-key", str(key), "-subj", f"/CN={cn}", "-out", str(csr),
                 cwd=self.directory)
        alt = ",".join([f"DNS:{d}" for d in dns] + [f"IP:{i}" for i in ips])
        ext.write_text((f"subjectAltName={alt}\n" if alt else "")
                       + "basicConstraints=critical,CA:FALSE\n"
                       + "keyUsage=critical,digitalSignature\n"
                       + f"extendedKeyUsage={'clientAuth' if client else 'serverAuth'}\n")
        _openssl("x509", "-req", "-in", str(csr), "-CA", str(self.cert), "-CAkey", str(self.key),
                 "-CAcreateserial", "-days", DAYS, "-extfile", str(ext), "-out", str(cert),
                 cwd=self.directory)
        os.chmod(cert, 0o644)
        return Leaf(name, cert, key)


def make_ca(directory: Path, name: str) -> Ca:
    """A self-signed CA in `directory` (created, mode 0755)."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o755)
    stem = name.replace(" ", "-")
    key = directory / f"{stem}.key"
    cert = directory / f"{stem}.pem"
    _new_key(key, directory)
    _openssl("req", "-x509", "-new", "-key", str(key), "-subj", f"/CN={name}", "-days", DAYS,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", str(cert),
             cwd=directory)
    os.chmod(cert, 0o644)
    return Ca(directory, cert, key)
