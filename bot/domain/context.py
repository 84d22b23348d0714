"""The business behind an assessment, from its context answers (sector, team, channels).

Content is written for *this* business: every question and recommendation is a Jinja2 template
that reads these variables (content/README.md lists them), and an item's `applies` condition is
an expression over them. Deriving them is a rule of the product, so it lives here, once.
"""

from __future__ import annotations

from collections.abc import Mapping

CHANNELS = ("in_person", "phone", "online_shop", "social", "marketplace")
ONLINE_CHANNELS = frozenset({"online_shop", "social", "marketplace"})
# Sectors whose customers come to premises with a counter, a till, a door.
SHOPFRONT_SECTORS = frozenset({"cafe", "restaurant", "retail", "beauty", "fitness"})
DEFAULT_SECTOR = "other"


def business_context(answers: Mapping[str, tuple[str, ...]] | None,
                     staff_view: bool = False) -> dict[str, object]:
    """Context answers -> template variables.

    `answers` maps a context question id to the chosen option ids (``{"team": ("solo",),
    "channels": ("phone", "social")}``). Unanswered questions give the safest wording for anyone:
    owner-centred ("you", no staff), no premises, no channel assumed, sector "other".

    Returns: solo, team (= not solo), size, sector, one boolean per channel, online (any online
    channel), shopfront (in person at premises with a counter: cafés, restaurants, shops, salons,
    studios), online_only (online and neither in person nor by phone), staff_view (a staff member
    answering about the business, not the owner).
    """
    answers = answers or {}
    size = next(iter(answers.get("team") or ()), "solo")
    sector = next(iter(answers.get("sector") or ()), DEFAULT_SECTOR)
    chosen = set(answers.get("channels") or ())
    channels = {c: c in chosen for c in CHANNELS}
    online = bool(chosen & ONLINE_CHANNELS)
    return {
        "solo": size == "solo",
        "team": size != "solo",
        "size": size,
        "sector": sector,
        **channels,
        "online": online,
        "shopfront": channels["in_person"] and sector in SHOPFRONT_SECTORS,
        "online_only": online and not channels["in_person"] and not channels["phone"],
        "staff_view": staff_view,
    }
