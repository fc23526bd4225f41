"""Validates the question sets in evals/datasets/ (and those written for training, evals/training/) against
EVAL_SCHEMA.md.

Checks, for every set (development, held-out, written for training): every line parses; fields, types and allowed values; unique ids; turn_of points at an
earlier id; gold quotes are verbatim substrings of one line of the corpus; answerable/unanswerable
consistency. For the development set also its minimum coverage (size, languages, personas, sections,
follow-ups, refusals).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
DATASET = REPO_ROOT / "evals" / "datasets" / "dev.jsonl"
DATASETS = sorted((REPO_ROOT / "evals" / "datasets").glob("*.jsonl")) + sorted((REPO_ROOT / "evals" / "training").glob("*.jsonl"))
CORPUS = REPO_ROOT / "corpus" / "werken-aan-transformatie.txt"

FIELDS = {
    "id": str,
    "persona": str,
    "lang": str,
    "question": str,
    "answerable": bool,
    "gold_quotes": list,
    "gold_section": (str, type(None)),
    "must_mention": list,
    "turn_of": (str, type(None)),
}
PERSONAS = {"civil_servant", "trainer", "evaluator"}
LANGS = {"nl", "en"}
SECTIONS = {
    "voorwoord", "samenvatting", "conclusie", "inleiding",
    "h1", "h2", "h3", "h4", "h5", "h6", "reflectie", "verantwoording",
}

MIN_ITEMS = 60
MIN_EN = 8
MIN_UNANSWERABLE = 10
MIN_FOLLOWUPS = 6
MIN_LONG_STORIES = 10  # questions of 250-600 characters
REQUIRED_SECTIONS = {"h1", "h2", "h3", "h4", "h5", "h6", "inleiding", "reflectie", "verantwoording"}


def _load(path: Path) -> list[dict]:
    assert path.is_file(), f"missing dataset {path}"
    out = []
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        assert raw.strip(), f"line {n} is empty"
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:  # pragma: no cover - message only
            pytest.fail(f"line {n} is not valid JSON: {exc}")
        assert isinstance(obj, dict), f"line {n} is not a JSON object"
        out.append(obj)
    assert out, "dataset is empty"
    return out


@pytest.fixture(scope="module", params=DATASETS, ids=[p.stem for p in DATASETS])
def rows(request) -> list[dict]:
    return _load(request.param)


@pytest.fixture(scope="module")
def dev_rows() -> list[dict]:
    return _load(DATASET)


@pytest.fixture(scope="module")
def corpus_lines() -> list[str]:
    assert CORPUS.is_file(), f"missing corpus file {CORPUS}"
    return CORPUS.read_text(encoding="utf-8").splitlines()


def test_fields_and_types(rows):
    for r in rows:
        assert set(r) == set(FIELDS), f"{r.get('id')}: fields {sorted(r)} != {sorted(FIELDS)}"
        for name, typ in FIELDS.items():
            assert isinstance(r[name], typ), f"{r['id']}: {name} has type {type(r[name]).__name__}"
        assert r["id"].strip(), "empty id"
        assert r["question"].strip(), f"{r['id']}: empty question"
        assert all(isinstance(q, str) and q.strip() for q in r["gold_quotes"]), f"{r['id']}: bad gold quote"
        assert all(isinstance(m, str) and m.strip() for m in r["must_mention"]), f"{r['id']}: bad must_mention"


def test_allowed_values(rows):
    for r in rows:
        assert r["persona"] in PERSONAS, f"{r['id']}: persona {r['persona']!r}"
        assert r["lang"] in LANGS, f"{r['id']}: lang {r['lang']!r}"
        assert r["gold_section"] is None or r["gold_section"] in SECTIONS, (
            f"{r['id']}: gold_section {r['gold_section']!r}")
        for m in r["must_mention"]:
            assert m == m.lower(), f"{r['id']}: must_mention {m!r} is not lower-case"


def test_ids_unique(rows):
    dupes = [i for i, c in Counter(r["id"] for r in rows).items() if c > 1]
    assert not dupes, f"duplicate ids: {dupes}"


def test_turn_of_points_to_earlier_item(rows):
    seen: set[str] = set()
    for r in rows:
        if r["turn_of"] is not None:
            assert r["turn_of"] != r["id"], f"{r['id']}: turn_of points at itself"
            assert r["turn_of"] in seen, f"{r['id']}: turn_of {r['turn_of']!r} is not an earlier id"
        seen.add(r["id"])


def test_answerable_consistency(rows):
    for r in rows:
        if r["answerable"]:
            assert 1 <= len(r["gold_quotes"]) <= 3, f"{r['id']}: needs 1-3 gold quotes"
            assert r["must_mention"], f"{r['id']}: answerable item without must_mention"
            assert r["gold_section"] is not None, f"{r['id']}: answerable item without gold_section"
        else:
            assert r["gold_quotes"] == [], f"{r['id']}: unanswerable item with gold quotes"
            assert r["must_mention"] == [], f"{r['id']}: unanswerable item with must_mention"
            assert r["gold_section"] is None, f"{r['id']}: unanswerable item with gold_section"


def test_gold_quotes_are_verbatim_within_one_line(rows, corpus_lines):
    missing = []
    for r in rows:
        for q in r["gold_quotes"]:
            if "\n" in q or not any(q in line for line in corpus_lines):
                missing.append(f"{r['id']}: {q[:80]!r}")
    assert not missing, "gold quotes not found verbatim inside one corpus line:\n" + "\n".join(missing)


def test_must_mention_terms_occur_in_corpus(rows, corpus_lines):
    text = "\n".join(corpus_lines).lower()
    absent = [f"{r['id']}: {m!r}" for r in rows for m in r["must_mention"] if m not in text]
    assert not absent, "must_mention terms that never occur in the corpus:\n" + "\n".join(absent)


def test_development_set_coverage(dev_rows):
    rows = dev_rows
    assert len(rows) >= MIN_ITEMS, f"only {len(rows)} items"
    langs = Counter(r["lang"] for r in rows)
    assert langs["en"] >= MIN_EN, f"only {langs['en']} English items"
    assert set(Counter(r["persona"] for r in rows)) == PERSONAS
    unanswerable = sum(not r["answerable"] for r in rows)
    assert unanswerable >= MIN_UNANSWERABLE, f"only {unanswerable} unanswerable items"
    followups = sum(r["turn_of"] is not None for r in rows)
    assert followups >= MIN_FOLLOWUPS, f"only {followups} follow-up pairs"
    sections = {r["gold_section"] for r in rows if r["gold_section"]}
    assert REQUIRED_SECTIONS <= sections, f"sections missing: {sorted(REQUIRED_SECTIONS - sections)}"
    long_stories = sum(250 <= len(r["question"]) <= 600 for r in rows)
    assert long_stories >= MIN_LONG_STORIES, f"only {long_stories} long situational questions"


def test_hit_rule_for_a_quote_spanning_table_cells():
    from evals.dataset import passage_hits

    row = ("Bevindingen: (5) Stel samenwerken aan transformatieopgaven voorop | Aansluiten: Werken in thematische "
           "netwerken | Vernieuwen: Samenwerken structureel en juridisch verankeren")
    cells = "Werken in thematische netwerken\tSamenwerken structureel en juridisch verankeren"
    assert passage_hits(row, [cells], captions=[]) == "cells"
    assert passage_hits(row, [cells]) is None  # the schema's rule alone does not see it
    # The cells must stand in the row in the quote's order, and a quote without tabs is no quote of cells.
    assert passage_hits(row, ["Samenwerken structureel en juridisch verankeren\tWerken in thematische netwerken"],
                        captions=[]) is None
    assert passage_hits(row, ["Werken in thematische netwerken Samenwerken structureel"], captions=[]) is None
    assert passage_hits(row, ["Werken in thematische netwerken"]) == "exact"
    # Column names stand in every row, and a cell of a letter anywhere: neither makes a hit.
    assert passage_hits(row, ["Aansluiten\tVernieuwen"], captions=[]) is None
    assert passage_hits(row, ["a\tb"], captions=[]) is None


def test_hit_rule_for_a_quote_of_a_caption():
    from evals.dataset import passage_hits

    row = "Bevindingen: (1) Voorzie systeemkeuzes van perspectief | Aansluiten: Systeemkeuzes legitimeren"
    caption = ("Tabel 2. Overzicht van veranderstrategieën uit de hoofdstukken: aansluiten en vernieuwen, en de rol "
               "van de ambtelijke top daarbij")
    quote = "Overzicht van veranderstrategieën uit de hoofdstukken: aansluiten en vernieuwen"
    assert passage_hits(row, [quote], captions=[caption]) == "caption"
    assert passage_hits(row, [quote]) is None  # the caption is not the passage's text
    assert passage_hits(row, ["Tabel 2"], captions=[caption]) is None  # in every caption of a table 2
    assert passage_hits(row, ["Systeemkeuzes legitimeren"], captions=[caption]) == "exact"


def test_chunk_captions_name_box_and_table():
    from ingest.models import Chunk

    chunk = Chunk(id="x", doc_id="d", doc_title="D", text="t", start=0, end=1, part="reflectie", chapter=None,
                  chapter_title=None, section="Reflectie", section_path=["Reflectie"], textbox=None,
                  textbox_title=None, table=2, table_title="Overzicht van veranderstrategieën", kind="table",
                  strategy=None, practices=[])
    assert chunk.captions == ["Tabel 2. Overzicht van veranderstrategieën"]
    assert chunk.context_label(display=True).endswith("Reflectie › Tabel 2. Overzicht van veranderstrategieën")
