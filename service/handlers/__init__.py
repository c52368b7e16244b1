"""Runtime adapters: one module per platform entry point."""
