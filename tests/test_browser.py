"""The Streamlit app in a real browser: headless Debian Chromium driven by Playwright's sync API.

One app server (``wijzer app``) per module, on a free port, over the session's real report index and a
feedback database in tmp; one browser per module and a fresh page (a fresh Streamlit session) per test.
Every step leaves a screenshot in ``test-artifacts/browser/<test>-<step>.png`` (git-ignored).

With ``WIJZER_DOCS_SCREENSHOTS=1`` the answer and audit tests also refresh the README's
``docs/answer-view.png`` and ``docs/audit-view.png``; without it the tracked images are left alone.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``); ``playwright install`` cannot download a
browser here. Run: ``.venv/bin/python -m pytest tests/test_browser.py -q``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api")
expect = playwright_api.expect

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts" / "browser"
DOCS = REPO / "docs"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
FIRST_WAIT_MS = 90_000  # the first page load and answer load the index and both embedders
WAIT_MS = 60_000
SEND_WAIT_MS = 20_000  # a sent question starts a run at once; none after this means it was not sent

PROVINCE_QUESTION = ("Ik werk bij een provincie en elk ministerie heeft zijn eigen doelen en potjes. "
                     "Hoe krijg ik ze aan één tafel?")

if not Path(CHROMIUM).exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


# --------------------------------------------------------------------------- fixtures


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop ``wijzer app`` and the Streamlit process it started: both are in the group we created."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    try:  # Streamlit may outlive the wrapper by a moment
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture(scope="module")
def app_server(report_index, tmp_path_factory):
    """The real app over the report index; yields its base URL and feedback database."""
    root = tmp_path_factory.mktemp("browser-app")
    feedback_db = root / "feedback.sqlite3"
    port = _free_port()
    wijzer = Path(sys.executable).parent / "wijzer"
    env = {
        **os.environ,
        "WIJZER_CORPUS_DIR": str(report_index.corpus_dir),
        "WIJZER_INDEX_DIR": str(report_index.index_dir),
        "WIJZER_FEEDBACK_DB": str(feedback_db),
        # The assertions read the composed answer's structure ("Bevinding …", headings, markers).
        "WIJZER_GENERATOR": "none",
    }
    log = (root / "app.log").open("wb")
    # cwd in tmp: a developer's .env in the repo must not change what the tests see.
    proc = subprocess.Popen([str(wijzer), "app", "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=root,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"wijzer app exited with {proc.returncode}:\n{(root / 'app.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"wijzer app not healthy after 60 s:\n{(root / 'app.log').read_text()}")
            time.sleep(0.3)
        yield {"url": base, "feedback_db": feedback_db, "log": root / "app.log"}
    finally:
        _stop(proc)
        log.close()


@pytest.fixture(scope="module")
def chromium_browser():
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def app_page(chromium_browser, app_server, request):
    """A fresh page (and Streamlit session) on the app's chat, ready for a question."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = chromium_browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="nl-NL")
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    pg.goto(app_server["url"] + "/")
    pg.get_by_test_id("stChatInputTextArea").wait_for(timeout=FIRST_WAIT_MS)
    _idle(pg, FIRST_WAIT_MS)
    try:
        yield pg
    finally:
        context.close()


# --------------------------------------------------------------------------- helpers


def _idle(page, timeout: int = WAIT_MS) -> None:
    page.wait_for_function(
        "() => { const a = document.querySelector('[data-testid=stApp]');"
        " return a && a.dataset.testScriptState === 'notRunning'"
        " && a.dataset.testConnectionState === 'CONNECTED'; }",
        timeout=timeout,
    )


def _assistant_messages(page):
    return page.locator('[data-testid="stChatMessage"]:has([data-testid="stChatMessageAvatarAssistant"])')


def ask(page, question: str, timeout: int = FIRST_WAIT_MS):
    """Type a question, press Enter and wait until the run it starts has finished; returns its message.

    A MutationObserver notes the script going to ``running``; done = that happened and it is idle again.
    (Counting messages is not enough: a warning for an empty question vanishes on the next run.)
    """
    page.evaluate(
        "() => { window.__wijzerRan = false;"
        " const app = document.querySelector('[data-testid=stApp]');"
        " const obs = new MutationObserver(() => {"
        "   if (app.dataset.testScriptState === 'running') { window.__wijzerRan = true; obs.disconnect(); } });"
        " obs.observe(app, {attributes: true}); }"
    )
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")
    try:
        page.wait_for_function("() => window.__wijzerRan === true", timeout=SEND_WAIT_MS)
    except playwright_api.TimeoutError:
        # Right after a sidebar change the chat input can be re-rendered between typing and Enter, and
        # the question is never sent (seen once in CI: no run started at all). Send it again.
        box.fill(question)
        box.press("Enter")
        page.wait_for_function("() => window.__wijzerRan === true", timeout=timeout)
    _idle(page, timeout)
    messages = _assistant_messages(page)
    expect(messages.last).to_be_visible()
    return messages.nth(messages.count() - 1)  # fixed index: ``.last`` would move on to a later answer


# The chat scrolls in ``section.stMain`` (test id ``stAppScrollToBottomContainer`` in Streamlit 1.67);
# take the tallest scrolled box so a renamed test id does not silently shrink the screenshot.
_SCROLL_HEIGHT_JS = """() => {
  let h = document.documentElement.scrollHeight;
  for (const el of document.querySelectorAll('.stMain, [data-testid=stAppScrollToBottomContainer], [data-testid=stMain]')) {
    h = Math.max(h, el.scrollHeight);
  }
  return h;
}"""


def shot(page, request, step: str, full: bool = True, also: Path | None = None) -> Path:
    """Screenshot ``test-artifacts/browser/<test>-<step>.png``; full page = the whole scrolled chat.

    Streamlit scrolls inside its main section, not the document, so a full page means a viewport as
    tall as that section's content.
    """
    path = ARTIFACTS / f"{request.node.name}-{step}.png"
    size = page.viewport_size
    if also is not None:  # README images: no focus ring on the chat box
        page.evaluate("() => document.activeElement && document.activeElement.blur()")
    if full:  # grow until nothing scrolls any more (an expander may still be opening)
        for _ in range(6):
            height = min(int(page.evaluate(_SCROLL_HEIGHT_JS)), 12_000)
            if height <= page.viewport_size["height"]:
                break
            page.set_viewport_size({"width": size["width"], "height": height})
            page.wait_for_timeout(300)
    try:
        page.screenshot(path=str(path), animations="disabled")
        if also is not None:
            also.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, also)
    finally:
        if page.viewport_size != size:
            page.set_viewport_size(size)
    return path


def _docs_target(name: str) -> Path | None:
    return DOCS / name if os.environ.get("WIJZER_DOCS_SCREENSHOTS") == "1" else None


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _answer_text(message) -> str:
    """The answer's own Markdown (not the sources, buttons or avatar)."""
    return message.get_by_test_id("stMarkdownContainer").first.inner_text()


def _assert_advice(text: str) -> None:
    assert re.search(r"^Bevinding \d", text, re.M), text[:600]
    assert "[1]" in text, text[:600]


# --------------------------------------------------------------------------- tests


def test_answer_with_sources(app_page, request):
    shot(app_page, request, "1-start", full=False)
    msg = ask(app_page, PROVINCE_QUESTION)
    _assert_advice(_answer_text(msg))
    expect(msg.get_by_text("Bronnen", exact=True)).to_be_visible()
    expect(msg.get_by_role("button", name="[1]", exact=True)).to_be_visible()
    expect(msg.get_by_test_id("stExpander").first).to_contain_text("[1]")
    # Each [n] in the text is a link to the sources of its answer, on the same page (no reload).
    link = msg.get_by_test_id("stMarkdownContainer").first.get_by_role("link", name="[1]").first
    assert (link.get_attribute("href") or "").endswith("#bronnen-0")
    expect(app_page.locator("[id='bronnen-0']")).to_have_count(1)
    link.click()
    expect(app_page.locator("[id='bronnen-0']")).to_be_in_viewport()
    expect(msg.get_by_role("button", name="[1]", exact=True)).to_be_visible()  # same session, nothing lost
    shot(app_page, request, "2-answer")
    # For the README: the first source opened beside the answer.
    msg.get_by_test_id("stExpander").first.locator("summary").click()
    expect(msg.get_by_test_id("stExpander").first.get_by_text("Geciteerd (regel").first).to_be_visible()
    shot(app_page, request, "3-source-open", also=_docs_target("answer-view.png"))


def test_source_dialog(app_page, request):
    msg = ask(app_page, PROVINCE_QUESTION)
    # A sentence the answer cites as [1]: it is quoted from that passage, so the dialog must show it.
    lines = [_norm(line) for line in _answer_text(msg).splitlines()]
    cited = next(line for line in lines if line.endswith("[1]"))
    snippet = cited.removesuffix("[1]").strip()[:80]
    msg.get_by_role("button", name="[1]", exact=True).click()
    dialog = app_page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Bron in context")
    expect(dialog).to_contain_text("Geciteerde passage")
    _idle(app_page)
    assert snippet in _norm(dialog.inner_text()), snippet
    # The words the answer quotes are highlighted in the passage (Streamlit's background directive), and
    # each highlight is text the answer quotes under [1].
    marked = dialog.locator("span.stMarkdownColoredBackground")
    expect(marked.first).to_be_visible()
    expect(dialog).to_contain_text("Gemarkeerd: de geciteerde woorden.")
    quoted = " ".join(line.removesuffix("[1]").strip() for line in lines if line.endswith("[1]"))
    for words in (_norm(m.replace("\u2060", "")) for m in marked.all_inner_texts()):
        assert len(words) > 20 and words in quoted, (words, quoted)
    shot(app_page, request, "1-dialog", full=False)
    app_page.keyboard.press("Escape")
    expect(app_page.get_by_role("dialog")).to_have_count(0)
    shot(app_page, request, "2-closed", full=False)


def test_feedback_is_stored(app_page, request, app_server):
    msg = ask(app_page, PROVINCE_QUESTION)
    send = msg.get_by_role("button", name="Verstuur")
    expect(send).to_be_disabled()
    msg.get_by_role("radio", name="Thumbs up").click()
    expect(send).to_be_enabled()
    _idle(app_page)
    comment = f"Bruikbaar voor het overleg met de provincie ({time.time():.0f})"
    msg.get_by_placeholder("Opmerking bij dit antwoord (optioneel)").fill(comment)
    shot(app_page, request, "1-filled")
    send.click()
    expect(app_page.get_by_text("Bedankt voor je feedback.")).to_be_visible()
    _idle(app_page)
    shot(app_page, request, "2-thanks")

    with sqlite3.connect(app_server["feedback_db"]) as db:
        db.row_factory = sqlite3.Row
        rows = [dict(r) for r in db.execute("SELECT * FROM feedback WHERE comment = ?", (comment,))]
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["rating"] == 1
    assert row["question"] == PROVINCE_QUESTION
    record = json.loads(row["record"])
    assert record["question"] == PROVINCE_QUESTION
    assert record["citations"] and record["citations"][0]["marker"] == 1, record["citations"][:1]
    assert record["corpus_version"] == row["corpus_version"] != ""
    assert row["answer_id"] == record["id"] and len(record["id"]) == 32 and record["answered_at"]

    # A new conversation's first answer can be rated: feedback belongs to an answer, not to a position.
    app_page.get_by_test_id("stSidebar").get_by_role("button", name="Nieuw gesprek").click()
    _idle(app_page)
    again = ask(app_page, "Wat zijn tussenruimtes?")
    expect(again.get_by_role("button", name="Verstuur")).to_be_visible()
    expect(again.get_by_text("Bedankt voor je feedback.")).to_have_count(0)


def test_audit_mode_shows_support_table(app_page, request):
    app_page.get_by_test_id("stSidebar").get_by_text("Toets op bronnen", exact=True).click()
    _idle(app_page)
    expect(app_page.get_by_test_id("stSidebar").get_by_role("radio", name="Toets op bronnen")).to_be_checked()
    shot(app_page, request, "1-mode", full=False)
    msg = ask(app_page, "Wat kan de ambtelijke top doen om samenwerking tussen departementen te versterken?")
    expect(msg.get_by_text("Onderbouwing per zin")).to_be_visible()
    table = msg.get_by_test_id("stDataFrame")
    expect(table).to_be_visible()
    assert table.bounding_box()["height"] > 60
    # The grid paints its cells on a canvas; the header names are in the canvas's fallback table. No
    # evidence column: the composed answer's sentences are the passage sentences themselves.
    headers = table.locator("th[role=columnheader]")
    expect(headers).to_have_text(["Zin", "Bron", "Score", "Oordeel"])
    app_page.wait_for_timeout(500)  # the data grid paints on a canvas after it is attached
    shot(app_page, request, "2-support", also=_docs_target("audit-view.png"))


def test_follow_up_question(app_page, request):
    first = ask(app_page, "Hoe kunnen we beter samenwerken met gemeenten en provincies?")
    _assert_advice(_answer_text(first))
    second = ask(app_page, "En wat kan de ambtelijke top daaraan doen?")
    text = _answer_text(second)
    assert re.search(r"^Bevinding \d", text, re.M), text[:600]
    assert "ambtelijke top" in text.lower(), text[:1200]
    # Not only the fixed heading "Wat je van de ambtelijke top kunt vragen": a cited sentence about the top.
    cited = [_norm(line) for line in text.splitlines() if re.search(r"\[\d+\]\s*$", line)]
    assert any(re.search(r"\b(ambtelijke )?top\b", line, re.I) for line in cited), cited
    assert _norm(text) != _norm(_answer_text(first))
    # With two answers the whole conversation can be downloaded.
    expect(app_page.get_by_test_id("stDownloadButton").filter(has_text="Gesprek als Markdown")).to_be_visible()
    word = app_page.get_by_test_id("stDownloadButton").filter(has_text="Gesprek als Word")
    expect(word).to_be_visible()
    with app_page.expect_download() as info:
        word.get_by_role("button").click()
    assert info.value.suggested_filename == "gesprek.docx"
    target = ARTIFACTS / f"{request.node.name}-gesprek.docx"
    info.value.save_as(target)
    import docx

    headings = [p.text for p in docx.Document(str(target)).paragraphs if p.style.name == "Heading 1"]
    assert headings == ["Hoe kunnen we beter samenwerken met gemeenten en provincies?",
                        "En wat kan de ambtelijke top daaraan doen?"], headings
    shot(app_page, request, "1-follow-up")


LONG_STORY = ("Ik werk als beleidsmedewerker bij een ministerie aan de woningbouwopgave. Elke keer als we iets "
              "samen met andere departementen willen doen, loopt het vast op budgetten en eigen doelen. Mijn "
              "collega's bij de andere ministeries willen wel, maar hun leiding niet. We vergaderen veel en er "
              "gebeurt weinig. Hoe kom ik daar doorheen?")


def test_an_example_on_the_start_page_is_asked_with_one_click(app_page, request):
    example = app_page.get_by_role("button", name=re.compile(r"^Evaluator: Welke vier beleidspraktijken"))
    expect(example).to_be_visible()
    example.click()
    _idle(app_page, FIRST_WAIT_MS)
    msg = _assistant_messages(app_page).first
    expect(msg).to_be_visible()
    assert "[1]" in _answer_text(msg)
    expect(app_page.get_by_test_id("stChatMessage").first).to_contain_text("Welke vier beleidspraktijken")
    expect(example).to_have_count(0)  # the start page gives way to the conversation
    shot(app_page, request, "1-asked")


def test_a_long_story_is_answered_exported_and_followed_up(app_page, request):
    # Over 255 characters: Word's title property refused it and the page showed a traceback on every
    # rerun after, so that the follow-ups were lost.
    assert len(LONG_STORY) > 255
    msg = ask(app_page, LONG_STORY)
    _assert_advice(_answer_text(msg))
    expect(app_page.get_by_test_id("stException")).to_have_count(0)
    button = msg.get_by_test_id("stDownloadButton").filter(has_text=re.compile(r"^\s*Word\s*$"))
    with app_page.expect_download() as info:
        button.get_by_role("button").click()
    target = ARTIFACTS / f"{request.node.name}-antwoord.docx"
    info.value.save_as(target)
    import docx

    doc = docx.Document(str(target))
    assert doc.core_properties.title.endswith("…") and len(doc.core_properties.title) <= 255
    assert any(p.text == LONG_STORY for p in doc.paragraphs)  # the heading keeps the whole question
    second = ask(app_page, "En wat kan de ambtelijke top daaraan doen?")
    assert "[1]" in _answer_text(second)
    expect(app_page.get_by_test_id("stException")).to_have_count(0)
    shot(app_page, request, "1-follow-up")


def test_markdown_export(app_page, request):
    msg = ask(app_page, PROVINCE_QUESTION)
    button = msg.get_by_test_id("stDownloadButton").filter(has_text=re.compile(r"^\s*Markdown\s*$"))
    expect(button).to_have_count(1)
    with app_page.expect_download() as info:
        button.get_by_role("button").click()
    download = info.value
    assert download.suggested_filename == "antwoord-1.md"
    target = ARTIFACTS / f"{request.node.name}-antwoord.md"
    download.save_as(target)
    text = target.read_text(encoding="utf-8")
    assert text.startswith(f"### {PROVINCE_QUESTION}")
    assert "Bronnen" in text and "[1]" in text
    assert re.search(r"^\*\*Bevinding \d", text, re.M), text[:400]
    shot(app_page, request, "1-exported", full=False)


def test_corpus_page(app_page, request, app_server):
    app_page.get_by_test_id("stSidebarNav").get_by_role("link", name="Corpus").click()
    expect(app_page).to_have_url(re.compile(r"/corpus$"))
    main = app_page.get_by_test_id("stMain")
    expect(main.get_by_role("heading", name="Corpus")).to_be_visible()
    expect(main.get_by_text("Tekstkaders", exact=True)).to_be_visible()
    expect(main.get_by_text(re.compile(r"^3\. Het NPCE"))).to_be_visible()
    expect(main.get_by_text("Agenda Stad")).to_be_visible()
    expect(main.get_by_text("Bevindingen", exact=True)).to_be_visible()
    expect(main).to_contain_text("Een document toevoegen")
    expect(main).to_contain_text("wijzer ingest")
    _idle(app_page)
    shot(app_page, request, "1-corpus")
    # The app_page has its own URL too.
    app_page.goto(app_server["url"] + "/corpus")
    expect(app_page.get_by_test_id("stMain").get_by_text("Tekstkaders", exact=True)).to_be_visible()


def test_empty_question_warns_and_app_keeps_working(app_page, request):
    _assert_advice(_answer_text(ask(app_page, PROVINCE_QUESTION)))
    ask(app_page, "   ")  # no new message: only a warning, and no empty bubble
    expect(app_page.get_by_test_id("stAlert").filter(has_text="leeg")).to_be_visible()
    expect(app_page.get_by_test_id("stChatMessage")).to_have_count(2)
    expect(app_page.get_by_test_id("stException")).to_have_count(0)
    shot(app_page, request, "1-warning", full=False)
    answer = ask(app_page, "Wat zijn tussenruimtes?")
    assert "[1]" in _answer_text(answer)
    expect(app_page.get_by_test_id("stException")).to_have_count(0)
    shot(app_page, request, "2-answer-after")
