"""The emulated tenant's directory: app registrations, managed identities and resources."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from cryptography import x509

from identity_web.emulator._pki import thumbprint_s256, thumbprint_sha1

ManagedIdentityKind = Literal["SystemAssigned", "UserAssigned"]

TOKEN_EXCHANGE_AUDIENCE = "api://AzureADTokenExchange"
#: The audiences Entra accepts on a federated identity credential: the public cloud's and its
#: sovereign twins (Azure US Government, Azure operated by 21Vianet).
TOKEN_EXCHANGE_AUDIENCES = (
    TOKEN_EXCHANGE_AUDIENCE,
    "api://AzureADTokenExchangeUSGov",
    "api://AzureADTokenExchangeChina",
)


def new_guid() -> str:
    return str(uuid.uuid4())


@dataclass(slots=True, eq=False)
class AppRegistration:
    """A confidential client application and its service principal.

    `certificates` are the registered public certificates (no private keys: the identity
    provider never has them). `federated_managed_identities` lists the client ids of managed
    identities whose `api://AzureADTokenExchange` tokens this app accepts as client assertions
    (a federated identity credential). `mtls_client_auth_enabled` is the app's enrolment for
    the mTLS token endpoint: False yields AADSTS51000 there.
    """

    client_id: str
    display_name: str = "identity-web emulator app"
    client_secret: str | None = field(default=None, repr=False)
    certificates: list[x509.Certificate] = field(default_factory=list, repr=False)
    federated_managed_identities: list[str] = field(default_factory=list)
    object_id: str = field(default_factory=new_guid)
    mtls_client_auth_enabled: bool = True

    def certificate_by_thumbprint(
        self, *, x5t_s256: str | None = None, x5t: str | None = None
    ) -> x509.Certificate | None:
        """The registered certificate with this `x5t#S256` or `x5t` (SHA-1), if any.

        Base64url padding is ignored: MSAL Python sends padded thumbprints and ESTS accepts them.
        """
        x5t_s256 = x5t_s256.rstrip("=") if x5t_s256 else None
        x5t = x5t.rstrip("=") if x5t else None
        for certificate in self.certificates:
            if x5t_s256 and thumbprint_s256(certificate) == x5t_s256:
                return certificate
            if x5t and thumbprint_sha1(certificate) == x5t:
                return certificate
        return None

    def thumbprints(self) -> list[str]:
        """`x5t#S256` of every registered certificate."""
        return [thumbprint_s256(certificate) for certificate in self.certificates]

    def trusts_managed_identity(self, client_id: str) -> bool:
        wanted = client_id.lower()
        return any(mi.lower() == wanted for mi in self.federated_managed_identities)


@dataclass(frozen=True, slots=True)
class ManagedIdentity:
    """A system- or user-assigned managed identity attached to the emulated compute."""

    kind: ManagedIdentityKind
    client_id: str
    object_id: str
    resource_id: str
    name: str = ""

    @classmethod
    def create(
        cls, kind: ManagedIdentityKind, name: str, *, subscription: str, resource_group: str
    ) -> ManagedIdentity:
        provider = (
            "Microsoft.ManagedIdentity/userAssignedIdentities"
            if kind == "UserAssigned"
            else "Microsoft.Compute/virtualMachines"
        )
        resource_id = (
            f"/subscriptions/{subscription}/resourceGroups/{resource_group}"
            f"/providers/{provider}/{name}"
        )
        return cls(kind, new_guid(), new_guid(), resource_id, name)


@dataclass(frozen=True, slots=True)
class Resource:
    """A resource (API) the tenant can issue tokens for.

    `identifier_uris` are the application id URIs (`api://<guid>`, `https://vault.azure.net`);
    a token's `aud` is the URI the client asked for. `bound_tokens_enabled` is the resource's
    enrolment for certificate-bound (mtls_pop) tokens: False yields AADSTS392196.
    """

    app_id: str
    identifier_uris: tuple[str, ...]
    display_name: str = ""
    bound_tokens_enabled: bool = True

    def matches(self, audience: str) -> bool:
        wanted = _normalize(audience)
        return wanted == self.app_id.lower() or any(
            wanted == _normalize(uri) for uri in self.identifier_uris
        )


def _normalize(audience: str) -> str:
    return audience.rstrip("/").lower()


class ResourceRegistry:
    """Thread-safe list of resources, looked up by application id URI or app id (GUID)."""

    def __init__(self, resources: list[Resource] | None = None) -> None:
        self._lock = threading.Lock()
        self._resources: list[Resource] = list(resources or [])

    def add(self, resource: Resource) -> Resource:
        with self._lock:
            self._resources.append(resource)
        return resource

    def find(self, audience: str) -> Resource | None:
        with self._lock:
            return next((r for r in self._resources if r.matches(audience)), None)

    def set_bound_tokens_enabled(self, audience: str, enabled: bool) -> None:
        """Enrol (or un-enrol) a resource for certificate-bound tokens."""
        with self._lock:
            for index, resource in enumerate(self._resources):
                if resource.matches(audience):
                    self._resources[index] = Resource(
                        resource.app_id,
                        resource.identifier_uris,
                        resource.display_name,
                        enabled,
                    )
                    return
        raise KeyError(audience)

    def __iter__(self) -> Iterator[Resource]:
        with self._lock:
            return iter(list(self._resources))


def default_resources(demo_app_id: str) -> list[Resource]:
    """The demo resource (bound tokens on), Microsoft-like resources, and the exchange audience."""
    return [
        Resource(demo_app_id, (f"api://{demo_app_id}",), "identity-web demo API", True),
        Resource(new_guid(), ("https://vault.azure.net",), "Azure Key Vault", True),
        Resource(new_guid(), ("https://graph.microsoft.com",), "Microsoft Graph", True),
        Resource(new_guid(), ("https://management.azure.com",), "Azure Resource Manager", False),
        Resource(new_guid(), TOKEN_EXCHANGE_AUDIENCES, "AzureADTokenExchange", True),
    ]
