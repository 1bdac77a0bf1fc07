"""Thin I/O adapters shared by the meter, the fog node and the cloud (HTTP errors,
logging, command-line helpers). The domain stays in :mod:`nevoa_core`."""
