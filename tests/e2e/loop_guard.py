"""A check that fails on blocking calls made on a thread whose asyncio event loop is running.

While `LoopGuard` is installed, these calls raise `BlockingCallError` (and are recorded, in
case library code swallows the error) when `asyncio` has a running loop in the calling thread:

* sockets: `socket.create_connection`, `socket.getaddrinfo`, and connect/send/recv on a socket
  in blocking mode (the loop's own sockets are non-blocking and pass);
* files: `open` (builtins and io), `os.open`, `os.stat` (so `os.path.exists`, `Path.exists`),
  `os.memfd_create`, and the `ssl.SSLContext` methods that read key or CA files;
* sleeping: `time.sleep`;
* locks: `acquire()` (or `with`) that may block, on a `threading.Lock`/`RLock` created by
  identity-web code (not the emulator's) while the guard is installed.

Threads without a running loop (the emulator's, `asyncio.to_thread` workers) are not checked,
nor are calls made while Python imports a module or formats a traceback.
"""

from __future__ import annotations

import asyncio
import builtins
import io
import os
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

_EXEMPT_MODULES = ("importlib", "linecache", "tokenize", "traceback")


class BlockingCallError(AssertionError):
    """A blocking call on the event loop thread."""


class LoopGuard:
    def __init__(self) -> None:
        self.violations: list[str] = []

    def check(self, what: str) -> None:
        if asyncio._get_running_loop() is None or _exempt():
            return
        caller = _first_library_frame()
        self.violations.append(f"{what} (from {caller})")
        raise BlockingCallError(f"blocking call on the event loop thread: {what} (from {caller})")

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._patch_functions(monkeypatch)
        self._patch_sockets(monkeypatch)
        self._patch_locks(monkeypatch)

    def _patch_functions(self, monkeypatch: pytest.MonkeyPatch) -> None:
        targets: list[tuple[Any, str]] = [
            (builtins, "open"),
            (io, "open"),
            (os, "open"),
            (os, "stat"),
            (time, "sleep"),
            (socket, "create_connection"),
            (socket, "getaddrinfo"),
            (ssl.SSLContext, "load_cert_chain"),
            (ssl.SSLContext, "load_verify_locations"),
            (ssl.SSLContext, "load_default_certs"),
            (ssl.SSLContext, "set_default_verify_paths"),
        ]
        if hasattr(os, "memfd_create"):
            targets.append((os, "memfd_create"))
        for owner, name in targets:
            monkeypatch.setattr(owner, name, self._checked(f"{name}()", getattr(owner, name)))

    def _checked(self, what: str, original: Callable[..., Any]) -> Callable[..., Any]:
        guard = self

        def checked(*args: Any, **kwargs: Any) -> Any:
            guard.check(what)
            return original(*args, **kwargs)

        return checked

    def _patch_sockets(self, monkeypatch: pytest.MonkeyPatch) -> None:
        guard = self
        methods = ("connect", "connect_ex", "send", "sendall", "recv", "recv_into")
        for cls in (socket.socket, ssl.SSLSocket):
            for name in methods:
                original = getattr(cls, name)

                def checked(
                    sock: socket.socket, *args: Any, _name: str = name, _o: Any = original
                ) -> Any:
                    if sock.gettimeout() != 0.0:  # a blocking socket
                        guard.check(f"socket.{_name}() on a blocking socket")
                    return _o(sock, *args)

                monkeypatch.setattr(cls, name, checked)

    def _patch_locks(self, monkeypatch: pytest.MonkeyPatch) -> None:
        for name in ("Lock", "RLock"):
            factory = getattr(threading, name)
            monkeypatch.setattr(threading, name, self._lock_factory(factory))

    def _lock_factory(self, factory: Callable[[], Any]) -> Callable[[], Any]:
        guard = self

        def make() -> Any:
            lock = factory()
            module = sys._getframe(1).f_globals.get("__name__", "")
            ours = module.startswith("identity_web") and not module.startswith(
                "identity_web.emulator"
            )
            return _GuardedLock(lock, guard, f"{module}") if ours else lock

        return make


class _GuardedLock:
    """A lock whose blocking acquire is checked against the running loop."""

    def __init__(self, lock: Any, guard: LoopGuard, owner: str) -> None:
        self._lock = lock
        self._guard = guard
        self._owner = owner

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if blocking:
            self._guard.check(f"lock.acquire() on a lock of {self._owner}")
        return bool(self._lock.acquire(blocking, timeout))

    def release(self) -> None:
        self._lock.release()

    def locked(self) -> bool:
        return bool(self._lock.locked())

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _exempt() -> bool:
    """Imports and traceback formatting may touch files (frames up to the loop's callback)."""
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module == "asyncio.events":  # `Handle._run`: the loop called this callback
            return False
        if module.startswith(_EXEMPT_MODULES) or frame.f_code.co_filename.startswith(
            "<frozen importlib"
        ):
            return True
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _first_library_frame() -> str:
    frame = sys._getframe(2)
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("identity_web"):
            return f"{module}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "outside identity_web"


@contextmanager
def loop_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopGuard]:
    guard = LoopGuard()
    guard.install(monkeypatch)
    try:
        yield guard
    finally:
        monkeypatch.undo()
