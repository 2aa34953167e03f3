"""Which identity and which source: selectors, environment detection, unsupported combinations."""

from __future__ import annotations

import pytest

from identity_web import ManagedIdentityError
from identity_web.protocol.imds import ManagedIdentityId
from identity_web.protocol.mi_sources import (
    ARC_DEFAULT_ENDPOINT,
    ManagedIdentitySource,
    detect_source,
    require_supported_identity,
)
from identity_web.settings import ManagedIdentityOptions

RID = (
    "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/u"
)


def test_empty_options_and_none_select_the_system_assigned_identity() -> None:
    assert ManagedIdentityId.from_options(None).is_system
    assert ManagedIdentityId.from_options(ManagedIdentityOptions()).is_system
    assert ManagedIdentityId.from_options(ManagedIdentityOptions()).cache_key == "system"


@pytest.mark.parametrize(
    ("options", "kind", "value"),
    [
        (ManagedIdentityOptions(user_assigned_client_id="cid"), "client_id", "cid"),
        (ManagedIdentityOptions(user_assigned_object_id="oid"), "object_id", "oid"),
        (ManagedIdentityOptions(user_assigned_resource_id=RID), "resource_id", RID),
        (ManagedIdentityOptions(user_assigned_client_id=RID), "resource_id", RID),
        (ManagedIdentityOptions(user_assigned_client_id="  cid "), "client_id", "cid"),
    ],
)
def test_one_selector_picks_a_user_assigned_identity(
    options: ManagedIdentityOptions, kind: str, value: str
) -> None:
    selected = ManagedIdentityId.from_options(options)
    assert (selected.kind, selected.value) == (kind, value)


def test_cache_keys_distinguish_identities_and_ignore_resource_id_case() -> None:
    by_client = ManagedIdentityId("client_id", "abc")
    by_object = ManagedIdentityId("object_id", "abc")
    assert by_client.cache_key == "client_id:abc"
    assert by_client.cache_key != by_object.cache_key
    upper = ManagedIdentityId("resource_id", RID.upper()).cache_key
    assert upper == ManagedIdentityId("resource_id", RID).cache_key


def test_two_selectors_are_refused() -> None:
    class Both:
        user_assigned_client_id = "a"
        user_assigned_object_id = "b"
        user_assigned_resource_id = None

    with pytest.raises(ManagedIdentityError, match="exactly one"):
        ManagedIdentityId.from_options(Both())


def test_query_uses_the_endpoint_spelling_of_resource_id() -> None:
    selected = ManagedIdentityId("resource_id", RID)
    assert selected.query("msi_res_id") == {"msi_res_id": RID}
    assert selected.query("mi_res_id") == {"mi_res_id": RID}
    assert ManagedIdentityId("object_id", "o").query("msi_res_id") == {"object_id": "o"}
    assert ManagedIdentityId().query("msi_res_id") == {}


@pytest.mark.parametrize(
    ("environ", "source"),
    [
        ({}, ManagedIdentitySource.IMDS),
        (
            {"IDENTITY_ENDPOINT": "http://a", "IDENTITY_HEADER": "h"},
            ManagedIdentitySource.APP_SERVICE,
        ),
        (
            {
                "IDENTITY_ENDPOINT": "https://a",
                "IDENTITY_HEADER": "h",
                "IDENTITY_SERVER_THUMBPRINT": "t",
            },
            ManagedIdentitySource.SERVICE_FABRIC,
        ),
        ({"MSI_ENDPOINT": "http://m", "MSI_SECRET": "s"}, ManagedIdentitySource.MACHINE_LEARNING),
        ({"MSI_ENDPOINT": "http://m"}, ManagedIdentitySource.CLOUD_SHELL),
        (
            {"IDENTITY_ENDPOINT": "http://a", "IMDS_ENDPOINT": "http://i"},
            ManagedIdentitySource.AZURE_ARC,
        ),
        # App Service wins over Arc and ML when its variables are complete (NET order).
        (
            {
                "IDENTITY_ENDPOINT": "http://a",
                "IDENTITY_HEADER": "h",
                "IMDS_ENDPOINT": "x",
                "MSI_ENDPOINT": "m",
            },
            ManagedIdentitySource.APP_SERVICE,
        ),
        # ML wins over Arc; Cloud Shell wins over Arc.
        (
            {"MSI_ENDPOINT": "m", "IDENTITY_ENDPOINT": "a", "IMDS_ENDPOINT": "i"},
            ManagedIdentitySource.CLOUD_SHELL,
        ),
        # Incomplete sets fall through; empty values do not count.
        ({"IDENTITY_ENDPOINT": "http://a"}, ManagedIdentitySource.IMDS),
        ({"IDENTITY_ENDPOINT": "http://a", "IDENTITY_HEADER": " "}, ManagedIdentitySource.IMDS),
    ],
)
def test_source_detection_follows_the_msal_net_order(
    environ: dict[str, str], source: ManagedIdentitySource
) -> None:
    assert detect_source(environ, arc_agent_installed=False).source is source


def test_detection_reports_the_deciding_variables() -> None:
    detected = detect_source(
        {"IDENTITY_ENDPOINT": "http://a/msi", "IDENTITY_HEADER": "h"}, arc_agent_installed=False
    )
    assert detected.variables == ("IDENTITY_ENDPOINT", "IDENTITY_HEADER")
    assert detected.endpoint == "http://a/msi"
    assert "IDENTITY_HEADER" in detected.reason


def test_installed_arc_agent_selects_arc_with_its_default_endpoint() -> None:
    detected = detect_source({}, arc_agent_installed=True)
    assert detected.source is ManagedIdentitySource.AZURE_ARC
    assert detected.endpoint == ARC_DEFAULT_ENDPOINT


def test_imds_host_override() -> None:
    detected = detect_source(
        {"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:5000/"}, arc_agent_installed=False
    )
    assert detected.endpoint == "http://127.0.0.1:5000"
    assert detected.variables == ("AZURE_POD_IDENTITY_AUTHORITY_HOST",)
    assert detect_source({}, arc_agent_installed=False).endpoint == "http://169.254.169.254"


@pytest.mark.parametrize(
    "environ",
    [
        {"IDENTITY_ENDPOINT": "http://a", "IMDS_ENDPOINT": "http://i"},
        {"MSI_ENDPOINT": "http://m"},
        {
            "IDENTITY_ENDPOINT": "https://a",
            "IDENTITY_HEADER": "h",
            "IDENTITY_SERVER_THUMBPRINT": "t",
        },
    ],
)
def test_user_assigned_identity_is_refused_where_only_system_assigned_exists(
    environ: dict[str, str],
) -> None:
    detected = detect_source(environ, arc_agent_installed=False)
    require_supported_identity(detected, ManagedIdentityId())  # system-assigned is fine
    with pytest.raises(ManagedIdentityError, match="only supports the system-assigned"):
        require_supported_identity(detected, ManagedIdentityId("client_id", "cid"))


def test_machine_learning_selects_user_assigned_by_client_id_only() -> None:
    detected = detect_source({"MSI_ENDPOINT": "m", "MSI_SECRET": "s"}, arc_agent_installed=False)
    require_supported_identity(detected, ManagedIdentityId("client_id", "cid"))
    with pytest.raises(ManagedIdentityError, match="client id only"):
        require_supported_identity(detected, ManagedIdentityId("object_id", "oid"))
