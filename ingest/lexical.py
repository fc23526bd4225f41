"""Lexical index: BM25 (``bm25s``) over Dutch-stemmed, lower-cased, diacritics-folded tokens.

LangChain's default BM25 splits on spaces only; on Dutch that loses most matches
(``ministeries``/``ministerie``, ``één``/``een``). Tokens here go through Snowball's Dutch stemmer
(PyStemmer) after folding, and Dutch stop words are dropped.

### Usage example

```python
from ingest.lexical import LexicalIndex
lex = LexicalIndex.build(["De ministeries werken samen.", "Gemeenten en provincies."])
lex.scores("samenwerking tussen ministerie")   # one BM25 score per text
```
"""

from __future__ import annotations

import json
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.stopwords import STOPWORDS_DUTCH

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(STOPWORDS_DUTCH)
# Words that ask rather than name a topic; rare in a report, common in questions.
_QUESTION_WORDS = "hoeveel waarom wanneer welke welk waarmee waardoor hoelang eigenlijk precies concreet"


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("dutch")


def fold(text: str) -> str:
    """Lower-case and strip diacritics (``mét`` → ``met``, ``coördinatie`` → ``coordinatie``)."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokenize(text: str) -> list[str]:
    """Dutch BM25 tokens: folded words of 2+ characters, no stop words, Snowball-stemmed."""
    words = [w for w in _WORD.findall(fold(text)) if len(w) > 1 and w not in _STOP and not w.isdigit()]
    return _stemmer().stemWords(words)


class LexicalIndex:
    """A BM25 index over a fixed list of texts, addressed by position."""

    def __init__(self, model: bm25s.BM25, size: int) -> None:
        self._model = model
        self.size = size

    @classmethod
    def build(cls, texts: list[str]) -> "LexicalIndex":
        model = bm25s.BM25()
        tokens = [tokenize(t) or ["_leeg_"] for t in texts]
        if texts:
            model.index(tokens, show_progress=False)
        return cls(model, len(texts))

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every indexed text for ``query`` (zeros when nothing matches)."""
        tokens = tokenize(query)
        if not tokens or self.size == 0:
            return np.zeros(self.size, dtype=np.float32)
        vocab = self._model.vocab_dict
        known = [t for t in tokens if t in vocab]
        if not known:
            return np.zeros(self.size, dtype=np.float32)
        return np.asarray(self._model.get_scores(known), dtype=np.float32)

    def rare_terms(self, query: str, max_df: int = 3, min_len: int = 6) -> list[str]:
        """Query tokens (stemmed, at least ``min_len`` long) that occur in 1 to ``max_df`` texts:
        words specific to a few passages, which a question only uses when it is about them."""
        vocab = self._model.vocab_dict
        asking = set(tokenize(_QUESTION_WORDS))
        out = []
        for token in dict.fromkeys(tokenize(query)):
            if len(token) >= min_len and token in vocab and token not in asking:
                df = int(np.count_nonzero(self._model.get_scores([token])))
                if 1 <= df <= max_df:
                    out.append(token)
        return out

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._model.save(str(folder))
        (folder / "size.json").write_text(json.dumps({"size": self.size}))

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        model = bm25s.BM25.load(str(folder))
        size = json.loads((folder / "size.json").read_text())["size"]
        return cls(model, size)
