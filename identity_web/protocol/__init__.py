"""The sans-IO core: wire formats, values and the one step protocol. Nothing here does I/O.

Public types: `HttpRequest`, `HttpResponse`, `RetryPolicy` (requests and answers), `Step` and
its effects (`Attempt`, `Sleep`, `ReadClock`, `Blocking`, `ReadFile`, `FileExists`, `Shared`;
`StepRunner` runs steps), `TokenResponse`, `TokenType`, `BindingCertificate`,
`ManagedIdentityId`. Modules named after what they implement: `oauth2` (RFC 6749), `rfc7523`
(JWT assertions), `rfc8705` (mTLS-bound tokens), `entra`, `imds`, `imds_v2`, `mi_sources`,
`retry`, `expiry` (the three margins), `steps`.
"""

from identity_web.protocol._binding import BindingCertificate, b64url, x5t_s256
from identity_web.protocol._http import HttpRequest, HttpResponse, RetryPolicy, redact_url
from identity_web.protocol._tokens import TokenResponse, TokenType
from identity_web.protocol.imds import ManagedIdentityId
from identity_web.protocol.steps import (
    Attempt,
    Blocking,
    Effect,
    FileExists,
    FileTooLargeError,
    ReadClock,
    ReadFile,
    Shared,
    Sleep,
    Step,
    StepRunner,
    retried,
)

__all__ = [
    "Attempt",
    "BindingCertificate",
    "Blocking",
    "Effect",
    "FileExists",
    "FileTooLargeError",
    "HttpRequest",
    "HttpResponse",
    "ManagedIdentityId",
    "ReadClock",
    "ReadFile",
    "RetryPolicy",
    "Shared",
    "Sleep",
    "Step",
    "StepRunner",
    "TokenResponse",
    "TokenType",
    "b64url",
    "redact_url",
    "retried",
    "x5t_s256",
]
