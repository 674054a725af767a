"""The meshgate application: the ``meshgate`` command line, the demo and orchestration.

This is the composition root; it wires ``registry``, ``lakehouse`` and ``ci_plugin`` together and
holds no domain logic of its own.
"""
