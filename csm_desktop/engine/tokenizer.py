"""Text tokenizer: the model folder's ``tokenizer.json`` (Llama-3's for CSM-1B)."""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer

from csm_desktop.errors import CheckpointError

_DEFAULT_BOS = "<|begin_of_text|>"
_DEFAULT_EOS = "<|end_of_text|>"


def _token_text(value) -> str | None:
    if isinstance(value, dict):  # AddedToken serialised as a dict
        return value.get("content")
    return value if isinstance(value, str) else None


class TextTokenizer:
    """Tokenises a segment as the reference does: ``<bos>[speaker]text<eos>``."""

    def __init__(self, tokenizer: Tokenizer, bos: str = _DEFAULT_BOS, eos: str = _DEFAULT_EOS) -> None:
        self._tok = tokenizer
        ids = [tokenizer.token_to_id(bos), tokenizer.token_to_id(eos)]
        if None in ids:
            raise CheckpointError(f"The tokenizer lacks the special tokens {bos} / {eos}.")
        self.bos_id, self.eos_id = ids

    @classmethod
    def from_folder(cls, folder: Path) -> "TextTokenizer":
        path = folder / "tokenizer.json"
        if not path.is_file():
            raise CheckpointError(
                f"{folder} has no tokenizer.json. The model folder needs the Llama-3 tokenizer files "
                "(tokenizer.json, tokenizer_config.json) next to the weights."
            )
        try:
            tok = Tokenizer.from_file(str(path))
        except Exception as exc:  # tokenizers raises plain Exception subclasses
            raise CheckpointError(f"{path} could not be read ({exc}). Download the model again.") from exc
        bos, eos = _DEFAULT_BOS, _DEFAULT_EOS
        for name in ("tokenizer_config.json", "special_tokens_map.json"):
            cfg_path = folder / name
            if cfg_path.is_file():
                try:
                    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    continue
                bos = _token_text(cfg.get("bos_token")) or bos
                eos = _token_text(cfg.get("eos_token")) or eos
                break
        return cls(tok, bos, eos)

    def encode_segment(self, text: str, speaker: int) -> list[int]:
        ids = self._tok.encode(f"[{speaker}]{text}", add_special_tokens=False).ids
        return [self.bos_id, *ids, self.eos_id]
