"""`SourceType: KeyVault` — a certificate with its private key, from Azure Key Vault.

Key Vault keeps a certificate's private key in the secret of the same name (Key Vault
"certificate secrets"); `GET {KeyVaultUrl}/secrets/{KeyVaultCertificateName}?api-version=7.4`
returns its latest version: `value` is the base64 of a PFX (`contentType:
application/x-pkcs12`) or PEM text (`application/x-pem-file`). The loader turns it into a
`BindingCertificate` in memory, like every other certificate source; the key never touches a
file.

The token comes from identity-web itself: a managed identity token for the vault's resource
(`https://vault.azure.net/.default`, or the sovereign cloud's), from the system-assigned
identity unless the entry names `ManagedIdentityClientId`, as Identity.Web does.

How the secret is fetched is a seam, `KeyVaultSecretFetcher`: the container wires
`KeyVaultHttpFetcher` (the package's token acquirer, plus an httpx client with the package's
trust roots). Loading runs when the credential is first needed and again after Entra rejects the
certificate (the reload-once rule of `CredentialsProvider.reset()`), so a rotated certificate's
new version is picked up then. The fetch is synchronous: credentials load off the event loop.
"""

from __future__ import annotations

import base64
import binascii
import logging
import ssl
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import quote, urlsplit

import httpx

from identity_web._errors import IdentityWebError
from identity_web.credentials._certificates import check_validity, from_pem, from_pkcs12
from identity_web.credentials._errors import (
    IncompleteCredentialError,
    KeyVaultError,
    MalformedCredentialError,
)
from identity_web.credentials._types import CertificateCredential
from identity_web.protocol._http import IDENTITY_DEADLINE
from identity_web.settings import AcquireTokenOptions, CredentialDescription
from identity_web.transport._deadline import Deadline, send_within

if TYPE_CHECKING:
    from identity_web.protocol import BindingCertificate

logger = logging.getLogger(__name__)

API_VERSION = "7.4"
URL_KEY = "KeyVaultUrl"
NAME_KEY = "KeyVaultCertificateName"
PKCS12 = "application/x-pkcs12"
PEM = "application/x-pem-file"
DEFAULT_RESOURCE = "https://vault.azure.net"
#: The Key Vault resource of each cloud, by the suffix of the vault's host name.
CLOUD_RESOURCES = {
    ".vault.azure.net": DEFAULT_RESOURCE,
    ".vault.usgovcloudapi.net": "https://vault.usgovcloudapi.net",
    ".vault.azure.cn": "https://vault.azure.cn",
}


class KeyVaultSecretFetcher(Protocol):
    """Returns the JSON of `GET {vault_url}/secrets/{name}` (latest version), or raises
    `KeyVaultError`; `managed_identity_client_id` selects the identity of the token (None:
    system-assigned)."""

    def __call__(
        self, vault_url: str, name: str, *, managed_identity_client_id: str | None
    ) -> Mapping[str, Any]: ...


class AppTokenResult(Protocol):
    @property
    def access_token(self) -> str: ...


class AppTokens(Protocol):
    """The part of `TokenAcquirer` the fetcher uses."""

    def acquire_token_for_app(self, scope: str, options: Any = None) -> AppTokenResult: ...


def vault_scope(vault_url: str) -> str:
    """`<Key Vault resource of the vault's cloud>/.default`; the public cloud's by default."""
    host = (urlsplit(vault_url).hostname or "").lower()
    resource = next(
        (value for suffix, value in CLOUD_RESOURCES.items() if host.endswith(suffix)),
        DEFAULT_RESOURCE,
    )
    return f"{resource}/.default"


def secret_url(vault_url: str, name: str) -> str:
    return f"{vault_url.rstrip('/')}/secrets/{quote(name, safe='')}"


class KeyVaultHttpFetcher:
    """`KeyVaultSecretFetcher` over HTTPS with a managed identity token from `acquirer`.

    `acquirer` is called at fetch time (the acquirer is built after the credential loaders);
    `ca_bundle` is the package's trust (None: the system store); `timeout` bounds each phase of
    the request, `deadline` the whole of it (`transport._deadline`).
    """

    def __init__(
        self,
        acquirer: Callable[[], AppTokens],
        *,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        deadline: float = IDENTITY_DEADLINE,
    ) -> None:
        self._acquirer = acquirer
        self._ca_bundle = ca_bundle
        self._timeout = timeout
        self._deadline = deadline

    def __call__(
        self, vault_url: str, name: str, *, managed_identity_client_id: str | None
    ) -> Mapping[str, Any]:
        token = self._token(vault_url, managed_identity_client_id)
        url = secret_url(vault_url, name)
        try:
            with httpx.Client(verify=self._trust(), timeout=self._timeout) as http:
                request = http.build_request(
                    "GET",
                    url,
                    params={"api-version": API_VERSION},
                    headers={"Authorization": f"Bearer {token}"},
                )
                response = send_within(http, request, Deadline(self._deadline))
        except httpx.HTTPError as error:
            raise KeyVaultError(
                f"cannot reach Key Vault at {url} ({type(error).__name__})", key=URL_KEY
            ) from error
        return _secret_json(response, url)

    def _token(self, vault_url: str, client_id: str | None) -> str:
        identity = {"UserAssignedClientId": client_id} if client_id else {}
        options = AcquireTokenOptions.model_validate({"ManagedIdentity": identity})
        scope = vault_scope(vault_url)
        try:
            return self._acquirer().acquire_token_for_app(scope, options).access_token
        except IdentityWebError as error:
            who = f"the managed identity {client_id}" if client_id else "the system identity"
            raise KeyVaultError(
                f"{who} could not get a token for {scope} ({type(error).__name__}: {error})",
                key="ManagedIdentityClientId" if client_id else "",
            ) from error

    def _trust(self) -> ssl.SSLContext:
        """The system roots plus `ca_bundle`, as the package's transport trusts them."""
        context = ssl.create_default_context()
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if self._ca_bundle:
            try:
                context.load_verify_locations(cafile=self._ca_bundle)
            except (OSError, ssl.SSLError) as error:
                raise KeyVaultError(
                    f"the CA bundle '{self._ca_bundle}' cannot be loaded ({error})", key=URL_KEY
                ) from error
        return context


def _secret_json(response: httpx.Response, url: str) -> Mapping[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code == 200 and isinstance(body, dict):
        return body
    error = body.get("error") if isinstance(body, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    detail = f"{code}: {message}" if code else f"an unexpected answer ({len(response.content)} B)"
    raise KeyVaultError(
        f"Key Vault answered {response.status_code} for {url}: {detail}",
        key=NAME_KEY if response.status_code == 404 else URL_KEY,
    )


class KeyVaultCertificateLoader:
    """Loads `KeyVaultUrl` + `KeyVaultCertificateName` into a `CertificateCredential`."""

    def __init__(
        self, fetcher: KeyVaultSecretFetcher, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._fetch = fetcher
        self._clock = clock

    def load(self, description: CredentialDescription) -> CertificateCredential:
        vault_url = _vault_url(description.key_vault_url)
        name = (description.key_vault_certificate_name or "").strip()
        if not name:
            raise IncompleteCredentialError(
                "SourceType KeyVault needs KeyVaultCertificateName, the certificate's name in "
                "the vault",
                key=NAME_KEY,
            )
        client_id = (description.managed_identity_client_id or "").strip() or None
        secret = self._fetch(vault_url, name, managed_identity_client_id=client_id)
        version = str(secret.get("id", "")).rstrip("/").rsplit("/", 1)[-1] or "latest"
        what = f"the Key Vault certificate '{name}' (version {version}) of {vault_url}"
        certificate = _certificate(secret, description.certificate_password, what)
        check_validity(certificate, self._clock(), what=what, key=NAME_KEY)
        logger.info("loaded %s, x5t#S256 %s", what, certificate.x5t_s256)
        return CertificateCredential(
            certificate=certificate,
            description_id=f"KeyVault={secret_url(vault_url, name)}/{version}",
        )


def _vault_url(value: str | None) -> str:
    url = (value or "").strip()
    if not url:
        raise IncompleteCredentialError(
            "SourceType KeyVault needs KeyVaultUrl, e.g. https://myvault.vault.azure.net",
            key=URL_KEY,
        )
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise MalformedCredentialError(
            f"KeyVaultUrl must be an https URL (found {url!r}); the certificate's private key "
            "never travels over plain HTTP",
            key=URL_KEY,
        )
    return url.rstrip("/")


def _certificate(secret: Mapping[str, Any], password: str | None, what: str) -> BindingCertificate:
    value = secret.get("value")
    if not isinstance(value, str) or not value.strip():
        raise MalformedCredentialError(f"{what} has no value", key=NAME_KEY)
    content_type = str(secret.get("contentType") or PKCS12).lower()
    if content_type == PEM:
        return from_pem(value.encode("utf-8"), password, what=what, key=NAME_KEY)
    if content_type != PKCS12:
        raise MalformedCredentialError(
            f"{what} has the content type {content_type!r}; expected {PKCS12} or {PEM} "
            "(is it a certificate's secret?)",
            key=NAME_KEY,
        )
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as error:
        raise MalformedCredentialError(f"{what} is not base64 PKCS#12", key=NAME_KEY) from error
    return from_pkcs12(data, password, what=what, key=NAME_KEY)
