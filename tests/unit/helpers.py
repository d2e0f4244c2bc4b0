"""Small builders shared by the unit tests (kept out of conftest so tests import them plainly)."""

from __future__ import annotations

import base64
import io
import json
import random
import struct
import zlib
from typing import Any

from PIL import Image

from lib import metadata
from lib.upload.grants import DeclaredFile, Grant
from tests.support.checksums import sha256_b64

BUCKET = "bucketdesk-unit"
REGION = "us-east-1"
UPLOADER = "alice@example.com"
FILE_ID = "0123456789abcdef"
OTHER_ID = "fedcba9876543210"


def png_bytes(width: int = 7, height: int = 5, noise: bool = False) -> bytes:
    image = Image.new("RGB", (width, height), (200, 40, 90))
    if noise:
        rng = random.Random(1234)
        image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(width * height)])
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims width×height but carries almost no pixel data (a decompression bomb's shape)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


# A well-formed base64 SHA-256, as the browser sends with every single upload (profiles require
# checksums by default); moto does not check it against the bytes.
SHA256_B64 = sha256_b64(b"bucketdesk")


def declared(
    name: str = "cat.png",
    size: int = 100,
    type: str = "image/png",
    id: str = FILE_ID,
    sha256: str | None = SHA256_B64,
    **more: Any,
) -> DeclaredFile:
    return DeclaredFile(id=id, name=name, size=size, type=type, sha256=sha256, **more)


def policy_of(grant: Grant) -> dict[str, Any]:
    return json.loads(base64.b64decode(grant.fields["policy"]))


def exact_conditions(policy: dict) -> dict[str, str]:
    """The policy's exact-match conditions ({"name": value}) as one mapping."""
    merged: dict[str, str] = {}
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            merged.update(condition)
    return merged


def list_conditions(policy: dict) -> list[list]:
    return [condition for condition in policy["conditions"] if isinstance(condition, list)]


def store(
    s3,
    grant: Grant,
    body: bytes,
    *,
    content_type: str | None = None,
    uploader: str | None = None,
    key: str | None = None,
) -> None:
    """Put an object the way a browser's POST would have left it (or deliberately not)."""
    s3.put_object(
        Bucket=grant.bucket,
        Key=key or grant.key,
        Body=body,
        ContentType=content_type or grant.content_type,
        Metadata=metadata.for_upload(grant.uploader if uploader is None else uploader, grant.original_name),
    )


def exists(s3, key: str) -> bool:
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=key).get("Contents", [])
    return any(item["Key"] == key for item in listed)


def local_desk(gateway, tmp_path, who: str = UPLOADER, roles=("viewer", "uploader", "analyst", "admin")):
    """A desk for `who` as the local user (no sign-in) with `roles` everywhere, its events in tmp_path."""
    from lib.config import Settings
    from lib.desk import Desk
    from lib.events import EventStore
    from lib.identity import Identity

    settings = Settings(profiles={gateway.profile.name: gateway.profile}, default_profile=gateway.profile.name)
    settings = Settings(**{**settings.__dict__, "local_roles": tuple(roles)})
    store = EventStore(tmp_path / "events.db")
    return Desk.open(settings, gateway.profile, gateway, Identity(who, who, "local"), store)


def recorded(store, **where) -> list[dict[str, Any]]:
    """Every stored event matching `where`, oldest first, as plain dicts."""
    from lib.events import EventFilter

    events = store.page(EventFilter(**where), limit=1000).events
    return [
        {"who": e.who, "action": e.action, "bucket": e.bucket, "key": e.key, "outcome": e.outcome, "details": e.details}
        for e in reversed(events)
    ]
