"""Generated gRPC stubs of ``meshgate.registry.v1`` (``make proto``; do not edit by hand)."""
