"""Structure profiles: what is specific to one kind of document, kept as data (``*.toml`` here).

A profile names a document's parts and their headings, the numbered findings, how text boxes,
tables and figures are labelled, the recurring sub-headings (*Wat is nodig?*), and the practices a
passage can be about. The structure stage reads only this object, so a case study with its own
headings goes through the same code with another (or the generic) profile.

### Usage example

```python
from ingest.profiles import load_profile
p = load_profile("werken-aan-transformatie")
p.findings[4]          # 'Zet in op duurzame interbestuurlijke arrangementen'
p.practices_in("De transitieteams van het NPCE …")   # ['NPCE']
```
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROFILE_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class PartRule:
    id: str
    pattern: re.Pattern
    kind: str = "text"
    drop: bool = False
    chapter: bool = False


@dataclass(frozen=True)
class KindRule:
    pattern: re.Pattern
    kind: str
    strategy: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    parts: tuple[PartRule, ...] = ()
    finding_heading: re.Pattern | None = None
    finding_scope_end: re.Pattern | None = None
    findings: dict[int, str] = field(default_factory=dict)
    findings_en: dict[int, str] = field(default_factory=dict)  # English titles, for English answers
    tensions_en: dict[int, str] = field(default_factory=dict)  # each finding's tension, in English
    preamble_part: str = "tekst"  # what comes before the first recognised part
    preamble_kind: str = "text"
    textbox: re.Pattern = re.compile(r"^Tekstkader (?P<n>\d+)\.? ?(?P<title>.*)$")
    textbox_kind: str = "practice_example"
    table: re.Pattern = re.compile(r"^Tabel (?P<n>\d+)\.?$")
    figure: re.Pattern = re.compile(r"^Figuur( \d+)?\.?$")
    figure_source: re.Pattern = re.compile(r"^Bron: .{0,40}$")
    subheadings: tuple[KindRule, ...] = ()
    paragraph_prefixes: tuple[KindRule, ...] = ()
    method_sections: dict[str, str] = field(default_factory=dict)  # heading -> strategy
    practices: dict[str, tuple[re.Pattern, ...]] = field(default_factory=dict)
    # Of the practices, those that are laws or funds: a sentence that names one ("… mandaat via de
    # Klimaatwet en het Klimaatfonds") is still about the practice of its passage.
    instruments: frozenset[str] = frozenset()

    def practices_in(self, text: str) -> list[str]:
        """The practices (and named examples) that ``text`` mentions, in profile order."""
        return [name for name, pats in self.practices.items() if any(p.search(text) for p in pats)]


def _rx(value: str | None) -> re.Pattern | None:
    return re.compile(value) if value else None


@lru_cache(maxsize=None)
def load_profile(name: str) -> Profile:
    """Load ``ingest/profiles/<name>.toml``; raises ``ValueError`` naming the known profiles."""
    path = PROFILE_DIR / f"{name}.toml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROFILE_DIR.glob("*.toml")))
        raise ValueError(f"Unknown structure profile {name!r}; known profiles: {known}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    defaults = Profile(name=name)
    return Profile(
        name=data.get("name", name),
        parts=tuple(
            PartRule(
                id=p["id"],
                pattern=re.compile(p["pattern"]),
                kind=p.get("kind", "text"),
                drop=p.get("drop", False),
                chapter=p.get("chapter", False),
            )
            for p in data.get("parts", [])
        ),
        finding_heading=_rx(data.get("finding_heading")),
        finding_scope_end=_rx(data.get("finding_scope_end")),
        findings={int(k): v for k, v in data.get("findings", {}).items()},
        findings_en={int(k): v for k, v in data.get("findings_en", {}).items()},
        tensions_en={int(k): v for k, v in data.get("tensions_en", {}).items()},
        preamble_part=data.get("preamble_part", defaults.preamble_part),
        preamble_kind=data.get("preamble_kind", defaults.preamble_kind),
        textbox=_rx(data.get("textbox")) or defaults.textbox,
        textbox_kind=data.get("textbox_kind", defaults.textbox_kind),
        table=_rx(data.get("table")) or defaults.table,
        figure=_rx(data.get("figure")) or defaults.figure,
        figure_source=_rx(data.get("figure_source")) or defaults.figure_source,
        subheadings=tuple(
            KindRule(re.compile(s["pattern"]), s["kind"], s.get("strategy"))
            for s in data.get("subheadings", [])
        ),
        paragraph_prefixes=tuple(
            KindRule(re.compile(s["pattern"]), s["kind"], s.get("strategy"))
            for s in data.get("paragraph_prefixes", [])
        ),
        method_sections={m["heading"]: m["strategy"] for m in data.get("method_sections", [])},
        practices={
            name: tuple(re.compile(p) for p in pats) for name, pats in data.get("practices", {}).items()
        },
        instruments=frozenset(data.get("instruments", [])),
    )
