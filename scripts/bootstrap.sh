#!/usr/bin/env bash
# Prepare everything CSM Desktop needs on Debian/Ubuntu: system packages (installed when we
# have the rights, otherwise the exact apt-get line is printed) and the project's .venv/.
# Usage: scripts/bootstrap.sh app|test    (sourced by ./run-app and ./run-tests)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PURPOSE="${1:-app}"
VENV="$ROOT/.venv"

# PortAudio for playback; the libraries Qt's xcb and offscreen platforms load; fonts; a C compiler
# for webrtcvad (the voice check's Resemblyzer needs it; PyPI has its source only).
APT_APP=(libportaudio2 libegl1 libgl1 libfontconfig1 libxkbcommon0 libxkbcommon-x11-0
         libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libdbus-1-3
         libglib2.0-0 fonts-dejavu-core gcc libc6-dev)
# A real Secret Service for the keyring tests, a virtual screen, a C++ compiler for the
# test of the compiled frame step (inductor generates C++ on the CPU), and sox / espeak-ng,
# the tools that make the real audio files the import tests read.
APT_TEST=(dbus gnome-keyring xvfb xauth g++ sox libsox-fmt-mp3 espeak-ng)

say() { printf '[csm-desktop setup] %s\n' "$*" >&2; }

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3.10 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

ensure_system_packages() {
    command -v dpkg-query >/dev/null 2>&1 || { say "not a Debian/Ubuntu system: skipping system packages"; return 0; }
    local wanted=("${APT_APP[@]}")
    [ "$PURPOSE" = test ] && wanted+=("${APT_TEST[@]}")
    PYTHON="$(find_python || true)"
    if [ -z "$PYTHON" ]; then
        wanted+=(python3 python3-venv)
    elif ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        wanted+=(python3-venv)
    fi
    # Python's headers, to build webrtcvad (a pyenv or python.org Python has its own).
    if [ -n "$PYTHON" ] && ! "$PYTHON" -c 'import os, sysconfig, sys; sys.exit(not os.path.isfile(os.path.join(sysconfig.get_paths()["include"], "Python.h")))' 2>/dev/null; then
        wanted+=("$(basename "$PYTHON")-dev")
    fi
    local missing=() pkg
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
    if [ "$(id -u)" -eq 0 ]; then
        say "installing system packages: ${missing[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        say "installing system packages with sudo: ${missing[*]}"
        sudo -n sh -c "DEBIAN_FRONTEND=noninteractive $line" >/dev/null
    else
        say "these system packages are missing: ${missing[*]}"
        say "install them with:"
        printf '\n    sudo sh -c "%s"\n\n' "$line" >&2
        say "then run this command again."
        exit 1
    fi
}

remove_other_qt_binding() {
    # Moving between PySide6 versions leaves pieces of the other one behind (6.12 adds
    # PySide6_Pdf and PySide6_WebEngine, whose files overlap Addons'): remove them all first.
    local want have
    want="$(sed -n 's/^ *"PySide6==\([^"]*\)".*/\1/p' "$ROOT/pyproject.toml" | head -n1)"
    have="$("$VENV/bin/python" -m pip show PySide6 2>/dev/null | sed -n 's/^Version: //p' || true)"
    if [ -n "$have" ] && [ "$have" != "$want" ]; then
        say "replacing PySide6 $have with $want"
        "$VENV/bin/python" -m pip list --format=freeze 2>/dev/null | cut -d= -f1 |
            grep -i -E '^(pyside6|shiboken6)' | xargs -r "$VENV/bin/python" -m pip uninstall -q -y
    fi
}

ensure_venv() {
    PYTHON="$(find_python)" || { say "Python 3.10 or newer is required"; exit 1; }
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV"
        "$PYTHON" -m venv "$VENV"
    fi
    # Reinstall only when the dependency list changed since the last successful install.
    local stamp="$VENV/.csm-desktop-installed"
    local want
    want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        say "installing Python packages into .venv (a few minutes the first time)"
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
        remove_other_qt_binding
        "$VENV/bin/python" -m pip install -q --disable-pip-version-check -e "$ROOT[test]"
        echo "$want" > "$stamp"
    fi
}

ensure_system_packages
ensure_venv
