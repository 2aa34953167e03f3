"""One process of the cold-fleet benchmark (`bench.fleet`).

`python -m bench._fleet_worker` reads one JSON object from
stdin (it may hold a secret): impl ("ours" or "msal"), threads, start (epoch
seconds: every process begins at once), config (our settings, with or without a `TokenCache`
section), environ (the emulator's env file) and, for MSAL, its app's parameters. Every thread
asks for one app token of one cold key; prints one JSON object: the seconds from the start to
the last thread's token.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from typing import Any


def ours(args: dict[str, Any]) -> Callable[[], object]:
    from identity_web import TokenAcquirerFactory  # noqa: PLC0415 - timed after the imports
    from identity_web.settings import IdentityWebSettings  # noqa: PLC0415

    settings = IdentityWebSettings.from_mapping(args["config"])
    services = TokenAcquirerFactory(settings, environ=args["environ"]).build()
    services.container.transport().client_for(None)  # first-use work before the clock, as MSAL's
    scope = args["scope"]
    return lambda: services.token_acquirer.acquire_token_for_app(scope)  # keeps services open


def msal_call(args: dict[str, Any]) -> Callable[[], object]:
    import msal  # noqa: PLC0415
    import requests  # noqa: PLC0415

    session = requests.Session()
    session.verify = args["environ"]["SSL_CERT_FILE"]
    session.trust_env = False
    app = msal.ConfidentialClientApplication(
        args["client_id"],
        client_credential=args["client_secret"],
        authority=args["authority"],
        instance_discovery=False,
        http_client=session,
    )
    scopes = [args["scope"]]

    def call() -> object:
        result = app.acquire_token_for_client(scopes)
        assert "access_token" in result, result.get("error")
        return result

    return call


def main() -> None:
    args: dict[str, Any] = json.loads(sys.stdin.read())
    call = ours(args) if args["impl"] == "ours" else msal_call(args)
    threads = [threading.Thread(target=call) for _ in range(args["threads"])]
    time.sleep(max(0.0, args["start"] - time.time()))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"seconds": time.time() - args["start"]}))


if __name__ == "__main__":
    main()
