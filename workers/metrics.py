"""`/metrics` for long-running processes: our own prometheus-client registry followed by the
Temporal SDK's metrics, so one scrape target carries both."""

from __future__ import annotations

import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest


def serve_metrics(port: int, sdk_metrics_address: str | None, host: str = "127.0.0.1") -> int:
    """Serve `/metrics` on `host:port` (0 picks a free port) in a daemon thread; return the port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics is served here")
                return
            body = generate_latest(REGISTRY) + _sdk_metrics(sdk_metrics_address)
            self.send_response(200)
            self.send_header("Content-Type", CONTENT_TYPE_LATEST)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return  # scrapes every few seconds would drown the worker's log

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return int(server.server_address[1])


def _sdk_metrics(address: str | None) -> bytes:
    if not address:
        return b""
    try:
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=2) as answer:
            return bytes(answer.read())
    except OSError as exc:
        return f"# temporal sdk metrics unavailable: {exc}\n".encode()
