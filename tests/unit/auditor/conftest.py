"""A small fictional corpus for the auditor's unit tests (the shipped sample is tested apart)."""

from __future__ import annotations

from pathlib import Path

import pytest

DOCS = {
    "visa-norvania.md": """---
title: "Norvania student visa guide"
url: https://example.edu/visas/norvania
retrieved_at: 2026-01-15
---

# Student visa rules: Norvania

International students need the Norvanian Residence Permit for Studies.

## Fees and processing

The application fee is EUR 180. Processing normally takes 6 weeks from the date the file is complete.

## Money and work

Holders of the Norvanian Residence Permit for Studies may work up to 20 hours per week during term time.
""",
    "university-of-eastmarch.md": """---
title: "University of Eastmarch: international admissions"
---

# University of Eastmarch

University of Eastmarch is based in Brenholt, Norvania.

## Programs

- **Master:** Data Science and Public Health

University of Eastmarch does not offer a Master in Veterinary Medicine.

## Deadlines and fees

| Level | Application deadline |
|---|---|
| Bachelor | 1 March 2026 |
| Master | 15 March 2026 |

The application fee is EUR 100 and is not refundable. Tuition for international students is EUR 12,400 per year.
""",
    "scholarship-veyra-merit-award.md": """---
title: "Veyra Merit Award: terms and eligibility"
---

# Veyra Merit Award

The Veyra Merit Award is offered by the Veyra Foundation for Learning. It is worth EUR 6,000 per year.

Eligibility is limited to citizens of Marrowind or Brannoch. Applications from other nationalities are not considered.

The closing date is 27 February 2026.
""",
    "health-norvania.md": """---
title: "Health insurance rules for students in Norvania"
---

# Health insurance in Norvania

The Aurora Student Health Cover is the standard approved student policy.

International students join the Norvanian National Health Register only after 12 months of residence.
""",
}


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sources")
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def engine(corpus_dir: Path):
    from advisor_auditor.corpus import load_corpus
    from advisor_auditor.engine import engine_for

    return engine_for(load_corpus(corpus_dir))
