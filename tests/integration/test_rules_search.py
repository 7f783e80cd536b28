"""``/api/rules``: full-text search over the SRD and its entries, on both database backends."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from hero_foundry.lookup.documents import KINDS
from hero_foundry.srd import get_catalogue
from tests.integration.api import ok

pytestmark = pytest.mark.usefixtures("database_url")
CAT = get_catalogue()
#: The catalogue table of each kind's first entries (rules and classes have more tables).
TABLE = {
    "rule": "rule_sections",
    "condition": "conditions",
    "spell": "spells",
    "feature": "features",
    "trait": "traits",
    "race": "races",
    "class": "classes",
    "equipment": "equipment",
    "magic-item": "magic_items",
}


async def search(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    return await ok(client.get("/api/rules/search", params=params))


def keys(page: dict[str, Any]) -> list[tuple[str, str]]:
    return [(item["kind"], item["index"]) for item in page["items"]]


def named(table: str, prefix: str) -> str:
    """The index of the catalogue entry whose name starts with ``prefix``."""
    return next(d["index"] for d in CAT.all(table) if d["name"].startswith(prefix))


@pytest.mark.parametrize(
    ("query", "kind", "table"),
    [
        ("Fireball", "spell", "spells"),
        ("Grappled", "condition", "conditions"),
        ("Action Surge", "feature", "features"),
    ],
)
async def test_an_entry_searched_by_its_name_comes_first(
    client: httpx.AsyncClient, query: str, kind: str, table: str
) -> None:
    page = await search(client, q=query)
    expected = (kind, named(table, query))
    assert keys(page)[0] == expected, keys(page)[:5]
    assert page["corrected_query"] is None and page["query"] == query
    top = page["items"][0]
    assert top["name"].startswith(query) and top["url"] == f"/api/rules/{kind}/{expected[1]}"
    assert page["attribution"] == CAT.attribution and "SRD 5.1" in page["attribution"]


async def test_scores_are_sorted_and_snippets_mark_the_matches(client: httpx.AsyncClient) -> None:
    page = await search(client, q="grappled", limit=10)
    scores = [item["score"] for item in page["items"]]
    assert scores == sorted(scores, reverse=True) and scores[0] > 0
    assert "<mark>grappled</mark>" in page["items"][0]["snippet"].lower()


async def test_the_name_outweighs_the_text(client: httpx.AsyncClient) -> None:
    # "Fireball" is named by several magic items and spells, and mentioned in many texts.
    page = await search(client, q="Fireball", limit=50)
    assert page["total"] > 3
    names = [item["name"] for item in page["items"]]
    in_name = [i for i, name in enumerate(names) if "fireball" in name.lower()]
    assert in_name == list(range(len(in_name)))  # every name match before any text-only match


async def test_filters_narrow_to_spells_of_a_level_class_and_school(
    client: httpx.AsyncClient,
) -> None:
    page = await search(
        client, q="fire", kind="spell", level=3, **{"class": "wizard"}, school="evocation"
    )
    assert ("spell", "fireball") in keys(page)
    assert page["total"] == len(page["items"]) > 0
    for item in page["items"]:
        spell = CAT.get("spells", item["index"])
        assert spell["level"] == 3 and spell["school"]["index"] == "evocation"
        assert "wizard" in {c["index"] for c in spell["classes"]}
    cantrips = await search(client, q="fire", kind="spell", level=0)
    assert cantrips["total"] > 0
    assert all(CAT.get("spells", i["index"])["level"] == 0 for i in cantrips["items"])


async def test_the_class_filter_also_finds_the_class_features(client: httpx.AsyncClient) -> None:
    page = await search(client, q="action surge", kind="feature", **{"class": "fighter"})
    assert ("feature", named("features", "Action Surge")) in keys(page)
    assert all(CAT.get("features", i)["class"]["index"] == "fighter" for _, i in keys(page))
    assert (await search(client, q="action surge", **{"class": "wizard"}))["total"] == 0


async def test_pages_are_disjoint_and_the_total_is_stable(client: httpx.AsyncClient) -> None:
    whole = await search(client, q="fire", limit=15)
    assert whole["total"] > 15
    pages = [await search(client, q="fire", limit=5, offset=offset) for offset in (0, 5, 10)]
    assert {p["total"] for p in pages} == {whole["total"]}
    seen = [key for p in pages for key in keys(p)]
    assert len(seen) == len(set(seen)) == 15
    assert seen == keys(whole)
    beyond = await search(client, q="fire", offset=whole["total"])
    assert beyond["items"] == [] and beyond["total"] == whole["total"]


@pytest.mark.parametrize(
    ("prefix", "kind", "index"),
    [("firebal", "spell", "fireball"), ("grap", "condition", "grappled")],
)
async def test_a_word_also_matches_as_a_prefix(
    client: httpx.AsyncClient, prefix: str, kind: str, index: str
) -> None:
    page = await search(client, q=prefix)
    assert (kind, index) in keys(page)[:3], keys(page)[:5]
    assert page["corrected_query"] is None


async def test_a_misspelt_word_is_corrected_and_says_so(client: httpx.AsyncClient) -> None:
    page = await search(client, q="fireboll")
    assert page["corrected_query"] == "fireball"
    assert keys(page)[0] == ("spell", "fireball")
    page = await search(client, q="grapled condition")
    assert page["corrected_query"] == "grappled condition"
    assert keys(page)[0] == ("condition", "grappled")


@pytest.mark.parametrize(
    "query",
    [
        *['"', "*", "AND (", "-", ":", 'fire"ball', "NEAR(fire ball)", '"unterminated', "()"],
        *["fire*", "name:fireball", "^fire", "{name text}: fire", "fire OR", "NOT", "a -b"],
        *["x' OR 1", "grappled)", "(grappled", "é", "_", "_fire_"],
    ],
)
async def test_search_syntax_in_the_query_is_plain_text(
    client: httpx.AsyncClient, query: str
) -> None:
    r = await client.get("/api/rules/search", params={"q": query})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:  # nothing searchable left: a problem naming q
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["errors"][0]["field"] == "query.q"
    else:
        assert r.json()["query"] == query


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"q": ""}, "query.q"),
        ({"q": "x" * 201}, "query.q"),
        ({"q": "fire", "kind": "monster"}, "query.kind"),
        ({"q": "fire", "class": "necromancer"}, "query.class"),
        ({"q": "fire", "school": "pyromancy"}, "query.school"),
        ({"q": "fire", "level": 10}, "query.level"),
        ({"q": "fire", "level": -1}, "query.level"),
        ({"q": "fire", "kind": "feature", "level": 3}, "query.level"),
        ({"q": "fire", "limit": 0}, "query.limit"),
        ({"q": "fire", "limit": 101}, "query.limit"),
        ({"q": "fire", "offset": -1}, "query.offset"),
        ({}, "query.q"),
    ],
)
async def test_invalid_parameters_are_a_problem_naming_them(
    client: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    r = await client.get("/api/rules/search", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_every_kind_is_searchable_and_its_results_open(client: httpx.AsyncClient) -> None:
    for kind in KINDS:
        doc = CAT.all(TABLE[kind])[0]
        page = await search(client, q=doc["name"], kind=kind)
        assert (kind, doc["index"]) in keys(page), (kind, doc["name"], keys(page)[:5])
        assert {item["kind"] for item in page["items"]} == {kind}
        entry = await ok(client.get(page["items"][0]["url"]))
        assert entry["kind"] == kind


async def test_an_entry_has_its_text_and_srd_document(client: httpx.AsyncClient) -> None:
    entry = await ok(client.get("/api/rules/spell/fireball"))
    spell = CAT.get("spells", "fireball")
    assert entry["name"] == spell["name"] and entry["index"] == "fireball"
    assert spell["desc"][0] in entry["text"]
    assert entry["data"]["level"] == 3 and entry["data"]["school"]["index"] == "evocation"
    assert "url" not in entry["data"] and "url" not in entry["data"]["school"]
    assert entry["attribution"] == CAT.attribution
    section = await ok(client.get("/api/rules/rule/making-an-attack"))
    assert "#### Grappling" in section["text"]


@pytest.mark.parametrize("path", ["/api/rules/spell/wish-for-more", "/api/rules/monster/goblin"])
async def test_an_unknown_entry_is_a_404_problem(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"]
