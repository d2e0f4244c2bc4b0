"""What every page needs for one run: settings, the chosen bucket, who is asking, and their desk."""

from __future__ import annotations

from dataclasses import dataclass

from lib.config import BucketProfile, Settings
from lib.desk import Desk
from lib.identity import Identity


@dataclass(frozen=True)
class AppContext:
    """Pages act only through `desk` (there is no gateway here on purpose: every read and change of
    the bucket goes through the checks and records of lib.desk)."""

    settings: Settings
    profile: BucketProfile
    identity: Identity
    desk: Desk
    profile_names: tuple[str, ...] = ()  # the bucket profiles this person may open, in settings order

    @property
    def sandbox(self) -> bool:
        return self.profile.sandbox
