"""A real Secret Service (gnome-keyring on a private D-Bus) for the keyring tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

import pytest


@pytest.fixture(scope="session")
def secret_service():
    """Start dbus-daemon and an unlocked gnome-keyring; point keyring's SecretService at it."""
    if not (shutil.which("dbus-daemon") and shutil.which("gnome-keyring-daemon")):
        pytest.skip("gnome-keyring and dbus are not installed (./run-tests installs them)")
    runtime = tempfile.mkdtemp(prefix="csm-keyring-")
    os.chmod(runtime, 0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": runtime, "HOME": runtime, "XDG_DATA_HOME": runtime}
    bus = subprocess.Popen(["dbus-daemon", "--session", "--nofork", "--print-address=1"],
                           stdout=subprocess.PIPE, text=True, env=env)
    address = bus.stdout.readline().strip()
    env["DBUS_SESSION_BUS_ADDRESS"] = address
    daemon = subprocess.Popen(["gnome-keyring-daemon", "--foreground", "--unlock", "--components=secrets"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              text=True, env=env)
    daemon.stdin.write("test-password")
    daemon.stdin.close()
    saved = {k: os.environ.get(k) for k in ("DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")}
    os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
    os.environ["XDG_RUNTIME_DIR"] = runtime
    import keyring
    from keyring.backends import SecretService

    previous = keyring.get_keyring()
    backend = SecretService.Keyring()
    # The "login" collection that --unlock creates, not the default alias: asking for the
    # default before the daemon has made it makes gnome-keyring prompt to create one, and with
    # no prompter that fails ("Prompt dismissed"); it did once in a full run on a busy machine.
    backend.preferred_collection = "/org/freedesktop/secrets/collection/login"
    # Wait until the daemon has claimed its bus name.
    import time

    deadline = time.monotonic() + 20
    while True:
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
    keyring.set_keyring(previous)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    for proc in (daemon, bus):
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
    shutil.rmtree(runtime, ignore_errors=True)
