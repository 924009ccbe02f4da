"""A cluster whose workers share no disk with the coordinator, writing to S3: dask mode on the
netns cluster (tests/netns.py) with a tmpfs over the test folders in each worker's mount
namespace, and moto's S3 server (tests/s3server.py) on the bridge. The workers fetch the files
and upload them; the coordinator keeps the run's own files in ``./.yamlcrawl-store``."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.netns import Crawl, NetnsCluster, cannot_make_namespaces, netns_network, watched_crawl
from tests.support import Site, lol_args, lol_serial_run, lol_served, same_records, saved_files

pytest.importorskip("moto.server", reason="the s3 test needs moto[server] (the test extra)")
pytest.importorskip("s3fs", reason="output to S3 needs s3fs: pip install 'yamlcrawl[s3]'")

from tests.s3server import S3, serving

pytestmark = pytest.mark.xdist_group("netns-s3-cluster")  # one cluster, built once
DELAY = 0.03  # seconds each response waits: long enough to kill a worker mid-run
FAULT_AFTER = 8  # objects uploaded before the fault
PREFIX = "lol"
Fault = Callable[[], object] | None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NetnsCluster]:
    """Two hosts that do not see this test process's folders (pytest's base temp)."""
    reason = cannot_make_namespaces()
    if reason is not None:
        pytest.skip(f"no netns cluster: {reason}")
    with netns_network(2, tmp_path_factory.mktemp("netns-s3")) as network:
        network.hidden = tmp_path_factory.getbasetemp()
        yield network


@pytest.fixture(scope="module")
def s3(cluster: NetnsCluster) -> Iterator[S3]:
    """S3 on the bridge; the workers start with its credentials and endpoint in their
    environment, as a real cluster's would be configured."""
    with serving(cluster.gateway) as server:
        cluster.worker_env = server.env()
        cluster.start()
        yield server


@pytest.fixture(scope="module")
def site(cluster: NetnsCluster) -> Iterator[Site]:
    """The LoL mirror on the bridge address, every answer DELAY late."""
    with lol_served(cluster.gateway, DELAY) as served:
        yield served


@pytest.fixture(scope="module")
def serial(site: Site, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serial run's output folder, on this machine's disk."""
    return lol_serial_run(site, tmp_path_factory.mktemp("serial") / "out")


@pytest.fixture
def bucket(s3: S3) -> str:
    """A new bucket, and the request counts cleared."""
    name = f"crawl-{uuid.uuid4().hex[:12]}"
    s3.client.create_bucket(Bucket=name)
    s3.requests.clear()
    return name


def crawl(
    cluster: NetnsCluster, s3: S3, site: Site, bucket: str, cwd: Path, fault: Fault = None
) -> Crawl:
    """The CLI in dask mode against the cluster, writing to ``s3://BUCKET/lol``, run in
    ``cwd``; ``fault`` is called once FAULT_AFTER objects are uploaded."""
    output = f"s3://{bucket}/{PREFIX}"
    args = lol_args(site, output, "--mode", "dask", "--scheduler", cluster.address, "-q")
    uploaded = lambda: s3.counted("PUT", bucket)  # noqa: E731
    return watched_crawl(args, uploaded, FAULT_AFTER, fault, env=s3.env(), cwd=cwd)


def in_bucket(serial: Path) -> dict[str, str]:
    """The serial run's files as the bucket must hold them: key -> SHA-256 of the bytes."""
    return {f"{PREFIX}/{path}": sha256(body) for path, body in saved_files(serial).items()}


def sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def bucket_now(s3: S3, bucket: str) -> dict[str, str]:
    """What the bucket holds: key -> SHA-256 of the object's bytes."""
    return {key: sha256(body) for key, body in s3.objects(bucket).items()}


def run_folder(cwd: Path, bucket: str) -> Path:
    """Where the coordinator keeps the run's own files for ``s3://BUCKET/lol``."""
    return cwd / ".yamlcrawl-store" / "s3" / bucket / PREFIX


def manifest(cwd: Path, bucket: str) -> list[dict[str, Any]]:
    lines = (run_folder(cwd, bucket) / "manifest.jsonl").read_text("utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_the_workers_see_no_disk_of_the_coordinator(
    cluster: NetnsCluster, s3: S3, tmp_path: Path
) -> None:
    marker = tmp_path / "written-by-the-coordinator"
    marker.write_text("here")
    from distributed import Client

    with Client(cluster.address, timeout=10) as client:
        seen = client.run(os.path.exists, str(marker))
        endpoint = client.run(os.getenv, "AWS_ENDPOINT_URL")  # the worker's own
    assert list(seen.values()) == [False, False]
    assert set(endpoint.values()) == {s3.endpoint}


def test_a_cluster_without_a_shared_disk_puts_the_serial_runs_files_in_s3(
    cluster: NetnsCluster, s3: S3, site: Site, serial: Path, bucket: str, tmp_path: Path
) -> None:
    """Every object whole, the manifest beside the coordinator; a rerun asks S3 for each
    file's metadata once and downloads and uploads nothing."""
    run = crawl(cluster, s3, site, bucket, tmp_path)
    assert (run.code, run.err) == (0, "")
    assert bucket_now(s3, bucket) == in_bucket(serial)
    same_records(manifest(tmp_path, bucket), serial)
    assert (run_folder(tmp_path, bucket) / ".yamlcrawl" / "state.sqlite").is_file()
    suffixes = {Path(path).suffix for path in saved_files(serial)}
    assert not [path for path in tmp_path.rglob("*") if path.suffix in suffixes]

    s3.requests.clear()
    rerun = crawl(cluster, s3, site, bucket, tmp_path)
    assert (rerun.code, rerun.err) == (0, "")
    assert (s3.counted("GET", bucket), s3.counted("PUT", bucket)) == (0, 0)
    assert s3.counted("HEAD", bucket) == len(saved_files(serial))


def test_a_worker_killed_mid_run_leaves_no_partial_object(
    cluster: NetnsCluster, s3: S3, site: Site, serial: Path, bucket: str, tmp_path: Path
) -> None:
    cluster.wait_for_workers(len(cluster.hosts))
    victim = cluster.hosts[0]
    run = crawl(cluster, s3, site, bucket, tmp_path, lambda: cluster.kill_worker(victim))
    print(f"worker killed: longest stall {run.stall:.1f} s")
    assert (run.code, run.err) == (0, "")
    assert bucket_now(s3, bucket) == in_bucket(serial)
    same_records(manifest(tmp_path, bucket), serial, faults=True)
