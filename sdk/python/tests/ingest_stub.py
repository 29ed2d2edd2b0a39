"""A tiny scripted HTTP server on loopback that speaks the ingest API's wire format.

Each request pops the next scripted reply; with none left it accepts every event in the batch.
It records every request so tests can check what was sent, and how often.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    # bytes, or a function of the request body; None accepts every event of the request.
    body: bytes | Callable[[bytes], bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Recorded:
    method: str
    path: str
    body: bytes
    headers: dict[str, str]


class IngestStub:
    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.requests: list[Recorded] = []
        self.always: Reply | None = None
        self._lock = threading.Lock()
        self.url = ""

    def next_reply(self) -> Reply:
        with self._lock:
            if self.script:
                return self.script.pop(0)
            return self.always or Reply()


def accept_all(body: bytes) -> bytes:
    events = json.loads(body)["events"]
    results = [
        {
            "index": i,
            "tenant_id": event["tenant_id"],
            "event_id": event["event_id"],
            "status": "accepted",
            "reason": None,
            "detail": None,
        }
        for i, event in enumerate(events)
    ]
    return json.dumps({"results": results}).encode()


def _handler(stub: IngestStub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            with stub._lock:
                stub.requests.append(
                    Recorded(
                        self.command,
                        self.path,
                        body,
                        {k.lower(): v for k, v in self.headers.items()},
                    )
                )
            reply = stub.next_reply()
            if reply.delay:
                time.sleep(reply.delay)
            if reply.body is None:
                payload = accept_all(body)
            elif callable(reply.body):
                payload = reply.body(body)
            else:
                payload = reply.body
            try:
                self.send_response(reply.status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (timeout tests)

        do_GET = _serve
        do_POST = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_stub() -> Iterator[IngestStub]:
    stub = IngestStub()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(stub))
    server.daemon_threads = True
    stub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
    )
    thread.start()
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
