"""Turn the tqdm loops inside SDV, CTGAN and DeepEcho into job progress and cancellation.

Those libraries report epochs only through tqdm. We swap their module-level `tqdm` for a
silent stand-in that forwards each step to a per-thread callback; the callback may raise
`JobCancelled`, which unwinds the fit between two steps. Nothing is printed.
"""

from __future__ import annotations

import sys
import threading
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["install", "reporting"]

_state = threading.local()
_patched: set[str] = set()
_install_lock = threading.Lock()

# (module, attribute, style): "class" replaces `from tqdm import tqdm`,
# "module" replaces `import tqdm` (used as `tqdm.tqdm(...)`).
_TARGETS = (
    ("ctgan.synthesizers.ctgan", "tqdm", "class"),
    ("ctgan.synthesizers.tvae", "tqdm", "class"),
    ("deepecho.models.par", "tqdm", "class"),
    ("sdv.multi_table.base", "tqdm", "class"),
    ("sdv.multi_table.hma", "tqdm", "class"),
    ("sdv.single_table.base", "tqdm", "module"),
    ("sdv.sequential.par", "tqdm", "module"),
)


class _SilentProgress:
    """The subset of tqdm's API these libraries use."""

    def __init__(self, iterable=None, total=None, **_kwargs) -> None:
        self._iterable = iterable
        if total is None and iterable is not None and hasattr(iterable, "__len__"):
            total = len(iterable)
        self.total = total
        self.n = 0

    def __iter__(self) -> Iterator:
        for item in self._iterable if self._iterable is not None else ():
            yield item
            self.update(1)

    def update(self, n: float = 1) -> None:
        self.n += n
        callback: Callable[[float], None] | None = getattr(_state, "callback", None)
        if callback is not None and self.total:
            callback(min(1.0, self.n / self.total))

    def set_description(self, *_args, **_kwargs) -> None:
        pass

    def set_postfix(self, *_args, **_kwargs) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        pass


def install() -> None:
    """Patch the libraries' loops once they are imported. Idempotent; a module not imported
    yet (ctgan while SDV runs without torch) is patched on a later call."""
    with _install_lock:
        shim = types.SimpleNamespace(tqdm=_SilentProgress)
        for module_name, attribute, style in _TARGETS:
            if module_name in _patched:
                continue
            module = sys.modules.get(module_name)  # never import: that could load torch
            if module is None:
                continue
            if hasattr(module, attribute):
                setattr(module, attribute, _SilentProgress if style == "class" else shim)
            _patched.add(module_name)


@contextmanager
def reporting(callback: Callable[[float], None] | None):
    """Route progress steps on this thread to `callback` while the block runs."""
    previous = getattr(_state, "callback", None)
    _state.callback = callback
    try:
        yield
    finally:
        _state.callback = previous
