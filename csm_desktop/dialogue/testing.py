"""Real speech and constructed faults for the take checks' tests and bench (not used by the app).

Speech comes from espeak-ng (a Debian package: scripts/bootstrap.sh installs it for tests); the
faults are the ones CSM users report: a noise or murmur tail after the line should have ended, a
long silence inside, a clipped ending, another voice. :func:`make_tiny_whisper` builds a random
Whisper with transformers and converts it with CTranslate2's own converter, as a real
faster-whisper model folder is made.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchaudio.functional as AF

from csm_desktop.audio import read_audio
from csm_desktop.errors import CsmError

RATE = 24_000  # takes are made at CSM's rate
SENTENCES = (
    "Hey, how are you doing?",
    "Pretty good, pretty good.",
    "I'm great, so happy to be speaking to you.",
    "The quick brown fox jumps over the lazy dog.",
    "We should leave before the rain starts, or we will be soaked by the time we get home.",
    "Could you pass me the salt?",
    "That was the best concert I have heard in years, and the drummer was incredible.",
    "Yes.",
    "Honestly, I don't know what to tell you about the meeting tomorrow morning.",
    "Let me think about it for a moment, and I'll get back to you tonight.",
    "The train to Boston leaves at seven fifteen from platform nine.",
    "She said she would call, but the phone never rang.",
)
_NONSENSE = "mumble wabba dola nimbo sarrah tuko bemma lorin gavva pelto rinna"


def espeak(text: str, *, voice: str = "en-us", wpm: int = 175, pitch: int = 50, rate: int = RATE) -> np.ndarray:
    """``text`` spoken by espeak-ng, mono float32 at ``rate``."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise CsmError("espeak-ng is not installed (scripts/bootstrap.sh test installs it).")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "speech.wav"
        subprocess.run([exe, "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", str(path), text],
                       check=True, capture_output=True, timeout=60)
        return read_audio(path, rate).numpy()


def speech_bounds(clean: np.ndarray, rate: int = RATE, floor_db: float = -45.0) -> tuple[float, float]:
    """First and last instant (s) a clean recording is above ``floor_db`` in 10 ms frames: the
    ground truth a VAD is measured against (only valid on audio without added noise)."""
    hop = rate // 100
    frames = clean[: len(clean) // hop * hop].reshape(-1, hop)
    loud = np.flatnonzero(20 * np.log10(np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)) + 1e-12) > floor_db)
    if loud.size == 0:
        return 0.0, 0.0
    return loud[0] * hop / rate, (loud[-1] + 1) * hop / rate


def noise(seconds: float, level_db: float = -35.0, seed: int = 0, rate: int = RATE) -> np.ndarray:
    """Hiss at an RMS of ``level_db`` dBFS, low-passed a little (CSM's runaway static is not white)."""
    x = np.random.default_rng(seed).standard_normal(int(seconds * rate))
    x = np.convolve(x, np.ones(4) / 4, mode="same")
    return (x / np.sqrt((x**2).mean()) * 10 ** (level_db / 20)).astype(np.float32)


def murmur(seconds: float, level_db: float = -30.0, seed: int = 0, rate: int = RATE) -> np.ndarray:
    """Speech-like babble with no words in it: espeak-ng nonsense, muffled (1 kHz low-pass) and
    quiet, looped or cut to ``seconds``."""
    words = _NONSENSE.split()
    np.random.default_rng(seed).shuffle(words)
    x = torch.from_numpy(espeak(" ".join(words * 3), wpm=190, pitch=35, rate=rate))
    y = AF.lowpass_biquad(x, rate, 1000.0).double().numpy()
    n = int(seconds * rate)
    y = np.tile(y, n // len(y) + 1)[:n]
    return (y / np.sqrt((y**2).mean() + 1e-12) * 10 ** (level_db / 20)).astype(np.float32)


def with_tail(speech: np.ndarray, tail: np.ndarray, rate: int = RATE) -> np.ndarray:
    """``speech`` followed by ``tail`` after the speech's own end (its trailing silence kept)."""
    return np.concatenate([speech, tail]).astype(np.float32)


def with_inner_silence(speech: np.ndarray, seconds: float = 3.0, rate: int = RATE) -> np.ndarray:
    """``speech`` with ``seconds`` of silence at the quietest 10 ms near its middle (between words)."""
    start, end = speech_bounds(speech, rate)
    hop = rate // 100
    lo, hi = int((start + (end - start) * 0.3) * rate) // hop, int((start + (end - start) * 0.7) * rate) // hop
    energy = [(speech[i * hop:(i + 1) * hop] ** 2).sum() for i in range(lo, max(hi, lo + 1))]
    cut = (lo + int(np.argmin(energy))) * hop
    return np.concatenate([speech[:cut], np.zeros(int(seconds * rate), np.float32), speech[cut:]])


def with_end_cut(speech: np.ndarray, fraction: float = 0.3, rate: int = RATE) -> np.ndarray:
    """``speech`` with the last ``fraction`` of its speech removed: the take stops mid-line, as
    when CSM ends a line early (and nothing follows the cut, as nothing follows in such a take)."""
    start, end = speech_bounds(speech, rate)
    return speech[: int((start + (end - start) * (1 - fraction)) * rate)].copy()


def make_tiny_whisper(folder: str | Path, seed: int = 0) -> Path:
    """A random tiny Whisper (transformers, ``save_pretrained``) converted by CTranslate2's
    ``TransformersConverter`` into ``folder``: a faster-whisper model folder with its own
    ``tokenizer.json`` (byte-level BPE with Whisper's special tokens), so nothing is downloaded."""
    from ctranslate2.converters import TransformersConverter
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    folder = Path(folder)
    specials = ["<|endoftext|>", "<|startoftranscript|>", "<|en|>", "<|translate|>", "<|transcribe|>",
                "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(SENTENCES, trainers.BpeTrainer(
        vocab_size=320, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    tok.add_special_tokens(specials + [f"<|{i * 0.02:.2f}|>" for i in range(8)])
    eot, sot = tok.token_to_id("<|endoftext|>"), tok.token_to_id("<|startoftranscript|>")
    torch.manual_seed(seed)
    config = WhisperConfig(
        vocab_size=tok.get_vocab_size(), num_mel_bins=80, d_model=32, encoder_layers=1, decoder_layers=1,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
        max_source_positions=1500, max_target_positions=448, pad_token_id=eot, bos_token_id=eot,
        eos_token_id=eot, decoder_start_token_id=sot)
    model = WhisperForConditionalGeneration(config)
    # Whisper's defaults suppress ids of its real 51,865-token vocabulary: out of range here.
    model.generation_config.suppress_tokens = []
    model.generation_config.begin_suppress_tokens = []
    with tempfile.TemporaryDirectory() as tmp:
        model.save_pretrained(tmp)
        tok.save(str(Path(tmp) / "tokenizer.json"))
        TransformersConverter(tmp, copy_files=["tokenizer.json"]).convert(str(folder), force=True)
    return folder
