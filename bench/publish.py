"""Publish throughput against `rclone serve s3`: dvbuild vs a sequential boto3 loop.

    .venv/bin/python bench/publish.py [--small 500] [--small-kb 20] [--large 4] [--large-mb 64]

Prints files/s and MB/s for each, and the time of a republish of unchanged
content (which hashes the local files and reads one manifest).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dvbuild import publish as pub  # noqa: E402
from tests.services.s3 import S3Server  # noqa: E402


def make_package(folder: Path, name: str, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True)
    files = []
    for i in range(count):
        path = folder / f"part-{i:05d}.bin"
        path.write_bytes(os.urandom(size))
        files.append(path)
    resources = [{"name": f"r{i}", "path": p.name} for i, p in enumerate(files)]
    (folder / "datapackage.json").write_text(json.dumps({"name": name, "resources": resources}))
    return files


def loop(server: S3Server, files: list[Path], bucket: str) -> float:
    import boto3

    client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                          aws_access_key_id=server.environ["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=server.environ["AWS_SECRET_ACCESS_KEY"])
    start = time.perf_counter()
    for path in files:
        client.put_object(Bucket=bucket, Key=f"loop/{path.name}", Body=path.read_bytes())
    return time.perf_counter() - start


def dvbuild(server: S3Server, folder: Path, bucket: str) -> tuple[float, int]:
    start = time.perf_counter()
    [result] = pub.publish_dirs([folder], f"s3://{bucket}/dv", None, environ=server.environ)
    assert result.status != "failed", result.error
    return time.perf_counter() - start, result.uploaded


def line(what: str, seconds: float, files: int, size: int) -> str:
    return (f"  {what:<10} {seconds:7.2f} s  {files / seconds:8.1f} files/s  "
            f"{size / 1e6 / seconds:8.1f} MB/s")


def run(label: str, server: S3Server, root: Path, count: int, size: int) -> None:
    folder = root / label
    files = make_package(folder, label, count, size)
    total = count * size
    print(f"{label}: {count} files of {size // 1024} KiB ({total / 1e6:.0f} MB)")
    base = loop(server, files, server.bucket())
    print(line("boto3 loop", base, count, total))
    bucket = server.bucket()
    took, uploaded = dvbuild(server, folder, bucket)
    print(line("dvbuild", took, uploaded, total) + f"  ({base / took:.1f}x the loop)")
    again, uploaded = dvbuild(server, folder, bucket)
    print(f"  republish  {again:7.2f} s  ({uploaded} uploads)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--small-kb", type=int, default=20)
    parser.add_argument("--large", type=int, default=4)
    parser.add_argument("--large-mb", type=int, default=64)
    args = parser.parse_args()
    # Both ends (boto3 and rclone) are CPU-bound on small files: say what the machine had.
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        server = S3Server("rclone", Path(tmp) / "server").start()
        try:
            run("small", server, Path(tmp), args.small, args.small_kb * 1024)
            run("large", server, Path(tmp), args.large, args.large_mb * 1024 * 1024)
        finally:
            server.kill()


if __name__ == "__main__":
    main()
