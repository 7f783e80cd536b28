"""A test player talking to the API over HTTP, the way a wizard front end would."""

from __future__ import annotations

import itertools
import uuid
from typing import Any

import httpx

from hero_foundry.rules.abilities import STANDARD_ARRAY

PASSWORD = "correct horse battery staple"


async def new_player(client: httpx.AsyncClient) -> dict[str, str]:
    """Register and log in a fresh user; return the Authorization header."""
    email = f"player-{uuid.uuid4().hex[:12]}@example.com"
    r = await client.post("/api/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 202, r.text
    r = await client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    r = await response
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else {}


async def answer_open_choices(
    client: httpx.AsyncClient, headers: dict[str, str], draft: dict[str, Any]
) -> dict[str, Any]:
    """Answer each unanswered choice the server lists, trying combinations until one is legal
    (the server's 422 names the choice and the reason), as a player would."""
    url = f"/api/characters/drafts/{draft['id']}/choices"
    for _ in range(60):
        pending = [c for c in draft["choices"] if c["selected"] is None]
        if not pending:
            return draft
        choice = pending[0]
        have = {
            p["index"]
            for ps in (draft["preview"] or {}).get("proficiencies", {}).values()
            for p in ps
        }
        keys = [o["key"] for o in choice["options"]]
        if choice["type"] == "proficiency":  # expertise: prefer skills the character has
            keys.sort(key=lambda k: k not in have)
        for combo in itertools.islice(itertools.combinations(keys, choice["choose"]), 200):
            r = await client.put(
                url, headers=headers, json={"selections": {choice["id"]: list(combo)}}
            )
            if r.status_code == 200:
                draft = r.json()
                break
            assert r.status_code == 422, r.text
            problem = r.json()
            assert problem["errors"][0]["field"] == f"choices.{choice['id']}", problem
        else:
            raise AssertionError(f"no legal selection found for {choice['id']}")
    raise AssertionError("choices never settled")


def standard_scores(class_detail: dict[str, Any]) -> dict[str, int]:
    order = []
    if class_detail["spellcasting_ability"]:
        order.append(class_detail["spellcasting_ability"])
    order += [s["index"] for s in class_detail["saving_throws"]]
    order += ["con", "dex", "str", "int", "wis", "cha"]
    order = list(dict.fromkeys(order))
    return dict(zip(order, STANDARD_ARRAY, strict=True))


async def build_character(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    race: str,
    class_index: str,
    *,
    subrace: str | None = None,
    name: str = "Tester",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run the whole wizard; return (the finalized character, the last draft view)."""
    races = await ok(client.get("/api/srd/races"))
    race_doc = next(r for r in races if r["index"] == race)
    if subrace is None and race_doc["subraces"]:
        subrace = race_doc["subraces"][0]["index"]
    detail = await ok(client.get(f"/api/srd/classes/{class_index}"))
    subclass = detail["subclasses"][0]["index"] if detail["subclass_level"] == 1 else None

    draft = await ok(client.post("/api/characters/drafts", headers=headers), 201)
    base = f"/api/characters/drafts/{draft['id']}"
    await ok(client.put(f"{base}/race", headers=headers, json={"race": race, "subrace": subrace}))
    await ok(
        client.put(
            f"{base}/class", headers=headers, json={"class": class_index, "subclass": subclass}
        )
    )
    await ok(client.put(f"{base}/background", headers=headers, json={"background": "acolyte"}))
    draft = await ok(
        client.put(
            f"{base}/ability-scores",
            headers=headers,
            json={"method": "standard_array", "scores": standard_scores(detail)},
        )
    )
    draft = await answer_open_choices(client, headers, draft)
    rules = draft["spell_rules"]
    if rules:
        spells = await ok(
            client.get("/api/srd/spells", params={"class": class_index, "limit": 500})
        )
        always = set(draft["always_prepared"])
        cantrips = [s["index"] for s in spells["items"] if s["level"] == 0][: rules["cantrips"]]
        leveled = [
            s["index"]
            for s in spells["items"]
            if 1 <= s["level"] <= rules["max_level"] and s["index"] not in always
        ]
        if not rules["prepares"]:
            body = {"cantrips": cantrips, "spells": leveled[: rules["known"]]}
        elif rules["spellbook"]:
            book = leveled[: rules["known"]]
            body = {"cantrips": cantrips, "spells": book, "prepared": book[: rules["prepared"]]}
        else:
            body = {"cantrips": cantrips, "prepared": leveled[: rules["prepared"]]}
        await ok(client.put(f"{base}/spells", headers=headers, json=body))
    draft = await ok(
        client.put(
            f"{base}/details", headers=headers, json={"name": name, "alignment": "neutral-good"}
        )
    )
    assert draft["missing"] == [] and draft["complete"], draft["missing"]
    character = await ok(client.post(f"{base}/finalize", headers=headers), 201)
    return character, draft


async def level_up(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    character_id: str,
    class_index: str,
    *,
    hp: str = "average",
) -> dict[str, Any]:
    """Gain one level over HTTP, answering what the session says is required; return the
    committed character."""
    base = f"/api/characters/{character_id}/level-ups"
    view = await ok(client.post(base, headers=headers, json={"class": class_index}), 201)
    url = f"{base}/{view['id']}"
    view = await ok(client.put(f"{url}/hit-points", headers=headers, json={"method": hp}))
    if view["subclass_options"]:
        view = await ok(
            client.put(
                f"{url}/subclass", headers=headers, json={"subclass": view["subclass_options"][0]}
            )
        )
    if view["ability_score_improvement"]["available"]:
        abilities = view["preview"]["abilities"]
        target = next(a for a, v in abilities.items() if v["score"] <= 18)
        view = await ok(
            client.put(f"{url}/ability-scores", headers=headers, json={"increases": {target: 2}})
        )
    for _ in range(20):
        pending = [c for c in view["choices"] if c["selected"] is None]
        if not pending:
            break
        choice = pending[0]
        have = {p["index"] for ps in view["preview"]["proficiencies"].values() for p in ps}
        keys = [o["key"] for o in choice["options"]]
        if choice["type"] == "proficiency":
            keys.sort(key=lambda k: k not in have)
        for combo in itertools.islice(itertools.combinations(keys, choice["choose"]), 300):
            r = await client.put(
                f"{url}/choices", headers=headers, json={"selections": {choice["id"]: list(combo)}}
            )
            if r.status_code == 200:
                view = r.json()
                break
            assert r.status_code == 422, r.text
        else:
            raise AssertionError(f"no legal selection for {choice['id']}")
    plan = view["spell_plan"]
    if plan:
        casting = (view["preview"]["spellcasting"] or {}).get("classes", [])
        mine = next((c for c in casting if c["class"] == class_index), None)
        known = set((mine or {}).get("cantrips", []) + (mine or {}).get("spells_known", []))
        spells = await ok(
            client.get("/api/srd/spells", params={"class": class_index, "limit": 500})
        )
        own = sorted(spells["items"], key=lambda s: s["index"])
        cantrips = [s["index"] for s in own if s["level"] == 0 and s["index"] not in known]
        leveled = [
            s["index"]
            for s in own
            if 1 <= s["level"] <= plan["max_level"] and s["index"] not in known
        ]
        body: dict[str, list[str]] = {
            "cantrips": cantrips[: plan["new_cantrips"]],
            "spells": leveled[: plan["new_spells"]],
        }
        if plan["arcanum_level"]:
            body["arcanum"] = [s["index"] for s in own if s["level"] == plan["arcanum_level"]][:1]
        if plan["prepares"]:
            always = set((mine or {}).get("always_prepared", []))
            if (mine and mine["spells_known"]) or body["spells"]:
                pool = [*(mine or {}).get("spells_known", []), *body["spells"]]
            else:
                pool = [s["index"] for s in own if 1 <= s["level"] <= plan["max_level"]]
            body["prepared"] = [s for s in pool if s not in always][: plan["max_prepared"] or 1]
        view = await ok(client.put(f"{url}/spells", headers=headers, json=body))
    assert view["missing"] == [], view["missing"]
    return await ok(client.post(f"{url}/commit", headers=headers))
