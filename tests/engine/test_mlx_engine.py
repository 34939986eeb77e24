"""The MLX engine (device "mlx"): the language model in MLX, Mimi in torch, checked against the
torch engine on tiny checkpoints of both layouts, each written by its owner's tools.

``mlx[cpu]`` runs these on Linux; on a Mac the same code runs on the Apple GPU.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
import threading

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from csm_desktop.engine import Segment, load_csm_1b
from csm_desktop.engine.checkpoint import folder_weights
from csm_desktop.errors import DeviceError, GenerationCancelled, PromptTooLongError

mx = pytest.importorskip("mlx.core")

TEXT = "Pretty good, pretty good."


def _context(frames: int = 5, seed: int = 0):
    audio = torch.randn(1920 * frames, generator=torch.Generator().manual_seed(seed)) * 0.1
    return [Segment(0, "Earlier words.", audio=audio)]


@pytest.fixture(scope="module")
def sesame_folder(tiny_folder, tmp_path_factory):
    """Sesame's original layout as its own model structure (torchtune modules) writes it, with
    the tiny checkpoint's tokenizer and Mimi beside it."""
    from fakes.sesame_model import tiny_sesame_model

    model = tiny_sesame_model(seed=3)
    folder = tmp_path_factory.mktemp("sesame") / "csm-original"
    folder.mkdir()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "model.safetensors")
    config = {**model.config, "csm_desktop_test_model": True}
    (folder / "config.json").write_text(json.dumps(config))
    for name in ("tokenizer.json", "tokenizer_config.json", "mimi.safetensors", "mimi_config.json"):
        shutil.copy(tiny_folder / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def engines(tiny_folder):
    """The torch engine and the MLX engine (float32) on the tiny original-layout checkpoint."""
    return load_csm_1b("cpu", model=tiny_folder), load_csm_1b("mlx", model=tiny_folder)


@pytest.mark.parametrize("which", ["sesame", "resaved"])
def test_greedy_codes_equal_the_torch_engine_in_either_layout(which, sesame_folder, upstream_folders):
    folder = sesame_folder if which == "sesame" else upstream_folders["resaved"]
    assert folder_weights(folder).layout == {"sesame": "original", "resaved": "transformers"}[which]
    torch_gen, mlx_gen = load_csm_1b("cpu", model=folder), load_csm_1b("mlx", model=folder)
    assert mlx_gen.accel == "mlx" and mlx_gen.model.dtype == mx.float32  # float32 off the Apple GPU
    for ctx in (_context(), ()):
        want = torch_gen.generate_codes(TEXT, 1, ctx, max_audio_length_ms=1600, topk=1)
        got = mlx_gen.generate_codes(TEXT, 1, ctx, max_audio_length_ms=1600, topk=1)
        assert want.shape == (32, 20) and torch.equal(got, want)


@pytest.mark.parametrize("seed", [3, 8])
def test_a_seed_samples_the_torch_engines_codes(engines, seed):
    """Top-k 50 at temperature 0.9: the same hash noise and Gumbel-max pick as sampling.py."""
    torch_gen, mlx_gen = engines
    want = torch_gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1600, seed=seed)
    assert torch.equal(mlx_gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1600, seed=seed), want)


def test_hash_noise_matches_sampling_py_to_a_rounding_step(engines):
    """The 24 random bits are the same integers; only MLX's and torch's ``log`` may round apart."""
    from csm_desktop.engine.sampling import gumbel_noise

    step = engines[1]._step
    step.keys = [12345]
    got = np.asarray(step._noise(17))[0]
    want = gumbel_noise(torch.tensor(12345), torch.tensor([17]), 32, step.valid_vocab).numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


def test_stream_joined_equals_generate(engines):
    mlx_gen = engines[1]
    audio = mlx_gen.generate(TEXT, 1, _context(), max_audio_length_ms=1200, seed=5)
    chunks = list(mlx_gen.stream(TEXT, 1, _context(), max_audio_length_ms=1200, seed=5))
    assert len(chunks) == 15 and all(c.shape == (1920,) for c in chunks)
    torch.testing.assert_close(torch.cat(chunks), audio, rtol=0, atol=1e-5)


def test_candidates_are_the_takes_their_seeds_sample_alone(engines):
    torch_gen, mlx_gen = engines
    cands = mlx_gen.generate_candidates(TEXT, 1, _context(), num_candidates=3, max_audio_length_ms=1200, seed=20)
    assert [c.seed for c in cands] == [20, 21, 22]
    assert len({tuple(c.codes.flatten().tolist()) for c in cands}) == 3
    for c in cands:
        assert torch.equal(c.codes, mlx_gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1200, seed=c.seed))
        assert torch.equal(c.codes, torch_gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=1200,
                                                             seed=c.seed))


def test_the_next_line_reuses_the_prompt_and_gets_a_fresh_prompts_codes(engines, tiny_folder):
    ctx = _context(frames=80)  # more than one 64-position prefill block
    fresh = load_csm_1b("mlx", model=tiny_folder)
    want = fresh.generate_codes(TEXT, 1, ctx, max_audio_length_ms=800, seed=7)
    mlx_gen = engines[1]
    mlx_gen.generate_codes("Another line first.", 0, ctx, max_audio_length_ms=400, seed=3)
    assert torch.equal(mlx_gen.generate_codes(TEXT, 1, ctx, max_audio_length_ms=800, seed=7), want)
    assert mlx_gen._step.prefilled[0] >= 64  # the shared context was not computed again


def test_stop_cancels_and_the_engine_stays_usable(engines):
    mlx_gen = engines[1]
    frames = []

    def stop():
        return len(frames) >= 3

    frames.extend(mlx_gen.stream(TEXT, 1, _context(), max_audio_length_ms=4000, seed=1, should_stop=stop))
    assert len(frames) == 3
    with pytest.raises(GenerationCancelled):
        mlx_gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=4000, should_stop=lambda: True)
    assert mlx_gen.generate_codes(TEXT, 1, (), max_audio_length_ms=400, seed=1).shape == (32, 5)


def test_an_engine_loaded_on_one_thread_generates_on_others(tiny_folder, engines):
    """The app loads the engine in a model job; MLX runs a graph on the streams of the thread
    that made it, so the engine keeps nothing lazy between calls (its caches included)."""
    made = {}

    def load():
        made["gen"] = load_csm_1b("mlx", model=tiny_folder, warm_up=False)  # a warm-up would run frames there

    loader = threading.Thread(target=load)
    loader.start()
    loader.join()
    want = engines[0].generate_codes(TEXT, 1, _context(), max_audio_length_ms=800, seed=6)
    assert torch.equal(made["gen"].generate_codes(TEXT, 1, _context(), max_audio_length_ms=800, seed=6), want)
    worker = threading.Thread(target=lambda: made.update(batch=made["gen"].generate_candidates(
        TEXT, 1, _context(), num_candidates=2, max_audio_length_ms=800, seed=6)))
    worker.start()
    worker.join()
    assert torch.equal(made["batch"][0].codes, want)


def test_a_prompt_over_budget_is_refused_before_any_frame(engines):
    with pytest.raises(PromptTooLongError, match="positions over"):
        engines[1].generate_codes(TEXT, 1, _context(), max_audio_length_ms=2048 * 80)


def test_mlx_out_of_memory_says_what_to_do(engines, monkeypatch):
    from csm_desktop.engine import mlx_step

    def full(*arrays):
        raise RuntimeError("[metal::malloc] Attempting to allocate 9000000000 bytes which is greater than the "
                           "maximum allowed buffer size")

    monkeypatch.setattr(mlx_step.mx, "eval", full)
    with pytest.raises(DeviceError, match="MLX ran out of memory"):
        engines[1].generate_codes(TEXT, 1, (), max_audio_length_ms=400, seed=1)


def test_half_precision_stays_finite_and_decodable(tiny_folder, monkeypatch):
    """float16 is the Apple GPU's default; CSM_DESKTOP_MLX_DTYPE picks it (or float32) anywhere."""
    monkeypatch.setenv("CSM_DESKTOP_MLX_DTYPE", "float16")
    gen = load_csm_1b("mlx", model=tiny_folder)
    assert gen.model.dtype == mx.float16 and gen.model.text_embeddings.dtype == mx.float16
    codes = gen.generate_codes(TEXT, 1, _context(), max_audio_length_ms=800, seed=2)
    assert codes.shape[0] == 32 and 0 <= int(codes.min()) and int(codes.max()) < 2048
    assert torch.isfinite(gen.decode_codes(codes)).all()


def test_mlx_is_the_default_on_apple_silicon_only(tiny_folder, monkeypatch):
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(platform, "machine", lambda: "arm64")
    assert load_csm_1b(None, model=tiny_folder, warm_up=False).accel == "mlx"
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
    assert load_csm_1b("auto", model=tiny_folder, warm_up=False).accel == "off"


def test_asking_for_mlx_without_it_is_a_clear_error(tiny_folder, monkeypatch):
    monkeypatch.setitem(sys.modules, "mlx.core", None)  # import mlx.core now raises ImportError
    with pytest.raises(DeviceError, match="pip install mlx"):
        load_csm_1b("mlx", model=tiny_folder)


def test_the_apps_loader_and_say_command_run_on_mlx(tiny_folder, tmp_path, capsys):
    import soundfile as sf

    from csm_desktop.cli import main
    from csm_desktop.services.engines import open_engine
    from csm_desktop.settings import DEVICES, Settings

    assert "mlx" in DEVICES
    gen = open_engine(Settings(device="mlx", model=str(tiny_folder)))
    assert gen.accel == "mlx" and gen.codec.device.type in ("cpu", "mps")
    out = tmp_path / "out.wav"
    assert main(["say", "Hello there.", "--model", str(tiny_folder), "--seed", "4", "--max-ms", "800",
                 "--device", "mlx", "-o", str(out)]) == 0
    assert sf.info(out).frames == 10 * 1920
    assert "noise" in capsys.readouterr().err
