"""Settings: Identity.Web's configuration keys as typed, frozen models, and where they came from.

`load_settings()` merges defaults < appsettings.json < appsettings.{Environment}.json <
appsettings.yaml < .env < environment variables < explicit overrides, then validates once.
`check_build()` runs every check that can be made before the network (the factory's `build()`
and `identity-web config validate` both call it).
"""

from identity_web.settings._build import check_build, check_call, plain_http_refusal
from identity_web.settings._cimap import CaseInsensitiveMapping
from identity_web.settings._enums import CredentialSource, ProtocolScheme
from identity_web.settings._loader import LoadedSettings, load_settings
from identity_web.settings._models import (
    AcquireTokenOptions,
    CredentialDescription,
    DownstreamApiOptions,
    ManagedIdentityOptions,
    ManagedIdentityProviderOptions,
    MicrosoftIdentityApplicationOptions,
    TokenValidationParameters,
)
from identity_web.settings._root import DEFAULT_SECTION, DOWNSTREAM_APIS, IdentityWebSettings

__all__ = [
    "DEFAULT_SECTION",
    "DOWNSTREAM_APIS",
    "AcquireTokenOptions",
    "CaseInsensitiveMapping",
    "CredentialDescription",
    "CredentialSource",
    "DownstreamApiOptions",
    "IdentityWebSettings",
    "LoadedSettings",
    "ManagedIdentityOptions",
    "ManagedIdentityProviderOptions",
    "MicrosoftIdentityApplicationOptions",
    "ProtocolScheme",
    "TokenValidationParameters",
    "check_build",
    "check_call",
    "load_settings",
    "plain_http_refusal",
]
