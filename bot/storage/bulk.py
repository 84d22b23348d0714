"""Generated data for the benchmark: a cohort of many participants with finished assessments."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.domain.bank import Bank

from .cohort_models import Cohort, CohortMember
from .models import Assessment, User, utcnow

CHUNK = 2000


async def generate_cohort(engine: AsyncEngine, bank: Bank, participants: int,
                          seed: int = 7) -> int:
    """Insert a trainer, a cohort and `participants` members with one or two finished
    assessments each (random but reproducible scores); return the cohort's id."""
    rng = random.Random(seed)
    now = utcnow()
    base = 5_000_000_000  # far from real Telegram ids of the benchmark's users
    async with engine.begin() as conn:
        await conn.execute(insert(User), [{"id": base, "language": "en", "active": True,
                                           "created_at": now}])
        result = await conn.execute(insert(Cohort).values(
            code=f"bench{rng.getrandbits(64):x}", owner_id=base, name="Bench cohort",
            trainer_name="Bench", status="open", created_at=now))
        cohort_id = result.inserted_primary_key[0]
        for start in range(0, participants, CHUNK):
            ids = range(base + 1 + start, base + 1 + min(participants, start + CHUNK))
            await conn.execute(insert(User), [{"id": i, "language": "en", "active": True,
                                               "created_at": now} for i in ids])
            await conn.execute(insert(CohortMember), [
                {"cohort_id": cohort_id, "user_id": i, "consent": rng.choice(("share",
                                                                              "aggregate")),
                 "joined_at": now - timedelta(days=60)} for i in ids])
            rows = []
            for i in ids:
                for n in range(1 + (rng.random() < 0.3)):  # some have retaken it
                    rows.append(_finished(bank, i, rng, now - timedelta(days=30 - 20 * n)))
            await conn.execute(insert(Assessment), rows)
    return cohort_id


def _finished(bank: Bank, user_id: int, rng: random.Random, when) -> dict:
    dims = {d: float(rng.choice(range(0, 101, 25))) for d in bank.dimensions}
    indices = {k: round(sum(dims[d] for d in v) / len(v), 1) for k, v in bank.indices.items()}
    overall = round(sum(dims.values()) / len(dims), 1)
    return {"user_id": user_id, "mode": "full", "status": "finished",
            "content_version": bank.version, "cursor": 0, "scores": {
                "dimensions": dims, "indices": indices, "overall": overall, "level": "defined"},
            "created_at": when, "updated_at": when, "finished_at": when}
