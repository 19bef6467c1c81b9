"""Container names: Docker's rule for what a name may be, and a readable default."""

from __future__ import annotations

import random
import re

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$")

ADJECTIVES = ["brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry",
              "nimble", "proud", "quiet", "rapid", "sharp", "tidy", "vivid", "witty", "zesty", "bold"]
NOUNS = ["turing", "hopper", "lovelace", "knuth", "ritchie", "thompson", "torvalds", "dijkstra", "liskov",
         "hamilton", "babbage", "curie", "noether", "shannon", "wozniak", "kay", "backus", "perlman", "pike", "cerf"]


def valid_name(name: str) -> bool:
    return bool(NAME_RE.match(name))


def random_name() -> str:
    return f"{random.choice(ADJECTIVES)}_{random.choice(NOUNS)}_{random.randrange(1000, 9999)}"
