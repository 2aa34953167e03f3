"""`SourceType: Base64Encoded` — a PKCS#12 (PFX) blob inlined in the settings as base64.

`CertificatePassword` is optional, as for `Path`. The id is a keyed hash of the value
(`_types.redacted`), stable within the process but revealing nothing.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable

from identity_web.credentials._certificates import check_validity, from_pkcs12
from identity_web.credentials._errors import IncompleteCredentialError, MalformedCredentialError
from identity_web.credentials._types import CertificateCredential, redacted
from identity_web.settings import CredentialDescription

KEY = "Base64EncodedValue"
_WHAT = "the Base64EncodedValue certificate"


class Base64EncodedCertificateLoader:
    """Loads `Base64EncodedValue` (+ `CertificatePassword`) into a `CertificateCredential`."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def load(self, description: CredentialDescription) -> CertificateCredential:
        value = description.base64_encoded_value
        if not value:
            raise IncompleteCredentialError(
                "SourceType Base64Encoded needs Base64EncodedValue, the base64 of a PFX file",
                key=KEY,
            )
        data = _decode(value)
        certificate = from_pkcs12(data, description.certificate_password, what=_WHAT, key=KEY)
        check_validity(certificate, self._clock(), what=_WHAT, key=KEY)
        return CertificateCredential(
            certificate=certificate, description_id=f"Base64Encoded={redacted(value)}"
        )


def _decode(value: str) -> bytes:
    compact = "".join(value.split())
    try:
        return base64.b64decode(compact + "=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise MalformedCredentialError(
            "Base64EncodedValue is not valid base64 (expected the base64 of a PFX file)", key=KEY
        ) from error
