"""The certificate store the `StoreWith*` sources read: .NET's store on Linux, or a directory.

.NET keeps the per-user X509 store on Linux as a directory of PKCS#12 files without a password,
one per certificate, named by SHA-1 thumbprint (`{THUMBPRINT}.pfx`, or `{THUMBPRINT}.N.pfx` on
a collision): `~/.dotnet/corefx/cryptography/x509stores/<store name in lower case>/`. So
`CertificateStorePath: CurrentUser/My` (the default) reads `…/x509stores/my/`, and a certificate
a .NET tool added with `X509Store.Add` is found by identity-web too.

`CertificateStorePath` may instead be a directory (an absolute path, or one starting with `~`):
every `.pfx`, `.p12` and `.pem` file in it is read, with `CertificatePassword` when set. That is
the place for certificates mounted into a container (a Kubernetes secret volume).

As in Identity.Web, only certificates valid now are candidates, and among those that match the
newest `NotBefore` wins: dropping a renewed certificate next to the old one rotates it (the
reload-once rule picks it up). Files that are not certificates, or carry no private key, are
skipped like .NET skips them.
"""

from __future__ import annotations

import logging
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from identity_web.credentials._certificates import from_pem, from_pkcs12, looks_like_pem
from identity_web.credentials._errors import (
    CredentialFileError,
    CredentialLoadError,
    IncompleteCredentialError,
    MalformedCredentialError,
)
from identity_web.credentials._types import CertificateCredential
from identity_web.protocol import BindingCertificate
from identity_web.settings import CredentialDescription

logger = logging.getLogger(__name__)

STORE_PATH_KEY = "CertificateStorePath"
DEFAULT_STORE_PATH = "CurrentUser/My"
#: Where .NET keeps the per-user stores, under the home directory.
DOTNET_USER_STORES = (".dotnet", "corefx", "cryptography", "x509stores")
#: The `StoreName` values of .NET (any case in the settings; the directory is lower case).
STORE_NAMES = frozenset(
    name.casefold()
    for name in (
        "AddressBook",
        "AuthRoot",
        "CertificateAuthority",
        "Disallowed",
        "My",
        "Root",
        "TrustedPeople",
        "TrustedPublisher",
    )
)
_SUFFIXES = (".pfx", ".p12", ".pem")


def store_directory(store_path: str | None, environ: Mapping[str, str]) -> Path:
    """The directory `CertificateStorePath` names (`StoreLocation/StoreName`, or a path)."""
    value = (store_path or DEFAULT_STORE_PATH).strip()
    if value.startswith(("/", "~")):
        return Path(os.path.expanduser(value))
    location, _, name = value.partition("/")
    if not name or "/" in name:
        raise MalformedCredentialError(
            f"IDW10703: '{value}' is neither 'StoreLocation/StoreName' (e.g. CurrentUser/My) "
            "nor a directory path (absolute, or starting with ~)",
            key=STORE_PATH_KEY,
        )
    if location.casefold() == "localmachine":
        raise MalformedCredentialError(
            f"'{value}': .NET on Linux has no LocalMachine certificate store for application "
            "certificates; use CurrentUser/<StoreName>, or the directory that holds the "
            "certificate files (e.g. /etc/myapp/certificates)",
            key=STORE_PATH_KEY,
        )
    if location.casefold() != "currentuser" or name.casefold() not in STORE_NAMES:
        raise MalformedCredentialError(
            f"IDW10703: '{value}' is not a certificate store: StoreLocation is CurrentUser, "
            f"StoreName one of {', '.join(sorted(STORE_NAMES))} (any case)",
            key=STORE_PATH_KEY,
        )
    return _home(environ).joinpath(*DOTNET_USER_STORES, name.lower())


def _home(environ: Mapping[str, str]) -> Path:
    home = environ.get("HOME", "").strip()
    return Path(home) if home else Path.home()


def sha1_thumbprint(certificate: x509.Certificate) -> str:
    """The thumbprint .NET shows and names store files by: SHA-1 of the DER, upper-case hex."""
    return certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - an identifier


@dataclass(frozen=True, slots=True)
class StoreQuery:
    """What one `StoreWith*` entry looks for: the configured value under `key`, and a predicate."""

    source: str
    key: str
    value: str
    criterion: str
    matches: Callable[[x509.Certificate], bool]


class StoreLoader(ABC):
    """A `StoreWith*` loader: reads the store directory and picks the newest valid certificate
    that matches the entry's `query` (`clock`: epoch seconds; `environ`: where `HOME` is read)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._clock = clock
        self._environ = environ

    @abstractmethod
    def query(self, description: CredentialDescription) -> StoreQuery:
        """What this SourceType looks for, from the entry's settings."""

    def load(self, description: CredentialDescription) -> CertificateCredential:
        query = self.query(description)
        if not query.value.strip():
            raise IncompleteCredentialError(
                f"SourceType {query.source} needs {query.key}",
                key=query.key,
            )
        environ = os.environ if self._environ is None else self._environ
        directory = store_directory(description.certificate_store_path, environ)
        found = [
            c
            for c in read_store(directory, description.certificate_password)
            if query.matches(c.certificate)
        ]
        certificate = newest_valid(found, self._clock(), query, directory)
        logger.debug(
            "selected x5t#S256 %s from store %s (%s)", certificate.x5t_s256, directory, query.key
        )
        return CertificateCredential(
            certificate=certificate,
            description_id=f"Certificate{query.source}={directory}/{query.value}",
        )


def read_store(directory: Path, password: str | None) -> list[BindingCertificate]:
    """Every certificate with its private key in `directory` (a missing directory is empty)."""
    try:
        files = sorted(p for p in directory.iterdir() if p.suffix.lower() in _SUFFIXES)
    except FileNotFoundError:
        return []
    except OSError as error:
        raise CredentialFileError(
            f"the certificate store '{directory}' cannot be read: {error.strerror}",
            key=STORE_PATH_KEY,
            file=str(directory),
        ) from error
    certificates = []
    for file in files:
        certificate = _read_one(file, password)
        if certificate is not None:
            certificates.append(certificate)
    return certificates


def _read_one(file: Path, password: str | None) -> BindingCertificate | None:
    what = f"store file '{file}'"
    try:
        data = file.read_bytes()
        parse = from_pem if looks_like_pem(data) else from_pkcs12
        return parse(data, password, what=what, key=STORE_PATH_KEY)
    except (OSError, CredentialLoadError) as error:
        logger.debug("skipped %s: %s", what, error)
        return None


def newest_valid(
    found: list[BindingCertificate], now: float, query: StoreQuery, directory: Path
) -> BindingCertificate:
    """The match with the latest NotBefore among those valid at `now`, or a typed error."""
    moment = datetime.fromtimestamp(now, UTC)
    valid = [c for c in found if c.not_before <= moment <= c.not_after]
    if valid:
        return max(valid, key=lambda c: c.not_before)
    outside = f" ({len(found)} match but are expired or not yet valid)" if found else ""
    raise CredentialFileError(
        f"no certificate with a private key and {query.criterion} is valid in the certificate "
        f"store '{directory}'{outside}",
        key=query.key,
        file=str(directory),
    )
