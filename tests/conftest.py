"""Shared pytest setup."""

pytest_plugins = ["devcluster.pytest_plugin"]
