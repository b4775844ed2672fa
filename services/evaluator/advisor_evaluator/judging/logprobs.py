"""Read a judge's verdict from the probabilities of its first token.

The judge is asked for one token, "A", "B" or "tie", with `top_logprobs`. Each option's
probability is the summed probability of the alternatives that normalise to it ("A", " A",
"a", "A." …); the verdict is the option with the most mass, and the margin is how far it leads
the runner-up, as a share of the mass on the three options. So the judge always decides when
any option is among its likeliest tokens, even when its top token is "Response" or "**", and
the report can say how confident each verdict was. Only a reply in which no option appears
among the alternatives is unparseable.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from .parsing import Slot

# How many alternatives the judge is asked for: OpenAI's and vLLM's ceiling.
JUDGE_TOP_LOGPROBS = 20
OPTIONS: tuple[Slot, ...] = ("A", "B", "tie")
_NOISE = re.compile(r"[\s\"'`*.,:;!()\[\]{}<>_\-\u2581]+")
_NAMES: dict[str, Slot] = {"a": "A", "b": "B", "tie": "tie"}


def option_of(token: str) -> Slot | None:
    """The option a token stands for, ignoring case, spaces, quotes and punctuation."""
    return _NAMES.get(_NOISE.sub("", token).lower())


@dataclass(frozen=True)
class LogprobVerdict:
    """Probability mass per option (absolute), the chosen option and its normalised margin."""

    masses: dict[Slot, float]
    preference: Slot | None
    margin: float | None  # (leader − runner-up) / mass on the options, 0 … 1
    option_mass: float  # the share of the judge's probability that went to an option at all

    @property
    def first_slot_lean(self) -> float | None:
        """(P(A) − P(B)) / mass on the options: −1 … 1. Averaged over both orders of every
        pair the answers' quality cancels out, so the mean is the judge's pull to slot A."""
        if not self.option_mass:
            return None
        return (self.masses["A"] - self.masses["B"]) / self.option_mass

    def to_dict(self) -> dict[str, object]:
        return {
            "masses": {k: round(v, 6) for k, v in self.masses.items()},
            "preference": self.preference,
            "margin": None if self.margin is None else round(self.margin, 6),
            "option_mass": round(self.option_mass, 6),
        }


def read_logprob_verdict(alternatives: Iterable[tuple[str, float]]) -> LogprobVerdict:
    """The verdict in one position's `(token, logprob)` alternatives."""
    masses = dict.fromkeys(OPTIONS, 0.0)
    seen: set[str] = set()
    for token, logprob in alternatives:
        option = option_of(token)
        if option is None or token in seen:  # a token listed twice is counted once
            continue
        seen.add(token)
        masses[option] += math.exp(logprob)
    total = sum(masses.values())
    if total <= 0.0:
        return LogprobVerdict(masses, None, None, 0.0)
    ranked = sorted(OPTIONS, key=lambda o: masses[o], reverse=True)
    leader, runner_up = ranked[0], ranked[1]
    # An exact draw between A and B is no preference for either.
    preference: Slot = "tie" if masses[leader] == masses[runner_up] else leader
    margin = (masses[leader] - masses[runner_up]) / total
    return LogprobVerdict(masses, preference, margin, min(1.0, total))
