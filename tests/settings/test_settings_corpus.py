"""Every appsettings file of Identity.Web's repository (81 files, outside this repository).

The corpus is found through the environment variable IDENTITY_WEB_CONFIG_CORPUS, which
`.ci/run` sets to `../shared/reference/identity-web-configs`. Without it (a fresh clone of the
repository alone) these tests are reported as skipped, with that reason in the summary: they
are the only tests that need anything outside the repository.

Each file is loaded exactly as a user would load it (copied into a directory as
`appsettings.json`). None may crash; the few expected to be invalid are listed below with the
reason, and they must fail with a ConfigurationError. All others must load.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from identity_web import ConfigurationError
from identity_web.settings import CredentialSource, LoadedSettings, load_settings

CORPUS_VARIABLE = "IDENTITY_WEB_CONFIG_CORPUS"
_CORPUS_SETTING = os.environ.get(CORPUS_VARIABLE, "")
CORPUS = Path(_CORPUS_SETTING).resolve() if _CORPUS_SETTING else Path()

pytestmark = pytest.mark.skipif(
    not _CORPUS_SETTING,
    reason=f"not run: {CORPUS_VARIABLE} is not set (it names the Identity.Web configuration "
    "corpus, which is not part of this repository; .ci/run sets it to "
    "../shared/reference/identity-web-configs)",
)

EXPECTED_INVALID = {
    "ProjectTemplates/templates/ComponentsWebAssembly-CSharp/Server/appsettings.Development.json": (
        "template whose preprocessor comments leave the top-level object unclosed: invalid JSON"
    ),
    "tests/DevApps/GenericWebApi/appsettings.json": (
        'template placeholder "BaseUrl": "URL" in DownstreamApis.Api1: not a URL'
    ),
    "tests/DevApps/Mtls/MtlsClient/appsettings.json": (
        '"ProtocolScheme": "MTLS" in WebApi: neither Bearer nor MTLS_POP (it used to give a '
        "Bearer token without a word)"
    ),
    "tests/DevApps/B2CWebAppCallsWebApi/Client/appsettings.json": (
        '"UserFlow" in TodoList (a B2C user flow for a user token): user flows are out of scope'
    ),
}

# The reason each refused file gives: its key path and a word of the message.
EXPECTED_PROBLEMS = {
    "tests/DevApps/Mtls/MtlsClient/appsettings.json": ("WebApi.ProtocolScheme", "'MTLS'"),
    "tests/DevApps/B2CWebAppCallsWebApi/Client/appsettings.json": (
        "TodoList.UserFlow",
        "user flows are out of scope",
    ),
}


def corpus_files() -> list[str]:
    # A corpus that is named but missing must FAIL (not skip): the variable promises it.
    assert CORPUS.is_dir(), f"{CORPUS_VARIABLE}={_CORPUS_SETTING}: no such directory"
    return sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.json"))


def load(tmp_path: Path, relative: str) -> LoadedSettings:
    shutil.copyfile(CORPUS / relative, tmp_path / "appsettings.json")
    return load_settings(tmp_path, environ={})


LOADED = "loaded"
INVALID = "invalid"


@pytest.fixture(scope="module")
def files() -> list[str]:
    return corpus_files()


@pytest.fixture(scope="module")
def outcomes(files: list[str], tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each file's outcome: `loaded`, `invalid: <ConfigurationError>` or `crashed: <error>`."""
    results: dict[str, str] = {}
    for index, relative in enumerate(files):
        directory = tmp_path_factory.mktemp(f"corpus{index}")
        try:
            load(directory, relative)
        except ConfigurationError as error:
            results[relative] = f"{INVALID}: {error}"
        except Exception as error:  # a crash is what this test exists to catch
            results[relative] = f"crashed: {type(error).__name__}: {error}"
        else:
            results[relative] = LOADED
    return results


def test_corpus_is_complete(files: list[str]) -> None:
    assert len(files) == 81
    assert set(EXPECTED_INVALID) <= set(files)


def test_every_corpus_file_loads_or_fails_cleanly(outcomes: dict[str, str]) -> None:
    crashed = {name: state for name, state in outcomes.items() if state.startswith("crashed")}
    assert not crashed, crashed
    unexpected = [
        f"{name}: {state}; expected {INVALID if name in EXPECTED_INVALID else LOADED}"
        for name, state in outcomes.items()
        if state.startswith(INVALID) != (name in EXPECTED_INVALID)
    ]
    assert not unexpected, "\n".join(unexpected)


def test_refused_files_name_the_key_and_the_reason(tmp_path: Path) -> None:
    for relative, (path, word) in EXPECTED_PROBLEMS.items():
        with pytest.raises(ConfigurationError) as caught:
            load(tmp_path, relative)
        messages = {problem.path: problem.message for problem in caught.value.problems}
        assert word in messages[path], (relative, messages)


def test_daemon_samples_bind_their_meaning(tmp_path: Path) -> None:
    msi = load(tmp_path, "tests/DevApps/daemon-app/daemon-app-msi-mtls/appsettings.json").settings
    vault = msi.downstream_api("AzureKeyVault")
    assert vault.is_mtls_pop
    assert vault.request_app_token
    identity = vault.acquire_token_options.managed_identity
    assert identity is not None
    assert identity.user_assigned_client_id == "4b7a4b0b-ecb2-409e-879a-1e21a15ddaf6"
    assert vault.extra_header_parameters == {"x-ms-tokenboundauth": "true"}
    assert msi.azure_ad.client_capabilities == ("cp1",)

    pop = load(tmp_path, "tests/DevApps/MtlsPop/MtlsPopClient/appsettings.json").settings
    assert pop.azure_ad.send_x5c  # spelt SendX5c in the file
    assert pop.azure_ad.azure_region == "westus3"
    (credential,) = pop.azure_ad.client_credentials
    assert credential.source_type is CredentialSource.StoreWithDistinguishedName
    assert credential.certificate_distinguished_name == "CN=LabAuth.MSIDLab.com"
    assert pop.downstream_api("webapi").scopes == ("https://graph.microsoft.com/.default",)

    fic = load(tmp_path, "tests/DevApps/daemon-app/daemon-app-fic-mtls/appsettings.json").settings
    sources = [c.source_type for c in fic.azure_ad.client_credentials]
    assert CredentialSource.SignedAssertionFromManagedIdentity in sources

    ciam = load(tmp_path, "tests/DevApps/ciam/myWebApi/appsettings.json").settings.azure_ad
    assert ciam.effective_authority() == (
        "https://msidlabciam6.ciamlogin.com/msidlabciam6.onmicrosoft.com/"
    )


def test_corpus_summary(
    files: list[str], outcomes: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Reports the counts on the terminal in every run (not only with -s)."""
    loaded = sum(1 for state in outcomes.values() if state == LOADED)
    invalid = sum(1 for state in outcomes.values() if state.startswith(INVALID))
    with capsys.disabled():
        print(
            f"\n[corpus] {len(files)} Identity.Web appsettings files: {loaded} loaded, "
            f"{invalid} ConfigurationError (expected: {len(EXPECTED_INVALID)}), "
            f"{len(files) - loaded - invalid} crashed"
        )
    assert loaded + invalid == len(files)
    assert invalid == len(EXPECTED_INVALID)
