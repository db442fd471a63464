"""Greenhouse names and whereabouts from Faker, reproducible for a seed.

A place is drawn from one locale so that its street, city and country belong together.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from faker import Faker

# locale -> country name (Faker's ``country()`` is random, not the locale's own country).
_LOCALES: tuple[tuple[str, str], ...] = (
    ("en_GB", "United Kingdom"),
    ("nl_NL", "Netherlands"),
    ("nl_BE", "Belgium"),
    ("de_DE", "Germany"),
    ("fr_FR", "France"),
    ("it_IT", "Italy"),
    ("es_ES", "Spain"),
    ("da_DK", "Denmark"),
    ("pl_PL", "Poland"),
    ("en_US", "United States"),
)
_KINDS: tuple[str, ...] = ("Greenhouse", "Glasshouse", "Nursery", "Orangery", "Gardens")


@dataclass(frozen=True, slots=True)
class Place:
    """Who and where a greenhouse is."""

    name: str
    location: str
    city: str
    country: str

    def as_metadata(self) -> dict[str, str]:
        """The fields as they travel in the metadata of ``initialized:v1``."""
        return {
            "name": self.name,
            "location": self.location,
            "city": self.city,
            "country": self.country,
        }


@functools.cache
def _faker(locale: str) -> Faker:
    # Building a Faker costs ~0.1 s; one per locale is reseeded for every place instead.
    return Faker(locale)


def place_for(seed: int) -> Place:
    """The place of a greenhouse: the same seed always gives the same place."""
    rng = random.Random(seed)
    locale, country = rng.choice(_LOCALES)
    fake = _faker(locale)
    fake.seed_instance(rng.getrandbits(64))
    return Place(
        name=f"{fake.last_name()} {rng.choice(_KINDS)}",
        location=fake.street_address().strip(),
        city=fake.city(),
        country=country,
    )
