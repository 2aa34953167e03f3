"""Selecting a credential outside a token request: the real sync driver, no network."""

from __future__ import annotations

from identity_web.credentials import CredentialsProvider, LoadedCredential
from identity_web.protocol._http import HttpRequest, HttpResponse
from identity_web.transport import Drivers


def _no_network(request: HttpRequest) -> HttpResponse:
    raise AssertionError(f"selecting this credential sent {request.method} {request.url}")


DRIVERS = Drivers(_no_network)


def selected(credentials: CredentialsProvider) -> LoadedCredential:
    """`credentials.selected()` run to the end (loaders run, nothing is sent)."""
    return DRIVERS.run(credentials.selected())
