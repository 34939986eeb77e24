"""``handle_generate`` (shared by ``serve`` and Cerebrium) refuses any JSON it cannot use with a
RequestError naming the field: never another exception, whatever the types and sizes."""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from csm_desktop.services.remote_protocol import RequestError, handle_generate
from fakes.engine import FakeEngine

FIELDS = ("text", "speaker", "context", "max_audio_length_ms", "temperature", "topk", "seed")
odd = st.sampled_from([float("inf"), float("-inf"), float("nan"), 10**400, -(10**400), 1e308, -0.0, True, "", "  ", "7"])
scalars = st.none() | st.integers(-(10**30), 10**30) | st.floats(allow_nan=True) | st.text(max_size=20) | odd
wild = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(("speaker", "text", "audio_data", "x")), inner, max_size=3),
                    max_leaves=8)
# Each field is left out, sensible, odd or wild, so that one bad field at a time reaches its check.
payloads = wild | st.fixed_dictionaries({"text": st.just("Hi.") | st.just("Hi.") | odd | wild}, optional={
    name: sensible | odd | wild for name, sensible in {
        "speaker": st.integers(0, 9), "context": st.just([]), "max_audio_length_ms": st.just(160),
        "temperature": st.floats(0, 5), "topk": st.integers(1, 100), "seed": st.integers(0, 99)}.items()})


@settings(max_examples=500, deadline=None)
@given(payloads)
@example({"text": "Hi.", "speaker": float("inf")})  # each once a 500, not a refusal
@example({"text": "Hi.", "topk": float("nan")})
def test_any_json_payload_is_generated_or_refused_with_a_named_field(payload):
    payload = json.loads(json.dumps(payload, allow_nan=True))  # what a server would have parsed
    try:
        result = handle_generate(FakeEngine(), {"max_audio_length_ms": 160, **payload}
                                 if isinstance(payload, dict) else payload)
    except RequestError as exc:
        assert exc.status in (400, 422)
        assert not isinstance(payload, dict) or any(name in str(exc) for name in FIELDS + ("audio_data",))
    else:
        assert result["format"] == "wav" and result["sample_rate"] == 24_000
