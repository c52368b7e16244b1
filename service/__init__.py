"""The Synthdata generator service: a synthetic tabular data API over SDV.

Importing this package is cheap on purpose (no pandas, SDV or torch): the Lambda handler
and `/healthz` must answer a cold start without paying for the heavy imports.
"""

__all__ = ["__version__"]
__version__ = "0.1.0"
