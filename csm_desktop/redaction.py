"""Keeping secrets out of every text the app shows or writes: messages, logs, tracebacks.

The secrets this process has seen (tokens and keys from the keyring or the environment) are
replaced with ``***``, and so are credentials written into URLs (``user:pass@``), query
parameters named like keys, and ``Bearer`` values. :func:`install` puts this under every log
record, whatever handler prints it (tracebacks included), and under the hooks that print
uncaught exceptions.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import traceback

_known: set[str] = set()
_lock = threading.Lock()
_installed = False

_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
_KEY_PARAM = re.compile(r"(?i)(?P<name>[?&;](?:api[_-]?key|key|token|access[_-]?token|auth|password|secret)=)[^&#\s]+")
_BEARER = re.compile(r"(?i)\b(?P<name>bearer\s+)[A-Za-z0-9._~+/=-]{4,}")


def remember(value: str | None) -> str | None:
    """Note a secret value so that :func:`redact` hides it from now on; returns it."""
    if value and len(value) >= 4:
        with _lock:
            _known.add(value)
    return value


def redact(text: str) -> str:
    """``text`` with every known secret, URL credential, key parameter and Bearer value hidden."""
    with _lock:
        secrets = sorted(_known, key=len, reverse=True)
    for secret in secrets:
        text = text.replace(secret, "***")
    text = _URL_USERINFO.sub(r"\g<scheme>***@", text)
    text = _KEY_PARAM.sub(r"\g<name>***", text)
    return _BEARER.sub(r"\g<name>***", text)


def redact_url(url: str) -> str:
    """A URL fit to show: no ``user:pass@``, no key parameters."""
    return redact(url)


class RedactingFilter(logging.Filter):
    """A logging filter that scrubs a record's message and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        _scrub(record)
        return True


def _scrub(record: logging.LogRecord) -> None:
    if getattr(record, "_csm_redacted", False):
        return
    try:
        message = record.getMessage()
    except Exception:  # a malformed %-format: keep the record as it is, logging reports it
        return
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._csm_redacted = True


def excepthook(exc_type, exc, tb) -> None:
    """``sys.excepthook`` that prints the traceback redacted."""
    sys.stderr.write(redact("".join(traceback.format_exception(exc_type, exc, tb))))


def thread_excepthook(args) -> None:
    """``threading.excepthook`` that prints the traceback redacted."""
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "?"
    sys.stderr.write(f"Exception in thread {name}:\n" + redact(
        "".join(traceback.format_exception(args.exc_type, args.exc_value, args.exc_traceback))))


def install() -> None:
    """Redact every log record at its creation (any logger, any handler, present or future) and
    what the uncaught-exception hooks print. Safe to call more than once."""
    global _installed
    if _installed:
        return
    _installed = True
    make_record = logging.getLogRecordFactory()

    def redacting_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        _scrub(record)
        return record

    logging.setLogRecordFactory(redacting_record)
    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook
