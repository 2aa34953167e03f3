"""The web API of the sample: FastAPI, every route but /health protected by identity-web.

`create_app` takes the `ProtectedWebApi` (built from settings by main.py), so tests and other
servers can mount the same app.
"""

from typing import Annotated, Any

from fastapi import Depends, FastAPI

from identity_web.resource import ProtectedWebApi, ValidatedToken
from identity_web.resource.fastapi import WebApiAuth


def create_app(api: ProtectedWebApi) -> FastAPI:
    app = FastAPI(title="web-api-mtls sample")
    auth = WebApiAuth(api)
    caller = Depends(auth)
    admin_role = Depends(auth.require_roles("Admin"))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/whoami")
    async def whoami(token: Annotated[ValidatedToken, caller]) -> dict[str, Any]:
        """Who called, and what the API verified: cnf against the TLS client certificate."""
        return {
            "app_id": token.app_id,
            "tenant_id": token.tenant_id,
            "object_id": token.object_id,
            "token_version": token.version,
            "scheme": token.scheme,
            "bound": token.bound,
            "cnf_x5t_s256": token.cnf_x5t_s256,
            "client_cert_x5t_s256": token.client_certificate_thumbprint,
        }

    @app.get("/admin")
    async def admin(token: Annotated[ValidatedToken, admin_role]) -> dict[str, str]:
        """Only callers granted the app role Admin."""
        return {"admin": token.app_id or ""}

    return app
