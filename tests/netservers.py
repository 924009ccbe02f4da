"""Servers for the page client's tests, all on 127.0.0.1 port 0: a web server answering with a
function, a Digest gate, a SOCKS5 proxy (no auth, CONNECT only), an HTTP proxy that answers
itself, and a small certificate authority (openssl) for TLS with client certificates."""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import select
import shutil
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from requests.structures import CaseInsensitiveDict

from tests.apiserver import send_answer

JSON = {"Content-Type": "application/json"}
# status, headers, body
Answer = tuple[int, dict[str, str], bytes]
Responder = Callable[["Asked"], Answer]


@dataclass(frozen=True)
class Asked:
    """A request as a server saw it."""

    method: str
    path: str
    headers: CaseInsensitiveDict[str]
    body: bytes = b""


def ok(data: Any) -> Answer:
    """A 200 JSON answer."""
    return 200, JSON, json.dumps(data).encode()


class _WebHandler(BaseHTTPRequestHandler):
    server: WebServer

    def do_GET(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = CaseInsensitiveDict(self.headers.items())
        asked = Asked(self.command, self.path, headers, body)
        self.server.asked.append(asked)
        send_answer(self, *self.server.responder(asked))

    do_POST = do_GET  # noqa: N815 (the name http.server looks up)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class WebServer(ThreadingHTTPServer):
    """Answers every request with ``responder(asked)``; ``asked`` lists them in order."""

    daemon_threads = True

    def __init__(self, responder: Responder, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _WebHandler)
        self.responder = responder
        self.asked: list[Asked] = []
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        scheme = "https" if tls is not None else "http"
        self.base = f"{scheme}://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that hung up early
            super().handle_error(request, client_address)


@contextlib.contextmanager
def running(server: socketserver.BaseServer) -> Iterator[None]:
    """Serve in a thread for the block, then shut down."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class DigestGate:
    """Answers with ``inner`` only a request whose Digest credentials (RFC 7616, MD5, qop=auth)
    are right; anything else gets a 401 with a challenge."""

    user: str
    password: str
    inner: Responder
    realm: str = "yamlcrawl-test"
    nonces: set[str] = field(default_factory=set)

    def __call__(self, asked: Asked) -> Answer:
        given = asked.headers.get("Authorization", "")
        if given.startswith("Digest ") and self._right(asked, given[len("Digest ") :]):
            return self.inner(asked)
        nonce = secrets.token_hex(8)
        self.nonces.add(nonce)
        challenge = f'Digest realm="{self.realm}", nonce="{nonce}", qop="auth", algorithm=MD5'
        return 401, {**JSON, "WWW-Authenticate": challenge}, b'{"error": "unauthorized"}'

    def _right(self, asked: Asked, header: str) -> bool:
        fields = urllib.request.parse_keqv_list(urllib.request.parse_http_list(header))
        if fields.get("username") != self.user or fields.get("nonce") not in self.nonces:
            return False
        if fields.get("uri") != asked.path:
            return False
        ha1 = _md5(f"{self.user}:{self.realm}:{self.password}")
        ha2 = _md5(f"{asked.method}:{asked.path}")
        parts = (ha1, fields["nonce"], fields.get("nc", ""), fields.get("cnonce", ""), "auth", ha2)
        return fields.get("response") == _md5(":".join(parts))


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


# --- SOCKS5 -------------------------------------------------------------------------------


class _SocksHandler(socketserver.BaseRequestHandler):
    server: Socks5Proxy

    def handle(self) -> None:
        client: socket.socket = self.request
        _, methods = _exactly(client, 2)
        _exactly(client, methods)
        client.sendall(b"\x05\x00")  # no authentication
        _, command, _, kind = _exactly(client, 4)
        if kind == 1:
            host = socket.inet_ntoa(_exactly(client, 4))
        elif kind == 3:
            host = _exactly(client, _exactly(client, 1)[0]).decode()
        else:
            host = socket.inet_ntop(socket.AF_INET6, _exactly(client, 16))
        (port,) = struct.unpack(">H", _exactly(client, 2))
        if command != 1:  # CONNECT only
            client.sendall(b"\x05\x07\x00\x01" + bytes(6))
            return
        self.server.connects.append((host, port))
        with socket.create_connection((host, port), timeout=10) as upstream:
            client.sendall(b"\x05\x00\x00\x01" + bytes(6))
            _relay(client, upstream)


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("the client went away")
        data += chunk
    return data


def _relay(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    peers = {one: other, other: one}
    while True:
        readable, _, _ = select.select(list(peers), [], [], 10)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            peers[sock].sendall(data)


class Socks5Proxy(socketserver.ThreadingTCPServer):
    """A SOCKS5 proxy without authentication that only CONNECTs; ``connects`` lists where to."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _SocksHandler)
        self.connects: list[tuple[str, int]] = []
        self.port = self.server_address[1]


# --- certificates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """A certificate authority and what it signed: a server certificate for 127.0.0.1 and a
    client certificate, each with its key; ``client_both`` holds the client's certificate and
    key in one file."""

    ca: Path
    server: Path
    server_key: Path
    client: Path
    client_key: Path
    client_both: Path

    def server_context(self) -> ssl.SSLContext:
        """A server's TLS context that requires a client certificate signed by the CA."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server, self.server_key)
        context.load_verify_locations(self.ca)
        context.verify_mode = ssl.CERT_REQUIRED
        return context


def make_pki(folder: Path) -> Pki:
    """Make a CA, a server and a client certificate in ``folder`` with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make certificates")

    def openssl(*args: str | Path) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True)

    ca, ca_key = folder / "ca.pem", folder / "ca.key"
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-keyout", ca_key,
            "-out", ca, "-subj", "/CN=yamlcrawl test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")  # fmt: skip
    signed: dict[str, tuple[Path, Path]] = {}
    for name, extensions in (
        ("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
        ("client", "extendedKeyUsage=clientAuth\n"),
    ):
        cert, key, request = folder / f"{name}.pem", folder / f"{name}.key", folder / f"{name}.csr"
        ext = folder / f"{name}.ext"
        ext.write_text(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
            "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n" + extensions
        )
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", request,
                "-subj", f"/CN=yamlcrawl test {name}")  # fmt: skip
        openssl("x509", "-req", "-in", request, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                "-days", "1", "-out", cert, "-extfile", ext)  # fmt: skip
        signed[name] = cert, key
    both = folder / "client-both.pem"
    both.write_bytes(signed["client"][0].read_bytes() + signed["client"][1].read_bytes())
    return Pki(ca, *signed["server"], *signed["client"], both)
