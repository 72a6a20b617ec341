"""A real Prometheus (Debian's, unpacked by devcluster/build.sh) for tests: it scrapes the
targets it is given every second, loads rules files, and answers through its HTTP API."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

from devcluster import binaries
from devcluster.processes import ManagedProcess, free_ports


def snake(relabeling: dict[str, Any]) -> dict[str, Any]:
    """prometheus-operator's relabeling (sourceLabels, targetLabel) as Prometheus writes it."""
    return {"".join("_" + c.lower() if c.isupper() else c for c in k): v
            for k, v in relabeling.items()}  # fmt: skip


@dataclass
class Job:
    """One scrape job: a target, the labels it is discovered with, and its relabelings."""

    name: str
    target: str
    labels: dict[str, str]
    relabelings: list[dict[str, Any]] = field(default_factory=list)

    def config(self) -> dict[str, Any]:
        return {"job_name": self.name,
                "static_configs": [{"targets": [self.target], "labels": self.labels}],
                "relabel_configs": [snake(r) for r in self.relabelings]}  # fmt: skip


class Prometheus:
    def __init__(self, workdir: Path, jobs: list[Job], rules: dict[str, Any]) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "rules.yaml").write_text(yaml.safe_dump(rules))
        config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                  "rule_files": [str(workdir / "rules.yaml")],
                  "scrape_configs": [job.config() for job in jobs]}  # fmt: skip
        (workdir / "prometheus.yaml").write_text(yaml.safe_dump(config))
        (port,) = free_ports(1)
        self.url = f"http://127.0.0.1:{port}"
        self.process = ManagedProcess("prometheus", [
            str(binaries.locate().path("prometheus")),
            f"--config.file={workdir / 'prometheus.yaml'}",
            f"--storage.tsdb.path={workdir / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ], workdir / "prometheus.log")  # fmt: skip

    def start(self) -> Prometheus:
        self.process.start()
        self.process.wait_healthy(lambda: httpx.get(f"{self.url}/-/ready").status_code == 200, 30)
        return self

    def stop(self) -> None:
        self.process.stop()

    def _get(self, path: str, **params: str) -> Any:
        answer = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()["data"]

    def query(self, expr: str) -> list[dict[str, Any]]:
        return self._get("query", query=expr)["result"]  # type: ignore[no-any-return]

    def firing(self) -> set[tuple[str, str]]:
        """(alert, spacecast) of every alert firing now."""
        return {(a["labels"]["alertname"], a["labels"].get("spacecast", ""))
                for a in self._get("alerts")["alerts"] if a["state"] == "firing"}  # fmt: skip

    def targets_up(self) -> bool:
        active = self._get("targets")["activeTargets"]
        return bool(active) and all(t["health"] == "up" for t in active)
