"""Consistency tests for the shipped sample data in data/sample/.

The data is generated from facts.yaml by data/sample/generate.py; these tests
check that the committed files are exactly what the generator writes, that the
planted-error labels are true, and that clean answers agree with the fact table.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.unit

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
GENERATED_FILES = ("README.md", "stats.json", "train.jsonl", "test.jsonl", "labels.jsonl")
ERROR_CLASSES = {"number", "date", "entity", "fabricated_program", "false_premise"}
TOPICS = {
    "admissions",
    "scholarships",
    "visa",
    "health_insurance",
    "costs",
    "deadlines",
    "documents",
    "program_selection",
}

CURRENCY = {
    "EUR": "EUR",
    "USD": "USD",
    "GBP": "GBP",
    "CHF": "CHF",
    "€": "EUR",
    "$": "USD",
    "£": "GBP",
    "euros": "EUR",
    "US dollars": "USD",
    "pounds": "GBP",
    "Swiss francs": "CHF",
}
MONEY = re.compile(
    r"(EUR|USD|GBP|CHF|[€$£]) ?(\d[\d,]*)"
    r"|(\d[\d,]*) (EUR|USD|GBP|CHF|euros|US dollars|pounds|Swiss francs)"
)
MONTH = r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*"
DATE_DMY = re.compile(rf"\b(\d{{1,2}}) {MONTH} (\d{{4}})")
DATE_MDY = re.compile(rf"\b{MONTH} (\d{{1,2}}), (\d{{4}})")
DATE_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
MONTH_NUMBER = {
    m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), 1)
}
HOURS = re.compile(r"(\d+) hours")
LEXT = re.compile(r"LEXT[^.\d]{0,40}?(\d\.\d)")


# ---------------------------------------------------------------- loading


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def facts() -> dict:
    return yaml.safe_load((SAMPLE / "facts.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def hedges() -> list:
    return yaml.safe_load((SAMPLE / "phrasing.yaml").read_text(encoding="utf-8"))["hedges"]


@pytest.fixture(scope="module")
def conversations() -> dict:
    """id -> record, for both splits."""
    return {
        r["id"]: r for split in ("train", "test") for r in read_jsonl(SAMPLE / f"{split}.jsonl")
    }


@pytest.fixture(scope="module")
def labels() -> dict:
    return {r["id"]: r for r in read_jsonl(SAMPLE / "labels.jsonl")}


@pytest.fixture(scope="module")
def sources() -> dict:
    return {
        p.name: p.read_text(encoding="utf-8") for p in sorted((SAMPLE / "sources").glob("*.md"))
    }


@pytest.fixture(scope="module")
def stats() -> dict:
    return json.loads((SAMPLE / "stats.json").read_text(encoding="utf-8"))


def split_of(conv_id: str) -> str:
    return conv_id.split("-")[0]


def first_user(conv: dict) -> str:
    return next(m["content"] for m in conv["messages"] if m["role"] == "user")


def normalise(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- fact checking helpers


def money_in(text: str) -> set:
    found = set()
    for sym, num, num2, word in MONEY.findall(text):
        amount = (num or num2).rstrip(",").replace(",", "")
        found.add((CURRENCY[sym or word], int(amount)))
    return found


def dates_in(text: str) -> set:
    found = {dt.date(int(y), MONTH_NUMBER[m], int(d)) for d, m, y in DATE_DMY.findall(text)}
    found |= {dt.date(int(y), MONTH_NUMBER[m], int(d)) for m, d, y in DATE_MDY.findall(text)}
    found |= {dt.date(int(y), int(m), int(d)) for y, m, d in DATE_ISO.findall(text)}
    return found


def money_key(m: dict) -> tuple:
    return (m["currency"], m["amount"])


def entity_index(facts: dict) -> list:
    """(names that reveal the entity, checkable values) per entity; universities pull in their country."""
    countries = {}
    for c in facts["countries"]:
        v, h = c["visa"], c["health"]
        countries[c["name"]] = {
            "names": {c["name"], v["name"], h["insurance_name"], h["public_scheme"]},
            "money": {
                money_key(v["fee"]),
                money_key(v["proof_of_funds"]),
                money_key(h["min_cover"]),
            },
            "dates": set(),
            "hours": {v["work_hours_per_week"]},
            "lext": set(),
        }
    entities = list(countries.values())
    for u in facts["universities"]:
        country = countries[u["country"]]
        entities.append(
            {
                "names": {u["name"]},
                "money": {money_key(u["application_fee"]), money_key(u["tuition_per_year"])}
                | country["money"],
                "dates": set(u["deadlines"].values()),
                "hours": country["hours"],
                "lext": {u["min_lext"]},
            }
        )
    for s in facts["scholarships"]:
        entities.append(
            {
                "names": {s["name"], s["provider"]},
                "money": {money_key(s["amount"])},
                "dates": {s["deadline"]},
                "hours": set(),
                "lext": set(),
            }
        )
    return entities


def allowed_values(facts: dict, conv: dict, skip_turn) -> dict:
    """Values of every entity the conversation names (outside the planted turn)."""
    text = " ".join(m["content"] for i, m in enumerate(conv["messages"]) if i != skip_turn)
    allowed = {"money": set(), "dates": set(), "hours": set(), "lext": set()}
    for entity in entity_index(facts):
        if any(name in text for name in entity["names"]):
            for key in allowed:
                allowed[key] |= entity[key]
    return allowed


def fact_violations(answer: str, allowed: dict) -> list:
    problems = [f"money {m}" for m in money_in(answer) - allowed["money"]]
    problems += [f"date {d}" for d in dates_in(answer) - allowed["dates"]]
    problems += [f"hours {h}" for h in {int(h) for h in HOURS.findall(answer)} - allowed["hours"]]
    problems += [f"LEXT {s}" for s in {float(s) for s in LEXT.findall(answer)} - allowed["lext"]]
    return problems


def token_distance_at_most_one(a: str, b: str) -> bool:
    ta, tb = (re.findall(r"\w+|[^\w\s]", x.lower()) for x in (a, b))
    if abs(len(ta) - len(tb)) > 1:
        return False
    previous = list(range(len(tb) + 1))
    for i, x in enumerate(ta, 1):
        current = [i]
        for j, y in enumerate(tb, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1] <= 1


# ---------------------------------------------------------------- tests


def test_regeneration_is_byte_identical(tmp_path):
    subprocess.run(
        [sys.executable, str(SAMPLE / "generate.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in GENERATED_FILES:
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    fresh = {p.name: p.read_bytes() for p in (tmp_path / "sources").glob("*.md")}
    committed = {p.name: p.read_bytes() for p in (SAMPLE / "sources").glob("*.md")}
    assert fresh == committed


def test_counts(conversations, sources, stats):
    splits = [split_of(i) for i in conversations]
    assert splits.count("train") >= 150
    assert splits.count("test") >= 40
    assert len(sources) >= 20
    assert stats["sources"] == len(sources)
    assert stats["splits"]["train"]["conversations"] == splits.count("train")
    assert stats["splits"]["test"]["conversations"] == splits.count("test")


def test_fact_table_size(facts):
    assert len(facts["countries"]) >= 6
    assert len(facts["universities"]) >= 8
    assert len(facts["scholarships"]) >= 8


def test_fact_table_is_coherent(facts):
    """False premises and entity swaps rely on these invariants."""
    names = [c["name"] for c in facts["countries"]] + [u["name"] for u in facts["universities"]]
    names += [s["name"] for s in facts["scholarships"]] + [
        s["provider"] for s in facts["scholarships"]
    ]
    assert len(names) == len(set(names))
    for u in facts["universities"]:
        for item in u["not_offered"]:
            assert item["program"] not in u["programs"][item["level"]], u["name"]


def test_false_premises_are_false(facts, labels):
    """Each accepted premise contradicts the fact table (and the refuting document)."""
    universities = {f"{u['slug']}.md": u for u in facts["universities"]}
    scholarships = {f"scholarship-{s['slug']}.md": s for s in facts["scholarships"]}
    countries = {f"health-{c['slug']}.md": c for c in facts["countries"]}
    nationalities = facts["origin_countries"] + [c["name"] for c in facts["countries"]]
    premises = [r for r in labels.values() if r["error_class"] == "false_premise"]
    assert premises
    for label in premises:
        text, doc = label["wrong_text"], label["source_doc"]
        if doc in universities:
            missing = [f"{n['level']} in {n['program']}" for n in universities[doc]["not_offered"]]
            assert any(name in text for name in missing), label["id"]
        elif doc in scholarships:
            award = scholarships[doc]
            claimed = [n for n in nationalities if n in text.replace(award["name"], "")]
            assert claimed and not set(claimed) & set(award["eligible_nationalities"]), label["id"]
        else:
            assert countries[doc]["health"]["eligible_after_months"] != 0, label["id"]


@pytest.mark.parametrize("split", ["train", "test"])
def test_planted_rate(labels, split):
    rows = [r for r in labels.values() if r["split"] == split]
    rate = sum(r["planted"] for r in rows) / len(rows)
    assert 0.27 <= rate <= 0.33


def test_labels_cover_every_conversation(conversations, labels):
    assert set(labels) == set(conversations)
    for conv_id, label in labels.items():
        assert label["split"] == split_of(conv_id)
        if label["planted"]:
            assert label["error_class"] in ERROR_CLASSES
            assert isinstance(label["turn"], int) and label["wrong_text"]
        else:
            assert all(
                label[k] is None
                for k in ("error_class", "turn", "wrong_text", "correct_text", "source_doc")
            )
    classes = [r["error_class"] for r in labels.values() if r["split"] == "train" and r["planted"]]
    assert set(classes) == ERROR_CLASSES
    assert max(map(classes.count, ERROR_CLASSES)) - min(map(classes.count, ERROR_CLASSES)) <= 2


def test_message_structure(conversations):
    for conv in conversations.values():
        assert conv["topic"] in TOPICS
        messages = conv["messages"]
        if messages[0]["role"] == "system":
            messages = messages[1:]
        roles = [m["role"] for m in messages]
        assert 2 <= len(roles) <= 6 and len(roles) % 2 == 0, conv["id"]
        assert roles == ["user", "assistant"] * (len(roles) // 2), conv["id"]
        for m in messages[1::2]:
            assert 50 <= len(m["content"].split()) <= 180, conv["id"]
            assert "**Action steps:**" in m["content"], conv["id"]


def test_wrong_text_occurs_in_planted_turn(conversations, labels):
    for label in labels.values():
        if label["planted"]:
            message = conversations[label["id"]]["messages"][label["turn"]]
            assert message["role"] == "assistant", label["id"]
            assert message["content"].count(label["wrong_text"]) == 1, label["id"]


def test_correct_text_is_stated_in_source_doc(labels, sources):
    for label in labels.values():
        if label["source_doc"] is not None:
            assert label["source_doc"] in sources, label["id"]
        if label["correct_text"] is not None:
            assert label["source_doc"] is not None, label["id"]
            assert normalise(label["correct_text"]) in normalise(sources[label["source_doc"]]), (
                label["id"]
            )
            assert label["correct_text"] != label["wrong_text"], label["id"]


def test_fabricated_names_never_appear_in_sources(labels, sources):
    corpus = "\n".join(sources.values())
    fabricated = [r for r in labels.values() if r["error_class"] == "fabricated_program"]
    assert fabricated
    for label in fabricated:
        assert label["wrong_text"] not in corpus, label["id"]


def test_clean_answers_agree_with_fact_table(facts, conversations, labels):
    checked = 0
    for conv_id, conv in conversations.items():
        turn = labels[conv_id]["turn"]
        allowed = allowed_values(facts, conv, turn)
        for i, m in enumerate(conv["messages"]):
            if m["role"] == "assistant" and i != turn:
                assert fact_violations(m["content"], allowed) == [], (conv_id, i)
                checked += bool(money_in(m["content"]) or dates_in(m["content"]))
    assert checked > 200  # the parsers really found numbers and dates to check


def test_fact_checker_flags_planted_money_and_date_errors(facts, conversations, labels):
    """Guards against a vacuous checker: planted amounts and dates must fail it."""
    flagged = 0
    for label in labels.values():
        wrong = label["wrong_text"] or ""
        if label["error_class"] in ("number", "date") and (money_in(wrong) or dates_in(wrong)):
            conv = conversations[label["id"]]
            answer = conv["messages"][label["turn"]]["content"]
            assert fact_violations(answer, allowed_values(facts, conv, label["turn"])), label["id"]
            flagged += 1
    assert flagged >= 10


def test_hedges_are_findable_and_never_in_planted_turns(conversations, labels, hedges):
    clean_answers, hedged = 0, 0
    for conv_id, conv in conversations.items():
        turn = labels[conv_id]["turn"]
        for i, m in enumerate(conv["messages"]):
            if m["role"] != "assistant":
                continue
            has_hedge = any(h in m["content"] for h in hedges)
            if i == turn:
                assert not has_hedge, conv_id
            else:
                clean_answers += 1
                hedged += has_hedge
    assert 0.12 <= hedged / clean_answers <= 0.30


def test_sources_have_front_matter(sources):
    for name, text in sources.items():
        head = yaml.safe_load(text.split("---\n")[1])
        assert head["title"] and head["url"].startswith("https://example.edu/"), name
        assert str(head["retrieved_at"]) == "2026-01-15", name
        assert len(re.findall(r"\n\n", text)) >= 4, name  # several paragraphs, not a stub


def test_hygiene_cases(conversations, stats):
    hygiene = stats["hygiene"]
    readme = (SAMPLE / "README.md").read_text(encoding="utf-8")
    assert len(hygiene["exact_duplicate_pairs"]) == 2
    assert len(hygiene["near_duplicate_pairs"]) == 2
    assert len(hygiene["train_overlap_pairs"]) == 2
    for a, b in hygiene["exact_duplicate_pairs"] + hygiene["train_overlap_pairs"]:
        assert first_user(conversations[a]) == first_user(conversations[b])
    for a, b in hygiene["near_duplicate_pairs"]:
        text_a, text_b = first_user(conversations[a]), first_user(conversations[b])
        assert text_a != text_b and token_distance_at_most_one(text_a, text_b)
    for pair in sum(hygiene.values(), []):
        assert all(f"`{conv_id}`" in readme for conv_id in pair)
        assert split_of(pair[0]) == "test"


def test_no_unlisted_duplicates_in_test(conversations, stats):
    listed = {tuple(sorted(p)) for p in sum(stats["hygiene"].values(), [])}
    test_ids = sorted(i for i in conversations if split_of(i) == "test")
    firsts = {i: first_user(c) for i, c in conversations.items()}
    for a in test_ids:
        for b in firsts:
            if (
                b != a
                and (split_of(b) == "train" or a < b)
                and token_distance_at_most_one(firsts[a], firsts[b])
            ):
                assert tuple(sorted((a, b))) in listed, (a, b)
