"""The session image run for real: in pods on the real node."""

from tests.simulator.conftest import make_sim

__all__ = ["make_sim"]
