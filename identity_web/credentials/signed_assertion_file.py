"""`SourceType: SignedAssertionFilePath` — a client assertion read from a file (AKS workload
identity and other federated token files).

The file is `SignedAssertionFileDiskPath`, or `AZURE_FEDERATED_TOKEN_FILE` when that key is
absent (what the AKS workload identity webhook projects, e.g.
`/var/run/secrets/azure/tokens/azure-identity-token`). Kubelet rotates the file well before the
token expires, so the provider re-reads it when the assertion it holds is within
`expiry_margin` seconds of its `exp` (read from the JWT without verifying it), and at least
every `refresh_interval` seconds (600) otherwise. The assertion itself is never logged.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping

from identity_web._errors import InvalidRequestError
from identity_web.credentials._errors import (
    CredentialFileError,
    IncompleteCredentialError,
    MalformedCredentialError,
)
from identity_web.credentials._types import AssertionCredential, SignedAssertion
from identity_web.protocol.expiry import ASSERTION_MARGIN, usable
from identity_web.protocol.rfc7523 import decode_segments
from identity_web.protocol.steps import ReadFile, Step
from identity_web.settings import CredentialDescription

logger = logging.getLogger(__name__)

KEY = "SignedAssertionFileDiskPath"
TOKEN_FILE_VARIABLE = "AZURE_FEDERATED_TOKEN_FILE"  # noqa: S105 - a variable name
DEFAULT_REFRESH_INTERVAL = 600.0
DEFAULT_EXPIRY_MARGIN = ASSERTION_MARGIN


def jwt_expiry(assertion: str) -> float | None:
    """The `exp` claim of a compact JWT, read without verifying anything; None if absent.

    Raises `ValueError` when `assertion` is not a compact JWT.
    """
    exp = decode_segments(assertion)[1].get("exp")
    return float(exp) if isinstance(exp, int | float) and not isinstance(exp, bool) else None


class SignedAssertionFileProvider:
    """An `AssertionProvider` over a token file; it cannot bind tokens to a certificate."""

    def __init__(
        self,
        path: str,
        *,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        expiry_margin: float = DEFAULT_EXPIRY_MARGIN,
    ) -> None:
        self.path = path
        self._refresh_interval = refresh_interval
        self._expiry_margin = expiry_margin
        self._held: tuple[SignedAssertion, float] | None = None  # (assertion, read at): one value

    def __repr__(self) -> str:
        return f"SignedAssertionFileProvider(path={self.path!r})"

    @property
    def supports_token_binding(self) -> bool:
        return False

    def assertion_flow(self, *, bound: bool, now: float) -> Step[SignedAssertion]:
        """The assertion to use at `now`; the driver reads the file again when it is due."""
        if bound:
            raise InvalidRequestError(
                "IDW10115",
                "a SignedAssertionFilePath credential cannot bind a token to a certificate; "
                "use ProtocolScheme Bearer or a certificate/managed identity credential.",
            )
        held = self._held
        if held is not None and not self._due(held, now):
            return held[0]
        try:
            content: bytes = yield ReadFile(self.path)
        except OSError as error:
            raise self._unreadable(error) from error
        return self._keep(content, now)

    def current(self, now: float) -> SignedAssertion:
        """The assertion to use at `now`, reading the file now (blocking) when it is due."""
        held = self._held
        if held is not None and not self._due(held, now):
            return held[0]
        try:
            content = ReadFile(self.path).run()
        except OSError as error:
            raise self._unreadable(error) from error
        return self._keep(content, now)

    def _due(self, held: tuple[SignedAssertion, float], now: float) -> bool:
        cached, read_at = held
        return now - read_at >= self._refresh_interval or not usable(
            cached.expires_on, now, self._expiry_margin
        )

    def _unreadable(self, error: OSError | UnicodeDecodeError) -> CredentialFileError:
        reason = getattr(error, "strerror", None) or type(error).__name__
        return CredentialFileError(
            f"cannot read the signed assertion file '{self.path}' ({reason})",
            key=KEY,
            file=self.path,
        )

    def _keep(self, content: bytes, now: float) -> SignedAssertion:
        try:
            assertion = content.decode("utf-8").strip()
        except UnicodeDecodeError as error:
            raise self._unreadable(error) from error
        expires_on = self._expiry(assertion)
        if expires_on is None:
            expires_on = now + self._refresh_interval
        elif expires_on <= now:
            logger.warning(
                "the assertion in %s expired %.0f s ago; Entra ID will refuse it (AADSTS700024)",
                self.path,
                now - expires_on,
            )
        logger.debug("read the signed assertion file %s (expires %.0f)", self.path, expires_on)
        signed = SignedAssertion(assertion=assertion, expires_on=expires_on)
        self._held = (signed, now)
        return signed

    def _expiry(self, assertion: str) -> float | None:
        if not assertion:
            raise MalformedCredentialError(
                f"the signed assertion file '{self.path}' is empty", key=KEY, file=self.path
            )
        try:
            return jwt_expiry(assertion)
        except ValueError as error:
            raise MalformedCredentialError(
                f"the signed assertion file '{self.path}' does not hold a JWT: {error}",
                key=KEY,
                file=self.path,
            ) from error


class SignedAssertionFilePathLoader:
    """Loads `SignedAssertionFileDiskPath` (or `AZURE_FEDERATED_TOKEN_FILE`) into an
    `AssertionCredential`; the file is read once now, so a missing file fails at load time."""

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self._clock = clock

    def load(self, description: CredentialDescription) -> AssertionCredential:
        path = description.signed_assertion_file_disk_path or self._environ.get(
            TOKEN_FILE_VARIABLE, ""
        )
        if not path.strip():
            raise IncompleteCredentialError(
                "SourceType SignedAssertionFilePath needs SignedAssertionFileDiskPath, or the "
                f"{TOKEN_FILE_VARIABLE} environment variable (set by AKS workload identity)",
                key=KEY,
            )
        path = os.path.abspath(os.path.expanduser(path.strip()))
        provider = SignedAssertionFileProvider(path)
        provider.current(self._clock())
        return AssertionCredential(
            provider=provider, description_id=f"SignedAssertionFilePath={path}"
        )
