"""The plan takes the spec's fields by name (plan.from_spec): none is copied by hand, and every
spec field reaches the plan, or is listed here with where it goes instead."""

from __future__ import annotations

import pickle
from dataclasses import FrozenInstanceError, dataclass, field, fields
from typing import Any

import pytest
from pydantic import BaseModel

from tests.test_validation import readme_reference
from yamlcrawl.backends import modes
from yamlcrawl.language import spec
from yamlcrawl.language.loader import load_text
from yamlcrawl.language.plan import (
    AuthPlan,
    DownloadRule,
    OutputPlan,
    PagePlan,
    Plan,
    StagePlan,
    build_plan,
    from_spec,
    taken_from,
)
from yamlcrawl.types import HttpSettings

# (spec model, the plan class built from it, its fields that go elsewhere: where)
ROUTES: list[tuple[type[BaseModel], type[Any], dict[str, str]]] = [
    (spec.CrawlSpec, Plan, {"run": "Plan, as a second source"}),
    (spec.RunSpec, Plan, {}),
    (
        spec.HttpSpec,
        HttpSettings,
        {
            "auth": "StagePlan.auth",
            "headers": "Plan.http_headers",
            "cookies": "Plan.http_cookies",
            "cookies_file": "Plan.start_cookies",
        },
    ),
    (spec.OutputSpec, OutputPlan, {"allow_secrets_in_names": "checked when loaded"}),
    (spec.StageSpec, StagePlan, {}),
    (spec.DownloadSpec, DownloadRule, {}),
    (spec.PaginateSpec, PagePlan, {}),
    (spec.AuthSpec, AuthPlan, {}),
]


def read_by(plan: type[Any]) -> set[str]:
    """The spec fields the plan class's fields take (a dotted path: its first part)."""
    return {item.metadata.get("spec", item.name).split(".")[0] for item in fields(plan)}


@pytest.mark.parametrize(("model", "plan", "elsewhere"), ROUTES)
def test_every_spec_field_reaches_the_plan(
    model: type[BaseModel], plan: type[Any], elsewhere: dict[str, str]
) -> None:
    assert set(model.model_fields) - read_by(plan) - set(elsewhere) == set()


def test_the_plan_takes_the_http_headers_and_cookies() -> None:
    paths = {item.name: item.metadata.get("spec") for item in fields(Plan)}
    assert (paths["http_headers"], paths["http_cookies"]) == ("http.headers", "http.cookies")


class Inner(BaseModel):
    user: str = "u"


class Sample(BaseModel):
    """A spec model with one field of each kind."""

    name: str = "n"
    pairs: dict[str, str] = {"a": "1"}
    items: list[int] = [1, 2]
    body: Any = {"k": [1]}
    inner: Inner | None = Inner()
    absent: Inner | None = None


@dataclass(frozen=True)
class SamplePlan:
    name: str
    pairs: tuple[tuple[str, str], ...]
    items: tuple[int, ...]
    body: Any = field(default=None, metadata=taken_from("body", as_is=True))
    user: str | None = field(default=None, metadata=taken_from("inner.user"))
    other: str | None = field(default=None, metadata=taken_from("absent.user"))
    extra: int = 7  # no spec field: its default


def test_from_spec_takes_each_field_by_name_made_plain() -> None:
    assert from_spec(SamplePlan, Sample()) == SamplePlan(
        "n", (("a", "1"),), (1, 2), {"k": [1]}, "u", None, 7
    )
    assert from_spec(SamplePlan, Sample(), name="given").name == "given"


def test_from_spec_refuses_a_spec_model_it_has_no_plan_for() -> None:
    @dataclass(frozen=True)
    class Careless:
        inner: Any

    with pytest.raises(TypeError, match="a spec model \\(Inner\\) needs its own plan class"):
        from_spec(Careless, Sample())


def test_the_plan_stays_frozen_and_picklable() -> None:
    loaded = load_text(readme_reference(), "README.md", modes=modes(), environ={"LOL_TOKEN": "t"})
    plan = build_plan(loaded.spec)
    again = pickle.loads(pickle.dumps(plan))
    assert again == plan
    assert [s.json_body for s in again.stages] == [s.json_body for s in plan.stages]
    with pytest.raises(FrozenInstanceError):
        plan.stages[0].url = "x"  # type: ignore[misc]
