"""`CredentialsProvider`: picks the first `ClientCredentials` entry that loads, and remembers it.

Entries are tried in order; `Skip: true` entries are passed over; the first one whose loader
succeeds is selected and kept until `reset()`. When none loads, one
`CredentialUnavailableError` (IDW10109) lists every attempt with its reason. This runtime state
lives here, never on the settings objects, which stay immutable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

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
)
from identity_web.settings import CredentialDescription, CredentialSource

logger = logging.getLogger(__name__)


class CredentialsProvider:
    """Selects one credential among `descriptions`, loading it once with the matching loader.

    `loaders` maps each supported SourceType to its loader; an entry whose SourceType has no
    loader fails with "not supported yet" and the next entry is tried. `key_path` is where the
    list sits in the settings, used to place errors (`AzureAd.ClientCredentials[1]`).
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
        self._lock = threading.Lock()
        self._selected: LoadedCredential | None = None
        self._selected_index: int | None = None

    @property
    def selected_index(self) -> int | None:
        """Index of the selected entry, or None before the first successful `get()`."""
        return self._selected_index

    def get(self) -> LoadedCredential:
        """The selected credential, loading entries in order on first use (or after `reset()`)."""
        selected = self._selected
        if selected is not None:
            return selected
        with self._lock:
            if self._selected is None:
                self._selected_index, self._selected = self._select()
            return self._selected

    def reset(self) -> None:
        """Forget the selection, so the next `get()` loads again (e.g. a rotated certificate)."""
        with self._lock:
            if self._selected is not None:
                logger.info(
                    "credential %s deselected; it will be loaded again on next use",
                    self._selected.description_id,
                )
            self._selected = None
            self._selected_index = None

    def _select(self) -> tuple[int, LoadedCredential]:
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
            try:
                credential = self._load(index, description)
            except IdentityWebError as error:
                logger.warning("%s[%d] not loaded: %s", self._key_path, index, error)
                attempts.append(CredentialAttempt(index, description.source_type, str(error)))
                errors.append(error)
                continue
            _log_selected(f"{self._key_path}[{index}]", credential)
            return index, credential
        cause: BaseException | None = errors[0] if len(errors) == 1 else None
        if len(errors) > 1:
            cause = ExceptionGroup("credential load failures", errors)
        raise NoCredentialLoadedError("", attempts=attempts) from cause

    def _load(self, index: int, description: CredentialDescription) -> LoadedCredential:
        entry = f"{self._key_path}[{index}]"
        logger.debug("loading %s (SourceType %s)", entry, description.source_type.value)
        try:
            loader = self._loaders.get(description.source_type)
            if loader is None:
                raise UnsupportedCredentialSourceError(
                    f"SourceType {description.source_type.value} is not supported yet by "
                    f"identity-web; supported: {self._supported()}",
                    key="SourceType",
                )
            return loader.load(description)
        except CredentialLoadError as error:
            error.locate(entry)
            raise

    def _supported(self) -> str:
        return ", ".join(sorted(source.value for source in self._loaders)) or "none"


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
