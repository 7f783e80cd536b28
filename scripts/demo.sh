#!/usr/bin/env bash
# The README's worked session, end to end: register, log in, build a level-1 Hill Dwarf Cleric
# (Life domain) through every step of the creation wizard, finalize it and print its sheet; then
# level it up to 2, search the rules, ask the rules assistant and export the sheet as a PDF.
#
#   scripts/demo.sh [BASE_URL]        # default: http://127.0.0.1:8000 (start it with `make run`)
#
# Needs only bash, curl and python3 (for reading JSON). Any refused step stops the script with
# a non-zero exit status after printing the server's problem document.
set -euo pipefail

BASE=${1:-http://127.0.0.1:8000}
BASE=${BASE%/}
EMAIL="demo-$(date +%s)-$RANDOM@example.com"
PASSWORD="correct horse battery staple"
TOKEN=

if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD= PLAIN=; fi
say() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }

# api METHOD PATH [JSON]: print the response body; on an HTTP error print it to stderr and fail.
api() {
  local method=$1 path=$2 body=${3:-} out
  local args=(--silent --show-error --fail-with-body -X "$method" "$BASE$path")
  if [ -n "$TOKEN" ]; then args+=(-H "Authorization: Bearer $TOKEN"); fi
  if [ -n "$body" ]; then args+=(-H 'Content-Type: application/json' --data "$body"); fi
  if ! out=$(curl "${args[@]}"); then
    printf '%s %s failed:\n%s\n' "$method" "$path" "$out" >&2
    return 1
  fi
  printf '%s' "$out"
}

# field EXPR: evaluate a Python expression over the JSON document `d` read from stdin.
# (An empty document means the request failed and was reported already: exit quietly.)
field() { python3 -c "import json, sys; t = sys.stdin.read() or sys.exit(1); d = json.loads(t); print($1)"; }

# missing: print a draft's `missing` list (what still stops it from being finalized).
read -r -d '' MISSING_PY <<'PY' || true
import json, sys
d = json.loads(sys.stdin.read() or sys.exit(1))
print(f"complete: {d['complete']}; still missing: {len(d['missing'])}")
for m in d["missing"]:
    print(f"  - {m['field']}: {m['reason']}")
PY
missing() { python3 -c "$MISSING_PY"; }

# The finished character, printed as a readable sheet.
read -r -d '' SHEET_PY <<'PY' || true
import json, sys

c = json.loads(sys.stdin.read() or sys.exit(1))
s = c["sheet"]


def signed(n):
    return f"{n:+d}"


def mark(entry):
    return "*" if entry["proficient"] else ""


race = s["subrace"]["name"] if s["subrace"] else s["race"]["name"]
classes = " / ".join(
    f"{k['name']} {k['level']}" + (f" ({k['subclass']})" if k["subclass"] else "")
    for k in s["classes"])
print(f"{c['name']}: level {s['level']} {race} {classes}, "
      f"{c['background']}, {c['details']['alignment']}")
print()
print("  ".join(f"{a.upper()} {v['score']} ({signed(v['modifier'])})"
                for a, v in s["abilities"].items()))
print()
ac, hp = s["armor_class"], s["hit_points"]
print(f"AC {ac['value']} ({ac['source']})   HP {hp['max']} (hit dice {hp['hit_dice']})   "
      f"speed {s['speed']} ft   initiative {signed(s['initiative'])}   "
      f"proficiency bonus {signed(s['proficiency_bonus'])}")
print("saving throws: " + ", ".join(
    f"{a} {signed(v['bonus'])}{mark(v)}" for a, v in s["saving_throws"].items()))
print("skills: " + ", ".join(
    f"{v['name']} {signed(v['bonus'])}{mark(v)}" for v in s["skills"].values()))
print(f"passive perception {s['passive_perception']}   (* = proficient)")
sc = s["spellcasting"]
if sc:
    print()
    slots = ", ".join(f"{n} of level {lvl}" for lvl, n in sc["slots"].items())
    print(f"spell slots: {slots or 'none'}")
    if sc["pact_magic"]:
        print(f"pact magic: {sc['pact_magic']['slots']} slots of level {sc['pact_magic']['level']}")
    for k in sc["classes"]:
        print(f"{k['class']} spellcasting ({k['ability']}): save DC {k['save_dc']}, "
              f"spell attack {signed(k['attack_bonus'])}")
        for label, key in (("cantrips", "cantrips"), ("known", "spells_known"),
                           ("prepared", "prepared"), ("always prepared", "always_prepared")):
            if k[key]:
                print(f"  {label}: " + ", ".join(k[key]))
print()
print("languages: " + ", ".join(lang["name"] for lang in s["languages"]))
for kind, profs in s["proficiencies"].items():
    print(f"{kind.lower()}: " + ", ".join(p["name"] for p in profs))
print("features: " + ", ".join(f"{f['name']} ({f['source']})" for f in s["features"]))
print("inventory: " + "; ".join(
    (f"{i['quantity']} x " if i["quantity"] > 1 else "") + i["name"]
    + (" [equipped]" if i["equipped"] else "") for i in c["inventory"]))
print("money: " + (", ".join(f"{v} {k}" for k, v in c["currency"].items() if v) or "none"))
print()
print(c["attribution"])
PY

say "Service at $BASE"
api GET /healthz >/dev/null || {
  echo "no service answers at $BASE (start one with: make run)" >&2
  exit 1
}
echo "healthy"

say "Register $EMAIL"
api POST /api/auth/register "{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\"}" |
  field '"registered " + d["email"]'

say "Log in"
login=$(api POST /api/auth/login "{\"email\": \"$EMAIL\", \"password\": \"$PASSWORD\"}")
TOKEN=$(printf '%s' "$login" | field 'd["access_token"]')
printf '%s' "$login" | field '"bearer token received, valid until " + d["expires_at"]'

say "Start a draft"
draft=$(api POST /api/characters/drafts)
DRAFT=$(printf '%s' "$draft" | field 'd["id"]')
D=/api/characters/drafts/$DRAFT
printf '%s' "$draft" | field '"draft " + d["id"] + " started at " + d["started_at"]'

say "Race: dwarf / hill-dwarf"
api PUT "$D/race" '{"race": "dwarf", "subrace": "hill-dwarf"}' |
  field '"open choices: " + ", ".join(c["id"] for c in d["choices"])'

say "Class: cleric, Life domain"
api PUT "$D/class" '{"class": "cleric", "subclass": "life"}' |
  field '"always prepared: " + ", ".join(d["always_prepared"])'

say "Background: acolyte (grants Insight and Religion)"
api PUT "$D/background" '{"background": "acolyte"}' >/dev/null
echo "ok"

say "Ability scores: standard array"
api PUT "$D/ability-scores" \
  '{"method": "standard_array",
    "scores": {"str": 14, "dex": 8, "con": 13, "int": 10, "wis": 15, "cha": 12}}' |
  field '"final scores: " + ", ".join(a + " " + str(v["score"]) for a, v in d["preview"]["abilities"].items())
         + "; may prepare " + str(d["spell_rules"]["prepared"]) + " spells"'

say "GET the draft: what is still missing?"
api GET "$D" | missing

say "Choices: tools, skills, equipment, languages"
api PUT "$D/choices" '{"selections": {
    "trait:tool-proficiency": ["smiths-tools"],
    "class:proficiencies:0": ["skill-history", "skill-medicine"],
    "class:equipment:0": ["warhammer"],
    "class:equipment:1": ["chain-mail"],
    "class:equipment:2": ["a"],
    "class:equipment:3": ["priests-pack"],
    "class:equipment:4": ["amulet"],
    "background:languages": ["elvish", "celestial"],
    "background:equipment:0": ["emblem"]}}' | missing

say "Spells: 3 cantrips, 4 prepared (bless and cure-wounds come with the Life domain)"
api PUT "$D/spells" \
  '{"cantrips": ["guidance", "sacred-flame", "spare-the-dying"],
    "prepared": ["healing-word", "guiding-bolt", "shield-of-faith", "sanctuary"]}' | missing

say "Details: name and alignment"
api PUT "$D/details" '{"name": "Brottor Ironfist", "alignment": "lawful-good"}' | missing

say "Finalize"
CHARACTER=$(api POST "$D/finalize" | field 'd["id"]')
echo "character $CHARACTER created"

say "The character sheet (GET /api/characters/$CHARACTER)"
api GET "/api/characters/$CHARACTER" | python3 -c "$SHEET_PY"

say "Level up to 2: cleric, fixed average hit points"
L=/api/characters/$CHARACTER/level-ups
LEVEL_UP=$(api POST "$L" '{"class": "cleric"}' | field 'd["id"]')
api GET "$L/$LEVEL_UP" | missing
api PUT "$L/$LEVEL_UP/hit-points" '{"method": "average"}' | missing
api POST "$L/$LEVEL_UP/commit" |
  field '"level " + str(d["level"]) + ": HP " + str(d["sheet"]["hit_points"]["max"])
         + ", new: " + ", ".join(f["name"] for f in d["sheet"]["features"]
                                 if f["source"] == "class" and f.get("level") == 2)'

say "Rule search: grappled"
api GET "/api/rules/search?q=grappled&limit=3" |
  field 'chr(10).join(i["kind"].ljust(10) + i["name"] + ": " + i["snippet"].replace(chr(10), " ")[:90] for i in d["items"])'

say "Ask the rules assistant: How does grappling work?"
api POST /api/assistant/ask \
  "{\"question\": \"How does grappling work?\", \"character_id\": \"$CHARACTER\"}" |
  field 'd["answer"][:600] + "\n\ncited: " + ", ".join(c["name"] for c in d["citations"])'

say "Export the character sheet as PDF"
PDF=${TMPDIR:-/tmp}/hero-foundry-$CHARACTER.pdf
curl --silent --show-error --fail-with-body -H "Authorization: Bearer $TOKEN" \
  -o "$PDF" "$BASE/api/characters/$CHARACTER/export?format=pdf"
echo "saved $PDF ($(wc -c <"$PDF") bytes)"
