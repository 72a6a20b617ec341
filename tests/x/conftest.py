"""The simulator fixtures of tests/simulator, shared with the X client's tests."""

from tests.simulator.conftest import make_sim, sim

__all__ = ["make_sim", "sim"]
