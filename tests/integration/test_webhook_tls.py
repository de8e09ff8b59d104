"""A pinned https webhook checks the certificate against the URL's name, not the address.

A real TLS server on 127.0.0.1 with a certificate for `hooks.test` from a throwaway CA
(made by the openssl command line); the resolver is passed in, so no DNS is asked.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from spectrum.shared.callbacks import post_callback

OPENSSL = shutil.which("openssl")
pytestmark = pytest.mark.skipif(OPENSSL is None, reason="needs the openssl command")


def _openssl(*args: str, cwd: Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
             "-subj", "/CN=spectrum test CA", cwd=d)  # fmt: skip
    _openssl("req", *ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=hooks.test",
             cwd=d)  # fmt: skip
    (d / "leaf.ext").write_text(
        "subjectAltName=DNS:hooks.test\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "leaf.pem", "-days", "1", "-extfile", "leaf.ext",
             cwd=d)  # fmt: skip
    return d


class TLSReceiver:
    """An https receiver on 127.0.0.1 that records the SNI name and Host of each POST."""

    def __init__(self, certs: Path) -> None:
        self.server_names: list[str | None] = []
        self.hosts: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                owner.hosts.append(self.headers["Host"])
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(certs / "leaf.pem", certs / "leaf.key")
        context.sni_callback = lambda _sock, name, _ctx: self.server_names.append(name)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(certs: Path) -> Iterator[TLSReceiver]:
    server = TLSReceiver(certs)
    try:
        yield server
    finally:
        server.close()


def _post(url: str, certs: Path) -> httpx.Response:
    trust = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    return post_callback(
        url,
        b"{}",
        {"Content-Type": "application/json"},
        timeout=10,
        allow_private=True,  # the receiver is on loopback
        resolve=lambda host, port: ["127.0.0.1"],
        transport=httpx.HTTPTransport(verify=trust),
    )


def test_the_certificate_is_checked_against_the_name(receiver: TLSReceiver, certs: Path) -> None:
    answer = _post(f"https://hooks.test:{receiver.port}/hook", certs)
    assert answer.status_code == 200
    assert receiver.server_names == ["hooks.test"]
    assert receiver.hosts == [f"hooks.test:{receiver.port}"]


def test_a_certificate_for_another_name_is_refused(receiver: TLSReceiver, certs: Path) -> None:
    # Same address, same trusted certificate: only the name differs, and it does not match.
    with pytest.raises(httpx.ConnectError, match="certificate verify failed"):
        _post(f"https://other.test:{receiver.port}/hook", certs)
    assert receiver.hosts == []
