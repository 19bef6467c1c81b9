"""Where the agent's configuration code reads ConfigMaps, Secrets and service account tokens.

A Protocol rather than an APIClient: the agent decides how to cache (an
informer, a per-pod watch, a TTL cache like the kubelet's managers) and tests
pass a dict. ``None`` means "does not exist" (the kubelet's NotFound); any other
failure should raise and is passed through unchanged.

Tokens are a separate, optional Protocol: only projected ``serviceAccountToken``
sources need them, and whoever implements them must cache a token until ~80% of
its lifetime (as the kubelet's token manager does), since every refresh asks.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ObjectLookup(Protocol):
    async def configmap(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def secret(self, namespace: str, name: str) -> dict[str, Any] | None: ...


@runtime_checkable
class TokenLookup(ObjectLookup, Protocol):
    async def service_account_token(self, pod: dict[str, Any], audience: str,
                                    expiration_seconds: int) -> str: ...
