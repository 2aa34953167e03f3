"""Managed identity: the client that picks the source and chains the protocol steps.

`ManagedIdentityClient.token_flow(identity, scope, bound=, now=)` is a step (IMDS v1/v2, App
Service, Azure Arc, Cloud Shell, Service Fabric, Azure ML); its file, key and attestation work
are effects (`GenerateKey`, `TakeKey`, `Attest`, `ReadFile`, `FileExists`). The wire rules are in
`identity_web.protocol` (`imds`, `imds_v2`, `mi_sources`).
"""

from identity_web._errors import AttestationError
from identity_web.managed_identity._client import (
    DEFAULT_CERTIFICATE_MIN_REMAINING,
    ManagedIdentityClient,
    ManagedIdentityTokens,
)
from identity_web.managed_identity._providers import (
    Attest,
    AttestationProvider,
    BlockingAttestationProvider,
    GenerateKey,
    KeyProvider,
    SoftwareAttestationProvider,
    SoftwareKeyProvider,
    TakeKey,
)
from identity_web.protocol.imds import ManagedIdentityChoice, ManagedIdentityId

__all__ = [
    "DEFAULT_CERTIFICATE_MIN_REMAINING",
    "Attest",
    "AttestationError",
    "AttestationProvider",
    "BlockingAttestationProvider",
    "GenerateKey",
    "KeyProvider",
    "ManagedIdentityChoice",
    "ManagedIdentityClient",
    "ManagedIdentityId",
    "ManagedIdentityTokens",
    "SoftwareAttestationProvider",
    "SoftwareKeyProvider",
    "TakeKey",
]
