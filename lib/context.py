"""What every page needs for one run: settings, the chosen bucket, its gateway, who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from lib.config import BucketProfile, Settings
from lib.desk import Desk
from lib.identity import Identity
from lib.s3 import S3Gateway


@dataclass(frozen=True)
class AppContext:
    """Until the pages call only the desk (after the layout change), they still find these here."""

    settings: Settings
    profile: BucketProfile
    gateway: S3Gateway
    identity: Identity
    desk: Desk

    @property
    def sandbox(self) -> bool:
        return self.profile.sandbox
