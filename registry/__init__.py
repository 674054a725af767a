"""meshgate registry: the contract model, compatibility engines, store, server and client SDK.

This package imports nothing else of meshgate; ``lakehouse`` and ``ci_plugin`` build on it.
"""
