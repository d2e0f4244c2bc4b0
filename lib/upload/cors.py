"""What direct uploads need from the bucket's CORS rule, and the rule bucketdesk recommends.

Only the upload flow needs CORS: the uploader component sends each file (POST, a PUT grant) and
each part of a large file (PUT) from the browser straight to the bucket with the signed
`x-amz-checksum-sha256` and `content-type` headers, and completes a multipart upload from the ETag
of each part, which the browser can read only when the rule exposes it. Everything else the
browser gets from the bucket (previews, thumbnails, share links) is a plain navigation or <img>,
which CORS does not govern. The sandbox sets `cors_rule` for the app's origin; the configuration
review judges a bucket's rules against NEEDED_* and proposes `cors_rule` when none admits the app;
README's "Pointing it at a real bucket" shows the same rule.
"""

from __future__ import annotations

from typing import Any

NEEDED_METHODS = ("POST", "PUT")  # POST policies (single files); PUT grants and parts of large files
NEEDED_HEADERS = ("x-amz-checksum-sha256", "content-type")  # signed into every grant and part
NEEDED_EXPOSED = "ETag"  # each part's ETag completes a multipart upload
MAX_AGE_SECONDS = 3000  # how long a browser may reuse a preflight answer


def cors_rule(origins: list[str]) -> dict[str, Any]:
    """The bucket CORS configuration bucketdesk recommends for `origins` (the app's own URLs).

    Broader than NEEDED_* on purpose: `AllowedHeaders: *` keeps working when a grant signs another
    header; GET, HEAD and the exposed checksum header are not used today and let a browser read an
    object and its checksum back without changing the bucket's rule again."""
    return {
        "CORSRules": [
            {
                "AllowedOrigins": origins,
                "AllowedMethods": ["GET", "HEAD", *NEEDED_METHODS],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": [NEEDED_EXPOSED, "x-amz-checksum-sha256"],
                "MaxAgeSeconds": MAX_AGE_SECONDS,
            }
        ]
    }
