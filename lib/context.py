"""What every page needs for one run: settings, the chosen bucket, its gateway, who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from lib.auditlog import AuditLog
from lib.config import BucketProfile, Settings
from lib.identity import Identity
from lib.s3 import S3Gateway


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    profile: BucketProfile
    gateway: S3Gateway
    identity: Identity
    audit: AuditLog

    @property
    def sandbox(self) -> bool:
        return self.profile.sandbox
