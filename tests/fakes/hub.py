"""A fake Hugging Face hub on 127.0.0.1, enough for huggingface_hub's snapshot_download.

Serves ``/api/models/{repo}/revision/{rev}`` and HEAD/GET ``/{repo}/resolve/{rev}/{file}``
(with Range for resumed downloads). Repositories may require a Bearer token; a test can make
the next requests answer with a given status.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from fakes.loopback import LoopbackServer


@dataclass
class Repo:
    files: dict[str, bytes]
    token: str | None = None  # required Bearer token, if any
    gated: bool = False  # answer 403 GatedRepo to a missing or wrong token
    sha: str = field(default_factory=lambda: hashlib.sha1(b"fake").hexdigest())


class FakeHub:
    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, Authorization)
        self.ranges: list[str] = []  # Range headers of file requests
        self.served: dict[str, int] = {}  # "repo/file" -> body bytes sent (GET only)
        self.fail_status: int | None = None
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub._handle(self, head=True)

            def do_GET(self):
                hub._handle(self, head=False)

        self.server = LoopbackServer(Handler)
        self.url = self.server.url

    def add_folder(self, repo_id: str, folder: Path, **kw) -> Repo:
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        self.repos[repo_id] = Repo(files, **kw)
        return self.repos[repo_id]

    def __enter__(self) -> "FakeHub":
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()

    # ---------------------------------------------------------------------------------------
    def _auth_error(self, repo: Repo, auth: str | None) -> tuple[int, str] | None:
        if repo.token is None or auth == f"Bearer {repo.token}":
            return None
        if repo.gated:
            return 403, "GatedRepo"
        return 401, "RepoNotFound"

    def _send(self, h, status, body=b"", headers=None, head=False):
        h.send_response(status)
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _error(self, h, status, code, head):
        body = json.dumps({"error": code}).encode()
        self._send(h, status, body, {"X-Error-Code": code, "X-Error-Message": code,
                                     "Content-Type": "application/json"}, head)

    def _count(self, repo_id: str, filename: str, n: int) -> None:
        key = f"{repo_id}/{filename}"
        self.served[key] = self.served.get(key, 0) + n

    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        auth = h.headers.get("Authorization")
        path = h.path.split("?", 1)[0]
        self.requests.append(("HEAD" if head else "GET", path, auth))
        if h.headers.get("Range"):
            self.ranges.append(h.headers["Range"])
        if self.fail_status is not None:
            return self._error(h, self.fail_status, "Injected", head)
        parts = path.strip("/").split("/")
        if parts[:2] == ["api", "models"]:
            repo_id = "/".join(parts[2:4])
            repo = self.repos.get(repo_id)
            if repo is None:
                return self._error(h, 401, "RepoNotFound", head)
            if err := self._auth_error(repo, auth):
                return self._error(h, err[0], err[1], head)
            info = {"id": repo_id, "modelId": repo_id, "sha": repo.sha,
                    "siblings": [{"rfilename": f} for f in sorted(repo.files)]}
            return self._send(h, 200, json.dumps(info).encode(), {"Content-Type": "application/json"}, head)
        if len(parts) >= 5 and parts[2] == "resolve":
            repo_id, filename = "/".join(parts[:2]), "/".join(parts[4:])
            repo = self.repos.get(repo_id)
            if repo is None:
                return self._error(h, 401, "RepoNotFound", head)
            if err := self._auth_error(repo, auth):
                return self._error(h, err[0], err[1], head)
            if filename not in repo.files:
                return self._error(h, 404, "EntryNotFound", head)
            data = repo.files[filename]
            headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{hashlib.sha256(data).hexdigest()}"',
                       "Content-Type": "application/octet-stream", "Accept-Ranges": "bytes"}
            rng = h.headers.get("Range")
            if rng and rng.startswith("bytes=") and not head:
                first, _, last = rng[6:].partition("-")
                start, end = int(first), min(int(last) if last else len(data) - 1, len(data) - 1)
                if start >= len(data):
                    return self._error(h, 416, "RangeNotSatisfiable", head)
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                self._count(repo_id, filename, end + 1 - start)
                return self._send(h, 206, data[start:end + 1], headers)
            if not head:
                self._count(repo_id, filename, len(data))
            return self._send(h, 200, data, headers, head)
        return self._error(h, 404, "NotFound", head)


REPO = "sesame/csm-1b"
TOKEN = "hf_test_token_123"


def set_offline(monkeypatch, offline: bool) -> None:
    """Switch huggingface_hub's offline mode (read at import, so patched) and drop its sessions."""
    from huggingface_hub import constants
    from huggingface_hub.utils import reset_sessions

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    reset_sessions()
