"""Seeds: the run's base seed and the per-iteration latent seed of every rank."""

from __future__ import annotations

import hashlib
import os


def run_seed(explicit: int | None = None) -> int:
    """``explicit`` if given, else the run's ``seed_everything`` value (Lightning exports it as
    PL_GLOBAL_SEED), else 0."""
    return explicit if explicit is not None else int(os.environ.get("PL_GLOBAL_SEED", "0"))


def iteration_seed(seed: int, rank: int, iteration: int) -> int:
    """A 63-bit seed unique to (seed, rank, iteration): the latent noise of one training iteration.
    Ranks never share noise, and a resumed run redraws exactly the noise it would have drawn."""
    digest = hashlib.blake2b(f"{seed}:{rank}:{iteration}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1
