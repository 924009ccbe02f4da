"""The loader: valid configs load; each invalid one gives exactly the message pinned here."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from yamlcrawl.backends import modes
from yamlcrawl.language.loader import ConfigError, load_spec, load_text

ROOT = Path(__file__).resolve().parents[1]
MODES = modes()


def problems_of(text: str, **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_text(dedent(text), "crawler.yaml", modes=MODES, environ={}, **kwargs)  # type: ignore[arg-type]
    return str(caught.value).splitlines()


ITEMS = "stages:\n  a:\n    url: x\n    each: $.items[*]\n    as: item\n"  # a stage to add to

VALID = {
    "every style of pagination": """
        stages:
          numbered:
            url: http://h/books
            paginate: {by: page, param: page, start: 0, size: 20, size_param: per_page}
            each: $.items[*]
            as: book
          offsets:
            url: http://h/books
            paginate: {by: offset, param: offset, size: 50, total: $.total, max_pages: 10}
          cursors:
            url: http://h/books
            paginate: {by: cursor, param: after, from: $.next_cursor, has_more: $.more}
          links:
            url: http://h/books
            paginate: {by: next, from: $.links.next}
          headers:
            url: http://h/books
            paginate: {by: link}
    """,
    "an incremental stage, paginated and not": """
        stages:
          posts:
            url: http://h/posts
            paginate: {by: page, param: page}
            each: $.posts[*]
            as: post
            incremental: {cursor: $.updated_at, stop: seen}
          comments:
            from: posts
            url: http://h/posts/{post.id}/comments
            each: $.comments[*]
            as: comment
            incremental: {cursor: $, stop: never}
    """,
    "minimal": """
        stages:
          only: {url: "http://127.0.0.1/x.json"}
    """,
    "env with fallback and a literal dollar": """
        vars:
          token: ${NO_SUCH_TOKEN:-anonymous}
          price: $$5
        stages:
          a: {url: "http://h/{token}/{price}"}
    """,
    "a field in its long form, required fields and downloads": """
        stages:
          a:
            url: http://h/list
            fields:
              total: $.total
              title: {path: $.title, required: true}
              note: {path: $.note}
            each: $.items[*]
            as: item
            downloads:
              - {url: "{item.u}", save_as: "{title}/{item.n}.bin", required: true}
              - {url: "{item.v}", save_as: "{item.n}.v", required: false}
    """,
    "x- keys hold anchors for merge keys": """
        x-download: &dl {url: "{item.u}", save_as: "{item.n}.bin"}
        stages:
          a:
            url: http://h/list
            each: $.items[*]
            as: item
            downloads: [*dl]
    """,
    "filters, jsonpath filters, jsonp, several start stages": """
        vars: {api: "http://h"}
        stages:
          albums:
            url: "{api}/albums.jsonp"
            format: jsonp
            each: '$.albums[?(@.public == true)]'
            as: album
          photos:
            from: albums
            url: "{api}/albums/{album.slug|quote}.jsonp"
            format: jsonp
            fields: {title: $.album.title}
            each: $.photos[*]
            as: photo
            downloads:
              - url: "{photo.file}"
                save_as: "{title}/{photo.id}{photo.file|ext}"
          avatars:
            url: "{api}/avatars.json"
            each: $.users[*]
            as: user
            downloads:
              - {url: "{user.avatar}", save_as: "avatars/{user.path|path}"}
              - {url: "{user.avatar}", save_as: "by-type/{user.id|hash}{ext}"}
    """,
    "an object's entries: key binds each member's name for save_as, where, emit and children": """
        stages:
          pokemon:
            url: http://h/pokemon/1
            fields: {name: $.name}
            each: $.sprites.*
            as: sprite
            key: slot
            where: {"{slot}": {not: other}}
            emit: {to: sprites.jsonl, fields: {slot: "{slot}"}}
            downloads:
              - {url: "{sprite}", save_as: "{name}/{slot}.png"}
          detail:
            from: pokemon
            url: "{sprite}?slot={slot}"
    """,
    # Issue 17, the archive: a path (relative to the current folder), a key per download rule.
    "an archive shared by crawls, a download told apart in it by a key": """
        output: {archive: ../shared/skins.sqlite}
        stages:
          a:
            url: http://h/list
            each: $.items[*]
            as: item
            downloads:
              - {url: "{item.u}", save_as: "{item.n}{ext}", archive_key: "skin-{item.id}"}
              - {url: "{item.v}", save_as: "{item.n}.v"}
    """,
    "download rules named: any non-blank text, controls and markup too (shown escaped)": """
        stages:
          a:
            url: http://h/list
            each: $.items[*]
            as: item
            downloads:
              - {url: "{item.u}", save_as: "{item.n}.jpg", name: 封面 covers}
              - {url: "{item.v}", save_as: "{item.n}.v", name: "[red]x\\x1b[2J"}
    """,
}


@pytest.mark.parametrize("text", VALID.values(), ids=list(VALID))
def test_valid_configs_load(text: str) -> None:
    load_text(dedent(text), modes=MODES, environ={})


def test_the_top_level_crawler_yaml_is_valid() -> None:
    loaded = load_spec(ROOT / "crawler.yaml", modes=MODES)
    assert list(loaded.spec.stages) == ["heroes", "skins"]


def test_set_binds_a_new_name_and_replaces_a_var() -> None:
    text = 'vars: {img: "http://real"}\nstages:\n  a: {url: "{img}/{extra}"}\n'
    loaded = load_text(text, overrides={"img": "http://mirror", "extra": "x"}, modes=MODES)
    assert loaded.spec.vars == {"img": "http://mirror", "extra": "x"}


def test_env_vars_are_interpolated() -> None:
    text = 'vars: {token: "Bearer ${TOKEN}"}\nstages:\n  a: {url: "http://h"}\n'
    loaded = load_text(text, modes=MODES, environ={"TOKEN": "s3cret"})
    assert loaded.spec.vars["token"] == "Bearer s3cret"


INVALID: dict[str, tuple[str, list[str]]] = {
    "YAML syntax: an unclosed quote": (
        """
        stages:
          heroes:
            url: "{img}
            each: x
        """,
        [
            "crawler.yaml:6:1: invalid YAML: while scanning a quoted scalar (begun at line 4,"
            " column 10) found unexpected end of stream — expected valid YAML"
            " (check quotes, indentation, colons)"
        ],
    ),
    "YAML syntax: a tab": (
        "stages:\n\theroes: {url: a}\n",
        [
            "crawler.yaml:2:1: invalid YAML: while scanning for the next token found character"
            " '\\t' that cannot start any token — expected valid YAML"
            " (check quotes, indentation, colons)"
        ],
    ),
    # Issue 16: Digest authentication, a CA bundle path, a client certificate.
    "two kinds of credentials": (
        """
        http:
          auth: {bearer: t, digest: {user: u, password: p}}
        stages:
          a: {url: "http://h/x"}
        """,
        [
            "crawler.yaml:3:9: both 'bearer' and 'digest' at http.auth — expected exactly one"
            " of 'bearer: TOKEN', 'basic: {user: ..., password: ...}'"
            " or 'digest: {user: ..., password: ...}'"
        ],
    ),
    "a stage's auth with no credentials": (
        """
        stages:
          a:
            url: "http://h/x"
            auth: {}
        """,
        [
            "crawler.yaml:5:11: no credentials at stages.a.auth — expected exactly one"
            " of 'bearer: TOKEN', 'basic: {user: ..., password: ...}'"
            " or 'digest: {user: ..., password: ...}'"
        ],
    ),
    "digest without a password, and a user naming nothing": (
        """
        http:
          auth: {digest: {user: u}}
        stages:
          a:
            url: "http://h/x"
            auth: {digest: {user: "{nobody}", password: p}}
        """,
        [
            "crawler.yaml:3:18: missing key 'password' at http.auth.digest"
            " — expected a password template, e.g. '{password}' from ${ENV}",
        ],
    ),
    "verify neither a boolean nor a path": (
        """
        http:
          verify: 5
        stages:
          a: {url: "http://h/x"}
        """,
        [
            "crawler.yaml:3:11: got the number 5 at http.verify — expected true or false:"
            " verify TLS certificates; or the path of a CA bundle (PEM) to verify them against"
        ],
    ),
    "a CA bundle and a client certificate that are not there": (
        """
        http:
          verify: no-such-ca.pem
          cert: [no-such-cert.pem, no-such-key.pem]
        stages:
          a: {url: "http://h/x"}
        """,
        [
            "crawler.yaml:3:11: no file 'no-such-ca.pem' at http.verify"
            " — expected a CA bundle file (PEM)",
            "crawler.yaml:4:10: no file 'no-such-cert.pem' at http.cert[0]"
            " — expected a client certificate file (PEM)",
            "crawler.yaml:4:28: no file 'no-such-key.pem' at http.cert[1]"
            " — expected its key file (PEM)",
        ],
    ),
    "a cookies file that is not there": (
        """
        http:
          cookies_file: no-such-cookies.txt
        stages:
          a: {url: "http://h/x"}
        """,
        [
            "crawler.yaml:3:17: cannot read 'no-such-cookies.txt' at http.cookies_file"
            " (No such file or directory) — expected a Netscape cookies.txt file"
        ],
    ),
    "a client certificate as a list of one": (
        """
        http:
          cert: [only-one.pem]
        stages:
          a: {url: "http://h/x"}
        """,
        [
            "crawler.yaml:3:9: got a list at http.cert — expected the path of a client"
            " certificate (PEM, with its key), or [certificate, key]"
        ],
    ),
    "a duplicate key": (
        """
        stages:
          a:
            url: x
            url: y
        """,
        ["crawler.yaml:5:5: invalid YAML: duplicate key 'url' — expected each key once"],
    ),
    "a python tag": (
        "stages: !!python/object:os.system {}\n",
        [
            "crawler.yaml:1:9: invalid YAML: the tag 'tag:yaml.org,2002:python/object:os.system'"
            " is not allowed here — expected plain YAML, no tags"
        ],
    ),
    "an empty file": (
        "",
        [
            "crawler.yaml:1:1: got an empty file at the top level"
            " — expected a mapping with at least 'stages'"
        ],
    ),
    "no stages": (
        "name: x\n",
        [
            "crawler.yaml:1:1: missing key 'stages' at the top level"
            " — expected a mapping of stage names to stages (at least one)"
        ],
    ),
    "stages as a list": (
        "stages:\n  - url: x\n",
        [
            "crawler.yaml:2:3: got a list at stages"
            " — expected a mapping of stage names to stages (at least one)"
        ],
    ),
    "an unknown key, with a suggestion": (
        """
        stages:
          heroes:
            url: x
            eacg: $.hero[*]
        """,
        [
            "crawler.yaml:5:5: unknown key 'eacg' at stages.heroes — expected one of: as,"
            " auth, cookies, downloads, each, emit, fields, form, format, from, headers,"
            " incremental, json, key, method, paginate, params, url, where;"
            " did you mean 'each'?"
        ],
    ),
    "a misspelt top-level key (no extra 'missing stages')": (
        "stagse:\n  a: {url: x}\n",
        [
            "crawler.yaml:1:1: unknown key 'stagse' at the top level — expected one of: http,"
            " name, output, run, stages, vars; did you mean 'stages'?"
        ],
    ),
    "text for a number": (
        "run:\n  workers: many\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:12: got the text 'many' at run.workers"
            " — expected a whole number of worker processes from 1 to 256"
        ],
    ),
    "a boolean for a number": (
        "run:\n  workers: true\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:12: got the boolean true at run.workers"
            " — expected a whole number of worker processes from 1 to 256"
        ],
    ),
    "a negative timeout": (
        "http:\n  timeout: -1\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:12: got the number -1 at http.timeout"
            " — expected a number of seconds > 0 for connecting and for each read"
        ],
    ),
    "a conflict policy that does not exist": (
        "output:\n  on_conflict: rename\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:16: got the text 'rename' at output.on_conflict"
            " — expected suffix, overwrite or skip"
        ],
    ),
    "a page cache of negative size": (
        "output:\n  page_cache: -1\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:15: got the number -1 at output.page_cache"
            " — expected a number of megabytes >= 0: page bodies kept (compressed) for"
            " conditional requests on the next run; 0 keeps none"
        ],
    ),
    "a page cache size in words": (
        "output:\n  page_cache: lots\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:15: got the text 'lots' at output.page_cache"
            " — expected a number of megabytes >= 0: page bodies kept (compressed) for"
            " conditional requests on the next run; 0 keeps none"
        ],
    ),
    "a list as a var": (
        "vars:\n  img: [a, b]\nstages:\n  a: {url: x}\n",
        ["crawler.yaml:2:8: got a list at vars.img — expected a string, number or boolean"],
    ),
    "a missing url": (
        "stages:\n  a:\n    each: $.x[*]\n    as: x\n",
        [
            "crawler.yaml:3:5: missing key 'url' at stages.a"
            " — expected a URL template, e.g. '{img}/js/hero/{hero.heroId}.js'"
        ],
    ),
    "a download without save_as": (
        "stages:\n  a:\n    url: x\n    downloads:\n      - url: x\n",
        [
            "crawler.yaml:5:9: missing key 'save_as' at stages.a.downloads[0]"
            " — expected a path template inside the output folder,"
            " e.g. '{hero_name}/{skin.name}.jpg' or '{skin.id}{ext}' ({ext}: from the response's"
            " Content-Type)"
        ],
    ),
    "a jsonpath that does not parse": (
        "stages:\n  heroes:\n    url: x\n    each: $.hero[\n    as: hero\n",
        [
            "crawler.yaml:4:11: jsonpath '$.hero[' does not parse (Parse error near the end of"
            " string!) at stages.heroes.each — expected a jsonpath such as $.items[*]"
            ' or $.items[?(@.kind == "a")]'
        ],
    ),
    "a template naming an unbound variable": (
        'vars:\n  img: http://x\nstages:\n  heroes:\n    url: "{imgg}/hero_list.js"\n',
        [
            "crawler.yaml:5:10: template names 'imgg', which nothing binds, at stages.heroes.url"
            " — expected one of: img (bound by vars, --set, or an ancestor's as/fields);"
            " did you mean 'img'?"
        ],
    ),
    "a child using a name only its own response binds": (
        """
        vars: {img: "http://x"}
        stages:
          heroes:
            url: "{img}/list"
            each: $.hero[*]
            as: hero
          skins:
            from: heroes
            url: "{img}/{skin.id}"
            each: $.skins[*]
            as: skin
        """,
        [
            "crawler.yaml:10:10: template names 'skin', which nothing binds, at stages.skins.url"
            " — expected one of: hero, img (bound by vars, --set, or an ancestor's as/fields)"
        ],
    ),
    "from naming a missing stage": (
        "stages:\n  heroes:\n    url: x\n  skins:\n    from: heros\n    url: y\n",
        [
            "crawler.yaml:5:11: stage 'heros' does not exist at stages.skins.from"
            " — expected one of: heroes; did you mean 'heroes'?"
        ],
    ),
    "a cycle": (
        """
        stages:
          start: {url: s}
          a: {from: b, url: x}
          b: {from: a, url: y}
        """,
        [
            "crawler.yaml:4:13: stages form a cycle (a -> b -> a) at stages.a.from"
            " — expected every chain of 'from' to end at a start stage (one without 'from')"
        ],
    ),
    "a mode that does not exist": (
        "run:\n  mode: pol\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:9: unknown mode 'pol' at run.mode"
            " — expected one of: serial, process, queue, pool, thread, dask; did you mean 'pool'?"
        ],
    ),
    "an unset environment variable": (
        "vars:\n  token: ${NO_SUCH_TOKEN}\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:10: environment variable 'NO_SUCH_TOKEN' is not set at vars.token"
            " — expected it in the environment, or a fallback: ${NO_SUCH_TOKEN:-value}"
        ],
    ),
    "each without as": (
        "stages:\n  a:\n    url: x\n    each: $.x[*]\n",
        [
            "crawler.yaml:4:11: 'each' without 'as' at stages.a"
            " — expected 'as: NAME' beside it, the name each item is bound to"
        ],
    ),
    "save_as climbing out": (
        """
        stages:
          a:
            url: x
            fields: {n: $.n}
            downloads:
              - url: "{n}"
                save_as: "../{n}.jpg"
        """,
        [
            "crawler.yaml:8:18: save_as '../{n}.jpg' has a '..' segment at"
            " stages.a.downloads[0].save_as — expected a relative path inside the output"
            " folder, without '..' or empty parts"
        ],
    ),
    "save_as absolute": (
        """
        stages:
          a:
            url: x
            fields: {n: $.n}
            downloads:
              - {url: "{n}", save_as: "/tmp/{n}.jpg"}
        """,
        [
            "crawler.yaml:7:31: save_as '/tmp/{n}.jpg' starts with '/' (an absolute path or an"
            " empty folder) at stages.a.downloads[0].save_as — expected a relative path inside"
            " the output folder, without '..' or empty parts"
        ],
    ),
    "{ext} before the end of save_as": (
        """
        stages:
          a:
            url: x
            fields: {n: $.n}
            downloads:
              - {url: "{n}", save_as: "{ext}/{n}"}
        """,
        [
            "crawler.yaml:7:31: save_as '{ext}/{n}' has {ext} before its end or with filters at"
            " stages.a.downloads[0].save_as — expected {ext} only as the very end of save_as"
            " (in save_as, {ext} is the extension the response's Content-Type names; a field's"
            " |ext filter takes a URL's)"
        ],
    ),
    "{ext} with a filter": (
        """
        stages:
          a:
            url: x
            fields: {n: $.n}
            downloads:
              - {url: "{n}", save_as: "{n}{ext|upper}"}
        """,
        [
            "crawler.yaml:7:31: save_as '{n}{ext|upper}' has {ext} before its end or with"
            " filters at stages.a.downloads[0].save_as — expected {ext} only as the very end of"
            " save_as (in save_as, {ext} is the extension the response's Content-Type names;"
            " a field's |ext filter takes a URL's)"
        ],
    ),
    "{ext} with no file name before it": (
        """
        stages:
          a:
            url: x
            fields: {n: $.n}
            downloads:
              - {url: "{n}", save_as: "{n}/{ext}"}
        """,
        [
            "crawler.yaml:7:31: save_as '{n}/{ext}' has an empty folder or file name before"
            " {ext} at stages.a.downloads[0].save_as — expected a relative path inside the"
            " output folder, without '..' or empty parts"
        ],
    ),
    "{ext} outside save_as": (
        """
        stages:
          a:
            url: x
            fields: {n: $.n}
            downloads:
              - {url: "{n}{ext}", save_as: "{n}{ext}"}
        """,
        [
            "crawler.yaml:7:15: template names 'ext', which nothing binds, at"
            " stages.a.downloads[0].url — expected one of: n (bound by vars, --set, or an"
            " ancestor's as/fields); {ext} exists only at the end of save_as"
        ],
    ),
    "ext bound by vars or fields": (
        """
        vars: {ext: ".png"}
        stages:
          a:
            url: x
            fields: {ext: $.n}
        """,
        [
            "crawler.yaml:2:8: 'ext' is reserved at vars.ext (in save_as, {ext} is the"
            " extension the response's Content-Type names) — expected another name",
            "crawler.yaml:6:14: 'ext' is reserved at stages.a.fields.ext (in save_as, {ext} is"
            " the extension the response's Content-Type names) — expected another name",
        ],
    ),
    "a scheduler that is not a Dask address": (
        "run: {mode: dask, scheduler: 'http://10.0.0.5:8786'}\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:1:30: got the text 'http://10.0.0.5:8786' at run.scheduler — expected"
            " a Dask scheduler's address such as tcp://10.0.0.5:8786, for mode dask (without it,"
            " dask mode starts a local cluster)"
        ],
    ),
    "a binding that shadows a var": (
        "vars: {hero: x}\nstages:\n  a:\n    url: x\n    each: $.h[*]\n    as: hero\n",
        ["crawler.yaml:6:9: 'hero' is already bound by vars at stages.a.as — expected a new name"],
    ),
    "page numbers without the parameter": (
        "stages:\n  a:\n    url: x\n    paginate: {by: page}\n",
        [
            "crawler.yaml:4:20: 'by: page' without 'param' at stages.a.paginate — expected"
            " 'param: NAME', the query parameter that carries it",
        ],
    ),
    "offsets without a size, a cursor without where it comes from": (
        "stages:\n  a:\n    url: x\n    paginate: {by: offset, param: o}\n"
        "  b:\n    url: x\n    paginate: {by: cursor, param: c}\n",
        [
            "crawler.yaml:4:20: 'by: offset' without 'size' at stages.a.paginate — expected"
            " 'size: N', the number of items per page",
            "crawler.yaml:7:20: 'by: cursor' without 'from' at stages.b.paginate — expected"
            " 'from: JSONPATH', where the response gives it",
        ],
    ),
    "a key the style does not use": (
        "stages:\n  a:\n    url: x\n    paginate: {by: next, from: $.next, param: p, start: 2}\n",
        [
            "crawler.yaml:4:47: 'param' does nothing with 'by: next' at stages.a.paginate —"
            " expected only from, size beside it",
            "crawler.yaml:4:57: 'start' does nothing with 'by: next' at stages.a.paginate —"
            " expected only from, size beside it",
        ],
    ),
    "an unknown style": (
        "stages:\n  a:\n    url: x\n    paginate: {by: pages, param: p}\n",
        [
            "crawler.yaml:4:20: got the text 'pages' at stages.a.paginate.by — expected page,"
            " offset, cursor, next or link: how the next page is asked for",
        ],
    ),
    "a page size sent without a size": (
        "stages:\n  b:\n    url: x\n    paginate: {by: page, param: p, size_param: n}\n",
        [
            "crawler.yaml:4:48: 'size_param' without 'size' at stages.b.paginate — expected"
            " 'size: N' to send",
        ],
    ),
    "an unknown pagination key": (
        "stages:\n  b:\n    url: x\n    paginate: {by: page, parma: p}\n",
        [
            "crawler.yaml:4:26: unknown key 'parma' at stages.b.paginate — expected one of: by,"
            " from, has_more, max_pages, param, size, size_param, start, total; did you mean"
            " 'param'?",
        ],
    ),
    "max_pages of 0": (
        "stages:\n  a:\n    url: x\n    paginate: {by: link, max_pages: 0}\n",
        [
            "crawler.yaml:4:37: got the number 0 at stages.a.paginate.max_pages — expected a"
            " whole number >= 1: pages fetched at most, per paginated request",
        ],
    ),
    "a broken jsonpath in has_more": (
        "stages:\n  a:\n    url: x\n    paginate: {by: link, has_more: '$.['}\n",
        [
            "crawler.yaml:4:36: jsonpath '$.[' does not parse (Parse error near the end of"
            " string!) at stages.a.paginate.has_more — expected a jsonpath such as $.items[*]"
            ' or $.items[?(@.kind == "a")]',
        ],
    ),
    # incremental: a cursor into each item, and when a pagination stops
    "incremental without each": (
        "stages:\n  a:\n    url: x\n    incremental: {cursor: $.id}\n",
        [
            "crawler.yaml:4:18: 'incremental' without 'each' at stages.a — expected"
            " 'each: JSONPATH' beside it, the items whose cursor is compared",
        ],
    ),
    "stop: seen without a pagination": (
        f"{ITEMS}    incremental: {{cursor: $.id, stop: seen}}\n",
        [
            "crawler.yaml:6:39: 'stop: seen' without 'paginate' at stages.a.incremental"
            " — expected 'paginate' beside it (seen ends a pagination early), or no stop",
        ],
    ),
    "a cursor that does not parse": (
        f"{ITEMS}    incremental: {{cursor: '$.['}}\n",
        [
            "crawler.yaml:6:27: jsonpath '$.[' does not parse (Parse error near the end of"
            " string!) at stages.a.incremental.cursor — expected a jsonpath such as $.items[*]"
            ' or $.items[?(@.kind == "a")]',
        ],
    ),
    "a cursor written as a template of the item": (
        f"{ITEMS}    incremental: {{cursor: '{{item.meta.updated}}'}}\n",
        [
            "crawler.yaml:6:27: '{item.meta.updated}' is a template at"
            " stages.a.incremental.cursor, but the cursor is a jsonpath into each item"
            " — expected '$.meta.updated' ($ is the item)",
        ],
    ),
    "a cursor written as a template of another name": (
        f"{ITEMS}    incremental: {{cursor: '{{updated}}'}}\n",
        [
            "crawler.yaml:6:27: '{updated}' is a template at stages.a.incremental.cursor, but"
            " the cursor is a jsonpath into each item — expected a jsonpath such as"
            " '$.updated_at' ($ is the item)",
        ],
    ),
    "a cursor that is not text": (
        f"{ITEMS}    incremental: {{cursor: 5}}\n",
        [
            "crawler.yaml:6:27: got the number 5 at stages.a.incremental.cursor — expected a"
            " jsonpath into each item of `each` ($ is the item) to a value that grows as items"
            " are added or changed, e.g. '$.updated_at' or '$.id'",
        ],
    ),
    "no cursor": (
        f"{ITEMS}    incremental: {{stop: never}}\n",
        [
            "crawler.yaml:6:18: missing key 'cursor' at stages.a.incremental — expected a"
            " jsonpath into each item of `each` ($ is the item) to a value that grows as items"
            " are added or changed, e.g. '$.updated_at' or '$.id'",
        ],
    ),
    "an unknown stop": (
        f"{ITEMS}    paginate: {{by: link}}\n    incremental: {{cursor: $.id, stop: always}}\n",
        [
            "crawler.yaml:7:39: got the text 'always' at stages.a.incremental.stop — expected"
            " seen or never (default): seen ends a paginated stage's pages at the first page"
            " with no item newer than the cursor",
        ],
    ),
    "a misspelt incremental key": (
        f"{ITEMS}    incremental: {{cursor: $.id, stpo: seen}}\n",
        [
            "crawler.yaml:6:33: unknown key 'stpo' at stages.a.incremental — expected one of:"
            " cursor, stop; did you mean 'stop'?",
        ],
    ),
    "incremental as a jsonpath": (
        f"{ITEMS}    incremental: $.updated_at\n",
        [
            "crawler.yaml:6:18: got the text '$.updated_at' at stages.a.incremental — expected"
            " a mapping with cursor (a jsonpath into each item) and stop (seen or never)",
        ],
    ),
    "two bodies": (
        "stages:\n  a:\n    url: x\n    method: POST\n    json: {q: 1}\n    form: {q: '1'}\n",
        [
            "crawler.yaml:6:11: both 'json' and 'form' at stages.a — expected one body: json or"
            " form",
        ],
    ),
    "an unknown name deep in a JSON body": (
        "vars: {id: 7}\nstages:\n  a:\n    url: x\n    method: POST\n"
        "    json: {filter: {ids: [1, '{idd}']}}\n",
        [
            "crawler.yaml:6:30: template names 'idd', which nothing binds, at"
            " stages.a.json.filter.ids[1] — expected one of: id (bound by vars, --set, or an"
            " ancestor's as/fields); did you mean 'id'?",
        ],
    ),
    "a where rule with two tests, and a regex that does not compile": (
        "stages:\n  a:\n    url: x\n    each: $.s[*]\n    as: s\n    where:\n"
        "      '{s.kind}': {not: a, in: [b]}\n      '{s.name}': {matches: '(unclosed'}\n",
        [
            'crawler.yaml:7:19: 2 tests in the rule at stages.a.where."{s.kind}" — expected'
            " exactly one of: not, in, not_in, matches, empty, gt, ge, lt, le (or a plain value"
            " to equal)",
            "crawler.yaml:8:29: regular expression '(unclosed' does not compile (missing ),"
            ' unterminated subpattern at position 0) at stages.a.where."{s.name}".matches —'
            " expected a Python regular expression",
        ],
    ),
    "comparisons with what is neither a number nor a date": (
        "stages:\n  a:\n    url: x\n    each: $.s[*]\n    as: s\n    where:\n"
        "      '{s.a}': {gt: soon}\n      '{s.d}': {ge: .inf}\n      '{s.e}': {gt: '2024-13-01'}\n",
        [
            "crawler.yaml:7:21: 'soon' is neither a number nor a date at"
            ' stages.a.where."{s.a}".gt — expected a number or an ISO 8601 date (2024-05-01,'
            " 2024-05-01T12:00:00Z)",
            "crawler.yaml:8:21: 'Infinity' is neither a number nor a date at"
            ' stages.a.where."{s.d}".ge — expected a number or an ISO 8601 date (2024-05-01,'
            " 2024-05-01T12:00:00Z)",
            "crawler.yaml:9:21: '2024-13-01' is neither a number nor a date at"
            ' stages.a.where."{s.e}".gt — expected a number or an ISO 8601 date (2024-05-01,'
            " 2024-05-01T12:00:00Z)",
        ],
    ),
    "operands of the wrong type, and a where value that is neither text nor a rule": (
        "stages:\n  a:\n    url: x\n    each: $.s[*]\n    as: s\n    where:\n"
        "      '{s.b}': {le: true}\n      '{s.c}': {lt: [1]}\n      '{s.n}': {not: 3}\n"
        "      '{s.x}': [a]\n",
        [
            'crawler.yaml:7:21: got the boolean true at stages.a.where."{s.b}".le — expected a'
            " number or an ISO 8601 date (2024-05-01, 2024-05-01T12:00:00Z) the value must be"
            " less than or equal to",
            'crawler.yaml:8:21: got a list at stages.a.where."{s.c}".lt — expected a number or'
            " an ISO 8601 date (2024-05-01, 2024-05-01T12:00:00Z) the value must be less than",
            'crawler.yaml:9:22: got the number 3 at stages.a.where."{s.n}".not — expected a text'
            " the value must not be",
            'crawler.yaml:10:16: got a list at stages.a.where."{s.x}" — expected a text to'
            " equal, or a rule: a mapping with one of not, in, not_in, matches, empty, gt, ge,"
            " lt, le",
        ],
    ),
    "a where template naming an unknown name": (
        "stages:\n  a:\n    url: x\n    each: $.s[*]\n    as: s\n    where: {'{skin.kind}': a}\n",
        [
            "crawler.yaml:6:28: template names 'skin', which nothing binds, at"
            ' stages.a.where."{skin.kind}" — expected one of: s (bound by vars, --set, or'
            " an ancestor's as/fields)",
        ],
    ),
    "emit files: a bad extension, one outside the folder, one written twice": (
        "stages:\n  a:\n    url: x\n    each: $.i[*]\n    as: i\n"
        "    emit: {to: rows.txt, fields: {id: '{i.id}'}}\n"
        "  b:\n    from: a\n    url: x\n    emit: {to: ../rows.csv, fields: {id: '{i.id}'}}\n"
        "  c:\n    from: a\n    url: x\n    emit: {to: all.jsonl, fields: {id: '{i.id}'}}\n"
        "  d:\n    from: a\n    url: x\n    emit: {to: all.jsonl, fields: {n: '{nope}'}}\n",
        [
            "crawler.yaml:6:16: 'rows.txt' does not end in .jsonl, .csv or .parquet at"
            " stages.a.emit.to — expected a new file path inside the output folder ending"
            " in .jsonl, .csv or .parquet",
            "crawler.yaml:10:16: '../rows.csv' has a '..' segment at stages.b.emit.to —"
            " expected a new file path inside the output folder ending in .jsonl, .csv or"
            " .parquet",
            "crawler.yaml:18:16: 'all.jsonl' is written by another stage or is the manifest"
            " at stages.d.emit.to — expected a new file path inside the output folder"
            " ending in .jsonl, .csv or .parquet",
            "crawler.yaml:18:39: template names 'nope', which nothing binds, at"
            " stages.d.emit.fields.n — expected one of: i (bound by vars, --set, or an"
            " ancestor's as/fields)",
        ],
    ),
    "emit options: a mode that is neither, meta not a boolean, an unknown key": (
        "stages:\n  a:\n    url: x\n    each: $.i[*]\n    as: i\n"
        "    emit: {to: a.jsonl, fields: {id: '{i.id}'}, mode: add, meta: 1, keys: '{id}'}\n",
        [
            "crawler.yaml:6:55: got the text 'add' at stages.a.emit.mode — expected replace"
            " (the file written whole each run) or append (only rows new to it added)",
            "crawler.yaml:6:66: got the number 1 at stages.a.emit.meta — expected true or"
            " false: true adds the columns _run_id, _fetched_at and _source_url",
            "crawler.yaml:6:69: unknown key 'keys' at stages.a.emit — expected one of:"
            " fields, key, meta, mode, to; did you mean 'key'?",
        ],
    ),
    "emit options: key with replace, a meta column taken, keys naming no column": (
        "stages:\n  a:\n    url: x\n    each: $.i[*]\n    as: i\n"
        "  b:\n    from: a\n    url: x\n"
        "    emit: {to: b.csv, fields: {id: '{i.id}', _run_id: x}, key: '{id}', meta: true}\n"
        "  c:\n    from: a\n    url: x\n"
        "    emit: {to: c.jsonl, fields: {id: '{i.id}'}, mode: append, key: '{id'}\n"
        "  d:\n    from: a\n    url: x\n"
        "    emit: {to: d.jsonl, fields: {id: '{i.id}', n: x}, mode: append,"
        " key: '{i.id}-{nope}'}\n"
        "  e:\n    from: a\n    url: x\n"
        "    emit: {to: e.jsonl, fields: {id: '{i.id}'}, mode: append, key: all}\n",
        [
            "crawler.yaml:9:55: column '_run_id' at stages.b.emit.fields._run_id is one"
            " meta: true adds — expected another name (meta adds _run_id, _fetched_at,"
            " _source_url)",
            "crawler.yaml:9:64: 'key' without 'mode: append' at stages.b.emit.key — expected"
            " mode: append beside it (replace writes the file whole: no row is told apart)",
            "crawler.yaml:13:68: template '{id' does not parse: '{' at character 1 is never"
            " closed at stages.c.emit.key — expected a template over the columns of"
            " emit.fields: id",
            "crawler.yaml:17:74: '{i.id}' is not a column at stages.d.emit.key — expected one"
            " of: id, n (a key is read back from the file's own columns)",
            "crawler.yaml:17:74: '{nope}' is not a column at stages.d.emit.key — expected one"
            " of: id, n (a key is read back from the file's own columns)",
            "crawler.yaml:21:68: 'all' names no column at stages.e.emit.key — expected a"
            " template over the columns of emit.fields: id",
        ],
    ),
    "required fields and downloads: a long form wrong in each way": (
        "stages:\n  a:\n    url: x\n    fields:\n"
        "      t: {path: $.t, requird: true}\n"
        "      u: {path: $.u, required: maybe}\n"
        "      v: {required: true}\n"
        "      w: [$.w]\n"
        "    downloads:\n      - {url: 'http://h', save_as: a, required: 1}\n",
        [
            "crawler.yaml:5:22: unknown key 'requird' at stages.a.fields.t"
            " — expected one of: path, required; did you mean 'required'?",
            "crawler.yaml:6:32: got the text 'maybe' at stages.a.fields.u.required"
            " — expected true or false: true fails the run when a page's response lacks it",
            "crawler.yaml:7:10: missing key 'path' at stages.a.fields.v"
            " — expected a jsonpath into the stage's response, e.g. '$.hero.name'",
            "crawler.yaml:8:10: got a list at stages.a.fields.w"
            " — expected a jsonpath, or a mapping with path and required",
            "crawler.yaml:10:49: got the number 1 at stages.a.downloads[0].required"
            " — expected true or false: true fails the run when an item's url or save_as"
            " names a key the item does not have",
        ],
    ),
    "required fields: the path of the long form is checked like the short one": (
        "stages:\n  a:\n    url: x\n    fields:\n"
        "      x: {path: '$.x[', required: true}\n"
        "      y: {path: '{a.y}'}\n",
        [
            "crawler.yaml:5:17: jsonpath '$.x[' does not parse (Parse error near the end of"
            " string!) at stages.a.fields.x.path — expected a jsonpath such as $.items[*] or"
            ' $.items[?(@.kind == "a")]',
            "crawler.yaml:6:17: '{a.y}' is a template at stages.a.fields.y.path, but stage"
            " fields are jsonpaths — expected a jsonpath into this stage's response: '$.a.y'",
        ],
    ),
    "a manifest outside the folder": (
        "output:\n  manifest: ../m.jsonl\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:13: '../m.jsonl' is not a plain file name at output.manifest"
            " — expected a file name inside the output folder, or false"
        ],
    ),
    "a template that does not parse": (
        'stages:\n  a:\n    url: "{img"\n',
        [
            "crawler.yaml:3:10: template '{img' does not parse: '{' at character 1 is never"
            " closed at stages.a.url — expected text with {name}, {name.key|filter} or"
            " {name:spec} fields"
        ],
    ),
    # Issue 15, values: format specs, defaults, and the two value syntaxes told apart.
    "a format spec that does not parse": (
        'stages:\n  a:\n    url: "http://h/{n:03q}"\n',
        [
            "crawler.yaml:3:10: template 'http://h/{n:03q}' does not parse: format spec '03q' at"
            " character 10 is not a Python format spec such as 03d, .2f or >10, or a date spec"
            " such as %Y-%m-%d at stages.a.url — expected text with {name}, {name.key|filter} or"
            " {name:spec} fields",
        ],
    ),
    "a date spec with a lone %": (
        'stages:\n  a:\n    url: "http://h/{d:%Y%}"\n',
        [
            "crawler.yaml:3:10: template 'http://h/{d:%Y%}' does not parse: format spec '%Y%' at"
            " character 10 ends in a lone '%' (write %% for a percent sign) at stages.a.url —"
            " expected text with {name}, {name.key|filter} or {name:spec} fields",
        ],
    ),
    "a date spec with an unknown directive": (
        'stages:\n  a:\n    url: "http://h/{d:%Y-%Q}"\n',
        [
            "crawler.yaml:3:10: template 'http://h/{d:%Y-%Q}' does not parse: format spec '%Y-%Q'"
            " at character 10 has '%Q', which is not a date directive (directives: %a %A %b %B %c"
            " %d %f %G %H %I %j %m %M %p %S %u %U %V %w %W %x %X %y %Y %z %Z %%) at stages.a.url"
            " — expected text with {name}, {name.key|filter} or {name:spec} fields",
        ],
    ),
    "a format spec before a filter": (
        'stages:\n  a:\n    url: "http://h/{n:03d|upper}"\n',
        [
            "crawler.yaml:3:10: template 'http://h/{n:03d|upper}' does not parse: format spec"
            " '03d|upper' at character 10 has a '|' (the spec comes last: {name|filter:spec}) at"
            " stages.a.url — expected text with {name}, {name.key|filter} or {name:spec} fields",
        ],
    ),
    "an unknown filter with a spec": (
        'stages:\n  a:\n    url: "http://h/{n|pad:3}"\n',
        [
            "crawler.yaml:3:10: template 'http://h/{n|pad:3}' does not parse: unknown filter"
            " 'pad' at character 10 (filters: basename, ext, hash, lower, quote, stem, strip,"
            " upper, default, path) at stages.a.url — expected text with {name},"
            " {name.key|filter} or {name:spec} fields",
        ],
    ),
    "default without a text": (
        'stages:\n  a:\n    url: "http://h/{n|default}"\n',
        [
            "crawler.yaml:3:10: template 'http://h/{n|default}' does not parse: 'default' without"
            " a text at character 10 (write default:TEXT, the text used for a missing, null or"
            " empty value) at stages.a.url — expected text with {name}, {name.key|filter} or"
            " {name:spec} fields",
        ],
    ),
    "a default the spec cannot format": (
        'stages:\n  a:\n    url: "http://h/{n|default:none:03d}"\n',
        [
            "crawler.yaml:3:10: template 'http://h/{n|default:none:03d}' does not parse: default"
            " 'none' at character 10 does not format: 'none' is not a whole number (for '03d') at"
            " stages.a.url — expected text with {name}, {name.key|filter} or {name:spec} fields",
        ],
    ),
    "a date spec whose folders leave the output folder": (
        "stages:\n"
        "  a:\n"
        "    url: http://h/x\n"
        "    each: $.items[*]\n"
        "    as: item\n"
        '    downloads: [{url: "{item.u}", save_as: "{item.d:%Y/../%m}.jpg"}]\n',
        [
            "crawler.yaml:6:44: save_as '{item.d:%Y/../%m}.jpg' has a '..' segment at"
            " stages.a.downloads[0].save_as — expected a relative path inside the output folder,"
            " without '..' or empty parts",
        ],
    ),
    "a jsonpath as an emit column": (
        "stages:\n"
        "  a:\n"
        "    url: http://h/x\n"
        "    fields: {total: $.total}\n"
        "    each: $.items[*]\n"
        "    as: item\n"
        '    emit: {to: a.jsonl, fields: {id: $.id, all: $.total, name: "{item.name}"}}\n',
        [
            "crawler.yaml:7:38: '$.id' is a jsonpath at stages.a.emit.fields.id, but emit columns"
            " are templates — expected '{item.id}' (a key of the item)",
            "crawler.yaml:7:49: '$.total' is a jsonpath at stages.a.emit.fields.all, but emit"
            " columns are templates — expected '{total}'",
        ],
    ),
    "a jsonpath as an emit column of a stage without each": (
        "stages:\n  a:\n    url: http://h/x\n    emit: {to: a.jsonl, fields: {id: $.id}}\n",
        [
            "crawler.yaml:4:38: '$.id' is a jsonpath at stages.a.emit.fields.id, but emit columns"
            " are templates — expected '{id}', with 'id: $.id' in the stage's fields",
        ],
    ),
    "a jsonpath as a download URL": (
        "stages:\n"
        "  a:\n"
        "    url: http://h/x\n"
        "    each: $.items[*]\n"
        "    as: item\n"
        '    downloads: [{url: "$.images[0]", save_as: "{item.id}.jpg"}]\n',
        [
            "crawler.yaml:6:23: '$.images[0]' is a jsonpath at stages.a.downloads[0].url, but"
            " download URLs are templates — expected '{item.images.0}' (a key of the item)",
        ],
    ),
    "a template as a stage field": (
        "stages:\n"
        "  a:\n"
        "    url: http://h/x\n"
        "    each: $.items[*]\n"
        "    as: item\n"
        "  b:\n"
        "    from: a\n"
        '    url: "http://h/{item.id}"\n'
        '    fields: {name: "{item.name}", title: "{title}"}\n',
        [
            "crawler.yaml:9:20: '{item.name}' is a template at stages.b.fields.name, but stage"
            " fields are jsonpaths — expected a jsonpath into this stage's response such as"
            " '$.name'; 'item' is bound already, write '{item.name}' where it is used",
            "crawler.yaml:9:42: '{title}' is a template at stages.b.fields.title, but stage"
            " fields are jsonpaths — expected a jsonpath into this stage's response: '$.title'",
        ],
    ),
    "a secret cut short by a format spec": (
        'vars: {token: "${TOKEN:-anonymous}"}\nstages:\n  a: {url: "http://h/{token:.4}"}\n',
        [
            "crawler.yaml:3:12: '{token:.4}' keeps part of 'token', which takes ${TOKEN} from the"
            " environment, at stages.a.url — expected it whole (a part of a secret cannot be"
            " masked as ***)",
        ],
    ),
    "key without each, in a start stage": (
        "stages:\n  a:\n    url: x\n    key: slot\n",
        [
            "crawler.yaml:4:10: 'key' without 'each' at stages.a"
            " — expected 'each: JSONPATH' beside it, the items to fan out over"
        ],
    ),
    "key: the same name as as, not a name, reserved, a var's name": (
        """
        vars: {slot: x}
        stages:
          a:
            url: x
            each: $.sprites.*
            as: sprite
            key: sprite
          b:
            url: x
            each: $.sprites.*
            as: sprite
            key: 2nd
          c:
            url: x
            each: $.sprites.*
            as: sprite
            key: ext
          d:
            url: x
            each: $.sprites.*
            as: sprite
            key: slot
        """,
        [
            "crawler.yaml:8:10: 'sprite' is already bound by stages.a at stages.a.key"
            " — expected a new name",
            "crawler.yaml:13:10: '2nd' is not a name at stages.b.key"
            " — expected letters, digits and _, not starting with a digit",
            "crawler.yaml:18:10: 'ext' is reserved at stages.c.key (in save_as, {ext} is the"
            " extension the response's Content-Type names) — expected another name",
            "crawler.yaml:23:10: 'slot' is already bound by vars at stages.d.key"
            " — expected a new name",
        ],
    ),
    "a template naming a key its stage does not bind": (
        """
        stages:
          a:
            url: x
            each: $.sprites.*
            as: sprite
            downloads: [{url: "{sprite}", save_as: "{slot}.png"}]
        """,
        [
            "crawler.yaml:7:44: template names 'slot', which nothing binds, at"
            " stages.a.downloads[0].save_as — expected one of: ext, sprite"
            " (bound by vars, --set, or an ancestor's as/fields)"
        ],
    ),
    "several problems at once, in file order": (
        """
        run:
          mode: pol
        stages:
          heroes:
            url: "{imgg}/x"
            each: "$.hero["
            as: hero
          skins:
            from: heros
            url: "{img}"
        """,
        [
            "crawler.yaml:3:9: unknown mode 'pol' at run.mode"
            " — expected one of: serial, process, queue, pool, thread, dask; did you mean 'pool'?",
            "crawler.yaml:6:10: template names 'imgg', which nothing binds, at stages.heroes.url"
            " — expected one of: (nothing is bound here)"
            " (bound by vars, --set, or an ancestor's as/fields)",
            "crawler.yaml:7:11: jsonpath '$.hero[' does not parse (Parse error near the end of"
            " string!) at stages.heroes.each — expected a jsonpath such as $.items[*]"
            ' or $.items[?(@.kind == "a")]',
            "crawler.yaml:10:11: stage 'heros' does not exist at stages.skins.from"
            " — expected one of: heroes; did you mean 'heroes'?",
        ],
    ),
    # Issue 17, the archive: output.archive is a path; archive_key a template of the item.
    "an archive that is not a path": (
        "output:\n  archive: 5\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:12: got the number 5 at output.archive — expected the path of an"
            " SQLite file, relative to the current folder, that crawls share: a file it records"
            " as downloaded is not fetched again"
        ],
    ),
    "an archive key that is not a template": (
        "stages:\n  a:\n    url: x\n    downloads:\n"
        "      - {url: x, save_as: y, archive_key: ''}\n"
        "      - {url: x, save_as: y, archive_key: [a]}\n",
        [
            "crawler.yaml:5:43: got the text '' at stages.a.downloads[0].archive_key — expected"
            " a template that tells the file apart in output.archive, e.g."
            " '{hero.heroId}-{skin.skinId}' (default: its URL)",
            "crawler.yaml:6:43: got a list at stages.a.downloads[1].archive_key — expected"
            " a template that tells the file apart in output.archive, e.g."
            " '{hero.heroId}-{skin.skinId}' (default: its URL)",
        ],
    ),
    "archive keys: an unbound name, {ext}, the path filter, a template that does not parse": (
        "output:\n  archive: a.sqlite\nstages:\n  a:\n    url: x\n    each: $.i[*]\n"
        "    as: i\n    downloads:\n"
        "      - {url: '{i.u}', save_as: '{i.n}{ext}', archive_key: '{i.id}-{nope}'}\n"
        "      - {url: '{i.u}', save_as: '{i.n}', archive_key: '{i.id}{ext}'}\n"
        "      - {url: '{i.u}', save_as: '{i.n}', archive_key: '{i.id|path}'}\n"
        "      - {url: '{i.u}', save_as: '{i.n}', archive_key: '{i.id'}\n",
        [
            "crawler.yaml:9:60: template names 'nope', which nothing binds, at"
            " stages.a.downloads[0].archive_key — expected one of: i (bound by vars, --set, or"
            " an ancestor's as/fields)",
            "crawler.yaml:10:55: template names 'ext', which nothing binds, at"
            " stages.a.downloads[1].archive_key — expected one of: i (bound by vars, --set, or"
            " an ancestor's as/fields); {ext} exists only at the end of save_as",
            "crawler.yaml:11:55: the 'path' filter is used at stages.a.downloads[2].archive_key"
            " — expected it only in a download's save_as",
            "crawler.yaml:12:55: template '{i.id' does not parse: '{' at character 1 is never"
            " closed at stages.a.downloads[3].archive_key — expected text with {name},"
            " {name.key|filter} or {name:spec} fields",
        ],
    ),
    # issue 17, range resume: http.resume_above
    "resume_above below zero": (
        """
        http:
          resume_above: -1
        stages:
          a: {url: "http://h/x"}
        """,
        [
            "crawler.yaml:3:17: got the number -1 at http.resume_above"
            " — expected a whole number of bytes >= 0: a file larger than this (by its"
            " Content-Length) that is cut off is continued with a Range request, not fetched"
            " again (default 1 MiB), or null for never"
        ],
    ),
    "resume_above with a unit": (
        """
        http:
          resume_above: 1 MiB
        stages:
          a: {url: "http://h/x"}
        """,
        [
            "crawler.yaml:3:17: got the text '1 MiB' at http.resume_above"
            " — expected a whole number of bytes >= 0: a file larger than this (by its"
            " Content-Length) that is cut off is continued with a Range request, not fetched"
            " again (default 1 MiB), or null for never"
        ],
    ),
    # issue 18, the display: a download rule's name (any non-blank text)
    "a download name that is empty, blank, a list or a number": (
        "stages:\n  a:\n    url: x\n    downloads:\n"
        "      - {url: x, save_as: y, name: ''}\n"
        "      - {url: x, save_as: y, name: '   '}\n"
        "      - {url: x, save_as: y, name: [a]}\n"
        "      - {url: x, save_as: y, name: 5}\n",
        [
            "crawler.yaml:5:36: got the text '' at stages.a.downloads[0].name"
            " — expected non-blank text that names the rule's bar in the live display and in"
            " 'yamlcrawl plan', e.g. 'covers' (default: read from save_as, as '电脑版' from"
            " '{skin.name}电脑版.jpg')",
            "crawler.yaml:6:36: got the text '   ' at stages.a.downloads[1].name"
            " — expected non-blank text that names the rule's bar in the live display and in"
            " 'yamlcrawl plan', e.g. 'covers' (default: read from save_as, as '电脑版' from"
            " '{skin.name}电脑版.jpg')",
            "crawler.yaml:7:36: got a list at stages.a.downloads[2].name"
            " — expected non-blank text that names the rule's bar in the live display and in"
            " 'yamlcrawl plan', e.g. 'covers' (default: read from save_as, as '电脑版' from"
            " '{skin.name}电脑版.jpg')",
            "crawler.yaml:8:36: got the number 5 at stages.a.downloads[3].name"
            " — expected non-blank text that names the rule's bar in the live display and in"
            " 'yamlcrawl plan', e.g. 'covers' (default: read from save_as, as '电脑版' from"
            " '{skin.name}电脑版.jpg')",
        ],
    ),
    # issue 19, output to an object store: output.dir as a URL (credentials never shown)
    "a store URL with credentials in it": (
        "output:\n  dir: s3://AKIA:s3cret@bucket/run\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:8: the URL 's3://bucket/run' carries credentials at output.dir"
            " — expected a URL such as s3://bucket/prefix, with credentials in the environment"
            " or the AWS configuration"
        ],
    ),
    "a store URL without a bucket": (
        "output:\n  dir: s3:///run\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:8: the URL 's3:///run' names no bucket at output.dir"
            " — expected a URL such as s3://bucket/prefix"
        ],
    ),
    "a store URL that climbs out of its prefix": (
        "output:\n  dir: s3://bucket/run/../other\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:8: the URL 's3://bucket/run/../other' has '.' or '..' in its path"
            " at output.dir — expected a URL such as s3://bucket/prefix"
        ],
    ),
    "a store URL with a query": (
        "output:\n  dir: s3://bucket/run?versionId=3\nstages:\n  a: {url: x}\n",
        [
            "crawler.yaml:2:8: the URL 's3://bucket/run?versionId=3' has a query or fragment"
            " at output.dir — expected a URL such as s3://bucket/prefix"
        ],
    ),
}


@pytest.mark.parametrize(("text", "expected"), INVALID.values(), ids=list(INVALID))
def test_invalid_configs_give_exact_messages(text: str, expected: list[str]) -> None:
    assert problems_of(text) == expected


# Settings given from outside the file: --set (by var name or by path) and ${ENV}.
# (file, --set pairs, environment, the messages)
OUTSIDE = """
    vars: {api: "http://h"}
    http:
      timeout: ${TIMEOUT:-15}
    stages:
      list:
        url: "{api}/list"
        each: $.items[*]
        as: item
        downloads:
          - {url: "{item.u}", save_as: "{item.n}.bin"}
"""
SET_INVALID: dict[str, tuple[str, dict[str, str], dict[str, str], list[str]]] = {
    "text for a number, in the file": (
        "http: {rate: fast}\nstages: {a: {url: x}}\n",
        {},
        {},
        [
            "crawler.yaml:1:14: got the text 'fast' at http.rate"
            " — expected a number > 0: requests per second, across all workers of the run"
        ],
    ),
    "the same by --set: the same message, named by its --set": (
        OUTSIDE,
        {"http.rate": "fast"},
        {},
        [
            "--set http.rate=fast: got the text 'fast' at http.rate"
            " — expected a number > 0: requests per second, across all workers of the run"
        ],
    ),
    "a number --set where a number may not be": (
        OUTSIDE,
        {"run.workers": "0"},
        {},
        [
            "--set run.workers=0: got the number 0 at run.workers"
            " — expected a whole number of worker processes from 1 to 256"
        ],
    ),
    "a misspelt setting": (
        OUTSIDE,
        {"http.rat": "2"},
        {},
        [
            "--set http.rat=2: unknown key 'rat' at http — expected one of: auth, backoff,"
            " cert, cookies, cookies_file, deadline, headers, max_bytes, max_page_bytes,"
            " max_redirects, per_host, proxies, rate, resume_above, retries, retry_on, timeout,"
            " user_agent, verify; did you mean 'rate'?"
        ],
    ),
    "a misspelt section": (
        OUTSIDE,
        {"htp.rate": "2"},
        {},
        [
            "--set htp.rate=2: unknown key 'htp' at the top level — expected one of: http,"
            " name, output, run, stages, vars; did you mean 'http'?"
        ],
    ),
    "a stage the file does not have": (
        OUTSIDE,
        {"stages.lst.url": "http://mirror/list"},
        {},
        [
            "--set stages.lst.url=http://mirror/list: there is no stage 'lst' at stages"
            " — expected one of: list; did you mean 'list'? (--set changes a stage, it does not"
            " add one)"
        ],
    ),
    "a download the stage does not have": (
        OUTSIDE,
        {"stages.list.downloads[2].url": "x"},
        {},
        [
            "--set stages.list.downloads[2].url=x: no item [2] in the list at"
            " stages.list.downloads, which has 1 — expected an index from 0 to 0, such as"
            " stages.list.downloads[0]"
        ],
    ),
    "a list with nothing in it": (
        "http: {retry_on: []}\nstages: {a: {url: x}}\n",
        {"http.retry_on[0]": "429"},
        {},
        [
            "--set http.retry_on[0]=429: no item [0] in the list at http.retry_on, which is"
            " empty — expected a path to something the file has"
        ],
    ),
    "a path through a number": (
        OUTSIDE,
        {"http.timeout.connect": "3"},
        {},
        [
            "--set http.timeout.connect=3: http.timeout is not a mapping (it holds a number),"
            " so it has no 'connect' — expected a path that ends at http.timeout"
        ],
    ),
    "a name that is no path": (
        OUTSIDE,
        {"http..rate": "2"},
        {},
        [
            "--set http..rate=2: 'http..rate' is not a var name or a path to a setting"
            " — expected NAME (a var) or a path into the file such as http.rate, run.workers,"
            ' stages.NAME.url or http.headers."X-Key"'
        ],
    ),
    "a template by --set that names nothing bound": (
        OUTSIDE,
        {"stages.list.url": "{apii}/list"},
        {},
        [
            "--set stages.list.url={apii}/list: template names 'apii', which nothing binds,"
            " at stages.list.url — expected one of: api (bound by vars, --set, or an ancestor's"
            " as/fields); did you mean 'api'?"
        ],
    ),
    "a mode by --set that does not exist": (
        OUTSIDE,
        {"run.mode": "pol"},
        {},
        [
            "--set run.mode=pol: unknown mode 'pol' at run.mode — expected one of: serial,"
            " process, queue, pool, thread, dask; did you mean 'pool'?"
        ],
    ),
    "an unset environment variable in a setting": (
        "http:\n  rate: ${RATE}\nstages: {a: {url: x}}\n",
        {},
        {},
        [
            "crawler.yaml:2:9: environment variable 'RATE' is not set at http.rate"
            " — expected it in the environment, or a fallback: ${RATE:-value}"
        ],
    ),
    "a value from the environment, typed as the file would be": (
        OUTSIDE,
        {},
        {"TIMEOUT": "0"},
        [
            "crawler.yaml:4:12: got the number 0 at http.timeout"
            " — expected a number of seconds > 0 for connecting and for each read"
        ],
    ),
    "a value from the environment is masked in a message": (
        OUTSIDE,
        {},
        {"TIMEOUT": "hunter2-secret"},
        [
            "crawler.yaml:4:12: got the text '***' at http.timeout"
            " — expected a number of seconds > 0 for connecting and for each read"
        ],
    ),
    "a value from the environment in a file name": (
        """
        stages:
          a:
            url: http://h/list
            downloads:
              - url: http://h/f
                save_as: "${DIR}/f.bin"
        """,
        {},
        {"DIR": "private"},
        [
            "crawler.yaml:7:18: a value from the environment (${DIR}) in a file name at"
            " stages.a.downloads[0].save_as — expected no value from the environment in a file"
            " name (names on disk are never redacted), or output.allow_secrets_in_names: true"
        ],
    ),
}


@pytest.mark.parametrize(
    ("text", "overrides", "environ", "expected"), SET_INVALID.values(), ids=list(SET_INVALID)
)
def test_settings_from_outside_the_file_give_exact_messages(
    text: str, overrides: dict[str, str], environ: dict[str, str], expected: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(dedent(text), "crawler.yaml", overrides, MODES, environ)
    assert str(caught.value).splitlines() == expected


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_spec(tmp_path / "nope.yaml")
    expected = f"{tmp_path / 'nope.yaml'}:1:1: cannot read the file: No such file or directory"
    assert str(caught.value) == expected


def readme_reference() -> str:
    """The README's full YAML reference: the first yaml block under "## The language"."""
    text = (ROOT / "README.md").read_text("utf-8")
    section = text[text.index("## The language") :]
    return section.split("```yaml\n", 1)[1].split("```", 1)[0]


def test_the_readme_reference_is_a_valid_crawl() -> None:
    loaded = load_text(readme_reference(), "README.md", modes=MODES, environ={"LOL_TOKEN": "t"})
    assert "skins" in loaded.spec.stages


def test_the_readme_names_every_key() -> None:
    from yamlcrawl.language import spec

    text = (ROOT / "README.md").read_text("utf-8")
    models = [spec.CrawlSpec, spec.RunSpec, spec.HttpSpec, spec.OutputSpec, spec.StageSpec]
    models += [spec.DownloadSpec, spec.PaginateSpec, spec.EmitSpec, spec.RuleSpec]
    models += [spec.AuthSpec, spec.BasicAuthSpec, spec.FieldSpec, spec.IncrementalSpec]
    keys = {field.alias or name for model in models for name, field in model.model_fields.items()}
    assert {key for key in keys if f"{key}:" not in text} == set()
