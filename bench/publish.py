"""Publish throughput against `rclone serve s3`: dvbuild vs a sequential boto3 loop.

    .venv/bin/python bench/publish.py [--small 500] [--small-kb 20] [--large 4] [--large-mb 64]
                                      [--repeat 3]

For each size prints files/s and MB/s (median of --repeat runs, each into a new
bucket) for: a sequential `put_object` loop with boto3 defaults; dvbuild with
its small-file fast path off (DVBUILD_S3_DIRECT=0: every PUT through the boto3
client); dvbuild as shipped. Then the time of a republish of unchanged content
(which hashes the local files and reads one manifest). dvbuild's figures are
end to end: checking and hashing the directory, opening the store, uploading,
manifest, latest.json. `cpu` is the CPU seconds the client (this process) and
the server (rclone) spent: on a small machine both compete for the same cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dvbuild import publish as pub  # noqa: E402
from tests.services.s3 import S3Server  # noqa: E402

Run = tuple[float, float, float]  # wall seconds, client cpu, server cpu


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


def server_cpu(server: S3Server) -> float:
    assert server.proc is not None
    fields = Path(f"/proc/{server.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(server: S3Server, action: Callable[[], object]) -> Run:
    client, srv, start = time.process_time(), server_cpu(server), time.perf_counter()
    action()
    return (time.perf_counter() - start, time.process_time() - client, server_cpu(server) - srv)


def loop(server: S3Server, files: list[Path]) -> Run:
    import boto3

    client = boto3.client("s3", endpoint_url=server.endpoint, region_name="us-east-1",
                          aws_access_key_id=server.environ["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=server.environ["AWS_SECRET_ACCESS_KEY"])
    bucket = server.bucket()

    def put_all() -> None:
        for path in files:
            client.put_object(Bucket=bucket, Key=f"loop/{path.name}", Body=path.read_bytes())

    return measured(server, put_all)


def dvbuild(server: S3Server, folder: Path, bucket: str, environ: dict[str, str]) -> Run:
    def publish() -> None:
        [result] = pub.publish_dirs([folder], f"s3://{bucket}/dv", None, environ=environ)
        assert result.status != "failed", result.error

    return measured(server, publish)


def median(runs: list[Run]) -> Run:
    wall = statistics.median(r[0] for r in runs)
    return wall, statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs)


def line(what: str, run: Run, files: int, size: int, base: float | None = None) -> str:
    wall, client, server = run
    ratio = f"  {base / wall:4.1f}x the loop" if base else ""
    return (f"  {what:<22} {wall:6.2f} s {files / wall:7.1f} files/s {size / 1e6 / wall:7.1f} MB/s"
            f"  cpu client {client:5.2f} s server {server:5.2f} s{ratio}")


def run(label: str, server: S3Server, root: Path, count: int, size: int, repeat: int) -> None:
    folder = root / label
    files = make_package(folder, label, count, size)
    total = count * size
    print(f"{label}: {count} files of {size // 1024} KiB ({total / 1e6:.0f} MB), "
          f"median of {repeat}")
    base = median([loop(server, files) for _ in range(repeat)])
    print(line("boto3 loop", base, count, total))
    boto = {**server.environ, "DVBUILD_S3_DIRECT": "0"}
    for what, environ in (("dvbuild, boto3 PUTs", boto), ("dvbuild", server.environ)):
        runs = [dvbuild(server, folder, server.bucket(), environ) for _ in range(repeat)]
        print(line(what, median(runs), count, total, base[0]))
    bucket = server.bucket()
    dvbuild(server, folder, bucket, server.environ)
    again = median([dvbuild(server, folder, bucket, server.environ) for _ in range(repeat)])
    print(f"  {'republish, unchanged':<22} {again[0]:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--small-kb", type=int, default=20)
    parser.add_argument("--large", type=int, default=4)
    parser.add_argument("--large-mb", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # Both ends (boto3 and rclone) are CPU-bound on small files: say what the machine had.
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        server = S3Server("rclone", Path(tmp) / "server").start()
        try:
            run("small", server, Path(tmp), args.small, args.small_kb * 1024, args.repeat)
            if args.large:
                run("large", server, Path(tmp), args.large, args.large_mb * 1024 * 1024,
                    args.repeat)
        finally:
            server.kill()
    print(f"load average after {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
