"""`TokenAcquirerFactory`: load settings, register downstream APIs, build the services.

    factory = TokenAcquirerFactory.get_default_instance()       # reads ./appsettings.json …
    factory.add_downstream_api("MyApi")
    services = factory.build()
    response = services.downstream_api.call("MyApi")

`get_default_instance()` is a process-wide singleton (as in Identity.Web); a factory can also
be made directly with `TokenAcquirerFactory.from_config_dir(...)` or from validated settings.

Importing this module costs only the standard library: the settings models (pydantic), the
container (dependency-injector), httpx and the adapters are imported when a factory is made,
so `from identity_web import TokenAcquirerFactory` stays as cheap as `import msal`
(tests/e2e/test_import_cost.py holds the module set, `python -m bench.imports` the time).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Collection, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, ClassVar, Self

from identity_web._errors import IdentityWebError

if TYPE_CHECKING:
    import httpx

    from identity_web.acquisition import TokenAcquirer
    from identity_web.acquisition._headers import AuthorizationHeaderProvider
    from identity_web.adapters.azure_core import AsyncIdentityWebCredential, IdentityWebCredential
    from identity_web.adapters.httpx_client import HeaderAuth
    from identity_web.adapters.requests_client import RequestsHeaderAuth
    from identity_web.container import IdentityWebContainer
    from identity_web.downstream import DownstreamApi
    from identity_web.settings import IdentityWebSettings

logger = logging.getLogger(__name__)

#: `settings.DEFAULT_SECTION`, spelled here so importing this module builds no settings model
#: (tests/e2e/test_import_cost.py checks that the two agree).
DEFAULT_SECTION = "AzureAd"


class ServiceProvider:
    """The built services. Close it (or use it as a context manager) to release connections."""

    def __init__(self, container: IdentityWebContainer) -> None:
        self._container = container
        self.settings: IdentityWebSettings = container.settings()
        self.downstream_api: DownstreamApi = container.downstream_api()
        self.authorization_header_provider: AuthorizationHeaderProvider = (
            container.authorization_header_provider()
        )
        self.token_acquirer: TokenAcquirer = container.token_acquirer()
        self._closed = False

    @property
    def container(self) -> IdentityWebContainer:
        return self._container

    # -- bridges to the ecosystem (identity_web.adapters; docs/ecosystem.md) -----------------

    def token_credential(
        self, name: str | None = None, *, additionally_allowed_tenants: Collection[str] = ()
    ) -> IdentityWebCredential:
        """An azure-core `TokenCredential` + `SupportsTokenInfo` (Bearer; needs `[azure]`)."""
        from identity_web import adapters  # noqa: PLC0415 - imported on first use

        return adapters.token_credential(self, name, additionally_allowed_tenants)

    def async_token_credential(
        self, name: str | None = None, *, additionally_allowed_tenants: Collection[str] = ()
    ) -> AsyncIdentityWebCredential:
        """An azure-core `AsyncTokenCredential` + `AsyncSupportsTokenInfo` (needs `[azure]`)."""
        from identity_web import adapters  # noqa: PLC0415 - imported on first use

        return adapters.async_token_credential(self, name, additionally_allowed_tenants)

    def httpx_auth(self, name: str | None = None, *, scope: str | None = None) -> HeaderAuth:
        """An `httpx.Auth` attaching section `name`'s (or `scope`'s) Bearer header."""
        from identity_web import adapters  # noqa: PLC0415 - imported on first use

        return adapters.httpx_auth(self, name, scope)

    def requests_auth(
        self, name: str | None = None, *, scope: str | None = None
    ) -> RequestsHeaderAuth:
        """A `requests.auth.AuthBase` attaching the Bearer header (needs `[requests]`)."""
        from identity_web import adapters  # noqa: PLC0415 - imported on first use

        return adapters.requests_auth(self, name, scope)

    def http_client(self, name: str) -> httpx.Client:
        """An `httpx.Client` for section `name`, auth attached, bound for `MTLS_POP`."""
        from identity_web import adapters  # noqa: PLC0415 - imported on first use

        return adapters.http_client(
            self, name, self._container.ca_bundle(), self._container.connect_to()
        )

    def async_http_client(self, name: str) -> httpx.AsyncClient:
        """An `httpx.AsyncClient` for section `name`, auth attached, bound for `MTLS_POP`."""
        from identity_web import adapters  # noqa: PLC0415 - imported on first use

        return adapters.async_http_client(
            self, name, self._container.ca_bundle(), self._container.connect_to()
        )

    def close(self) -> None:
        """Close the HTTP clients (idempotent)."""
        if not self._closed:
            self._closed = True
            self._container.shutdown_resources()

    async def aclose(self) -> None:
        """Close the async HTTP clients and the Redis cache's client of this loop too, then
        everything `close()` closes (in a worker thread: closing takes the pools' locks and the
        sync clients' sockets)."""
        import asyncio  # noqa: PLC0415 - imported on first use

        if not self._closed and self._container.transport.initialized:
            await self._container.transport().aclose()
        if not self._closed and self._container.token_caches.initialized:
            cache_aclose = getattr(self._container.token_cache(), "aclose", None)
            if cache_aclose is not None:  # a distributed cache: its Redis client on this loop
                await cache_aclose()
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


class TokenAcquirerFactory:
    """Holds the settings and the container until `build()`."""

    _default: ClassVar[TokenAcquirerFactory | None] = None
    _default_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(
        self, settings: IdentityWebSettings, *, environ: Mapping[str, str] | None = None
    ) -> None:
        self._settings = settings
        self._names: list[str] = []
        self._built = False
        self._lock = threading.Lock()
        from identity_web.container import IdentityWebContainer  # noqa: PLC0415 - on first use

        self.container = IdentityWebContainer(settings=settings)
        if environ is not None:
            self.container.environ.override(dict(environ))

    @classmethod
    def from_config_dir(
        cls,
        config_dir: str | os.PathLike[str] | None = None,
        *,
        section: str = DEFAULT_SECTION,
        environ: Mapping[str, str] | None = None,
    ) -> TokenAcquirerFactory:
        """A new factory over the settings in `config_dir` (default: the current directory)."""
        from identity_web.settings import load_settings  # noqa: PLC0415 - on first use

        directory = Path(config_dir) if config_dir is not None else Path.cwd()
        loaded = load_settings(directory, section=section, environ=environ)
        return cls(loaded.settings, environ=environ)

    @classmethod
    def get_default_instance(
        cls,
        config_dir: str | os.PathLike[str] | None = None,
        *,
        section: str = DEFAULT_SECTION,
        environ: Mapping[str, str] | None = None,
    ) -> TokenAcquirerFactory:
        """The process-wide factory, created on first call; later arguments are ignored."""
        instance = cls._default
        if instance is None:
            with cls._default_lock:
                instance = cls._default
                if instance is None:
                    instance = cls.from_config_dir(config_dir, section=section, environ=environ)
                    cls._default = instance
        return instance

    @classmethod
    def reset_default_instance(cls) -> None:
        """Forget the process-wide factory (tests), so the next call loads settings again."""
        with cls._default_lock:
            cls._default = None

    @property
    def settings(self) -> IdentityWebSettings:
        return self._settings

    def add_downstream_api(self, name: str) -> Self:
        """Register the downstream API section `name` (validated now; errors name the key)."""
        with self._lock:
            self._check_not_built("add_downstream_api()")
            self._settings.downstream_api(name)
            if name.casefold() not in (known.casefold() for known in self._names):
                self._names.append(name)
        return self

    def build(self) -> ServiceProvider:
        """Create the services. Allowed once per factory.

        Runs every check that can be made before the network (`settings.check_build`, the
        same function as `identity-web config validate`): a ConfigurationError names each
        problem of the application section and of the registered downstream APIs."""
        with self._lock:
            self._check_not_built("build()")
            from identity_web.settings import check_build  # noqa: PLC0415 - on first use

            check_build(self._settings, self._names)
            self._built = True
            self.container.downstream_api_names.override(tuple(self._names))
        return ServiceProvider(self.container)

    def _check_not_built(self, what: str) -> None:
        if self._built:
            raise BuildError(
                f"build() was already called on this TokenAcquirerFactory; {what} must come "
                "before it. Keep the ServiceProvider that build() returned, or create a new "
                "factory (TokenAcquirerFactory.reset_default_instance() in tests)."
            )


class BuildError(IdentityWebError):
    """`build()` was called twice, or the factory was changed after `build()`."""
