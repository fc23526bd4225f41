"""Cleaning, structure and chunking of the real report (no index needed)."""

from __future__ import annotations

import re

import pytest

from ingest.chunk import MAX_CHARS, chunk_document
from ingest.models import DocumentInfo
from ingest.profiles import load_profile
from ingest.structure import structure_document


@pytest.fixture(scope="module")
def structured(report_text):
    return structure_document(report_text, load_profile("werken-aan-transformatie"))


@pytest.fixture(scope="module")
def chunks(structured):
    info = DocumentInfo(doc_id="wat", path="werken-aan-transformatie.txt", title="Werken aan transformatie")
    return chunk_document(structured, info, load_profile("werken-aan-transformatie"))


def test_parts_in_order(structured):
    assert structured.parts == [
        "titelpagina", "colofon", "voorwoord", "infographic", "samenvatting", "conclusie", "inleiding",
        "h1", "h2", "h3", "h4", "h5", "h6", "reflectie", "verantwoording", "referenties",
    ]


def test_six_findings_nine_textboxes_three_tables(structured):
    assert structured.findings[4] == "Zet in op duurzame interbestuurlijke arrangementen"
    assert sorted(structured.findings) == [1, 2, 3, 4, 5, 6]
    assert sorted(structured.textboxes) == list(range(1, 10))
    assert structured.textboxes[5] == "Inrichting van het Nationaal Klimaat Platform in het klimaatbeleid"
    assert sorted(structured.tables) == [1, 2, 3]
    assert structured.tables[2].startswith("Overzicht van veranderstrategieën")


def test_recurring_parts_and_findings_in_summary_and_reflection(chunks):
    by_kind = {}
    for c in chunks:
        by_kind.setdefault((c.part, c.kind), []).append(c)
    for n in range(1, 7):
        part = f"h{n}"
        assert by_kind.get((part, "what_is_needed")), f"no 'Wat is nodig?' passage in {part}"
        assert by_kind.get((part, "role_of_top")), f"no 'ambtelijke top' passage in {part}"
        assert any(c.chapter == n for c in chunks if c.part == "samenvatting")
        assert any(c.chapter == n and c.kind == "role_of_top" for c in chunks if c.part == "reflectie")
    strategies = {c.strategy for c in chunks if c.kind == "working_method"}
    assert strategies == {"aansluiten", "vernieuwen"}


def test_textbox_runs_until_next_heading_and_keeps_its_subheadings(chunks):
    tk2 = [c for c in chunks if c.textbox == 2]
    assert any("Agenda Stad is een interbestuurlijk innovatieprogramma" in c.text for c in tk2)
    tk3 = [c for c in chunks if c.textbox == 3]
    assert tk3 and not any("Ambtenaren legitimeren systeemkeuzes door ze te onderbouwen" in c.text for c in tk3)
    assert all(c.kind == "practice_example" for c in tk3)
    assert "NPCE" in tk3[0].practices


def test_a_textbox_ends_where_the_main_text_turns_to_another_practice(chunks):
    """Plain text has no end marker for a box: "Ook binnen het NPLG …" after the Agenda Stad box, and
    "Ook het NPLG zocht …" after the NKP box, are the chapter's own text again."""
    def box_of(start):
        return next(c for c in chunks if c.text.startswith(start)).textbox

    assert box_of("Ook binnen het NPLG speelden zulke tussenruimtes") is None
    assert box_of("Tussenruimtes staan per definitie buiten") is None
    assert box_of("Ook het Nationaal Programma Landelijk Gebied (NPLG) zocht") is None
    assert box_of("In het tot stand komen van deze Deals spelen Dealmakers") == 6  # the box's own practice
    assert box_of("De relatief vrijblijvende 'transitieteams' worden vervangen") == 7  # no practice named
    # Text box 2 has a sub-heading per practice: all of them stay inside it.
    tk2 = {p for c in chunks if c.textbox == 2 for p in c.practices}
    assert {"directie Klimaat", "NPCE", "NPLG", "Agenda Stad"} <= tk2


def test_a_location_names_the_part_and_puts_a_box_heading_after_the_box(chunks):
    summary = next(c for c in chunks if c.text.startswith("Beslissingen over waar een opgave bestuurlijk"))
    assert summary.context_label() == ("samenvatting › Stel samenwerking aan transformatieopgaven voorop › "
                                       "Beleg doelen, budgetten en verantwoordelijkheid interdepartementaal")
    # As a reader sees it (citations, search results): the part by its name; embedded and indexed by its id.
    assert summary.context_label(display=True).startswith("Samenvatting › Stel samenwerking")
    chapter = next(c for c in chunks if c.part == "h5" and c.section_path)
    assert chapter.context_label().startswith("Stel samenwerking aan transformatieopgaven voorop › ")
    klimaat = next(c for c in chunks if c.textbox == 2 and c.practices == ["directie Klimaat"])
    assert klimaat.context_label() == ("inleiding › Vraagstelling en leeswijzer › "
                                       "Tekstkader 2. Toelichting op de onderzochte beleidspraktijken › Directie Klimaat")


def test_no_chunk_crosses_a_heading(structured, chunks):
    heading_starts = [b.start for b in structured.blocks if b.role in {"heading", "caption"}]
    for c in chunks:
        assert not any(c.start <= h < c.end for h in heading_starts), c.context_label()
        assert structured.text[c.start : c.end] == c.text
        assert len(c.text) <= MAX_CHARS


def test_no_figure_residue_or_contents_lines(chunks):
    for c in chunks:
        assert not re.search(r"^(Figuur( \d+)?|Bron: PBL/VU)$", c.text, re.M), c.text[:80]
        assert not re.search(r"\t\d+$", c.text, re.M)
        assert "Inhoud" != c.section


@pytest.mark.parametrize(
    "joined",
    [
        "dat richting geeft aan transformatie, mensen aanspreekt en stimuleert.",  # broken mid-sentence
        "maar zie ook Tjeenk Willink 2021).",  # broken inside a reference
        "zoals het NPLG en Agenda Stad – blijkt",  # broken before a capital
        "uitblijven van richtinggevende keuzes voor transformatie (PBL 2025a)",  # across a page break
    ],
)
def test_broken_paragraphs_are_rejoined(chunks, joined):
    assert any(joined in c.text for c in chunks), joined


def test_table_rows_keep_their_headers(chunks):
    table2 = " ".join(c.text for c in chunks if c.table == 2)
    assert "Bevindingen: (4) Zet in op duurzame interbestuurlijke arrangementen" in table2
    assert "Vernieuwen: Tussenruimtes als plek voor gelijkwaardige samenwerking" in table2
    table3 = " ".join(c.text for c in chunks if c.table == 3)
    assert "Agenda Stad: Politieke luwte vs. In de schijnwerpers staan" in table3


def test_references_kept_apart(chunks):
    refs = [c for c in chunks if c.part == "referenties"]
    assert refs and all(c.kind == "reference" for c in refs)
    assert not any("Braams, R. B., Wesseling" in c.text for c in chunks if c.kind != "reference")


def test_chunk_ids_are_stable(structured):
    info = DocumentInfo(doc_id="wat", path="x", title="t")
    profile = load_profile("werken-aan-transformatie")
    a = [c.id for c in chunk_document(structured, info, profile)]
    b = [c.id for c in chunk_document(structured, info, profile)]
    assert a == b and len(set(a)) == len(a)


def test_generic_profile_uses_markdown_headings():
    text = "# Rapport\n\nInleidende tekst.\n\n## Eerste sectie\n\nDe eerste alinea.\n\n## Tweede sectie\n\nDe tweede alinea."
    doc = structure_document(text, load_profile("generic"))
    info = DocumentInfo(doc_id="r", path="r.md", title="Rapport")
    chunks = chunk_document(doc, info, load_profile("generic"))
    assert [c.section for c in chunks] == [None, "Eerste sectie", "Tweede sectie"]
    assert chunks[1].part == "rapport"


def test_a_sentence_does_not_start_in_lower_case_or_with_a_bracket_in_edited_text():
    from ingest.chunk import sentence_spans

    text = "Het gaat om vraagstukken cq. transformatieopgaven. Welke waarden? (AWTI 2023). Daarna meer."
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "Het gaat om vraagstukken cq. transformatieopgaven.", "Welke waarden? (AWTI 2023).", "Daarna meer."]
    typed = "ik werk bij een provincie. wat kan ik doen?"  # people type questions in lower case
    assert [typed[a:b] for a, b in sentence_spans(typed, typed=True)] == [
        "ik werk bij een provincie.", "wat kan ik doen?"]


def test_a_table_cell_is_one_sentence_even_with_an_abbreviation_inside():
    from ingest.chunk import sentence_spans

    row = "Hoofdstuk 2 Langetermijndenken | Directie Klimaat: Politiek schakelen vs. Werken langs lijnen | NPLG: Eén. Twee."
    cells = ["Hoofdstuk 2 Langetermijndenken", "Directie Klimaat: Politiek schakelen vs. Werken langs lijnen",
             "NPLG: Eén. Twee."]
    assert [row[a:b] for a, b in sentence_spans(row, table=True)] == cells


def test_a_title_line_above_an_unwrapped_paragraph_is_a_heading_but_wrapped_lines_are_joined(chunks):
    from ingest.clean import clean_blocks

    assert not any(c.text.startswith("Een handelingsrepertoire in ontwikkeling bij het Rijk voor opgaven in de "
                                     "leefomgeving De huidige") for c in chunks)
    profile = load_profile("generic")
    long_line = "De huidige werkwijzen schieten tekort voor transformatieopgaven, zo blijkt uit " * 3
    blocks = clean_blocks(f"Een titel zonder punt\n{long_line.strip()}\n", profile)
    assert [(b.role, b.text[:21]) for b in blocks] == [("heading", "Een titel zonder punt"),
                                                      ("paragraph", "De huidige werkwijzen")]
    wrapped = "Een zin die over twee regels\nloopt, zoals in een tekst met harde regeleinden.\n"
    assert [(b.role, b.text) for b in clean_blocks(wrapped, profile)] == [
        ("paragraph", "Een zin die over twee regels loopt, zoals in een tekst met harde regeleinden.")]
    broken = "Het rapport stelt dat de\n" + ("rijksoverheid tekortschiet voor transformatieopgaven, zo blijkt " * 3).strip() + "\n"
    assert [b.role for b in clean_blocks(broken, profile)] == ["paragraph"]


def test_a_colophons_values_are_text_under_their_labels(chunks):
    """Every short colophon line looks like a heading; the authors and the publication line were
    headings, in no passage. A line after a label is its value; the labels stay headings."""
    colophon = {c.section_path[-1] if c.section_path else "": c for c in chunks if c.part == "colofon"}
    assert colophon["Auteurs"].text.startswith("Lisa Verwoerd, Eva Kunseler")
    assert colophon["Auteurs"].kind == "front_matter"
    assert colophon["Contact"].text == "lisa.verwoerd@pbl.nl"
    assert colophon["Eindredactie en productie"].text == "Uitgeverij PBL"
    assert "PBL-publicatienummer: 5760" in colophon[""].text  # the line under the part's own heading
    # The body of the report keeps its headings: a finding's section heading is no passage text.
    assert not any(c.text.startswith("Zoektocht naar legitimering") for c in chunks if c.part == "h1")


def test_a_forewords_place_date_and_signatures_are_its_text(chunks):
    """"Amsterdam / Den Haag, 2026" looked like a heading: the signatures were a section of their own,
    and their two lines were joined into one name ("… Vrije Universiteit Amsterdam Marko Hekkert, …")."""
    foreword = [c for c in chunks if c.part == "voorwoord"]
    last = foreword[-1]
    assert not last.section_path
    assert last.text.endswith("Amsterdam / Den Haag, 2026\n\n"
                              "Jacqueline Broerse, Directeur Athena Instituut, Vrije Universiteit Amsterdam\n"
                              "Marko Hekkert, Directeur Planbureau voor de Leefomgeving")
    # The figure after it, under the report's title, is a part of its own, not the foreword's.
    figure = [c for c in chunks if c.part == "infographic"]
    assert figure and figure[0].text.startswith("De huidige werkwijzen van de Rijksoverheid schieten tekort")
    assert not any("ambtelijke top" in c.text for c in foreword)


def test_lines_announced_by_a_colon_are_text_not_headings(chunks):
    """"… kan sturen op verandering in:" / "Cultuur: …" / "Structuur: …": as headings, the two areas
    were in no passage's text."""
    from ingest.clean import clean_blocks

    figure = next(c for c in chunks if c.part == "infographic" and "Cultuur:" in c.text)
    assert figure.text.endswith("kan sturen op verandering in:\n\n"
                                "Cultuur: reflectie, experimenteren en samenwerken over grenzen normaliseren\n\n"
                                "Structuur: functies, vaardigheden en beloningssystemen transformatiegericht inrichten")
    profile = load_profile("generic")
    text = "De top kan sturen op twee dingen:\n\nCultuur: open werken\n\nStructuur: andere functies\n\nEen kop\n\nTekst.\n"
    assert [b.role for b in clean_blocks(text, profile)] == ["paragraph", "paragraph", "paragraph", "heading", "paragraph"]
    # A place and date is no heading, and the signatures under it keep a line each.
    blocks = clean_blocks("Den Haag, 12 maart 2026\n\nA. Auteur, Directeur\nB. Auteur, Voorzitter\n", profile)
    assert [(b.role, b.text) for b in blocks] == [("paragraph", "Den Haag, 12 maart 2026"),
                                                 ("paragraph", "A. Auteur, Directeur\nB. Auteur, Voorzitter")]
