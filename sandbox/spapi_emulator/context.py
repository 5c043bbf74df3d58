"""What every API module of the emulator shares: the emulated clock, one lock, seeded ids, the seller."""

from __future__ import annotations

import random
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

Clock = Callable[[], datetime]


@dataclass
class EmulatorContext:
    clock: Clock
    seller_id: str
    marketplace_ids: tuple[str, ...]
    base_url: Callable[[], str]
    seed: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    _rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def reseed(self) -> None:
        with self.lock:
            self._rng = random.Random(self.seed)

    def now(self) -> datetime:
        moment = self.clock()
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)

    # Ids are drawn from one seeded generator so a test run is reproducible, yet look like Amazon's.
    def numeric_id(self, digits: int = 11) -> str:
        with self.lock:
            return str(self._rng.randint(10 ** (digits - 1), 10**digits - 1))

    def uuid(self) -> str:
        with self.lock:
            return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def token(self, length: int = 32) -> str:
        alphabet = string.ascii_letters + string.digits
        with self.lock:
            return "".join(self._rng.choice(alphabet) for _ in range(length))
