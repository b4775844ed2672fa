"""How many tokens a completion may have: the one range check every engine applies."""

from __future__ import annotations

from ..errors import ContextLengthError, InvalidParameterError


def completion_budget(
    prompt_tokens: int, max_tokens: int | None, max_model_len: int, default: int | None = None
) -> int:
    """`max_tokens` if prompt + completion fit in the context, else a 400 that says the limits;
    with no `max_tokens`, the room the context leaves (capped at `default` when given)."""
    room = max_model_len - prompt_tokens
    if room < 1:
        raise ContextLengthError(
            f"the prompt is {prompt_tokens} tokens; this model's context is {max_model_len} "
            "tokens, leaving no room for a completion",
            param="messages",
        )
    if max_tokens is None:
        return min(room, default) if default else room
    if not 1 <= max_tokens <= room:
        raise InvalidParameterError(
            f"max_tokens must be between 1 and {room} for this prompt ({prompt_tokens} prompt "
            f"tokens, context {max_model_len}); got {max_tokens}",
            param="max_tokens",
        )
    return max_tokens
