"""`CredentialsProvider`: picks the first `ClientCredentials` entry that loads, and remembers it.

Entries are tried in order; `Skip: true` entries are passed over; the first one whose loader
succeeds is selected and kept until `reset()`; selecting is a step (see the class). When none
loads, one `CredentialUnavailableError` (IDW10109) lists every attempt with its reason. This
runtime state lives here, never on the settings objects, which stay immutable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from identity_web._errors import IdentityWebError, InvalidRequestError
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
    can_bind,
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
        self._bound_index: int | None = None
        self._rejected: dict[int, str] = {}  # entry index → the AADSTS codes Entra answered
        #: The selected credential, or None when `selected()` must load one (a plain attribute:
        #: the cache-hit path reads it, no call, no lock).
        self.current: LoadedCredential | None = None
        #: The same for mTLS PoP (`selected(bound=True)`): the first entry that can bind.
        self.current_bound: LoadedCredential | None = None
        self._watchers: list[Callable[[], None]] = []

    def watch(self, changed: Callable[[], None]) -> None:
        """Have `changed()` called after every change of `current` or `current_bound` (the
        acquirer ends the headers it holds for the old selection with it)."""
        self._watchers.append(changed)

    def _changed(self) -> None:
        for changed in self._watchers:
            changed()

    @property
    def selected_index(self) -> int | None:
        """Index of the selected entry, or None before the first successful selection."""
        selection = self._selection
        return selection[0] if selection is not None else None

    def selected(self, bound: bool = False) -> Step[LoadedCredential]:
        """The selected credential, loading entries in order on first use (or after `reset()`).

        `bound=True` (mTLS PoP): the first entry that loads *and can bind*; entries that cannot
        (a secret, a token file) are passed over, logged once; IDW10115 when none can.
        """
        if bound:
            current = self.current_bound
            if current is not None:
                return current
            found: LoadedCredential = yield Shared((self, True), self._select_bound)
            return found
        selection = self._selection
        if selection is not None:
            return selection[1]
        credential: LoadedCredential = yield Shared(self, self._select)
        return credential

    def reset(self) -> None:
        """Forget the selection, so the next `selected()` loads again (a rotated certificate)."""
        selection, self._selection = self._selection, None
        self.current = self.current_bound = self._bound_index = None
        self._changed()
        if selection is not None:
            logger.info(
                "credential %s deselected; it will be loaded again on next use",
                selection[1].description_id,
            )

    def reject_selected(self, codes: str, *, bound: bool) -> bool:
        """Entra rejected the selected entry (for `bound` requests: the bound selection) with
        `codes`: mark it skipped for this application and forget the selection, so the next
        `selected()` tries the next entry once. False (nothing changed) when no other entry
        is left to try."""
        index = self._bound_index if bound else self.selected_index
        if index is None:
            return False
        others = [
            i
            for i, description in enumerate(self._descriptions)
            if i != index and not description.skip and i not in self._rejected
        ]
        if not others:
            return False
        self.record_rejection(codes, bound=bound)
        return True

    def record_rejection(self, codes: str, *, bound: bool) -> None:
        """Mark the selected entry rejected by Entra with `codes` and forget the selection."""
        index = self._bound_index if bound else self.selected_index
        if index is None:
            return
        self._rejected[index] = codes
        entry = f"{self._key_path}[{index}]"
        logger.warning(
            "%s (%s) was rejected by Entra ID (%s); it is skipped from now on and the next "
            "entry is tried",
            entry,
            self._descriptions[index].source_type.value,
            codes,
        )
        self.reset()

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
            if index in self._rejected:
                reason = f"rejected by Entra ID ({self._rejected[index]})"
                attempts.append(CredentialAttempt(index, description.source_type, reason))
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
            self._changed()
            return credential
        cause: BaseException | None = errors[0] if len(errors) == 1 else None
        if len(errors) > 1:
            cause = ExceptionGroup("credential load failures", errors)
        raise NoCredentialLoadedError("", attempts=attempts) from cause

    def _select_bound(self) -> Step[LoadedCredential]:
        first = yield from self.selected()
        start = self.selected_index or 0
        passed: list[str] = []
        for position in range(start, len(self._descriptions)):
            description = self._descriptions[position]
            entry = f"{self._key_path}[{position}]"
            if position == start:
                loaded = first
            elif description.skip or position in self._rejected:
                continue
            else:
                try:
                    loaded = yield from self._load(entry, description)
                except IdentityWebError as error:
                    logger.warning("%s not loaded: %s", entry, error)
                    continue
            if can_bind(loaded):
                if passed:
                    logger.warning(
                        "ProtocolScheme MTLS_POP: passing over %s, which cannot bind a token to "
                        "a certificate; using %s (%s)",
                        ", ".join(passed),
                        entry,
                        loaded.description_id,
                    )
                self._bound_index, self.current_bound = position, loaded
                self._changed()
                return loaded
            passed.append(f"{entry} ({description.source_type.value})")
        raise InvalidRequestError(
            "IDW10115",
            "Token binding (mTLS PoP) needs a certificate or a signed assertion that can be bound "
            "to a certificate (e.g. SignedAssertionFromManagedIdentity); no entry of "
            f"{self._key_path} can: {', '.join(passed) or 'none loaded'}. Add a certificate "
            "credential, or use ProtocolScheme Bearer.",
        )

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
