#!/usr/bin/env python3
"""Deterministic generator for the advisor-stack sample data.

facts.yaml says what is true, phrasing.yaml says how it may be worded; this
script turns both into sources/*.md, train.jsonl, test.jsonl, labels.jsonl,
stats.json and README.md.  Running it twice gives byte-identical output.

    python data/sample/generate.py [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import re
from dataclasses import dataclass, replace
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SEEDS = {"train": 20260115, "test": 20260116}
BASE_SIZES = {"train": 160, "test": 44}  # test also gets 6 hygiene conversations
HYGIENE_EXTRA = 6
PLANTED_RATE = 0.30
HEDGE_RATE = 0.20
SYSTEM_PROMPT_RATE = 0.5
WORD_RANGE = (50, 180)
RETRIEVED_AT = "2026-01-15"
URL_ROOT = "https://example.edu"

ERROR_CLASSES = ("number", "date", "entity", "fabricated_program", "false_premise")
TOPICS = (
    "admissions",
    "scholarships",
    "visa",
    "health_insurance",
    "costs",
    "deadlines",
    "documents",
    "program_selection",
)
LEVELS = ("Bachelor", "Master", "PhD")
DEGREE = {"Bachelor": "bachelor's degree", "Master": "master's degree", "PhD": "PhD"}
MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
CURRENCY_SYMBOL = {"EUR": "€", "USD": "$", "GBP": "£"}
CURRENCY_WORDS = {"EUR": "euros", "USD": "US dollars", "GBP": "pounds", "CHF": "Swiss francs"}

# Which error class a corrupted fact of each kind belongs to.
CLASS_OF_KIND = {
    "money": "number",
    "score": "number",
    "acat": "number",
    "gpa": "number",
    "hours": "number",
    "weeks": "number",
    "months": "number",
    "date": "date",
    "name": "entity",
}

# Bullets per answer kind: (always included, each included with probability 1/2).
# "@public" and "@eligibility" resolve to a bullet family that matches the facts.
ANSWER_BULLETS = {
    "admissions": (["lext", "app_fee", "deadline"], ["app_docs", "tuition"]),
    "program_selection": (["programs", "deadline", "tuition"], ["not_offered_note", "lext"]),
    "deadlines": (["deadline", "sch_deadline", "visa_weeks"], ["app_fee", "app_docs"]),
    "costs": (["tuition", "app_fee", "visa_fee", "funds"], ["cover"]),
    "visa": (["visa_name", "visa_fee", "visa_weeks", "funds", "work_hours"], ["visa_docs"]),
    "health_insurance": (["insurance", "cover", "@public"], []),
    "scholarships": (
        ["provider", "amount", "@eligibility", "sch_deadline"],
        ["min_gpa", "covers", "tenable"],
    ),
    "documents": (["app_docs", "visa_docs", "funds"], ["insurance", "lext"]),
    "fp_program": (["deadline", "lext", "app_fee"], ["tuition", "app_docs"]),
    "fp_scholarship": (["amount", "sch_deadline", "min_gpa"], ["provider", "covers"]),
    "fp_health": (["insurance", "cover"], ["visa_fee", "funds"]),
}
# The false-premise variant a topic turns into when it carries the planted error.
FALSE_PREMISE_KIND = {
    "admissions": "fp_program",
    "program_selection": "fp_program",
    "deadlines": "fp_program",
    "costs": "fp_program",
    "documents": "fp_program",
    "scholarships": "fp_scholarship",
    "health_insurance": "fp_health",
    "visa": "fp_health",
}
# Wording pools (intros, actions) a false-premise kind borrows from its plain topic.
BASE_KIND = {
    "fp_program": "admissions",
    "fp_scholarship": "scholarships",
    "fp_health": "health_insurance",
}
# Invented names must fit the answer they are slipped into.
FABRICATION_CONTEXT = {
    "admissions": "program",
    "program_selection": "program",
    "scholarships": "scholarship",
    "costs": "scholarship",
    "deadlines": "scholarship",
    "visa": "permit",
    "documents": "permit",
    "health_insurance": "health",
}
PLACEHOLDER = re.compile(r"\{(\w+)\}")


# ---------------------------------------------------------------- fact table


@dataclass(frozen=True)
class Fact:
    """One checkable fact as it is used in an answer slot."""

    kind: str  # money | date | score | acat | gpa | hours | weeks | months | name
    value: object
    doc: str  # file under sources/ that states it
    currency: str = ""
    pool: tuple = ()  # same-type names of other entities (for entity swaps)


class Table:
    """facts.yaml plus the lookups the generator needs."""

    def __init__(self, raw: dict):
        self.origins = raw["origin_countries"]
        self.countries = {c["name"]: c for c in raw["countries"]}
        self.universities = raw["universities"]
        self.scholarships = raw["scholarships"]
        self.pools = {
            "visa": tuple(c["visa"]["name"] for c in raw["countries"]),
            "insurance": tuple(c["health"]["insurance_name"] for c in raw["countries"]),
            "public": tuple(c["health"]["public_scheme"] for c in raw["countries"]),
            "provider": tuple(s["provider"] for s in raw["scholarships"]),
        }
        self.money = {(m["currency"], m["amount"]) for m in self._all_money(raw)}
        self.dates = {d for u in self.universities for d in u["deadlines"].values()}
        self.dates |= {s["deadline"] for s in self.scholarships}

    @staticmethod
    def _all_money(raw):
        for c in raw["countries"]:
            yield from (c["visa"]["fee"], c["visa"]["proof_of_funds"], c["health"]["min_cover"])
        for u in raw["universities"]:
            yield from (u["application_fee"], u["tuition_per_year"])
        for s in raw["scholarships"]:
            yield s["amount"]

    def country_of(self, uni: dict) -> dict:
        return self.countries[uni["country"]]

    def collides(self, fact: Fact, value) -> bool:
        """A corrupted value must not accidentally equal another true fact."""
        if fact.kind == "money":
            return (fact.currency, value) in self.money
        if fact.kind == "date":
            return value in self.dates
        return False


def uni_doc(u):
    return f"{u['slug']}.md"


def visa_doc(c):
    return f"visa-{c['slug']}.md"


def health_doc(c):
    return f"health-{c['slug']}.md"


def scholarship_doc(s):
    return f"scholarship-{s['slug']}.md"


def join_words(items, last="and") -> str:
    items = list(items)
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def program_full(level: str, program: str) -> str:
    return f"{level} in {program}"


# ---------------------------------------------------------------- formatting


def doc_text(fact: Fact) -> str:
    """Canonical rendering used in sources/ (and therefore in correct_text)."""
    v = fact.value
    if fact.kind == "money":
        return f"{fact.currency} {v:,}"
    if fact.kind == "date":
        return f"{v.day} {MONTHS[v.month - 1]} {v.year}"
    if fact.kind in ("score", "gpa"):
        return f"{v:.1f}"
    if fact.kind in ("hours", "weeks", "months"):
        return f"{v} {fact.kind}"
    return str(v)


def spoken_text(fact: Fact, rng: random.Random) -> str:
    """Varied rendering for answers, so facts cannot be matched by template."""
    v = fact.value
    if fact.kind == "money":
        cur, sym, words = (
            fact.currency,
            CURRENCY_SYMBOL.get(fact.currency),
            CURRENCY_WORDS[fact.currency],
        )
        options = [f"{cur} {v:,}", f"{v:,} {words}", f"{v} {words}", f"{v} {cur}"]
        options += [f"{sym}{v:,}"] * 2 if sym else [f"{cur} {v}"]
        return rng.choice(options)
    if fact.kind == "date":
        month = MONTHS[v.month - 1]
        return rng.choice(
            [
                f"{v.day} {month} {v.year}",
                f"{month} {v.day}, {v.year}",
                f"{v.day} {month[:3]} {v.year}",
                v.isoformat(),
                f"{WEEKDAYS[v.weekday()]}, {v.day} {month} {v.year}",
            ]
        )
    if fact.kind == "gpa":
        return rng.choice([f"{v:.1f}", f"{v:.2f}"])
    if fact.kind == "acat":
        return rng.choice([str(v), f"{v:,}"])
    return doc_text(fact)


def fill(template: str, words: dict, slots: dict, rng, override=None, sink=None) -> str:
    """Fill {placeholders}; slots are rendered with a random format.

    override = (slot name, wrong Fact): that slot is rendered from the wrong
    fact and its text is appended to sink, which becomes the label's wrong_text.
    """

    def render(match):
        key = match.group(1)
        if override and key == override[0]:
            text = spoken_text(override[1], rng)
            sink.append(text)
            return text
        if key in slots:
            return spoken_text(slots[key], rng)
        return words[key]

    return PLACEHOLDER.sub(render, template)


# ---------------------------------------------------------------- scenarios


@dataclass(frozen=True)
class Scenario:
    """The student and entities one conversation is about."""

    uni: dict
    level: str
    program: str
    nationality: str
    scholarship: dict
    not_offered: dict


def draw_scenario(table: Table, rng) -> Scenario:
    uni = rng.choice(table.universities)
    level = rng.choice(LEVELS)
    country = uni["country"]
    nationality = rng.choice(table.origins + [c for c in table.countries if c != country])
    # Awards tenable everywhere would otherwise dominate, so prefer country-specific ones.
    specific = [
        s
        for s in table.scholarships
        if country in s["tenable_in"] and len(s["tenable_in"]) < len(table.countries)
    ]
    scholarship = rng.choice(specific if specific and rng.random() < 0.7 else table.scholarships)
    return Scenario(
        uni,
        level,
        rng.choice(uni["programs"][level]),
        nationality,
        scholarship,
        rng.choice(uni["not_offered"]),
    )


def slots_for(table: Table, scen: Scenario) -> dict:
    u, s = scen.uni, scen.scholarship
    c = table.country_of(u)
    v, h = c["visa"], c["health"]
    ud, vd, hd, sd = uni_doc(u), visa_doc(c), health_doc(c), scholarship_doc(s)

    def money(m, doc):
        return Fact("money", m["amount"], doc, m["currency"])

    slots = {
        "deadline": Fact("date", u["deadlines"][scen.level], ud),
        "app_fee": money(u["application_fee"], ud),
        "tuition": money(u["tuition_per_year"], ud),
        "lext": Fact("score", u["min_lext"], ud),
        "acat": Fact("acat", u["min_acat"], ud),
        "visa_name": Fact("name", v["name"], vd, pool=table.pools["visa"]),
        "visa_fee": money(v["fee"], vd),
        "visa_weeks": Fact("weeks", v["processing_weeks"], vd),
        "funds": money(v["proof_of_funds"], vd),
        "work_hours": Fact("hours", v["work_hours_per_week"], vd),
        "insurance": Fact("name", h["insurance_name"], hd, pool=table.pools["insurance"]),
        "cover": money(h["min_cover"], hd),
        "public_scheme": Fact("name", h["public_scheme"], hd, pool=table.pools["public"]),
        "provider": Fact("name", s["provider"], sd, pool=table.pools["provider"]),
        "amount": money(s["amount"], sd),
        "sch_deadline": Fact("date", s["deadline"], sd),
        "min_gpa": Fact("gpa", s["min_gpa"], sd),
    }
    if h["eligible_after_months"]:
        slots["public_months"] = Fact("months", h["eligible_after_months"], hd)
    return slots


def words_for(table: Table, scen: Scenario) -> dict:
    """Non-checkable wording (names, lists) shared by questions and answers."""
    u, s = scen.uni, scen.scholarship
    c = table.country_of(u)
    return {
        "uni": u["name"],
        "city": u["city"],
        "country": c["name"],
        "level": scen.level,
        "degree": DEGREE[scen.level],
        "program": scen.program,
        "program_full": program_full(scen.level, scen.program),
        "programs": join_words(u["programs"][scen.level]),
        "not_offered": program_full(scen.not_offered["level"], scen.not_offered["program"]),
        "app_docs": join_words(u["application_documents"]),
        "visa_docs": join_words(c["visa"]["documents"]),
        "scholarship": s["name"],
        "nationality": scen.nationality,
        "nationalities": join_words(s["eligible_nationalities"], "or"),
        "levels": join_words(s["degree_levels"], "or"),
        "covers": join_words(s["covers"]),
        "tenable": join_words(s["tenable_in"]),
        "period": period_text(s),
    }


def health_status(table: Table, scen: Scenario) -> str:
    months = table.country_of(scen.uni)["health"]["eligible_after_months"]
    return "public_now" if months == 0 else "public_never" if months is None else "public_after"


def eligibility_status(scen: Scenario) -> str:
    s = scen.scholarship
    if scen.nationality not in s["eligible_nationalities"]:
        return "eligible_no_nat"
    return "eligible_yes" if scen.level in s["degree_levels"] else "eligible_no_level"


# ---------------------------------------------------------------- answers


@dataclass
class Planted:
    error_class: str
    wrong_text: str
    correct_text: str | None
    source_doc: str | None


class Composer:
    """Builds questions and advising answers, optionally with one planted error."""

    def __init__(self, table: Table, phrasing: dict):
        self.table, self.ph = table, phrasing

    def ask(self, kind: str, scen: Scenario, rng, first: bool) -> str:
        words, slots = words_for(self.table, scen), slots_for(self.table, scen)
        template = rng.choice(self.ph["questions"][kind]["first" if first else "followup"])
        question = fill(template, words, slots, rng)
        if first and rng.random() < 0.4:
            question = fill(rng.choice(self.ph["personas"]), words, slots, rng) + " " + question
        return question

    def bullet_keys(self, kind: str, scen: Scenario, rng) -> list:
        always, optional = ANSWER_BULLETS[kind]
        keys = list(always) + [k for k in optional if rng.random() < 0.5]
        if kind in ("admissions", "fp_program") and scen.level == "Bachelor":
            keys.append("acat")
        resolve = {
            "@public": health_status(self.table, scen),
            "@eligibility": eligibility_status(scen),
        }
        return [resolve.get(k, k) for k in keys]

    def corrupt(self, fact: Fact, rng) -> Fact:
        """A confidently wrong but plausible value of the same type."""
        for _ in range(100):
            value = propose_wrong_value(fact, rng)
            if value != fact.value and not self.table.collides(fact, value):
                return replace(fact, value=value)
        raise RuntimeError(f"cannot corrupt {fact}")

    def answer(self, kind: str, scen: Scenario, rng, error: str | None):
        """Return (markdown answer, Planted or None), or None if this draw is unusable."""
        words, slots = words_for(self.table, scen), slots_for(self.table, scen)
        base = BASE_KIND.get(kind, kind)
        templates = [rng.choice(self.ph["bullets"][k]) for k in self.bullet_keys(kind, scen, rng)]
        rng.shuffle(templates)
        override, sink, planted = None, [], None
        if error in ("number", "date", "entity"):
            used = sorted(
                {
                    k
                    for t in templates
                    for k in PLACEHOLDER.findall(t)
                    if k in slots and CLASS_OF_KIND[slots[k].kind] == error
                }
            )
            if not used:
                return None
            key = rng.choice(used)
            override = (key, self.corrupt(slots[key], rng))
            planted = Planted(error, "", doc_text(slots[key]), slots[key].doc)
        bullets = [fill(t, words, slots, rng, override, sink) for t in templates]
        if error == "fabricated_program":
            context = FABRICATION_CONTEXT[base]
            fake = rng.choice(self.ph["fake_names"][context])
            if context == "program":
                fake = program_full(scen.level, fake)
            line = fill(
                rng.choice(self.ph["fabricated"][context]), {**words, "fake": fake}, {}, rng
            )
            bullets.insert(rng.randrange(len(bullets) + 1), line)
            planted = Planted(error, fake, None, None)
        intro = None
        if kind.startswith("fp_"):
            intro = fill(rng.choice(self.ph["fp_accept"][kind]), words, slots, rng)
            planted = Planted("false_premise", intro, None, self.refuting_doc(kind, scen))
        elif rng.random() < 0.6:
            intro = fill(rng.choice(self.ph["intros"][base]), words, slots, rng)
        hedge = rng.choice(self.ph["hedges"]) if not error and rng.random() < HEDGE_RATE else None
        actions = [
            fill(a, words, slots, rng)
            for a in rng.sample(self.ph["actions"][base], rng.choice((2, 3)))
        ]
        heading = fill(rng.choice(self.ph["headings"][kind]), words, slots, rng)
        text = layout(heading, intro, bullets, hedge, actions, rng)
        if planted and planted.wrong_text == "":
            planted.wrong_text = sink[0]
        if override and len(sink) != 1 or not answer_is_valid(text, planted):
            return None
        return text, planted

    def refuting_doc(self, kind: str, scen: Scenario) -> str:
        if kind == "fp_program":
            return uni_doc(scen.uni)
        if kind == "fp_scholarship":
            return scholarship_doc(scen.scholarship)
        return health_doc(self.table.country_of(scen.uni))


def propose_wrong_value(fact: Fact, rng):
    v = fact.value
    if fact.kind == "money":
        step = 10 if v < 1000 else 100
        return max(step, round(v * rng.choice((0.6, 0.7, 0.8, 1.2, 1.3, 1.5)) / step) * step)
    if fact.kind == "date":
        return v + dt.timedelta(days=rng.choice((-21, -14, -10, -7, 7, 10, 14, 21, 30)))
    if fact.kind == "score":
        return min(8.5, max(4.5, v + rng.choice((-1.0, -0.5, 0.5, 1.0))))
    if fact.kind == "acat":
        return v + rng.choice((-120, -80, -50, 50, 80, 120))
    if fact.kind == "gpa":
        return min(4.0, round(v + rng.choice((-0.5, -0.3, -0.2, 0.2, 0.3)), 1))
    if fact.kind == "hours":
        return rng.choice((10, 12, 15, 16, 18, 20, 24, 25, 28, 30, 35, 40))
    if fact.kind == "weeks":
        return max(1, v + rng.choice((-3, -2, 2, 3, 4, 6)))
    if fact.kind == "months":
        return rng.choice((1, 3, 6, 9, 12, 18, 24))
    return rng.choice([p for p in fact.pool if p != v])


def layout(heading, intro, bullets, hedge, actions, rng) -> str:
    """Markdown shape: heading or bold lead, bullets, optional hedge, action steps."""
    if rng.random() < 0.6:
        lines = [f"## {heading}", ""] + ([intro, ""] if intro else [])
    else:
        lines = [f"**{heading}.** {intro}" if intro else f"**{heading}**", ""]
    marker = rng.choice(("-", "*"))
    lines += [f"{marker} {b}" for b in bullets]
    if hedge:
        lines += ["", hedge]
    numbered = rng.random() < 0.5
    lines += ["", "**Action steps:**"]
    lines += [f"{i}. {a}" if numbered else f"- {a}" for i, a in enumerate(actions, 1)]
    return "\n".join(lines)


def answer_is_valid(text: str, planted: Planted | None) -> bool:
    """Keep answers short, and planted wrong text unambiguous (exactly once)."""
    if not WORD_RANGE[0] <= len(text.split()) <= WORD_RANGE[1]:
        return False
    return planted is None or text.count(planted.wrong_text) == 1


# ---------------------------------------------------------------- conversations


@dataclass
class Conversation:
    messages: list
    topic: str
    scen: Scenario
    kinds: list
    planted: Planted | None = None
    turn: int | None = None
    id: str = ""

    @property
    def first_user(self) -> str:
        return next(m["content"] for m in self.messages if m["role"] == "user")


def false_premise_scenario(table: Table, kind: str, scen: Scenario, rng) -> Scenario | None:
    """Adjust the scenario so the false premise really is false, or None if impossible."""
    if kind == "fp_health":
        return None if table.country_of(scen.uni)["health"]["eligible_after_months"] == 0 else scen
    if kind == "fp_scholarship":
        closed = [
            s for s in table.scholarships if scen.nationality not in s["eligible_nationalities"]
        ]
        return replace(scen, scholarship=rng.choice(closed)) if closed else None
    return scen


def exchange_scenario(kind: str, scen: Scenario) -> Scenario:
    """fp_program asks about a program the university does not run."""
    if kind == "fp_program":
        return replace(scen, level=scen.not_offered["level"], program=scen.not_offered["program"])
    return scen


def build_conversation(
    composer: Composer,
    rng,
    topic: str,
    error: str | None,
    scen: Scenario | None = None,
    first_text: str | None = None,
):
    table = composer.table
    scen = scen or draw_scenario(table, rng)
    count = rng.choices((1, 2, 3), weights=(45, 35, 20))[0]
    kinds = [topic] + rng.sample([t for t in TOPICS if t != topic], count - 1)
    error_at = rng.randrange(count) if error else None
    if error == "false_premise":
        kinds[error_at] = FALSE_PREMISE_KIND[kinds[error_at]]
        scen = false_premise_scenario(table, kinds[error_at], scen, rng)
        if scen is None:
            return None
    messages = []
    if rng.random() < SYSTEM_PROMPT_RATE:
        messages.append({"role": "system", "content": rng.choice(composer.ph["system_prompts"])})
    conv = Conversation(messages, topic, scen, kinds)
    for i, kind in enumerate(kinds):
        local = exchange_scenario(kind, scen)
        question = (
            first_text if i == 0 and first_text else composer.ask(kind, local, rng, first=i == 0)
        )
        result = composer.answer(kind, local, rng, error if i == error_at else None)
        if result is None:
            return None
        answer, planted = result
        messages += [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer},
        ]
        if planted:
            conv.planted, conv.turn = planted, len(messages) - 1
    return conv


def tokens(text: str) -> list:
    return re.findall(r"\w+|[^\w\s]", text.lower())


def within_one_edit(a: list, b: list) -> bool:
    """Token-level edit distance <= 1: the project's notion of a near-duplicate."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=False)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    i = next((i for i, (x, y) in enumerate(zip(short, long_, strict=False)) if x != y), len(short))
    return short[i:] == long_[i + 1 :]


def balanced(values, n: int, rng) -> list:
    items = [values[i % len(values)] for i in range(n)]
    rng.shuffle(items)
    return items


def generate_split(composer: Composer, split: str, rng, others: list) -> list:
    """Base conversations of one split; first user turns never collide by accident."""
    n = BASE_SIZES[split]
    total = n + (HYGIENE_EXTRA if split == "test" else 0)
    n_planted = round(total * PLANTED_RATE)
    classes = iter(balanced(ERROR_CLASSES, n_planted, rng))
    planted_at = set(rng.sample(range(n), n_planted))
    topics = balanced(TOPICS, n, rng)
    seen = [tokens(c.first_user) for c in others]
    convs = []
    for i in range(n):
        error = next(classes) if i in planted_at else None
        for _ in range(1000):
            conv = build_conversation(composer, rng, topics[i], error)
            if conv and first_turn_is_fresh(tokens(conv.first_user), seen, strict=split == "test"):
                break
        else:
            raise RuntimeError(f"could not build {split} conversation {i}")
        seen.append(tokens(conv.first_user))
        convs.append(conv)
    return convs


def first_turn_is_fresh(toks: list, seen: list, strict: bool) -> bool:
    """Train only avoids exact repeats; test avoids near-duplicates as well."""
    if strict:
        return not any(within_one_edit(toks, s) for s in seen)
    return toks not in seen


# ---------------------------------------------------------------- hygiene cases

WORD_SWAPS = (
    ("What", "Which"),
    ("need", "require"),
    ("Can", "Could"),
    ("Could", "Can"),
    ("get", "obtain"),
    ("want", "plan"),
    ("Hi", "Hello"),
    ("cost", "charge"),
)


def change_punctuation(text: str) -> str:
    return text[:-1] + "." if text.endswith("?") else text + "?"


def change_one_word(text: str) -> str | None:
    for old, new in WORD_SWAPS:
        if re.search(rf"\b{old}\b", text):
            return re.sub(rf"\b{old}\b", new, text, count=1)
    return None


def clone_with_first_turn(composer, rng, original: Conversation, text: str) -> Conversation:
    """A clean conversation about the same scenario, opening with the given question."""
    for _ in range(1000):
        conv = build_conversation(composer, rng, original.topic, None, original.scen, text)
        if conv:
            return conv
    raise RuntimeError("could not clone conversation")


def add_hygiene_cases(composer, rng, test: list, train: list) -> dict:
    """Exact duplicates, near duplicates and train overlaps the evaluator must catch."""

    def plain(conv):  # a cloned answer must not inherit a false premise
        return not conv.kinds[0].startswith("fp_")

    candidates = [c for c in test if plain(c)]
    exact_src = rng.sample(candidates, 2)
    rest = [c for c in candidates if c not in exact_src]
    word_src = next(c for c in rng.sample(rest, len(rest)) if change_one_word(c.first_user))
    punct_src = rng.choice([c for c in rest if c is not word_src])
    train_firsts = [tokens(c.first_user) for c in train]
    isolated = [
        c
        for c, toks in zip(
            train, train_firsts, strict=False
        )  # leaks must match exactly one train turn
        if plain(c) and sum(within_one_edit(toks, other) for other in train_firsts) == 1
    ]
    leak_src = rng.sample(isolated, 2)
    plan = [("exact", c, c.first_user) for c in exact_src]
    plan += [
        ("near", punct_src, change_punctuation(punct_src.first_user)),
        ("near", word_src, change_one_word(word_src.first_user)),
    ]
    plan += [("train", c, c.first_user) for c in leak_src]
    cases = []
    for relation, original, text in plan:
        clone = clone_with_first_turn(composer, rng, original, text)
        test.append(clone)
        cases.append((relation, original, clone))
    return cases


# ---------------------------------------------------------------- source documents


def front_matter(title: str, url: str) -> str:
    return f'---\ntitle: "{title}"\nurl: {url}\nretrieved_at: {RETRIEVED_AT}\n---\n\n'


def md_table(header: list, rows: list) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def money_doc(m) -> str:
    return doc_text(Fact("money", m["amount"], "", m["currency"]))


def date_doc(d) -> str:
    return doc_text(Fact("date", d, ""))


def public_statement_key(months) -> str:
    return "public_now" if months == 0 else "public_never" if months is None else "public_after"


class SourceWriter:
    """Renders one markdown document per entity plus overview tables."""

    def __init__(self, table: Table, phrasing: dict):
        self.table, self.t = table, phrasing["docs"]

    def para(self, section: str, key: str, values: dict, rng) -> str:
        return fill(rng.choice(self.t[section][key]), values, {}, rng)

    def university(self, u: dict) -> str:
        rng = random.Random(f"doc:{u['slug']}")
        c = self.table.country_of(u)
        values = {
            "uni": u["name"],
            "city": u["city"],
            "country": c["name"],
            "lext": f"{u['min_lext']:.1f}",
            "acat": str(u["min_acat"]),
            "app_fee": money_doc(u["application_fee"]),
            "tuition": money_doc(u["tuition_per_year"]),
            "app_docs": join_words(u["application_documents"]),
            "visa_name": c["visa"]["name"],
            "not_offered": " or a ".join(
                program_full(n["level"], n["program"]) for n in u["not_offered"]
            ),
        }
        programs = "\n".join(f"- **{lvl}:** {join_words(u['programs'][lvl])}" for lvl in LEVELS)
        deadlines = md_table(
            ["Level", "Application deadline"],
            [(lvl, date_doc(u["deadlines"][lvl])) for lvl in LEVELS],
        )
        p = lambda key: self.para("university", key, values, rng)  # noqa: E731
        body = [
            f"# {u['name']}: admissions for international students",
            p("intro"),
            "## Programs",
            p("programs"),
            programs,
            p("not_offered"),
            "## Entry requirements",
            p("requirements"),
            p("documents"),
            "## Deadlines and fees",
            deadlines,
            p("fees"),
            "## After admission",
            p("after"),
        ]
        return (
            front_matter(
                f"{u['name']}: international admissions", f"{URL_ROOT}/universities/{u['slug']}"
            )
            + "\n\n".join(body)
            + "\n"
        )

    def visa(self, c: dict) -> str:
        rng = random.Random(f"doc:visa-{c['slug']}")
        v = c["visa"]
        values = {
            "country": c["name"],
            "visa_name": v["name"],
            "visa_fee": money_doc(v["fee"]),
            "visa_weeks": f"{v['processing_weeks']} weeks",
            "funds": money_doc(v["proof_of_funds"]),
            "work_hours": f"{v['work_hours_per_week']} hours",
            "visa_docs": join_words(v["documents"]),
        }
        summary = md_table(
            ["Item", "Rule"],
            [
                ("Permit", v["name"]),
                ("Application fee", values["visa_fee"]),
                ("Processing time", values["visa_weeks"]),
                ("Proof of funds", f"{values['funds']} per year"),
                ("Work limit in term time", f"{values['work_hours']} per week"),
            ],
        )
        p = lambda key: self.para("visa", key, values, rng)  # noqa: E731
        body = [
            f"# Student visa rules: {c['name']}",
            p("intro"),
            "## Fees and processing",
            p("fee"),
            "## Money and work",
            p("funds"),
            p("work"),
            "## Documents",
            p("documents"),
            "## Summary",
            summary,
        ]
        return (
            front_matter(
                f"{c['name']} student visa guide", f"{URL_ROOT}/visas/{c['slug']}-student-visa"
            )
            + "\n\n".join(body)
            + "\n"
        )

    def health(self, c: dict) -> str:
        rng = random.Random(f"doc:health-{c['slug']}")
        h = c["health"]
        months = h["eligible_after_months"]
        values = {
            "country": c["name"],
            "insurance": h["insurance_name"],
            "cover": money_doc(h["min_cover"]),
            "public_scheme": h["public_scheme"],
            "public_months": f"{months} months",
            "visa_name": c["visa"]["name"],
        }
        p = lambda key: self.para("health", key, values, rng)  # noqa: E731
        body = [
            f"# Health insurance for international students in {c['name']}",
            p("intro"),
            "## Public health system",
            p(public_statement_key(months)),
            "## Insurance and your visa",
            p("visa_link"),
        ]
        return (
            front_matter(
                f"Health insurance rules for students in {c['name']}",
                f"{URL_ROOT}/health/{c['slug']}-students",
            )
            + "\n\n".join(body)
            + "\n"
        )

    def scholarship(self, s: dict) -> str:
        rng = random.Random(f"doc:scholarship-{s['slug']}")
        values = {
            "scholarship": s["name"],
            "provider": s["provider"],
            "amount": money_doc(s["amount"]),
            "period": period_text(s),
            "nationalities": join_words(s["eligible_nationalities"], "or"),
            "levels": join_words(s["degree_levels"], "or"),
            "tenable": join_words(s["tenable_in"]),
            "min_gpa": f"{s['min_gpa']:.1f}",
            "sch_deadline": date_doc(s["deadline"]),
            "covers": join_words(s["covers"]),
        }
        p = lambda key: self.para("scholarship", key, values, rng)  # noqa: E731
        body = [
            f"# {s['name']}",
            p("intro"),
            "## Who can apply",
            p("eligibility"),
            p("levels"),
            "## How to apply",
            p("gpa"),
            "## What the award covers",
            p("covers"),
        ]
        return (
            front_matter(
                f"{s['name']}: terms and eligibility", f"{URL_ROOT}/scholarships/{s['slug']}"
            )
            + "\n\n".join(body)
            + "\n"
        )

    def overviews(self) -> dict:
        """Cross-entity tables, each followed by the same facts in prose for retrieval."""
        t = self.table
        countries = list(t.countries.values())
        docs = {}
        docs["overview-destinations.md"] = self.overview(
            "Study destinations compared",
            "destinations",
            "This overview compares the student visa rules of the six destinations covered by the advisory "
            "service. Each country has its own guide with the full details.",
            [
                "Country",
                "Student visa",
                "Fee",
                "Processing",
                "Proof of funds per year",
                "Work limit per week",
            ],
            [
                (
                    c["name"],
                    c["visa"]["name"],
                    money_doc(c["visa"]["fee"]),
                    f"{c['visa']['processing_weeks']} weeks",
                    money_doc(c["visa"]["proof_of_funds"]),
                    f"{c['visa']['work_hours_per_week']} hours",
                )
                for c in countries
            ],
            [
                f"In {c['name']}, the {c['visa']['name']} costs {money_doc(c['visa']['fee'])}, takes about "
                f"{c['visa']['processing_weeks']} weeks and requires {money_doc(c['visa']['proof_of_funds'])} per "
                f"year of study; holders may work {c['visa']['work_hours_per_week']} hours per week in term time."
                for c in countries
            ],
        )
        docs["overview-health-cover.md"] = self.overview(
            "Student health cover by country",
            "health-cover",
            "Every destination requires health insurance. Access to the public system differs: in some "
            "countries international students join immediately, in others after a waiting period, and in "
            "some never.",
            [
                "Country",
                "Approved student policy",
                "Minimum cover",
                "Public scheme",
                "Open to international students",
            ],
            [
                (
                    c["name"],
                    c["health"]["insurance_name"],
                    money_doc(c["health"]["min_cover"]),
                    c["health"]["public_scheme"],
                    public_access_text(c["health"]["eligible_after_months"]),
                )
                for c in countries
            ],
            [
                f"In {c['name']}, the {c['health']['insurance_name']} is the standard student policy with a minimum "
                f"cover of {money_doc(c['health']['min_cover'])}; "
                f"{public_access_clause(c['health']['public_scheme'], c['health']['eligible_after_months'])}."
                for c in countries
            ],
        )
        docs["overview-admission-tests.md"] = self.overview(
            "LEXT and ACAT requirements",
            "admission-tests",
            "The LEXT is the English-language test accepted by all institutions in this guide; scores run "
            "from 0 to 9 in half bands. The ACAT is an academic aptitude test scored from 400 to 1600 and is "
            "only required for Bachelor entry.",
            [
                "Institution",
                "Country",
                "Minimum LEXT",
                "Minimum ACAT (Bachelor)",
                "Application fee",
                "Tuition per year",
            ],
            [
                (
                    u["name"],
                    u["country"],
                    f"{u['min_lext']:.1f}",
                    u["min_acat"],
                    money_doc(u["application_fee"]),
                    money_doc(u["tuition_per_year"]),
                )
                for u in t.universities
            ],
            [
                f"{u['name']} asks for a LEXT score of {u['min_lext']:.1f} and, for Bachelor entry, an ACAT score "
                f"of {u['min_acat']}."
                for u in t.universities
            ],
        )
        docs["overview-application-calendar.md"] = self.overview(
            "Application calendar 2026",
            "application-calendar",
            "Closing dates for the 2026 intake. Applications must be complete by the end of the day shown.",
            ["Institution", *LEVELS],
            [
                (u["name"], *(date_doc(u["deadlines"][lvl]) for lvl in LEVELS))
                for u in t.universities
            ],
            [
                f"At {u['name']}, Bachelor applications close on {date_doc(u['deadlines']['Bachelor'])}, Master "
                f"applications on {date_doc(u['deadlines']['Master'])} and PhD applications on "
                f"{date_doc(u['deadlines']['PhD'])}."
                for u in t.universities
            ],
        )
        docs["overview-scholarships.md"] = self.overview(
            "Scholarships for international students",
            "scholarships",
            "The awards below are open to international students; each has its own page with eligibility rules.",
            ["Scholarship", "Provider", "Value", "Degree levels", "Closing date"],
            [
                (
                    s["name"],
                    s["provider"],
                    f"{money_doc(s['amount'])} ({s['period']})",
                    join_words(s["degree_levels"]),
                    date_doc(s["deadline"]),
                )
                for s in t.scholarships
            ],
            [
                f"The {s['name']}, offered by the {s['provider']}, is worth {money_doc(s['amount'])} {period_text(s)} "
                f"and closes on {date_doc(s['deadline'])}."
                for s in t.scholarships
            ],
        )
        return docs

    @staticmethod
    def overview(
        title: str, slug: str, intro: str, header: list, rows: list, sentences: list
    ) -> str:
        body = [
            f"# {title}",
            intro,
            md_table(header, rows),
            "## In detail",
            " ".join(sentences),
            "Figures apply to the 2026 intake. The individual guides linked from this service give the "
            "complete rules and take precedence over this summary.",
        ]
        return front_matter(title, f"{URL_ROOT}/guides/{slug}") + "\n\n".join(body) + "\n"

    def all_documents(self) -> dict:
        docs = {uni_doc(u): self.university(u) for u in self.table.universities}
        for c in self.table.countries.values():
            docs[visa_doc(c)] = self.visa(c)
            docs[health_doc(c)] = self.health(c)
        docs.update({scholarship_doc(s): self.scholarship(s) for s in self.table.scholarships})
        docs.update(self.overviews())
        return dict(sorted(docs.items()))


def public_access_clause(scheme: str, months) -> str:
    if months is None:
        return f"the {scheme} is not open to international students"
    return f"the {scheme} is open to international students {public_access_text(months)}"


def period_text(scholarship: dict) -> str:
    return "per year" if scholarship["period"] == "per year" else "as a one-time payment"


def public_access_text(months) -> str:
    if months == 0:
        return "from arrival"
    return "never" if months is None else f"after {months} months"


# ---------------------------------------------------------------- outputs


def label_of(conv: Conversation, split: str) -> dict:
    p = conv.planted
    return {
        "id": conv.id,
        "split": split,
        "planted": p is not None,
        "error_class": p.error_class if p else None,
        "turn": conv.turn,
        "wrong_text": p.wrong_text if p else None,
        "correct_text": p.correct_text if p else None,
        "source_doc": p.source_doc if p else None,
    }


def record_of(conv: Conversation) -> dict:
    return {"id": conv.id, "messages": conv.messages, "topic": conv.topic}


def jsonl(rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)


def split_stats(convs: list, hedges: list) -> dict:
    answers = [
        (c, i, m["content"])
        for c in convs
        for i, m in enumerate(c.messages)
        if m["role"] == "assistant"
    ]
    clean = [text for c, i, text in answers if i != c.turn]
    hedged = sum(any(h in text for h in hedges) for text in clean)
    planted = [c for c in convs if c.planted]
    lengths = [len(text.split()) for _, _, text in answers]
    return {
        "conversations": len(convs),
        "planted": len(planted),
        "planted_rate": round(len(planted) / len(convs), 3),
        "topics": count_by(c.topic for c in convs),
        "error_classes": count_by(c.planted.error_class for c in planted),
        "exchanges": count_by(str(len(c.kinds)) for c in convs),
        "assistant_answers": len(answers),
        "clean_answers": len(clean),
        "hedged_clean_answers": hedged,
        "hedge_rate": round(hedged / len(clean), 3),
        "answer_words": {
            "min": min(lengths),
            "max": max(lengths),
            "mean": round(sum(lengths) / len(lengths), 1),
        },
    }


def count_by(values) -> dict:
    counts = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return dict(sorted(counts.items()))


def generate(out: Path) -> dict:
    table = Table(yaml.safe_load((HERE / "facts.yaml").read_text(encoding="utf-8")))
    phrasing = yaml.safe_load((HERE / "phrasing.yaml").read_text(encoding="utf-8"))
    composer = Composer(table, phrasing)
    sources = SourceWriter(table, phrasing).all_documents()
    corpus = "\n".join(sources.values())

    train = generate_split(composer, "train", random.Random(SEEDS["train"]), [])
    test_rng = random.Random(SEEDS["test"])
    test = generate_split(composer, "test", test_rng, train)
    cases = add_hygiene_cases(composer, test_rng, test, train)
    test_rng.shuffle(test)  # hygiene clones should not sit at the end of the file
    for split, convs in (("train", train), ("test", test)):
        for n, conv in enumerate(convs, 1):
            conv.id = f"{split}-{n:04d}"
    hygiene = {"exact_duplicate_pairs": [], "near_duplicate_pairs": [], "train_overlap_pairs": []}
    key = {
        "exact": "exact_duplicate_pairs",
        "near": "near_duplicate_pairs",
        "train": "train_overlap_pairs",
    }
    for relation, original, clone in cases:
        hygiene[key[relation]].append(
            [clone.id, original.id] if relation == "train" else [original.id, clone.id]
        )
    check_consistency(train, test, corpus, hygiene)

    stats = {
        "sources": len(sources),
        "splits": {
            "train": split_stats(train, phrasing["hedges"]),
            "test": split_stats(test, phrasing["hedges"]),
        },
        "hygiene": hygiene,
    }
    write_outputs(out, sources, train, test, stats, phrasing["hedges"])
    return stats


def check_consistency(train: list, test: list, corpus: str, hygiene: dict) -> None:
    """Fail loudly rather than ship data whose labels could be wrong."""
    for conv in train + test:
        p = conv.planted
        if p and p.error_class == "fabricated_program":
            assert p.wrong_text not in corpus, f"fabricated name leaks into sources: {p.wrong_text}"
    firsts = {c.id: tokens(c.first_user) for c in test}
    pairs = {
        (a, b) for a in firsts for b in firsts if a < b and within_one_edit(firsts[a], firsts[b])
    }
    expected = {
        tuple(sorted(p))
        for k in ("exact_duplicate_pairs", "near_duplicate_pairs")
        for p in hygiene[k]
    }
    assert pairs == expected, f"unexpected duplicate pairs in test: {pairs ^ expected}"
    train_firsts = {c.id: tokens(c.first_user) for c in train}
    overlaps = {
        (a, b) for a in firsts for b in train_firsts if within_one_edit(firsts[a], train_firsts[b])
    }
    expected = {tuple(p) for p in hygiene["train_overlap_pairs"]}
    assert overlaps == expected, f"unexpected test/train overlaps: {overlaps ^ expected}"


def write_outputs(
    out: Path, sources: dict, train: list, test: list, stats: dict, hedges: list
) -> None:
    src_dir = out / "sources"
    src_dir.mkdir(parents=True, exist_ok=True)
    for stale in src_dir.glob("*.md"):  # documents renamed in facts.yaml must disappear
        stale.unlink()
    for name, text in sources.items():
        write(src_dir / name, text)
    write(out / "train.jsonl", jsonl(record_of(c) for c in train))
    write(out / "test.jsonl", jsonl(record_of(c) for c in test))
    labels = [label_of(c, "train") for c in train] + [label_of(c, "test") for c in test]
    write(out / "labels.jsonl", jsonl(labels))
    write(out / "stats.json", json.dumps(stats, indent=2, ensure_ascii=False) + "\n")
    write(out / "README.md", readme(stats, hedges))


def write(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


README = """# Sample data (fictional)

Everything in this folder is **our own writing about fictional countries, universities and
scholarships** (Norvania, Caldera Republic, University of Eastmarch, Veyra Merit Award, ...).
None of it describes a real institution. This file is generated by `generate.py`; do not edit it by hand.

## Files

| File | What it is |
|---|---|
| `facts.yaml` | The fact table: {countries} countries (student visa and health rules), {universities} universities, {scholarships} scholarships. Single source of truth. |
| `phrasing.yaml` | Wording variants (questions, bullets, hedges, document paragraphs). Contains no facts. |
| `generate.py` | Deterministic generator (seeded `random.Random`, no timestamps). |
| `sources/*.md` | {sources} policy documents with YAML front matter (`title`, `url`, `retrieved_at`): one per university, per country (visa, health), per scholarship, plus overview tables. |
| `train.jsonl` | {train_n} advising conversations; about 30% carry one planted error. |
| `test.jsonl` | {test_n} conversations; their answers act as synthetic references (same error rate) and include hygiene cases. |
| `labels.jsonl` | Ground truth for both splits, one line per conversation. Only tests and reports read it. |
| `stats.json` | Counts per split, topic and error class; planted and hedge rates; hygiene ids. |

Conversation format: `{{"id", "messages": [{{"role": "system"?}}, {{"role": "user"}}, {{"role": "assistant"}}, ...], "topic"}}`
with 1-3 user/assistant exchanges. Topics: {topics}.

## Planted error classes

Exactly one assistant turn of a planted conversation is wrong, stated confidently (never in a hedged answer):

- `number`: a wrong amount, fee, score threshold, GPA, work-hour limit, processing time or waiting period.
- `date`: a wrong deadline.
- `entity`: a fact attributed to the wrong named entity (visa name, insurance policy, public scheme or scholarship provider swapped with another one from the table).
- `fabricated_program`: the answer describes a program, scholarship, permit or health scheme that exists nowhere in the table or in `sources/`.
- `false_premise`: the user's question presumes something the corpus denies (a program the university does not offer, scholarship eligibility for an excluded nationality, public health cover from day one) and the answer accepts it.

Label schema (`labels.jsonl`):

```json
{{"id": "train-0001", "split": "train", "planted": true, "error_class": "number", "turn": 2,
 "wrong_text": "exact substring of messages[turn].content", "correct_text": "as written in the source doc, or null",
 "source_doc": "file name under sources/ that states the correct fact, or null"}}
```

`turn` indexes `messages` (a system message counts). Clean conversations have `planted: false` and nulls.
For `false_premise`, `wrong_text` is the sentence that accepts the premise, `correct_text` is null and
`source_doc` names the document that refutes it; for `fabricated_program`, `wrong_text` is the invented
name and both other fields are null.

Hedges are fixed sentences (about 20% of clean answers), so a detector can find them by wording:

{hedges}

## Counts

| Split | Conversations | Planted | Planted rate | Hedge rate (clean answers) |
|---|---|---|---|---|
{count_rows}

Error classes: {class_rows}

Topics: {topic_rows}

## Test-set hygiene cases

First user turns that an evaluator should flag (near-duplicate = one token changed):

- Exact duplicate pairs inside test: {exact}
- Near-duplicate pairs inside test: {near}
- Test first turns copied verbatim from train (test id, train id): {overlap}

No other pair of first user turns in test, or between test and train, is within one token edit.

## Regenerate

```bash
python data/sample/generate.py            # rewrites this folder byte-identically
python data/sample/generate.py --out DIR  # writes the same files elsewhere
python -m pytest -q tests/unit/test_sample_data.py
```
"""


def readme(stats: dict, hedges: list) -> str:
    raw = yaml.safe_load((HERE / "facts.yaml").read_text(encoding="utf-8"))
    splits = stats["splits"]
    rows = "\n".join(
        f"| {name} | {s['conversations']} | {s['planted']} | {s['planted_rate']} | {s['hedge_rate']} |"
        for name, s in splits.items()
    )
    pairs = lambda key: ", ".join(f"`{a}` / `{b}`" for a, b in stats["hygiene"][key])  # noqa: E731
    per_split = lambda field: "; ".join(  # noqa: E731
        f"{name}: " + ", ".join(f"{k} {v}" for k, v in s[field].items())
        for name, s in splits.items()
    )
    return README.format(
        countries=len(raw["countries"]),
        universities=len(raw["universities"]),
        scholarships=len(raw["scholarships"]),
        sources=stats["sources"],
        train_n=splits["train"]["conversations"],
        test_n=splits["test"]["conversations"],
        topics=", ".join(f"`{t}`" for t in TOPICS),
        hedges="\n".join(f'- "{h}"' for h in hedges),
        count_rows=rows,
        class_rows=per_split("error_classes"),
        topic_rows=per_split("topics"),
        exact=pairs("exact_duplicate_pairs"),
        near=pairs("near_duplicate_pairs"),
        overlap=pairs("train_overlap_pairs"),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=HERE, help="output folder (default: this folder)"
    )
    args = parser.parse_args()
    stats = generate(args.out)
    print(f"sources: {stats['sources']} documents")
    for name, s in stats["splits"].items():
        print(
            f"{name}: {s['conversations']} conversations, {s['planted']} planted "
            f"({s['planted_rate']:.1%}), classes {s['error_classes']}, hedge rate {s['hedge_rate']:.1%}"
        )
    print(f"hygiene: {json.dumps(stats['hygiene'])}")


if __name__ == "__main__":
    main()
