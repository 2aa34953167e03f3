"""samples/web-api-mtls end to end: a FastAPI API on a real ASGI server (nonecorn, TLS on
loopback, client certificates via the ASGI TLS extension) that requires bound tokens. The
daemon configurations call it with MTLS_POP through the public API; replays are refused."""

from __future__ import annotations

import base64
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from web_api_helpers import MTLS_POP, bound_call, call_as_daemon, get, web_api

from identity_web.emulator import Emulator
from identity_web.emulator._pki import new_rsa_key
from identity_web.protocol import BindingCertificate


@pytest.fixture(scope="module")
def bound_api(
    identity_web_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The sample as shipped: RequireBoundTokens true."""
    with web_api(identity_web_emulator, tmp_path_factory.mktemp("bound-api")) as url:
        yield url


def _another_certificate(emulator: Emulator) -> BindingCertificate:
    """A certificate the server trusts (same CA as the demo app's) but not the token's."""
    key = new_rsa_key()
    ca = emulator.state.ca
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")])
    return BindingCertificate.create(ca.issue(key.public_key(), subject, days=1), key, ())


@pytest.mark.parametrize("scenario", ["cert-mtls", "msi-mtls", "fic-mtls"])
def test_each_daemon_calls_the_api_with_a_bound_token(
    emulator: Emulator, bound_api: str, scenario: str, tmp_path: Path
) -> None:
    call, _ = bound_call(emulator, scenario, bound_api, tmp_path)
    assert call.token_type == "mtls_pop"
    assert call.body["scheme"] == "mtls_pop"
    assert call.body["bound"] is True


def test_replaying_a_bound_token_with_another_certificate_or_none_is_refused(
    emulator: Emulator, bound_api: str, tmp_path: Path
) -> None:
    call, binding = bound_call(emulator, "cert-mtls", bound_api, tmp_path)
    url = bound_api + "whoami"
    stranger = get(emulator, url, call.authorization, _another_certificate(emulator))
    naked = get(emulator, url, call.authorization, None)
    for response, reason in ((stranger, "does not match"), (naked, "Client certificate required")):
        assert response.status_code == 401
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith('mtls_pop error="invalid_token"')
        assert reason in challenge
    assert get(emulator, url, call.authorization, binding).status_code == 200


def test_a_bearer_token_is_refused_when_bound_tokens_are_required(
    emulator: Emulator, bound_api: str, tmp_path: Path
) -> None:
    call = call_as_daemon(emulator, "cert-bearer", bound_api, tmp_path, "Bearer")
    assert call.status == 401
    assert call.body["detail"]["error"] == "invalid_token"
    assert "RequireBoundTokens" in call.body["detail"]["error_description"]


def test_a_bearer_token_is_accepted_when_bound_tokens_are_not_required(
    emulator: Emulator, tmp_path: Path
) -> None:
    with web_api(emulator, tmp_path, RequireBoundTokens="false") as url:
        bearer = call_as_daemon(emulator, "cert-bearer", url, tmp_path, "Bearer")
        bound = call_as_daemon(emulator, "msi-mtls", url, tmp_path, MTLS_POP)
    assert bearer.status == 200, bearer.body
    assert bearer.body["bound"] is False
    assert bound.status == 200, bound.body
    assert bound.body["bound"] is True


def test_unprotected_and_role_protected_routes(
    emulator: Emulator, bound_api: str, tmp_path: Path
) -> None:
    assert get(emulator, bound_api + "health", None).json() == {"status": "ok"}
    call, binding = bound_call(emulator, "cert-mtls", bound_api, tmp_path)
    admin = get(emulator, bound_api + "admin", call.authorization, binding)
    assert admin.status_code == 403
    assert admin.headers["www-authenticate"].startswith('mtls_pop error="insufficient_scope"')
    refused = get(emulator, bound_api + "whoami", None)
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith('mtls_pop error="invalid_token"')
    assert "Traceback" not in refused.text


def test_proxy_headers_sent_by_a_client_are_ignored(
    emulator: Emulator, bound_api: str, tmp_path: Path
) -> None:
    """Without ClientCertificateHeader, no header can stand in for the TLS certificate."""
    call, binding = bound_call(emulator, "cert-mtls", bound_api, tmp_path)
    der = binding.certificate.public_bytes(Encoding.DER)
    pem = ssl.DER_cert_to_PEM_cert(der)
    forged = {
        "X-ARR-ClientCert": base64.b64encode(der).decode(),
        "X-Forwarded-Client-Cert": f'Cert="{quote(pem)}"',
        "X-SSL-Client-Cert": quote(pem),
    }
    response = get(emulator, bound_api + "whoami", call.authorization, None, forged)
    assert response.status_code == 401
    assert "Client certificate required" in response.headers["www-authenticate"]
