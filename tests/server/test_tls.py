"""``outreach-server serve --ssl-certfile --ssl-keyfile`` serves the sync API over https (the README's
recipe), and the app's transport accepts the https address but would refuse the same host over http."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from outreach_app.sync.transport import is_allowed_server_url
from tests.e2e.processes import ServerProcess


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "gatepost-test")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


class TlsServerProcess(ServerProcess):
    name = "sync server (https)"

    def start_tls(self, cert: Path, key: Path) -> TlsServerProcess:
        self._spawn(
            [
                *self.command(),
                "--ssl-certfile",
                str(cert),
                "--ssl-keyfile",
                str(key),
            ],
            self.env(),
        )
        context = ssl.create_default_context(cafile=str(cert))
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"https://127.0.0.1:{self.port}/healthz", verify=context, timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert self.running, f"the server stopped; see {self.log_path}"
            assert time.monotonic() < deadline, f"no https answer within 60 s; see {self.log_path}"
            time.sleep(0.2)


def test_serve_with_a_certificate_answers_https_only(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    server = TlsServerProcess(tmp_path / "server", tmp_path / "tls-server.log")
    try:
        server.start_tls(cert, key)
        https_url = f"https://127.0.0.1:{server.port}"
        context = ssl.create_default_context(cafile=str(cert))
        health = httpx.get(f"{https_url}/healthz", verify=context)
        assert health.status_code == 200
        # Without trusting the certificate, nothing is exchanged.
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{https_url}/healthz")
        # Plain http to the TLS port gets no API answer.
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
    finally:
        server.stop()
    assert is_allowed_server_url(https_url)
    assert not is_allowed_server_url(https_url.replace("https://127.0.0.1", "http://gatepost.example.org"))
