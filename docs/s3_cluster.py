"""Show a cluster without a shared disk writing to S3, as the README's scale-out section does.

    sudo python docs/s3_cluster.py        (root: it makes network namespaces)

Builds the multi-host harness of the tests (tests/netns.py): two hosts, each a network
namespace with a ``dask worker`` of 4 threads and a tmpfs of its own over the folder the crawl
runs in, so it sees none of it; a scheduler, moto's S3 server and the LoL mirror (every
answer 20 ms late) on the bridge address. Then runs the README's command against that
cluster, writing to ``s3://lol-skins/crawls/lol``, prints its summary and what the bucket
holds, and runs it again to show the rerun's checks. Everything is torn down at the end.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.netns import NetnsCluster, cannot_make_namespaces, netns_network  # noqa: E402
from tests.s3server import S3, serving  # noqa: E402
from tests.support import lol_args, lol_served  # noqa: E402

BUCKET, PREFIX = "lol-skins", "crawls/lol"


def main() -> int:
    """Build the cluster, crawl into S3 twice, show what happened; 0 when both runs were."""
    reason = cannot_make_namespaces()
    if reason is not None:
        print(f"s3_cluster: cannot build the cluster: {reason}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="yamlcrawl-s3-") as scratch:
        folder = Path(scratch)
        with netns_network(2, folder / "cluster") as cluster, serving(cluster.gateway) as s3:
            (folder / "cluster").mkdir()
            cluster.hidden, cluster.worker_env = folder, s3.env()
            cluster.start(threads=4)
            s3.client.create_bucket(Bucket=BUCKET)
            with lol_served(cluster.gateway, 0.02) as site:
                return show(cluster, s3, lol_args(site, f"s3://{BUCKET}/{PREFIX}"), folder)


def show(cluster: NetnsCluster, s3: S3, args: list[object], folder: Path) -> int:
    """The two runs and what the bucket and a worker's disk hold after them."""
    command = [*map(str, args), "--mode", "dask", "--scheduler", cluster.address]
    shown = " ".join(arg.replace(str(ROOT) + "/", "") for arg in command)
    print(f"$ yamlcrawl {shown}\n", flush=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "110", **s3.env()}
    yamlcrawl = [sys.executable, "-m", "yamlcrawl"]
    first = subprocess.run([*yamlcrawl, *command], env=env, cwd=folder, check=False)
    keys = sorted(s3.objects(BUCKET))
    print(f"\nthe bucket: {len(keys)} objects, e.g.")
    for key in keys[:3]:
        print(f"  s3://{BUCKET}/{key}")
    state = folder / ".yamlcrawl-store" / "s3" / BUCKET / PREFIX / ".yamlcrawl" / "state.sqlite"
    print(f"\nthe resume state, {state.relative_to(folder)}:")
    print(f"  where yamlcrawl ran: {'there' if state.exists() else 'missing'}")
    for host in cluster.hosts:  # each has a disk of its own: the folder is not there
        seen = _on_worker(cluster, host.address, os.path.exists, str(state))
        print(f"  on the worker at {host.address}: {'there' if seen else 'not there'}")
    s3.requests.clear()
    print("\nthe same command again:\n", flush=True)
    again = subprocess.run([*yamlcrawl, *command], env=env, cwd=folder, check=False)
    asked = {m: s3.counted(m, BUCKET) for m in ("HEAD", "GET", "PUT")}
    print(f"S3 requests of the rerun: {asked}")
    return 0 if (first.returncode, again.returncode) == (0, 0) else 1


def _on_worker(cluster: NetnsCluster, address: str, function: object, *args: object) -> object:
    """``function(*args)`` run on the worker at ``address``."""
    from distributed import Client

    with Client(cluster.address, timeout=10) as client:
        workers = [w for w in client.scheduler_info()["workers"] if address in w]
        return client.run(function, *args, workers=workers)[workers[0]]


if __name__ == "__main__":
    raise SystemExit(main())
