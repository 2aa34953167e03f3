"""Daemon sample: read a Key Vault secret with a token bound to the app's certificate.

Everything is configuration: appsettings.json next to this file, overridable with environment
variables such as AzureAd__ClientId or AzureKeyVault__BaseUrl.
"""

import sys
from pathlib import Path

from identity_web import IdentityWebError, TokenAcquirerFactory

API = "AzureKeyVault"


def main() -> int:
    factory = TokenAcquirerFactory.get_default_instance(Path(__file__).parent)
    factory.add_downstream_api(API)
    with factory.build() as services:
        response = services.downstream_api.call(API)
    print(f"HTTP {response.status}, token type {response.token_type}")
    if response.binding_certificate is not None:
        print(f"Bound to certificate x5t#S256 {response.binding_certificate.x5t_s256}")
    print(response.text)
    return 0 if response.is_success else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except IdentityWebError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
