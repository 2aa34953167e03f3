"""The variables Azure sets (azure-identity's names), as a layer below every explicit setting.

The AKS workload identity webhook injects `AZURE_CLIENT_ID`, `AZURE_TENANT_ID`,
`AZURE_AUTHORITY_HOST` and `AZURE_FEDERATED_TOKEN_FILE` into a pod; azure-identity reads them,
and so does identity-web, but only for what no source set (a file, `.env`, an
`AzureAd__ClientId` variable or an explicit argument always wins):

* `AZURE_CLIENT_ID` → `AzureAd.ClientId`; and, as azure-identity's `DefaultAzureCredential`
  does, the user-assigned identity of every managed identity choice that names none: a
  downstream section's `AcquireTokenOptions.ManagedIdentity` (`{}`), the
  `ManagedIdentityClientId` of a `KeyVault` entry, and that of a
  `SignedAssertionFromManagedIdentity` entry unless it equals `AzureAd.ClientId` (a federated
  credential's identity is never the app itself);
* `AZURE_TENANT_ID` → `AzureAd.TenantId`, `AZURE_AUTHORITY_HOST` → `AzureAd.Instance` (neither
  when `Authority` is set);
* `AZURE_FEDERATED_TOKEN_FILE` → `AzureAd.ClientCredentials` = `[{SourceType:
  SignedAssertionFilePath, SignedAssertionFileDiskPath: <file>}]` when no entry is configured.

The process environment wins over `.env` for the same variable. Each value filled is recorded
with the source `env AZURE_CLIENT_ID` (or `.env AZURE_CLIENT_ID`), which `config validate` shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from identity_web.settings._merge import Merged, find_key
from identity_web.settings._merge import Path as KeyPath

CLIENT_ID = "AZURE_CLIENT_ID"
TENANT_ID = "AZURE_TENANT_ID"
AUTHORITY_HOST = "AZURE_AUTHORITY_HOST"
FEDERATED_TOKEN_FILE = "AZURE_FEDERATED_TOKEN_FILE"  # noqa: S105 - a variable name
VARIABLES = (CLIENT_ID, TENANT_ID, AUTHORITY_HOST, FEDERATED_TOKEN_FILE)

_MI_SELECTORS = ("UserAssignedClientId", "UserAssignedObjectId", "UserAssignedResourceId")
_MI_CREDENTIALS = ("keyvault", "signedassertionfrommanagedidentity")
_FIC = "signedassertionfrommanagedidentity"


def azure_variables(
    layers: Iterable[tuple[str, Mapping[str, str]]],
) -> dict[str, tuple[str, str]]:
    """`name` → (value, source label) for the Azure variables set (later layers win)."""
    found: dict[str, tuple[str, str]] = {}
    for source, variables in layers:
        for name in VARIABLES:
            value = variables.get(name, "").strip()
            if value:
                found[name] = (value, f"{source} {name}")
    return found


def fill_from_azure(
    merged: Merged,
    variables: Mapping[str, tuple[str, str]],
    *,
    section: str,
    downstream_paths: Iterable[tuple[str, ...]],
) -> None:
    """Set in `merged` what the Azure variables give and no source set (see the module doc)."""
    if not variables:
        return
    filler = _Filler(merged, variables)
    app = filler.section((section,))
    filler.fill_app(app)
    for path in downstream_paths:
        filler.fill_downstream(path)


class _Filler:
    def __init__(self, merged: Merged, variables: Mapping[str, tuple[str, str]]) -> None:
        self._merged = merged
        self._variables = variables

    def section(self, path: tuple[str, ...]) -> KeyPath:
        """The actual spelling of `path` in the data, creating missing objects on the way."""
        node: Any = self._merged.data
        actual: list[str | int] = []
        for part in path:
            key = find_key(node, part) or part
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
            actual.append(key)
        return tuple(actual)

    def fill_app(self, app: KeyPath) -> None:
        has_authority = _present(self._get(app, "Authority"))
        self._set_if_absent(app, "ClientId", CLIENT_ID)
        if not has_authority:
            self._set_if_absent(app, "TenantId", TENANT_ID)
            self._set_if_absent(app, "Instance", AUTHORITY_HOST)
        self._fill_credentials(app)

    def fill_downstream(self, api: tuple[str, ...]) -> None:
        if CLIENT_ID not in self._variables:
            return
        options = self._existing(api, "AcquireTokenOptions")
        identity = self._existing(options, "ManagedIdentity") if options else None
        if identity is None or any(_present(self._get(identity, k)) for k in _MI_SELECTORS):
            return
        self._set(identity, "UserAssignedClientId", CLIENT_ID)

    def _fill_credentials(self, app: KeyPath) -> None:
        node = self._node(app)
        key = find_key(node, "ClientCredentials") or "ClientCredentials"
        entries = node.get(key)
        if not entries and FEDERATED_TOKEN_FILE in self._variables:
            value, source = self._variables[FEDERATED_TOKEN_FILE]
            node[key] = [
                {"SourceType": "SignedAssertionFilePath", "SignedAssertionFileDiskPath": value}
            ]
            self._merged.sources[(*app, key, 0, "SourceType")] = source
            self._merged.sources[(*app, key, 0, "SignedAssertionFileDiskPath")] = source
            return
        if CLIENT_ID not in self._variables or not isinstance(entries, list):
            return
        client_id = str(self._get(app, "ClientId") or "").strip().casefold()
        for index, entry in enumerate(entries):
            if isinstance(entry, dict):
                self._fill_credential_identity((*app, key, index), entry, client_id)

    def _fill_credential_identity(self, path: KeyPath, entry: dict[str, Any], app: str) -> None:
        source_type = str(self._get(path, "SourceType") or "").strip().casefold()
        if source_type not in _MI_CREDENTIALS:
            return
        mine = self._variables[CLIENT_ID][0].casefold()
        if source_type == _FIC and mine == app:
            return
        self._set_if_absent(path, "ManagedIdentityClientId", CLIENT_ID)

    # -- access to the merged data ---------------------------------------------------------

    def _node(self, path: KeyPath) -> Any:
        node: Any = self._merged.data
        for part in path:
            node = node[part]
        return node

    def _get(self, path: KeyPath, key: str) -> Any:
        node = self._node(path)
        actual = find_key(node, key)
        return None if actual is None else node[actual]

    def _existing(self, path: KeyPath, key: str) -> KeyPath | None:
        node = self._node(path)
        actual = find_key(node, key)
        return (*path, actual) if actual is not None and isinstance(node[actual], dict) else None

    def _set_if_absent(self, path: KeyPath, key: str, variable: str) -> None:
        if variable in self._variables and not _present(self._get(path, key)):
            self._set(path, key, variable)

    def _set(self, path: KeyPath, key: str, variable: str) -> None:
        value, source = self._variables[variable]
        node = self._node(path)
        actual = find_key(node, key) or key
        node[actual] = value
        self._merged.sources[(*path, actual)] = source


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())
