"""Serve the fakes on 127.0.0.1 from a background thread, for sync and async tests alike.

    with FakeProviders() as fakes:               # or FakeProviders(twilio=..., telegram=...)
        fakes.url                                # "http://127.0.0.1:54321"
        fakes.twilio.messages, fakes.telegram.messages

uvicorn runs in its own thread with its own event loop, so the fakes answer while the test's
loop is busy awaiting them (an async test) or blocked (a sync one). The socket is bound before
the thread starts (port 0: the kernel picks a free port, no race), entering waits until the
server accepts requests, leaving stops it and joins the thread.

Pointing the SDKs at it:

* twilio (9.x): ``client = twilio.rest.Client(sid, token, http_client=AsyncTwilioHttpClient())``,
  then ``client.api.base_url = fakes.url`` and
  ``await client.messages.create_async(to=..., from_=..., body=..., status_callback=...)``.
  Leave `region`/`edge` (and TWILIO_REGION/TWILIO_EDGE) unset: they rewrite the host name.
  Close the HTTP client: ``await client.http_client.close()``.
* aiogram (3.x): ``Bot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(fakes.url)))``;
  close it: ``await bot.session.close()``.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from types import TracebackType
from typing import Self

import uvicorn
from starlette.applications import Starlette
from starlette.routing import BaseRoute
from starlette.types import ASGIApp

from channels.fakes.telegram import FakeTelegram
from channels.fakes.twilio import FakeTwilio

__all__ = ["FakeProviders", "ThreadedServer", "build_app"]


def build_app(
    twilio: FakeTwilio, telegram: FakeTelegram, extra_routes: Sequence[BaseRoute] = ()
) -> Starlette:
    """One Starlette app serving both fakes (and `extra_routes`, e.g. a webhook receiver)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await twilio.startup()
        await telegram.startup()
        try:
            yield
        finally:
            await telegram.shutdown()
            await twilio.shutdown()

    routes = [*twilio.routes(), *telegram.routes(), *extra_routes]
    return Starlette(routes=routes, lifespan=lifespan)


class ThreadedServer:
    """Any ASGI app under uvicorn on 127.0.0.1, in a background thread; a context manager.

    Quiet (warnings only, no access log), no websockets, lifespan on. `port=0` picks a free one.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 10.0,
    ) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self.startup_timeout = startup_timeout
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self._error: BaseException | None = None
        self.port = 0

    @property
    def url(self) -> str:
        if not self.port:
            raise RuntimeError("the server is not running")
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("already started")
        # proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say TCP, and
        # without it each response costs a 40 ms delayed-ACK stall (~20 requests/s in series).
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self._requested_port))
        except OSError:
            sock.close()
            raise
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.app,
            host=self.host,
            port=self.port,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="on",
            ws="none",
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._error = None
        self._thread = threading.Thread(
            target=self._run, name=f"{type(self).__name__}:{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + self.startup_timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                error = self._error
                self.stop()
                raise RuntimeError(f"the server on port {self.port} did not start") from error
            time.sleep(0.005)

    def _run(self) -> None:
        assert self._server is not None and self._socket is not None
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except BaseException as exc:  # SystemExit on a failed startup included
            self._error = exc

    def before_stop(self) -> None:
        """Hook run before the server is told to exit (e.g. to end long polls)."""

    def stop(self) -> None:
        """Stop the server and join its thread (idempotent)."""
        server, thread = self._server, self._thread
        if server is not None and thread is not None:
            self.before_stop()
            server.should_exit = True
            thread.join(timeout=10)
            if thread.is_alive():
                server.force_exit = True
                thread.join(timeout=5)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        self.port = 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class FakeProviders(ThreadedServer):
    """Fake Twilio and fake Telegram in one app on one free loopback port.

    `twilio` and `telegram` default to fresh fakes with random credentials; `extra_routes` are
    served by the same app (a status-callback receiver, say). `url` is the base URL for both
    SDKs (see the module docstring). Leaving the context ends pending long polls first, so it
    never waits for them.
    """

    def __init__(
        self,
        twilio: FakeTwilio | None = None,
        telegram: FakeTelegram | None = None,
        *,
        port: int = 0,
        extra_routes: Sequence[BaseRoute] = (),
        startup_timeout: float = 10.0,
    ) -> None:
        self.twilio = twilio if twilio is not None else FakeTwilio()
        self.telegram = telegram if telegram is not None else FakeTelegram()
        super().__init__(
            build_app(self.twilio, self.telegram, extra_routes),
            port=port,
            startup_timeout=startup_timeout,
        )

    def reset(self) -> None:
        """Reset both fakes' records and scripts."""
        self.twilio.reset()
        self.telegram.reset()

    def before_stop(self) -> None:
        self.telegram.interrupt()
