"""`SourceType: ClientSecret` — a shared secret, taken as it is from `ClientSecret`."""

from __future__ import annotations

from identity_web.credentials._errors import IncompleteCredentialError
from identity_web.credentials._types import SecretCredential, redacted
from identity_web.settings import CredentialDescription

KEY = "ClientSecret"


class ClientSecretLoader:
    """Returns `ClientSecret` as a `SecretCredential` whose id is `RedactedClientSecret=<tag>`."""

    def load(self, description: CredentialDescription) -> SecretCredential:
        secret = description.client_secret
        if not secret:
            raise IncompleteCredentialError(
                "SourceType ClientSecret needs ClientSecret (prefer a certificate or a managed "
                "identity in production)",
                key=KEY,
            )
        return SecretCredential(
            secret=secret, description_id=f"RedactedClientSecret={redacted(secret)}"
        )
