"""Monitoring artefacts built in code: the Grafana dashboard (monitoring/dashboard.py)."""
