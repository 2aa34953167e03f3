"""Fixtures for the transport tests: a test PKI and a real TLS server on 127.0.0.1."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# certgen lives with the credential tests; make it importable when this directory runs alone.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "credentials"))

from certgen import make_ca, make_leaf
from tls_test_server import TlsTestServer
from transport_pki import Pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca("transport test CA")
    server = make_leaf(ca, "localhost", dns=("localhost",), ips=("127.0.0.1",), server=True)
    bundle = directory / "ca.pem"
    bundle.write_bytes(ca.cert_pem)
    return Pki(
        ca=ca,
        server=server,
        client_a=make_leaf(ca, "client a"),
        client_b=make_leaf(ca, "client b"),
        ca_bundle=str(bundle),
    )


@pytest.fixture
def tls_server(pki: Pki, tmp_path: Path) -> Iterator[TlsTestServer]:
    with TlsTestServer(tmp_path, pki.server, client_ca=pki.ca) as server:
        yield server
