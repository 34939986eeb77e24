"""Raw-socket clients for ``serve`` tests: what a misbehaving client sends, parsed by http.client."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

TOKEN = "hardening-token"
AUTH = f"Authorization: Bearer {TOKEN}\r\n"


def connect(srv, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection(srv.httpd.server_address[:2], timeout=timeout)


def read_answer(sock: socket.socket) -> tuple[int, http.client.HTTPMessage, dict]:
    """The answer on ``sock`` as (status, headers, JSON body), read by the standard client."""
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return response.status, response.headers, json.loads(body)


def exchange(srv, data: bytes, timeout: float = 10.0) -> tuple[int, http.client.HTTPMessage, dict]:
    with connect(srv, timeout) as sock:
        sock.sendall(data)
        return read_answer(sock)


def post(path: str, body: bytes, headers: str = AUTH, length: int | None = None) -> bytes:
    size = len(body) if length is None else length
    return (f"POST {path} HTTP/1.1\r\nHost: t\r\n{headers}Content-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode() + body


def wait_closed(sock: socket.socket, limit: float) -> float:
    """Seconds until the server closes ``sock`` (reads EOF, whatever it answered first)."""
    start = time.monotonic()
    sock.settimeout(limit)
    while sock.recv(65536):
        pass
    return time.monotonic() - start


def connection_threads() -> int:
    return sum(t.name == "csm-serve-connection" for t in threading.enumerate())


def wait_for(condition, limit: float = 5.0) -> bool:
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
