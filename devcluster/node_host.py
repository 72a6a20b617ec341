"""What a real node changes on the host, and how each change is undone, even after a kill -9.

A node changes the host in five ways, six with a Service network; `undo` reverts each, in
this order, every step running whatever the one before it did:
1. Processes: containerd's shims detach from it (their own session), and keep their containers
   alive. Every process in the node's cgroups is killed, and every shim whose command line
   names the node's dir.
2. Mounts: the kubelet's shared bind of its root dir, the pods' volumes, the containers' root
   filesystems and the pods' network namespaces (pinned in containerd's state dir, never the
   host's /run/netns): every mount under the node's dir, unmounted lazily, deepest first.
3. The bridge (and any veth left on it): deleted.
4. net.ipv4.ip_forward: recorded before, written back. Nothing in the node turns it on (the
   CNI bridge is not a gateway); the record is a guard.
5. cgroups: the node's own cgroup in every hierarchy (its pods' cgroups go below it), removed
   bottom-up.
6. With a Service network (devcluster/service_network.py): kube-proxy's KUBE-* chains, removed
   by `kube-proxy --cleanup` once it is dead, and the bridge's routing rules, deleted. Its
   per-interface settings go with the bridge. The chains are the host's, not the node's: only
   the holder of service_network.LOCK may touch them (the node, then its janitor, which
   inherits the lock), so a sweep leaves them to whichever node holds it now.

Crash consistency: the record of a node (`Changes`, below) is written to RECORDS before the
first change and removed after the last undo. A node's janitor (devcluster/node_janitor.py), a
process of its own that outlives its starter, waits for its starter to go and then undoes
whatever the record names: a clean stop has removed it, a kill -9 has not. So a node killed
any way leaves nothing behind for longer than its janitor takes to notice; and should the
janitor die too, the next node to start sweeps the record (`sweep_orphans`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from devcluster import service_network
from devcluster.node_config import NodeLayout, layout_from_json, layout_to_json
from spacecast.logs import get_logger

log = get_logger(__name__)

IP_FORWARD = Path("/proc/sys/net/ipv4/ip_forward")
CGROUP_ROOT = Path("/sys/fs/cgroup")
RECORDS = Path("/run/spacecast/nodes")  # a tmpfs: a reboot clears it, and every change with it


# Where Debian keeps iptables and iproute2, whatever PATH the caller has (root's PATH may lack
# /usr/sbin under sudo or CI): for kube-proxy, which runs iptables, and for the checks here.
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def ip_command() -> str | None:
    return shutil.which("ip", path=SYSTEM_PATH)


def ip(*args: str) -> str:
    return subprocess.run(
        [ip_command() or "ip", *args], check=True, capture_output=True, text=True
    ).stdout


@dataclass(frozen=True)
class Changes:
    """What one node changes on the host, recorded before it changes anything."""

    layout: NodeLayout
    ip_forward_before: str
    kube_proxy: str = ""  # its binary, for `--cleanup`: the node runs a Service network

    @property
    def record(self) -> Path:
        return RECORDS / f"{self.layout.bridge}.json"

    def save(self) -> Path:
        RECORDS.mkdir(parents=True, exist_ok=True)
        data = {
            "layout": layout_to_json(self.layout),
            "ip_forward": self.ip_forward_before,
            "kube_proxy": self.kube_proxy,
        }
        self.record.write_text(json.dumps(data))
        return self.record

    @classmethod
    def load(cls, path: Path) -> Changes:
        data = json.loads(path.read_text())
        return cls(layout_from_json(data["layout"]), data["ip_forward"], data.get("kube_proxy", ""))


def sweep_orphans(min_age_s: float = 60.0) -> list[Path]:
    """Undo the nodes whose janitor is gone too (killed with its starter, say): a record no
    janitor process names. Records younger than `min_age_s` are left alone: their node may be
    between writing the record and starting its janitor. Returns the records swept."""
    janitors = b"\0".join(cmdline for _, cmdline in processes_naming(b"devcluster.node_janitor"))
    swept = []
    for record in sorted(RECORDS.glob("*.json")) if RECORDS.is_dir() else []:
        young = time.time() - record.stat().st_mtime < min_age_s
        if young or str(record).encode() in janitors:
            continue
        changes = Changes.load(record)
        lock = take_service_lock() if changes.kube_proxy else None
        try:
            undo(changes, chains=lock is not None)
        finally:
            if lock is not None:
                os.close(lock)
        remove_state(changes.layout)
        swept.append(record)
    return swept


def processes_naming(containing: bytes) -> list[tuple[int, bytes]]:
    """(pid, command line) of every process whose command line holds `containing`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                cmdline = (entry / "cmdline").read_bytes()
                if containing in cmdline:
                    found.append((int(entry.name), cmdline))
    return found


def cgroups(layout: NodeLayout) -> list[Path]:
    """The node's cgroup in each hierarchy mounted under /sys/fs/cgroup."""
    name = layout.cgroup_root.lstrip("/")
    return [h / name for h in sorted(CGROUP_ROOT.iterdir()) if (h / "cgroup.procs").exists()]


def take_service_lock() -> int | None:
    """The machine's one Service network (service_network.LOCK): an open descriptor holding it,
    or None while another node holds it. Children it is passed to hold it too."""
    service_network.LOCK.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(service_network.LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def make(changes: Changes) -> None:
    """The bridge (with the host's address on it, so the simulator can listen there before any
    pod), its routing for a Service network, and the node's cgroups; after `changes.save()`."""
    layout = changes.layout
    ip("link", "add", layout.bridge, "type", "bridge")
    ip("addr", "add", f"{layout.gateway}/{layout.subnet.prefixlen}", "dev", layout.bridge)
    if changes.kube_proxy:
        for path, value in service_network.bridge_sysctls(layout).items():
            path.write_text(value)
        service_network.bridge_nf_call_iptables(layout).write_text("1")
        for rule in service_network.confinement_rules(layout):
            ip("rule", "add", *rule)
    ip("link", "set", layout.bridge, "up")
    for group in cgroups(layout):
        group.mkdir()
        # cgroup v1's cpuset starts empty, and no process may join an empty one.
        for knob in ("cpuset.cpus", "cpuset.mems"):
            if (group / knob).exists():
                (group / knob).write_text((group.parent / knob).read_text())


def undo(changes: Changes, chains: bool = True) -> None:
    """Revert every change (the module's list), then forget the record. `chains`: the caller
    holds the Service network's lock, and so may remove kube-proxy's chains."""
    layout = changes.layout
    steps = (
        lambda: _kill(layout),
        lambda: _remove_chains(changes) if chains else None,
        lambda: _remove_rules(layout),
        lambda: _unmount(layout),
        lambda: ip("link", "del", layout.bridge),
        lambda: IP_FORWARD.write_text(changes.ip_forward_before),
        lambda: _remove_cgroups(layout),
    )
    for step in steps:
        try:
            step()
        except Exception as exc:  # the next step's cleanup must still run
            log.debug("node cleanup step failed", error=str(exc))
    with contextlib.suppress(FileNotFoundError):
        changes.record.unlink()


def _kill(layout: NodeLayout) -> None:
    for pid, cmdline in processes_naming(str(layout.root).encode()):
        if b"containerd-shim" in cmdline:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
    for group in cgroups(layout):
        for procs in group.rglob("cgroup.procs"):
            for member in procs.read_text().split():
                with contextlib.suppress(OSError):
                    os.kill(int(member), 9)


def _remove_chains(changes: Changes) -> None:
    if not changes.kube_proxy:
        return
    argv = service_network.kube_proxy_cleanup_argv(changes.kube_proxy)
    subprocess.run(argv, capture_output=True, timeout=60)
    for tool in ("iptables", "ip6tables"):
        for chain, parents in service_network.LEFT_BY_CLEANUP.items():
            for parent in parents:
                while _run_ok(tool, "-t", "filter", "-D", parent, "-j", chain):
                    pass  # every jump to it, however many
            _run_ok(tool, "-t", "filter", "-F", chain)
            _run_ok(tool, "-t", "filter", "-X", chain)


def _run_ok(tool: str, *args: str) -> bool:
    binary = shutil.which(tool, path=SYSTEM_PATH) or tool
    return subprocess.run([binary, *args], capture_output=True, timeout=30).returncode == 0


def _remove_rules(layout: NodeLayout) -> None:
    """Every routing rule that names the bridge (they outlive it, detached)."""
    for rule in json.loads(ip("-j", "rule", "show") or "[]"):
        if rule.get("iif") == layout.bridge:
            ip("rule", "del", "priority", str(rule["priority"]), "iif", layout.bridge)


def _unmount(layout: NodeLayout) -> None:
    root = str(layout.root)
    # /proc/self/mountinfo field 5 is the mount point, with spaces escaped as \040.
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    points = [line.split()[4].replace("\\040", " ") for line in lines]
    for point in sorted((p for p in points if p == root or p.startswith(root + "/")),
                        key=len, reverse=True):  # fmt: skip
        subprocess.run(["umount", "-l", point], capture_output=True)


def _remove_cgroups(layout: NodeLayout) -> None:
    """Bottom-up: a cgroup goes only once its children have and its processes have exited (a
    killed process leaves a moment later: retried briefly)."""
    deadline = time.monotonic() + 10
    for group in cgroups(layout):
        tree = [group, *(p for p in group.rglob("*") if p.is_dir())]
        for directory in sorted(tree, key=lambda p: len(p.parts), reverse=True):
            while True:
                try:
                    directory.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.1)


def remove_state(layout: NodeLayout) -> None:
    """The node's files (containerd's images and snapshots, the kubelet's dir), once nothing
    is mounted there any more."""
    shutil.rmtree(layout.root, ignore_errors=True)
