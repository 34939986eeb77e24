"""``serve`` soaked in compressed time: thousands of good and bad requests from several threads,
with timeouts shrunk so that stalls and cut-offs happen hundreds of times. The server must stay
up, answer everything it is asked, and keep its threads and memory bounded."""

from __future__ import annotations

import json
import random
import threading
import time

import pytest
import torch

from csm_desktop.services.engine_server import EngineServer
from fakes.serve_client import AUTH, TOKEN, connect, connection_threads, exchange, post, wait_closed, wait_for

SOAK_S = 20.0
CLIENTS = 8
MAX_CONNECTIONS = 7
TIMEOUT_S = 0.3
STALL_MARGIN_S = 5.0


class _SteadyEngine:
    """Instant, keeps nothing: the memory measured is the server's."""

    sample_rate = 24_000
    model_id = "soak"

    def generate(self, text, speaker, context, **kwargs):
        time.sleep(0.002)
        return torch.zeros(1920 * 5)


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS")) / 1024


GOOD = json.dumps({"text": "Soak.", "max_audio_length_ms": 400}).encode()
ASKED = {  # request -> the statuses it may get (503: all connection threads busy)
    "good": (post("/generate_audio", GOOD), {200}),
    "health": (b"GET /health HTTP/1.1\r\nHost: t\r\n\r\n", {200}),
    "bad-json": (post("/generate_audio", b"{nope"), {400}),
    "nested": (post("/generate_audio", b"[" * 50_000 + b"]" * 50_000), {400}),
    "no-token": (post("/generate_audio", GOOD, headers=""), {401}),
    "wrong-path": (post("/x", b"", length=100_000_000), {404}),
    "length-abc": (b"POST /generate_audio HTTP/1.1\r\n" + AUTH.encode() + b"Content-Length: abc\r\n\r\n", {400}),
    "wrong-type": (post("/generate_audio", b'{"text": "a", "topk": "many"}'), {422}),
}


def _stall(srv) -> str:
    """Half a request, then silence: the server must close it at its deadline (or refuse it, busy)."""
    with connect(srv) as sock:
        sock.sendall(post("/generate_audio", GOOD)[:60])
        # The server cuts it off at TIMEOUT_S; the client allows for a loaded machine (without the
        # deadline it would wait forever and time out here).
        sock.settimeout(TIMEOUT_S + STALL_MARGIN_S)
        first = sock.recv(12)
        assert first in (b"", b"HTTP/1.1 503"), first
        assert wait_closed(sock, TIMEOUT_S + STALL_MARGIN_S) < TIMEOUT_S + STALL_MARGIN_S
        return "503" if first else "cut off"


def _vanish(srv) -> None:
    """A request, then gone before the answer."""
    sock = connect(srv)
    sock.sendall(post("/generate_audio", GOOD))
    sock.close()


@pytest.mark.slow
def test_serve_soak_stays_up_with_bounded_threads_and_memory():
    srv = EngineServer(_SteadyEngine(), TOKEN, port=0, timeout_s=TIMEOUT_S, max_connections=MAX_CONNECTIONS,
                       queue_size=4).start()
    stop = threading.Event()
    counts: dict[str, int] = {}
    wrong: list[str] = []
    samples: list[tuple[float, int, int, float]] = []  # (t, all threads, connection threads, RSS MB)
    lock = threading.Lock()
    baseline_threads = threading.active_count()

    def client(seed: int) -> None:
        rng = random.Random(seed)
        kinds = list(ASKED) * 4 + ["stall", "vanish"]
        while not stop.is_set():
            kind = rng.choice(kinds)
            outcome = "sent"
            try:
                if kind == "stall":
                    outcome = _stall(srv)
                elif kind == "vanish":
                    _vanish(srv)
                else:
                    data, allowed = ASKED[kind]
                    status, _, body = exchange(srv, data, timeout=5)
                    outcome = str(status)
                    if status not in allowed | {503} or "error" not in body and status != 200:
                        wrong.append(f"{kind}: {status} {body}")
            except (OSError, AssertionError) as exc:
                wrong.append(f"{kind}: {type(exc).__name__}: {exc}")
            with lock:
                counts[f"{kind} {outcome}"] = counts.get(f"{kind} {outcome}", 0) + 1

    def sampler() -> None:
        start = time.monotonic()
        while not stop.wait(0.2):
            samples.append((time.monotonic() - start, threading.active_count(), connection_threads(), _rss_mb()))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)] + [threading.Thread(target=sampler)]
    begin = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(SOAK_S)
    stop.set()
    for t in threads:
        t.join(10)
    elapsed = time.monotonic() - begin
    try:
        assert exchange(srv, ASKED["good"][0])[0] == 200, "the server is not up after the soak"
        assert wait_for(lambda: connection_threads() == 0, 2 * TIMEOUT_S + 2)
        assert not wrong, f"{len(wrong)} wrong answers, e.g. {wrong[:5]}"
        total = sum(counts.values())
        warm = [rss for t, _, _, rss in samples if t > 3]
        print(f"\nsoak: {total} requests in {elapsed:.1f} s from {CLIENTS} clients ({counts}); "
              f"threads peak {max(s[1] for s in samples)} (baseline {baseline_threads}), connection threads peak "
              f"{max(s[2] for s in samples)} of {MAX_CONNECTIONS}; RSS {warm[0]:.0f} -> {warm[-1]:.0f} MB "
              f"(peak {max(warm):.0f})")
        assert total > 1000 and counts.get("stall cut off", 0) > 20 and counts.get("good 200", 0) > 100
        assert max(s[2] for s in samples) <= MAX_CONNECTIONS
        assert max(s[1] for s in samples) <= baseline_threads + CLIENTS + 1 + MAX_CONNECTIONS + 2
        assert warm[-1] - warm[0] < 40, "memory grows under a steady load"
    finally:
        srv.stop()
