"""Model clients: anthropic, openai-compatible, local (llama.cpp) and scripted.

Importing this package loads no SDK: the clients' modules are imported by ``make_client`` (or
directly) only when that provider is used.
"""

from reporlm.llm.base import Completion, Message, ModelClient, ProviderError, Usage
from reporlm.llm.prices import cost
from reporlm.llm.registry import PROVIDERS, default_models, default_provider, make_client

__all__ = [
    "PROVIDERS",
    "Completion",
    "Message",
    "ModelClient",
    "ProviderError",
    "Usage",
    "cost",
    "default_models",
    "default_provider",
    "make_client",
]
