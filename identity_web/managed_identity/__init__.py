"""Managed identity: the client that picks the source and chains the protocol steps.

`ManagedIdentityClient.token_flow(identity, scope, bound=, now=)` is a step (IMDS v1/v2, App
Service, Azure Arc, Cloud Shell, Service Fabric, Azure ML); its file, key and attestation work
are effects (`GenerateKey`, `Attest`, `ReadFile`, `FileExists`). The wire rules are in
`identity_web.protocol` (`imds`, `imds_v2`, `mi_sources`).
"""

from identity_web.managed_identity._client import (
    DEFAULT_CERTIFICATE_MIN_REMAINING,
    Attest,
    AttestationProvider,
    GenerateKey,
    ManagedIdentityClient,
    ManagedIdentityTokens,
)
from identity_web.protocol.imds import ManagedIdentityChoice, ManagedIdentityId

__all__ = [
    "DEFAULT_CERTIFICATE_MIN_REMAINING",
    "Attest",
    "AttestationProvider",
    "GenerateKey",
    "ManagedIdentityChoice",
    "ManagedIdentityClient",
    "ManagedIdentityId",
    "ManagedIdentityTokens",
]
