"""The embedded S3 sandbox: moto's server, in-process on 127.0.0.1, with a seeded demo bucket.

It lets a newcomer see bucketdesk work with no cloud account. It is honest about its limits: it is
in memory (gone on restart) and it does NOT enforce POST policies, so the app says so in a banner.
One sandbox per process, shared by every session.
"""

from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw

from lib import metadata
from lib.config import SANDBOX_PROFILE, BucketProfile
from lib.s3 import make_client
from lib.upload.cors import cors_rule

DEMO_BUCKET = "bucketdesk-demo"
# Fake keys: moto accepts any; they only exist so boto3 can sign. Not a secret.
_SANDBOX_KEY = ("bucketdesk-sandbox", "bucketdesk-sandbox-not-a-secret")


@dataclass
class Sandbox:
    endpoint_url: str
    profile: BucketProfile
    _server: Any
    _origins: set[str]

    def allow_origin(self, origin: str) -> None:
        """Let a browser at `origin` (the app's own URL) upload: the same CORS rule README gives for AWS."""
        origin = origin.rstrip("/")
        with _lock:
            if origin in self._origins:
                return
            self._origins.add(origin)
            make_client(self.profile, self.endpoint_url).put_bucket_cors(
                Bucket=self.profile.bucket, CORSConfiguration=cors_rule(sorted(self._origins))
            )

    def stop(self) -> None:
        self._server.stop()


_lock = threading.RLock()
_sandbox: Sandbox | None = None


def start_sandbox() -> Sandbox:
    """Start (once per process) the moto server, create and seed the demo bucket."""
    global _sandbox
    with _lock:
        if _sandbox is None:
            from moto.server import ThreadedMotoServer  # heavy import: only when the sandbox is used

            logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request is noise
            server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
            server.start()
            host, port = server.get_host_and_port()
            endpoint = f"http://{host}:{port}"
            profile = BucketProfile(
                name=SANDBOX_PROFILE,
                bucket=DEMO_BUCKET,
                label="Sandbox (in-memory demo)",
                endpoint_url=endpoint,
                region="us-east-1",
                addressing_style="path",
                access_key_id=_SANDBOX_KEY[0],
                secret_access_key=_SANDBOX_KEY[1],
                max_upload_bytes=100 * 1024 * 1024,
                sandbox=True,
            )
            client = make_client(profile, endpoint)
            client.create_bucket(Bucket=DEMO_BUCKET)
            _seed(client)
            _sandbox = Sandbox(endpoint_url=endpoint, profile=profile, _server=server, _origins=set())
        return _sandbox


def _seed(client) -> None:
    def put(key: str, body: bytes, content_type: str) -> None:
        client.put_object(
            Bucket=DEMO_BUCKET,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata=metadata.for_upload("sandbox", key.rsplit("/", 1)[-1]),
        )

    for name, colours in {"sunrise": ((255, 170, 60), (90, 40, 140)), "sea": ((20, 120, 200), (200, 240, 255))}.items():
        put(f"samples/images/{name}.png", _gradient_png(*colours), "image/png")
    put("samples/images/photo.jpg", _gradient_png((40, 160, 80), (240, 230, 120), fmt="JPEG"), "image/jpeg")
    put("samples/readme.txt", b"This bucket lives in memory and is gone when the app restarts.\n", "text/plain")
    put("samples/data/sales.csv", b"region,month,amount\nnorth,2026-01,1200\nsouth,2026-01,980\n", "text/csv")


def _gradient_png(top: tuple, bottom: tuple, fmt: str = "PNG", size=(640, 400)) -> bytes:
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(size[1]):
        t = y / (size[1] - 1)
        draw.line([(0, y), (size[0], y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=True)))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()
