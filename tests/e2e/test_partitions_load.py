"""Partitions under load (issue 18, point 3), a reduced deterministic count of
`partitions_load.run_load`; `./run load` runs 10^6 acquisitions the same way."""

from __future__ import annotations

from partitions_load import Key, Partition, run_load

ACQUISITIONS = 20_000


def test_no_token_crosses_a_partition_and_one_request_per_key_and_expiry() -> None:
    report = run_load(ACQUISITIONS, phases=3)
    assert report.problems() == []
    assert report.acquisitions == ACQUISITIONS  # each one returned a token that was checked
    assert report.keys == 2 * 2 * 2 * 3
    assert report.token_requests == report.keys * 3
    assert report.resource_calls == 2 * 2 * 2 * 3 * 2  # 8 api keys, a thread and a task each


def test_a_token_of_another_partition_is_reported() -> None:
    mine = Partition("tenant-a", "app-a", "thumb-a", "api://a", services=None)  # type: ignore[arg-type]
    key = Key(mine, bound=True, scope="api://a/.default")
    right = {"tid": "tenant-a", "appid": "app-a", "azp": "app-a", "aud": "api://a"}
    assert key.problems("t", {**right, "cnf": {"x5t#S256": "thumb-a"}}) == []
    assert len(key.problems("t", {**right, "tid": "tenant-b", "cnf": {"x5t#S256": "x"}})) == 2
    assert len(key.problems("t", right)) == 1  # a Bearer token handed out for a bound key
