"""The manifest (CONTRACTS.md) and the env file, and the files they point to."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from identity_web.emulator._hosts import CONNECT_TO_VARIABLE, connect_to
from identity_web.emulator._pki import pem
from identity_web.protocol._binding import BindingCertificate

#: Read by `identity_web.managed_identity` (`software`: attest with the emulator's authority).
ATTESTATION_VARIABLE = "IDENTITY_WEB_MI_ATTESTATION"


@dataclass(frozen=True, slots=True)
class ResourceManifest:
    base_url: str
    scope: str


@dataclass(frozen=True, slots=True)
class AppManifest:
    client_id: str
    client_secret: str | None = field(repr=False)
    certificate_pem_path: str | None
    certificate_pfx_path: str | None
    certificate_pfx_password: str | None = field(repr=False)
    federated_managed_identities: tuple[str, ...] = ()
    mtls_client_auth_enabled: bool = True


@dataclass(frozen=True, slots=True)
class ManagedIdentityManifest:
    kind: Literal["SystemAssigned", "UserAssigned"]
    client_id: str
    object_id: str
    resource_id: str


@dataclass(frozen=True, slots=True)
class EmulatorManifest:
    """What a client needs to use a running emulator; `to_json()` is the manifest file."""

    ca_bundle: str
    client_ca_bundle: str
    instance: str
    tenant_id: str
    mtls_token_endpoint_base: str
    imds_endpoint: str
    resource: ResourceManifest
    apps: tuple[AppManifest, ...]
    managed_identities: tuple[ManagedIdentityManifest, ...]
    admin_url: str
    hosting_endpoints: dict[str, str] = field(default_factory=dict)
    resolve: dict[str, str] = field(default_factory=dict)
    resolve_wildcards: dict[str, str] = field(default_factory=dict)
    attestation_endpoint: str = ""
    attestation_mode: str = "required"
    key_vault_url: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for app in data["apps"]:
            app["federated_managed_identities"] = list(app["federated_managed_identities"])
        if not self.hosting_endpoints:
            del data["hosting_endpoints"]
        return data

    def env(self, manifest_path: Path | None = None) -> dict[str, str]:
        """The variables of the env file."""
        variables = {
            "SSL_CERT_FILE": self.ca_bundle,
            "REQUESTS_CA_BUNDLE": self.ca_bundle,
            "AZURE_POD_IDENTITY_AUTHORITY_HOST": self.imds_endpoint,
            # IMDS v2 keys are attested by the emulator's authority (mode `required` by default)
            ATTESTATION_VARIABLE: "software",
        }
        if self.resolve:
            variables[CONNECT_TO_VARIABLE] = connect_to({**self.resolve, **self.resolve_wildcards})
        if manifest_path is not None:
            variables["IDENTITY_WEB_EMULATOR_MANIFEST"] = str(manifest_path.resolve())
        return variables


_PLAIN = re.compile(r"^[A-Za-z0-9_./:@%+,=-]*$")


def dotenv(variables: dict[str, str]) -> str:
    """dotenv lines; values with unusual characters are double-quoted."""
    lines = []
    for key, value in variables.items():
        shown = value if _PLAIN.match(value) else json.dumps(value)
        lines.append(f"{key}={shown}")
    return "\n".join(lines) + "\n"


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write via a temporary file in the same directory and `os.replace` it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_certificate_files(
    directory: Path, stem: str, credential: BindingCertificate, pfx_password: str | None
) -> tuple[Path, Path]:
    """`<stem>.pem` (certificate then unencrypted PKCS#8 key) and `<stem>.pfx`; both 0600."""
    key_pem = credential.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    pem_path = directory / f"{stem}.pem"
    atomic_write(pem_path, pem(credential.certificate) + key_pem, 0o600)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(pfx_password.encode())
        if pfx_password
        else serialization.NoEncryption()
    )
    pfx = pkcs12.serialize_key_and_certificates(
        stem.encode(),
        credential.private_key,
        credential.certificate,
        list(credential.chain),
        encryption,
    )
    pfx_path = directory / f"{stem}.pfx"
    atomic_write(pfx_path, pfx, 0o600)
    return pem_path.resolve(), pfx_path.resolve()
