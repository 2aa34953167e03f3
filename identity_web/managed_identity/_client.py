"""The managed identity client: picks the source, chains the protocol steps, caches certificates.

The token acquirer calls `ManagedIdentityClient.token_flow(...)` on a token-cache miss and runs
the returned flow with its transport. Bearer requests go to the detected source (IMDS v1, App
Service, Azure Arc, Cloud Shell, Service Fabric, Azure ML); bound (`mtls_pop`) requests go to
IMDS v2, whose certificate (and in-memory key) is cached here per identity and attestation mode
and reused while more than `certificate_min_remaining` seconds of validity remain.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric import rsa

from identity_web._errors import AttestationError, ManagedIdentityError, NetworkError, ServiceError
from identity_web.managed_identity._providers import (
    ATTESTATION_KEY,
    ATTESTATION_VARIABLE,
    AttestationProvider,
    KeyProvider,
    SoftwareKeyProvider,
    attestation_from,
    key_provider_from,
)
from identity_web.protocol import entra, imds_v2, retry
from identity_web.protocol._http import HttpRequest, HttpResponse
from identity_web.protocol._tokens import TokenResponse
from identity_web.protocol.expiry import CERTIFICATE_MARGIN
from identity_web.protocol.imds import (
    ManagedIdentityChoice,
    ManagedIdentityId,
    body_excerpt,
    imds_v1_flow,
    parse_managed_identity_token,
    resource_from_scope,
)
from identity_web.protocol.imds_v2 import IssuedCredential, PlatformMetadata
from identity_web.protocol.mi_sources import (
    ARC_AGENT_PATH_LINUX,
    ARC_KEY_DIRECTORY_LINUX,
    ARC_MAX_KEY_FILE_SIZE,
    DetectedSource,
    ManagedIdentitySource,
    app_service_request,
    arc_key_path,
    arc_request,
    cloud_shell_request,
    detect_source,
    machine_learning_request,
    require_supported_identity,
    service_fabric_request,
    source_error,
)
from identity_web.protocol.steps import FileExists, FileTooLargeError, ReadFile, Step
from identity_web.settings import ManagedIdentityProviderOptions

logger = logging.getLogger(__name__)

DEFAULT_CERTIFICATE_MIN_REMAINING = CERTIFICATE_MARGIN


class ManagedIdentityTokens(Protocol):
    """Managed identity tokens as steps (`ManagedIdentityClient`); used by the token acquirer
    and by the FIC assertion provider."""

    def token_flow(
        self,
        identity: ManagedIdentityId,
        scope: str,
        *,
        bound: bool,
        now: float,
        claims: str | None = None,
    ) -> Step[TokenResponse]: ...

    def forget_certificate(self, identity: ManagedIdentityId) -> None:
        """The next bound token of `identity` comes over a newly issued certificate."""
        ...


class ManagedIdentityClient:
    """Managed identity tokens for the token acquirer; one instance per application.

    The key and attestation providers: `key_provider` / `key_factory` / `attestation` in code,
    else `options` (the settings' `AzureAd.ManagedIdentity`), else the `IDENTITY_WEB_MI_*`
    variables of `environ`, else a software key without attestation. `retry_scale`
    multiplies every retry delay (tests use a tiny value); `arc_key_directory` and
    `arc_agent_path` are where the Azure Arc agent keeps its key files and binary;
    `prepare_key` starts making the first IMDS v2 key now, in the background (software keys).
    """

    def __init__(
        self,
        *,
        environ: Mapping[str, str] | None = None,
        certificate_min_remaining: float = DEFAULT_CERTIFICATE_MIN_REMAINING,
        attestation: AttestationProvider | None = None,
        key_factory: Callable[[], rsa.RSAPrivateKey] | None = None,
        key_provider: KeyProvider | None = None,
        options: ManagedIdentityProviderOptions | None = None,
        retry_scale: float = 1.0,
        arc_key_directory: str = ARC_KEY_DIRECTORY_LINUX,
        arc_agent_path: str = ARC_AGENT_PATH_LINUX,
        prepare_key: bool = False,
    ) -> None:
        self._environ: Mapping[str, str] = os.environ if environ is None else environ
        self._min_remaining = certificate_min_remaining
        chosen = options or ManagedIdentityProviderOptions()
        if key_provider is None:
            key_provider = (
                SoftwareKeyProvider(key_factory)
                if key_factory is not None
                else key_provider_from(self._environ, chosen.key_provider)
            )
        self._keys = key_provider
        if prepare_key and isinstance(key_provider, SoftwareKeyProvider):
            key_provider.prepare()  # the first IMDS v2 key, made while the services are built
        self._attestation = (
            attestation
            if attestation is not None
            else attestation_from(self._environ, chosen.attestation)
        )
        self._retry_scale = retry_scale
        self._arc_key_directory = arc_key_directory
        self._arc_agent_path = arc_agent_path
        # single dict operations only (atomic): no lock, so steps never wait on one
        self._certificates: dict[str, IssuedCredential] = {}

    def __repr__(self) -> str:
        return f"ManagedIdentityClient(source={self.detect().source.value})"

    def detect(self) -> DetectedSource:
        """The source the environment selects, now (blocking: it looks for the Arc agent)."""
        return detect_source(
            self._environ, arc_agent_installed=FileExists(self._arc_agent_path).run()
        )

    def detect_step(self) -> Step[DetectedSource]:
        """`detect` as a step (the driver looks for the Arc agent; nothing is remembered)."""
        installed: bool = yield FileExists(self._arc_agent_path)
        return detect_source(self._environ, arc_agent_installed=installed)

    def token_flow(
        self,
        identity: ManagedIdentityChoice,
        scope: str,
        *,
        bound: bool,
        now: float,
        claims: str | None = None,
    ) -> Step[TokenResponse]:
        """The flow that acquires one token for `scope` (`…/.default` or a bare resource)."""
        selected = ManagedIdentityId.of(identity)
        detected = yield from self.detect_step()
        require_supported_identity(detected, selected)
        resource = resource_from_scope(scope)
        if bound:
            return (yield from self._bound_flow(detected, selected, resource, now, claims))
        if claims:
            logger.debug("claims are not sent to managed identity endpoints for Bearer tokens")
        logger.info(
            "acquiring a managed identity token from %s for %s",
            detected.source.value,
            selected.describe(),
        )
        return (yield from self._bearer_flow(detected, selected, resource, now))

    # --- Bearer ---------------------------------------------------------------------------

    def _bearer_flow(
        self, detected: DetectedSource, identity: ManagedIdentityId, resource: str, now: float
    ) -> Step[TokenResponse]:
        source = detected.source
        if source is ManagedIdentitySource.IMDS:
            policy = retry.imds_policy(self._retry_scale)
            return (
                yield from imds_v1_flow(
                    detected.endpoint, resource, identity, now=now, retry=policy
                )
            )
        if source is ManagedIdentitySource.AZURE_ARC:
            return (yield from self._arc_flow(detected, identity, resource, now))
        request = self._source_request(detected, identity, resource)
        response = yield request
        if response.status != 200:
            raise source_error(detected, response, identity)
        return parse_managed_identity_token(response, now=now, endpoint=detected.endpoint)

    def _source_request(
        self, detected: DetectedSource, identity: ManagedIdentityId, resource: str
    ) -> HttpRequest:
        env = self._environ
        default = retry.managed_identity_default_policy(self._retry_scale)
        source = detected.source
        if source is ManagedIdentitySource.APP_SERVICE:
            return app_service_request(
                detected, env["IDENTITY_HEADER"], resource, identity, default
            )
        if source is ManagedIdentitySource.SERVICE_FABRIC:
            return service_fabric_request(
                detected,
                env["IDENTITY_HEADER"],
                env["IDENTITY_SERVER_THUMBPRINT"],
                resource,
                retry.service_fabric_policy(self._retry_scale),
            )
        if source is ManagedIdentitySource.MACHINE_LEARNING:
            client_id = identity.value or env.get("DEFAULT_IDENTITY_CLIENT_ID", "")
            return machine_learning_request(
                detected, env["MSI_SECRET"], resource, client_id, default
            )
        return cloud_shell_request(detected, resource, default)

    def _arc_flow(
        self, detected: DetectedSource, identity: ManagedIdentityId, resource: str, now: float
    ) -> Step[TokenResponse]:
        policy = retry.managed_identity_default_policy(self._retry_scale)
        response = yield arc_request(detected, resource, policy)
        if response.status == 401:
            path = arc_key_path(response, self._arc_key_directory)
            try:
                content: bytes = yield ReadFile(path, limit=ARC_MAX_KEY_FILE_SIZE)
            except FileTooLargeError as error:
                raise ManagedIdentityError(
                    f"The Azure Arc key file {path} is {error.size} bytes, more than the "
                    f"{ARC_MAX_KEY_FILE_SIZE} allowed; refusing to read it."
                ) from error
            except OSError as error:
                raise ManagedIdentityError(
                    f"Cannot read the Azure Arc key file {path} ({error.strerror}); the process "
                    "must run as a user in the 'himds' group (or as root)."
                ) from error
            key = content.decode("utf-8").strip()
            response = yield arc_request(detected, resource, policy, authorization=key)
        if response.status != 200:
            raise source_error(detected, response, identity)
        return parse_managed_identity_token(response, now=now, endpoint=detected.endpoint)

    # --- mTLS PoP (IMDS v2) ---------------------------------------------------------------

    def _bound_flow(
        self,
        detected: DetectedSource,
        identity: ManagedIdentityId,
        resource: str,
        now: float,
        claims: str | None,
    ) -> Step[TokenResponse]:
        if detected.source is not ManagedIdentitySource.IMDS:
            raise ManagedIdentityError(
                f"mTLS PoP tokens for managed identity need IMDS v2, but the environment "
                f"selects {detected.source.value} ({detected.reason}). Use ProtocolScheme "
                "Bearer here."
            )
        base = detected.endpoint
        policy = retry.imds_policy(self._retry_scale)
        response = yield imds_v2.platform_metadata_request(base, identity, policy)
        metadata = imds_v2.parse_platform_metadata(response, identity)
        cache_key = self._certificate_key(identity)
        credential = self._cached_certificate(cache_key, now)
        for attempt in (1, 2):
            if credential is None:
                credential = yield from self._issue(base, identity, metadata, cache_key, now)
            leg = imds_v2.mtls_token_flow(
                credential,
                resource,
                claims=claims,
                now=now,
                retry=retry.sts_policy(self._retry_scale),
            )
            try:
                return (yield from leg)
            except (ServiceError, NetworkError) as error:
                if attempt == 2 or not rejects_certificate(error):
                    explained = (
                        entra.explain_mtls_error(error) if isinstance(error, ServiceError) else None
                    )
                    if explained is None:
                        raise
                    raise explained from error
                logger.warning(
                    "mTLS token endpoint refused the IMDS certificate %s (%s); re-issuing it once",
                    credential.binding.x5t_s256,
                    _reason(error),
                )
                self._evict(cache_key)
                credential = None
        raise AssertionError("unreachable")  # pragma: no cover

    def _issue(
        self,
        base: str,
        identity: ManagedIdentityId,
        metadata: PlatformMetadata,
        cache_key: str,
        now: float,
    ) -> Step[IssuedCredential]:
        key = yield from self._keys.key_step()
        csr = imds_v2.build_csr(key, metadata)
        attestation = ""
        if self._attestation is not None:
            attestation = yield from self._attestation.attestation_step(
                self._attestation_endpoint(metadata), key, csr
            )
        response = yield imds_v2.issue_credential_request(
            base, identity, csr, attestation, retry.imds_policy(self._retry_scale)
        )
        check_attestation_answer(response, attested=self._attestation is not None)
        credential = imds_v2.parse_issued_credential(response, key, identity)
        logger.info(
            "IMDS issued binding certificate %s for %s, valid until %s",
            credential.binding.x5t_s256,
            identity.describe(),
            credential.binding.not_after.isoformat(),
        )
        if self._remaining(credential, now) > self._keep_while(credential):
            self._certificates[cache_key] = credential
        return credential

    def _keep_while(self, credential: IssuedCredential) -> float:
        """Seconds of validity below which a certificate is not reused: the configured minimum
        (a day), but never more than a fixed fraction of the certificate's own lifetime, so
        a short-lived certificate is reused too instead of re-minted on every cache miss."""
        binding = credential.binding
        lifetime = (binding.not_after - binding.not_before).total_seconds()
        return min(self._min_remaining, CERTIFICATE_RENEW_FRACTION * max(lifetime, 0.0))

    def _certificate_key(self, identity: ManagedIdentityId) -> str:
        """Per identity, key kind and attestation mode (as MSAL.NET keys its certificates)."""
        mode = self._attestation.mode if self._attestation is not None else "none"
        return f"{identity.cache_key}#key={self._keys.kind}#att={mode}"

    def _attestation_endpoint(self, metadata: PlatformMetadata) -> str:
        """Only an attesting client needs `attestationEndpoint`; it must be https."""
        endpoint = metadata.attestation_endpoint
        if not endpoint or not endpoint.lower().startswith("https://"):
            raise AttestationError(
                f"the attestation provider ({self._attestation_mode()}) needs the host's "
                "attestationEndpoint, but getplatformmetadata named "
                f"{endpoint or 'none'}: this host offers no attestation; set "
                f"AzureAd.{ATTESTATION_KEY} to None (and no {ATTESTATION_VARIABLE})"
            )
        return endpoint

    def _attestation_mode(self) -> str:
        return self._attestation.mode if self._attestation is not None else "none"

    def describe_providers(self) -> dict[str, str]:
        """The key kind and attestation mode in use (for diagnostics)."""
        return {"key_provider": self._keys.kind, "attestation": self._attestation_mode()}

    @staticmethod
    def _remaining(credential: IssuedCredential, now: float) -> float:
        return credential.binding.not_after.timestamp() - now

    def _cached_certificate(self, cache_key: str, now: float) -> IssuedCredential | None:
        credential = self._certificates.get(cache_key)
        if credential is None:
            return None
        if self._remaining(credential, now) > self._keep_while(credential):
            return credential
        self._certificates.pop(cache_key, None)
        logger.info(
            "IMDS certificate %s is near expiry; issuing a new one", credential.binding.x5t_s256
        )
        return None

    def _evict(self, cache_key: str) -> None:
        self._certificates.pop(cache_key, None)

    def forget_certificate(self, identity: ManagedIdentityId) -> None:
        """Drop `identity`'s cached IMDS v2 certificate: its next bound token is issued over a
        new one (the FIC leg 2 refused the certificate)."""
        self._evict(self._certificate_key(identity))

    def clear_certificates(self) -> None:
        """Forget every cached IMDS certificate (the next bound request issues a new one)."""
        self._certificates.clear()


#: A certificate is re-issued when less than this fraction of its lifetime is left (or less
#: than `certificate_min_remaining`, whichever comes first).
CERTIFICATE_RENEW_FRACTION = 0.5
#: AADSTS codes on the mTLS host that mean "this client certificate is not good": the
#: certificate reload codes (bad key, expired, revoked) and 1000610-1000614 (the attestation
#: inside an IMDS certificate is invalid, wire-protocol §6): the certificate is re-issued once.
CERTIFICATE_REJECTED_CODES = (*entra.CERTIFICATE_RELOAD_CODES, *range(1000610, 1000615))


def rejects_certificate(error: ServiceError | NetworkError) -> bool:
    """The token leg failed because of the certificate: TLS failed, `invalid_client`, or an
    AADSTS certificate code. One re-issue and retry follow, never more."""
    if isinstance(error, NetworkError):
        return True
    return error.error == "invalid_client" or error.has_code(*CERTIFICATE_REJECTED_CODES)


def _reason(error: ServiceError | NetworkError) -> str:
    if isinstance(error, NetworkError):
        return "no answer: TLS or connection failure"
    codes = ",".join(f"AADSTS{code}" for code in error.error_codes)
    return f"{error.error} {codes}".strip()


def check_attestation_answer(response: HttpResponse, *, attested: bool) -> None:
    """IMDS refused `issuecredential` for want of (valid) attestation: a typed error that says
    what this host needs (`AttestationError`), instead of a bare HTTP 400."""
    if response.status != 400 or b"Attestation Token" not in response.body:
        return
    excerpt = body_excerpt(response)
    if attested:
        raise AttestationError(
            f"IMDS refused the attestation token of the IMDS v2 certificate request: {excerpt}. "
            "The attestation provider's token is not accepted by this host's authority."
        )
    raise AttestationError(
        f"IMDS requires an attested key for an mTLS PoP certificate on this host: {excerpt}. "
        f"Configure an attestation provider (AzureAd.{ATTESTATION_KEY}: Software, or "
        f"{ATTESTATION_VARIABLE}=software, against the identity-web emulator; on Azure, a "
        "KeyGuard/Azure Attestation plug-in), or use ProtocolScheme Bearer."
    )
