"""A fake Gemini API on 127.0.0.1: generateContent and the resumable files upload."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler

from fakes.loopback import LoopbackServer


def text_reply(text: str, finish: str = "STOP") -> tuple[int, dict, dict]:
    return 200, {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": finish}]}, {}


def error_reply(code: int, status: str, message: str, headers=None) -> tuple[int, dict, dict]:
    return code, {"error": {"code": code, "status": status, "message": message}}, headers or {}


class FakeGemini:
    def __init__(self, api_key: str = "AIza-fake-key") -> None:
        self.api_key = api_key
        self.replies: list[tuple[int, dict, dict]] = []  # consumed in order; then the default
        self.default = text_reply("Hello there.")
        self.requests: list[dict] = []  # generateContent bodies
        self.uploads: list[bytes] = []
        self.delay_s = 0.0
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                fake._post(self)

        self.server = LoopbackServer(Handler)
        self.url = self.server.url

    def __enter__(self):
        self.server.start()
        return self

    def __exit__(self, *exc):
        self.server.stop()

    def _send(self, h, status, body: dict, headers=None):
        data = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _post(self, h):
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        path = h.path.split("?")[0]
        if path.startswith("/upload/"):
            if h.headers.get("X-Goog-Upload-Protocol") == "resumable":
                return self._send(h, 200, {}, {"X-Goog-Upload-URL": f"{self.url}/upload-session/1"})
        if path.startswith("/upload-session/"):
            self.uploads.append(body)
            command = h.headers.get("X-Goog-Upload-Command", "")
            if "finalize" in command:
                file = {"name": "files/abc123", "uri": f"{self.url}/v1beta/files/abc123", "mimeType": "audio/wav",
                        "sizeBytes": str(sum(map(len, self.uploads))), "state": "ACTIVE"}
                return self._send(h, 200, {"file": file}, {"X-Goog-Upload-Status": "final"})
            return self._send(h, 200, {}, {"X-Goog-Upload-Status": "active"})
        if path.endswith(":generateContent"):
            if h.headers.get("x-goog-api-key") != self.api_key:
                return self._send(h, *error_reply(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")[:2])
            self.requests.append({"path": path, "body": json.loads(body or b"{}")})
            if self.delay_s:
                time.sleep(self.delay_s)
            status, reply, headers = self.replies.pop(0) if self.replies else self.default
            return self._send(h, status, reply, headers)
        self._send(h, 404, {"error": {"code": 404, "status": "NOT_FOUND", "message": "no such path"}})
