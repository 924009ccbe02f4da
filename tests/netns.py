"""A Dask cluster of separate hosts on one machine: a Linux bridge, a network namespace per
worker joined to it by a veth pair, a scheduler on the bridge address (root namespace) and one
``dask worker`` in each namespace. The test site is served on the bridge address too, so a
worker reaches it over its own link, and cutting that link (``cut``) partitions the worker
from the scheduler, the client and the site alike.

Needs root (``ip netns add``); :func:`netns_cluster` skips with the reason otherwise. Names and
the subnet come from the test process's pid, so xdist workers do not collide. Everything is
torn down (processes killed, namespaces and links deleted) however the test ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yamlcrawl.backends.dask import FAST_FAILOVER

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0  # seconds for the scheduler to write its file and the workers to join
RUN_TIMEOUT = 60.0  # seconds a crawl gets before it counts as hung


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def cannot_make_namespaces() -> str | None:
    """Why this machine cannot host the cluster (not root, no ``ip``, ``ip netns`` refused),
    or None when it can."""
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root (`ip netns add`)"
    probe = f"ycprobe{os.getpid()}"
    try:
        _ip("netns", "add", probe)
    except subprocess.CalledProcessError as exc:
        return f"`ip netns add` is not permitted here: {exc.stderr.strip()}"
    with contextlib.suppress(subprocess.CalledProcessError):
        _ip("netns", "del", probe)
    return None


def dask_env() -> dict[str, str]:
    """The environment of the cluster's processes: this checkout importable, and the timeouts
    yamlcrawl recommends for a cluster (``FAST_FAILOVER``) as ``DASK_...`` variables."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for key, value in FAST_FAILOVER.items():
        name = "DASK_" + key.upper().replace(".", "__").replace("-", "_")
        env[name] = value
    return env


@dataclass
class Host:
    """A worker's namespace, its link, and its ``dask worker`` (restarted when it exits, as a
    supervisor such as systemd or Kubernetes would)."""

    name: str  # the namespace
    link: str  # the root end of its veth pair, on the bridge
    address: str
    supervisor: subprocess.Popen[bytes] | None = None

    def worker_pid(self) -> int | None:
        """The pid of the running ``dask worker`` (the supervisor's child), if any."""
        if self.supervisor is None:
            return None
        children = Path(f"/proc/{self.supervisor.pid}/task/{self.supervisor.pid}/children")
        with contextlib.suppress(OSError):
            pids = children.read_text().split()
            return int(pids[0]) if pids else None
        return None


@dataclass
class NetnsCluster:
    """The bridge, the hosts, the scheduler: what a test uses to crawl and to break things."""

    bridge: str
    gateway: str  # the bridge's address in the root namespace: scheduler and site
    hosts: list[Host]
    folder: Path
    scheduler: subprocess.Popen[bytes] | None = None
    address: str = ""  # the scheduler's, tcp://...
    logs: list[Path] = field(default_factory=list)
    worker_env: dict[str, str] = field(default_factory=dict)  # on top of dask_env()
    hidden: Path | None = None  # a folder the workers do not see (a tmpfs over it, theirs)

    def cut(self, host: Host) -> None:
        """Partition ``host``: its link down, packets to and from it dropped (no reset)."""
        _ip("link", "set", host.link, "down")

    def restore(self, host: Host) -> None:
        """Its link up again."""
        _ip("link", "set", host.link, "up")

    def restore_once_dropped(self, host: Host) -> None:
        """Restore ``host``'s link once the scheduler has dropped its worker (or after
        START_TIMEOUT): it comes back as a stranger, as after a long partition."""
        try:
            _wait_for(lambda: host.name not in self.workers().values())
        finally:
            self.restore(host)

    def kill_worker(self, host: Host) -> None:
        """SIGKILL ``host``'s worker (its supervisor starts a new one after a moment)."""
        pid = host.worker_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def kill_scheduler(self) -> None:
        """SIGKILL the scheduler."""
        if self.scheduler is not None:
            self.scheduler.kill()
            self.scheduler.wait()

    def start_scheduler(self) -> str:
        """A new ``dask scheduler`` on the bridge address; returns its address."""
        file = self.folder / f"scheduler-{time.monotonic_ns()}.json"
        log = self.folder / f"{file.stem}.log"
        self.logs.append(log)
        command = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", self.gateway]
        command += ["--port", "0", "--dashboard-address", f"{self.gateway}:0"]
        with log.open("wb") as stream:  # the child keeps its own copy
            self.scheduler = subprocess.Popen(
                [*command, "--scheduler-file", str(file)],
                env=dask_env(),
                stdout=subprocess.DEVNULL,
                stderr=stream,
            )
        self.address = str(_wait_for(lambda: json.loads(file.read_text())["address"], log))
        return self.address

    def start_workers(self, threads: int = 2) -> None:
        """A supervised ``dask worker`` in each namespace, joined to the scheduler."""
        for host in self.hosts:
            log = self.folder / f"{host.name}.log"
            self.logs.append(log)
            worker = [sys.executable, "-m", "distributed.cli.dask_worker", self.address]
            worker += ["--host", host.address, "--nthreads", str(threads), "--no-nanny"]
            worker += ["--name", host.name, "--dashboard-address", f"{host.address}:0"]
            worker += ["--local-directory", str(self.folder / f"{host.name}-scratch")]
            loop = f"while :; do {shlex.join(worker)}; sleep 0.5; done"
            with log.open("ab") as stream:
                host.supervisor = subprocess.Popen(
                    ["ip", "netns", "exec", host.name, "sh", "-c", self._hide() + loop],
                    env={**dask_env(), **self.worker_env},
                    stdout=subprocess.DEVNULL,
                    stderr=stream,
                    start_new_session=True,  # its own group, killed as one at the end
                )

    def _hide(self) -> str:
        """The shell that hides ``hidden`` from a worker: ``ip netns exec`` gives each its own
        mount namespace (mounts do not propagate back), and a tmpfs over the folder there leaves
        the worker a disk of its own, as on a separate machine."""
        if self.hidden is None:
            return ""
        return f"mount -t tmpfs -o size=256m yc-private {shlex.quote(str(self.hidden))} && "

    def start(self, threads: int = 2) -> str:
        """A scheduler and a worker per host, every worker joined; the scheduler's address."""
        self.start_scheduler()
        self.start_workers(threads)
        self.wait_for_workers(len(self.hosts))
        return self.address

    def restart(self, threads: int = 2) -> str:
        """A new scheduler (the old one killed) and new workers joined to it; its address."""
        self.stop_processes()
        return self.start(threads)

    def stop_worker(self, host: Host) -> None:
        """Stop ``host``'s worker for good (its supervisor too), until the scheduler has
        dropped it."""
        _kill_supervised(host)
        _wait_for(lambda: host.name not in self.workers().values(), *self.logs)

    def start_worker(self, host: Host, threads: int = 2) -> None:
        """A supervised worker in ``host`` alone, as ``start_workers`` starts one in each
        (without waiting for it to join: see ``wait_for_workers``)."""
        every, self.hosts = self.hosts, [host]
        try:
            self.start_workers(threads)
        finally:
            self.hosts = every

    def workers(self) -> dict[str, str]:
        """The scheduler's workers now: address -> name."""
        from distributed import Client

        with Client(self.address, timeout=10) as client:
            info = client.scheduler_info()["workers"]
        return {address: str(worker["name"]) for address, worker in info.items()}

    def tasks_run(self) -> dict[str, int]:
        """How many tasks each worker now in the cluster has run (since it started), by name."""
        from distributed import Client

        with Client(self.address, timeout=10) as client:
            counts: dict[str, int] = client.run(_executed)
            names = {a: str(w["name"]) for a, w in client.scheduler_info()["workers"].items()}
        return {names[address]: count for address, count in counts.items() if address in names}

    def wait_for_workers(self, count: int) -> None:
        """Until ``count`` workers have joined the scheduler."""
        _wait_for(lambda: len(self.workers()) >= count or None, *self.logs)

    def stop_processes(self) -> None:
        """Every process killed: supervisors with their workers, the scheduler."""
        for host in self.hosts:
            _kill_supervised(host)
        if self.scheduler is not None:
            self.kill_scheduler()
            self.scheduler = None

    def stop(self) -> None:
        """Every process killed, then the network gone."""
        self.stop_processes()
        for host in self.hosts:
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("netns", "del", host.name)
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("link", "del", host.link)
        with contextlib.suppress(subprocess.CalledProcessError):
            _ip("link", "del", self.bridge)


def _kill_supervised(host: Host) -> None:
    """``host``'s supervisor and its worker killed, as one process group."""
    if host.supervisor is not None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(host.supervisor.pid, signal.SIGKILL)
        host.supervisor.wait()
        host.supervisor = None


def _executed(dask_worker: Any) -> int:
    """On a worker: the tasks it has run."""
    return int(dask_worker.state.executed_count)


def _wait_for(what: Callable[[], object], *logs: Path) -> object:
    """Call ``what`` until it returns something truthy without raising, for START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with contextlib.suppress(Exception):
            got = what()
            if got:
                return got
        if time.monotonic() > deadline:
            said = "\n".join(log.read_text(errors="replace")[-2000:] for log in logs)
            raise TimeoutError(f"the netns cluster: timed out waiting\n{said}")
        time.sleep(0.1)


def subnet() -> int:
    """The third octet of a 10.77.N.0/24 no link here uses yet, tried from this process's pid
    on (so that parallel test processes differ)."""
    used = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    start = os.getpid() % 250
    for step in range(250):
        n = (start + step) % 250 + 1
        if f" 10.77.{n}." not in used:
            return n
    raise RuntimeError("every 10.77.N.0/24 is in use")


def build_network(count: int, folder: Path) -> NetnsCluster:
    """The bridge with its address, and ``count`` namespaces each joined by a veth pair."""
    tag, n = os.getpid(), subnet()
    cluster = NetnsCluster(f"ycbr{tag}", f"10.77.{n}.1", [], folder)
    try:
        _ip("link", "add", cluster.bridge, "type", "bridge")
        _ip("addr", "add", f"{cluster.gateway}/24", "dev", cluster.bridge)
        _ip("link", "set", cluster.bridge, "up")
        for i in range(count):
            host = Host(f"yc{tag}n{i}", f"ycv{tag}r{i}", f"10.77.{n}.{11 + i}")
            cluster.hosts.append(host)
            inside = f"ycv{tag}i{i}"
            _ip("netns", "add", host.name)
            _ip("link", "add", host.link, "type", "veth", "peer", "name", inside)
            _ip("link", "set", inside, "netns", host.name)
            _ip("link", "set", host.link, "master", cluster.bridge, "up")
            inns = ("netns", "exec", host.name, "ip")
            _ip(*inns, "addr", "add", f"{host.address}/24", "dev", inside)
            _ip(*inns, "link", "set", inside, "up")
            _ip(*inns, "link", "set", "lo", "up")
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def netns_network(count: int, folder: Path) -> Iterator[NetnsCluster]:
    """The bridge and ``count`` namespaces, no process yet (``start`` starts them); all torn
    down at the end."""
    cluster = build_network(count, folder)
    try:
        yield cluster
    finally:
        cluster.stop()


@contextlib.contextmanager
def netns_cluster(count: int, folder: Path, threads: int = 2) -> Iterator[NetnsCluster]:
    """A scheduler on the bridge and ``count`` workers, one per namespace, all joined."""
    with netns_network(count, folder) as cluster:
        cluster.start(threads)
        yield cluster


@dataclass
class Crawl:
    """A ``yamlcrawl`` run in a subprocess, watched: its exit, output and longest stall."""

    code: int
    err: str
    stall: float  # the longest time after the fault with no progress


def watched_crawl(
    args: list[Any],
    progress: Callable[[], int],
    fault_after: int,
    fault: Callable[[], Any] | None = None,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> Crawl:
    """Run ``yamlcrawl ARGS`` (this checkout, ``env`` added, in ``cwd``); call ``fault`` once
    ``progress()`` (files in place so far) reaches ``fault_after``, and measure the longest
    time without progress from then on."""
    command = [sys.executable, "-m", "yamlcrawl", *map(str, args)]
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    with subprocess.Popen(
        command, env=environment, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as run:
        stall = _watch(run, progress, fault_after, fault)
        err = run.stderr.read().decode() if run.stderr is not None else ""
    return Crawl(run.wait(), err, stall)


def _watch(
    run: subprocess.Popen[bytes],
    progress: Callable[[], int],
    fault_after: int,
    fault: Callable[[], Any] | None,
) -> float:
    """Until ``run`` ends: call ``fault`` once ``progress()`` reaches ``fault_after``; return
    the longest time without progress from then on."""
    seen, last, stall, struck = 0, time.monotonic(), 0.0, fault is None
    deadline = time.monotonic() + RUN_TIMEOUT
    while run.poll() is None:
        if time.monotonic() > deadline:
            run.kill()
            said = run.stderr.read().decode(errors="replace") if run.stderr else ""
            raise TimeoutError(f"the run did not end within {RUN_TIMEOUT:g} s; it said:\n{said}")
        count, now = progress(), time.monotonic()
        if count != seen:
            seen, last = count, now
        if struck:
            stall = max(stall, now - last)
        elif count >= fault_after and fault is not None:
            fault()
            struck, last = True, time.monotonic()
        time.sleep(0.05)
    return stall
