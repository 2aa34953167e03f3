"""Helpers shared by every test folder (the root conftest puts this folder on `sys.path`)."""

from __future__ import annotations

import datetime
import json
from typing import Any, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from identity_web.protocol import BindingCertificate, HttpRequest, HttpResponse, Step
from identity_web.transport import Drivers

T = TypeVar("T")


def make_certificate(
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
    common_name: str = "app",
    *,
    days: float = 2.0,
    start: datetime.datetime | None = None,
) -> BindingCertificate:
    """A self-signed binding certificate (a new RSA-2048 key unless `key` is given), valid from
    5 minutes before `start` (default now) for `days`."""
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    start = start or datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - datetime.timedelta(minutes=5))
        .not_valid_after(start + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return BindingCertificate.create(certificate, key)


def invalid_client_body(code: int) -> dict[str, Any]:
    """The JSON body of an Entra `invalid_client` answer with one AADSTS code."""
    return {
        "error": "invalid_client",
        "error_description": f"AADSTS{code}: scripted failure",
        "error_codes": [code],
    }


def invalid_client(code: int) -> dict[str, Any]:
    """An emulator fault (`Emulator.inject_faults`): 401 `invalid_client` with AADSTS `code`."""
    return {"status": 401, "body": json.dumps(invalid_client_body(code))}


def exchange_token(emulator: Any, lifetime: int = 3600) -> str:
    """What the AKS workload identity webhook projects: a federated token (the emulator's,
    from the system-assigned identity, for `api://AzureADTokenExchange`)."""
    system = emulator.state.find_managed_identity()
    return str(
        emulator.state.mint_access_token(
            client_id=system.client_id,
            object_id=system.object_id,
            audience="api://AzureADTokenExchange",
            appidacr="2",
            lifetime=lifetime,
        )
    )


def _no_network(request: HttpRequest) -> HttpResponse:
    raise AssertionError(f"the step sent {request.method} {request.url}")


#: The real drivers with no network: a step may read files, sleep, share; sending fails.
OFFLINE = Drivers(_no_network)


def offline(step: Step[T]) -> T:
    """Run `step` with the real sync driver; it must not send anything."""
    return OFFLINE.run(step)
