"""Conversations to token ids and loss labels, through the tokenizer's own chat template.

The assistant-only mask is found on the rendered text, not by guessing token boundaries: the
template is rendered for the prefix before each assistant turn (with the generation prompt)
and for the prefix that ends with it; the characters between the two are that turn's answer
plus the template's end-of-turn marker, which the model must learn to emit to stop. The fast
tokenizer's offset mapping turns those character spans into token positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from advisor_shared.dataset import Conversation

from ..errors import TrainingDataError

IGNORE_INDEX = -100  # what transformers' causal-LM loss skips


@dataclass(frozen=True)
class TokenizedExample:
    """One conversation ready for training: ids, labels (IGNORE_INDEX where no loss)."""

    conversation_id: str
    input_ids: list[int]
    labels: list[int]

    @property
    def length(self) -> int:
        return len(self.input_ids)

    @property
    def target_count(self) -> int:
        """Tokens that carry loss once labels are shifted by one (the model predicts t+1)."""
        return sum(1 for label in self.labels[1:] if label != IGNORE_INDEX)


def render(tokenizer: Any, messages: Sequence[dict[str, str]], *, generation_prompt: bool) -> str:
    text = tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=generation_prompt
    )
    if not isinstance(text, str):
        raise TrainingDataError("the chat template did not render to text")
    return text


def assistant_char_spans(tokenizer: Any, messages: Sequence[dict[str, str]]) -> list[range]:
    """Character spans of every assistant turn (with its end-of-turn marker) in the full text."""
    full = render(tokenizer, messages, generation_prompt=False)
    spans = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = render(tokenizer, messages[:index], generation_prompt=True)
        through = render(tokenizer, messages[: index + 1], generation_prompt=False)
        if not (full.startswith(before) and full.startswith(through)):
            # A template that rewrites earlier turns depending on later ones (some drop past
            # reasoning) cannot be masked by prefixes; refuse instead of masking wrongly.
            raise TrainingDataError(
                "the chat template is not prefix-stable, so assistant tokens cannot be located; "
                "use loss_on='all' or another template"
            )
        spans.append(range(len(before), len(through)))
    return spans


def encode_conversation(
    tokenizer: Any, conversation: Conversation, *, max_seq_len: int, loss_on: str
) -> TokenizedExample:
    """Token ids and labels of one conversation, truncated on the right to `max_seq_len`."""
    messages = [m.model_dump() for m in conversation.messages]
    text = render(tokenizer, messages, generation_prompt=False)
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = list(encoded["input_ids"])[:max_seq_len]
    offsets = list(encoded["offset_mapping"])[:max_seq_len]
    if loss_on == "all":
        labels = list(ids)
    else:
        spans = assistant_char_spans(tokenizer, messages)
        labels = [
            token if any(start in span for span in spans) and end > start else IGNORE_INDEX
            for token, (start, end) in zip(ids, offsets, strict=True)
        ]
    return TokenizedExample(conversation.id, ids, labels)


def encode_dataset(
    tokenizer: Any, conversations: Sequence[Conversation], *, max_seq_len: int, loss_on: str
) -> list[TokenizedExample]:
    """Encode every conversation; refuse a dataset where no example has a trainable token."""
    if not getattr(tokenizer, "is_fast", False):
        raise TrainingDataError("a fast tokenizer (with offset mappings) is required")
    examples = [
        encode_conversation(tokenizer, c, max_seq_len=max_seq_len, loss_on=loss_on)
        for c in conversations
    ]
    if not any(example.target_count for example in examples):
        raise TrainingDataError(
            f"no conversation has an assistant token within max_seq_len={max_seq_len}: "
            "nothing to learn (check the dataset's assistant turns or raise max_seq_len)"
        )
    return examples
