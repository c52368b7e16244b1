"""What the outage tests share: a loopback TCP proxy they control (put it between the
service and a real backend - PostgreSQL, Redis, moto, the GCS or Firestore emulator - then
cut it), a hook that injects a fault in the middle of an upload, and the shape every
outage answer must have.

* `cut()` closes every open connection and refuses new ones (the backend is "down");
  `restore()` lets connections through again; `reset()` only closes the open ones.
* `drop_after_request(match)` arms a one-shot fault: the next client bytes containing
  `match` are delivered to the backend, then both sides are closed before any answer
  comes back (the backend did the work; the client cannot know).
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading

__all__ = ["Proxy", "assert_outage", "during_storage_write"]


def during_storage_write(storage, monkeypatch, fault, *, after: bool = True) -> None:
    """Call `fault()` when the request writes its table to `storage`: before the write
    (`after=False`: the storage itself fails) or after it (the next backend fails)."""
    original = storage.put_stream

    def put(key, chunks):
        if not after:
            fault()
        size = original(key, chunks)
        if after:
            fault()
        return size

    monkeypatch.setattr(storage, "put_stream", put)


def assert_outage(response, backend: str | None = None) -> None:
    """A 503 problem document with Retry-After (naming `backend` when given)."""
    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    body = response.json()
    assert body["code"] in ("backend_unavailable", "write_outcome_unknown")
    if backend is not None:
        assert body["backend"] == backend


class Proxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._down = threading.Event()
        self._drop_armed = threading.Event()
        self._drop_match = b""
        self.dropped = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="netproxy", daemon=True)
        self._thread.start()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    # Faults.

    def cut(self) -> None:
        self._down.set()
        self.reset()

    def reset(self) -> None:
        """Close every open connection (new ones still go through)."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                _close(sock)

    def restore(self) -> None:
        self._down.clear()

    def drop_after_request(self, match: bytes = b"") -> None:
        self.dropped.clear()
        self._drop_match = match
        self._drop_armed.set()

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._thread.join(timeout=5)
        _close(self._server)

    def __enter__(self) -> Proxy:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    # Plumbing.

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except (TimeoutError, OSError):
                continue
            if self._down.is_set():
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, client: socket.socket, upstream: socket.socket) -> None:
        sockets = [client, upstream]
        try:
            while not self._stop.is_set():
                try:
                    readable, _, _ = select.select(sockets, [], [], 0.2)
                except (OSError, ValueError):
                    return
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        upstream.sendall(data)
                        if self._drop_armed.is_set() and self._drop_match in data:
                            self._drop_armed.clear()
                            # Give the backend time to act on it, then vanish.
                            upstream.settimeout(2)
                            with contextlib.suppress(OSError):
                                upstream.recv(65536)  # its answer, never delivered
                            self.dropped.set()
                            return
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            _close(client)
            _close(upstream)
            with self._lock:
                if (client, upstream) in self._pairs:
                    self._pairs.remove((client, upstream))


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
