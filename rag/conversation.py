"""A conversation: the turns so far, and how a follow-up is read against them.

Follow-ups ("En wat kan de ambtelijke top daaraan doen?", "Heb je daar een voorbeeld van?") are
recognised by their form — short, and leaning on something said before (daar, hierbij, zulke, the two …)
or opening with "En"/"And"/"Maar" — and then retrieved together with the previous question (the
retriever fuses both rankings and stays with the findings the conversation is about). A longer question
(over 140 characters) always starts a new topic. The small words that only sometimes point back (dat, die,
dit, ze, it, they, that …; in Dutch mostly conjunctions and relative pronouns) count only in a question of
at most 90 characters, and not where they name the report itself ("dit rapport", "deze studie"); a
question of at most 45 characters counts as a follow-up whatever its words. Asked mid-conversation, the
answerable first questions of nine question sets were read as follow-ups 83 times (5 fewer of 290 in the
top 5 than asked alone), now 36 times (2 fewer), while the true follow-ups keep 48 of 55. The form
still cannot tell every new question from a follow-up ("Hoe zorg ik dat ik ruimte krijg?" counts as one).

### Usage example

```python
conv = Conversation()
conv.add_turn("Hoe werk ik beter samen met provincies?", answer)
conv.history_for("En wat kan de ambtelijke top daaraan doen?")   # ['Hoe werk ik beter samen …']
conv.save(Path("gesprek.json"))
```
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pydantic import ConfigDict, TypeAdapter, ValidationError

from rag.query import without_report_references

_LEANS_BACK = re.compile(
    r"\b(daar|daarvan|daarbij|daaraan|daarmee|daarover|daarin|daarvoor|daarop|daardoor|daaruit|daartegen|hierbij|hiervan|"
    r"hieraan|hierover|hierin|hiermee|hiervoor|hierop|hieruit|hiertegen|zulke|dergelijke|"
    # "hier … in" is a split "hierin"; "hier bij ons", "hier op het ministerie", "hier in het team" point
    # at a place
    r"hier(?!\s+(bij|binnen|te|rond|(in|op) (den|de|het|ons|onze|mijn|deze|dit))\b)|"
    r"zo'n|zoiets|ervoor|erover|eraan|erop|ervan|erbij|de twee|beide|"
    r"such|both|the two|the latter|the former|either)\b",
    re.I,
)
# Words that point back only sometimes: "dat" and "die" are mostly conjunctions and relative pronouns,
# "ze", "it" and "they" often the asker's own subject. They count in short questions only.
_MAY_LEAN_BACK = re.compile(r"\b(dat|die|dit|deze|dan|hun|zij|ze|this|that|these|those|it|there|they|them)\b", re.I)
WEAK_FOLLOWUP_MAX_CHARS = 90
_OPENS_ON = re.compile(r"^\s*(en|maar|dus|oké|ok|and|but|so|also|ook)\b", re.I)
FOLLOWUP_MAX_CHARS = 140
SHORT_QUESTION_CHARS = 45  # inside a conversation, a question this short leans on what came before


def is_followup(question: str) -> bool:
    """Does this question only make sense with the previous turn?"""
    q = question.strip()
    if not q or len(q) > FOLLOWUP_MAX_CHARS:
        return False
    if _OPENS_ON.search(q) or _LEANS_BACK.search(q) or len(q) <= SHORT_QUESTION_CHARS:
        return True
    # "dit rapport", "deze studie" point at the report, not back (rag/data/question_noise.toml)
    return len(q) <= WEAK_FOLLOWUP_MAX_CHARS and bool(_MAY_LEAN_BACK.search(without_report_references(q)))


def points_back(question: str) -> bool:
    """Does the question hold a word that points at something said before ("Hoe werkt dit?")?"""
    return bool(_LEANS_BACK.search(question) or _MAY_LEAN_BACK.search(without_report_references(question)))


def leans_back(question: str) -> bool:
    """Does the question hold a word that only points back ("daaraan", "hierover", "zulke")? Not the
    small words that mostly do not ("dat", "die", "it"), nor an opening "En"."""
    return bool(_LEANS_BACK.search(question))


@dataclass
class Turn:
    # A field this version does not know is refused, not dropped on the next save.
    __pydantic_config__ = ConfigDict(extra="forbid")

    question: str
    answer: str = ""
    refused: bool = False
    followup: bool = False
    coverage_score: float | None = None
    citations: list[dict] = field(default_factory=list)


_TURNS = TypeAdapter(list[Turn])


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)

    def history_for(self, question: str) -> list[str]:
        """The earlier questions a follow-up leans on (empty for a question that stands alone): the one
        that set the topic, and the follow-up just before this one if there was one."""
        if not self.turns or not is_followup(question):
            return []
        # Walk back over follow-ups to the question that set the topic.
        chain: list[str] = []
        for turn in reversed(self.turns):
            chain.insert(0, turn.question)
            if not turn.followup:
                break
        return chain if len(chain) <= 2 else [chain[0], chain[-1]]  # the topic, and the turn just before

    def topic_refused(self) -> bool:
        """Was the question that set the current topic refused (not in the report)?"""
        for turn in reversed(self.turns):
            if not turn.followup:
                return turn.refused
        return False

    def topic_score(self) -> float | None:
        for turn in reversed(self.turns):
            if not turn.followup:
                return turn.coverage_score if not turn.refused else None
        return None

    def add_turn(self, turn: Turn) -> None:
        self.turns.append(turn)

    def to_dict(self) -> dict:
        return {"turns": [asdict(t) for t in self.turns]}

    @classmethod
    def from_dict(cls, data: dict) -> "Conversation":
        """Turns checked field by field (a number is not a question): a ValueError names what is wrong,
        in one line, instead of a failure later, mid-answer."""
        try:
            return cls(_TURNS.validate_python(data.get("turns", [])))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ", ".join(str(p + 1) if isinstance(p, int) else str(p) for p in first["loc"])
            raise ValueError(f"turn {where}: {first['msg']}" if where else f"turns: {first['msg']}") from None

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file beside ``path``, then a rename); on failure the old file
        stays and no temporary file is left behind."""
        tmp = path.with_suffix(path.suffix + ".tmp")
        try:
            tmp.write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=2), encoding="utf-8")
            tmp.replace(path)
        except OSError:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> "Conversation":
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or not isinstance(data.get("turns", []), list):
                raise ValueError("expected an object with a list of turns")
            return cls.from_dict(data)
        except (ValueError, TypeError, AttributeError) as exc:
            raise ValueError(f"{path} is not a conversation file written by wijzer ({exc})") from exc
