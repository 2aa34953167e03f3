"""Web API sample: accept only Entra tokens bound to the caller's TLS client certificate.

Settings: appsettings.json next to this file (overridable with environment variables such as
AzureAd__TenantId or AzureAd__RequireBoundTokens). TLS, from the environment:

    WEB_API_BIND        host:port to listen on (default 127.0.0.1:8443)
    WEB_API_TLS_CERT    the server certificate (PEM)      WEB_API_TLS_KEY  its private key (PEM)
    WEB_API_CLIENT_CA   the CAs whose client certificates the server asks for and verifies

The server is nonecorn (hypercorn with the ASGI TLS extension), so the app sees the client
certificate of each connection. A connection without one is accepted at the TLS level and the
API answers 401 to a bound token sent over it.
"""

import asyncio
import os
import signal
import ssl
import sys
from pathlib import Path

from app import create_app
from hypercorn.asyncio import serve
from hypercorn.config import Config

from identity_web import IdentityWebError
from identity_web.resource import ProtectedWebApi


def server_config() -> Config:
    return Config.from_mapping(
        bind=[os.environ.get("WEB_API_BIND", "127.0.0.1:8443")],
        certfile=os.environ["WEB_API_TLS_CERT"],
        keyfile=os.environ["WEB_API_TLS_KEY"],
        ca_certs=os.environ["WEB_API_CLIENT_CA"],
        # Ask every client for a certificate, verify it, but let connections without one in:
        # the API itself answers 401 to a bound token that arrives over such a connection.
        verify_mode=ssl.CERT_OPTIONAL,
        alpn_protocols=["http/1.1"],
        accesslog="-",
    )


async def run(api: ProtectedWebApi, config: Config) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(create_app(api), config, shutdown_trigger=stop.wait)  # type: ignore[arg-type]


def main() -> int:
    api = ProtectedWebApi.from_settings(config_dir=Path(__file__).parent)
    asyncio.run(run(api, server_config()))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (IdentityWebError, KeyError, OSError) as error:
        print(
            f"error: {error!r}" if isinstance(error, KeyError) else f"error: {error}",
            file=sys.stderr,
        )
        sys.exit(1)
