"""Schema types only: what a valid crawl file is.

Every field carries a ``description`` that says what is expected; the loader quotes it in error
messages, so the schema and the messages never disagree.
"""

from __future__ import annotations

import keyword
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, create_model

from yamlcrawl.language import where
from yamlcrawl.language.pagination import STYLES
from yamlcrawl.language.where import Scalar

HttpMethod = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
TemplateMap = dict[str, str]


class _Strict(BaseModel):
    """Unknown keys are errors and YAML types are taken as they are (no "4" for 4)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)


class RunSpec(_Strict):
    """How units of work are scheduled."""

    mode: str = Field("serial", description="the name of an execution mode")
    workers: Annotated[int, Field(ge=1, le=256)] = Field(
        4, description="a whole number of worker processes from 1 to 256"
    )
    threads: Annotated[int, Field(ge=1, le=64)] = Field(
        1, description="a whole number of threads per worker process from 1 to 64"
    )
    limit: Annotated[int, Field(ge=1)] | None = Field(
        None, description="a whole number >= 1: the first N items of every fan-out"
    )
    start_method: Literal["fork", "spawn", "forkserver"] | None = Field(
        None, description="fork, spawn or forkserver (default: the platform's own)"
    )
    max_items: Annotated[int, Field(ge=1)] = Field(
        100_000,
        description="a whole number >= 1: a page whose `each` finds more items than this fails"
        " (default 100000)",
    )
    scheduler: Annotated[str, Field(pattern=r"^(tcp|tls|ws|wss)://[^\s/]+:\d+/?$")] | None = Field(
        None,
        description="a Dask scheduler's address such as tcp://10.0.0.5:8786, for mode dask"
        " (without it, dask mode starts a local cluster)",
    )


class BasicAuthSpec(_Strict):
    """A user and password: HTTP basic or Digest authentication."""

    user: str = Field(description="a user name template, e.g. '{user}'")
    password: str = Field(description="a password template, e.g. '{password}' from ${ENV}")


class AuthSpec(_Strict):
    """Credentials sent with page requests; values from ${ENV} never reach any output."""

    bearer: str | None = Field(
        None, description="a token template, sent as 'Authorization: Bearer <token>'"
    )
    basic: BasicAuthSpec | None = Field(None, description="a mapping with user and password")
    digest: BasicAuthSpec | None = Field(
        None, description="a mapping with user and password, for HTTP Digest authentication"
    )


class HttpSpec(_Strict):
    """How requests are made."""

    timeout: Annotated[float, Field(gt=0)] = Field(
        15.0, description="a number of seconds > 0 for connecting and for each read"
    )
    retries: Annotated[int, Field(ge=0, le=20)] = Field(
        3, description="a whole number of extra attempts from 0 to 20"
    )
    backoff: Annotated[float, Field(ge=0)] = Field(
        0.5, description="a number of seconds >= 0 before the first retry"
    )
    user_agent: str = Field(
        "chrome",
        description="chrome, firefox, safari, edge, random, or a literal User-Agent string",
    )
    headers: TemplateMap = Field(
        default_factory=dict, description="a mapping of header names to templates"
    )
    cookies: TemplateMap = Field(
        default_factory=dict, description="a mapping of cookie names to templates"
    )
    cookies_file: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="the path of a Netscape cookies.txt file: cookies the crawl starts with",
    )
    auth: AuthSpec | None = Field(None, description="a mapping with bearer, basic or digest")
    proxies: dict[str, str] = Field(
        default_factory=dict, description="a mapping of URL schemes (http, https) to proxy URLs"
    )
    verify: bool | Annotated[str, Field(min_length=1)] = Field(
        True,
        description="true or false: verify TLS certificates; or the path of a CA bundle (PEM)"
        " to verify them against",
    )
    cert: str | Annotated[list[str], Field(min_length=2, max_length=2)] | None = Field(
        None,
        description="the path of a client certificate (PEM, with its key), or [certificate, key]",
    )
    retry_on: list[Annotated[int, Field(ge=100, le=599)]] = Field(
        default_factory=lambda: [408, 429, 500, 502, 503, 504],
        description="a list of HTTP statuses to retry, e.g. [429, 503]",
    )
    max_redirects: Annotated[int, Field(ge=0, le=100)] = Field(
        10, description="a whole number of redirects to follow, from 0 to 100"
    )
    max_bytes: Annotated[int, Field(ge=1)] | None = Field(
        4 * 1024**3,  # types.DEFAULT_MAX_BYTES
        description="a whole number of bytes >= 1: the largest file a download may bring"
        " (default 4 GiB), or null for no limit",
    )
    max_page_bytes: Annotated[int, Field(ge=1)] = Field(
        50_000_000, description="a whole number of bytes: the largest page (JSON) accepted"
    )
    rate: Annotated[float, Field(gt=0)] | None = Field(
        None, description="a number > 0: requests per second, across all workers of the run"
    )
    per_host: Annotated[int, Field(ge=1)] | None = Field(
        None, description="a whole number >= 1: requests at once to one host, across all workers"
    )
    deadline: Annotated[float, Field(gt=0)] | None = Field(
        None,
        description="a number of seconds > 0: the most one attempt of a request may take in all,"
        " body included (default: 20 x timeout)",
    )
    resume_above: Annotated[int, Field(ge=0)] | None = Field(
        1024 * 1024,  # types.RESUME_ABOVE
        description="a whole number of bytes >= 0: a file larger than this (by its"
        " Content-Length) that is cut off is continued with a Range request, not fetched again"
        " (default 1 MiB), or null for never",
    )


class OutputSpec(_Strict):
    """Where and how files are written."""

    dir: str = Field(
        "downloads",
        description="a folder path for everything the crawl saves, or an object store's URL"
        " such as s3://bucket/prefix for its files",
    )
    on_conflict: Literal["suffix", "overwrite", "skip"] = Field(
        "suffix", description="suffix, overwrite or skip"
    )
    manifest: str | Literal[False] = Field(
        "manifest.jsonl", description="a file name inside the output folder, or false"
    )
    replace: Literal["fullwidth", "underscore"] = Field(
        "fullwidth", description="fullwidth or underscore"
    )
    allow_secrets_in_names: bool = Field(
        False,
        description="true lets save_as use vars taken from the environment (${ENV}): the names"
        " on disk carry their values as they are",
    )
    archive: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="the path of an SQLite file, relative to the current folder, that crawls"
        " share: a file it records as downloaded is not fetched again",
    )
    # 256 MB: thousands of large pages, compressed; small beside the files a crawl saves
    page_cache: Annotated[float, Field(ge=0)] = Field(
        256,
        description="a number of megabytes >= 0: page bodies kept (compressed) for conditional"
        " requests on the next run; 0 keeps none",
    )


class DownloadSpec(_Strict):
    """One file to save per item of the stage."""

    url: str = Field(description="a URL template, e.g. '{skin.mainImg}'")
    save_as: str = Field(
        description="a path template inside the output folder, e.g. '{hero_name}/{skin.name}.jpg'"
        " or '{skin.id}{ext}' ({ext}: from the response's Content-Type)"
    )
    headers: TemplateMap = Field(
        default_factory=dict, description="a mapping of header names to templates"
    )
    required: bool = Field(
        False,
        description="true or false: true fails the run when an item's url or save_as names a"
        " key the item does not have",
    )
    archive_key: Annotated[str, Field(min_length=1)] | None = Field(
        None,
        description="a template that tells the file apart in output.archive, e.g."
        " '{hero.heroId}-{skin.skinId}' (default: its URL)",
    )
    name: Annotated[str, Field(min_length=1, pattern=r"\S")] | None = Field(
        None,
        description="non-blank text that names the rule's bar in the live display and in"
        " 'yamlcrawl plan', e.g. 'covers' (default: read from save_as, as '电脑版' from"
        " '{skin.name}电脑版.jpg')",
    )


class EmitSpec(_Strict):
    """Records: one row per fan-out item, written to a JSON Lines, CSV or Parquet file."""

    to: str = Field(
        description="a file path inside the output folder ending in .jsonl, .csv or .parquet"
    )
    fields: dict[str, str] = Field(
        min_length=1, description="a mapping of column names to templates (at least one)"
    )
    mode: Literal["replace", "append"] = Field(
        "replace",
        description="replace (the file written whole each run) or append (only rows new to it"
        " added)",
    )
    key: str | None = Field(
        None,
        description="a template over the emit's columns that tells rows apart, e.g. '{id}'"
        " (with mode: append)",
    )
    meta: bool = Field(
        False,
        description="true or false: true adds the columns _run_id, _fetched_at and _source_url",
    )


class IncrementalSpec(_Strict):
    """Only the items newer than what earlier runs into the same output folder saw."""

    cursor: str = Field(
        description="a jsonpath into each item of `each` ($ is the item) to a value that grows"
        " as items are added or changed, e.g. '$.updated_at' or '$.id'"
    )
    stop: Literal["seen", "never"] = Field(
        "never",
        description="seen or never (default): seen ends a paginated stage's pages at the first"
        " page with no item newer than the cursor",
    )


if TYPE_CHECKING:
    PageStyle = str
else:
    PageStyle = Literal[tuple(STYLES)]  # the names of pagination.STYLES
_STYLE_NAMES = f"{', '.join([*STYLES][:-1])} or {[*STYLES][-1]}"  # page, offset, ... or link


class PaginateSpec(_Strict):
    """How one response of a stage leads to its next page, and when that ends."""

    by: PageStyle = Field(description=f"{_STYLE_NAMES}: how the next page is asked for")
    param: str | None = Field(
        None, description="the query parameter carrying the page number, offset or cursor"
    )
    start: Annotated[int, Field(ge=0)] | None = Field(
        None, description="the first page number or offset (default: 1 for page, 0 for offset)"
    )
    size: Annotated[int, Field(ge=1)] | None = Field(
        None, description="a whole number >= 1: items per page (the step of an offset)"
    )
    size_param: str | None = Field(
        None, description="the query parameter carrying the page size (sent with every page)"
    )
    from_: str | None = Field(
        None,
        alias="from",
        description="a jsonpath to the next cursor (by: cursor) or next page's URL (by: next)",
    )
    has_more: str | None = Field(
        None, description="a jsonpath to a flag: false or missing ends the pagination"
    )
    total: str | None = Field(
        None, description="a jsonpath to the total number of items: reaching it ends it"
    )
    max_pages: Annotated[int, Field(ge=1)] = Field(
        1000, description="a whole number >= 1: pages fetched at most, per paginated request"
    )


class _Rule(_Strict):
    """A test of a value in `where` (exactly one key): a field per operator of where.RULES."""

    def tests(self) -> list[tuple[where.Operator, Any]]:
        """The operators the rule names, each with its operand (one, when the rule is valid)."""
        return [
            (op, value)
            for op in where.RULES.values()
            if (value := getattr(self, _attribute(op.key))) is not None
        ]


def _attribute(key: str) -> str:
    """The model attribute of a YAML key: ``not`` and ``in`` are Python keywords."""
    return f"{key}_" if keyword.iskeyword(key) else key


def _rule_fields() -> dict[str, Any]:
    """RuleSpec's fields: one per operator, its key the YAML key, its type the operand's."""
    return {
        _attribute(op.key): (
            op.operand | None,
            Field(None, alias=op.key, description=op.description),
        )
        for op in where.RULES.values()
    }


if TYPE_CHECKING:
    RuleSpec = _Rule
else:
    RuleSpec = create_model("RuleSpec", __base__=_Rule, __module__=__name__, **_rule_fields())
    RuleSpec.__doc__ = "A test of a value in `where` (exactly one key)."


def _rule_or_value(value: Any) -> str:
    """A mapping is a rule, anything else a value to equal: a rule's errors then name its key."""
    return "rule" if isinstance(value, dict) else "value"


Rule = Annotated[
    Annotated[Scalar, Field(union_mode="left_to_right"), Tag("value")]
    | Annotated[RuleSpec, Tag("rule")],
    Discriminator(_rule_or_value),
]


class FieldSpec(_Strict):
    """A stage field in its long form: the jsonpath, and whether every page must match it."""

    path: str = Field(description="a jsonpath into the stage's response, e.g. '$.hero.name'")
    required: bool = Field(
        False, description="true or false: true fails the run when a page's response lacks it"
    )


def _path_or_long_form(value: Any) -> str:
    """A mapping is the long form of a field, anything else its jsonpath."""
    return "long" if isinstance(value, dict) else "path"


StageField = Annotated[
    Annotated[str, Tag("path")] | Annotated[FieldSpec, Tag("long")],
    Discriminator(_path_or_long_form),
]


class StageSpec(_Strict):
    """One request per parent item, and what to take from its response."""

    parent: str | None = Field(None, alias="from", description="the name of the parent stage")
    url: str = Field(description="a URL template, e.g. '{img}/js/hero/{hero.heroId}.js'")
    method: HttpMethod = Field("GET", description="GET, POST, PUT, PATCH, DELETE or HEAD")
    params: TemplateMap = Field(
        default_factory=dict, description="a mapping of query parameter names to templates"
    )
    headers: TemplateMap = Field(
        default_factory=dict, description="a mapping of header names to templates"
    )
    cookies: TemplateMap = Field(
        default_factory=dict, description="a mapping of cookie names to templates"
    )
    auth: AuthSpec | None = Field(
        None, description="a mapping with bearer, basic or digest (replaces http.auth)"
    )
    json_: Any = Field(
        None,
        alias="json",
        description="a JSON body: any value whose strings are templates ('{x}' keeps x's type)",
    )
    form: TemplateMap = Field(
        default_factory=dict, description="a form body: a mapping of field names to templates"
    )
    format: Literal["json", "jsonp"] = Field("json", description="json or jsonp")
    fields: dict[str, StageField] = Field(
        default_factory=dict,
        description="a mapping of names to jsonpaths, e.g. '$.hero.name', or to"
        " {path: JSONPATH, required: true}",
    )
    each: str | None = Field(None, description="a jsonpath that selects the items to fan out over")
    as_: str | None = Field(
        None, alias="as", description="a name (letters, digits, _) for each item of `each`"
    )
    key: str | None = Field(
        None,
        description="a name (letters, digits, _) for each item's key: its member name in an"
        " object (`each: $.sprites.*`), its index in a list",
    )
    where: dict[str, Rule] = Field(
        default_factory=dict,
        description="a mapping of templates to what their text must be (all must hold)",
    )
    downloads: list[DownloadSpec] = Field(
        default_factory=list, description="a list of {url, save_as} entries"
    )
    paginate: PaginateSpec | None = Field(
        None, description="a mapping with by, param, from, has_more, total, max_pages, ..."
    )
    emit: EmitSpec | None = Field(
        None, description="a mapping with to and fields (and mode, key, meta)"
    )
    incremental: IncrementalSpec | None = Field(
        None,
        description="a mapping with cursor (a jsonpath into each item) and stop (seen or never)",
    )

    def field_paths(self) -> dict[str, str]:
        """Each field's jsonpath, whichever form it is written in."""
        return {
            name: value if isinstance(value, str) else value.path
            for name, value in self.fields.items()
        }


class CrawlSpec(_Strict):
    """A whole crawl file."""

    name: str = Field("crawl", description="a short name for the crawl")
    vars: dict[str, Scalar] = Field(
        default_factory=dict, description="a mapping of names to strings, numbers or booleans"
    )
    run: RunSpec = Field(
        default_factory=lambda: RunSpec(),
        description="a mapping with mode, workers, threads, limit, start_method, scheduler,"
        " max_items",
    )
    http: HttpSpec = Field(
        default_factory=lambda: HttpSpec(),
        description="a mapping with timeout, retries, backoff, user_agent, headers, rate, ...",
    )
    output: OutputSpec = Field(
        default_factory=lambda: OutputSpec(),
        description="a mapping with dir, on_conflict, manifest, replace, archive",
    )
    stages: dict[str, StageSpec] = Field(
        min_length=1, description="a mapping of stage names to stages (at least one)"
    )
