"""`CredentialsProvider`: picks the first `ClientCredentials` entry that loads, and remembers it.

Entries are tried in order; `Skip: true` entries are passed over; the first one whose loader
succeeds is selected and kept until `reset()`; selecting is a step (see the class). When none
loads, one `CredentialUnavailableError` (IDW10109) lists every attempt with its reason. This
runtime state lives here, never on the settings objects, which stay immutable.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from identity_web._errors import IdentityWebError
from identity_web.credentials._errors import (
    CredentialAttempt,
    CredentialLoadError,
    NoCredentialLoadedError,
    UnsupportedCredentialSourceError,
)
from identity_web.credentials._types import (
    CertificateCredential,
    CredentialLoader,
    LoadedCredential,
    SecretCredential,
)
from identity_web.protocol.steps import Blocking, Shared, Step
from identity_web.settings import CredentialDescription, CredentialSource

logger = logging.getLogger(__name__)


class CredentialsProvider:
    """Selects one credential among `descriptions`, loading it once with the matching loader.

    `loaders` maps each supported SourceType to its loader; an entry whose SourceType has no
    loader fails with "not supported yet" and the next entry is tried. `key_path` is where the
    list sits in the settings, used to place errors (`AzureAd.ClientCredentials[1]`).

    Selecting is a step (`selected()`): loaders run as `LoadCredential` effects (off the event
    loop on the async side) and concurrent first callers share one selection (`Shared`). The
    selection is one attribute, replaced whole, so reading it (`current`) takes no lock.
    """

    def __init__(
        self,
        descriptions: Sequence[CredentialDescription],
        loaders: Mapping[CredentialSource, CredentialLoader],
        *,
        key_path: str = "AzureAd.ClientCredentials",
    ) -> None:
        self._descriptions = tuple(descriptions)
        self._loaders = dict(loaders)
        self._key_path = key_path
        self._selection: tuple[int, LoadedCredential] | None = None
        #: The selected credential, or None when `selected()` must load one (a plain attribute:
        #: the cache-hit path reads it, no call, no lock).
        self.current: LoadedCredential | None = None

    @property
    def selected_index(self) -> int | None:
        """Index of the selected entry, or None before the first successful selection."""
        selection = self._selection
        return selection[0] if selection is not None else None

    def selected(self) -> Step[LoadedCredential]:
        """The selected credential, loading entries in order on first use (or after `reset()`)."""
        selection = self._selection
        if selection is not None:
            return selection[1]
        credential: LoadedCredential = yield Shared(self, self._select)
        return credential

    def reset(self) -> None:
        """Forget the selection, so the next `selected()` loads again (a rotated certificate)."""
        selection, self._selection = self._selection, None
        self.current = None
        if selection is not None:
            logger.info(
                "credential %s deselected; it will be loaded again on next use",
                selection[1].description_id,
            )

    def _select(self) -> Step[LoadedCredential]:
        if not self._descriptions:
            raise NoCredentialLoadedError(
                f"{self._key_path} is empty or absent: add at least one entry, for example "
                '{"SourceType": "Path", "CertificateDiskPath": "/path/app.pfx"}.'
            )
        attempts: list[CredentialAttempt] = []
        errors: list[IdentityWebError] = []
        for index, description in enumerate(self._descriptions):
            if description.skip:
                attempts.append(CredentialAttempt(index, description.source_type, "Skip is true"))
                continue
            entry = f"{self._key_path}[{index}]"
            try:
                credential = yield from self._load(entry, description)
            except IdentityWebError as error:
                logger.warning("%s not loaded: %s", entry, error)
                attempts.append(CredentialAttempt(index, description.source_type, str(error)))
                errors.append(error)
                continue
            _log_selected(entry, credential)
            self._selection = (index, credential)
            self.current = credential
            return credential
        cause: BaseException | None = errors[0] if len(errors) == 1 else None
        if len(errors) > 1:
            cause = ExceptionGroup("credential load failures", errors)
        raise NoCredentialLoadedError("", attempts=attempts) from cause

    def _load(self, entry: str, description: CredentialDescription) -> Step[LoadedCredential]:
        logger.debug("loading %s (SourceType %s)", entry, description.source_type.value)
        loader = self._loaders.get(description.source_type)
        if loader is None:
            error = UnsupportedCredentialSourceError(
                f"SourceType {description.source_type.value} is not supported yet by "
                f"identity-web; supported: {self._supported()}",
                key="SourceType",
            )
            error.locate(entry)
            raise error
        credential: LoadedCredential = yield LoadCredential(loader, description, entry)
        if description.use_bound_credential and not isinstance(credential, SecretCredential):
            credential = replace(credential, use_bound_credential=True)
        warm_up = getattr(loader, "warm_up", None)
        if warm_up is not None:
            yield from warm_up(credential)
        return credential

    def _supported(self) -> str:
        return ", ".join(sorted(source.value for source in self._loaders)) or "none"


@dataclass(frozen=True, slots=True)
class LoadCredential(Blocking):
    """Effect: run one loader (it may read files; off the event loop on the async side)."""

    loader: CredentialLoader = field(repr=False)
    description: CredentialDescription = field(repr=False)
    entry: str

    def run(self) -> LoadedCredential:
        try:
            return self.loader.load(self.description)
        except CredentialLoadError as error:
            error.locate(self.entry)
            raise


def _log_selected(entry: str, credential: LoadedCredential) -> None:
    if isinstance(credential, CertificateCredential):
        logger.info(
            "%s selected: %s, certificate x5t#S256 %s (valid until %s)",
            entry,
            credential.description_id,
            credential.certificate.x5t_s256,
            credential.certificate.not_after.isoformat(),
        )
    else:
        logger.info("%s selected: %s", entry, credential.description_id)
