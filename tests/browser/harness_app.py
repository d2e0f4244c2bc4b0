"""Browser-test harness: the uploader component on its own, against an in-process moto S3 server.

    HARNESS_MOTO_PORT=5123 python -m streamlit run tests/browser/harness_app.py

It speaks the component's protocol the way lib/uploads.py does (idempotent, cumulative events:
`sign` answers only files holding an older grant than ours; `done` judges each grant's signSeq
once; `verified` echoes the signSeq it judged), but signs with boto3 directly so the component can
be tested without the rest of the app. Files over 1 MB are refused. Query parameter
`?concurrency=N` sets how many uploads run at once; `?hold=1` grants nothing (files stay waiting). The harness's own record (signs answered,
results judged) is printed as JSON in the container with key `harness-state`, for the test.
Dummy credentials only: moto accepts anything.
"""

from __future__ import annotations

import json
import os
import re
import socket
import threading
import time
from pathlib import Path

import boto3
import streamlit as st
from moto.server import ThreadedMotoServer

for _name, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}.items():
    os.environ.setdefault(_name, _value)

ASSETS = Path(__file__).resolve().parents[2] / "lib" / "components" / "uploader"
BUCKET = "harness-bucket"
LIMIT = 1024 * 1024
EXPIRES_IN = 300
FILE_ID = re.compile(r"^[0-9a-f]{16,64}$")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def human_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


@st.cache_resource
def s3():
    """One moto server per process, with a bucket whose CORS rule lets any origin POST."""
    port = int(os.environ.get("HARNESS_MOTO_PORT") or free_port())
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_cors(
        Bucket=BUCKET,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": ["*"],
                    "AllowedMethods": ["GET", "POST", "PUT", "HEAD"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 600,
                }
            ]
        },
    )
    return endpoint, client


@st.cache_resource
def uploader():
    return st.components.v2.component(
        "bucketdesk.uploader",
        html='<div class="bd-uploader"></div>',
        css=(ASSETS / "uploader.css").read_text(encoding="utf-8"),
        js=(ASSETS / "uploader.js").read_text(encoding="utf-8"),
    )


endpoint, client = s3()
state = st.session_state
state.setdefault("grants", {})
state.setdefault("verified", {})
state.setdefault("signs", [])  # every (id, held signSeq, answer) the harness acted on
state.setdefault("results", [])  # every result judged
state.setdefault("events", {"sign": 0, "done": 0})
state.setdefault("lock", threading.Lock())


def sign_one(file: dict) -> dict:
    name = str(file.get("name") or "")
    size = file.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        return {"refused": f"“{name}” did not report a valid size."}
    if size > LIMIT:
        return {"refused": f"“{name}” is {human_bytes(size)}; the limit for this bucket is {human_bytes(LIMIT)}."}
    content_type = str(file.get("type") or "application/octet-stream")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-80:] or "file"
    key = f"uploads/{file['id']}/{safe}"
    fields = {"Content-Type": content_type, "success_action_status": "201", "x-amz-meta-uploaded-by": "harness"}
    conditions = [{k: v} for k, v in fields.items()] + [["content-length-range", size, size]]
    post = client.generate_presigned_post(BUCKET, key, Fields=fields, Conditions=conditions, ExpiresIn=EXPIRES_IN)
    expires_at = int((time.time() + EXPIRES_IN) * 1000)
    return {
        "kind": "post",
        "url": post["url"],
        "fields": post["fields"],
        "key": key,
        "expiresAt": expires_at,
        "size": size,
    }


# Two Streamlit facts shape these callbacks (both hold for lib/uploads.py too):
# - every st.session_state access is a yield point where a pending rerun/stop request raises and
#   abandons the callback halfway, so they read session state first and then touch plain objects;
# - with runner.fastReruns (the default) a new rerun starts a new script thread while the old one
#   may still be inside a callback, so the same event can be handled twice at once: hence the lock.


def on_sign() -> None:
    state.events["sign"] += 1
    if st.query_params.get("hold"):
        return  # ?hold=1: nothing is granted, so files stay waiting for permission
    value, grants, verified, signs = state["uploader"]["sign"] or {}, state.grants, state.verified, state.signs
    with state.lock:
        sign_all(value, grants, verified, signs)


def sign_all(value: dict, grants: dict, verified: dict, signs: list) -> None:
    for file in value.get("files") or []:
        file_id = str(file.get("id", ""))
        if not FILE_ID.match(file_id):
            continue
        held = file.get("signSeq") if isinstance(file.get("signSeq"), int) else 0
        previous = grants.get(file_id)
        current = 0 if previous is None else previous.get("signSeq", 1)
        if previous is not None and ("refused" in previous or current > held):
            continue  # already answered
        if verified.get(file_id, {}).get("ok"):
            continue  # stored and verified
        answer = sign_one(file)
        if "refused" not in answer:
            answer["signSeq"] = current + 1
        grants[file_id] = answer
        signs.append({"id": file_id, "name": file.get("name"), "held": held, "refused": "refused" in answer})


def on_done() -> None:
    state.events["done"] += 1
    value, grants, verified, results = state["uploader"]["done"] or {}, state.grants, state.verified, state.results
    with state.lock:
        judge_all(value, grants, verified, results)


def judge_all(value: dict, grants: dict, verified: dict, results: list) -> None:
    for result in value.get("results") or []:
        file_id = str(result.get("id", ""))
        grant = grants.get(file_id)
        if not grant or "refused" in grant or result.get("signSeq") != grant["signSeq"]:
            continue  # not ours, or a stale attempt
        if verified.get(file_id, {}).get("signSeq") == grant["signSeq"]:
            continue  # this attempt was already judged
        # Like lib/uploads.py: the bucket, not the browser, says whether the object is there; a
        # failed report whose object did land (the answer was lost) is verified like a success.
        try:
            head = client.head_object(Bucket=BUCKET, Key=grant["key"])
        except client.exceptions.ClientError:
            head = None
        if head is not None and head["ContentLength"] == grant["size"]:
            verdict = {"ok": True, "message": f"Verified: {human_bytes(head['ContentLength'])} {head['ContentType']}."}
        elif head is not None:
            verdict = {
                "ok": False,
                "message": f"The stored object is {human_bytes(head['ContentLength'])}, not the size signed.",
            }
        elif result.get("ok"):
            verdict = {"ok": False, "message": "The browser reported success, but the object is not in the bucket."}
        else:
            verdict = {"ok": False, "message": result.get("message") or "The upload did not complete."}
        verified[file_id] = {**verdict, "signSeq": grant["signSeq"]}
        results.append(result)


with state.lock:  # a callback in an older script thread may still be writing them
    grants_now, verified_now = dict(state.grants), dict(state.verified)
st.title("Uploader harness")
st.caption(f"moto S3 at {endpoint}, bucket `{BUCKET}`; files over {human_bytes(LIMIT)} are refused.")
uploader()(
    key="uploader",
    data={
        "maxBytes": LIMIT,
        "accept": "image/*,application/pdf,text/plain",
        "concurrency": int(st.query_params.get("concurrency", 3)),
        "grants": grants_now,
        "verified": verified_now,
    },
    on_sign_change=on_sign,
    on_done_change=on_done,
)
if state.results:
    st.subheader("Results")
    st.write(state.results)
with st.container(key="harness-state"):
    st.code(
        json.dumps({"signs": state.signs, "results": state.results, "events": state.events}),
        language="json",
        wrap_lines=True,
    )
