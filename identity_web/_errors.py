"""The error hierarchy. Every error identity-web raises derives from `IdentityWebError`.

Messages name what to change (key path, value found, what is allowed, AADSTS code) and never
contain a token, a secret, an assertion or key material.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


class IdentityWebError(Exception):
    """Root of every error raised by identity-web."""


@dataclass(frozen=True, slots=True)
class ConfigurationProblem:
    """One problem in the settings: where (`AzureAd.ClientCredentials[0].SourceType`) and what."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class ConfigurationError(IdentityWebError):
    """The settings are invalid. Lists every problem found, each with its key path."""

    def __init__(self, problems: Sequence[ConfigurationProblem] | str, *, source: str = "") -> None:
        if isinstance(problems, str):
            problems = [ConfigurationProblem("", problems)]
        self.problems: tuple[ConfigurationProblem, ...] = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = [f"Invalid identity-web configuration{where}:"]
        lines += [f"  - {problem}" for problem in self.problems]
        super().__init__("\n".join(lines))


class InvalidRequestError(IdentityWebError):
    """The request cannot be made as asked (IDW10115, IDW10116, IDW10404, IDW10405 …).

    Raised before any network call.
    """

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}" if code else message)


class CredentialError(IdentityWebError):
    """A credential could not be loaded (file unreadable, wrong password, expired …)."""


class CredentialUnavailableError(IdentityWebError):
    """No credential could even be attempted or loaded (IDW10109 lists every attempt)."""


class NetworkError(IdentityWebError):
    """The request never got an HTTP answer (connection refused, TLS failure, timeout)."""

    def __init__(self, message: str, *, url: str = "") -> None:
        self.url = url
        super().__init__(message)


class TokenAcquisitionError(IdentityWebError):
    """A token could not be acquired."""


_SERVICE_ERROR_FIELDS = (
    "status",
    "error",
    "error_description",
    "error_codes",
    "correlation_id",
    "trace_id",
    "suberror",
    "claims",
    "endpoint",
)


class ServiceError(TokenAcquisitionError):
    """The identity provider answered with an error (Entra `error`/`AADSTS` shape)."""

    def __init__(
        self,
        *,
        status: int,
        error: str,
        error_description: str = "",
        error_codes: Sequence[int] = (),
        correlation_id: str = "",
        trace_id: str = "",
        suberror: str = "",
        claims: str = "",
        endpoint: str = "",
    ) -> None:
        self.status = status
        self.error = error
        self.error_description = error_description
        self.error_codes = tuple(error_codes)
        self.correlation_id = correlation_id
        self.trace_id = trace_id
        self.suberror = suberror
        self.claims = claims
        self.endpoint = endpoint
        where = f" from {endpoint}" if endpoint else ""
        text = f"HTTP {status} {error}{where}"
        if error_description:
            text += f": {error_description}"
        if correlation_id and correlation_id not in error_description:
            text += f" (correlation id {correlation_id})"
        super().__init__(text)

    def with_hint(self, hint: str) -> ServiceError:
        """The same answer with what to check appended to its description."""
        fields = {name: getattr(self, name) for name in _SERVICE_ERROR_FIELDS}
        fields["error_description"] = f"{self.error_description} [what to check: {hint}]"
        return ServiceError(**fields)

    def has_code(self, *codes: int) -> bool:
        """True when the service reported any of these AADSTS codes."""
        return any(code in self.error_codes for code in codes)


class FederatedCredentialError(ServiceError):
    """Entra found no federated identity credential of the app matching the assertion sent
    (AADSTS70021, 700211, 700212, 700213). `issuer`, `subject` and `audience` are the claims of
    that assertion (read without verification); the message names them."""

    def __init__(
        self, cause: ServiceError, *, issuer: str, subject: str, audience: str, client_id: str
    ) -> None:
        super().__init__(
            status=cause.status,
            error=cause.error,
            error_description=cause.error_description,
            error_codes=cause.error_codes,
            correlation_id=cause.correlation_id,
            trace_id=cause.trace_id,
            suberror=cause.suberror,
            claims=cause.claims,
            endpoint=cause.endpoint,
        )
        self.issuer = issuer
        self.subject = subject
        self.audience = audience
        self.client_id = client_id
        self.args = (
            f"{self.args[0]}\nThe federated assertion sent had issuer '{issuer}', subject "
            f"'{subject}' and audience '{audience}'. Add a federated identity credential with "
            f"exactly these values to application '{client_id}', or use a managed identity "
            "(ManagedIdentityClientId) that the application already trusts.",
        )


class TokenTypeMismatchError(TokenAcquisitionError):
    """A bound (`mtls_pop`) token was requested and something else came back. Nothing is cached."""

    def __init__(self, expected: str, actual: str | None) -> None:
        self.expected = expected
        self.actual = actual
        got = f"'{actual}'" if actual else "no token_type"
        super().__init__(
            f"token_type_mismatch: asked for token type '{expected}' but the identity provider "
            f"returned {got}; the token was discarded (fail closed)."
        )


class TokenBindingMismatchError(TokenAcquisitionError):
    """A bound token came back whose `cnf.x5t#S256` is not the certificate the request
    presented. Nothing is cached; the message names both thumbprints (never the token)."""

    def __init__(self, *, presented: str, cnf: str, endpoint: str) -> None:
        self.presented = presented
        self.cnf = cnf
        self.endpoint = endpoint
        super().__init__(
            f"token_binding_mismatch: the mtls_pop token from {endpoint} is bound to "
            f"x5t#S256 {cnf}, but the request presented the certificate {presented}; the token "
            "was discarded (fail closed). The token service or a proxy in between answered for "
            "another certificate: check what terminates TLS before the token endpoint."
        )


class ManagedIdentityError(TokenAcquisitionError):
    """The managed identity endpoint failed or is not available on this host."""


class AttestationError(ManagedIdentityError):
    """The IMDS v2 key could not be attested, or IMDS refused the certificate for want of
    attestation; the message says what the host needs."""


class DownstreamApiError(IdentityWebError):
    """A downstream API answered with a non-success status."""

    max_body = 4096

    def __init__(self, *, status: int, url: str, headers: Mapping[str, str], body: str) -> None:
        self.status = status
        self.url = url
        self.headers = dict(headers)
        self.body = (
            body if len(body) <= self.max_body else body[: self.max_body] + "... (truncated)"
        )
        super().__init__(f"{status} from {url}: {self.body}")
