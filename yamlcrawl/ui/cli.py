"""Command line: argument parsing and exit codes, nothing else.

Exit codes (``ui/outcome.py``): 0 all done, 1 some units failed, 2 bad config or usage or an
unusable output folder, 3 units failed and nothing succeeded, 130 interrupted.
Heavy modules are imported inside the commands, so ``yamlcrawl --help`` starts fast.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, TextIO

from yamlcrawl import __version__
from yamlcrawl.ui.outcome import EXIT_HELP, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from rich.console import Console

    from yamlcrawl.language.loader import LoadedSpec
    from yamlcrawl.language.plan import Plan
    from yamlcrawl.types import Subscriber
    from yamlcrawl.ui.display import Display
    from yamlcrawl.work.cancel import CancelToken

COMMANDS = ("run", "validate", "plan", "init", "schema")
DEFAULT_FILE = Path("crawler.yaml")
TOP_LEVEL = ("-h", "--help", "--version")  # options of `yamlcrawl` itself, not of a command
# One line per built-in mode for --help (tests/test_cli.py checks it names every mode); kept
# here so that --help imports no backend.
MODES_HELP = {
    "serial": "every unit in this process, one at a time (the reference)",
    "process": "a process per page and per page's list of files, at most --workers alive",
    "queue": "--workers consumer processes (--threads each) fed by one bounded queue",
    "pool": "a multiprocessing.Pool of --workers processes, a task per unit",
    "thread": "--workers x --threads threads in this process",
    "dask": "Dask tasks on a local cluster, or on the one at --scheduler",
}


class UsageError(Exception):
    """Bad arguments: printed as one line, exit 2."""


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not >= 1")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "file", type=Path, nargs="?", help="the crawl file (default: ./crawler.yaml)"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="bind or replace a var (--set img=http://127.0.0.1:8000/img), or set any setting"
        " by its path in the file, typed as YAML reads it (--set http.rate=2, run.workers=3,"
        " stages.list.url=...); repeatable",
    )


def _topology_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mode", metavar="MODE", help="execution mode (overrides run.mode)")
    parser.add_argument("--workers", type=_positive, metavar="N", help="worker processes")
    parser.add_argument("--threads", type=_positive, metavar="N", help="threads per worker process")
    parser.add_argument(
        "--start-method",
        choices=("fork", "spawn", "forkserver"),
        help="how worker processes start (default: the platform's)",
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask mode: a Dask scheduler's address, e.g. tcp://10.0.0.5:8786"
        " (default: a local cluster)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    return _parsers()[0]


def _epilog() -> str:
    """The modes, then the exit codes, a line each (tests/test_cli.py, tests/test_exit_codes.py)."""
    width = max(map(len, MODES_HELP))
    lines = [f"  {name:<{width}}  {meaning}" for name, meaning in MODES_HELP.items()]
    codes = [f"  {code:<3}  {meaning}" for code, meaning in EXIT_HELP.items()]
    return "\n".join(["modes (run.mode, --mode):", *lines, "", "exit codes:", *codes])


def _parsers() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The top-level parser, and the parser of each command by name."""
    parser = argparse.ArgumentParser(
        prog="yamlcrawl",
        description="Crawl JSON APIs as a YAML file describes.\n"
        "`yamlcrawl crawler.yaml` is short for `yamlcrawl run crawler.yaml`; with no file,\n"
        "./crawler.yaml. Options may come before or after the file. A file named like a\n"
        "command: `yamlcrawl run plan` or `yamlcrawl ./plan`.",
        epilog=_epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"yamlcrawl {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run a crawl (the default command)")
    _common(run)
    run.add_argument("--dry-run", action="store_true", help="fetch pages, list files, save none")
    run.add_argument(
        "--fresh", action="store_true", help="ignore what earlier runs finished; fetch it all"
    )
    run.add_argument("--limit", type=_positive, metavar="N", help="first N items per fan-out")
    run.add_argument(
        "--strict",
        action="store_true",
        help="a jsonpath or template that matched nothing fails the run (else: a warning)",
    )
    run.add_argument(
        "--output",
        "-o",
        metavar="DIR",
        help="the output folder (not '-': a folder), or an object store's URL (s3://bucket/prefix)",
    )
    _topology_options(run)
    run.add_argument(
        "--log-file", type=Path, metavar="PATH", help="keep a full log here ('-': stdout)"
    )
    run.add_argument(
        "--report", type=Path, metavar="PATH", help="write the summary as JSON ('-': stdout)"
    )
    loudness = run.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", action="store_true", help="only errors and summary")
    loudness.add_argument("-v", "--verbose", action="store_true", help="a line for every file")
    validate = commands.add_parser("validate", help="check a crawl file; make no request")
    _common(validate)
    plan = commands.add_parser(
        "plan", help="draw the stages and the processes a mode will run; make no request"
    )
    _common(plan)
    _topology_options(plan)
    init = commands.add_parser("init", help="write a commented starter crawl file")
    init.add_argument(
        "file",
        type=Path,
        nargs="?",
        default=DEFAULT_FILE,
        help="where to write it (default: ./crawler.yaml; '-': stdout)",
    )
    init.add_argument("--force", action="store_true", help="replace an existing file")
    schema = commands.add_parser("schema", help="print the JSON Schema of crawl files")
    return parser, {"run": run, "validate": validate, "plan": plan, "init": init, "schema": schema}


def with_command(argv: list[str], parsers: dict[str, argparse.ArgumentParser]) -> list[str]:
    """``argv`` with its command first: the first word that is not an option (nor an option's
    value) when it names a command, else ``run``. So options go anywhere, a file named like a
    command is ``run plan`` or ``./plan``, and no word at all is ``run ./crawler.yaml``."""
    if argv and argv[0] in TOP_LEVEL:
        return argv
    takes_value = {
        option
        for action in parsers["run"]._actions  # argparse keeps no public list of them
        if action.nargs != 0
        for option in action.option_strings
    }
    index = 0
    while index < len(argv) and argv[index] != "--":
        word = argv[index]
        if not word.startswith("-") or word == "-":
            if word in COMMANDS:
                return [word, *argv[:index], *argv[index + 1 :]]
            break
        index += 2 if word in takes_value else 1
    return ["run", *argv]


def _parse(argv: list[str]) -> argparse.Namespace:
    """The arguments; a mistake is answered with the usage of its command (argparse answers
    one it does not know with the top-level usage)."""
    parser, parsers = _parsers()
    args, unknown = parser.parse_known_args(with_command(argv, parsers))
    if unknown:
        parsers[args.command].error(_unknown(parsers[args.command], unknown, args))
    return args


def _unknown(command: argparse.ArgumentParser, unknown: list[str], args: argparse.Namespace) -> str:
    """What argparse could not place: the first unknown option, with a suggestion; or the
    words past the file, which may have been meant for a mistyped command."""
    from yamlcrawl.language.problems import did_you_mean

    options = [word for word in unknown if word.startswith("-") and word != "-"]
    if not options:
        file = getattr(args, "file", None)
        hint = did_you_mean(str(file), COMMANDS) if args.command == "run" and file else ""
        return f"unrecognized arguments: {' '.join(unknown)}{_command_hint(hint)}"

    known = [o for action in command._actions for o in action.option_strings if o[1] == "-"]
    word = options[0].split("=", 1)[0]
    return f"unrecognized option '{word}'{did_you_mean(word, known)}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``yamlcrawl`` command; returns the exit code."""
    args = _parse(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.command in ("run", "validate", "plan"):
            args.file = _crawl_file(args.file)
        if args.command == "validate":
            return _validate(args)
        if args.command == "plan":
            return _plan(args)
        if args.command == "init":
            return _init(args)
        if args.command == "schema":
            from yamlcrawl.ui.starter import schema_text

            sys.stdout.write(schema_text())
            return EXIT_OK
        return _run(args)
    except UsageError as exc:
        print(f"yamlcrawl: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _command_hint(hint: str) -> str:
    """``; did you mean 'x'?`` said of a command."""
    return hint.replace("did you mean", "did you mean the command", 1)


def _crawl_file(given: Path | None) -> Path:
    """The file given, or ./crawler.yaml, which must then exist. A missing file named almost
    like a command was meant as that command."""
    if given is not None:
        if given.name == str(given) and not given.exists():
            from yamlcrawl.language.problems import did_you_mean

            hint = did_you_mean(given.name, COMMANDS)
            if hint:
                raise UsageError(
                    f"there is no file '{given}'{hint.replace('mean', 'mean the command', 1)}"
                )
        return given
    if not DEFAULT_FILE.exists():
        raise UsageError("no crawler.yaml here — give the file, or `yamlcrawl init`")
    return DEFAULT_FILE


def _init(args: argparse.Namespace) -> int:
    from yamlcrawl.ui.starter import starter, write_schema_beside

    path: Path = args.file
    if str(path) == "-":
        sys.stdout.write(starter())
        return EXIT_OK
    if path.exists() and not args.force:
        raise UsageError(f"{path} exists; --force replaces it")
    try:
        path.write_text(starter(path.name), encoding="utf-8")
        written = write_schema_beside(path, force=args.force)  # the file its first line names
    except OSError as exc:
        raise UsageError(f"cannot write {exc.filename or path}: {exc.strerror}") from None
    print(f"wrote {written}: edit it, then `yamlcrawl validate {path}`")
    return EXIT_OK


def _overrides(pairs: list[str]) -> dict[str, str]:
    """``--set`` pairs by name (the loader checks each name: a var, or a path to a setting)."""
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(
                f"--set takes NAME=VALUE (a var) or PATH=VALUE (a setting, such as"
                f" http.rate=2), not '{pair}'"
            )
        out[name] = value
    return out


def _load(args: argparse.Namespace) -> LoadedSpec | None:
    """The checked spec, or None after printing every problem."""
    from yamlcrawl.backends import modes
    from yamlcrawl.language.loader import ConfigError, load_spec

    try:
        return load_spec(args.file, _overrides(args.overrides), modes())
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def _validate(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_USAGE
    stages = loaded.spec.stages
    downloads = sum(len(stage.downloads) for stage in stages.values())
    for note in loaded.notes:
        print(note.render(loaded.source), file=sys.stderr)
    print(f"{args.file}: valid — stages: {len(stages)}, download rules: {downloads}")
    return EXIT_OK


def _plan(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_USAGE
    from rich.console import Console

    from yamlcrawl.ui.planview import show_plan

    show_plan(_plan_for(args, loaded), Console(highlight=False))
    return EXIT_OK


def _plan_for(args: argparse.Namespace, loaded: LoadedSpec) -> Plan:
    from yamlcrawl.backends import modes
    from yamlcrawl.http.useragent import resolve_user_agent
    from yamlcrawl.language.plan import build_plan

    if args.mode is not None and args.mode not in modes():
        raise UsageError(
            f"unknown mode '{args.mode}' for --mode — expected one of: {', '.join(modes())}"
        )
    # Chosen once, first: every worker sends the same User-Agent and none loads the UA data,
    # and its ~13 MB of data are freed before the HTTP libraries make this process any bigger.
    agent = resolve_user_agent(loaded.spec.http.user_agent)
    plan = build_plan(loaded.spec, loaded.source, loaded.secrets)
    folder, store = _output_for(getattr(args, "output", None), plan)
    output = Path(folder).resolve()
    plan = plan.with_overrides(
        mode=args.mode,
        workers=args.workers,
        threads=args.threads,
        limit=getattr(args, "limit", None),
        output_dir=str(output),
        start_method=args.start_method,
        scheduler=args.scheduler,
    )
    if args.scheduler is not None and plan.mode != "dask":
        raise UsageError(
            f"--scheduler is for dask mode, and the mode is {plan.mode}: add --mode dask"
        )
    return replace(
        plan, http=replace(plan.http, user_agent=agent), output=replace(plan.output, store=store)
    )


def _output_for(given: str | None, plan: Plan) -> tuple[str, str | None]:
    """The local folder and the object store (or None) of ``--output``, else of the file.

    Raises:
        UsageError: the store's URL cannot be used, or its library is not installed.
    """
    from yamlcrawl.storage.objectstore import (
        shown_url,
        split_output,
        store_problem,
        unknown_scheme,
    )

    if given is None:
        folder, store = plan.output.dir, plan.output.store
    else:
        folder, store = split_output(given)
        problem = store_problem(given) if store else None
        if problem:
            raise UsageError(f"--output {shown_url(given)} {problem}")
    problem = unknown_scheme(store) if store else None
    if problem:
        raise UsageError(f"the output {store} {problem}")
    return folder, store


def _run(args: argparse.Namespace) -> int:
    if args.output is not None and str(args.output) == "-":
        raise UsageError(
            "--output takes a folder, and '-' (stdout) cannot hold files — expected a folder"
            " path, such as --output downloads"
        )
    loaded = _load(args)
    if loaded is None:
        return EXIT_USAGE
    plan = _plan_for(args, loaded)
    if not args.dry_run:
        _make_folder(Path(plan.output.dir))
    log_file = _open_log(args.log_file)
    try:
        return _crawl(args, plan, log_file)
    finally:
        if log_file is not None:
            _close_log(log_file)


def _open_log(path: Path | None) -> TextIO | None:
    from yamlcrawl.storage.userfiles import open_log

    if path is None:
        return None
    try:
        return open_log(str(path))
    except OSError as exc:
        raise UsageError(f"cannot write the log file {path}: {exc.strerror}") from None


def _close_log(log_file: TextIO) -> None:
    from yamlcrawl.storage.userfiles import is_standard

    if is_standard(log_file):
        log_file.flush()
    else:
        log_file.close()


def _crawl(args: argparse.Namespace, plan: Plan, log_file: TextIO | None) -> int:
    from yamlcrawl.backends import BackendError
    from yamlcrawl.engine.coordinator import Coordinator
    from yamlcrawl.engine.output import DryRun, SaveFiles
    from yamlcrawl.storage.outdir import FolderBusyError, FolderError
    from yamlcrawl.types import RunStats
    from yamlcrawl.ui.log import NORMAL, QUIET, VERBOSE, plain_console
    from yamlcrawl.ui.outcome import exit_code
    from yamlcrawl.ui.report import Report
    from yamlcrawl.work.cancel import CancelToken

    verbosity = QUIET if args.quiet else VERBOSE if args.verbose else NORMAL
    # `--report -`: the JSON alone on stdout, the summary on stderr.
    out = plain_console(stderr=True) if _to_stdout(args) else None
    subscribers, display = watchers(
        plan, verbosity, dry_run=args.dry_run, out=out, log_file=log_file, report=args.report
    )
    cancel = CancelToken()
    stop = partial(_interrupt, cancel)
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        output = DryRun() if args.dry_run else SaveFiles()
        coordinator = Coordinator(
            plan, subscribers, output, fresh=args.fresh, cancel=cancel, strict=args.strict
        )
        stats = coordinator.run()
    except BackendError as exc:  # raised before anything is drawn or written
        from yamlcrawl.shown import shown

        print(f"yamlcrawl: {shown(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except FolderError as exc:  # the folder cannot be used: nothing was fetched
        print(f"yamlcrawl: {exc}", file=sys.stderr)
        if args.report is not None and not isinstance(exc, FolderBusyError):
            Report(plan, args.report).write(RunStats(stopped=str(exc)))  # (another run's: no)
        return EXIT_USAGE
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if display is not None:
            display.finish()
    return exit_code(stats)


def watchers(
    plan: Plan,
    verbosity: int,
    *,
    dry_run: bool = False,
    live: bool | None = None,
    out: Console | None = None,
    log: Console | None = None,
    log_file: TextIO | None = None,
    report: Path | None = None,
) -> tuple[list[Subscriber], Display | None]:
    """What follows a run for the person running it, in the order it closes: the live display
    (on a terminal, unless quiet or a dry run; ``NO_COLOR`` only takes its colours), the lines,
    a dry run's list, the summary, the plain progress lines, the report. Also the display, to
    stop on any exit."""
    from yamlcrawl.ui.display import Display, PlainProgress
    from yamlcrawl.ui.listing import Listing
    from yamlcrawl.ui.log import QUIET, Log, plain_console
    from yamlcrawl.ui.report import Report
    from yamlcrawl.ui.summary import Summary

    out = out or plain_console()
    log = log or plain_console(stderr=True)
    if live is None:
        live = log.is_terminal
    live = live and verbosity != QUIET and not dry_run
    lines = Log(plan, log, verbosity, log_file)
    display = Display(plan, log) if live else None
    subscribers: list[Subscriber] = [*([display] if display else []), lines]
    if dry_run:
        subscribers.append(Listing(plan, out))
    subscribers += [Summary(plan, out), PlainProgress(lines, periodic=not live)]
    if report is not None:
        subscribers.append(Report(plan, report))
    return subscribers, display


def _to_stdout(args: argparse.Namespace) -> bool:
    return args.report is not None and str(args.report) == "-"


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise UsageError(f"cannot make the output folder {folder}: it is a file") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"cannot make the output folder {folder}: {reason}") from None


def _interrupt(cancel: CancelToken, signum: int, frame: FrameType | None) -> None:
    """Ctrl-C and SIGTERM stop a run cleanly, with a summary.

    The request is also noted on the run's cancel token, which the coordinator looks at: a
    KeyboardInterrupt raised while Python runs an at-fork hook (``process`` mode forks all the
    time) is printed and dropped, not raised.
    """
    cancel.stop()
    raise KeyboardInterrupt
