"""OpenTelemetry spans through the public API against the emulator: a miss makes one
acquisition span with its token request as a child, a hit makes none, IMDS requests and
downstream calls have theirs; the attributes are the documented ones and no token, secret or
assertion appears anywhere in a span. Without `opentelemetry-api` every hook is the identity."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from e2e_helpers import API, build, certificate_config, secret_config
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from identity_web.emulator import EmulatorManifest

_EXPORTER = InMemorySpanExporter()


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The in-memory exporter behind the global tracer provider (installed once per process)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    yield _EXPORTER
    _EXPORTER.clear()


def _named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [span for span in exporter.get_finished_spans() if span.name == name]


def _only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    found = _named(exporter, name)
    assert len(found) == 1, [span.name for span in exporter.get_finished_spans()]
    return found[0]


def _parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _assert_nothing_secret(exporter: InMemorySpanExporter, *secrets: str) -> None:
    """No secret in any span name, attribute or event of the exporter."""
    for span in exporter.get_finished_spans():
        text = span.to_json()
        for secret in secrets:
            assert secret not in text, f"a secret in span {span.name}"
        assert "eyJ" not in text  # no JWT (access token or client assertion)


def test_a_miss_then_a_hit_with_a_client_secret(
    manifest: EmulatorManifest, spans: InMemorySpanExporter
) -> None:
    with build(secret_config(manifest), manifest) as services:
        services.downstream_api.call(API)
        token = services.token_acquirer.acquire_token_for_app(manifest.resource.scope)
        services.downstream_api.call(API)
    acquisition = _only(spans, "identity_web.acquire_token")
    assert dict(acquisition.attributes or {}) == {
        "identity_web.credential_source": "client_secret",
        "identity_web.token_type": "Bearer",
        "identity_web.cache_hit": False,
        "server.address": _host(token.token_endpoint),
    }
    assert _host(token.token_endpoint) == "127.0.0.1"
    (token_request,) = _kind(spans, "token")
    assert _parent_of(token_request) == acquisition.context.span_id
    assert token_request.attributes == {
        "identity_web.request.kind": "token",
        "http.request.method": "POST",
        "server.address": "127.0.0.1",
        "http.response.status_code": 200,
    }
    calls = _named(spans, "identity_web.downstream")
    assert len(calls) == 2  # the second call's token came from the cache: no acquisition span
    assert dict(calls[0].attributes or {}) == {
        "identity_web.downstream_api": API,
        "http.request.method": "GET",
        "server.address": _host(manifest.resource.base_url),
        "http.response.status_code": 200,
        "identity_web.token_type": "Bearer",
    }
    assert _parent_of(acquisition) == calls[0].context.span_id
    resource_calls = _kind(spans, "http")
    assert [_parent_of(span) for span in resource_calls] == [c.context.span_id for c in calls]
    _assert_nothing_secret(spans, token.access_token, str(manifest.apps[0].client_secret))


async def test_async_calls_with_a_bound_certificate_token(
    manifest: EmulatorManifest, spans: InMemorySpanExporter
) -> None:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    async with build(config, manifest) as services:
        await services.downstream_api.get_async(API)
        token = await services.token_acquirer.acquire_token_for_app_async(
            manifest.resource.scope, bound=True
        )
    acquisition = _only(spans, "identity_web.acquire_token")
    attributes = acquisition.attributes or {}
    assert attributes["identity_web.credential_source"] == "certificate"
    assert attributes["identity_web.token_type"] == "mtls_pop"
    assert attributes["identity_web.cache_hit"] is False
    assert _parent_of(_kind(spans, "token")[0]) == acquisition.context.span_id
    call = _only(spans, "identity_web.downstream")
    assert (call.attributes or {})["identity_web.token_type"] == "mtls_pop"
    assert _parent_of(acquisition) == call.context.span_id
    _assert_nothing_secret(spans, token.access_token)


def test_managed_identity_marks_its_imds_requests(
    manifest: EmulatorManifest, spans: InMemorySpanExporter
) -> None:
    config = certificate_config(manifest, AcquireTokenOptions={"ManagedIdentity": {}})
    config["AzureAd"] = {}  # no app registration: the system-assigned identity of the host
    with build(config, manifest) as services:
        assert services.downstream_api.call(API).status == 200
    acquisition = _only(spans, "identity_web.acquire_token")
    assert (acquisition.attributes or {})["identity_web.credential_source"] == "managed_identity"
    imds = _kind(spans, "imds")
    assert imds, [span.attributes for span in spans.get_finished_spans()]
    assert all(_parent_of(span) == acquisition.context.span_id for span in imds)
    assert all((span.attributes or {})["http.request.method"] == "GET" for span in imds)
    _assert_nothing_secret(spans)


def test_without_opentelemetry_every_hook_returns_what_it_was_given() -> None:
    probe = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "from identity_web import _telemetry as t\n"
        "send = lambda request: request\n"
        "step = iter(())\n"
        "assert not t.enabled()\n"
        "assert t.traced_send(send) is send and t.traced_send_async(send) is send\n"
        "assert t.acquisition(step, None) is step and t.downstream(step, None, api='a') is step\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)  # noqa: S603 - fixed code


def test_with_the_api_but_no_tracer_provider_the_hooks_make_no_span_until_one_is_set() -> None:
    """The API alone would make non-recording spans at a cost on every call: the hooks skip them,
    and make real ones as soon as a provider is set (after the services were built, too)."""
    probe = (
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from identity_web import _telemetry as t\n"
        "from identity_web.settings import DownstreamApiOptions\n"
        "options = DownstreamApiOptions.model_validate({'BaseUrl': 'https://api.example/'})\n"
        "step = iter(())\n"
        "assert t.enabled() and not t.recording()\n"
        "assert t.downstream(step, options, api='a') is step\n"
        "assert t.acquisition(step, None) is step\n"
        "trace.set_tracer_provider(TracerProvider())\n"
        "assert t.recording() and t.downstream(step, options, api='a') is not step\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, timeout=60)  # noqa: S603 - fixed code


def _kind(exporter: InMemorySpanExporter, kind: str) -> list[ReadableSpan]:
    return [
        span
        for span in _named(exporter, "identity_web.http")
        if (span.attributes or {}).get("identity_web.request.kind") == kind
    ]


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""
