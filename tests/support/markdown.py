"""What a person reads from a Markdown source bucketdesk escaped: its backslash escapes undone."""

from __future__ import annotations

import re


def as_read(source: str) -> str:
    return re.sub(r"\\(.)", r"\1", source).replace("  \n", "\n")
