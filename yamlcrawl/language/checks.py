"""The loader's second pass: rules the schema types cannot say.

Stage graph (``from`` exists, no cycle), jsonpaths parse, templates parse and name only bound
variables, ``save_as`` stays inside the output folder, and the mode exists.
"""

from __future__ import annotations

import graphlib
import http.cookiejar
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from yamlcrawl.language.emitcheck import SUFFIXES, check_emit_options, format_problem
from yamlcrawl.language.formats import cuts_text, date_sample, is_date_spec
from yamlcrawl.language.jsonpaths import JsonPathError, compile_jsonpath
from yamlcrawl.language.pagination import STYLES
from yamlcrawl.language.problems import Problem, did_you_mean, dotted
from yamlcrawl.language.spec import AuthSpec, CrawlSpec, PaginateSpec, RuleSpec, StageSpec
from yamlcrawl.language.template import (
    PATH_FILTER,
    RESPONSE_EXT,
    Template,
    TemplateError,
    compile_template,
)
from yamlcrawl.language.template import Field as TemplateField
from yamlcrawl.language.valuesyntax import is_jsonpath, is_template, jsonpath_for, template_for
from yamlcrawl.language.where import RULES
from yamlcrawl.language.yamlsource import Positions, YamlPath
from yamlcrawl.storage.cookiefile import read_cookies_file
from yamlcrawl.storage.objectstore import is_store_url, shown_url, store_problem
from yamlcrawl.storage.outdir import kept_for_yamlcrawl
from yamlcrawl.storage.safepath import UnsafePathError, relative_path

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_EXT_MEANING = "in save_as, {ext} is the extension the response's Content-Type names"


class _Checker:
    """Collects problems; each check adds to ``self.problems``."""

    def __init__(
        self,
        crawl: CrawlSpec,
        positions: Positions,
        overrides: set[str],
        from_env: Mapping[str, str],
    ) -> None:
        self.crawl = crawl
        self.from_env = from_env  # vars that take a value from ${ENV}: the ENV each names
        self.positions = positions
        self.globals = set(crawl.vars) | overrides
        self.emitted: set[str] = set()  # emit files named so far: each stage needs its own
        self.problems: list[Problem] = []

    def add(self, path: YamlPath, message: str, at_key: bool = False) -> None:
        where = self.positions.of_key(path) if at_key else self.positions.of_value(path)
        self.problems.append(Problem(*where, message))


def check_semantics(
    crawl: CrawlSpec,
    positions: Positions,
    modes: tuple[str, ...],
    overrides: set[str],
    from_env: Mapping[str, str] | None = None,
) -> list[Problem]:
    """Every problem a schema-valid spec still has.

    ``from_env``: the vars whose value comes from the environment, with the variable each names.
    """
    checker = _Checker(crawl, positions, overrides, from_env or {})
    _check_mode(checker, modes)
    _check_output(checker)
    _check_http_files(checker)
    if RESPONSE_EXT in checker.globals:
        checker.add(
            ("vars", RESPONSE_EXT),
            f"'{RESPONSE_EXT}' is reserved at vars.{RESPONSE_EXT} ({_EXT_MEANING})"
            " — expected another name",
            at_key=True,
        )
    _check_graph(checker)
    _check_stages(checker)
    for name, stage in crawl.stages.items():
        if stage.emit is not None:
            _check_emit_file(checker, ("stages", name, "emit", "to"), stage.emit.to)
            check_emit_options(checker.add, ("stages", name, "emit"), stage.emit)
    everywhere = _Scope(dict.fromkeys(checker.globals, "vars"))
    _check_templates_of(checker, ("http", "headers"), crawl.http.headers, everywhere)
    _check_templates_of(checker, ("http", "cookies"), crawl.http.cookies, everywhere)
    _check_auth(checker, ("http", "auth"), crawl.http.auth, everywhere)
    return checker.problems


class _Scope:
    """The names a template may use: a view of who binds each, plus a few more names.

    A view, not a copy: a chain of thousands of stages has a scope as long at its end, and one
    set per stage would make checking it quadratic.
    """

    def __init__(self, bound: dict[str, str], extra: frozenset[str] = frozenset()) -> None:
        self.bound = bound
        self.extra = extra

    def __contains__(self, name: object) -> bool:
        return name in self.bound or name in self.extra

    def names(self) -> list[str]:
        """Every name, sorted (for messages: only a problem costs this)."""
        return sorted({*self.bound, *self.extra})


def _check_mode(checker: _Checker, modes: tuple[str, ...]) -> None:
    mode = checker.crawl.run.mode
    if mode not in modes:
        checker.add(
            ("run", "mode"),
            f"unknown mode '{mode}' at run.mode — expected one of: {', '.join(modes)}"
            f"{did_you_mean(mode, modes)}",
        )


def _check_output(checker: _Checker) -> None:
    _check_store(checker)
    manifest = checker.crawl.output.manifest
    if manifest is not False and (
        not manifest or manifest in (".", "..") or re.search(r"[/\\]", manifest)
    ):
        checker.add(
            ("output", "manifest"),
            f"'{manifest}' is not a plain file name at output.manifest"
            " — expected a file name inside the output folder, or false",
        )


def _check_store(checker: _Checker) -> None:
    """An object store's URL in output.dir names a bucket, carries no credentials, no '..'."""
    folder = checker.crawl.output.dir
    problem = store_problem(folder) if is_store_url(folder) else None
    if problem:
        what, _, expected = problem.partition(" — ")
        checker.add(
            ("output", "dir"), f"the URL '{shown_url(folder)}' {what} at output.dir — {expected}"
        )


def _check_http_files(checker: _Checker) -> None:
    """A CA bundle or client certificate named in `http` is a file that exists; a cookies
    file is one that reads."""
    settings = checker.crawl.http
    files: list[tuple[YamlPath, str, str]] = []
    if isinstance(settings.verify, str):
        files.append((("http", "verify"), settings.verify, "a CA bundle file (PEM)"))
    if isinstance(settings.cert, str):
        files.append((("http", "cert"), settings.cert, "a client certificate file (PEM)"))
    elif settings.cert is not None:
        files.append((("http", "cert", 0), settings.cert[0], "a client certificate file (PEM)"))
        files.append((("http", "cert", 1), settings.cert[1], "its key file (PEM)"))
    for path, name, expected in files:
        if not Path(name).is_file():
            checker.add(path, f"no file '{name}' at {dotted(path)} — expected {expected}")
    if settings.cookies_file is not None:
        _check_cookies_file(checker, settings.cookies_file)


def _check_cookies_file(checker: _Checker, name: str) -> None:
    try:
        read_cookies_file(name)
    except http.cookiejar.LoadError:  # its message repeats the path
        why = "not in the Netscape format"
    except OSError as exc:
        why = exc.strerror or str(exc)
    else:
        return
    checker.add(
        ("http", "cookies_file"),
        f"cannot read '{name}' at http.cookies_file ({why}) — expected a Netscape cookies.txt file",
    )


def _check_graph(checker: _Checker) -> None:
    """``from`` names real stages and no chain of ``from`` loops."""
    stages = checker.crawl.stages
    for name, stage in stages.items():
        if stage.parent is not None and stage.parent not in stages:
            others = [other for other in stages if other != name]
            checker.add(
                ("stages", name, "from"),
                f"stage '{stage.parent}' does not exist at stages.{name}.from"
                f" — expected one of: {', '.join(others)}{did_you_mean(stage.parent, others)}",
            )
    graph = {name: {s.parent} if s.parent in stages else set() for name, s in stages.items()}
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        cycle: list[str] = exc.args[1]
        first = cycle[0]
        checker.add(
            ("stages", first, "from"),
            f"stages form a cycle ({' -> '.join(reversed(cycle))}) at stages.{first}.from"
            " — expected every chain of 'from' to end at a start stage (one without 'from')",
        )


def _check_stages(checker: _Checker) -> None:
    """Check every stage whose chain of parents reaches a start stage, depth first.

    ``bound`` holds, at each stage, who binds each name it may use (vars, --set, ancestors):
    a stage's own names are added on the way down and taken away on the way back.
    """
    stages = checker.crawl.stages
    children: dict[str | None, list[str]] = {}
    for name, stage in stages.items():
        children.setdefault(stage.parent, []).append(name)
    bound: dict[str, str] = dict.fromkeys(checker.globals, "vars")
    todo: list[tuple[str, list[tuple[str, str | None]] | None]] = [
        (name, None) for name in reversed(children.get(None, []))
    ]
    while todo:
        name, undo = todo.pop()
        if undo is not None:  # on the way back: what this stage bound goes
            for bound_name, before in undo:
                if before is None:
                    del bound[bound_name]
                else:
                    bound[bound_name] = before
            continue
        own = _check_stage(checker, name, stages[name], bound)
        undo = [(bound_name, bound.get(bound_name)) for bound_name in own]
        bound.update(dict.fromkeys(own, f"stages.{name}"))
        todo.append((name, undo))
        todo.extend((child, None) for child in reversed(children.get(name, [])))


def _bindings(stage: StageSpec) -> list[tuple[str, YamlPath]]:
    """Names a stage binds for its downloads and children, with the key that binds each."""
    bound: list[tuple[str, YamlPath]] = [(field, ("fields", field)) for field in stage.fields]
    if stage.as_ is not None:
        bound.append((stage.as_, ("as",)))
    if stage.key is not None and stage.each is not None:
        bound.append((stage.key, ("key",)))
    return bound


def _check_stage(checker: _Checker, name: str, stage: StageSpec, bound: dict[str, str]) -> set[str]:
    """Check one stage; ``bound`` says who binds each name its ancestors leave in scope.

    Returns:
        The names the stage binds itself.
    """
    base: YamlPath = ("stages", name)
    _check_fan_out(checker, base, stage)
    if stage.paginate is not None:
        _check_paginate(checker, (*base, "paginate"), stage.paginate)
    if stage.incremental is not None:
        _check_incremental(checker, base, stage)
    paths = stage.field_paths()
    for field, value in stage.fields.items():
        long_form = () if isinstance(value, str) else ("path",)
        _check_stage_field(checker, (*base, "fields", field, *long_form), paths[field], bound)
    inherited = _Scope(bound)
    _check_templates_of(checker, (*base, "url"), {"": stage.url}, inherited)
    _check_templates_of(checker, (*base, "params"), stage.params, inherited)
    _check_templates_of(checker, (*base, "headers"), stage.headers, inherited)
    _check_templates_of(checker, (*base, "cookies"), stage.cookies, inherited)
    _check_auth(checker, (*base, "auth"), stage.auth, inherited)
    _check_body(checker, base, stage, inherited)
    own = _check_bindings(checker, base, stage, bound)
    scope = _Scope(bound, frozenset(own))
    _check_where(checker, (*base, "where"), stage, scope)
    if stage.emit is not None:
        columns = (*base, "emit", "fields")
        _check_no_jsonpaths(checker, columns, stage.emit.fields, stage, "emit columns")
        _check_templates_of(checker, columns, stage.emit.fields, scope)
    for i, download in enumerate(stage.downloads):
        path = (*base, "downloads", i)
        _check_no_jsonpaths(checker, path, {"url": download.url}, stage, "download URLs")
        _check_templates_of(checker, (*path, "url"), {"": download.url}, scope)
        _check_templates_of(checker, (*path, "headers"), download.headers, scope)
        if download.archive_key is not None:
            _check_templates_of(checker, (*path, "archive_key"), {"": download.archive_key}, scope)
        named = _Scope(bound, frozenset({*own, RESPONSE_EXT}))
        template = _check_templates_of(
            checker, (*path, "save_as"), {"": download.save_as}, named, True
        )
        if template is not None:
            _check_save_as(checker, (*path, "save_as"), template)
            _check_secret_in_name(checker, (*path, "save_as"), template)
    return own


def _check_fan_out(checker: _Checker, base: YamlPath, stage: StageSpec) -> None:
    if stage.each is not None:
        _check_jsonpath(checker, (*base, "each"), stage.each)
        if stage.as_ is None:
            checker.add(
                (*base, "each"),
                f"'each' without 'as' at {dotted(base)}"
                " — expected 'as: NAME' beside it, the name each item is bound to",
            )
    else:
        for name in ("as", "key"):
            if getattr(stage, "as_" if name == "as" else name) is not None:
                checker.add(
                    (*base, name),
                    f"'{name}' without 'each' at {dotted(base)}"
                    " — expected 'each: JSONPATH' beside it, the items to fan out over",
                )


def _check_emit_file(checker: _Checker, path: YamlPath, to: str) -> None:
    problem = format_problem(to)
    if problem is None:
        try:
            relative = relative_path(to)
        except UnsafePathError as exc:
            problem = exc.reason
        else:
            problem = kept_for_yamlcrawl(relative)
            if problem is None and str(relative) != to:
                problem = f"is not a safe name (it would be saved as {str(relative)!r})"
            elif problem is None and to in (*checker.emitted, checker.crawl.output.manifest):
                problem = "is written by another stage or is the manifest"
    if problem is not None:
        checker.add(
            path,
            f"'{to}' {problem} at {dotted(path)}"
            f" — expected a new file path inside the output folder ending in {SUFFIXES}",
        )
    checker.emitted.add(to)


def _check_where(checker: _Checker, base: YamlPath, stage: StageSpec, scope: _Scope) -> None:
    for source, rule in stage.where.items():
        path = (*base, source)
        _check_templates_of(checker, path, {"": source}, scope)
        if not isinstance(rule, RuleSpec):
            continue
        tests = rule.tests()
        if len(tests) != 1:
            checker.add(
                path,
                f"{len(tests)} tests in the rule at {dotted(path)} — expected exactly one of:"
                f" {', '.join(RULES)} (or a plain value to equal)",
            )
        for operator, operand in tests:
            problem = operator.problem(operand)
            if problem is not None:
                at = (*path, operator.key)
                checker.add(at, f"{problem[0]} at {dotted(at)} — expected {problem[1]}")


def _check_body(checker: _Checker, base: YamlPath, stage: StageSpec, scope: _Scope) -> None:
    if stage.json_ is not None and stage.form:
        checker.add(
            (*base, "form"),
            f"both 'json' and 'form' at {dotted(base)} — expected one body: json or form",
        )
    _check_templates_of(checker, (*base, "form"), stage.form, scope)
    for path, text in _json_strings((*base, "json"), stage.json_):
        _check_templates_of(checker, path, {"": text}, scope)


def _json_strings(path: YamlPath, value: Any) -> Iterator[tuple[YamlPath, str]]:
    """Every string in a JSON body, with where it is."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _json_strings((*path, key), item)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_strings((*path, index), item)


def _check_auth(checker: _Checker, base: YamlPath, auth: AuthSpec | None, scope: _Scope) -> None:
    if auth is None:
        return
    given = [name for name in ("bearer", "basic", "digest") if getattr(auth, name) is not None]
    if len(given) != 1:
        found = ("both " if len(given) == 2 else "") + " and ".join(f"'{n}'" for n in given)
        checker.add(
            base,
            f"{found or 'no credentials'} at {dotted(base)} — expected exactly one of"
            " 'bearer: TOKEN', 'basic: {user: ..., password: ...}'"
            " or 'digest: {user: ..., password: ...}'",
        )
    if auth.bearer is not None:
        _check_templates_of(checker, (*base, "bearer"), {"": auth.bearer}, scope)
    for name in ("basic", "digest"):
        pair = getattr(auth, name)
        if pair is not None:
            pairs = {"user": pair.user, "password": pair.password}
            _check_templates_of(checker, (*base, name), pairs, scope)


# What to write for a key a style of pagination needs (which style needs which: pagination.py).
_PAGE_KEYS_EXPECTED = {
    "param": "'param: NAME', the query parameter that carries it",
    "size": "'size: N', the number of items per page",
    "from": "'from: JSONPATH', where the response gives it",
}


def _check_paginate(checker: _Checker, base: YamlPath, paginate: PaginateSpec) -> None:
    given = {
        "param": paginate.param,
        "size": paginate.size,
        "from": paginate.from_,
        "start": paginate.start,
    }
    needs = STYLES[paginate.by].needs
    allowed = {*needs, *STYLES[paginate.by].may}
    for key in needs:
        if given[key] is None:
            checker.add(
                (*base, "by"),
                f"'by: {paginate.by}' without '{key}' at {dotted(base)}"
                f" — expected {_PAGE_KEYS_EXPECTED[key]}",
            )
    for key in [k for k, v in given.items() if v is not None and k not in allowed]:
        checker.add(
            (*base, key),
            f"'{key}' does nothing with 'by: {paginate.by}' at {dotted(base)}"
            f" — expected only {', '.join(sorted(allowed))} beside it",
        )
    if paginate.size_param is not None and paginate.size is None:
        checker.add(
            (*base, "size_param"),
            f"'size_param' without 'size' at {dotted(base)} — expected 'size: N' to send",
        )
    for key, expression in (
        ("from", paginate.from_),
        ("has_more", paginate.has_more),
        ("total", paginate.total),
    ):
        if expression is not None:
            _check_jsonpath(checker, (*base, key), expression)


def _check_incremental(checker: _Checker, base: YamlPath, stage: StageSpec) -> None:
    """A cursor is a jsonpath into each item: it needs `each`; `stop: seen` ends a pagination."""
    assert stage.incremental is not None
    path = (*base, "incremental")
    if stage.each is None:
        checker.add(
            path,
            f"'incremental' without 'each' at {dotted(base)}"
            " — expected 'each: JSONPATH' beside it, the items whose cursor is compared",
        )
    if stage.incremental.stop == "seen" and stage.paginate is None:
        checker.add(
            (*path, "stop"),
            f"'stop: seen' without 'paginate' at {dotted(path)}"
            " — expected 'paginate' beside it (seen ends a pagination early), or no stop",
        )
    cursor = stage.incremental.cursor
    if is_template(cursor):
        checker.add(
            (*path, "cursor"),
            f"'{cursor}' is a template at {dotted((*path, 'cursor'))}, but the cursor is a"
            f" jsonpath into each item — expected {_cursor_for(cursor, stage.as_)}",
        )
    else:
        _check_jsonpath(checker, (*path, "cursor"), cursor)


def _cursor_for(template: str, item: str | None) -> str:
    """What to write for a template given as a cursor: `{post.updated_at}` is `$.updated_at`."""
    field = compile_template(template).fields[0]
    if field.name == item:
        return f"'${''.join(f'.{step}' for step in field.path[1:])}' ($ is the item)"
    return "a jsonpath such as '$.updated_at' ($ is the item)"


def _check_bindings(
    checker: _Checker, base: YamlPath, stage: StageSpec, owner: dict[str, str]
) -> set[str]:
    """Names bound by ``stage`` must be identifiers and must not shadow another binding."""
    own: set[str] = set()
    for bound, where in _bindings(stage):
        path = (*base, *where)
        if not _IDENTIFIER.match(bound):
            checker.add(
                path,
                f"'{bound}' is not a name at {dotted(path)}"
                " — expected letters, digits and _, not starting with a digit",
                at_key=where[0] == "fields",
            )
        elif bound == RESPONSE_EXT:
            checker.add(
                path,
                f"'{bound}' is reserved at {dotted(path)} ({_EXT_MEANING}) — expected another name",
                at_key=where[0] == "fields",
            )
        elif bound in owner or bound in own:
            by = owner.get(bound, dotted(base))
            checker.add(
                path,
                f"'{bound}' is already bound by {by} at {dotted(path)} — expected a new name",
                at_key=where[0] == "fields",
            )
        own.add(bound)
    return own


def _check_stage_field(
    checker: _Checker, path: YamlPath, expression: str, bound: dict[str, str]
) -> None:
    """A stage field is a jsonpath; a template there (``{item.id}``) is refused with the form
    meant."""
    if is_template(expression):
        checker.add(
            path,
            f"'{expression}' is a template at {dotted(path)}, but stage fields are jsonpaths"
            f" — expected {jsonpath_for(expression, bound)}",
        )
    else:
        _check_jsonpath(checker, path, expression)


def _check_no_jsonpaths(
    checker: _Checker, base: YamlPath, templates: dict[str, str], stage: StageSpec, what: str
) -> None:
    """Templates that are jsonpaths whole (``$.id``) would be that text, on every item."""
    for key, source in templates.items():
        if is_jsonpath(source):
            path = (*base, key)
            checker.add(
                path,
                f"'{source}' is a jsonpath at {dotted(path)}, but {what} are templates"
                f" — expected {template_for(source, key, stage.as_, stage.field_paths())}",
            )


def _check_jsonpath(checker: _Checker, path: YamlPath, expression: str) -> None:
    try:
        compile_jsonpath(expression)
    except JsonPathError as exc:
        checker.add(
            path,
            f"jsonpath '{expression}' does not parse ({exc}) at {dotted(path)}"
            ' — expected a jsonpath such as $.items[*] or $.items[?(@.kind == "a")]',
        )


def _check_templates_of(
    checker: _Checker,
    base: YamlPath,
    templates: dict[str, str],
    scope: _Scope,
    allow_path: bool = False,
) -> Template | None:
    """Check a mapping of templates (or one, under the key ""); returns the last that parsed."""
    compiled: Template | None = None
    for key, source in templates.items():
        path = (*base, key) if key else base
        try:
            compiled = compile_template(source)
        except TemplateError as exc:
            checker.add(
                path,
                f"template '{source}' does not parse: {exc} at {dotted(path)}"
                " — expected text with {name}, {name.key|filter} or {name:spec} fields",
            )
            continue
        _check_names(checker, path, compiled, scope)
        _check_secret_cut(checker, path, compiled)
        if not allow_path and any(PATH_FILTER in f.filters for f in compiled.fields):
            checker.add(
                path,
                f"the 'path' filter is used at {dotted(path)}"
                " — expected it only in a download's save_as",
            )
    return compiled


def _check_names(checker: _Checker, path: YamlPath, template: Template, scope: _Scope) -> None:
    for name in sorted(name for name in template.names() if name not in scope):
        known = scope.names()
        checker.add(
            path,
            f"template names '{name}', which nothing binds, at {dotted(path)}"
            f" — expected one of: {', '.join(known) or '(nothing is bound here)'}"
            f" (bound by vars, --set, or an ancestor's as/fields){did_you_mean(name, known)}"
            + ("; {ext} exists only at the end of save_as" if name == RESPONSE_EXT else ""),
        )


def _check_secret_cut(checker: _Checker, path: YamlPath, template: Template) -> None:
    """A value from the environment cut short (``{token:.4}``) could not be found and masked."""
    for field in template.fields:
        if field.name in checker.from_env and field.spec is not None and cuts_text(field.spec):
            checker.add(
                path,
                f"'{{{field.source}}}' keeps part of '{field.name}', which takes"
                f" ${{{checker.from_env[field.name]}}} from the environment, at {dotted(path)}"
                " — expected it whole (a part of a secret cannot be masked as ***)",
            )


def _check_secret_in_name(checker: _Checker, path: YamlPath, template: Template) -> None:
    """A value from the environment (a token, say) would be shown by every listing of files."""
    if checker.crawl.output.allow_secrets_in_names:
        return
    for name in sorted({field.name for field in template.fields} & set(checker.from_env)):
        checker.add(
            path,
            f"save_as uses '{name}', which takes ${{{checker.from_env[name]}}} from the"
            f" environment, at {dotted(path)} — expected no value from the environment in a file"
            " name (names on disk are never redacted), or output.allow_secrets_in_names: true",
        )


def _sample(part: str | TemplateField) -> str:
    """A part of save_as as the loader tries it: a value is ``x``, a date spec's own text stays
    (its ``/`` make folders: ``{d:%Y/..}`` is refused as ``x/..``)."""
    if isinstance(part, str):
        return part
    if part.spec is not None and is_date_spec(part.spec):
        return date_sample(part.spec)
    return "x"


def _check_save_as(checker: _Checker, path: YamlPath, template: Template) -> None:
    """A save_as whose own text leaves the output folder can never be right; ``{ext}`` only
    closes it."""
    stem = template.response_ext() or template
    if any(field.name == RESPONSE_EXT for field in stem.fields):
        checker.add(
            path,
            f"save_as '{template.source}' has {{ext}} before its end or with filters"
            f" at {dotted(path)} — expected {{ext}} only as the very end of save_as"
            f" ({_EXT_MEANING}; a field's |ext filter takes a URL's)",
        )
        return
    sample = "".join(_sample(part) for part in stem.parts)
    try:
        relative_path(sample)
    except UnsafePathError as exc:
        before = " before {ext}" if stem is not template else ""
        checker.add(
            path,
            f"save_as '{template.source}' {exc.reason}{before} at {dotted(path)}"
            " — expected a relative path inside the output folder, without '..' or empty parts",
        )
