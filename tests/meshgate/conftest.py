"""Fixtures of the meshgate (composition root) tests."""

import pytest

from meshgate.demo import load_generator


@pytest.fixture(scope="session")
def generate():
    """examples/generate.py as a module (examples/ is not an installed package)."""
    return load_generator()
