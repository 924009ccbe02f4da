"""Serve a folder with nginx for the benchmarks, optionally delaying every response.

The benchmark site is a folder of static files; nginx serves it on 127.0.0.1 with sendfile and
keep-alive, so the server is never what a benchmark measures. With ``delay_ms`` every response
(JSON page or image, found or not) is held back that long before it is sent, using the
``echo_sleep`` directive of the echo module (Debian package ``libnginx-mod-http-echo``) and an
internal redirect to a named location that serves the file with nginx's own static handler, so
the bytes, ``Content-Length``, ``Range`` and ``ETag`` are exactly those of a plain static server.

Use it as a context manager::

    with Nginx(root, 18080, delay_ms=20) as server:
        run_crawl(server.base_url)

or serve a folder until Ctrl-C::

    python benchmarks/nginx.py ROOT --port 18080 --delay-ms 20
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType, TracebackType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script too
from benchmarks.apt import apt_install

APT_PACKAGES = ("nginx", "libnginx-mod-http-echo")
"""The Debian packages that provide nginx and its echo module."""

ECHO_MODULE_FILE = "ngx_http_echo_module.so"
MODULE_DIRS = (
    Path("/usr/lib/nginx/modules"),
    Path("/usr/share/nginx/modules"),
    Path("/usr/lib64/nginx/modules"),
    Path("/etc/nginx/modules"),
)
"""Where distributions put dynamic nginx modules."""

MODULE_CONF_DIRS = (Path("/etc/nginx/modules-enabled"), Path("/usr/share/nginx/modules-available"))
"""Where Debian keeps the ``load_module`` snippets of installed modules."""

NGINX_PREFIX = Path("/usr/share/nginx")
"""Debian's compiled-in nginx prefix, against which relative ``load_module`` paths resolve."""

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 10.0


def nginx_binary() -> str | None:
    """Find the nginx executable.

    Returns:
        The path of ``nginx``, looking in ``/usr/sbin`` too (often missing from a user's PATH),
        or None if nginx is not installed.
    """
    found = shutil.which("nginx")
    if found:
        return found
    fallback = Path("/usr/sbin/nginx")
    return str(fallback) if fallback.is_file() else None


def find_echo_module() -> Path | None:
    """Find the shared object of nginx's echo module.

    Returns:
        The path of ``ngx_http_echo_module.so``, from the usual module folders or else from a
        ``load_module`` line in Debian's module snippets; None if it is not installed.
    """
    for folder in MODULE_DIRS:
        candidate = folder / ECHO_MODULE_FILE
        if candidate.is_file():
            return candidate
    pattern = re.compile(r"^\s*load_module\s+(\S+?);", re.MULTILINE)
    for folder in MODULE_CONF_DIRS:
        for snippet in sorted(folder.glob("*echo*.conf")) if folder.is_dir() else []:
            for match in pattern.finditer(snippet.read_text(encoding="utf-8")):
                candidate = NGINX_PREFIX / match.group(1)  # an absolute path stays absolute
                if candidate.name == ECHO_MODULE_FILE and candidate.is_file():
                    return candidate
    return None


def ensure_installed() -> None:
    """Install nginx and its echo module with apt-get if either is missing.

    Prints each command it runs. Needs root (or a passwordless apt-get) and Debian's registry.

    Raises:
        subprocess.CalledProcessError: If apt-get fails.
        RuntimeError: If nginx or the echo module is still missing after the install.
    """
    if nginx_binary() is not None and find_echo_module() is not None:
        return
    apt_install(APT_PACKAGES)
    if nginx_binary() is None or find_echo_module() is None:
        raise RuntimeError(f"apt-get installed {' '.join(APT_PACKAGES)} but nginx is still missing")


def port_answers(port: int, host: str = "127.0.0.1") -> bool:
    """Tell whether something accepts TCP connections on a port.

    Args:
        port: The TCP port.
        host: The address to try.

    Returns:
        True if a connection could be opened.
    """
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def nginx_quote(value: str) -> str:
    """Quote a string for an nginx configuration file.

    Args:
        value: The string, e.g. a path that may hold spaces.

    Returns:
        The string in double quotes, with backslashes and double quotes escaped.
    """
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def user_directive() -> str:
    """Build the ``user`` directive for the worker processes.

    nginx started as root runs its workers as ``nobody``, which cannot read a site kept in a
    private temp folder; so a root master keeps its workers as root. Other users' nginx cannot
    switch users at all and gets no directive.

    Returns:
        A ``user NAME GROUP;`` line, or an empty string when not running as root.
    """
    if os.geteuid() != 0:
        return ""
    user = pwd.getpwuid(os.geteuid()).pw_name
    group = grp.getgrgid(os.getegid()).gr_name
    return f"user {user} {group};"


def static_locations(delay_ms: float) -> str:
    """Build the ``location`` blocks of the server.

    Args:
        delay_ms: How long to hold back every response, in milliseconds; 0 for none.

    Returns:
        The nginx configuration text of the locations.
    """
    if delay_ms <= 0:
        return "location / { }"
    seconds = f"{delay_ms / 1000:.3f}"
    return (
        "# every request sleeps (without blocking the worker), then is served as a plain\n"
        "        # static file by the named location: same bytes, Content-Length, Range, ETag\n"
        f"        location / {{ echo_sleep {seconds}; echo_exec @static; }}\n"
        "        location @static { }"
    )


def render_config(
    root: Path, port: int, delay_ms: float, echo_module: Path | None, host: str = "127.0.0.1"
) -> str:
    """Render a self-contained nginx.conf (relative paths resolve against the ``-p`` prefix).

    Args:
        root: The folder to serve.
        port: The port to listen on, on ``host``.
        delay_ms: How long to hold back every response, in milliseconds; 0 for none.
        echo_module: The echo module's shared object; needed only when ``delay_ms`` > 0.
        host: The IPv4 address to listen on.

    Returns:
        The configuration text.
    """
    load = f"load_module {nginx_quote(str(echo_module))};" if delay_ms > 0 and echo_module else ""
    return f"""{load}
{user_directive()}
daemon off;
master_process on;
worker_processes 2;
pid nginx.pid;
error_log error.log warn;
events {{ worker_connections 1024; }}
http {{
    types {{ application/json js; image/jpeg jpg jpeg; image/png png; }}
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    server {{
        listen {host}:{port};
        root {nginx_quote(str(root))};
        {static_locations(delay_ms)}
    }}
}}
"""


class Nginx:
    """An nginx serving a folder on 127.0.0.1 (or ``host``), started and stopped by this process.

    Args:
        root: The folder to serve.
        port: The port to listen on, on ``host``.
        delay_ms: How long to hold back every response, in milliseconds (whole milliseconds;
            0 for none).
        host: The IPv4 address to listen on, e.g. a bridge's for clients in other network
            namespaces (which cannot reach this one's 127.0.0.1).

    Raises:
        ValueError: If ``delay_ms`` is negative or below the echo module's 1 ms resolution.
    """

    def __init__(self, root: Path, port: int, delay_ms: float = 0, host: str = "127.0.0.1") -> None:
        if delay_ms < 0 or 0 < delay_ms < 1:
            raise ValueError(f"delay_ms must be 0 or at least 1 ms, not {delay_ms}")
        self.root = Path(root).resolve()
        self.port = port
        self.host = host
        self.delay_ms = delay_ms
        self.prefix: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        """The URL of the served folder's top, without a trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def config_text(self) -> str:
        """The nginx.conf this server runs with."""
        module = find_echo_module() if self.delay_ms > 0 else None
        if self.delay_ms > 0 and module is None:
            raise RuntimeError("the nginx echo module is missing: call ensure_installed()")
        return render_config(self.root, self.port, self.delay_ms, module, self.host)

    def start(self) -> None:
        """Write the configuration into a temp folder, start nginx and wait until it answers.

        Raises:
            RuntimeError: If nginx is missing, the port is already taken, or nginx does not
                come up (the error log is in the message).
        """
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed: call ensure_installed()")
        if not self.root.is_dir():
            raise RuntimeError(f"{self.root} is not a folder")
        if port_answers(self.port, self.host):
            raise RuntimeError(f"port {self.port} is already in use")
        self.prefix = Path(tempfile.mkdtemp(prefix="yamlcrawl-nginx-"))
        (self.prefix / "tmp").mkdir()
        conf = self.prefix / "nginx.conf"
        conf.write_text(self.config_text, encoding="utf-8")
        error_log = self.prefix / "error.log"
        command = [binary, "-c", str(conf), "-p", f"{self.prefix}/", "-e", str(error_log)]
        # a session of its own: a Ctrl-C in the terminal reaches us, and we stop nginx cleanly
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not port_answers(self.port, self.host):
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = error_log.read_text(errors="replace") if error_log.exists() else ""
                self.stop()
                raise RuntimeError(f"nginx did not start on port {self.port}:\n{log}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop nginx gracefully (SIGQUIT, then SIGTERM, then SIGKILL) and remove its temp folder.

        Does nothing if it is not running.
        """
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            for sig in (signal.SIGQUIT, signal.SIGTERM, signal.SIGKILL):
                process.send_signal(sig)
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                    break
                except subprocess.TimeoutExpired:
                    continue
        if self.prefix is not None:
            shutil.rmtree(self.prefix, ignore_errors=True)
            self.prefix = None

    def __enter__(self) -> Nginx:
        """Start the server.

        Returns:
            This server, started.
        """
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()


def interrupt(signum: int, frame: FrameType | None) -> None:
    """Turn a signal into a KeyboardInterrupt, so that the server is stopped cleanly.

    Args:
        signum: The signal number.
        frame: The interrupted frame.

    Raises:
        KeyboardInterrupt: Always.
    """
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    """Serve a folder with nginx until Ctrl-C.

    Args:
        argv: The command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=Path, help="the folder to serve")
    parser.add_argument("--port", type=int, default=18080, help="port on 127.0.0.1 (18080)")
    parser.add_argument("--delay-ms", type=float, default=0, help="delay every response (0)")
    parser.add_argument("--print-config", action="store_true", help="print nginx.conf first")
    args = parser.parse_args(argv)
    # Ctrl-C, and a harness's SIGTERM or SIGINT (even when started in the background), stop it
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    ensure_installed()
    with Nginx(args.root, args.port, delay_ms=args.delay_ms) as server:
        if args.print_config:
            print(server.config_text)
        print(f"serving {server.root} at {server.base_url}/ (delay {args.delay_ms:g} ms); Ctrl-C")
        try:
            while server.process is not None and server.process.poll() is None:
                time.sleep(0.5)
        except KeyboardInterrupt:
            print("stopping")
            return 0
    print("nginx exited")
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
