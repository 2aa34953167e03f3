"""The Flask extension on Werkzeug's TLS server (client certificates via `SSL_CLIENT_CERT`),
called by a daemon through the public API with a bound token, and refusing replays."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from web_api_helpers import audience, bound_call, call_as_daemon, get, server_certificate
from werkzeug.serving import make_server

from identity_web.emulator import Emulator
from identity_web.resource import ProtectedWebApi
from identity_web.resource.flask import FlaskWebApi
from identity_web.settings import IdentityWebSettings


def _app(api: ProtectedWebApi) -> Flask:
    app = Flask(__name__)
    web_api = FlaskWebApi(api, app)

    @app.get("/whoami")
    @web_api.require_auth()
    def whoami() -> dict[str, Any]:
        token = web_api.current_token()
        return {
            "scheme": str(token.scheme),
            "bound": token.bound,
            "cnf_x5t_s256": token.cnf_x5t_s256,
            "client_cert_x5t_s256": token.client_certificate_thumbprint,
        }

    @app.get("/admin")
    @web_api.require_auth(roles=["Admin"])
    def admin() -> dict[str, Any]:
        return {"admin": True}

    return app


@pytest.fixture(scope="module")
def flask_api(
    identity_web_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    emulator = identity_web_emulator
    manifest = emulator.manifest
    settings = IdentityWebSettings.from_mapping(
        {
            "AzureAd": {
                "Instance": manifest.instance,
                "TenantId": manifest.tenant_id,
                "Audience": audience(emulator),
                "AllowWebApiToBeAuthorizedByACL": True,
                "RequireBoundTokens": True,
            }
        }
    )
    api = ProtectedWebApi.from_settings(settings, ca_bundle=manifest.ca_bundle)
    cert, key = server_certificate(emulator.state.ca, tmp_path_factory.mktemp("flask"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.load_verify_locations(manifest.client_ca_bundle)
    context.verify_mode = ssl.CERT_OPTIONAL
    server = make_server("127.0.0.1", 0, _app(api), threaded=True, ssl_context=context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}/"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_a_daemon_calls_the_flask_api_with_a_bound_token(
    emulator: Emulator, flask_api: str, tmp_path: Path
) -> None:
    call, _ = bound_call(emulator, "fic-mtls", flask_api, tmp_path)
    naked = get(emulator, flask_api + "whoami", call.authorization, None)
    assert naked.status_code == 401
    assert naked.headers["www-authenticate"].startswith('mtls_pop error="invalid_token"')
    assert naked.json()["error"] == "invalid_token"


def test_a_missing_role_is_403_and_bearer_is_refused(
    emulator: Emulator, flask_api: str, tmp_path: Path
) -> None:
    call = call_as_daemon(emulator, "cert-mtls", flask_api, tmp_path)
    admin = get(emulator, flask_api + "admin", call.authorization, call.binding)
    assert admin.status_code == 403
    assert 'error="insufficient_scope"' in admin.headers["www-authenticate"]
    bearer = call_as_daemon(emulator, "cert-bearer", flask_api, tmp_path, "Bearer")
    assert bearer.status == 401
    assert "RequireBoundTokens" in bearer.body["error_description"]
