"""Fixtures of the credential tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from dependency_injector import providers

from identity_web.container import IdentityWebContainer
from identity_web.credentials import CredentialsProvider
from identity_web.settings import IdentityWebSettings


@pytest.fixture
def credentials_of() -> Iterator[Callable[[IdentityWebSettings], CredentialsProvider]]:
    """`credentials_of(settings)`: the container's own CredentialsProvider for these settings."""
    containers: list[IdentityWebContainer] = []

    def make(settings: IdentityWebSettings) -> CredentialsProvider:
        container = IdentityWebContainer(settings=settings)
        container.environ.override(providers.Object({}))
        containers.append(container)
        provider: CredentialsProvider = container.credentials()
        return provider

    yield make
    for container in containers:
        container.shutdown_resources()
