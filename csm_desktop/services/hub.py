"""The Hugging Face hub as the app meets it: where it is and whether it may be reached
(``HF_ENDPOINT``, ``HF_HUB_CACHE``, ``HF_HUB_OFFLINE``, read at call time), what a repository id
looks like, moshi's Mimi release, and the one translation of the hub's answers into errors a
person can act on (with any secret redacted).

Files are fetched by :mod:`csm_desktop.services.download` alone; which files make a model, and
where a model's folder comes from, is :mod:`csm_desktop.services.model_source`'s.
"""

from __future__ import annotations

import os
import re

from csm_desktop.errors import CsmError, ModelAccessError, ModelNotFoundError, NetworkError
from csm_desktop.redaction import redact

TIMEOUT_S = 30.0
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# moshi's Mimi release, for checkpoints without a codec: moshi.models.loaders.DEFAULT_REPO and
# MIMI_NAME (not imported: moshi pulls in torch; tests/integration/test_sesame_repo.py checks them).
MIMI_REPO = "kyutai/moshiko-pytorch-bf16"
MIMI_RELEASE_FILE = "tokenizer-e351c8d8-checkpoint125.safetensors"


def hub_endpoint() -> str | None:
    """``HF_ENDPOINT`` read at call time (huggingface_hub reads it only at import)."""
    return os.environ.get("HF_ENDPOINT") or None


def hub_cache_dir() -> str | None:
    return os.environ.get("HF_HUB_CACHE") or None


def is_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` forbids the network (huggingface_hub's reading of it)."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


def is_repo_id(name: str) -> bool:
    """Whether ``name`` has the form of a hub repository id (``owner/name``)."""
    return bool(_REPO_ID.match(name))


def gated_message(repo_id: str) -> str:
    return (
        f"Access to {repo_id} was refused. It is a gated model: open https://huggingface.co/{repo_id}, "
        "sign in and accept its licence, then use an access token of that account (create one at "
        "https://huggingface.co/settings/tokens; paste it in Model setup or Settings > Credentials, or set "
        "HF_TOKEN) and try again. If you just entered a token, check that it is complete and still valid."
    )


def not_cached_error(repo_id: str) -> NetworkError:
    """The error for files that are not in the cache while the hub may not be asked."""
    if is_offline():
        return NetworkError(
            f"{repo_id} is not (completely) in the local cache, and the Hugging Face hub could not be reached: "
            "offline mode is on (HF_HUB_OFFLINE). Unset HF_HUB_OFFLINE to download it, or choose a local model folder."
        )
    return NetworkError(
        f"{repo_id} is not in the local cache and the Hugging Face hub cannot be reached. "
        "Connect to the internet, or choose a local model folder."
    )


def hub_status_error(repo_id: str, status: int | None) -> CsmError:
    """The error for an HTTP status from the hub."""
    if status in (401, 403):
        # The hub answers 401 for private or gated repositories without a valid token.
        return ModelAccessError(gated_message(repo_id))
    if status == 404:
        return ModelNotFoundError(f"{repo_id} or one of its files does not exist on the hub. Check the name.")
    return NetworkError(f"Downloading {repo_id} failed: the hub answered HTTP {status}. Try again later.")


def hub_error(repo_id: str, exc: BaseException) -> CsmError:
    """Translate huggingface_hub's and requests' errors (an HTTP error may hide behind a cache
    miss), with any secret in the message redacted."""
    error = _hub_error(repo_id, exc)
    return type(error)(redact(str(error)))


def _hub_error(repo_id: str, exc: BaseException) -> CsmError:
    import requests
    from huggingface_hub import errors as hf_errors

    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, (hf_errors.GatedRepoError, hf_errors.RepositoryNotFoundError)):
            return hub_status_error(repo_id, 401)
        # (LocalEntryNotFoundError is an HfHubHTTPError too, without a response.)
        response = getattr(cause, "response", None)
        if isinstance(cause, (hf_errors.HfHubHTTPError, requests.HTTPError)) and response is not None:
            return hub_status_error(repo_id, response.status_code)
        cause = cause.__cause__ or cause.__context__
    if isinstance(exc, (hf_errors.LocalEntryNotFoundError, hf_errors.OfflineModeIsEnabled)):
        return not_cached_error(repo_id)
    if isinstance(exc, (requests.Timeout, TimeoutError)):
        return NetworkError("The Hugging Face hub did not answer in time. Check your connection and try again.")
    if isinstance(exc, OSError) and not isinstance(exc, (requests.RequestException, ConnectionError)):
        return CsmError(f"Saving {repo_id} failed: {exc}. Check free disk space.")
    return NetworkError(f"The Hugging Face hub could not be reached ({type(exc).__name__}). "
                        "Check your connection, or choose a local model folder.")
