"""Model clients: anthropic, openai-compatible, local (llama.cpp) and scripted."""

from reporlm.llm.base import Completion, Message, ModelClient, ProviderError, Usage

__all__ = ["Completion", "Message", "ModelClient", "ProviderError", "Usage"]
