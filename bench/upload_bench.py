"""Upload throughput: a large file from Chromium through bucketdesk's component versus boto3.

    python bench/upload_bench.py [--size-mb 1024] [--target localstack|sandbox] [--repeat 1]

Starts what it needs: LocalStack (tests/support/localstack.py; set BUCKETDESK_LOCALSTACK_PYTHON)
or the app's own embedded sandbox (moto), the real app with `streamlit run` behind the byte-counting
proxy, and Debian's Chromium through Playwright. Then, against the same endpoint in the same run:

- the component: choose the file on /upload and wait until the page says "Verified" (hashing each
  part with WebCrypto, signing part URLs through Streamlit, parallel PUTs with the signed SHA-256,
  completion and verification by the app server); the bytes-only time (first part request to last
  part response) is printed too;
- boto3's `upload_file` with the default TransferConfig (s3transfer: 8 MiB parts, 10 threads), and
  the same with `ChecksumAlgorithm="SHA256"` for a like-for-like integrity check.

Prints MB/s (MiB per second) of each and the ratios. Not a test: numbers depend on the machine;
LocalStack and moto are Python servers, so they, not the network, usually set the pace.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from boto3.s3.transfer import TransferConfig  # noqa: E402
from botocore.config import Config  # noqa: E402

from tests.support.app_server import CountingProxy, start_app  # noqa: E402
from tests.support.browser import chromium_path, launch_chromium  # noqa: E402

MiB = 1024 * 1024


def make_file(path: Path, mebibytes: int) -> Path:
    """Random bytes (one random MiB, each copy stamped with its index), written quickly."""
    block = os.urandom(MiB)
    with open(path, "wb") as out:
        for index in range(mebibytes):
            stamp = f"bucketdesk upload bench, MiB {index:08d}\n".encode()
            out.write(stamp + block[len(stamp) :])
    return path


def browser_upload(app_url: str, path: Path, timeout_s: float) -> dict:
    """Choose the file on the upload page; time to "Verified" and the part traffic."""
    from playwright.sync_api import sync_playwright

    parts: dict[str, list[float]] = {"started": [], "ended": []}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        page = browser.new_page()

        def is_part(request):
            return request.method == "PUT" and "partNumber=" in request.url

        page.on("request", lambda r: parts["started"].append(time.perf_counter()) if is_part(r) else None)
        page.on("requestfinished", lambda r: parts["ended"].append(time.perf_counter()) if is_part(r) else None)
        page.goto(f"{app_url}/upload")
        chooser = page.locator(".bd-uploader input[type=file]")
        chooser.wait_for(state="attached", timeout=90_000)
        started = time.perf_counter()
        chooser.set_input_files(str(path))
        status = page.locator(".bd-row .bd-status")
        deadline = time.monotonic() + timeout_s
        while (text := status.inner_text()) not in {"Verified", "Failed", "Not accepted", "Refused"}:
            if time.monotonic() > deadline:
                raise SystemExit(f"the browser upload did not finish in {timeout_s:.0f} s (last status: {text})")
            page.wait_for_timeout(100)
        finished = time.perf_counter()
        detail = page.locator(".bd-row .bd-detail").inner_text()
        if text != "Verified":
            raise SystemExit(f"the browser upload ended {text}: {detail}")
        link = page.locator("[data-testid=stCode] code").first.inner_text().strip()
        browser.close()
    return {
        "seconds": finished - started,
        "bytes_seconds": max(parts["ended"]) - min(parts["started"]),
        "before_first_part": min(parts["started"]) - started,  # hashing part 1, signing its URL
        "after_last_part": finished - max(parts["ended"]),  # completing, verifying, the page's answer
        "parts": len(parts["started"]),
        "link": link,
    }


def boto3_upload(endpoint: str, bucket: str, path: Path, credentials: dict, **extra_args) -> float:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        **credentials,
    )
    key = f"bench/boto3-{uuid.uuid4().hex}/{path.name}"
    started = time.perf_counter()
    client.upload_file(str(path), bucket, key, Config=TransferConfig(), ExtraArgs=extra_args or None)
    seconds = time.perf_counter() - started
    assert client.head_object(Bucket=bucket, Key=key)["ContentLength"] == path.stat().st_size
    client.delete_object(Bucket=bucket, Key=key)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size in MiB (default 1024)")
    parser.add_argument("--target", choices=["localstack", "sandbox"], default="localstack")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each (the best is reported)")
    parser.add_argument("--concurrency", type=int, help="multipart_concurrency for the app (default: the app's, 4)")
    parser.add_argument("--checksums", choices=["required", "optional", "off"], help="the app's checksums setting")
    args = parser.parse_args()
    if not chromium_path():
        raise SystemExit("Chromium is not installed (apt-get install chromium, or set BUCKETDESK_CHROMIUM).")

    workdir = Path(tempfile.mkdtemp(prefix="bucketdesk-bench-"))
    path = make_file(workdir / "bench-video.mp4", args.size_mb)
    size = path.stat().st_size
    limit = str(max(size, 100 * MiB))
    stack = app = None
    proxy = CountingProxy(target_port=0)
    try:
        if args.target == "localstack":
            from tests.support.localstack import (
                REGION,
                localstack_client,
                start_localstack,
            )

            stack = start_localstack()
            s3 = localstack_client(stack.endpoint_url)
            bucket = f"bd-bench-{uuid.uuid4().hex[:8]}"
            s3.create_bucket(Bucket=bucket)
            rule = {
                "AllowedOrigins": [proxy.url],
                "AllowedMethods": ["GET", "HEAD", "POST", "PUT"],
                "AllowedHeaders": ["*"],
                "ExposeHeaders": ["ETag"],
            }
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [rule]})
            env = {
                "BUCKETDESK_BUCKET": bucket,
                "BUCKETDESK_MAX_UPLOAD_BYTES": limit,
                "BUCKETDESK_ADDRESSING_STYLE": "path",
                "AWS_ENDPOINT_URL_S3": stack.endpoint_url,
                "AWS_ACCESS_KEY_ID": "test",
                "AWS_SECRET_ACCESS_KEY": "test",
                "AWS_REGION": REGION,
            }
            credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
        else:
            env = {"BUCKETDESK_MAX_UPLOAD_BYTES": limit}  # the sandbox takes BUCKETDESK_* limits
            credentials = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench"}
        if args.concurrency:
            env["BUCKETDESK_MULTIPART_CONCURRENCY"] = str(args.concurrency)
        if args.checksums:
            env["BUCKETDESK_CHECKSUMS"] = args.checksums
        app = start_app(env)
        proxy.target_port = app.port
        with proxy:
            component, bytes_only, plain, sha = [], [], [], []
            for _ in range(args.repeat):
                run = browser_upload(proxy.url, path, timeout_s=max(600, args.size_mb))
                component.append(run["seconds"])
                bytes_only.append(run["bytes_seconds"])
                parts = urlsplit(run["link"])
                endpoint = f"{parts.scheme}://{parts.netloc}"
                bucket = parts.path.lstrip("/").split("/", 1)[0]
                plain.append(boto3_upload(endpoint, bucket, path, credentials))
                sha.append(boto3_upload(endpoint, bucket, path, credentials, ChecksumAlgorithm="SHA256"))
            to_server = proxy.bytes_to_server
    finally:
        if app:
            app.stop()
        if stack:
            stack.stop()
        path.unlink(missing_ok=True)

    mb = size / MiB

    def rate(seconds):
        return mb / min(seconds)

    settings = f"multipart_concurrency {args.concurrency or 4}, checksums {args.checksums or 'required'}"
    print(f"\n{mb:.0f} MiB to {args.target} ({endpoint}), best of {args.repeat}; {run['parts']} parts; {settings}")
    print(f"  component, choose -> Verified            {rate(component):8.1f} MB/s  ({min(component):.1f} s)")
    print(f"  component, bytes only (part PUTs)        {rate(bytes_only):8.1f} MB/s  ({min(bytes_only):.1f} s)")
    print(
        f"    (last run: {run['before_first_part']:.1f} s before the first part, {run['after_last_part']:.1f} s after the last)"
    )
    print(f"  boto3 upload_file, default TransferConfig {rate(plain):8.1f} MB/s  ({min(plain):.1f} s)")
    print(f"  boto3 upload_file, + SHA-256 checksums    {rate(sha):8.1f} MB/s  ({min(sha):.1f} s)")
    print(
        f"  ratio component / boto3 default: {min(plain) / min(component):.2f} (bytes only: {min(plain) / min(bytes_only):.2f})"
    )
    print(f"  ratio component / boto3 SHA-256: {min(sha) / min(component):.2f}")
    print(f"  the app server received {to_server:,} bytes ({to_server / size:.6f} per file byte)")


if __name__ == "__main__":
    main()
