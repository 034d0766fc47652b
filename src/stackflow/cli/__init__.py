"""The ``stackflow`` command-line interface (click); the entry point is :func:`main.main`."""
