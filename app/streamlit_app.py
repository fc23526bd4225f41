"""Streamlit page: the advisor in a chat, every answer with sources you can open in context.

It only presents: answers come from ``rag.advisor.Advisor``, loaded once per process
(``st.cache_resource``), not per question or per session. Nothing from the corpus or the user is
rendered as HTML (Streamlit's Markdown escapes it; passages are shown as plain text, or as Markdown with
every special character escaped and only the quoted words highlighted).
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from functools import partial

import streamlit as st

from ingest.index import IndexUnavailable
from ingest.models import part_name
from rag.advisor import Advisor, Mode, QuestionError
from rag.conversation import Conversation
from rag.export import (SUPPORT_TITLE, answer_markdown, answers_docx, audit_record, conversation_markdown,
                         highlighted_markdown, quote_spans, support_header, support_rows)
from rag.feedback import FeedbackStore
from rag.retrieve import Filters
from wijzer.settings import Settings

st.set_page_config(page_title="Transformatiewijzer", page_icon=":material/explore:", layout="wide")

MODES = {"Advies": Mode.ADVIES, "Lesmateriaal": Mode.LESMATERIAAL, "Toets op bronnen": Mode.TOETS}
EXAMPLES = {
    "Beleidsmedewerker": "Ik werk bij een provincie en elk ministerie heeft zijn eigen doelen en potjes. Hoe krijg ik ze aan één tafel?",
    "Trainer": "Maak lesmateriaal over bevinding 3: werken mét de samenleving.",
    "Evaluator": "Welke vier beleidspraktijken zijn onderzocht en hoe zijn ze gekozen?",
}


@st.cache_resource(show_spinner="De index en modellen laden …")
def load_advisor() -> Advisor:
    return Advisor(Settings())


def setting_invalid(exc: ValueError) -> None:
    """A setting that cannot be used (e.g. WIJZER_QUERY_ADAPTER naming a folder whose adapters do not fit
    this index): say which and why; the failed load is not cached, so a reload after fixing it retries."""
    st.error(f"Een instelling klopt niet: {exc}. Pas haar aan (of laat haar leeg) en laad deze pagina opnieuw.")


def index_unavailable(exc: IndexUnavailable) -> None:
    """Say why there is no index and what to do; a failed load is not cached, so a reload retries."""
    if not exc.server:
        st.error(f"De index is niet beschikbaar: {exc}")
        return
    st.error(f"De Chroma-server op {exc.server} is niet bereikbaar. Start hem (`chroma run --path <map> "
             "--host … --port …`) of zet WIJZER_CHROMA_HOST leeg voor de lokale index, en laad deze "
             "pagina daarna opnieuw.")
    st.caption(str(exc))


@st.cache_resource
def load_feedback() -> FeedbackStore:
    return FeedbackStore(Settings().feedback_db)


# What a passage is (its kind), as the report would say it.
KIND_NAMES = {"finding": "bevinding", "working_method": "werkwijze", "what_is_needed": "wat is nodig",
              "role_of_top": "rol van de ambtelijke top", "practice_example": "praktijkvoorbeeld", "table": "tabel",
              "method": "verantwoording", "text": "lopende tekst", "front_matter": "colofon", "reference": "literatuur"}


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def show_passage(citation, passage: str, en: bool) -> None:
    """The passage with the words the answer quotes from it highlighted."""
    spans = quote_spans(citation, passage)
    st.markdown(highlighted_markdown(passage, spans))
    if spans:  # a quote not found in the passage is not marked, so say nothing is
        st.caption("Highlighted: the quoted words." if en else "Gemarkeerd: de geciteerde woorden.")


@st.dialog("Bron in context", width="large")
def open_citation(citation) -> None:
    before, passage, after = load_advisor().context(citation)
    st.markdown(f"**[{citation.marker}] {citation.doc_title}**")
    st.caption(citation.location)
    if before.strip():
        st.text(before.strip())
    with st.container(border=True):
        st.caption("Geciteerde passage" + (f" · soort: {KIND_NAMES.get(citation.kind, citation.kind)}" if citation.kind else ""))
        show_passage(citation, passage, en=False)
    if after.strip():
        st.text(after.strip())
    st.caption(citation.where("nl").capitalize() + ".")


def sidebar(advisor: Advisor) -> tuple[Filters, Mode]:
    snap = advisor.retriever.snapshot
    st.sidebar.header("Instellingen")
    mode = MODES[st.sidebar.radio("Modus", list(MODES), help="Advies: antwoord met bronnen. Lesmateriaal: "
                                  "een bevinding of thema uitgewerkt voor een training. Toets op bronnen: per zin de onderbouwing.")]
    st.sidebar.subheader("Filters")
    findings = {n: f"{n}. {title}" for n, title in advisor.lessons.findings().items()}
    chosen = st.sidebar.multiselect("Bevinding", sorted(findings), format_func=findings.get,
                                    placeholder="Alle bevindingen")
    # Most discussed first (the studied cases), then by name: not case-sensitively, where "directie
    # Klimaat" came last.
    mentions = Counter(p for c in snap.chunks for p in c.practices)
    practices = sorted(mentions, key=lambda p: (-mentions[p], p.casefold()))
    chosen_practices = st.sidebar.multiselect("Praktijk", practices, placeholder="Alle praktijken")
    docs = {d: v["info"]["title"] for d, v in snap.documents.items()}
    chosen_docs = st.sidebar.multiselect("Document", list(docs), format_func=docs.get,
                                         placeholder="Alle documenten")
    if st.sidebar.button("Nieuw gesprek", use_container_width=True):
        st.session_state.conversation = Conversation()
        st.session_state.answers = []
    st.sidebar.divider()
    st.sidebar.caption(
        f"Antwoorden: {'samengesteld uit passages' if advisor.answerer_label == 'composed' else advisor.answerer_label} · "
        f"corpusversie {snap.corpus_version[:12]} · {len(snap.chunks)} passages"
    )
    filters = Filters(chapters=chosen or None, practices=chosen_practices or None, doc_ids=chosen_docs or None)
    return filters, mode


_MARKER = re.compile(r"\[(\d+)\]")


def linked_markers(text: str, key: str) -> str:
    """Every ``[n]`` of an answer as a link to the sources under it (Markdown, no HTML).

    Link and image syntax that comes with the text (a quoted Markdown document, a model's output) is
    escaped first: an image would make every reader's browser fetch a URL of someone else's choosing.
    """
    text = text.replace("![", "!\\[").replace("](", "]\\(")
    return _MARKER.sub(lambda m: f"[\\[{m.group(1)}\\]](#bronnen-{key})", text)


def show_sources(answer, key: str) -> None:
    if not answer.citations:
        return
    st.subheader("Bronnen" if answer.lang == "nl" else "Sources", anchor=f"bronnen-{key}")
    row = st.container(horizontal=True)
    en = answer.lang == "en"  # the labels around an English answer are English too
    for c in answer.citations:
        if row.button(f"[{c.marker}]", key=f"cite-{key}-{c.marker}",
                      help=f"{'Open the passage in context' if en else 'Open de passage in context'}: {c.location}"):
            open_citation(c)
    for c in answer.citations:
        with st.expander(f"[{c.marker}] {c.location}"):
            for q in c.quotes:
                if en:
                    st.caption(f"Quoted (line {q.line} of the source file):" if q.line else "Quoted:")
                else:
                    st.caption(f"Geciteerd (regel {q.line} van het bronbestand):" if q.line else "Geciteerd:")
                st.text(q.text)
            if en:
                start = f"from line {c.line} of the source file" if c.line else c.where("en")
                st.caption(f"Whole passage ({start}, kind: {c.kind.replace('_', ' ')}):")
            else:
                start = f"vanaf regel {c.line} van het bronbestand" if c.line else c.where("nl")
                st.caption(f"Hele passage ({start}, soort: {KIND_NAMES.get(c.kind, c.kind)}):")
            show_passage(c, c.passage, en)


def show_support(answer) -> None:
    header = support_header(answer)
    keys = ("zin", "bron", "score", "oordeel", "bewijs")[: len(header)]
    claims = [v for v in answer.support if v.label != "frame"]
    # The marker and score as numbers (sortable); the texts as the export writes them.
    rows = [dict(zip(keys, (row[0], v.best_marker, v.score, *row[3:]))) for v, row in zip(claims, support_rows(answer))]
    if rows:
        st.markdown(f"**{SUPPORT_TITLE.get(answer.lang, SUPPORT_TITLE['nl'])}**")
        columns = {
            "zin": st.column_config.TextColumn(header[0], width="large"),
            "bron": st.column_config.NumberColumn(header[1], format="[%d]"),
            "score": st.column_config.NumberColumn(header[2], format="%.2f"),
            "oordeel": st.column_config.TextColumn(header[3]),
        }
        if "bewijs" in keys:  # only where a sentence is not itself a quote (a model's words)
            columns["bewijs"] = st.column_config.TextColumn(header[4], width="large", help=(
                "The sentence of the cited passage that supports the answer's sentence best." if answer.lang == "en"
                else "De zin uit de geciteerde passage die de zin van het antwoord het best onderbouwt."))
        st.dataframe(rows, use_container_width=True, hide_index=True, column_config=columns)
        weak = [v for v in answer.support if v.label in {"weak", "unsupported"}]
        if weak:
            st.warning(f"{len(weak)} sentence(s) weakly or not supported by the cited passages." if answer.lang == "en"
                       else f"{len(weak)} zin(nen) niet of zwak onderbouwd door de geciteerde passages.")


def feedback(answer) -> None:
    # Keyed by the answer's own id: after "Nieuw gesprek" the first answer is another answer than the
    # first one before it (by list position it was taken as already rated).
    given = st.session_state.setdefault("feedback_given", set())
    if answer.id in given:
        st.caption("Bedankt voor je feedback.")
        return
    cols = st.columns([1, 3, 1])
    with cols[0]:
        thumbs = st.feedback("thumbs", key=f"thumbs-{answer.id}")
    comment = cols[1].text_input("Opmerking (optioneel)", key=f"comment-{answer.id}", label_visibility="collapsed",
                                 placeholder="Opmerking bij dit antwoord (optioneel)")
    if cols[2].button("Verstuur", key=f"send-{answer.id}", disabled=thumbs is None):
        load_feedback().add(answer_id=answer.id, rating=1 if thumbs == 1 else -1, comment=comment,
                            record=audit_record(answer))
        given.add(answer.id)
        st.rerun()


def show_answer(answer, index: int, stream: bool = False) -> None:
    text = linked_markers(answer.text, str(index))
    if stream:
        st.write_stream(line + "\n" for line in text.splitlines())
    else:
        st.markdown(text)
    for note in answer.notes:
        st.info(note)
    show_sources(answer, key=str(index))
    if answer.mode == Mode.TOETS.value:
        show_support(answer)
    feedback(answer)
    # Made when downloaded, not on every rerun (each rerun would build every answer's Word file).
    cols = st.columns(4)
    cols[0].download_button("Markdown", partial(answer_markdown, answer), file_name=f"antwoord-{index + 1}.md",
                            mime="text/markdown", key=f"md-{answer.id}")
    cols[1].download_button("Word", partial(answers_docx, [answer]), file_name=f"antwoord-{index + 1}.docx",
                            mime=DOCX, key=f"docx-{answer.id}")
    cols[2].download_button("Auditrecord (JSON)", partial(audit_json, answer), file_name=f"audit-{index + 1}.json",
                            mime="application/json", key=f"json-{answer.id}")


def audit_json(answer) -> str:
    return json.dumps(audit_record(answer), ensure_ascii=False, indent=2)


def readable_time(stamp: str | None) -> str:
    """``2026-11-28T23:40:12+0000`` → ``28-11-2026 23:40``."""
    try:
        return time.strftime("%d-%m-%Y %H:%M", time.strptime(stamp or "", "%Y-%m-%dT%H:%M:%S%z"))
    except ValueError:
        return stamp or "?"


def corpus_page() -> None:
    st.title("Corpus")
    try:
        advisor = load_advisor()
    except IndexUnavailable as exc:
        index_unavailable(exc)
        return
    except ValueError as exc:
        setting_invalid(exc)
        return
    snap = advisor.retriever.snapshot
    st.caption(f"Corpusversie {snap.corpus_version[:12]} · gebouwd {readable_time(snap.state.get('built_at'))} · "
               f"embedders {', '.join(snap.state.get('embedders', []))} · {len(snap.chunks)} passages")
    for doc_id, doc in snap.documents.items():
        info, structure = doc["info"], doc["structure"]
        st.subheader(info["title"])
        st.caption(f"{info['path']} · {info['kind']} · {sum(1 for c in snap.chunks if c.doc_id == doc_id)} passages")
        if info.get("attribution"):
            st.text(info["attribution"])
        cols = st.columns(3)
        cols[0].markdown("**Bevindingen**")
        for n, t in structure.get("findings", {}).items():
            cols[0].text(f"{n}. {t}")
        cols[1].markdown("**Tekstkaders**")
        for n, t in structure.get("textboxes", {}).items():
            cols[1].text(f"{n}. {t}")
        cols[2].markdown("**Tabellen**")
        for n, t in structure.get("tables", {}).items():
            cols[2].text(f"{n}. {t}")
        st.markdown("**Delen**: " + ", ".join(part_name(p) for p in structure.get("parts", [])))
    st.divider()
    st.markdown(
        "**Een document toevoegen.** Zet een `.txt`, `.md`, `.pdf`, `.docx` of `.html` in de map `corpus/` en voer "
        "`wijzer ingest` uit (of start opnieuw met `make run`). Alleen het nieuwe bestand wordt gelezen; "
        "titel, auteurs en bronvermelding kun je in `corpus/manifest.toml` zetten. Herstart daarna de app."
    )


def main() -> None:
    st.title("Transformatiewijzer")
    st.caption("Advies uit het rapport *Werken aan transformatie* (PBL/VU 2026) — elke zin met haar bron.")
    try:
        advisor = load_advisor()
    except IndexUnavailable as exc:
        index_unavailable(exc)
        st.stop()
    except ValueError as exc:
        setting_invalid(exc)
        st.stop()
    st.session_state.setdefault("conversation", Conversation())
    st.session_state.setdefault("answers", [])
    filters, mode = sidebar(advisor)
    conversation: Conversation = st.session_state.conversation

    # A clicked example is asked as if typed (it is kept across the rerun the click starts).
    question = st.chat_input("Beschrijf je situatie of stel een vraag") or st.session_state.pop("example", None)
    if not st.session_state.answers and not (question and question.strip()):
        st.markdown("Beschrijf je situatie in je eigen woorden, of kies een voorbeeld:")
        for n, (group, example) in enumerate(EXAMPLES.items()):
            if st.button(f"**{group}:** {example}", key=f"example-{n}", type="tertiary"):
                st.session_state.example = example
                st.rerun()
    for i, answer in enumerate(st.session_state.answers):
        with st.chat_message("user"):
            st.text(answer.question)
        with st.chat_message("assistant"):
            # Same element tree as when the answer was first shown (with its draft placeholder), so that
            # Streamlit updates the widgets in place on a rerun instead of showing stale copies beside them.
            st.empty()
            show_answer(answer, i)

    if question is not None and not question.strip():
        st.warning("De vraag is leeg. Beschrijf je situatie of stel een vraag.")
    elif question:
        with st.chat_message("user"):
            st.text(question)
        with st.chat_message("assistant"):
            live = st.empty()
            tokens: list[str] = []

            def on_token(token: str) -> None:  # a generative model's words as they come, as plain text
                tokens.append(token)
                live.text("".join(tokens) + " ▌")

            try:
                with st.spinner("Passages zoeken …"):
                    answer = advisor.ask(question, conversation=conversation, mode=mode, filters=filters,
                                         on_token=on_token if advisor.generative else None)
            except QuestionError as exc:
                st.warning(str(exc))
                return
            finally:
                live.empty()  # the checked answer (markers validated, sentences scored) replaces the draft
            st.session_state.answers.append(answer)
            show_answer(answer, len(st.session_state.answers) - 1, stream=not tokens)
    if len(st.session_state.answers) > 1:
        answers = list(st.session_state.answers)
        row = st.container(horizontal=True)
        row.download_button("Gesprek als Markdown", partial(conversation_markdown, answers), file_name="gesprek.md",
                            mime="text/markdown", key="conversation-md")
        row.download_button("Gesprek als Word", partial(answers_docx, answers, title="Transformatiewijzer — gesprek"),
                            file_name="gesprek.docx", mime=DOCX, key="conversation-docx")


st.navigation([st.Page(main, title="Gesprek", icon=":material/forum:", default=True),
               st.Page(corpus_page, title="Corpus", icon=":material/library_books:", url_path="corpus")]).run()
