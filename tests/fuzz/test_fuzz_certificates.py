"""Fuzzing the certificate loaders: PFX and PEM bytes (damaged, truncated, foreign) and any
password, through `Base64Encoded`, `Path` and the PKCS#12 / PEM readers. Only the credential
errors of the package come out."""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path

import pytest
from cryptography.exceptions import UnsupportedAlgorithm
from fuzz_strategies import any_text
from fuzz_strategies import typed_only as typed
from hypothesis import given
from hypothesis import strategies as st
from tests_support_certs import PASSWORD, pem, pfx

from identity_web.credentials import Base64EncodedCertificateLoader, PathCertificateLoader
from identity_web.credentials._certificates import from_pem, from_pkcs12
from identity_web.credentials._errors import MalformedCredentialError
from identity_web.settings import CredentialDescription

_DIRECTORY = Path(tempfile.mkdtemp(prefix="identity-web-fuzz-certs-"))
passwords = st.one_of(st.none(), st.just(PASSWORD), st.just(""), any_text)


def _mutated(original: bytes) -> st.SearchStrategy[bytes]:
    """The original with bytes flipped, a piece cut out or inserted, or truncated."""
    size = len(original)
    positions = st.integers(min_value=0, max_value=size - 1)
    flips = st.builds(
        lambda at, value: original[:at] + bytes([value]) + original[at + 1 :],
        positions,
        st.integers(0, 255),
    )
    cuts = st.builds(
        lambda a, b: original[: min(a, b)] + original[max(a, b) :], positions, positions
    )
    inserts = st.builds(
        lambda at, data: original[:at] + data + original[at:], positions, st.binary()
    )
    truncated = positions.map(lambda at: original[:at])
    return st.one_of(flips, cuts, inserts, truncated)


certificate_bytes = st.one_of(
    _mutated(pfx()),
    _mutated(pfx(None)),
    _mutated(pem()),
    _mutated(pem(PASSWORD)),
    st.binary(max_size=300),
    st.just(b"\x30\x82\x00\x00\x02\x01\x03"),
    st.just(b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"),
)


@given(certificate_bytes, passwords)
def test_pkcs12_and_pem_readers(data: bytes, password: str | None) -> None:
    typed(lambda: from_pkcs12(data, password, what="fuzzed bytes", key="Base64EncodedValue"))
    typed(lambda: from_pem(data, password, what="fuzzed bytes", key="CertificateDiskPath"))


@given(
    st.one_of(
        certificate_bytes.map(lambda b: base64.b64encode(b).decode()),
        any_text,
        st.sampled_from(["====", "a", "YQ", " \n\t", "%%%%"]),
    ),
    passwords,
)
def test_base64_encoded_loader(value: str, password: str | None) -> None:
    description = CredentialDescription.model_validate(
        {
            "SourceType": "Base64Encoded",
            "Base64EncodedValue": value,
            "CertificatePassword": password,
        }
    )
    typed(lambda: Base64EncodedCertificateLoader().load(description))


@given(certificate_bytes, passwords, st.sampled_from(["app.pfx", "app.pem", "app.p12", "app"]))
def test_path_loader(data: bytes, password: str | None, name: str) -> None:
    target = _DIRECTORY / name
    target.write_bytes(data)
    description = CredentialDescription.model_validate(
        {"SourceType": "Path", "CertificateDiskPath": str(target), "CertificatePassword": password}
    )
    typed(lambda: PathCertificateLoader().load(description))


@pytest.mark.parametrize(("at", "value"), [(196, 65), (195, 47)])
def test_a_damaged_key_algorithm_in_a_pem_certificate_is_malformed(at: int, value: int) -> None:
    """Found at 10,000 examples: a flipped byte in the certificate's key algorithm OID made
    cryptography raise `UnsupportedAlgorithm` (not a ValueError) out of the loaders."""
    damaged = pem()[:at] + bytes([value]) + pem()[at + 1 :]
    with pytest.raises(MalformedCredentialError) as raised:
        from_pem(damaged, None, what="fuzzed bytes", key="CertificateDiskPath")
    assert isinstance(raised.value.__cause__, UnsupportedAlgorithm)
