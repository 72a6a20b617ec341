"""The controller's fixtures (a JSON client with the CRD installed) serve the chart's tests."""

from tests.controller.conftest import kube

__all__ = ["kube"]
