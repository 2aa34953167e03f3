"""`CredentialSource`: the 14 `SourceType` values of Identity.Web, bound by name or by number."""

from __future__ import annotations

import enum
from typing import Any

from pydantic_core import PydanticCustomError

from identity_web.settings._suggest import did_you_mean


class CredentialSource(enum.StrEnum):
    """Where a client credential comes from (`ClientCredentials[].SourceType`).

    Member names and values are Identity.Web's names; `number` is Identity.Web's enum number.
    Every value is accepted by the settings; the credential layer rejects, at load time, the
    sources it does not implement.
    """

    Certificate = "Certificate"
    KeyVault = "KeyVault"
    Base64Encoded = "Base64Encoded"
    Path = "Path"
    StoreWithThumbprint = "StoreWithThumbprint"
    StoreWithDistinguishedName = "StoreWithDistinguishedName"
    ClientSecret = "ClientSecret"
    SignedAssertionFromManagedIdentity = "SignedAssertionFromManagedIdentity"
    SignedAssertionFilePath = "SignedAssertionFilePath"
    SignedAssertionFromVault = "SignedAssertionFromVault"
    AutoDecryptKeys = "AutoDecryptKeys"
    CustomSignedAssertion = "CustomSignedAssertion"
    ManagedCertificate = "ManagedCertificate"
    StoreWithSubjectName = "StoreWithSubjectName"

    @property
    def number(self) -> int:
        """Identity.Web's numeric value (Certificate=0 … StoreWithSubjectName=13)."""
        return list(CredentialSource).index(self)

    @classmethod
    def parse(cls, value: Any) -> CredentialSource:
        """Bind like .NET: a member, a name in any case, or the number (int or digit string)."""
        if isinstance(value, cls):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return cls._by_number(value)
        if isinstance(value, str):
            text = value.strip()
            if text.lstrip("-").isdigit():
                return cls._by_number(int(text))
            for member in cls:
                if member.value.casefold() == text.casefold():
                    return member
        raise PydanticCustomError(
            "credential_source",
            "not a SourceType; allowed: {allowed} (or their numbers 0-13){hint}",
            {
                "allowed": ", ".join(member.value for member in cls),
                "hint": did_you_mean(str(value), [member.value for member in cls]),
            },
        )

    @classmethod
    def _by_number(cls, number: int) -> CredentialSource:
        members = list(cls)
        if 0 <= number < len(members):
            return members[number]
        raise PydanticCustomError(
            "credential_source",
            "not a SourceType number; allowed: 0-{last}",
            {"last": len(members) - 1},
        )


class ProtocolScheme(enum.StrEnum):
    """How a downstream API's token is bound (`ProtocolScheme`): decided once, here.

    `Bearer` (also when absent or null) or `MTLS_POP` (RFC 8705 certificate-bound), in any case,
    spaces around ignored. Every other value is refused: a typo must never turn a bound token
    into a bearer token, and Identity.Web's `PoP` (signed HTTP requests) is not supported.
    """

    BEARER = "Bearer"
    MTLS_POP = "MTLS_POP"

    @classmethod
    def parse(cls, value: Any) -> ProtocolScheme:
        """A member, or its value in any case with spaces around; None means Bearer."""
        if value is None:
            return cls.BEARER
        if isinstance(value, str):
            folded = value.strip().casefold()
            for member in cls:
                if member.value.casefold() == folded:
                    return member
        allowed = ", ".join(member.value for member in cls)
        if isinstance(value, str) and value.strip().casefold() == "pop":
            raise PydanticCustomError(
                "protocol_scheme",
                "signed HTTP request PoP (Identity.Web's 'PoP') is not supported; "
                "allowed: {allowed} (any case)",
                {"allowed": allowed},
            )
        raise PydanticCustomError(
            "protocol_scheme",
            "not a ProtocolScheme; allowed: {allowed} (any case; absent means Bearer){hint}",
            {"allowed": allowed, "hint": did_you_mean(str(value), [m.value for m in cls])},
        )
