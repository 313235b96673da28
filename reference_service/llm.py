"""The LLM call: the real Anthropic SDK pointed at ``--llm-url``.

Why a thin wrapper: the orchestrator must never turn an LLM failure into a 500.
The SDK's own retries (``--llm-max-retries``) and timeout (``--llm-timeout-s``)
apply; whatever still fails becomes a polite fixed apology.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anthropic

APOLOGY = "I'm sorry, I'm having trouble answering right now. Please try again in a moment."


@dataclass(slots=True)
class LLMReply:
    """The reply text and whether it came from the model."""

    text: str
    ok: bool
    error: str | None = None


class LLMClient:
    """Calls ``messages.create`` and folds every failure into :data:`APOLOGY`."""

    def __init__(self, base_url: str, api_key: str, model: str, timeout_s: float, max_retries: int) -> None:
        self.model = model
        self.client = anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )

    async def complete(self, system: str, messages: list[dict[str, Any]], max_tokens: int) -> LLMReply:
        """One completion; never raises except on cancellation."""
        try:
            msg = await self.client.messages.create(
                model=self.model, max_tokens=max_tokens, system=system, messages=messages  # type: ignore[arg-type]
            )
        except Exception as exc:
            return LLMReply(APOLOGY, ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
        text = "".join(getattr(block, "text", "") for block in msg.content).strip()
        if not text:
            return LLMReply(APOLOGY, ok=False, error="empty completion")
        return LLMReply(text, ok=True)

    async def close(self) -> None:
        """Close the HTTP client."""
        await self.client.close()
