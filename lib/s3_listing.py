"""A lean ListObjectsV2: the request signed by botocore, the page parsed by ElementTree.

Why: botocore spends ~65 ms of CPU parsing one 1,000-key page (ElementTree: ~10 ms on the same
body), under the GIL, which caps a parallel listing at ~1.3x the serial paginator whatever the
concurrency. This module keeps everything that must stay boto3's (credentials and their refresh,
endpoint and addressing, the signature, the client's pooled connections and TLS settings, and any
`before-send` handler such as moto's in-process mock) and replaces only the response parsing.

It returns what `client.list_objects_v2` returns for the same parameters (keys URL-decoded exactly
as botocore decodes them, timestamps as aware datetimes, `ChecksumAlgorithm` as a list), so callers
cannot tell the two apart. Only lib/s3.py uses it: the gateway decides when (see `list_objects_v2`
there) and turns its errors into StorageErrors.
"""

from __future__ import annotations

import random
import time
import xml.etree.ElementTree as ET
from datetime import datetime
from functools import lru_cache
from typing import Any

from botocore.awsrequest import AWSRequest
from botocore.compat import unquote_str
from botocore.exceptions import BotoCoreError
from botocore.hooks import first_non_none_response
from botocore.utils import parse_timestamp

MAX_ATTEMPTS = 5  # as the clients lib.s3 makes (retries={"max_attempts": 5})
# S3's codes (and bare statuses) that a retry after a pause can cure, as botocore retries them.
RETRYABLE = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "ServiceUnavailable",
        "InternalError",
        "RequestTimeout",
        "500",
        "502",
        "503",
        "504",
    }
)
_INTEGERS = frozenset({"Size", "KeyCount", "MaxKeys"})
_BOOLEANS = frozenset({"IsTruncated", "IsRestoreInProgress"})
_TIMESTAMPS = frozenset({"LastModified", "RestoreExpiryDate"})
_LISTS = frozenset({"ChecksumAlgorithm"})
_ENCODED_TOP = frozenset({"Delimiter", "Prefix", "StartAfter"})  # botocore decodes these (and keys)


class LeanUnavailable(Exception):
    """The store answered in a way this parser does not understand (not S3's XML)."""


class LeanS3Error(Exception):
    """S3 refused the request: `code` is its error code (or the bare HTTP status)."""

    def __init__(self, code: str, message: str, status: int):
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


def list_objects_v2(client, params: dict[str, Any]) -> dict[str, Any]:
    """One ListObjectsV2 page as `client.list_objects_v2(**params)` returns it.

    Retries throttling, 5xx and dropped connections with botocore's backoff (full jitter, capped
    at 20 s), up to MAX_ATTEMPTS in all. Raises LeanS3Error for S3's refusals, BotoCoreError for a
    connection that kept failing and LeanUnavailable for a response that is not S3's XML."""
    for attempt in range(MAX_ATTEMPTS):
        last = attempt == MAX_ATTEMPTS - 1
        try:
            status, headers, body = _send(client, params)
        except BotoCoreError:
            if last:
                raise
        else:
            if status == 200:
                return parse_page(body, status, headers)
            error = parse_error(body, status)
            if error.code not in RETRYABLE or last:
                raise error
        time.sleep(min(20.0, random.random() * 2**attempt))  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")


def _send(client, params: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """Sign with the client (fresh for every attempt: credentials may have been refreshed) and send
    over its own connection pool; a `before-send` handler (moto's mock) may answer instead, exactly
    as it would for the client's own call."""
    url = client.generate_presigned_url("list_objects_v2", Params={**params, "EncodingType": "url"}, ExpiresIn=900)
    request = AWSRequest(method="GET", url=url).prepare()
    responses = client.meta.events.emit("before-send.s3.ListObjectsV2", request=request)
    response = first_non_none_response(responses)
    if response is None:
        response = client._endpoint.http_session.send(request)
    return response.status_code, {k.lower(): v for k, v in response.headers.items()}, response.content


def parse_page(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A ListBucketResult body as botocore's parser (plus its URL-decoding handler) returns it."""
    root = _root(body)
    if _local(root.tag) != "ListBucketResult":
        raise LeanUnavailable(f"expected ListBucketResult, got {_local(root.tag)}")
    result: dict[str, Any] = {}
    contents: list[dict[str, Any]] = []
    prefixes: list[dict[str, Any]] = []
    for child in root:
        name = _local(child.tag)
        if name == "Contents":
            contents.append(_entry(child))
        elif name == "CommonPrefixes":
            prefixes.extend({"Prefix": _local_text(p)} for p in child if _local(p.tag) == "Prefix")
        else:
            result[name] = _value(name, child.text or "")
    encoded = result.get("EncodingType") == "url"
    if encoded:
        for name in _ENCODED_TOP & result.keys():
            result[name] = unquote_str(result[name])
        for entry in contents:
            entry["Key"] = unquote_str(entry["Key"])
        for folder in prefixes:
            folder["Prefix"] = unquote_str(folder["Prefix"])
    if contents:
        result["Contents"] = contents
    if prefixes:
        result["CommonPrefixes"] = prefixes
    result["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": headers or {}}
    return result


def parse_error(body: bytes, status: int) -> LeanS3Error:
    """S3's <Error> body as (Code, Message); the bare status when there is no body (or not XML)."""
    try:
        root = _root(body)
    except LeanUnavailable:
        return LeanS3Error(str(status), "", status)
    code = message = ""
    for child in root:
        if _local(child.tag) == "Code":
            code = child.text or ""
        elif _local(child.tag) == "Message":
            message = child.text or ""
    return LeanS3Error(code or str(status), message, status)


def _root(body: bytes) -> ET.Element:
    try:
        return ET.fromstring(body)
    except ET.ParseError as exc:
        raise LeanUnavailable(f"not XML: {exc}") from exc


def _entry(element: ET.Element) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    for child in element:
        name = _local(child.tag)
        if name in _LISTS:
            entry.setdefault(name, []).append(child.text or "")
        elif len(child):  # Owner, RestoreStatus: one level of structure
            entry[name] = {_local(c.tag): _value(_local(c.tag), c.text or "") for c in child}
        else:
            entry[name] = _value(name, child.text or "")
    return entry


def _value(name: str, text: str) -> Any:
    if name in _INTEGERS:
        return int(text)
    if name in _BOOLEANS:
        return text == "true"
    if name in _TIMESTAMPS:
        return _timestamp(text)
    return text


@lru_cache(maxsize=4096)  # a page's objects often share a second: parse each string once
def _timestamp(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # a store writing some other ISO 8601 or RFC 822 form: botocore's own parser
        return parse_timestamp(text)


def _local_text(element: ET.Element) -> str:
    return element.text or ""


@lru_cache(maxsize=256)
def _local(tag: str) -> str:
    """A tag without its namespace ({http://s3.amazonaws.com/doc/2006-03-01/}Key -> Key)."""
    return tag.rpartition("}")[2]
