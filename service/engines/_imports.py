"""Import SDV without torch when only torch-free synthesizers are in play.

`import sdv` pulls torch (about 1.2 s and 300 MB) through ctgan, deepecho and sdmetrics,
though GaussianCopula and HMA never touch it. Each of those imports is optional in SDV
(`try: from ctgan import CTGAN ... except ModuleNotFoundError`), so a first import with
torch hidden leaves SDV working for copulas; `import_sdv(torch_needed=True)` later
imports torch and fills the names SDV left empty, so CTGAN, TVAE, CopulaGAN and PAR work in
the same process.
"""

from __future__ import annotations

import importlib.abc
import sys
import threading

__all__ = ["import_sdv", "needs_torch"]

_lock = threading.Lock()
_TORCH_MARKERS = (b"torch", b"ctgan", b"deepecho")


class _HideTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


def needs_torch(pickled: bytes) -> bool:
    """Whether a pickled model refers to torch, ctgan or deepecho classes."""
    return any(marker in pickled for marker in _TORCH_MARKERS)


def import_sdv(*, torch_needed: bool) -> None:
    with _lock:
        if "sdv" not in sys.modules and "torch" not in sys.modules and not torch_needed:
            hide = _HideTorch()
            sys.meta_path.insert(0, hide)
            try:
                import sdv  # noqa: F401
            finally:
                sys.meta_path.remove(hide)
            return
        import sdv  # noqa: F401

        if torch_needed:
            _fill_torch_names()


def _fill_torch_names() -> None:
    """Give the modules imported while torch was hidden the names they could not import."""
    single = sys.modules.get("sdv.single_table.ctgan")
    if single is not None and single.CTGAN is None:
        from ctgan import CTGAN, TVAE

        single.CTGAN, single.TVAE, single.import_error = CTGAN, TVAE, None
    sequential = sys.modules.get("sdv.sequential.par")
    if sequential is not None and sequential.PARModel is None:
        from deepecho import PARModel
        from deepecho.sequences import assemble_sequences

        sequential.PARModel, sequential.assemble_sequences = PARModel, assemble_sequences
        sequential.import_error = None
    network = sys.modules.get("sdmetrics.single_table.bayesian_network")
    if network is not None and network.torch is None:
        import torch

        network.torch = torch
