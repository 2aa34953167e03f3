"""The production host names the emulator answers to, and the map that routes them to it.

Entra's login hosts and their mTLS twins (wire-protocol.md §2.2), and IMDS's link-local address,
are served on the emulator's loopback listeners. A client reaches them through a resolver seam
(the idea of curl's `--connect-to`): the manifest's `resolve` map and the env file's
`IDENTITY_WEB_CONNECT_TO` say which loopback port stands for which `host:port`. Each login host
and each mTLS host gets a TLS certificate naming it, issued by the emulator CA; a request's
`Host` header tells the emulator which name the client addressed, so that the OpenID
configuration and IMDS v2 answer with production URLs to production names and with loopback
URLs to `127.0.0.1`.
"""

from __future__ import annotations

from dataclasses import dataclass

IMDS_ADDRESS = "169.254.169.254"
#: Key Vault: every `{vault}.vault.azure.net` name reaches the emulator's vault listener.
VAULT_SUFFIX = ".vault.azure.net"
VAULT_HOST = "identityweb-emulator.vault.azure.net"
CONNECT_TO_VARIABLE = "IDENTITY_WEB_CONNECT_TO"
#: Regions named explicitly in the resolve map; any other region is covered by a wildcard.
REGIONS = ("westus3",)


@dataclass(frozen=True, slots=True)
class Cloud:
    """A cloud's login host, its mTLS host (§2.2 static rule) and its `cloud_instance_name`."""

    login: str
    mtls: str
    instance_name: str


CLOUDS = (
    Cloud("login.microsoftonline.com", "mtlsauth.microsoft.com", "microsoftonline.com"),
    Cloud("login.microsoftonline.us", "mtlsauth.microsoftonline.us", "microsoftonline.us"),
    Cloud(
        "login.partner.microsoftonline.cn",
        "mtlsauth.partner.microsoftonline.cn",
        "partner.microsoftonline.cn",
    ),
)
PUBLIC_CLOUD = CLOUDS[0]


def host_name(host_header: str) -> str:
    """The name of a `Host` header, lower-cased, without port or brackets."""
    value = host_header.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def cloud_of_login(host_header: str) -> Cloud | None:
    """The cloud whose login host the request addressed, if it addressed one by name."""
    name = host_name(host_header)
    return next((cloud for cloud in CLOUDS if cloud.login == name), None)


def login_names() -> list[str]:
    return [cloud.login for cloud in CLOUDS]


def mtls_names() -> list[str]:
    """The mTLS hosts and, as wildcards, their regional names (`{region}.mtlsauth.…`)."""
    return [name for cloud in CLOUDS for name in (cloud.mtls, f"*.{cloud.mtls}")]


def vault_names() -> list[str]:
    """The names of the Key Vault listener's certificate (any vault of the public cloud)."""
    return [f"*{VAULT_SUFFIX}"]


def resolve_map(*, login: str, mtls: str, imds: str, vault: str | None = None) -> dict[str, str]:
    """`host:port` → loopback `address:port` for every exact production name served."""
    routes = {f"{cloud.login}:443": login for cloud in CLOUDS}
    if vault is not None:
        routes[f"{VAULT_HOST}:443"] = vault
    for cloud in CLOUDS:
        routes[f"{cloud.mtls}:443"] = mtls
        routes.update({f"{region}.{cloud.mtls}:443": mtls for region in REGIONS})
    routes[f"{IMDS_ADDRESS}:80"] = imds
    return routes


def wildcard_map(*, mtls: str, vault: str | None = None) -> dict[str, str]:
    """`*.mtlsauth…:443` → the mTLS listener: every regional name of every cloud; and
    `*.vault.azure.net:443` → the Key Vault listener."""
    routes = {f"*.{cloud.mtls}:443": mtls for cloud in CLOUDS}
    if vault is not None:
        routes[f"*{VAULT_SUFFIX}:443"] = vault
    return routes


def connect_to(routes: dict[str, str]) -> str:
    """The `IDENTITY_WEB_CONNECT_TO` value: `host:port=address:port` pairs, comma-separated."""
    return ",".join(f"{source}={target}" for source, target in routes.items())
