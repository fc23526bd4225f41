"""Tests of the read stage (ingest/readers.py) on real files generated in tmp_path.

PDFs are made with fpdf2, Word files with python-docx; nothing is mocked, so the tests also pin the
behaviour of pypdf's text extraction that the PDF reader relies on.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import zipfile
from pathlib import Path

import pytest

from ingest.readers import MAX_BYTES, SUPPORTED_SUFFIXES, ReadError, ReadResult, read_document

fpdf = pytest.importorskip("fpdf")
docx = pytest.importorskip("docx")

DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
DEJAVU_BOLD = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

PARA_1 = (
    "Dit is de eerste alinea over de transformatie van de coördinatie bij het Rijk. Ambtenaren "
    "werken aan opgaven in de leefomgeving en zoeken naar nieuwe werkwijzen die passen bij de "
    "omvang van die opgaven."
)
PARA_2 = (
    "De tweede alinea gaat over samenwerking met de samenleving. Het Rijk werkt samen met "
    "provincies, gemeenten en waterschappen aan duurzame interbestuurlijke arrangementen."
)
PARA_3 = "Een korte derde alinea."


# --------------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------------


def assert_clean(result: ReadResult) -> None:
    """The format rules every reader must keep."""
    assert isinstance(result.text, str) and result.text.strip()
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ufeff\u2028\u2029]", result.text)
    if result.fmt not in ("txt", "md"):  # plain text and Markdown are returned as they are
        assert "\n\n\n" not in result.text, "one blank line between paragraphs"
        assert not any(line != line.rstrip(" ") for line in result.text.split("\n")), "trailing white space"
        # Headings are lines of their own with a blank line before and after.
        lines = result.text.split("\n")
        for i, line in enumerate(lines):
            if re.match(r"#{1,6} ", line):
                assert i == 0 or lines[i - 1] == "", f"no blank line before {line!r}"
                assert i + 1 == len(lines) or lines[i + 1] == "", f"no blank line after {line!r}"


def paragraphs(text: str) -> list[str]:
    return [p.strip("\n") for p in text.split("\n\n") if p.strip()]


def new_pdf() -> tuple["fpdf.FPDF", str]:
    """An FPDF with a Unicode TTF when the system has one (as real reports do), else Helvetica."""
    pdf = fpdf.FPDF()
    pdf.set_auto_page_break(True, margin=15)
    if DEJAVU.exists() and DEJAVU_BOLD.exists():
        pdf.add_font("DejaVu", "", str(DEJAVU))
        pdf.add_font("DejaVu", "B", str(DEJAVU_BOLD))
        return pdf, "DejaVu"
    return pdf, "Helvetica"


def pdf_heading(pdf, family: str, text: str, size: float, level: int | None) -> None:
    pdf.set_font(family, "B", size)
    if level is not None:
        pdf.start_section(text, level)
    pdf.multi_cell(0, size * 0.5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def pdf_paragraph(pdf, family: str, text: str, gap: float = 0) -> None:
    pdf.set_font(family, "", 11)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    if gap:
        pdf.ln(gap)


def report_pdf(path: Path, outline: bool = True) -> Path:
    pdf, family = new_pdf()
    pdf.set_title("Werken aan transformatie")
    pdf.add_page()
    pdf_heading(pdf, family, "Werken aan transformatie", 20, 0 if outline else None)
    pdf_paragraph(pdf, family, PARA_1, gap=3)
    pdf_heading(pdf, family, "1 Inleiding", 15, 1 if outline else None)
    # Paragraphs written back to back, as the brief of fpdf2 usage does: no extra white space.
    pdf_paragraph(pdf, family, PARA_2)
    pdf_paragraph(pdf, family, PARA_3)
    pdf.add_page()
    pdf_heading(pdf, family, "2 Bevindingen", 15, 1 if outline else None)
    pdf_paragraph(pdf, family, "Hier wordt het woord transfor-\nmatie aan het regeleinde afgebroken.")
    pdf.output(str(path))
    return path


# --------------------------------------------------------------------------------------------------
# PDF
# --------------------------------------------------------------------------------------------------


def test_pdf_outline_gives_heading_lines_and_paragraphs(tmp_path):
    result = read_document(report_pdf(tmp_path / "rapport.pdf"))
    assert_clean(result)
    assert result.fmt == "pdf"
    assert result.title == "Werken aan transformatie"
    lines = result.text.split("\n")
    assert "# Werken aan transformatie" in lines
    assert "## 1 Inleiding" in lines
    assert "## 2 Bevindingen" in lines
    paras = paragraphs(result.text)
    # Wrapped lines of one paragraph are joined with spaces, each paragraph is its own block.
    assert PARA_1 in paras
    assert PARA_2 in paras
    assert PARA_3 in paras
    assert "Hier wordt het woord transformatie aan het regeleinde afgebroken." in paras
    # Order is the reading order.
    order = [paras.index(x) for x in ("# Werken aan transformatie", PARA_1, "## 1 Inleiding", PARA_2, PARA_3,
                                      "## 2 Bevindingen")]
    assert order == sorted(order)
    assert not any("outline" in note for note in result.notes)


def test_pdf_without_outline_detects_headings_by_font_size(tmp_path):
    result = read_document(report_pdf(tmp_path / "zonder outline.pdf", outline=False))
    assert_clean(result)
    lines = result.text.split("\n")
    assert "# Werken aan transformatie" in lines
    assert "## 1 Inleiding" in lines
    assert "## 2 Bevindingen" in lines
    assert PARA_2 in paragraphs(result.text)
    assert any("font size" in note for note in result.notes)


def test_pdf_bullets_become_list_items_and_real_hyphens_stay(tmp_path):
    pdf, family = new_pdf()
    pdf.add_page()
    pdf_paragraph(pdf, family, "De selectie volgt drie criteria:", gap=2)
    for item in ("• Er wordt gewerkt aan een transformatieopgave.",
                 "• Ten minste drie paradoxen komen tot uiting.",
                 "• Betrokkenen zijn bereid tot deelname."):
        pdf_paragraph(pdf, family, item)
    pdf.ln(3)
    pdf_paragraph(pdf, family, "De provincie Noord-\nHolland en de beleids-\nen uitvoeringsorganisaties doen mee.")
    path = tmp_path / "lijst.pdf"
    pdf.output(str(path))
    result = read_document(path)
    assert_clean(result)
    assert (
        "- Er wordt gewerkt aan een transformatieopgave.\n"
        "- Ten minste drie paradoxen komen tot uiting.\n"
        "- Betrokkenen zijn bereid tot deelname."
    ) in paragraphs(result.text)
    assert "De provincie Noord-Holland en de beleids- en uitvoeringsorganisaties doen mee." in result.text


def test_pdf_reports_pages_without_text(tmp_path):
    pdf, family = new_pdf()
    pdf.add_page()
    pdf_paragraph(pdf, family, PARA_1)
    pdf.add_page()
    pdf.rect(20, 20, 100, 50)  # a page that is only a picture
    path = tmp_path / "half.pdf"
    pdf.output(str(path))
    result = read_document(path)
    assert PARA_1 in result.text
    assert any("1 page without text" in note for note in result.notes)


def test_pdf_with_owner_password_only_is_read(tmp_path):
    pdf, family = new_pdf()
    pdf.set_encryption(owner_password="eigenaar")  # opens without a password, like many reports
    pdf.add_page()
    pdf_paragraph(pdf, family, PARA_2)
    path = tmp_path / "beveiligd.pdf"
    pdf.output(str(path))
    result = read_document(path)
    assert PARA_2 in paragraphs(result.text)


# --------------------------------------------------------------------------------------------------
# Word
# --------------------------------------------------------------------------------------------------


def make_docx(path: Path) -> Path:
    document = docx.Document()
    document.core_properties.title = "Werken aan transformatie"
    document.add_heading("Werken aan transformatie", level=0)  # style 'Title'
    document.add_heading("1 Inleiding", level=1)
    document.add_paragraph(PARA_1)
    document.add_heading("1.1 Aanpak", level=2)
    document.add_paragraph(PARA_2)
    document.add_paragraph("Eerste punt", style="List Bullet")
    document.add_paragraph("Tweede punt", style="List Bullet")
    document.add_paragraph("Derde punt, genummerd", style="List Number")
    document.add_paragraph("Tabel 1 Paradoxen per casus")
    table = document.add_table(rows=4, cols=2)
    for r, row in enumerate([("Casus", "Paradox"), ("NPLG", "Sturing"), ("Agenda Stad", "Samenwerking"),
                             ("City Deals", "")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    document.add_paragraph(PARA_3)
    document.save(str(path))
    return path


def test_docx_headings_paragraphs_lists_and_table(tmp_path):
    result = read_document(make_docx(tmp_path / "rapport.docx"))
    assert_clean(result)
    assert result.fmt == "docx"
    assert result.title == "Werken aan transformatie"
    paras = paragraphs(result.text)
    assert paras[:3] == ["# Werken aan transformatie", "# 1 Inleiding", PARA_1]
    assert "## 1.1 Aanpak" in paras
    assert "- Eerste punt\n- Tweede punt\n- Derde punt, genummerd" in paras
    caption = paras.index("Tabel 1 Paradoxen per casus")
    # An empty last cell keeps its tab, so every row has the same number of cells.
    assert paras[caption + 1] == "Casus\tParadox\nNPLG\tSturing\nAgenda Stad\tSamenwerking\nCity Deals\t"
    assert paras[-1] == PARA_3


def test_docx_dutch_heading_styles_caption_below_table_and_merged_cells(tmp_path):
    from docx.enum.style import WD_STYLE_TYPE

    document = docx.Document()
    kop = document.styles.add_style("Kop 2", WD_STYLE_TYPE.PARAGRAPH)  # a Dutch Word template
    document.add_paragraph("Samenvatting", style=kop)
    document.add_paragraph(PARA_2)
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "Uitgangspunten"
    table.cell(0, 2).text = "Aanvullend"
    for c, value in enumerate(("a", "b", "c")):
        table.cell(1, c).text = value
    document.add_paragraph("Tabel 2 Onder de tabel", style="Caption")
    path = tmp_path / "kop.docx"
    document.save(str(path))
    result = read_document(path)
    paras = paragraphs(result.text)
    assert paras[0] == "## Samenvatting"
    assert result.title == "Samenvatting"  # no metadata title: the first heading
    assert paras[-2:] == ["Tabel 2 Onder de tabel", "Uitgangspunten\tAanvullend\na\tb\tc"]


def test_docx_text_box_is_read_once_after_its_paragraph(tmp_path):
    from docx.oxml import parse_xml

    document = docx.Document()
    anchor = document.add_paragraph("Zie het kader.")
    box = (
        '<w:p xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        '<w:r><w:t xml:space="preserve">Tekstkader 1 NPLG</w:t></w:r></w:p>'
    )
    # Word stores a text box twice: as DrawingML and as a VML fallback for old readers.
    run = parse_xml(
        '<w:r xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006">'
        '<mc:AlternateContent><mc:Choice Requires="wps"><w:drawing><w:txbxContent>' + box +
        '</w:txbxContent></w:drawing></mc:Choice><mc:Fallback><w:pict><w:txbxContent>' + box +
        "</w:txbxContent></w:pict></mc:Fallback></mc:AlternateContent></w:r>"
    )
    anchor._p.append(run)
    document.add_paragraph(PARA_3)
    path = tmp_path / "kader.docx"
    document.save(str(path))
    result = read_document(path)
    assert paragraphs(result.text) == ["Zie het kader.", "Tekstkader 1 NPLG", PARA_3]


# --------------------------------------------------------------------------------------------------
# HTML, Markdown, text
# --------------------------------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html><head><title>Werken aan transformatie</title>
<style>body { color: red; }</style>
<script>var geheim = "SCRIPTTEKST";</script></head>
<body>
<nav><a href="/">Home</a> NAVTEKST</nav>
<h1>Werken aan <em>transformatie</em></h1>
<!-- COMMENTAARTEKST -->
<p>Dit is de eerste
   alinea met <a href="#">een link</a> &amp; een entiteit.</p>
<h2>Bevindingen</h2>
<p>Regel een<br>regel twee</p>
<ul><li>Eerste punt</li><li>Tweede punt<ul><li>Genest punt</li></ul></li></ul>
<table><caption>Tabel 1 Casussen</caption>
<tbody><tr><td>NPLG</td><td>Landelijk gebied</td></tr></tbody>
<thead><tr><th>Casus</th><th>Omschrijving</th></tr></thead>
</table>
<div>Losse tekst in een div</div>
<script>document.write("OOKSCRIPT")</script>
<footer>VOETTEKST</footer>
</body></html>"""


def test_html_structure_without_scripts_or_tags(tmp_path):
    path = tmp_path / "pagina.html"
    path.write_text(HTML, encoding="utf-8")
    result = read_document(path)
    assert_clean(result)
    assert result.fmt == "html"
    assert result.title == "Werken aan transformatie"
    for hidden in ("SCRIPTTEKST", "OOKSCRIPT", "NAVTEKST", "VOETTEKST", "COMMENTAARTEKST", "color: red"):
        assert hidden not in result.text
    assert "<" not in result.text and ">" not in result.text
    assert paragraphs(result.text) == [
        "# Werken aan transformatie",
        "Dit is de eerste alinea met een link & een entiteit.",
        "## Bevindingen",
        "Regel een\nregel twee",
        "- Eerste punt\n- Tweede punt\n - Genest punt",
        "Tabel 1 Casussen",
        "Casus\tOmschrijving\nNPLG\tLandelijk gebied",
        "Losse tekst in een div",
    ]


def test_htm_suffix_and_declared_charset(tmp_path):
    path = tmp_path / "oud.htm"
    path.write_bytes('<html><head><meta charset="windows-1252"></head><body><p>Één café</p></body></html>'
                     .encode("cp1252"))
    result = read_document(path)
    assert result.fmt == "html"
    assert result.text.strip() == "Één café"


def test_markdown_is_kept_as_is(tmp_path):
    source = "# Werken aan transformatie\n\nEen alinea.\n\n## Sectie\n\n- punt een\n- punt twee\n"
    path = tmp_path / "notitie.md"
    path.write_text(source, encoding="utf-8")
    result = read_document(path)
    assert result.fmt == "md"
    assert result.text == source
    assert result.title == "Werken aan transformatie"


def test_txt_utf8_with_bom_and_crlf(tmp_path):
    path = tmp_path / "tekst.txt"
    path.write_bytes("\ufeffEén regel\r\n\r\nTweede alinea\r\n".encode("utf-8"))
    result = read_document(path)
    assert result.fmt == "txt"
    assert result.text == "Eén regel\n\nTweede alinea\n"
    assert result.title is None
    assert result.notes == []


def test_txt_cp1252_is_decoded_with_a_note(tmp_path):
    path = tmp_path / "windows.txt"
    path.write_bytes("Één café – coördinatie\n".encode("cp1252"))
    result = read_document(path)
    assert result.text == "Één café – coördinatie\n"
    assert "decoded as cp1252" in result.notes


def test_txt_utf16_with_bom(tmp_path):
    path = tmp_path / "kladblok.txt"
    path.write_bytes("Één café\n".encode("utf-16"))
    result = read_document(path)
    assert result.text == "Één café\n"
    assert "decoded as UTF-16" in result.notes


def test_form_feeds_and_stray_controls_are_removed(tmp_path):
    path = tmp_path / "pdftotext.txt"
    path.write_text("Pagina een.\fPagina twee.\x07\n" + "tekst " * 100, encoding="utf-8")
    result = read_document(path)
    assert_clean(result)
    assert result.text.startswith("Pagina een.\n\nPagina twee.\n")
    assert any("control character" in note for note in result.notes)


def test_odd_file_name_is_read(tmp_path):
    path = tmp_path / "rapport (v2) – café 🚀 'x'.txt"
    path.write_text("Inhoud\n", encoding="utf-8")
    assert read_document(path).text == "Inhoud\n"


def test_str_path_is_accepted(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Inhoud\n", encoding="utf-8")
    assert read_document(str(path)).text == "Inhoud\n"  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------------------------------


def expect_error(path: Path, *fragments: str, **kwargs) -> ReadError:
    with pytest.raises(ReadError) as info:
        read_document(path, **kwargs)
    err = info.value
    message = str(err)
    assert path.name in message, message
    assert err.path == path
    for fragment in fragments:
        assert fragment in message, message
    return err


def test_missing_file(tmp_path):
    expect_error(tmp_path / "bestaat niet.pdf", "does not exist")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes here")
def test_named_pipe_is_refused_without_blocking(tmp_path):
    path = tmp_path / "pijp.txt"
    os.mkfifo(path)
    expect_error(path, "not a regular file")


def test_html_without_text(tmp_path):
    path = tmp_path / "leeg.html"
    path.write_text("<html><head><title>T</title><script>x = 1</script></head><body><nav>menu</nav></body></html>",
                    encoding="utf-8")
    expect_error(path, "contains no text")


def test_folder_instead_of_file(tmp_path):
    folder = tmp_path / "map.txt"
    folder.mkdir()
    expect_error(folder, "folder")


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_empty_file(tmp_path, suffix):
    path = tmp_path / f"leeg{suffix}"
    path.write_bytes(b"")
    expect_error(path, "empty")


@pytest.mark.parametrize("content", [b"   \n\t\r\n  ", "\ufeff \u00a0\n".encode("utf-8")])
def test_whitespace_only_file(tmp_path, content):
    path = tmp_path / "wit.txt"
    path.write_bytes(content)
    expect_error(path, "empty")


def test_binary_txt(tmp_path):
    path = tmp_path / "plaatje.txt"
    path.write_bytes(bytes(range(256)) * 20)
    expect_error(path, "binary")


def test_binary_md_without_nul_bytes(tmp_path):
    # Decodes as cp1252, but is full of control characters: not text.
    path = tmp_path / "data.md"
    path.write_bytes(bytes(b for b in range(1, 256) if b not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)) * 10)
    expect_error(path, "binary")


def test_renamed_pdf_as_txt(tmp_path):
    path = tmp_path / "eigenlijk.txt"
    report_pdf(path)
    expect_error(path, "looks like a PDF")


def test_corrupt_pdf(tmp_path):
    path = tmp_path / "kapot.pdf"
    path.write_bytes(random.Random(7).randbytes(4000))
    expect_error(path, "PDF")


def test_truncated_pdf(tmp_path):
    good = report_pdf(tmp_path / "goed.pdf").read_bytes()
    path = tmp_path / "afgebroken.pdf"
    path.write_bytes(good[: len(good) // 3])
    # Either pypdf recovers some text, or the file is refused with a clear message: never a crash.
    try:
        read_document(path)
    except ReadError as err:
        assert path.name in str(err)


def test_encrypted_pdf(tmp_path):
    pdf, family = new_pdf()
    pdf.set_encryption(owner_password="o", user_password="u")
    pdf.add_page()
    pdf_paragraph(pdf, family, PARA_1)
    path = tmp_path / "geheim.pdf"
    pdf.output(str(path))
    expect_error(path, "is encrypted; remove the password and add it again")


def test_pdf_without_text_layer(tmp_path):
    pdf = fpdf.FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 50, style="F")
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    expect_error(path, "has no text layer (scanned?); run OCR first")


def test_docx_that_is_a_zip_of_text(tmp_path):
    path = tmp_path / "nep.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("notitie.txt", "Dit is geen Word-document.")
    expect_error(path, "not a Word document")


def test_docx_that_is_a_renamed_text_file(tmp_path):
    path = tmp_path / "tekst.docx"
    path.write_text("Gewoon tekst.", encoding="utf-8")
    expect_error(path, "not a Word document")


def test_oversize_file(tmp_path):
    path = tmp_path / "groot.txt"
    path.write_text("woord " * 1000, encoding="utf-8")
    err = expect_error(path, "limit", "WIJZER_MAX_FILE_MB", max_bytes=1000)
    assert "more than the 1000 bytes limit" in str(err)


def test_oversize_message_in_megabytes(tmp_path):
    path = tmp_path / "groot.pdf"
    with path.open("wb") as fh:  # sparse: 210 MB on paper, nothing on disk
        fh.truncate(210 * 1024 * 1024)
    expect_error(path, "is 210 MB, more than the 50 MB limit; split it or raise WIJZER_MAX_FILE_MB")
    assert MAX_BYTES == 50 * 1024 * 1024


@pytest.mark.parametrize("name", ["tabel.xlsx", "oud.doc", "zonder_extensie"])
def test_unsupported_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"iets")
    expect_error(path, "unsupported file type")


def test_odd_file_name_in_error(tmp_path):
    path = tmp_path / "rapport (v2) – café 🚀.txt"
    path.write_bytes(b"")
    expect_error(path, "empty")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads everything")
def test_unreadable_file(tmp_path):
    path = tmp_path / "geen toegang.txt"
    path.write_text("x", encoding="utf-8")
    path.chmod(0)
    try:
        expect_error(path, "permission")
    finally:
        path.chmod(0o600)


def test_read_error_survives_pickling(tmp_path):
    err = ReadError(tmp_path / "a.pdf", "is encrypted; remove the password and add it again")
    copy = pickle.loads(pickle.dumps(err))
    assert str(copy) == str(err) and copy.reason == err.reason and copy.path == err.path


@pytest.mark.parametrize("suffix", sorted(SUPPORTED_SUFFIXES))
def test_garbage_never_crashes(tmp_path, suffix):
    rng = random.Random(suffix)
    samples = [rng.randbytes(300), b"%PDF-1.7\n" + rng.randbytes(300), b"PK\x03\x04" + rng.randbytes(300),
               b"<html><body><p>" + rng.randbytes(100) + b"</p>"]
    for n, data in enumerate(samples):
        path = tmp_path / f"rommel{n}{suffix}"
        path.write_bytes(data)
        try:
            result = read_document(path)
        except ReadError as err:
            assert path.name in str(err)
        else:
            assert_clean(result)
