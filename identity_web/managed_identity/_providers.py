"""The two seams of an IMDS v2 certificate: where its key comes from, and who attests it.

`KeyProvider` makes the key the CSR is signed with. The default, `SoftwareKeyProvider`, makes
an RSA-2048 key in memory (a `GenerateKey` effect, off the event loop); a plug-in may return a
key whose private half stays in hardware and only signs (a `cryptography` RSA private key
object whose `sign` calls the device), and names its `kind`.

`AttestationProvider` turns the key (and its CSR) into the attestation token `issuecredential`
carries. None by default: Azure IMDS asks for a Microsoft Azure Attestation token for
KeyGuard-protected keys on Windows, which no Python library can produce today.
`SoftwareAttestationProvider` speaks the emulator's attestation authority protocol
(`POST {attestationEndpoint}/attest/software` with the CSR), so the demo and tests run the
`required` attestation path end to end; `BlockingAttestationProvider` wraps a plain function.

Both are steps: a provider's network call is an `HttpRequest` it yields, its blocking work an
effect, so the drivers run them like everything else. The IMDS v2 certificate cache is keyed by
`kind` and `mode`, as MSAL.NET's is by key type and attestation.

Chosen, strongest first: in code (`ManagedIdentityClient(key_provider=..., attestation=...)`);
by the settings keys `AzureAd.ManagedIdentity.KeyProvider` / `.Attestation`; by the variables
`IDENTITY_WEB_MI_KEY_PROVIDER` / `IDENTITY_WEB_MI_ATTESTATION`, a layer below every setting, as
the variables Azure sets are (the emulator's env file sets `IDENTITY_WEB_MI_ATTESTATION=software`,
so a process started with it attests against the emulator's authority); else a software key
without attestation. Values: `Software` (key), `None` or `Software` (attestation), any case, or
a plug-in `package.module:factory` whose factory (no argument) returns the provider.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Protocol, cast

from cryptography.hazmat.primitives.asymmetric import rsa

from identity_web._errors import AttestationError, ConfigurationError, ConfigurationProblem
from identity_web.protocol import imds_v2
from identity_web.protocol._http import HttpRequest
from identity_web.protocol.imds import body_excerpt
from identity_web.protocol.steps import Blocking, Step
from identity_web.settings._plugins import is_plugin_name, plugin_factory

KEY_PROVIDER_VARIABLE = "IDENTITY_WEB_MI_KEY_PROVIDER"
ATTESTATION_VARIABLE = "IDENTITY_WEB_MI_ATTESTATION"
ATTESTATION_TIMEOUT = 10.0


class KeyProvider(Protocol):
    """Makes the key of a new IMDS v2 certificate."""

    @property
    def kind(self) -> str:
        """What kind of key (`software-rsa`, a hardware name): part of the certificate cache key."""
        ...

    def key_step(self) -> Step[rsa.RSAPrivateKey]: ...


class AttestationProvider(Protocol):
    """Produces the attestation token for a key, given the host's `attestationEndpoint`."""

    @property
    def mode(self) -> str:
        """The attestation mode (`software`, …): part of the certificate cache key."""
        ...

    def attestation_step(self, endpoint: str, key: rsa.RSAPrivateKey, csr: str) -> Step[str]: ...


@dataclass(frozen=True, slots=True)
class GenerateKey(Blocking):
    """Effect: a new private key for an IMDS v2 certificate (CPU-heavy: off the event loop)."""

    factory: Callable[[], rsa.RSAPrivateKey] = field(repr=False)

    def run(self) -> rsa.RSAPrivateKey:
        return self.factory()


@dataclass(frozen=True, slots=True)
class TakeKey(Blocking):
    """Effect: the key made ahead of need (`SpareKey`), waited for off the event loop."""

    pending: Future[rsa.RSAPrivateKey] = field(repr=False)

    def run(self) -> rsa.RSAPrivateKey:
        return self.pending.result()

    def run_async(self) -> Awaitable[rsa.RSAPrivateKey]:
        return asyncio.wrap_future(self.pending)


class SpareKey:
    """One key made ahead of need: `start` makes it in a daemon thread, the first `take` gets it.

    The thread makes one key and ends (it holds nothing once the key is made, so closing the
    services leaves no thread behind, and being a daemon it never holds up the interpreter's
    exit). cryptography releases the GIL while OpenSSL makes an RSA key (pyca/cryptography
    #14370), so other threads and the event loop run meanwhile. A process forked after `start`
    (a pre-forking server) does not take it: the thread did not follow the fork, and the
    children must not share one key.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = False
        self._pid = 0
        self._pending: list[Future[rsa.RSAPrivateKey]] = []

    def start(self, factory: Callable[[], rsa.RSAPrivateKey]) -> None:
        """Start making the key (once; later calls do nothing)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._pid = os.getpid()
        pending: Future[rsa.RSAPrivateKey] = Future()
        self._pending.append(pending)
        threading.Thread(
            target=_make_key, args=(pending, factory), name="identity-web-spare-key", daemon=True
        ).start()

    def take(self) -> Future[rsa.RSAPrivateKey] | None:
        """The spare key (done, or being made), once; None when there is none, or in a process
        forked after `start` (no lock: a step calls it)."""
        if self._pid != os.getpid():
            return None
        try:
            return self._pending.pop()
        except IndexError:
            return None


def _make_key(pending: Future[rsa.RSAPrivateKey], factory: Callable[[], rsa.RSAPrivateKey]) -> None:
    try:
        pending.set_result(factory())
    except Exception as error:  # raised to the step that takes the key
        pending.set_exception(error)


@dataclass(frozen=True, slots=True)
class SoftwareKeyProvider:
    """RSA-2048 in this process's memory (never written anywhere).

    `prepare()` starts making the first key in the background (when the services are built and
    the settings ask a managed identity for bound tokens), so the first IMDS v2 certificate does
    not wait the whole key generation; later keys are made when needed.
    """

    factory: Callable[[], rsa.RSAPrivateKey] = field(default=imds_v2.generate_key, repr=False)
    kind: str = "software-rsa"
    _spare: SpareKey = field(default_factory=SpareKey, init=False, repr=False, compare=False)

    def prepare(self) -> None:
        self._spare.start(self.factory)

    def key_step(self) -> Step[rsa.RSAPrivateKey]:
        pending = self._spare.take()
        effect = GenerateKey(self.factory) if pending is None else TakeKey(pending)
        key: rsa.RSAPrivateKey = yield effect
        return key


@dataclass(frozen=True, slots=True)
class Attest(Blocking):
    """Effect: an attestation token from a blocking function (off the event loop)."""

    function: Callable[[str, rsa.RSAPrivateKey], str] = field(repr=False)
    endpoint: str
    key: rsa.RSAPrivateKey = field(repr=False)

    def run(self) -> str:
        return self.function(self.endpoint, self.key)


@dataclass(frozen=True, slots=True)
class BlockingAttestationProvider:
    """An attestation provider from a plain function `(endpoint, key) -> token` (it may block:
    it runs in a worker thread on the async side)."""

    function: Callable[[str, rsa.RSAPrivateKey], str] = field(repr=False)
    mode: str = "custom"

    def attestation_step(self, endpoint: str, key: rsa.RSAPrivateKey, csr: str) -> Step[str]:
        token: str = yield Attest(self.function, endpoint, key)
        return token


@dataclass(frozen=True, slots=True)
class SoftwareAttestationProvider:
    """Attests a software key with the identity-web emulator's attestation authority."""

    mode: str = "software"

    def attestation_step(self, endpoint: str, key: rsa.RSAPrivateKey, csr: str) -> Step[str]:
        url = f"{endpoint.rstrip('/')}/attest/software"
        response = yield HttpRequest(
            "POST", url, json_body={"csr": csr}, timeout=ATTESTATION_TIMEOUT
        )
        body = response.json_object() if response.status == 200 else None
        token = body.get("token") if body is not None else None
        if not isinstance(token, str) or not token:
            raise AttestationError(
                f"the attestation authority {endpoint} did not attest the key (HTTP "
                f"{response.status}: {body_excerpt(response) or 'no token'})"
            )
        return token


KEY_PROVIDER_KEY = "ManagedIdentity.KeyProvider"
ATTESTATION_KEY = "ManagedIdentity.Attestation"


def key_provider_from(environ: Mapping[str, str], configured: str | None = None) -> KeyProvider:
    """The key provider the setting `configured`, else the variable, names (default software)."""
    name, where = _chosen(environ, KEY_PROVIDER_VARIABLE, configured, KEY_PROVIDER_KEY)
    if name.casefold() in ("", "software"):
        return SoftwareKeyProvider()
    return cast(KeyProvider, _plugin(name, where, "software", ("kind", "key_step")))


def attestation_from(
    environ: Mapping[str, str], configured: str | None = None
) -> AttestationProvider | None:
    """The attestation provider the setting `configured`, else the variable, names (default
    none)."""
    name, where = _chosen(environ, ATTESTATION_VARIABLE, configured, ATTESTATION_KEY)
    if name.casefold() in ("", "none"):
        return None
    if name.casefold() == "software":
        return SoftwareAttestationProvider()
    members = ("mode", "attestation_step")
    return cast(AttestationProvider, _plugin(name, where, "none, software", members))


def _chosen(
    environ: Mapping[str, str], variable: str, configured: str | None, key: str
) -> tuple[str, str]:
    """(the name, where it came from): a setting wins over the variable."""
    if configured is not None and configured.strip():
        return configured.strip(), key
    return environ.get(variable, "").strip(), variable


def _plugin(name: str, where: str, builtin: str, members: tuple[str, ...]) -> object:
    """The provider a plug-in factory makes; a `ConfigurationError` naming `where` otherwise."""
    if not is_plugin_name(name):
        raise _unknown(where, f"found {name!r}; allowed: {builtin} or 'package.module:factory'")
    try:
        provider = plugin_factory(name)()
    except ValueError as error:
        raise _unknown(where, str(error)) from error
    missing = [member for member in members if not hasattr(provider, member)]
    if missing:
        raise _unknown(where, f"{name} made {type(provider).__name__}, without {missing}")
    return provider


def _unknown(where: str, message: str) -> ConfigurationError:
    return ConfigurationError([ConfigurationProblem(where, message)])
