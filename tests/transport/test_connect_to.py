"""The resolver seam's map: parsing `IDENTITY_WEB_CONNECT_TO`, exact and wildcard routes, and
what a routed request keeps (URL host for SNI, Host header) and changes (the address only)."""

from __future__ import annotations

import httpx
import pytest

from identity_web import ConfigurationError
from identity_web.transport import CONNECT_TO_VARIABLE, ConnectTo
from identity_web.transport._connect_to import RoutedTransport

ROUTES = (
    "login.microsoftonline.com:443=127.0.0.1:1001,"
    "*.mtlsauth.microsoft.com:443=127.0.0.1:1002,"
    "*.microsoft.com:443=127.0.0.1:1009,"
    "169.254.169.254:80=127.0.0.1:1003"
)


def test_exact_routes_then_the_longest_wildcard() -> None:
    seam = ConnectTo.from_environ({CONNECT_TO_VARIABLE: ROUTES})
    assert seam.target("LOGIN.microsoftonline.com.", 443) == ("127.0.0.1", 1001)
    assert seam.target("westus3.mtlsauth.microsoft.com", 443) == ("127.0.0.1", 1002)
    assert seam.target("graph.microsoft.com", 443) == ("127.0.0.1", 1009)
    assert seam.target("mtlsauth.microsoft.com", 443) == ("127.0.0.1", 1009)
    assert seam.target("169.254.169.254", 80) == ("127.0.0.1", 1003)
    assert seam.target("login.microsoftonline.com", 8443) is None
    assert seam.target("example.org", 443) is None


def test_an_empty_variable_routes_nothing() -> None:
    seam = ConnectTo.from_environ({})
    assert not seam
    request = httpx.Request("GET", "https://login.microsoftonline.com/x")
    assert seam.routed(request) is request


@pytest.mark.parametrize(
    "bad", ["login.microsoftonline.com=127.0.0.1:1", "a:443=b", "a:x=b:1", "a.*.b:443=c:1"]
)
def test_a_malformed_entry_is_a_configuration_error_naming_the_variable(bad: str) -> None:
    with pytest.raises(ConfigurationError, match=CONNECT_TO_VARIABLE):
        ConnectTo.parse(bad)


def test_a_routed_request_keeps_its_names_and_changes_only_the_address() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200)

    seam = ConnectTo.parse(ROUTES)
    with httpx.Client(transport=RoutedTransport(httpx.MockTransport(answer), seam)) as client:
        response = client.get("https://westus3.mtlsauth.microsoft.com/t/oauth2/v2.0/token")
        client.get("http://169.254.169.254/metadata/instance")
    assert str(response.url) == "https://westus3.mtlsauth.microsoft.com/t/oauth2/v2.0/token"
    tls, imds = seen
    assert (tls.url.host, tls.url.port) == ("127.0.0.1", 1002)
    assert tls.headers["host"] == "westus3.mtlsauth.microsoft.com"
    assert tls.extensions["sni_hostname"] == "westus3.mtlsauth.microsoft.com"
    assert (imds.url.host, imds.url.port, imds.headers["host"]) == (
        "127.0.0.1",
        1003,
        "169.254.169.254",
    )
    assert "sni_hostname" not in imds.extensions


def test_repr_names_routes_not_addresses() -> None:
    assert repr(ConnectTo.parse(ROUTES)).startswith("ConnectTo(login.microsoftonline.com:443")
