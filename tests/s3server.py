"""A local S3 server for the tests: moto in server mode behind a WSGI layer that counts the
requests by method and key, on an address of the test's choosing (127.0.0.1, or a netns
cluster's bridge), with the fake credentials a user would put in the environment."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",  # this machine's own AWS set-up: not read
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


class S3:
    """A local S3 server: its address, a boto3 client on it, the requests it has answered."""

    def __init__(self, endpoint: str) -> None:
        import boto3

        self.endpoint = endpoint
        self.requests: Counter[tuple[str, str]] = Counter()  # (method, path without query)
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing-secret",
            region_name="us-east-1",
        )

    def env(self) -> dict[str, str]:
        """What a process needs in its environment to use this server: the fake credentials
        and ``AWS_ENDPOINT_URL``."""
        return {**FAKE_ENV, "AWS_ENDPOINT_URL": self.endpoint}

    def objects(self, bucket: str) -> dict[str, bytes]:
        """Every object of ``bucket``, by key."""
        paginator = self.client.get_paginator("list_objects_v2")
        keys = [
            item["Key"]
            for page in paginator.paginate(Bucket=bucket)
            for item in page.get("Contents", [])
        ]
        return {key: self.client.get_object(Bucket=bucket, Key=key)["Body"].read() for key in keys}

    def counted(self, method: str, bucket: str) -> int:
        """How many ``method`` requests named an object of ``bucket`` (a key, not the bucket)."""
        return sum(
            count
            for (asked, path), count in self.requests.items()
            if asked == method and path.startswith(f"/{bucket}/") and path != f"/{bucket}/"
        )


@contextlib.contextmanager
def serving(host: str = "127.0.0.1") -> Iterator[S3]:
    """moto's S3 in server mode on ``host``, a port of its own, its requests counted."""
    from moto import server as moto_server
    from werkzeug.serving import make_server  # moto[server] brings it

    app = moto_server.DomainDispatcherApplication(moto_server.create_backend_app)
    holder: dict[str, S3] = {}

    def counting(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        holder["s3"].requests[(environ["REQUEST_METHOD"], environ["PATH_INFO"])] += 1
        return app(environ, start_response)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
    server = make_server(host, 0, counting, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    holder["s3"] = S3(f"http://{host}:{server.server_port}")
    thread.start()
    try:
        yield holder["s3"]
    finally:
        server.shutdown()
        thread.join()
