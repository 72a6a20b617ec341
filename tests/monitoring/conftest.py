"""The session's fixtures (a simulator with its ingest, a real `spacecast session`) and the
controller's (one in-process against the test control plane) serve the monitoring tests."""

from tests.controller.conftest import controller, kube
from tests.session.conftest import cast, make_sim

__all__ = ["cast", "controller", "kube", "make_sim"]
