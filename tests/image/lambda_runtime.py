"""The Lambda service's side of the Lambda Runtime API, for one function's container.

On Lambda, the runtime interface client in the image (awslambdaric, started by the image's
entry point) long-polls `GET /2018-06-01/runtime/invocation/next` on the address in
`AWS_LAMBDA_RUNTIME_API`, calls the handler, and posts the result to
`/invocation/<request id>/response` (or `/error`; an import failure to `/init/error`).
This server plays Lambda's part of that protocol, so the real client in the image runs the
handler exactly as it would on Lambda: `invoke(event)` hands one event over and returns
the handler's result. One event at a time, as one execution environment serves them.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_PREFIX = "/2018-06-01/runtime"


class FunctionError(AssertionError):
    """The handler raised (or failed to load): Lambda's error document."""

    def __init__(self, error: dict) -> None:
        super().__init__(f"{error.get('errorType')}: {error.get('errorMessage')}")
        self.error = error


class RuntimeApi:
    def __init__(self, host: str, *, function_arn: str, timeout_seconds: int) -> None:
        self.function_arn = function_arn
        self.timeout_seconds = timeout_seconds
        self._events: queue.Queue = queue.Queue()
        self._results: dict[str, queue.Queue] = {}
        self.init_error: dict | None = None
        self.polls = 0
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.path != f"{_PREFIX}/invocation/next":
                    return self._answer(404, {"errorMessage": self.path})
                api.polls += 1
                request_id, event = api._events.get()
                if request_id is None:  # shutting down
                    return self._answer(410, {})
                deadline = int((time.time() + api.timeout_seconds) * 1000)
                return self._answer(200, event, headers={
                    "Lambda-Runtime-Aws-Request-Id": request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline),
                    "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
                    "Lambda-Runtime-Trace-Id":
                        f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Sampled=0",
                })

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                parts = self.path[len(_PREFIX):].strip("/").split("/")
                if parts == ["init", "error"]:
                    api.init_error = body or {"errorType": "Runtime.Unknown"}
                    for waiting in list(api._results.values()):
                        waiting.put(("error", api.init_error))
                elif len(parts) == 3 and parts[0] == "invocation" and \
                        parts[2] in ("response", "error") and parts[1] in api._results:
                    api._results[parts[1]].put((parts[2], body))
                else:
                    return self._answer(404, {"errorMessage": self.path})
                return self._answer(202, {"status": "OK"})

            def _answer(self, status, body, headers=None):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        self._server.daemon_threads = True
        self.address = f"{host}:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self._lock = threading.Lock()

    def invoke(self, event: dict, *, timeout: float | None = None) -> dict:
        """Hand `event` to the function; its result, or FunctionError."""
        if self.init_error is not None:
            raise FunctionError(self.init_error)
        with self._lock:  # one invocation at a time per execution environment
            request_id = str(uuid.uuid4())
            answers: queue.Queue = queue.Queue()
            self._results[request_id] = answers
            self._events.put((request_id, event))
            try:
                kind, body = answers.get(timeout=timeout or self.timeout_seconds + 60)
            except queue.Empty:
                raise AssertionError(f"the function did not answer within "
                                     f"{timeout or self.timeout_seconds + 60}s") from None
            finally:
                self._results.pop(request_id, None)
        if kind == "error":
            raise FunctionError(body or {})
        return body

    def close(self) -> None:
        self._events.put((None, None))
        self._server.shutdown()
        self._server.server_close()
