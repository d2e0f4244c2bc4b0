"""What a small file costs the store (not a test): LocalStack's own CPU per request, one at a time.

    python bench/store_cost_bench.py [--files 300] [--size-kb 20] [--repeat 3]

Starts a throwaway LocalStack (tests/support/localstack.py; BUCKETDESK_LOCALSTACK_PYTHON) and sends
--files small files to it, one request at a time, each way the app can store one: a POST policy
form and a presigned PUT (signed exactly as the app signs them, lib/upload/grants.py, sent with a
browser's Origin), then boto3's put_object with SHA-256 (the baseline of upload_bench.py's "many"
scenario), and the app's verification of each stored file (lib/upload/verify.py: one GET of a small
file). For each it prints LocalStack's CPU per file (user + system of its process group, from /proc)
and the wall time per file, median of --repeat rounds, and what they mean for upload_bench.py's
"many" ratio: LocalStack is one Python process, so when it is the busiest part, the component can
reach at most boto3's CPU per file divided by (upload + verification) CPU per file.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from lib.config import BucketProfile  # noqa: E402
from lib.s3 import S3Gateway  # noqa: E402
from lib.upload.grants import DeclaredFile, Grant, sign_upload  # noqa: E402
from lib.upload.verify import verify_upload  # noqa: E402
from tests.support.localstack import LocalStack, localstack_client, start_localstack  # noqa: E402

ORIGIN = "http://localhost:8501"  # browsers always send one; LocalStack answers CORS for it
TYPE = "application/octet-stream"
POST = "POST policy form (the app's default)"
PUT = "presigned PUT (upload_method = put)"
BASELINE = "boto3 put_object + SHA-256 (baseline)"
VERIFY = "verification of a stored file (one GET)"


def group_cpu_seconds(process_group: int) -> float:
    """User + system CPU of every live process in the group (LocalStack and its children)."""
    found = subprocess.run(["pgrep", "-g", str(process_group)], capture_output=True, text=True).stdout.split()
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in found:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def measure(stack: LocalStack, count: int, each: Callable[[int], None]) -> tuple[float, float]:
    """(LocalStack CPU ms, wall ms) per call of `each` over `count` calls, one at a time."""
    group = os.getpgid(stack.process.pid)
    cpu, wall = group_cpu_seconds(group), time.perf_counter()
    for n in range(count):
        each(n)
    return (
        (group_cpu_seconds(group) - cpu) / count * 1000,
        (time.perf_counter() - wall) / count * 1000,
    )


def grants_for(stack: LocalStack, bucket: str, method: str, body: bytes, count: int, round_: int):
    profile = BucketProfile(
        name="bench",
        bucket=bucket,
        endpoint_url=stack.endpoint_url,
        region="us-east-1",
        access_key_id="test",
        secret_access_key="test",
        addressing_style="path",
        upload_method=method,
        allowed_types=(TYPE,),
        policy_expiry_seconds=600,
    )
    gateway = S3Gateway(profile)
    sha256 = base64.b64encode(hashlib.sha256(body).digest()).decode()
    grants = []
    for n in range(count):
        declared = DeclaredFile(id=f"f{n}", name=f"f{n}.bin", size=len(body), type=TYPE, sha256=sha256)
        grant = sign_upload(gateway, "bench@example.com", declared, key=f"{method}/{round_}/{n}.bin")
        assert isinstance(grant, Grant), grant
        grants.append(grant)
    return gateway, grants


def one_round(
    stack: LocalStack, s3, bucket: str, body: bytes, files: int, round_: int
) -> dict[str, tuple[float, float]]:
    """Each way of storing `files` small files, then their verification: {what: (CPU ms, wall ms) per file}."""
    http = requests.Session()
    post_gateway, posts = grants_for(stack, bucket, "post", body, files, round_)
    _, puts = grants_for(stack, bucket, "put", body, files, round_)

    def send_post(n: int) -> None:
        form = {"file": ("f.bin", body, TYPE)}
        sent = http.post(posts[n].url, data=posts[n].fields, files=form, headers={"Origin": ORIGIN})
        assert sent.status_code == 201, (sent.status_code, sent.text[:300])

    def send_put(n: int) -> None:
        sent = http.put(puts[n].url, data=body, headers={**puts[n].headers, "Origin": ORIGIN})
        assert sent.status_code == 200, (sent.status_code, sent.text[:300])

    def boto3_put(n: int) -> None:
        s3.put_object(Bucket=bucket, Key=f"boto3/{round_}/{n}.bin", Body=body, ChecksumAlgorithm="SHA256")

    def verify(n: int) -> None:
        checked = verify_upload(post_gateway, posts[n])
        assert checked.ok, checked.problems

    return {
        name: measure(stack, files, each)
        for name, each in [
            (POST, send_post),
            (PUT, send_put),
            (BASELINE, boto3_put),
            (VERIFY, verify),
        ]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--size-kb", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    body = os.urandom(args.size_kb * 1024)
    rows: dict[str, list[tuple[float, float]]] = {}
    stack = start_localstack()
    try:
        s3 = localstack_client(stack.endpoint_url)
        bucket = f"bd-cost-{uuid.uuid4().hex[:8]}"
        s3.create_bucket(Bucket=bucket)
        for round_ in range(args.repeat):
            for name, measured in one_round(stack, s3, bucket, body, args.files, round_).items():
                rows.setdefault(name, []).append(measured)
    finally:
        stack.stop()
    median = {
        name: (statistics.median(c for c, _ in runs), statistics.median(w for _, w in runs))
        for name, runs in rows.items()
    }
    print(f"\n{args.files} files of {args.size_kb} KiB, one request at a time, median of {args.repeat} rounds")
    print(f"{'request':<42} {'LocalStack CPU ms/file':>22} {'wall ms/file':>13}")
    for name, (cpu, wall) in median.items():
        print(f"{name:<42} {cpu:>22.2f} {wall:>13.2f}")
    post, put, base, check = (median[name][0] for name in (POST, PUT, BASELINE, VERIFY))
    print(
        "\nCeiling of upload_bench.py's 'many' ratio while LocalStack's CPU sets the pace "
        f"(boto3 / (upload + verification)): POST {base / (post + check):.2f}x, PUT {base / (put + check):.2f}x"
    )
    print(f"load average (1/5/15 min): {' / '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
