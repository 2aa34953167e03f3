"""Transport faults (`kind` in `POST /_emulator/faults`): each one breaks the delivery the way
it says, seen from plain httpx over the emulator's real TLS (and plain HTTP for IMDS)."""

from __future__ import annotations

import ssl
import time
from typing import Any

import emulator_testkit as kit
import httpx
import pytest

from identity_web.emulator import Emulator


def _post_fault(emulator: Emulator, http: httpx.Client, **fault: Any) -> httpx.Response:
    response = fault.pop("status", None)
    body = {"endpoint": "entra.token", "responses": [{"status": response, **fault}]}
    return http.post(emulator.manifest.admin_url + "faults", json=body)


def _token(emulator: Emulator, http: httpx.Client) -> httpx.Response:
    app = emulator.manifest.apps[0]
    return http.post(
        kit.token_url(emulator), data=kit.form(emulator, client_secret=app.client_secret)
    )


def test_connection_reset_mid_body_breaks_the_read(emulator: Emulator) -> None:
    with kit.client(emulator) as http:
        assert _post_fault(emulator, http, kind="connection_reset").status_code == 200
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            _token(emulator, http)
        assert _token(emulator, http).status_code == 200  # normal service resumes


def test_connection_reset_after_a_scripted_body(emulator: Emulator) -> None:
    """The bytes before the reset are the scripted ones: a streamed read sees them first."""
    with kit.client(emulator) as http:
        _post_fault(
            emulator, http, status=200, body="0123456789" * 50, kind="connection_reset",
            after_bytes=100,
        )  # fmt: skip
        app = emulator.manifest.apps[0]
        form = kit.form(emulator, client_secret=app.client_secret)
        received = bytearray()

        def read_all() -> None:
            with http.stream("POST", kit.token_url(emulator), data=form) as response:
                assert response.headers["content-length"] == "500"
                for chunk in response.iter_raw():
                    received.extend(chunk)

        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            read_all()
        assert len(received) <= 100


def test_truncated_body_ends_before_content_length(emulator: Emulator) -> None:
    with kit.client(emulator) as http:
        _post_fault(emulator, http, kind="truncated_body", after_bytes=10)
        with pytest.raises(httpx.RemoteProtocolError, match=r"incomplete|closed"):
            _token(emulator, http)
        assert emulator.requests("entra.token")[-1]["status"] == 200


def test_slow_body_trickles_for_chunks_times_interval(emulator: Emulator) -> None:
    body = '{"slow": "' + "x" * 18 + '"}'  # 30 bytes, 10 per 100 ms: about 0.2 s
    with kit.client(emulator) as http:
        _post_fault(
            emulator, http, status=200, body=body, kind="slow_body", chunk_bytes=10,
            interval_ms=100,
        )  # fmt: skip
        started = time.monotonic()
        response = _token(emulator, http)
        elapsed = time.monotonic() - started
    assert response.json() == {"slow": "x" * 18}
    assert 0.18 <= elapsed < 3


def test_slow_body_defeats_a_read_timeout_only_per_chunk(emulator: Emulator) -> None:
    """Each chunk arrives within the read timeout, so a per-read timeout never fires."""
    body = "y" * 8
    with httpx.Client(verify=kit.ssl_context(emulator), timeout=httpx.Timeout(10, read=0.5)) as h:
        _post_fault(
            emulator, h, status=200, body=body, kind="slow_body", chunk_bytes=1, interval_ms=150
        )
        started = time.monotonic()
        response = _token(emulator, h)
    assert response.text == body
    assert time.monotonic() - started > 1.0  # 7 gaps of 150 ms, yet no ReadTimeout


def test_tls_alert_fails_the_connection_at_the_tls_layer(emulator: Emulator) -> None:
    with kit.client(emulator) as http:
        _post_fault(emulator, http, kind="tls_alert")
        with pytest.raises(httpx.ReadError, match=r"\[SSL") as caught:
            _token(emulator, http)
        assert isinstance(caught.value.__context__.__context__, ssl.SSLError)
        assert _token(emulator, http).status_code == 200


def test_keepalive_close_answers_then_drops_the_next_request_on_that_connection(
    emulator: Emulator,
) -> None:
    with kit.client(emulator) as http:
        _post_fault(emulator, http, kind="keepalive_close")
        first = _token(emulator, http)
        assert first.status_code == 200
        assert "close" not in first.headers.get("connection", "").lower()
        with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
            _token(emulator, http)  # same pooled connection: the server closes it
        assert _token(emulator, http).status_code == 200  # a fresh connection works


def test_faults_on_the_plain_http_imds_listener(emulator: Emulator) -> None:
    with kit.client(emulator) as http:
        rejected = http.post(
            emulator.manifest.admin_url + "faults",
            json={"endpoint": "imds.token", "responses": [{"status": None, "kind": "reset"}]},
        )
        assert rejected.status_code == 400
        assert "connection_reset" in rejected.json()["error_description"]
        http.post(
            emulator.manifest.admin_url + "faults",
            json={"endpoint": "imds.token", "responses": [{"kind": "truncated_body"}]},
        ).raise_for_status()
    url = f"{emulator.manifest.imds_endpoint}/metadata/identity/oauth2/token"
    params = {"api-version": "2018-02-01", "resource": "https://management.azure.com"}
    with httpx.Client(timeout=10) as plain:
        with pytest.raises(httpx.RemoteProtocolError):
            plain.get(url, params=params, headers={"Metadata": "true"})
        assert plain.get(url, params=params, headers={"Metadata": "true"}).status_code == 200


@pytest.mark.parametrize(
    ("field", "value"),
    [("kind", "nope"), ("after_bytes", -1), ("chunk_bytes", "1"), ("interval_ms", True)],
)
def test_bad_fault_fields_are_a_400(emulator: Emulator, field: str, value: Any) -> None:
    with kit.client(emulator) as http:
        answer = http.post(
            emulator.manifest.admin_url + "faults",
            json={"endpoint": "resource", "responses": [{"status": None, field: value}]},
        )
    assert answer.status_code == 400
    assert field in answer.json()["error_description"]
    assert emulator.state.faults.pending() == {}
