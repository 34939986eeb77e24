"""Refuse a Cerebrium deployment that would be public or would log users' voices.

Run by deploy.sh before ``cerebrium deploy``. Checks ``cerebrium.toml`` (``disable_auth = false``,
the timeouts and the pinned region), then the secrets the app will see, with the Cerebrium CLI
(``cerebrium secrets list --show-values --output json``, project and app level; values are read,
never printed): ``DISABLE_REQUEST_LOGS=true``, ``DISABLE_RESPONSE_LOGS=true`` and ``HF_TOKEN``.
Exit status 0 when the deployment may go ahead; otherwise each problem and its fix on stderr.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    try:
        import tomli as tomllib
    except ImportError:
        sys.exit("deploy.sh: checking cerebrium.toml needs Python 3.11 or newer (or `pip install tomli`). "
                 "Run it as PYTHON=python3.11 packaging/cerebrium/deploy.sh")

REQUIRED_TRUE = ("DISABLE_REQUEST_LOGS", "DISABLE_RESPONSE_LOGS")
REQUIRED_SET = ("HF_TOKEN",)


def config_problems(path: Path) -> list[str]:
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return [f"{path} cannot be read ({exc})."]
    section = config.get("cerebrium", {})
    deployment = section.get("deployment", {})
    scaling = section.get("scaling", {})
    hardware = section.get("hardware", {})
    problems = []
    if deployment.get("disable_auth") is not False:
        problems.append("[cerebrium.deployment] must set disable_auth = false: Cerebrium's default leaves the "
                        "endpoint open to anyone who learns its URL, on your bill.")
    timeout = deployment.get("deployment_initialization_timeout")
    if not isinstance(timeout, int) or not 600 <= timeout <= 830:
        problems.append("[cerebrium.deployment] deployment_initialization_timeout must be 600-830 s: the first "
                        "start downloads and loads about 7 GB of weights.")
    grace = scaling.get("response_grace_period")
    if not isinstance(grace, int) or grace < 300:
        problems.append("[cerebrium.scaling] response_grace_period must be written out (at least 300 s): a key "
                        "left out is reset on every deploy, and it is also the request timeout.")
    if not isinstance(hardware.get("region"), str) or hardware.get("region") == "global":
        problems.append("[cerebrium.hardware] region must name one region (e.g. \"us-east-1\"), so that the "
                        "weights cached in /persistent-storage are reused by every replica.")
    return problems


def _secrets(cli: str, app: str | None) -> dict[str, str]:
    command = [cli, "secrets", "list", "--show-values", "--output", "json"] + (["--app", app] if app else [])
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip()[-300:] or f"exit status {done.returncode}")
    listed = json.loads(done.stdout or "[]")
    if not isinstance(listed, list):
        raise RuntimeError("unexpected output")
    return {item["name"]: item.get("value", "") for item in listed
            if isinstance(item, dict) and isinstance(item.get("name"), str)}


def secret_problems(cli: str, app: str) -> list[str]:
    try:
        found = {**_secrets(cli, None), **_secrets(cli, app)}  # app secrets win, as on Cerebrium
    except (OSError, RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
        return [f"The secrets could not be listed with `{cli} secrets list` ({exc}). Log in with `cerebrium login`, "
                "or check them in the dashboard and run deploy.sh --skip-secret-check."]
    problems = []
    for name in REQUIRED_TRUE:
        if str(found.get(name, "")).strip().lower() != "true":
            problems.append(f"Secret {name} is not \"true\": Cerebrium would log users' voice clips and audio. "
                            f"Run: cerebrium secrets add --app {app} {name}=true")
    for name in REQUIRED_SET:
        if not str(found.get(name, "")).strip():
            problems.append(f"Secret {name} is missing: the gated model sesame/csm-1b cannot be downloaded. Run: "
                            f"cerebrium secrets add --app {app} {name}=<your Hugging Face token>")
    return problems


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    config = here / "cerebrium.toml"
    problems = config_problems(config)
    if "--skip-secret-check" not in argv:
        app = tomllib.loads(config.read_text(encoding="utf-8"))["cerebrium"]["deployment"]["name"] if not problems else "csm-desktop"
        problems += secret_problems("cerebrium", app)
    for problem in problems:
        print(f"deploy.sh: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
