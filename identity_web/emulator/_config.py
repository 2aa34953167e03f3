"""`EmulatorConfig`: the knobs of an emulator run (`identity-web emulator --config FILE`)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from identity_web._errors import ConfigurationError, ConfigurationProblem


@dataclass(frozen=True, slots=True)
class EmulatorConfig:
    """Every field has a default; a JSON config file may set any of them by name.

    - `host`: the loopback address every listener binds (certificates name 127.0.0.1, ::1 and
      localhost).
    - `work_dir`: where the CA bundles and the demo certificate files go (default: a new
      temporary directory, removed on `stop()`).
    - `tenant_id` (default: random GUID) and `tenant_domain` (also accepted in URLs).
    - `token_lifetime` / `managed_identity_token_lifetime`: seconds; `refresh_in`: added to
      token responses when set.
    - `imds_certificate_days`: lifetime of IMDS v2 binding certificates (7 days by default).
    - `imds_v2_enabled`: False makes IMDS "v1 only" (`getplatformmetadata` answers 404).
    - `assertion_clock_skew`: seconds of `exp`/`nbf` tolerance on client assertions.
    - `bound_tokens_disabled`: resources that are not enrolled for certificate-bound tokens
      (AADSTS392196); `extra_resources`: more application id URIs to register.
    - `pfx_password`: password of the demo PFX file (null: a PFX without password).
    - `attestation_mode`: `required` | `optional` | `off`, what IMDS v2 `issuecredential`
      demands of `attestation_token` (see `_attestation`). `optional` until the client attests.
    - `demo_mtls_client_auth`: the demo app is enabled for mTLS client authentication
      (off: the mTLS token endpoint answers it with AADSTS51000).
    - `loopback_mtls_alias`: the OpenID configuration served to `127.0.0.1` names the loopback
      mTLS listener in `mtls_endpoint_aliases` (discovery, the path for non-Entra
      authorities); off, it has no alias. Production login names always get Entra's alias.
    """

    host: str = "127.0.0.1"
    work_dir: Path | None = None
    tenant_id: str | None = None
    tenant_domain: str = "identityweb-emulator.onmicrosoft.com"
    token_lifetime: int = 3600
    managed_identity_token_lifetime: int = 86399
    refresh_in: int | None = None
    imds_certificate_days: float = 7.0
    imds_v2_enabled: bool = True
    assertion_clock_skew: int = 300
    bound_tokens_disabled: tuple[str, ...] = ("https://management.azure.com",)
    extra_resources: tuple[str, ...] = ()
    pfx_password: str | None = dataclasses.field(default="emulator-pfx-password", repr=False)
    loopback_mtls_alias: bool = True
    demo_mtls_client_auth: bool = True
    attestation_mode: str = "required"

    @classmethod
    def from_file(cls, path: Path, overrides: Mapping[str, Any] | None = None) -> EmulatorConfig:
        """Read a JSON object whose keys are field names; unknown keys are an error."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as error:
            raise ConfigurationError(f"cannot read emulator config {path}: {error}") from error
        if not isinstance(raw, dict):
            raise ConfigurationError("the emulator config must be a JSON object", source=str(path))
        return cls.from_mapping({**raw, **(overrides or {})}, source=str(path))

    @classmethod
    def from_mapping(cls, raw: dict[str, Any], *, source: str = "") -> EmulatorConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        problems = [
            ConfigurationProblem(key, f"unknown emulator setting; allowed: {sorted(known)}")
            for key in raw
            if key not in known
        ]
        if problems:
            raise ConfigurationError(problems, source=source)
        values = dict(raw)
        if values.get("work_dir") is not None:
            values["work_dir"] = Path(values["work_dir"]).resolve()
        for key in ("bound_tokens_disabled", "extra_resources"):
            if key in values:
                values[key] = tuple(values[key])
        try:
            config = cls(**values)
        except TypeError as error:
            raise ConfigurationError(str(error), source=source) from error
        config.check()
        return config

    def check(self) -> None:
        """Raise `ConfigurationError` naming a field whose value is not allowed."""
        modes = ("required", "optional", "off")
        if self.attestation_mode not in modes:
            raise ConfigurationError(
                [
                    ConfigurationProblem(
                        "attestation_mode",
                        f"{self.attestation_mode!r} is not one of {', '.join(modes)}",
                    )
                ]
            )
