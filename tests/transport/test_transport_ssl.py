"""TLS contexts: settings, one per certificate, and a private key that never touches disk."""

from __future__ import annotations

import os
import ssl
import stat
import tempfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from certgen import make_self_signed
from tls_test_server import TlsTestServer
from transport_pki import Pki

from identity_web import ConfigurationError
from identity_web.protocol import x5t_s256
from identity_web.transport import _ssl, memfd_available, ssl_context_for


def test_context_settings_keep_verification_and_allow_client_auth_later(pki: Pki):
    context = ssl_context_for(pki.binding_a, ca_bundle=pki.ca_bundle)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.post_handshake_auth is True
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert not context.options & ssl.OP_NO_RENEGOTIATION


def test_one_context_per_certificate(pki: Pki):
    first = ssl_context_for(pki.binding_a, ca_bundle=pki.ca_bundle)
    assert ssl_context_for(pki.client_a.binding(), ca_bundle=pki.ca_bundle) is first
    other = ssl_context_for(pki.binding_b, ca_bundle=pki.ca_bundle)
    assert other is not first
    plain = ssl_context_for(None, ca_bundle=pki.ca_bundle)
    assert plain is not first
    assert plain is not other
    assert ssl_context_for(None, ca_bundle=pki.ca_bundle) is plain


def test_contexts_follow_ssl_cert_file(pki: Pki, monkeypatch: pytest.MonkeyPatch):
    before = ssl_context_for(None)
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca_bundle)
    assert ssl_context_for(None) is not before


def _fail_loudly(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a file was about to be created while loading a client certificate")


def test_private_key_never_hits_the_filesystem(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    assert memfd_available()
    for name in ("NamedTemporaryFile", "mkstemp", "TemporaryFile", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, _fail_loudly)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    binding = make_self_signed("memfd only").binding()
    context = _ssl.build_ssl_context(binding, ca_bundle=pki.ca_bundle)
    assert context.post_handshake_auth is True
    assert list(tmp_path.iterdir()) == []


def test_fallback_uses_a_private_temporary_file_deleted_at_once(
    pki: Pki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(_ssl, "memfd_available", lambda: False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    modes: list[int] = []
    real_load = ssl.SSLContext.load_cert_chain

    def spy(self: ssl.SSLContext, certfile: str, *args: Any, **kwargs: Any) -> None:
        modes.append(stat.S_IMODE(os.stat(certfile).st_mode))
        assert b"ENCRYPTED PRIVATE KEY" in Path(certfile).read_bytes()
        real_load(self, certfile, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_cert_chain", spy)
    _ssl.build_ssl_context(pki.binding_b)
    assert modes == [0o600]
    assert list(tmp_path.iterdir()) == []


def test_bad_ca_bundle_is_a_configuration_error(tmp_path: Path):
    with pytest.raises(ConfigurationError, match=r"missing\.pem"):
        _ssl.build_ssl_context(None, ca_bundle=str(tmp_path / "missing.pem"))


def test_ssl_cert_file_is_honoured(
    pki: Pki, tls_server: TlsTestServer, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SSL_CERT_FILE", pki.ca_bundle)
    context = _ssl.build_ssl_context(pki.binding_a)
    with httpx.Client(verify=context) as client:
        answer = client.get(tls_server.url + "/").json()
    assert answer["client_x5t_s256"] == x5t_s256(pki.client_a.der)
