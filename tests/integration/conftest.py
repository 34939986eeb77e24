"""A real Secret Service (gnome-keyring on a private D-Bus) for the keyring tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time

import pytest


def _processes_with_runtime(runtime: str) -> list[int]:
    """PIDs of our processes started with ``XDG_RUNTIME_DIR=runtime`` (the daemonised keyring)."""
    needle = f"XDG_RUNTIME_DIR={runtime}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open(f"/proc/{entry}/environ", "rb") as f:
                    if needle in f.read().split(b"\0"):
                        found.append(int(entry))
            except OSError:
                continue
    return found


@pytest.fixture(scope="session")
def secret_service():
    """Start dbus-daemon and an unlocked gnome-keyring; point keyring's SecretService at it.

    The keyring is started as ENVIRONMENT.md found to work: ``gnome-keyring-daemon --unlock``
    with the password on stdin, which returns once the daemon runs with an unlocked "login"
    collection. (``--foreground --unlock`` raced: twice in a full run the login collection never
    appeared, and asking for the default collection then made the daemon prompt, which fails
    headless with "Prompt dismissed".)
    """
    if not (shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon")):
        pytest.skip("gnome-keyring and dbus are not installed (./run-tests installs them)")
    runtime = tempfile.mkdtemp(prefix="csm-keyring-")
    os.chmod(runtime, 0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime, "HOME": runtime, "XDG_DATA_HOME": runtime}
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    saved = {k: os.environ.get(k) for k in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")}
    import keyring
    from keyring.backends import SecretService

    previous = keyring.get_keyring()
    try:
        address = bus.stdout.readline().strip()
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        started = subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets"], input="test-password",
                                 capture_output=True, text=True, env=env, timeout=60)
        if started.returncode != 0:
            raise RuntimeError(f"gnome-keyring-daemon --unlock failed: {started.stdout}{started.stderr}")
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        os.environ["XDG_RUNTIME_DIR"] = runtime
        backend = SecretService.Keyring()
        deadline = time.monotonic() + 20
        while True:  # the collection is there once --unlock returns; allow the bus a moment
            try:
                backend.set_password("csm-desktop-probe", "probe", "x")
                backend.delete_password("csm-desktop-probe", "probe")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        keyring.set_keyring(backend)
        yield backend
    finally:
        keyring.set_keyring(previous)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        for pid in _processes_with_runtime(runtime):
            if pid != bus.pid:
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass
        bus.terminate()
        try:
            bus.wait(5)
        except subprocess.TimeoutExpired:
            bus.kill()
        shutil.rmtree(runtime, ignore_errors=True)
