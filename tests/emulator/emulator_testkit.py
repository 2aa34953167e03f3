"""Helpers for the emulator tests: TLS clients, client assertions, certificates, error checks."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import re
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from identity_web.emulator import Emulator
from identity_web.emulator._pki import CertificateAuthority
from identity_web.protocol import BindingCertificate, b64url
from identity_web.protocol.imds_v2 import PlatformMetadata, build_csr

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_POP = "urn:ietf:params:oauth:client-assertion-type:jwt-pop"
GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}Z$")


def ssl_context(emulator: Emulator, credential: BindingCertificate | None = None) -> ssl.SSLContext:
    """Trust the emulator CA; present `credential` as TLS client certificate when given."""
    context = ssl.create_default_context(cafile=emulator.manifest.ca_bundle)
    if credential is not None:
        password = os.urandom(16).hex().encode()
        key = credential.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(password),
        )
        chain = b"".join(
            c.public_bytes(serialization.Encoding.PEM)
            for c in (credential.certificate, *credential.chain)
        )
        fd = os.memfd_create("test-client-cert")
        try:
            os.write(fd, chain + key)
            context.load_cert_chain(f"/proc/self/fd/{fd}", password=password)
        finally:
            os.close(fd)
    return context


def client(emulator: Emulator, credential: BindingCertificate | None = None) -> httpx.Client:
    return httpx.Client(verify=ssl_context(emulator, credential), timeout=10)


def token_url(emulator: Emulator, tenant: str | None = None) -> str:
    m = emulator.manifest
    return f"{m.instance}{tenant or m.tenant_id}/oauth2/v2.0/token"


def mtls_url(emulator: Emulator, tenant: str | None = None) -> str:
    m = emulator.manifest
    return f"{m.mtls_token_endpoint_base}{tenant or m.tenant_id}/oauth2/v2.0/token"


def form(emulator: Emulator, **fields: str) -> dict[str, str]:
    """A client-credentials form for the demo app and the demo resource, plus `fields`."""
    base = {
        "grant_type": "client_credentials",
        "client_id": emulator.demo_app.client_id,
        "scope": emulator.manifest.resource.scope,
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def issue(
    ca: CertificateAuthority,
    subject: x509.Name,
    *,
    key: rsa.RSAPrivateKey | None = None,
    days: float = 30,
) -> BindingCertificate:
    key = key or new_key()
    certificate = ca.issue(key.public_key(), subject, days=days)
    return BindingCertificate.create(certificate, key, (ca.certificate,))


def self_signed(common_name: str) -> BindingCertificate:
    key = new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return BindingCertificate.create(certificate, key)


def imds_certificate(emulator: Emulator, client_id: str) -> BindingCertificate:
    """What IMDS v2 issuecredential hands out: CN=<client id>, DC=<tenant>, by the IMDS issuer."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, client_id),
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, emulator.state.tenant_id),
        ]
    )
    return issue(emulator.state.imds_issuer, subject, days=7)


def assertion(
    credential: BindingCertificate,
    client_id: str,
    audience: str,
    *,
    algorithm: str = "RS256",
    key_id: str = "x5t",
    lifetime: int = 600,
    now: float | None = None,
    issuer: str | None = None,
    signing_key: rsa.RSAPrivateKey | None = None,
) -> str:
    """An RFC 7523 client assertion. `key_id`: x5t | x5t#S256 | x5c | none."""
    now = time.time() if now is None else now
    header: dict[str, Any] = {"alg": algorithm, "typ": "JWT"}
    if key_id == "x5t":
        header["x5t"] = credential.x5t
    elif key_id == "x5t#S256":
        header["x5t#S256"] = credential.x5t_s256
    elif key_id == "x5c":
        header["x5c"] = credential.x5c
    claims = {
        "aud": audience,
        "iss": issuer or client_id,
        "sub": client_id,
        "jti": str(uuid.uuid4()),
        "iat": int(now),
        "nbf": int(now),
        "exp": int(now) + lifetime,
    }
    return sign(header, claims, signing_key or credential.private_key)  # type: ignore[arg-type]


def sign(header: dict[str, Any], claims: dict[str, Any], key: rsa.RSAPrivateKey) -> str:
    parts = [b64url(json.dumps(p).encode()) for p in (header, claims)]
    signing_input = ".".join(parts).encode()
    if header["alg"] == "PS256":
        pad: padding.AsymmetricPadding = padding.PSS(
            mgf=padding.MGF1(hashes.SHA256()), salt_length=32
        )
    else:
        pad = padding.PKCS1v15()
    signature = key.sign(signing_input, pad, hashes.SHA256())
    return ".".join([*parts, b64url(signature)])


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def assert_ests_error(
    response: httpx.Response, *, status: int, code: int, error: str
) -> dict[str, Any]:
    """The exact ESTS error shape of wire-protocol.md §1.5."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    description = body["error_description"]
    assert description.startswith(f"AADSTS{code}: ")
    assert TIMESTAMP.match(body["timestamp"])
    assert GUID.match(body["trace_id"])
    assert GUID.match(body["correlation_id"])
    assert f"Trace ID: {body['trace_id']}" in description
    assert f"Correlation ID: {body['correlation_id']}" in description
    assert f"Timestamp: {body['timestamp']}" in description
    return dict(body)


def platform_metadata(emulator: Emulator) -> dict[str, Any]:
    """The system-assigned identity's `getplatformmetadata` answer."""
    url = f"{emulator.manifest.imds_endpoint}/metadata/identity/getplatformmetadata"
    response = httpx.get(
        url, params={"cred-api-version": "2.0"}, headers={"Metadata": "true"}, timeout=10
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def csr(emulator: Emulator, key: rsa.RSAPrivateKey) -> str:
    """An IMDS v2 CSR for the system-assigned identity, built by the client's builder."""
    meta = platform_metadata(emulator)
    metadata = PlatformMetadata(
        meta["clientId"], meta["tenantId"], meta["cuId"], meta["attestationEndpoint"]
    )
    return build_csr(key, metadata)


def issue_credential_body(
    emulator: Emulator, key: rsa.RSAPrivateKey | None = None, attestation_token: str | None = None
) -> dict[str, str]:
    body = {"csr": csr(emulator, key or new_key())}
    if attestation_token is not None:
        body["attestation_token"] = attestation_token
    return body


#: The emulator processes `start_process` started; `reap_started` ends them after each test.
STARTED: list[subprocess.Popen[bytes]] = []


def reap_started() -> None:
    """Kill what a test left running, wait for it, and close its pipes (no ResourceWarning)."""
    while STARTED:
        process = STARTED.pop()
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


def start_process(
    ready: Path, *arguments: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`python -m identity_web emulator ARGUMENTS`, returned once `ready` (a file it writes)
    exists; the test fails with the emulator's stderr if it exits or takes over 20 s."""
    process = subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "identity_web", "emulator", *arguments],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    STARTED.append(process)
    deadline = time.monotonic() + 20
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"emulator did not start: {process.communicate()[1].decode()}")
        time.sleep(0.05)
    return process
