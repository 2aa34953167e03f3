"""One replica process of the cold-fleet test (run by test_fleet_acquisition.py; also `bench`).

argv[1] is a JSON object: manifest (the emulator manifest's path), redis (a URL, or null for
the memory cache), threads, start (epoch seconds: every process begins at once). The process
environment holds the emulator's env file. Every thread asks for a Bearer and an mTLS PoP token
through `TokenAcquirerFactory`'s acquirer; prints one JSON object: how many came from the
identity provider and how many from a cache.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from fleet_helpers import replica

from identity_web import TokenSource


def main() -> None:
    args: dict[str, Any] = json.loads(sys.argv[1])
    manifest = json.loads(Path(args["manifest"]).read_text(encoding="utf-8"))
    scope = manifest["resource"]["scope"]
    sources: list[str] = []
    with tempfile.TemporaryDirectory() as empty:
        services = replica(manifest, args["redis"], "Bearer", Path(empty), environ=os.environ)
        acquirer = services.token_acquirer

        def work(_: int) -> None:
            for bound in (False, True):
                result = acquirer.acquire_token_for_app(scope, bound=bound)
                sources.append(result.token_source.value)

        with ThreadPoolExecutor(args["threads"]) as pool:
            time.sleep(max(0.0, args["start"] - time.time()))
            list(pool.map(work, range(args["threads"])))
        services.close()
    network = sources.count(TokenSource.IDENTITY_PROVIDER.value)
    print(json.dumps({"identity_provider": network, "cache": len(sources) - network}))


if __name__ == "__main__":
    main()
