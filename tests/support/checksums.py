"""The checksum form S3 and the browser exchange: base64 of a SHA-256 digest (x-amz-checksum-sha256)."""

from __future__ import annotations

import base64
import hashlib


def sha256_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()
