"""``yamlcrawl init`` and ``yamlcrawl schema``: a commented starter file and the JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

# An identifier, not an address: the schema is published nowhere; `init` writes it beside the
# crawl file, and `yamlcrawl schema` prints it.
SCHEMA_ID = "urn:yamlcrawl:crawl-file"
SCHEMA_FILE = "crawler.schema.json"

STARTER = """\
# yaml-language-server: $schema=./{schema}
# (editors: the JSON Schema beside this file, which `yamlcrawl init` wrote;
#  `yamlcrawl schema > {schema}` writes it again)
# A yamlcrawl crawl: `yamlcrawl validate {name}` checks it, `yamlcrawl plan {name}` draws it,
# `yamlcrawl {name} --dry-run --limit 3` tries it without saving, `yamlcrawl {name}` runs it.
name: my-crawl

vars:                                   # constants every template can use; --set NAME=VALUE
  api: https://api.example.com          # replaces or adds one from the command line
  # token: ${{API_TOKEN}}                # from the environment (${{NAME:-fallback}} for a default)

run:
  mode: pool                            # serial (the default) | process | queue | pool |
                                        # thread | dask
  workers: 4                            # worker processes
  threads: 1                            # threads per worker process

http:
  timeout: 15                           # seconds, to connect and for each read
  retries: 3                            # after a connection error, a timeout, 408, 429 or 5xx
  user_agent: chrome                    # chrome | firefox | safari | edge | random | any text
  headers: {{}}                           # sent with every request (templates over vars)

output:
  dir: downloads                        # relative to the current folder, not to this file;
                                        # nothing is ever written outside it
  on_conflict: suffix                   # two URLs, one name: suffix " (2)" | overwrite | skip

stages:
  items:                                # a start stage: no `from`
    url: "{{api}}/items.json"
    each: "$.items[*]"                  # jsonpath: fan out, one child per match ...
    as: item                            # ... bound to this name
  details:
    from: items                         # once per `item` of the stage above
    url: "{{api}}/items/{{item.id}}.json"
    fields:
      title: "$.title"                  # one value per response (the first match)
    each: "$.images[?(@.url != '')]"    # filters: jsonpath-ng's extended syntax
    as: image
    downloads:
      - url: "{{image.url}}"              # empty or missing: skipped and counted
        save_as: "{{title}}/{{image.id}}{{image.url|ext}}"   # `/` in a value never makes a folder
"""


def starter(name: str = "crawler.yaml") -> str:
    """The commented starter crawl file, whose first line points editors at the schema file
    :func:`write_schema_beside` writes."""
    return STARTER.format(name=name, schema=SCHEMA_FILE)


def write_schema_beside(crawl_file: Path, *, force: bool) -> str:
    """Write the JSON Schema as ``crawler.schema.json`` beside ``crawl_file``, which the
    starter's first line names; an existing one is kept unless ``force``.

    Returns:
        What ``init`` says it wrote: ``crawler.yaml and crawler.schema.json (the schema, for
        editors)``, or ``crawler.yaml (crawler.schema.json was there: kept)``.

    Raises:
        OSError: the file cannot be written.
    """
    target = crawl_file.parent / SCHEMA_FILE
    if target.exists() and not force:
        return f"{crawl_file} ({target} was there: kept)"
    target.write_text(schema_text(), encoding="utf-8")
    return f"{crawl_file} and {target} (the schema, for editors)"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a crawl file, for editors (YAML language server) and linters."""
    from yamlcrawl.backends import modes
    from yamlcrawl.language.spec import CrawlSpec

    schema = CrawlSpec.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "yamlcrawl crawl file"
    schema["patternProperties"] = {"^x-": {"description": "ignored: a place for YAML anchors"}}
    run = schema["$defs"]["RunSpec"]["properties"]["mode"]
    run["enum"] = list(modes())
    for properties in [
        schema["properties"],
        *(d.get("properties", {}) for d in schema["$defs"].values()),
    ]:
        for key, value in properties.items():
            properties[key] = _or_from_environment(value)
    return schema


# A whole value from the environment, which the loader types (rate: ${RATE:-2}).
FROM_ENVIRONMENT = {
    "type": "string",
    "pattern": r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}$",
    "description": "${NAME} or ${NAME:-default}: a value from the environment",
}


def _or_from_environment(value: dict[str, Any]) -> dict[str, Any]:
    """A number's or a boolean's schema that also takes ``${NAME}``; any other as it is."""
    kinds = [kind.get("type") for kind in (value, *value.get("anyOf", [])) if "type" in kind]
    if not {"number", "integer", "boolean"} & set(kinds) or {"string", "object", "array"} & set(
        kinds
    ):
        return value  # text takes it already; a mode's or a policy's name keeps its "one of"
    kept: dict[str, Any] = {
        key: value.pop(key) for key in ("title", "description", "default") if key in value
    }
    return {**kept, "anyOf": [value, FROM_ENVIRONMENT]}


def schema_text() -> str:
    """The JSON Schema, pretty-printed."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
