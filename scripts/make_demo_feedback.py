"""Generate the fictional demo file data/customer_feedback_2026.csv.

Northwind Robotics is a fictional company invented for the RAGdesk demo.
Every comment is produced from hand-written templates in this script; nothing
is taken from a real dataset. Output is deterministic (fixed random seed), so
re-running the script reproduces the same CSV byte for byte.

Usage:  python scripts/make_demo_feedback.py [output_path]
"""

from __future__ import annotations

import csv
import random
import sys
from datetime import date, timedelta
from pathlib import Path

SEED = 20260825  # fixed; picked so the map re-sync trend is monotone month by month
N_ROWS = 400
START = date(2026, 1, 5)
END = date(2026, 10, 30)

PRODUCTS = ["Atlas AMR", "Beacon Arm", "FleetOS"]
CHANNELS = ["support ticket", "NPS survey", "app store", "sales call"]
REGIONS = ["North America", "Europe", "APAC"]

# ---------------------------------------------------------------------------
# Slot values
# ---------------------------------------------------------------------------
SITES = {
    "North America": ["Columbus", "Reno", "Memphis", "Allentown", "Dallas", "Toronto", "Indianapolis", "Savannah"],
    "Europe": ["Venlo", "Duisburg", "Lyon", "Poznan", "Milton Keynes", "Gothenburg", "Zaragoza", "Tilburg"],
    "APAC": ["Melbourne", "Osaka", "Singapore", "Auckland", "Incheon", "Brisbane", "Penang"],
}
COUNTRIES = {
    "North America": ["Canada", "Mexico", "our Texas sites", "the West Coast"],
    "Europe": ["Germany", "France", "Poland", "Sweden", "Spain", "the UK"],
    "APAC": ["Australia", "Japan", "New Zealand", "Singapore", "Korea"],
}
LANGUAGES = {
    "North America": ["Spanish", "French", "Vietnamese"],
    "Europe": ["German", "Polish", "Dutch", "French", "Spanish"],
    "APAC": ["Japanese", "Korean", "Bahasa"],
}
PARTS = {
    "Atlas AMR": ["drive wheel", "lidar sensor", "caster assembly", "battery pack", "charging contact plate", "bumper switch", "e-stop button"],
    "Beacon Arm": ["suction cup set", "gripper pad", "wrist actuator", "vision camera", "vacuum pump", "tool changer"],
}
WMS = ["SAP EWM", "SAP EWM", "Manhattan Active WM", "Manhattan SCALE", "Blue Yonder", "Korber", "our in-house WMS"]
SUPPORT_NAMES = ["Jamal", "Sofia", "Kenji", "Ana", "Lukas", "Bree", "Tariq", "Ingrid"]

# Firmware / software history of the fictional products.
FIRMWARE = [
    (date(2025, 11, 3), "3.7.2"),
    (date(2026, 2, 16), "3.7.4"),
    (date(2026, 5, 12), "3.8.0"),  # the release that broke map re-sync
    (date(2026, 6, 9), "3.8.1"),
    (date(2026, 7, 14), "3.8.2"),
]
FLEETOS = [(date(2025, 9, 1), "3.9"), (date(2026, 2, 10), "4.0"), (date(2026, 6, 16), "4.1")]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]


def released(history, d):
    return [v for (rel, v) in history if rel <= d]


# ---------------------------------------------------------------------------
# Themes. Each theme has per-rating-bucket sentence pools ("low" = 1-2,
# "mid" = 3, "high" = 4-5), optional openers / closers, product, region,
# channel and rating distributions, and a month-dependent weight.
# ---------------------------------------------------------------------------
THEMES = {}

THEMES["map_resync"] = dict(
    products={"FleetOS": 0.55, "Atlas AMR": 0.45},
    regions={"North America": 0.5, "Europe": 0.32, "APAC": 0.18},
    channels={"support ticket": 0.5, "NPS survey": 0.25, "app store": 0.18, "sales call": 0.07},
    ratings={1: 0.45, 2: 0.35, 3: 0.14, 4: 0.06},
    low=[
        "After the {fw} firmware update our robots keep losing the map and need a full re-sync.",
        "Map re-sync failed again at {site}. {n} robots sat idle for {mins} minutes.",
        "Every time an update goes out the map has to re-sync and half the fleet stops.",
        "Re-sync stuck at {pct}% for over an hour this morning.",
        'The "Map sync pending" banner never clears after the update, and the robots refuse new missions.',
        "Since {fw}, robots relocalize in the wrong aisle and we have to re-map zone {zone} by hand.",
        "Map edits made in FleetOS don't reach the robots until we force a re-sync, which takes forever.",
        "We lost most of a shift to map re-sync problems.",
        "Robots show localization lost after the patch. Support told us to re-sync the map, which takes {mins} minutes every time.",
        "re-sync after the firmware update broke our picking routes",
        "Map sync fails whenever we have more than {n} robots online.",
        "After updating to {fw} the fleet map and the robot maps don't match anymore.",
        "Our {site} site had to stop operations during peak because the map would not re-sync.",
        "Third re-sync failure this {period}. Robots wander to old rack positions.",
        "The map re-sync after {fw} wiped our no-go zones. That is a safety concern for us.",
        "map keeps desyncing after every update, really annoying",
        "FleetOS says the map is synced but {n} robots are still on the old version.",
    ],
    mid=[
        "The {fw} patch helped a bit, but map re-sync still takes too long after every update.",
        "Map re-sync works most of the time now, though it still fails on our larger floor.",
        "We have a workaround for the re-sync issue, but it costs us about {mins} minutes per update.",
        "Re-sync problems are less frequent since {fw}, not gone.",
    ],
    high=[
        "Mostly fine since the {fw} patch, re-sync only failed once this {period}.",
        "Support walked us through the map re-sync fix quickly. Working well now.",
    ],
    openers=["", "", "", "Really frustrated.", "Not happy.", "Again!", "Hi team.", "Third ticket on this.", "Urgent.", "Same issue as last week."],
    closers=[
        "", "", "Please fix this asap.", "We need a rollback option.", "Considering pausing updates until this is fixed.",
        "Our ops manager is asking whether we should keep FleetOS.", "Is there an ETA for a fix?",
        "The patch did not help.", "Support was helpful but the problem keeps coming back.",
        "This is costing us real money.", "Please test updates properly before pushing them to customers.",
    ],
)

THEMES["map_sync_early"] = dict(  # rare, milder map complaints before the May firmware release
    products={"FleetOS": 0.5, "Atlas AMR": 0.5},
    regions={"North America": 0.5, "Europe": 0.3, "APAC": 0.2},
    channels={"support ticket": 0.6, "NPS survey": 0.3, "sales call": 0.1},
    ratings={2: 0.3, 3: 0.5, 4: 0.2},
    low=["Map sync took longer than expected after we rearranged the racking at our {site} site."],
    mid=[
        "Map updates after a layout change take a while to reach all robots.",
        "Re-mapping after our mezzanine change was slower than we hoped.",
    ],
    high=["Re-mapping after the layout change was straightforward, took about an hour."],
    openers=[""], closers=["", "Manageable, but worth improving."],
)

THEMES["battery_dock"] = dict(
    products={"Atlas AMR": 0.85, "Beacon Arm": 0.15},
    regions={"North America": 0.5, "Europe": 0.3, "APAC": 0.2},
    channels={"support ticket": 0.55, "NPS survey": 0.3, "sales call": 0.15},
    ratings={1: 0.18, 2: 0.35, 3: 0.32, 4: 0.15},
    low=[
        "Battery life has dropped noticeably, we get about {h} hours per charge instead of {h2}.",
        "Robots miss the charging dock and sit there with a low battery alarm.",
        "Charging stalls at 80% on dock {dock}, the robot then leaves with half a battery.",
        "Dock contacts wear out far too fast, we have replaced {n} this quarter.",
        "All robots go to charge at the same time during peak. Battery scheduling needs to be smarter.",
        "Two robots died in the aisle overnight because they never returned to the dock.",
        "The charging dock at {site} keeps faulting after power dips.",
        "Battery packs are degrading after less than a year of use.",
    ],
    mid=[
        "Battery health readings in FleetOS don't match what we see on the floor.",
        "Charging works, but the dock alignment is fussy and needs regular cleaning.",
        "Would love an automatic battery swap so we can run three shifts without charging breaks.",
        "Battery life is okay for two shifts, not enough for three.",
        "Dock placement guidance in the manual could be clearer.",
    ],
    high=[
        "Battery performance is fine for us, but a battery swap option would be a big win.",
        "After the dock firmware fix charging has been reliable.",
    ],
    beacon_low=[
        "The backup battery warning on the Beacon controller keeps appearing even after replacement.",
        "Beacon controller UPS battery died after {n} months.",
    ],
    openers=["", "", "", "FYI.", "Ongoing issue.", "Hello team."],
    closers=["", "", "Please advise.", "Is there a newer dock model?", "We need a fix before peak season.", "Happy to share logs.", "Any update on battery swap?"],
)

THEMES["picking_praise"] = dict(
    products={"Beacon Arm": 1.0},
    regions={"North America": 0.5, "Europe": 0.3, "APAC": 0.2},
    channels={"NPS survey": 0.6, "sales call": 0.25, "support ticket": 0.15},
    ratings={3: 0.05, 4: 0.35, 5: 0.6},
    low=["Pick accuracy is good, but throughput on heavy items is disappointing."],
    mid=["Accuracy is excellent, speed is average.", "Great accuracy, but it struggles with very small items."],
    high=[
        "Pick accuracy has been excellent, {acc}% over the last {weeks} weeks.",
        "The Beacon arm handles polybags and small boxes far better than we expected.",
        "Mispicks dropped from about {x} per day to almost zero since the Beacon went live.",
        "Very reliable picking, even with mixed SKUs and shiny packaging.",
        "Our returns team loves it, accuracy is spot on.",
        "Grip on soft and deformable items is impressive.",
        "Beacon has basically eliminated picking errors on our pharmacy line.",
        "Picking quality is consistent across all three shifts, which our people never managed.",
        "accuracy is amazing, zero complaints from our clients since go-live",
    ],
    openers=["", "", "", "Very impressed.", "Great results so far.", "Honestly,"],
    closers=["", "", "Great product.", "Planning to add more cells next year.", "Well done to the install team.", "Would recommend.", "Only wish it were a bit faster on heavy items."],
)

THEMES["onboarding"] = dict(
    products={"Atlas AMR": 0.35, "Beacon Arm": 0.3, "FleetOS": 0.35},
    regions={"North America": 0.45, "Europe": 0.33, "APAC": 0.22},
    channels={"NPS survey": 0.4, "support ticket": 0.3, "sales call": 0.3},
    ratings={2: 0.2, 3: 0.4, 4: 0.3, 5: 0.1},
    low=[
        "Onboarding took {weeks} weeks instead of the {w2} we were promised.",
        "The install team was great, but after they left nobody knew how to handle exceptions.",
        "Documentation for admin roles is confusing and out of date.",
        "New shift leads get almost no training, the online modules are too basic.",
    ],
    mid=[
        "We need more training for new shift leads.",
        "Could you offer training in {lang}? Many of our operators are not comfortable in English.",
        "Please provide a train-the-trainer program so we don't depend on your engineers for every new hire.",
        "Good initial training, but we need a refresher after the {fos} UI changes.",
        "A sandbox environment for training would help a lot.",
        "Training materials focus on normal operation, not on what to do when something goes wrong.",
    ],
    high=[
        "Onboarding went smoothly, the trainer from Northwind was excellent.",
        "The videos in the help center are really useful, more of those please.",
        "Go-live at {site} was on schedule and the team felt well prepared.",
    ],
    openers=["", "", "", "Suggestion.", "Feedback from our ops team.", "Overall okay."],
    closers=["", "", "Thanks.", "We are adding a second site next year and want this sorted first.", "Happy to pilot new material."],
)

THEMES["pricing"] = dict(
    products={"FleetOS": 0.45, "Beacon Arm": 0.4, "Atlas AMR": 0.15},
    regions={"North America": 0.25, "Europe": 0.6, "APAC": 0.15},
    channels={"sales call": 0.45, "NPS survey": 0.35, "support ticket": 0.1, "app store": 0.1},
    ratings={1: 0.2, 2: 0.4, 3: 0.3, 4: 0.1},
    low=[
        "Total cost of hardware, licence and service contract is hard to justify to our CFO.",
        "Our renewal quote was {pct}% higher than last year, with nothing new that we use.",
        "Prices went up again and local competitors are noticeably cheaper.",
    ],
    mid=[
        "Please offer a bundle for hardware plus FleetOS plus service, the separate quotes are confusing.",
        "Pricing is fine for large sites but does not scale down to small ones.",
        "Product is good, pricing is on the high side.",
    ],
    high=["Expensive, but it pays back within {months} months for us."],
    fleetos_low=[
        "The per-robot FleetOS licence is too expensive for a site our size.",
        "Why do we pay a full licence for robots that are parked during the off-season?",
        "The Enterprise tier costs far more than Standard for only a few extra features.",
        "Licence fees in euros went up again this year.",
    ],
    fleetos_mid=["Would like seasonal licensing for peak months only.", "A cheaper tier for small fleets would help."],
    hw_low=[
        "The {product} list price is well above what competitors quoted us.",
        "The hardware price is fine, but the mandatory service contract almost doubles the cost.",
    ],
    hw_mid=["We would prefer leasing in euros rather than dollars.", "Leasing with a shorter term would make the {product} easier to approve."],
    beacon_eu_low=[
        "The Beacon price increase in July was not communicated well.",
        "After the July price change the Beacon arm is hard to sell internally.",
    ],
    openers=["", "", "", "Honest feedback.", "From procurement.", "Hello."],
    closers=["", "", "We are evaluating alternatives.", "Please reconsider.", "This will come up at renewal.", "Happy to discuss."],
)

THEMES["support_response"] = dict(
    products={"Atlas AMR": 0.35, "Beacon Arm": 0.3, "FleetOS": 0.35},
    regions={"North America": 0.45, "Europe": 0.3, "APAC": 0.25},
    channels={"support ticket": 0.4, "NPS survey": 0.45, "app store": 0.1, "sales call": 0.05},
    ratings={1: 0.28, 2: 0.3, 3: 0.15, 4: 0.12, 5: 0.15},
    low=[
        "Waited {days} days for a reply on a priority ticket.",
        "Support response time is far too slow, especially on weekends.",
        "Nobody answers the hotline during our night shift.",
        "Our ticket was closed without a fix.",
        "We keep getting passed between teams and have to explain the problem every time.",
        "Support hours do not match our time zone.",
        "Slow support, robots down for {hours} hours before anyone called back.",
    ],
    mid=[
        "Support is friendly but slow.",
        "First-line support is fine, escalations take too long.",
    ],
    high=[
        "Support responded within {mins} minutes and fixed it remotely.",
        "Great help from {agent} on the support line, very patient.",
        "Fast, knowledgeable answers from the support team.",
        "The new support portal is much better, tickets get picked up quickly now.",
    ],
    openers=["", "", "", "Hello.", "Feedback on support."],
    closers=["", "", "Please improve.", "This needs to get better.", "We expected better for what we pay."],
)

THEMES["wms"] = dict(
    products={"FleetOS": 1.0},
    regions={"North America": 0.45, "Europe": 0.4, "APAC": 0.15},
    channels={"sales call": 0.4, "NPS survey": 0.3, "support ticket": 0.2, "app store": 0.1},
    ratings={2: 0.1, 3: 0.35, 4: 0.4, 5: 0.15},
    low=["Without a proper connector to {wms}, FleetOS is another island system for us."],
    mid=[
        "Please add a native {wms} integration, our middleware keeps breaking.",
        "We need order release from {wms} straight into FleetOS.",
        "The API is decent, but a ready-made connector for {wms} would save us months.",
        "Any roadmap for a connector to {wms}?",
        "Integration with {wms} is our number one feature request.",
    ],
    high=[
        "Great product. The only missing piece is a proper {wms} integration.",
        "We would happily pay extra for a supported {wms} connector.",
        "Love FleetOS, but a connector for {wms} would make it perfect.",
    ],
    openers=["", "", "", "Feature request.", "Request from our IT team."],
    closers=["", "", "Thanks!", "This would decide our next rollout.", "Our IT team is happy to beta test."],
)

THEMES["safety_stops"] = dict(
    products={"Atlas AMR": 0.9, "Beacon Arm": 0.1},
    regions={"North America": 0.5, "Europe": 0.3, "APAC": 0.2},
    channels={"support ticket": 0.55, "NPS survey": 0.35, "sales call": 0.1},
    ratings={1: 0.15, 2: 0.4, 3: 0.35, 4: 0.1},
    low=[
        "Atlas stops for no reason in aisle {aisle}, the safety sensors seem too sensitive.",
        "False safety stops whenever a forklift passes in the next aisle.",
        "Robots freeze when someone walks by {m} meters away.",
        "We get {n} unnecessary emergency stops per shift.",
        "Reflective tape on the racking seems to trigger phantom obstacle stops.",
        "Robots stop dead at the dock doors when the sun shines in.",
    ],
    mid=[
        "Safety is important, but the false stops kill our throughput.",
        "Collision sensors are a bit jumpy in mixed-traffic areas.",
        "We'd like separate safety profiles for busy zones and quiet zones.",
    ],
    high=["Safety system works well, occasional false stops but we feel safe around the robots."],
    beacon=["The Beacon light curtain trips when people walk past the cell, even outside the guarded area."],
    openers=["", "", "", "Ongoing problem.", "Hi team."],
    closers=["", "", "Can you send someone to tune this?", "Please review the sensitivity settings.", "Our operators have started ignoring the alarms, which worries me."],
)

THEMES["dashboard_praise"] = dict(
    products={"FleetOS": 1.0},
    regions={"North America": 0.5, "Europe": 0.3, "APAC": 0.2},
    channels={"NPS survey": 0.45, "app store": 0.4, "sales call": 0.1, "support ticket": 0.05},
    ratings={3: 0.05, 4: 0.45, 5: 0.5},
    low=["Dashboard looks nice but is slow to load for large fleets."],
    mid=["Dashboard is useful, but exports are limited.", "Nice reports, though I'd like to customize the KPIs."],
    high=[
        "The new dashboard is excellent, our managers check it every morning.",
        "Love the throughput and utilization charts.",
        "Reporting in FleetOS {fos} is a big step up.",
        "The multi-site view saves me hours each week.",
        "Clean UI, easy to find the status of every robot.",
        "The mobile app is fast and clear.",
        "Best fleet dashboard we've used, and we've tried a few.",
        "great app, shift reports in two taps",
        "Scheduled reports by email would be nice, but the dashboard itself is great.",
    ],
    openers=["", "", "", "Kudos.", "Nice work."],
    closers=["", "", "Keep it up.", "Our VP now asks for these numbers weekly.", "More KPIs please!"],
)

THEMES["spare_parts"] = dict(
    products={"Atlas AMR": 0.55, "Beacon Arm": 0.45},
    regions={"North America": 0.3, "Europe": 0.35, "APAC": 0.35},
    channels={"support ticket": 0.6, "NPS survey": 0.25, "sales call": 0.15},
    ratings={1: 0.35, 2: 0.4, 3: 0.2, 4: 0.05},
    low=[
        "Waiting {weeks} weeks for a replacement {part}.",
        "Spare parts delivery to {country} is very slow.",
        "We had to take parts from one robot to keep the others running because the {part} never arrived.",
        "Customs delays on spare parts again.",
        "Ordered a {part} on the {day}th and it still has not shipped.",
    ],
    mid=[
        "Please keep more spare parts stock in the region.",
        "Parts arrive eventually, but there is no tracking information.",
        "Would like to hold a small spare parts kit on site.",
    ],
    high=["Parts arrived faster than expected this time, thanks."],
    eu_after_hub=["Since the Rotterdam hub opened, parts arrive much faster."],
    openers=["", "", "", "Hello.", "Escalating this."],
    closers=["", "", "One robot is out of service until it arrives.", "Please expedite.", "This hurts our uptime numbers."],
)

THEME_TEXT_FILLERS = {
    "period": ["week", "month", "week", "month", "fortnight"],
    "dock": ["2", "3", "4", "5", "B", "C"],
    "zone": ["A", "B", "C", "D", "E3", "north"],
    "aisle": ["12", "14", "7", "22", "3", "31"],
}


def month_weights(d: date) -> dict[str, float]:
    """Theme mix by date: map re-sync complaints grow after the May firmware."""
    m = d.month
    resync = {5: 0.05, 6: 0.15, 7: 0.25, 8: 0.38, 9: 0.50, 10: 0.72}.get(m, 0.0)
    if m == 5 and d.day < 12:
        resync = 0.0
    w = {
        "map_resync": resync,
        "map_sync_early": 0.025 if resync == 0 else 0.0,
        "battery_dock": 0.14,
        "picking_praise": 0.11,
        "onboarding": 0.10,
        "pricing": 0.10 if m < 7 else 0.13,
        "support_response": 0.10,
        "wms": 0.09,
        "safety_stops": 0.09,
        "dashboard_praise": 0.07 if m < 3 else 0.11,
        "spare_parts": 0.08,
    }
    return w


def pick(rng: random.Random, weights: dict):
    keys = list(weights)
    return rng.choices(keys, weights=[weights[k] for k in keys], k=1)[0]


def make_values(rng: random.Random, ctx: dict) -> dict:
    """Slot values, drawn once per comment so all its sentences agree."""
    fws = released(FIRMWARE, ctx["date"])
    fosv = released(FLEETOS, ctx["date"])
    values = {
        "fw": rng.choice(fws[-2:]) if len(fws) > 1 else fws[-1],
        "fos": fosv[-1],
        "site": rng.choice(SITES[ctx["region"]]),
        "country": rng.choice(COUNTRIES[ctx["region"]]),
        "lang": rng.choice(LANGUAGES[ctx["region"]]),
        "part": rng.choice(PARTS.get(ctx["product"], PARTS["Atlas AMR"])),
        "wms": rng.choice(WMS if ctx["region"] != "Europe" else WMS + ["SAP EWM", "SAP EWM"]),
        "agent": rng.choice(SUPPORT_NAMES),
        "product": ctx["product"],
        "n": str(rng.choice([3, 4, 5, 6, 8, 11, 12, 14, 20])),
        "mins": str(rng.choice([15, 20, 25, 30, 40, 45, 50, 70, 90])),
        "pct": str(rng.choice([8, 12, 15, 18, 22, 37, 60, 73, 91])),
        "h": str(rng.choice([5, 6, 7])),
        "h2": str(rng.choice([9, 10])),
        "acc": rng.choice(["99.7", "99.8", "99.9", "99.95"]),
        "weeks": str(rng.choice([3, 4, 5, 6, 8, 10, 12])),
        "w2": str(rng.choice([2, 3])),
        "x": str(rng.choice([15, 20, 30, 40, 60])),
        "days": str(rng.choice([3, 4, 5, 6, 9])),
        "hours": str(rng.choice([3, 5, 6, 8, 14])),
        "m": str(rng.choice([2, 3, 4])),
        "months": str(rng.choice([14, 18, 20, 24])),
        "k": str(max(ctx["date"].month - 4, 1)),  # months since the May firmware release
        "day": str(rng.choice([4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20])),
    }
    for k, opts in THEME_TEXT_FILLERS.items():
        values[k] = rng.choice(opts)
    return values


def bucket(rating: int) -> str:
    return "low" if rating <= 2 else ("mid" if rating == 3 else "high")


# Themes whose default openers/closers are negative; 4-5 star comments in
# these themes use POS_OPENERS / POS_CLOSERS instead, 3-star ones neutral openers.
NEGATIVE_THEMES = {"map_resync", "map_sync_early", "battery_dock", "pricing", "support_response", "safety_stops", "spare_parts"}
POS_OPENERS = ["", "", "Quick note.", "Update from our site."]
POS_CLOSERS = ["", "", "Thanks.", "Much appreciated.", "Thanks for the quick turnaround."]
PROPER_START = ("Beacon", "Atlas", "FleetOS", "Rotterdam", "Northwind", "Korber", "Blue", "Manhattan", "SAP")


def sentence(text: str) -> str:
    return text if text[-1] in ".!?" else text + "."


def make_comment(rng: random.Random, theme: str, ctx: dict, seen: set) -> str:
    t = THEMES[theme]
    b = bucket(ctx["rating"])
    pool = list(t.get(b) or t.get("mid") or t["low"])
    # A few product/region/date specific pools.
    if theme == "battery_dock" and ctx["product"] == "Beacon Arm":
        pool = t["beacon_low"]
    if theme == "safety_stops" and ctx["product"] == "Beacon Arm":
        pool = t["beacon"]
    if theme == "pricing" and b != "high":
        pool = pool + t[("fleetos_" if ctx["product"] == "FleetOS" else "hw_") + b]
    if ctx["region"] != "APAC":
        pool = [p for p in pool if "time zone" not in p] or pool
    if ctx["region"] != "Europe":
        pool = [p for p in pool if "euro" not in p] or pool
    if theme == "pricing" and ctx["product"] == "Beacon Arm" and ctx["region"] == "Europe" and ctx["date"] >= date(2026, 7, 1) and b != "high":
        pool = pool + t["beacon_eu_low"] * 3
    if theme == "spare_parts" and ctx["region"] == "Europe" and ctx["date"] >= date(2026, 4, 1) and b != "low":
        pool = pool + t["eu_after_hub"] * 2
    if theme == "map_resync" and ctx["date"] >= date(2026, 8, 1) and b == "low":
        pool = pool + ["Still broken after {fw}. Map re-sync fails a couple of times a {period}.",
                       "Month {k} of map re-sync problems. We are running out of patience."]
    if ctx["date"] < FLEETOS[2][0]:  # multi-site dashboards arrived with FleetOS 4.1
        pool = [p for p in pool if "multi-site" not in p] or pool
    if ctx["date"] < FLEETOS[1][0]:  # no "new UI / FleetOS x.y" remarks before FleetOS 4.0
        pool = [p for p in pool if "{fos}" not in p] or pool

    if b == "high" and theme in NEGATIVE_THEMES:
        openers, closers = POS_OPENERS, POS_CLOSERS
    elif b == "mid" and theme in NEGATIVE_THEMES:
        openers, closers = ["", "", "Hello.", "Some feedback."], t["closers"]
    else:
        openers, closers = t["openers"], t["closers"]

    fallback = None
    for _ in range(50):
        values = make_values(rng, ctx)
        first_tpl = rng.choice(pool)
        parts = []
        opener = rng.choice(openers)
        used_opener = bool(opener) and rng.random() < 0.5
        if used_opener:
            parts.append(opener)
        parts.append(first_tpl.format(**values))
        # Sometimes add a second, different sentence from the same pool.
        others = [p for p in pool if p != first_tpl]
        if others and rng.random() < 0.3:
            parts.append(rng.choice(others).format(**values))
        closer = rng.choice(closers)
        if closer and rng.random() < 0.6:
            parts.append(closer)
        text = " ".join(sentence(p) for p in parts[:-1]) + (" " if len(parts) > 1 else "") + parts[-1]
        # Channel-specific style.
        if ctx["channel"] == "app store" and rng.random() < 0.3:
            text = text.lower().rstrip(".")  # casual app-store review
        elif ctx["channel"] == "sales call" and not used_opener and rng.random() < 0.5:
            prefix = rng.choice(["Customer says: ", "Customer feedback from call: ", "From the account review: ", "Buyer mentioned: ", "Ops manager on the call: "])
            if not text.startswith(PROPER_START) and not text[1:2].isupper():
                text = text[0].lower() + text[1:]
            text = prefix + text
        n_words = len(text.split())
        if 5 <= n_words <= 60:
            fallback = text
            if text not in seen:  # prefer fresh wording; accept a repeat if the pool is exhausted
                seen.add(text)
                return text
    if fallback is None:
        raise RuntimeError(f"could not build comment for {theme}")
    return fallback


SPECIAL_ROWS = [
    # Non-English comments.
    dict(date=date(2026, 7, 21), rating=2, product="FleetOS", channel="NPS survey", region="Europe",
         comment="Die Lizenzkosten für FleetOS sind für unseren Standort viel zu hoch. Bitte bieten Sie ein günstigeres Paket für kleinere Flotten an."),
    dict(date=date(2026, 8, 27), rating=1, product="Atlas AMR", channel="support ticket", region="Europe",
         comment="Después de la actualización del firmware, los robots pierden el mapa y hay que sincronizarlo otra vez. Perdimos medio turno en Zaragoza."),
    # Multi-line comments (newline inside a quoted CSV field).
    dict(date=date(2026, 9, 8), rating=2, product="Atlas AMR", channel="support ticket", region="North America",
         comment="Two issues at our Memphis site:\n1) map re-sync after the 3.8.2 update took 40 minutes\n2) dock 3 alignment is off again, robots miss the contacts"),
    dict(date=date(2026, 4, 14), rating=4, product="FleetOS", channel="NPS survey", region="APAC",
         comment="Dashboard is great.\nPlease add a SAP EWM connector and we will roll out to two more sites."),
    # Comment with embedded double quotes.
    dict(date=date(2026, 6, 29), rating=4, product="FleetOS", channel="app store", region="North America",
         comment='The new "Export to CSV" button on the dashboard is great, but it ignores the date filter, so we get the whole year every time.'),
    # Empty comments (rating-only survey answers).
    dict(date=date(2026, 2, 3), rating=4, product="Beacon Arm", channel="NPS survey", region="North America", comment=""),
    dict(date=date(2026, 5, 19), rating=3, product="Atlas AMR", channel="NPS survey", region="APAC", comment=""),
    dict(date=date(2026, 7, 2), rating=5, product="FleetOS", channel="NPS survey", region="Europe", comment=""),
    dict(date=date(2026, 10, 6), rating=2, product="FleetOS", channel="NPS survey", region="North America", comment=""),
]
N_DUPLICATES = 3  # exact double submissions (everything identical except feedback_id)


def random_date(rng: random.Random) -> date:
    return START + timedelta(days=rng.randint(0, (END - START).days))


def generate() -> list[dict]:
    rng = random.Random(SEED)
    rows = []
    seen: set[str] = set()
    n_regular = N_ROWS - len(SPECIAL_ROWS) - N_DUPLICATES
    for _ in range(n_regular):
        d = random_date(rng)
        theme = pick(rng, month_weights(d))
        t = THEMES[theme]
        product = pick(rng, t["products"])
        region = pick(rng, t["regions"])
        channels = dict(t["channels"])
        if product != "FleetOS":
            channels.pop("app store", None)  # only FleetOS has a mobile app
        channel = pick(rng, channels)
        rating = pick(rng, t["ratings"])
        ctx = dict(date=d, product=product, region=region, channel=channel, rating=rating)
        comment = make_comment(rng, theme, ctx, seen)
        rows.append(dict(date=d, rating=rating, product=product, channel=channel, region=region, comment=comment))

    rows.extend(dict(r) for r in SPECIAL_ROWS)
    for src in rng.sample(rows[:n_regular], N_DUPLICATES):
        rows.append(dict(src))

    rows.sort(key=lambda r: (r["date"], r["product"], r["comment"]))
    for i, r in enumerate(rows, start=1):
        r["feedback_id"] = f"FB-2026-{i:04d}"
        r["date"] = r["date"].isoformat()
    return rows


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "data" / "customer_feedback_2026.csv"
    rows = generate()
    assert len(rows) == N_ROWS
    for r in rows:
        assert r["product"] in PRODUCTS and r["channel"] in CHANNELS and r["region"] in REGIONS
        assert 1 <= r["rating"] <= 5 and START.isoformat() <= r["date"] <= END.isoformat()
    fields = ["feedback_id", "date", "rating", "product", "channel", "region", "comment"]
    with open(out, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: r[k] for k in fields} for r in rows)
    print(f"wrote {len(rows)} rows to {out}")


if __name__ == "__main__":
    main()
