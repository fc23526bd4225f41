"""Streamlit page: ask the report, see the passages that answer, where they stand and why.

It only presents: retrieval happens in ``rag``; the index and models load once per process
(``st.cache_resource``), not per question or per session. Nothing from the corpus or the user is
rendered as HTML.
"""

from __future__ import annotations

import streamlit as st

from ingest.index import IndexUnavailable
from rag.retrieve import Filters, HybridRetriever
from wijzer.settings import Settings

MAX_QUESTION_CHARS = 4000

st.set_page_config(page_title="Transformatiewijzer", page_icon="🧭", layout="wide")


@st.cache_resource(show_spinner="De index en modellen laden …")
def load_retriever() -> HybridRetriever:
    return HybridRetriever.from_settings(Settings())


def sidebar(retriever: HybridRetriever) -> Filters:
    snap = retriever.snapshot
    st.sidebar.header("Filters")
    findings = {}
    for doc in snap.documents.values():
        for n, title in doc["structure"].get("findings", {}).items():
            findings[int(n)] = f"{n}. {title}"
    chosen = st.sidebar.multiselect("Bevinding", list(findings), format_func=findings.get)
    practices = sorted({p for c in snap.chunks for p in c.practices})
    chosen_practices = st.sidebar.multiselect("Praktijk", practices)
    docs = {d: v["info"]["title"] for d, v in snap.documents.items()}
    chosen_docs = st.sidebar.multiselect("Document", list(docs), format_func=docs.get)
    st.sidebar.divider()
    st.sidebar.caption(
        f"Corpusversie {snap.corpus_version[:12]} · {len(snap.chunks)} passages · "
        f"embedders {', '.join(snap.state.get('embedders', []))}"
    )
    return Filters(
        chapters=chosen or None, practices=chosen_practices or None, doc_ids=chosen_docs or None
    )


def main() -> None:
    st.title("Transformatiewijzer")
    st.caption("Vraag het rapport *Werken aan transformatie* (PBL/VU 2026): elke passage met haar vindplaats.")
    try:
        retriever = load_retriever()
    except IndexUnavailable as exc:
        st.error(f"De index is niet beschikbaar: {exc}")
        st.stop()
    filters = sidebar(retriever)
    question = st.chat_input("Beschrijf je situatie of stel een vraag")
    if not question:
        st.info(
            "Voorbeelden: *Hoe doorbreek ik silo's tussen ministeries?* · "
            "*Wat kan ik van de ambtelijke top vragen als de lange termijn steeds wordt weggedrukt?* · "
            "*Which examples does the report give of working with citizens?*"
        )
        return
    if len(question) > MAX_QUESTION_CHARS:
        st.warning(f"Je vraag is {len(question)} tekens; houd het onder {MAX_QUESTION_CHARS}.")
        return
    with st.chat_message("user"):
        st.text(question)
    result = retriever.run(question, filters=filters)
    with st.chat_message("assistant"):
        if not result.passages:
            st.write("Geen passages gevonden met deze filters.")
        for p in result.passages:
            c = p.chunk
            with st.expander(f"[{p.rank}] {c.doc_title} › {c.context_label()}", expanded=p.rank <= 3):
                st.text(c.text)
                st.caption(
                    f"soort: {c.kind} · tekens {c.start}–{c.end} · "
                    + " · ".join(f"{k} {v:.3f}" for k, v in p.scores.items())
                )


main()
