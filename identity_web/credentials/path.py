"""`SourceType: Path` — a certificate file on disk: PKCS#12 (.pfx/.p12) or PEM (.pem/.crt).

The format is detected from the content, not the extension. A PFX may have a password
(`CertificatePassword`); a PEM file holds the certificate, optionally its chain, and its
private key (optionally encrypted with `CertificatePassword`). Relative paths are resolved
against the current directory.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable

from identity_web.credentials._certificates import (
    check_validity,
    from_pem,
    from_pkcs12,
    looks_like_pem,
)
from identity_web.credentials._errors import (
    CredentialFileError,
    IncompleteCredentialError,
    MalformedCredentialError,
)
from identity_web.credentials._types import CertificateCredential
from identity_web.settings import CredentialDescription

logger = logging.getLogger(__name__)

KEY = "CertificateDiskPath"


class PathCertificateLoader:
    """Loads `CertificateDiskPath` (+ `CertificatePassword`) into a `CertificateCredential`."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def load(self, description: CredentialDescription) -> CertificateCredential:
        if not description.certificate_disk_path:
            raise IncompleteCredentialError(
                "SourceType Path needs CertificateDiskPath, the path of a .pfx or .pem file",
                key=KEY,
            )
        path = os.path.abspath(os.path.expanduser(description.certificate_disk_path))
        what = f"certificate file '{path}'"
        data = read_file(path, what=what, key=KEY)
        parse = from_pem if looks_like_pem(data) else from_pkcs12
        certificate = parse(data, description.certificate_password, what=what, key=KEY)
        check_validity(certificate, self._clock(), what=what, key=KEY)
        logger.debug("loaded %s, x5t#S256 %s", what, certificate.x5t_s256)
        return CertificateCredential(certificate=certificate, description_id=f"Path={path}")


def read_file(path: str, *, what: str, key: str) -> bytes:
    """Read a whole file, turning every way of failing into a `CredentialFileError`."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError as error:
        raise CredentialFileError(f"{what} does not exist", key=key, file=path) from error
    except PermissionError as error:
        raise CredentialFileError(
            f"{what} cannot be read: permission denied for this process", key=key, file=path
        ) from error
    except IsADirectoryError as error:
        raise CredentialFileError(f"{what} is a directory", key=key, file=path) from error
    except OSError as error:
        raise CredentialFileError(
            f"{what} cannot be read: {error.strerror}", key=key, file=path
        ) from error
    if not data.strip():
        raise MalformedCredentialError(f"{what} is empty", key=key, file=path)
    return data
