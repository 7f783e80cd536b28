"""A virtual user: visits the service the way a player with a browser does.

A visit: the home page, sometimes an anonymous rule lookup, sign up or sign in, the character
list, then a few activities with think time between them (create a character with the wizard,
open a sheet, edit it, level up, search the rules and read an entry, ask the assistant, export,
import), sometimes sign out. The browser's telemetry goes out in batches along the way.

Every game decision is a random pick among what the service offers: races, classes,
backgrounds, alignments and spells come from ``/api/srd/*``, choices and their options from the
draft or level-up view, search terms from the names in those lists. The only rules taken from the
service's code are the standard array and the point-buy costs (``hero_foundry.rules.abilities``),
which the API does not publish. A request that fails ends the visit (:class:`VisitFailed`); the
user then starts a new one.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import string
import time
from typing import Any

from hero_foundry.loadgen.browser import Browser
from hero_foundry.loadgen.client import Api, Reply, VisitFailed
from hero_foundry.loadgen.options import ACTIVITIES, Options
from hero_foundry.loadgen.recorder import Recorder, TokenBucket
from hero_foundry.rules.abilities import POINT_BUY_BUDGET, POINT_BUY_COST, STANDARD_ARRAY

#: Mean think times in seconds (before ``Options.think_time``): reading a page, filling a
#: form, deciding a wizard step, picking one option, and the time between two visits.
THINK_PAGE = 3.0
THINK_FORM = 4.0
THINK_STEP = 5.0
THINK_PICK = 1.5
THINK_BETWEEN_VISITS = 10.0

#: Activities that need one of the user's characters.
NEEDS_CHARACTER = {"view", "edit", "level_up", "export", "import"}
#: Export formats; each user cycles through them in its own random order.
EXPORT_FORMATS = ("json", "pdf", "foundry")
#: Chance that a wizard run is abandoned at a random step (the draft is deleted).
ABANDON_WIZARD = 0.08
#: Chance that a level-up is abandoned before its commit.
ABANDON_LEVEL_UP = 0.05
#: Chance to try a level in another class (multiclassing; the server may refuse it).
MULTICLASS = 0.12
QUESTIONS = (
    "How does {name} work?",
    "What does {name} do?",
    "Explain {name} in simple terms.",
    "When can I use {name}?",
    "how does {lower} work",
)
_SYLLABLES = (
    "ka", "ri", "dor", "el", "wyn", "tha", "mor", "bri", "gan", "li", "sa", "vor", "en",
    "ul", "fen", "ia", "ro", "mi", "thal", "ze",
)  # fmt: skip
_WORDS = (
    "met", "a", "merchant", "near", "the", "old", "bridge", "owes", "us", "gold", "lost",
    "map", "found", "key", "under", "tavern", "sworn", "to", "find", "sister", "storm",
)  # fmt: skip


def hero_name(rng: random.Random) -> str:
    first = "".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()
    if rng.random() < 0.5:
        return first
    return f"{first} {''.join(rng.choice(_SYLLABLES) for _ in range(2)).capitalize()}"


def words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choice(_WORDS) for _ in range(rng.randint(low, high))).capitalize() + "."


def refused_options(problem: Any, field: str, picks: list[str]) -> set[str]:
    """The picked options a 422 problem names (``"<key> needs warlock level 5"``)."""
    errors = problem.get("errors") if isinstance(problem, dict) else None
    found: set[str] = set()
    for error in errors or []:
        if error.get("field") != field:
            continue
        named = set(re.findall(r"[\w-]+", str(error.get("reason", ""))))
        found |= {key for key in picks if key in named}
    return found


class Player:
    """One virtual user. :meth:`live` loops over visits until cancelled."""

    def __init__(
        self,
        number: int,
        api: Api,
        rng: random.Random,
        options: Options,
        recorder: Recorder,
        telemetry_budget: TokenBucket,
        run_tag: str,
    ) -> None:
        self.number = number
        self.api = api
        self.rng = rng
        self.options = options
        self.recorder = recorder
        self.telemetry_budget = telemetry_budget
        self.run_tag = run_tag
        self.browser = Browser(rng)
        #: E-mail and password of every account this user registered (returning visits).
        self.accounts: list[tuple[str, str]] = []
        #: What the browser fetched during the current visit (``/api/srd/*``).
        self.srd: dict[str, Any] = {}
        #: Summaries of the signed-in account's characters.
        self.characters: list[dict[str, Any]] = []
        self.visits = 0
        self.weights = options.weights
        self.export_formats = rng.sample(EXPORT_FORMATS, len(EXPORT_FORMATS))
        self.exports = 0

    # -- pacing ----------------------------------------------------------------------------------

    async def think(self, mean: float) -> None:
        """A person's pause: uniform in 0.5 .. 1.5 × ``mean`` × the think-time scale."""
        seconds = mean * self.options.think_time * self.rng.uniform(0.5, 1.5)
        await asyncio.sleep(seconds)

    async def live(self, start_delay: float = 0.0) -> None:
        await asyncio.sleep(start_delay)
        backoff = max(0.2, self.options.error_backoff * max(self.options.think_time, 0.2))
        while True:
            self.visits += 1
            self.recorder.outcome("visits")
            try:
                await self.visit()
            except VisitFailed:
                self.recorder.outcome("visits_failed")
                await asyncio.sleep(backoff * self.rng.uniform(0.5, 1.5))
            except Exception as exc:  # a bug of the load generator: noted, the user goes on
                self.recorder.crash(exc)
                await asyncio.sleep(max(1.0, backoff))
            await self.think(THINK_BETWEEN_VISITS)

    # -- a visit ---------------------------------------------------------------------------------

    async def visit(self) -> None:
        rng, browser = self.rng, self.browser
        self.api.headers = {}
        self.srd = {}
        self.characters = []
        browser.new_visit()
        browser.page_view("home")
        if self.number == 0 and self.visits == 1:
            browser.js_error("home")  # at least one per run, so error panels have data
        await self.think(THINK_PAGE)
        if rng.random() < 0.2:
            await self.lookup()
            await self.think(THINK_PAGE)
        await self.sign_in()
        await self.list_characters()
        for _ in range(rng.randint(2, 6)):
            await self.think(THINK_PAGE)
            activity = self.pick_activity()
            await getattr(self, f"do_{activity}")()
            await self.flush()
        if rng.random() < 0.6:
            await self.api.call("auth.logout", "POST", "/api/auth/logout", expect=(204,))
            self.api.headers = {}
            self.browser.registered = False
        await self.flush(force=True)

    def pick_activity(self) -> str:
        rng = self.rng
        if not self.characters and self.weights["create"] > 0 and rng.random() < 0.85:
            return "create"
        weights = self.weights
        names = [
            name
            for name in ACTIVITIES
            if weights[name] > 0 and (self.characters or name not in NEEDS_CHARACTER)
        ]
        if not names:  # only activities that need a character, and none yet
            return "create"
        return rng.choices(names, weights=[weights[n] for n in names])[0]

    async def sign_in(self) -> None:
        rng = self.rng
        if self.accounts and rng.random() < 0.75:
            email, password = rng.choice(self.accounts)
            self.browser.page_view("sign-in")
            await self.think(THINK_FORM)
        else:
            email = f"loadgen-{self.run_tag}-u{self.number}-{len(self.accounts)}@example.com"
            password = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(16))
            self.browser.page_view("sign-up")
            await self.think(THINK_FORM)
            await self.api.call(
                "auth.register",
                "POST",
                "/api/auth/register",
                json={"email": email, "password": password},
                expect=(202,),
            )
            self.accounts.append((email, password))
            self.recorder.outcome("registrations")
        reply = await self.api.call(
            "auth.login", "POST", "/api/auth/login", json={"email": email, "password": password}
        )
        self.api.headers = {"Authorization": f"Bearer {reply.data['access_token']}"}
        self.browser.registered = True
        self.recorder.outcome("logins")

    async def list_characters(self) -> None:
        self.browser.page_view("characters")
        reply = await self.api.call(
            "characters.list", "GET", "/api/characters", params={"limit": 50}
        )
        self.characters = list(reply.data["items"])

    async def flush(self, force: bool = False) -> None:
        """Send queued telemetry when a batch is due and the run's telemetry budget allows."""
        browser = self.browser
        if not self.options.telemetry:
            browser.queue.clear()
            return
        while (batch := browser.batch(force)) is not None:
            if not self.telemetry_budget.try_take():
                browser.put_back(batch)
                return
            # As navigator.sendBeacon sends it: a text/plain string, no Authorization header.
            reply = await self.api.call(
                "telemetry",
                "POST",
                "/api/metrics",
                content=json.dumps({"events": batch}, separators=(",", ":")),
                headers={"Content-Type": "text/plain;charset=UTF-8"},
                anonymous=True,
                expect=(202,),
                refuse=(429,),
            )
            if reply.status == 202:
                self.recorder.outcome("telemetry_batches")
                self.recorder.outcome("telemetry_events", reply.data["accepted"])
                if reply.data["rejected"]:
                    self.recorder.outcome("telemetry_events_rejected", reply.data["rejected"])
            else:
                self.recorder.outcome("telemetry_batches_throttled")

    # -- the SRD, as a browser fetches it --------------------------------------------------------

    async def srd_get(
        self, key: str, url: str, params: dict[str, Any] | None = None, operation: str = ""
    ) -> Any:
        """``url``'s JSON, fetched once per visit (the browser keeps what it loaded)."""
        if key not in self.srd:
            name = operation or f"srd.{key.split(':')[0]}"
            self.srd[key] = (await self.api.call(name, "GET", url, params=params)).data
        return self.srd[key]

    async def classes(self) -> list[dict[str, Any]]:
        return await self.srd_get("classes", "/api/srd/classes")

    async def class_detail(self, index: str) -> dict[str, Any]:
        return await self.srd_get(f"class:{index}", f"/api/srd/classes/{index}")

    async def class_spells(self, index: str) -> list[dict[str, Any]]:
        page = await self.srd_get(
            f"spells:{index}", "/api/srd/spells", params={"class": index, "limit": 500}
        )
        return list(page["items"])

    async def abilities(self) -> list[str]:
        """The six ability indices, as the service names them: every one is some class's
        saving throw."""
        seen: dict[str, None] = {}
        for klass in await self.classes():
            for save in klass["saving_throws"]:
                seen.setdefault(save["index"], None)
        return list(seen)

    async def search_terms(self) -> list[str]:
        """Names a player might look up: races, racial traits, classes, subclasses, spells."""
        if "terms" not in self.srd:
            races = await self.srd_get("races", "/api/srd/races")
            classes = await self.classes()
            offset = self.rng.randrange(0, 300)
            spells = await self.srd_get(
                "spells", "/api/srd/spells", params={"limit": 50, "offset": offset}
            )
            if not spells["items"] and offset:
                spells = await self.api.call(
                    "srd.spells", "GET", "/api/srd/spells", params={"limit": 50}
                )
                spells = spells.data
            names = [r["name"] for r in races] + [t["name"] for r in races for t in r["traits"]]
            names += [c["name"] for c in classes] + [
                s["name"] for c in classes for s in c["subclasses"]
            ]
            names += [s["name"] for s in spells["items"]]
            self.srd["terms"] = sorted(set(names))
        return self.srd["terms"]

    # -- activities ------------------------------------------------------------------------------

    def pick_character(self) -> dict[str, Any]:
        return self.rng.choice(self.characters)

    async def view(self, character_id: str) -> dict[str, Any]:
        self.browser.page_view("character-sheet")
        reply = await self.api.call("characters.view", "GET", f"/api/characters/{character_id}")
        self.recorder.outcome("sheets_viewed")
        return reply.data

    async def do_view(self) -> None:
        await self.view(self.pick_character()["id"])

    async def do_edit(self) -> None:
        rng = self.rng
        character = await self.view(self.pick_character()["id"])
        await self.think(THINK_FORM)
        kind = rng.choices(
            ["notes", "personality", "name", "currency", "add_item", "equip"],
            weights=[3, 2, 1, 2, 2, 1],
        )[0]
        body: dict[str, Any]
        if kind == "notes":
            body = {"notes": words(rng, 4, 30)}
        elif kind == "personality":
            body = {
                rng.choice(["personality_traits", "ideals", "bonds", "flaws"]): [words(rng, 4, 12)]
            }
        elif kind == "name":
            body = {"name": hero_name(rng)}
        elif kind == "currency":
            coins = dict(character["currency"])
            coin = rng.choice(sorted(coins))
            coins[coin] = max(0, coins[coin] + rng.randint(-5, 25))
            body = {"currency": coins}
        elif kind == "add_item":
            page = await self.srd_get(
                "equipment", "/api/srd/equipment", params={"limit": 100, "offset": 0}
            )
            item = rng.choice(page["items"])
            body = {"inventory": {"add": [{"index": item["index"], "quantity": rng.randint(1, 3)}]}}
        else:
            items = character["inventory"]
            if not items:
                return
            item = rng.choice(items)
            change = "unequip" if item.get("equipped") else "equip"
            body = {"inventory": {change: [item["index"]]}}
        reply = await self.api.call(
            "characters.edit",
            "PATCH",
            f"/api/characters/{character['id']}",
            json=body,
            refuse=(422,),
        )
        if reply.ok:
            self.recorder.outcome("edits")

    async def do_lookup(self) -> None:
        await self.lookup()

    async def lookup(self) -> None:
        """A rule search (exact names, prefixes, typos), then often one of the entries found."""
        rng = self.rng
        self.browser.page_view("rules-search")
        term = self.query(rng.choice(await self.search_terms()))
        await self.think(THINK_PICK)
        reply = await self.api.call(
            "rules.search", "GET", "/api/rules/search", params={"q": term}, refuse=(422,)
        )
        if not reply.ok:
            return
        self.recorder.outcome("searches")
        page = reply.data
        if page["total"] > page["limit"] and rng.random() < 0.15:
            await self.think(THINK_PICK)
            await self.api.call(
                "rules.search",
                "GET",
                "/api/rules/search",
                params={"q": term, "offset": page["limit"]},
            )
            self.recorder.outcome("searches")
        if page["items"] and rng.random() < 0.8:
            await self.think(THINK_PAGE)
            item = rng.choice(page["items"][:5])
            self.browser.page_view("rule-entry")
            await self.api.call("rules.entry", "GET", f"/api/rules/{item['kind']}/{item['index']}")
            self.recorder.outcome("entries_read")

    def query(self, name: str) -> str:
        """What a player types for ``name``: the name, a word's prefix, a typo, lower case."""
        rng = self.rng
        roll = rng.random()
        longest = max(name.split(), key=len)
        if roll < 0.5 or len(longest) < 5:
            return name
        if roll < 0.7:
            return longest[: rng.randint(3, len(longest) - 1)].lower()
        if roll < 0.85:
            i = rng.randint(1, len(longest) - 3)
            return (longest[:i] + longest[i + 1] + longest[i] + longest[i + 2 :]).lower()
        return name.lower()

    async def do_ask(self) -> None:
        rng = self.rng
        self.browser.page_view("assistant")
        name = rng.choice(await self.search_terms())
        question = rng.choice(QUESTIONS).format(name=name, lower=name.lower())
        body: dict[str, Any] = {"question": question}
        if self.characters and rng.random() < 0.5:
            body["character_id"] = self.pick_character()["id"]
        await self.think(THINK_FORM)
        await self.api.call("assistant.ask", "POST", "/api/assistant/ask", json=body)
        self.recorder.outcome("questions")

    async def do_export(self) -> None:
        character = self.pick_character()
        self.browser.page_view("export")
        await self.think(THINK_PICK)
        fmt = self.export_formats[self.exports % len(self.export_formats)]
        self.exports += 1
        await self.api.call(
            f"export.{fmt}",
            "GET",
            f"/api/characters/{character['id']}/export",
            params={"format": fmt},
        )
        self.recorder.outcome(f"exports_{fmt}")

    async def do_import(self) -> None:
        """Export a character as JSON and import the file back: a copy of it."""
        character = self.pick_character()
        self.browser.page_view("export")
        reply = await self.api.call(
            "export.json",
            "GET",
            f"/api/characters/{character['id']}/export",
            params={"format": "json"},
        )
        self.recorder.outcome("exports_json")
        self.browser.page_view("import")
        await self.think(THINK_FORM)
        imported = await self.api.call(
            "import",
            "POST",
            "/api/characters/import",
            json=reply.data,
            expect=(201,),
            refuse=(413,),
        )
        if imported.ok:
            self.recorder.outcome("imports")
            self.characters.append(imported.data)

    # -- the creation wizard ---------------------------------------------------------------------

    async def do_create(self) -> None:
        await self.create_character()

    async def create_character(self) -> dict[str, Any] | None:
        """Run the wizard step by step; the finalized character, or ``None`` if abandoned."""
        rng, browser = self.rng, self.browser
        wizard_started = time.monotonic()
        abandon_at = (
            rng.choice(["race", "class", "background", "ability-scores", "choices", "details"])
            if rng.random() < ABANDON_WIZARD
            else None
        )
        browser.page_view("wizard-race")
        races = await self.srd_get("races", "/api/srd/races")
        draft = (
            await self.api.call("wizard.start", "POST", "/api/characters/drafts", expect=(201,))
        ).data
        base = f"/api/characters/drafts/{draft['id']}"

        async def step(name: str, shown: float, method: str, url: str, body: Any = None) -> Any:
            reply = await self.api.call(f"wizard.{name}", method, url, json=body)
            browser.wizard_step(name, time.monotonic() - shown)
            return reply.data

        async def abandon() -> None:
            await self.api.call("wizard.abandon", "DELETE", base, expect=(204,))
            self.recorder.outcome("drafts_abandoned")

        # Race
        shown = time.monotonic()
        await self.think(THINK_STEP)
        race = rng.choice(races)
        subrace = rng.choice(race["subraces"])["index"] if race["subraces"] else None
        draft = await step(
            "race", shown, "PUT", f"{base}/race", {"race": race["index"], "subrace": subrace}
        )
        if abandon_at == "race":
            return await abandon()
        # Class
        browser.page_view("wizard-class")
        shown = time.monotonic()
        klass = rng.choice(await self.classes())
        await self.think(THINK_PICK)
        detail = await self.class_detail(klass["index"])
        await self.think(THINK_STEP)
        subclass = (
            rng.choice(detail["subclasses"])["index"] if detail["subclass_level"] == 1 else None
        )
        draft = await step(
            "class", shown, "PUT", f"{base}/class", {"class": klass["index"], "subclass": subclass}
        )
        if abandon_at == "class":
            return await abandon()
        # Background
        browser.page_view("wizard-background")
        shown = time.monotonic()
        backgrounds = await self.srd_get("backgrounds", "/api/srd/backgrounds")
        await self.think(THINK_STEP)
        background = rng.choice(backgrounds)
        draft = await step(
            "background", shown, "PUT", f"{base}/background", {"background": background["index"]}
        )
        if abandon_at == "background":
            return await abandon()
        # Ability scores
        browser.page_view("wizard-abilities")
        shown = time.monotonic()
        await self.think(THINK_STEP)
        draft = await self.ability_scores(base, detail, draft)
        browser.wizard_step("ability-scores", time.monotonic() - shown)
        if abandon_at == "ability-scores":
            return await abandon()
        # Choices
        browser.page_view("wizard-skills")
        shown = time.monotonic()
        draft, settled = await self.answer_choices(draft, f"{base}/choices", "wizard.choices")
        browser.wizard_step("choices", time.monotonic() - shown)
        if abandon_at == "choices" or not settled:
            if not settled:
                self.recorder.outcome("wizard_choices_unsettled")
            return await abandon()
        # Spells
        if draft["spell_rules"]:
            browser.page_view("wizard-spells")
            shown = time.monotonic()
            await self.think(THINK_STEP)
            draft = await self.wizard_spells(base, klass["index"], draft)
            browser.wizard_step("spells", time.monotonic() - shown)
        # Details
        browser.page_view("wizard-details")
        shown = time.monotonic()
        alignments = await self.srd_get("alignments", "/api/srd/alignments")
        await self.think(THINK_STEP)
        details: dict[str, Any] = {
            "name": hero_name(rng),
            "alignment": rng.choice(alignments)["index"],
        }
        for field in ("personality_traits", "ideals", "bonds", "flaws"):
            suggestions = [s for s in background.get(field) or [] if isinstance(s, str)]
            if suggestions and rng.random() < 0.5:
                details[field] = [rng.choice(suggestions)[:500]]
        if rng.random() < 0.3:
            details["backstory"] = words(rng, 10, 60)
        draft = await step("details", shown, "PUT", f"{base}/details", details)
        if abandon_at == "details" or draft["missing"]:
            if draft["missing"]:
                self.recorder.outcome("wizard_incomplete")
            return await abandon()
        # Finalize
        shown = time.monotonic()
        await self.think(THINK_PICK)
        reply = await self.api.call("wizard.finalize", "POST", f"{base}/finalize", expect=(201,))
        browser.wizard_step("finalize", time.monotonic() - shown)
        browser.wizard_complete(time.monotonic() - wizard_started)
        self.recorder.outcome("characters_created")
        character = reply.data
        self.characters.append(character)
        return character

    async def ability_scores(
        self, base: str, detail: dict[str, Any], draft: dict[str, Any]
    ) -> dict[str, Any]:
        """Standard array, point buy or the server's dice, best scores where the class needs
        them (its spellcasting ability, then its saving throws), the rest in random order."""
        rng = self.rng
        abilities = await self.abilities()
        rest = [a for a in abilities]
        rng.shuffle(rest)
        priority = [detail["spellcasting_ability"]] if detail["spellcasting_ability"] else []
        priority += [s["index"] for s in detail["saving_throws"]]
        order = list(dict.fromkeys([*priority, *rest]))
        method = rng.choices(["standard_array", "point_buy", "rolled"], weights=[5, 3, 2])[0]
        if method == "rolled":
            view = (
                await self.api.call(
                    "wizard.roll", "POST", f"{base}/ability-scores/roll", refuse=(409,)
                )
            ).data
            rolled = (view.get("chosen") or draft["chosen"])["ability_scores"]["rolled"]
            values = sorted((r["total"] for r in rolled), reverse=True)
        elif method == "point_buy":
            values = self.point_buy(len(order))
        else:
            values = sorted(STANDARD_ARRAY, reverse=True)
        scores = dict(zip(order, values, strict=False))
        reply = await self.api.call(
            "wizard.ability-scores",
            "PUT",
            f"{base}/ability-scores",
            json={"method": method, "scores": scores},
        )
        return reply.data

    def point_buy(self, count: int) -> list[int]:
        """Scores within the point-buy budget, highest first, spent mostly on the first ones."""
        rng = self.rng
        lowest, highest = min(POINT_BUY_COST), max(POINT_BUY_COST)
        scores = [lowest] * count
        budget = POINT_BUY_BUDGET
        while True:
            affordable = [
                i
                for i, s in enumerate(scores)
                if s < highest and POINT_BUY_COST[s + 1] - POINT_BUY_COST[s] <= budget
            ]
            if not affordable:
                break
            i = rng.choices(affordable, weights=[count - i for i in affordable])[0]
            budget -= POINT_BUY_COST[scores[i] + 1] - POINT_BUY_COST[scores[i]]
            scores[i] += 1
        return sorted(scores, reverse=True)

    async def answer_choices(
        self, view: dict[str, Any], url: str, operation: str
    ) -> tuple[dict[str, Any], bool]:
        """Answer each open choice of a draft or level-up view with random options, avoiding
        what the preview says the character has or what other choices took; a 422 (the server
        found the pick illegal) means trying another pick. Returns the view and whether every
        choice got an answer."""
        rng = self.rng
        equipment_shown = False
        for _ in range(60):
            pending = [c for c in view["choices"] if c["selected"] is None]
            if not pending:
                return view, True
            choice = pending[0]
            if (
                choice["type"] == "equipment"
                and not equipment_shown
                and operation.startswith("wizard")
            ):
                self.browser.page_view("wizard-equipment")
                equipment_shown = True
            have = {
                p["index"]
                for group in ((view.get("preview") or {}).get("proficiencies") or {}).values()
                for p in group
            }
            taken = {
                k for c in view["choices"] if c["id"] != choice["id"] for k in c["selected"] or []
            }
            options = choice["options"]
            keys = [o["key"] for o in options]
            if choice["type"] == "proficiency":  # expertise: in skills the character has
                preferred = [k for k in keys if k in have]
            else:
                preferred = [
                    o["key"]
                    for o in options
                    if o["key"] not in have
                    and o["key"] not in taken
                    and all(p in have for p in o.get("requires_proficiency", []))
                ]
            n = choice["choose"]
            refused: set[str] = set()  # options the server said no to, as a player learns
            for attempt in range(12):
                usable = [k for k in preferred if k not in refused]
                if len(usable) < n or attempt >= 8:
                    usable = [k for k in keys if k not in refused] or keys
                picks = rng.sample(usable, n) if len(usable) >= n else rng.choices(usable, k=n)
                await self.think(THINK_PICK)
                reply = await self.api.call(
                    operation,
                    "PUT",
                    url,
                    json={"selections": {choice["id"]: picks}},
                    refuse=(422,),
                )
                if reply.ok:
                    view = reply.data
                    break
                refused |= refused_options(reply.data, f"choices.{choice['id']}", picks)
            else:
                return view, False
        return view, False

    async def wizard_spells(
        self, base: str, class_index: str, draft: dict[str, Any]
    ) -> dict[str, Any]:
        rng = self.rng
        rules = draft["spell_rules"]
        spells = await self.class_spells(class_index)
        always = set(draft["always_prepared"])
        known = {k for c in draft["choices"] if c["type"] == "spell" for k in c["selected"] or []}
        cantrips = [s["index"] for s in spells if s["level"] == 0 and s["index"] not in known]
        leveled = [
            s["index"]
            for s in spells
            if 1 <= s["level"] <= rules["max_level"] and s["index"] not in always | known
        ]

        def sample(pool: list[str], n: int | None) -> list[str]:
            return rng.sample(pool, min(len(pool), n or 0))

        for _ in range(4):
            body: dict[str, Any] = {"cantrips": sample(cantrips, rules["cantrips"])}
            if not rules["prepares"]:
                body["spells"] = sample(leveled, rules["known"])
            elif rules["spellbook"]:
                book = sample(leveled, rules["known"])
                body["spells"] = book
                body["prepared"] = sample(book, rules["prepared"] or 1)
            else:
                body["prepared"] = sample(leveled, rules["prepared"] or 1)
            reply = await self.api.call(
                "wizard.spells", "PUT", f"{base}/spells", json=body, refuse=(422,)
            )
            if reply.ok:
                return reply.data
            await self.think(THINK_PICK)
        return draft

    # -- level-ups -------------------------------------------------------------------------------

    async def do_level_up(self) -> None:
        await self.level_up(self.pick_character()["id"])

    async def start_level_up(self, character_id: str, class_index: str) -> Reply:
        url = f"/api/characters/{character_id}/level-ups"
        reply = await self.api.call(
            "levelup.start",
            "POST",
            url,
            json={"class": class_index},
            expect=(201,),
            refuse=(409, 422),
        )
        if reply.status == 409:  # a level-up left open by an earlier visit: abandon it first
            history = await self.api.call("levelup.history", "GET", url)
            for session in history.data:
                if session["status"] == "open":
                    await self.api.call(
                        "levelup.abandon", "DELETE", f"{url}/{session['id']}", expect=(204,)
                    )
                    self.recorder.outcome("level_ups_abandoned")
            reply = await self.api.call(
                "levelup.start",
                "POST",
                url,
                json={"class": class_index},
                expect=(201,),
                refuse=(422,),
            )
        return reply

    async def level_up(self, character_id: str) -> None:
        rng = self.rng
        character = await self.view(character_id)
        if character["level"] >= 20:
            return
        self.browser.page_view("level-up")
        own = self.own_classes(character)
        await self.think(THINK_STEP)
        klass = rng.choice(own)
        if rng.random() < MULTICLASS:
            others = [c["index"] for c in await self.classes() if c["index"] not in own]
            if others:
                klass = rng.choice(others)
        reply = await self.start_level_up(character_id, klass)
        if reply.status == 422 and klass not in own:  # multiclassing prerequisites not met
            klass = rng.choice(own)
            reply = await self.start_level_up(character_id, klass)
        if not reply.ok:
            return
        view = reply.data
        url = f"/api/characters/{character_id}/level-ups/{view['id']}"
        if rng.random() < ABANDON_LEVEL_UP:
            await self.think(THINK_STEP)
            await self.api.call("levelup.abandon", "DELETE", url, expect=(204,))
            self.recorder.outcome("level_ups_abandoned")
            return
        await self.think(THINK_PICK)
        view = (
            await self.api.call(
                "levelup.hit-points",
                "PUT",
                f"{url}/hit-points",
                json={"method": rng.choice(["average", "rolled"])},
            )
        ).data
        if view["subclass_options"]:
            await self.think(THINK_STEP)
            view = (
                await self.api.call(
                    "levelup.subclass",
                    "PUT",
                    f"{url}/subclass",
                    json={"subclass": rng.choice(view["subclass_options"])},
                )
            ).data
        if view["ability_score_improvement"]["available"]:
            await self.think(THINK_STEP)
            view = await self.improvement(url, view)
        view, _ = await self.answer_choices(view, f"{url}/choices", "levelup.choices")
        if view["spell_plan"]:
            await self.think(THINK_STEP)
            view = await self.level_up_spells(url, klass, view)
        if view["missing"]:
            self.recorder.outcome("level_ups_incomplete")
            await self.api.call("levelup.abandon", "DELETE", url, expect=(204,))
            self.recorder.outcome("level_ups_abandoned")
            return
        await self.think(THINK_PICK)
        await self.api.call("levelup.commit", "POST", f"{url}/commit")
        self.recorder.outcome("levels_gained")

    def own_classes(self, character: dict[str, Any]) -> list[str]:
        classes = (character.get("sheet") or {}).get("classes") or []
        found = []
        for entry in classes:
            if isinstance(entry, dict):
                found.append(entry.get("class") or entry.get("index"))
            elif isinstance(entry, str):
                found.append(entry)
        found = [c for c in found if c]
        return found or [character["class"]]

    async def improvement(self, url: str, view: dict[str, Any]) -> dict[str, Any]:
        """A feat now and then (the server refuses one whose prerequisite is not met), else +2
        to one ability or +1 to two, never above 20."""
        rng = self.rng
        feats = view["ability_score_improvement"]["feats"]
        if feats and rng.random() < 0.25:
            reply = await self.api.call(
                "levelup.ability-scores",
                "PUT",
                f"{url}/ability-scores",
                json={"feat": rng.choice(feats)},
                refuse=(422,),
            )
            if reply.ok:
                return reply.data
        scores = {a: v["score"] for a, v in view["preview"]["abilities"].items()}
        for _ in range(3):
            if rng.random() < 0.5:
                room = [a for a, s in scores.items() if s <= 18]
                increases = {rng.choice(room): 2} if room else {}
            else:
                room = [a for a, s in scores.items() if s <= 19]
                increases = {a: 1 for a in rng.sample(room, 2)} if len(room) >= 2 else {}
            if not increases:
                break
            reply = await self.api.call(
                "levelup.ability-scores",
                "PUT",
                f"{url}/ability-scores",
                json={"increases": increases},
                refuse=(422,),
            )
            if reply.ok:
                return reply.data
        return view

    async def level_up_spells(
        self, url: str, class_index: str, view: dict[str, Any]
    ) -> dict[str, Any]:
        rng = self.rng
        plan = view["spell_plan"]
        casting = ((view.get("preview") or {}).get("spellcasting") or {}).get("classes", [])
        mine = next((c for c in casting if c.get("class") == class_index), None) or {}
        known = set(mine.get("cantrips", []) + mine.get("spells_known", []))
        own = await self.class_spells(class_index)
        cantrips = [s["index"] for s in own if s["level"] == 0 and s["index"] not in known]
        leveled = [
            s["index"]
            for s in own
            if 1 <= s["level"] <= plan["max_level"] and s["index"] not in known
        ]
        for _ in range(4):
            body: dict[str, Any] = {
                "cantrips": rng.sample(cantrips, min(len(cantrips), plan["new_cantrips"])),
                "spells": rng.sample(leveled, min(len(leveled), plan["new_spells"])),
            }
            if plan.get("arcanum_level"):
                arcanum = [s["index"] for s in own if s["level"] == plan["arcanum_level"]]
                body["arcanum"] = [rng.choice(arcanum)] if arcanum else []
            if plan.get("prepares"):
                always = set(mine.get("always_prepared", []))
                if mine.get("spells_known") or body["spells"]:
                    pool = [*mine.get("spells_known", []), *body["spells"]]
                else:
                    pool = [s["index"] for s in own if 1 <= s["level"] <= plan["max_level"]]
                pool = [s for s in dict.fromkeys(pool) if s not in always]
                body["prepared"] = rng.sample(pool, min(len(pool), plan["max_prepared"] or 1))
            reply = await self.api.call(
                "levelup.spells", "PUT", f"{url}/spells", json=body, refuse=(422,)
            )
            if reply.ok:
                return reply.data
            await self.think(THINK_PICK)
        return view
