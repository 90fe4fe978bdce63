"""dvbuild.read_dp: real packages published to a file store (and to rclone's S3), read back."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import dvbuild
from dvbuild import Datapackage
from dvbuild import publish as pub
from dvbuild.api import ranges
from dvbuild.api.read import INPUTS, read_dp, read_inputs, store_url
from dvbuild.errors import ConfigError, DataPackageError, DvbuildError
from tests.services.s3 import S3Server, free_port

NB = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
NAME = "upstream"


def frame(rows: int) -> pd.DataFrame:
    return pd.DataFrame({
        "fylke": [f"f{i}" for i in range(rows - 1)] + [None],
        "antall": pd.array([*range(rows - 1), None], dtype="Int64"),
        "n": list(range(rows)),
        "andel": [i / 4 for i in range(rows)],
        "aktiv": [i % 2 == 0 for i in range(rows)],
        "dato": pd.to_datetime([f"2025-01-{i + 1:02d}T10:30" for i in range(rows)]),
        "dag": [pd.Timestamp(f"2025-02-{i + 1:02d}").date() for i in range(rows)],
    })


def build(root: Path, semver: str, rows: int) -> Path:
    """A package directory as `dvbuild test` leaves it: csv, parquet and json resources."""
    src, out = root / f"src-{semver}", root / f"out-{semver}"
    src.mkdir(parents=True)
    (src / "datapackage.json").write_text(json.dumps({"name": NAME, "version": semver}))
    (src / "main.ipynb").write_text(NB)
    dp = Datapackage(src, out)
    for fmt in ("csv", "parquet", "json"):
        dp.add_resource(frame(rows), f"tab-{fmt}", format=fmt)
    dp.write()
    return out


def publish(folder: Path, url: str, environ: dict[str, str] | None = None) -> str:
    [result] = pub.publish_dirs([folder], url, None, environ=environ or {})
    assert result.status == "published", result.error
    return str(result.version)


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A store with two versions of NAME: 1.2.0 (3 rows), then 1.3.0 (4 rows, latest)."""
    root = tmp_path_factory.mktemp("published")
    store = root / "store"
    ids = [publish(build(root, "1.2.0", 3), store.as_uri()),
           publish(build(root, "1.3.0", 4), store.as_uri())]
    return store, ids


@pytest.fixture
def store(tmp_path: Path, published: tuple[Path, list[str]]) -> Path:
    """A private copy of the published store: a test may damage it."""
    return Path(shutil.copytree(published[0], tmp_path / "store"))


@pytest.fixture
def ids(published: tuple[Path, list[str]]) -> list[str]:
    return published[1]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"DVBUILD_CACHE_DIR": str(tmp_path / "cache"), "DVBUILD_OUTPUT_DIR": str(tmp_path / "out")}


def read(store: Path, env: dict[str, str], resource: str | None = "tab-csv", **kw: Any) -> Any:
    return read_dp(kw.pop("name", NAME), resource, store=store.as_uri(), environ=env, **kw)


# -- reading, with types ------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_latest_reads_each_format_with_its_schema_types(store: Path, env: dict[str, str],
                                                         fmt: str) -> None:
    got = read(store, env, f"tab-{fmt}")
    expected = frame(4)
    assert list(got.columns) == list(expected.columns) and len(got) == 4
    assert str(got["antall"].dtype) == "Int64" and got["antall"].isna().tolist()[-1]
    assert str(got["n"].dtype) == "int64" and str(got["andel"].dtype) == "float64"
    assert str(got["aktiv"].dtype) == "bool"
    assert pd.api.types.is_datetime64_any_dtype(got["dato"])
    assert got["dato"].tolist() == expected["dato"].tolist()
    assert got["dag"].tolist() == expected["dag"].tolist()  # Python dates, like add_resource took
    assert got["fylke"].tolist()[:3] == ["f0", "f1", "f2"] and pd.isna(got["fylke"].iloc[-1])
    assert got["andel"].tolist() == expected["andel"].tolist()


def test_a_hand_written_csv_gets_its_declared_types(tmp_path: Path, env: dict[str, str]) -> None:
    folder = tmp_path / "hand"
    (folder / "data").mkdir(parents=True)
    fields = [{"name": "ok", "type": "boolean", "trueValues": ["ja"], "falseValues": ["nei"]},
              {"name": "aar", "type": "year"}, {"name": "dag", "type": "date"},
              {"name": "kode", "type": "string"}, {"name": "x", "type": "number"}]
    (folder / "datapackage.json").write_text(json.dumps({"name": "hand", "resources": [
        {"name": "t", "path": "data/t.csv", "schema": {"fields": fields, "missingValues": ["", "NA"]}}]}))
    (folder / "data" / "t.csv").write_text("ok,aar,dag,kode,x\nja,2024,2024-03-01,007,1.5\nnei,NA,,008,NA\n")
    publish(folder, (tmp_path / "s").as_uri())
    got = read(tmp_path / "s", env, "t", name="hand")
    assert got["ok"].tolist() == [True, False] and str(got["aar"].dtype) == "Int64"
    assert got["kode"].tolist() == ["007", "008"]  # a string stays a string, zeros and all
    assert got["dag"].tolist()[0].isoformat() == "2024-03-01" and got["dag"].tolist()[1] is None
    assert got["x"].iloc[0] == 1.5 and pd.isna(got["x"].iloc[1])


def test_a_multi_file_resource_is_one_frame(tmp_path: Path, env: dict[str, str]) -> None:
    folder = tmp_path / "multi"
    (folder / "data").mkdir(parents=True)
    (folder / "datapackage.json").write_text(json.dumps({"name": "multi", "resources": [
        {"name": "t", "path": ["data/a.csv", "data/b.csv"], "format": "csv",
         "schema": {"fields": [{"name": "a", "type": "integer"}]}}]}))
    (folder / "data" / "a.csv").write_text("a\n1\n2\n")
    (folder / "data" / "b.csv").write_text("3\n")  # the header is in the first file only
    publish(folder, (tmp_path / "s").as_uri())
    assert read(tmp_path / "s", env, "t", name="multi")["a"].tolist() == [1, 2, 3]
    [entry] = read_inputs(env["DVBUILD_OUTPUT_DIR"])
    assert len(entry["sha256"]) == 64


def test_an_exact_version_and_a_version_field(store: Path, env: dict[str, str],
                                              ids: list[str]) -> None:
    assert len(read(store, env, version=ids[0])) == 3
    assert len(read(store, env, version="1.2.0")) == 3
    assert len(read(store, env, version=ids[1])) == 4


@pytest.mark.parametrize(("wanted", "rows"), [
    ("^1.2", 4), ("~1.2", 3), ("~1.3.0", 4), (">=1.2,<1.3", 3), ("1.x", 4), ("1.2.*", 3),
    ("*", 4), ("==1.2.0", 3), ("~=1.2", 4),
])
def test_ranges_pick_the_highest_match(store: Path, env: dict[str, str], wanted: str,
                                       rows: int) -> None:
    assert len(read(store, env, version=wanted)) == rows


def test_the_descriptor_is_the_published_one(store: Path, env: dict[str, str],
                                             ids: list[str]) -> None:
    got = read(store, env, None)
    assert got["name"] == NAME and got["version"] == "1.3.0"
    assert [r["name"] for r in got["resources"]] == ["tab-csv", "tab-parquet", "tab-json"]
    manifest = json.loads((store / NAME / "versions" / ids[1] / "_manifest.json").read_text())
    [entry] = read_inputs(env["DVBUILD_OUTPUT_DIR"])
    sha = next(f["sha256"] for f in manifest["files"] if f["path"] == "datapackage.json")
    assert entry == {"name": NAME, "version": ids[1], "resource": None, "sha256": sha}


def test_lazy_exports() -> None:
    assert dvbuild.read_dp is read_dp and dvbuild.DataPackageError is DataPackageError
    assert issubclass(DataPackageError, DvbuildError)
    assert {"read_dp", "DataPackageError"} <= set(dvbuild.__all__)


# -- versions, pure -------------------------------------------------------------------------


def manifests(*rows: tuple[str, str]) -> list[dict[str, str]]:
    return [{"version": f"{semver}-{i:012x}", "semver": semver, "published": published}
            for i, (semver, published) in enumerate(rows)]


def test_pick_prefers_the_newest_publish_for_one_version_field() -> None:
    found = manifests(("1.2.0", "2025-01-02"), ("1.2.0", "2025-03-01"), ("1.10.0", "2025-02-01"))
    assert ranges.pick(found, ranges.parse("1.2.0")) == found[1]
    assert ranges.pick(found, ranges.parse("^1.2")) == found[2]  # 1.10 > 1.2, not by text


def test_calendar_versions_match_only_exactly() -> None:
    found = manifests(("2023-03-30", "2023-03-30"), ("2024-01-01", "2024-01-01"))
    assert ranges.pick(found, ranges.parse("2023-03-30")) == found[0]
    assert ranges.pick(found, ranges.parse(">=2000")) is None
    assert ranges.pick(found, ranges.parse("*")) is None


@pytest.mark.parametrize(("text", "inside", "outside"), [
    ("^1.2", ["1.2.0", "1.9.9"], ["1.1.9", "2.0.0", "2.0.0rc1"]),
    ("^0.2", ["0.2.0", "0.2.5"], ["0.3.0", "0.1.0"]),
    ("^0.0.3", ["0.0.3"], ["0.0.4"]),
    ("~1.2", ["1.2.0", "1.2.7"], ["1.3.0"]),
    ("~1", ["1.0.0", "1.9.0"], ["2.0.0"]),
    ("1.x", ["1.0.0", "1.99.0"], ["2.0.0", "0.9.0"]),
    ("1.2.*", ["1.2.0", "1.2.3"], ["1.3.0"]),
    (">=1.2, <2", ["1.2.0", "1.5.0"], ["2.0.0", "1.1.0"]),
])
def test_range_forms(text: str, inside: list[str], outside: list[str]) -> None:
    wanted = ranges.parse(text)
    assert all(ranges.matches(wanted, v) for v in inside)
    assert not any(ranges.matches(wanted, v) for v in outside)


@pytest.mark.parametrize("bad", ["^1.x", ">=banana", "~"])
def test_a_malformed_range_is_refused(store: Path, env: dict[str, str], bad: str) -> None:
    with pytest.raises(DataPackageError, match="version="):
        read(store, env, version=bad)


# -- errors ---------------------------------------------------------------------------------


def test_a_missing_package(store: Path, env: dict[str, str]) -> None:
    with pytest.raises(DataPackageError, match="no such package") as e:
        read(store, env, name="nope")
    assert (e.value.store, e.value.package, e.value.version) == (store.as_uri(), "nope", "latest")
    assert store.as_uri() in str(e.value)


def test_a_missing_resource(store: Path, env: dict[str, str], ids: list[str]) -> None:
    with pytest.raises(DataPackageError, match="no resource 'nope'.*tab-csv") as e:
        read(store, env, "nope")
    assert e.value.version == ids[1]


def test_a_range_that_matches_nothing(store: Path, env: dict[str, str], ids: list[str]) -> None:
    with pytest.raises(DataPackageError, match="no complete version matches") as e:
        read(store, env, version="^2")
    assert e.value.version == "^2" and ids[0] in e.value.hint


def test_an_incomplete_version(store: Path, env: dict[str, str], ids: list[str]) -> None:
    (store / NAME / "versions" / ids[1] / "_manifest.json").unlink()
    with pytest.raises(DataPackageError, match="incomplete") as e:
        read(store, env)  # latest.json names it
    assert e.value.version == ids[1]
    with pytest.raises(DataPackageError, match="incomplete"):
        read(store, env, version=ids[1])
    with pytest.raises(DataPackageError, match="incomplete"):
        read(store, env, version="1.3.0")
    assert len(read(store, env, version="^1.2")) == 3  # ranges skip it: 1.2.0 is complete


def test_a_checksum_mismatch(store: Path, env: dict[str, str], ids: list[str]) -> None:
    data = store / NAME / "versions" / ids[1] / "data" / "tab-csv.csv"
    data.write_text(data.read_text().replace("f1", "XX"))
    with pytest.raises(DataPackageError, match="checksum mismatch for data/tab-csv.csv"):
        read(store, env)
    assert read_inputs(env["DVBUILD_OUTPUT_DIR"]) == []  # a failed read is not recorded


def test_an_unreachable_file_store(tmp_path: Path, env: dict[str, str]) -> None:
    with pytest.raises(DataPackageError, match="cannot reach the store"):
        read(tmp_path / "nowhere", env)


def test_an_unreachable_s3_store(env: dict[str, str]) -> None:
    dead = {**env, "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s", "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}", "AWS_MAX_ATTEMPTS": "1"}
    with pytest.raises(DataPackageError, match="cannot reach the store") as e:
        read_dp(NAME, "tab-csv", store="s3://bucket/prefix", environ=dead)
    assert e.value.store == "s3://bucket/prefix"


def test_no_store_anywhere_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no store"):
        store_url(None, {"DVBUILD_CONFIG": str(tmp_path / "missing.yaml")}, cwd=tmp_path)


# -- where the store comes from ---------------------------------------------------------------


def test_the_store_from_the_environment_and_dvbuild_yaml(tmp_path: Path) -> None:
    assert store_url("s3://a/b", {"DVBUILD_STORE": "s3://c/d"}) == "s3://a/b"
    assert store_url(None, {"DVBUILD_STORE": "s3://c/d"}) == "s3://c/d"
    config = tmp_path / "repo" / "dvbuild.yaml"
    config.parent.mkdir()
    config.write_text("store: file://out/store\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = store_url(None, {"DVBUILD_CONFIG": str(config)}, cwd=elsewhere)
    assert found == str(tmp_path / "repo" / "out" / "store")  # relative to dvbuild.yaml
    config.write_text("store: s3://bucket/team\n")
    assert store_url(None, {}, cwd=config.parent) == "s3://bucket/team"


def test_read_dp_uses_dvbuild_store(store: Path, env: dict[str, str]) -> None:
    got = read_dp(NAME, "tab-json", environ={**env, "DVBUILD_STORE": store.as_uri()})
    assert len(got) == 4


# -- the cache --------------------------------------------------------------------------------


def test_a_second_read_comes_from_the_cache(store: Path, env: dict[str, str], ids: list[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    first = read(store, env, "tab-parquet")
    manifest = json.loads((store / NAME / "versions" / ids[1] / "_manifest.json").read_text())
    sha = next(f["sha256"] for f in manifest["files"] if f["path"] == "data/tab-parquet.parquet")
    assert (Path(env["DVBUILD_CACHE_DIR"]) / sha[:2] / sha).is_file()
    from dvbuild.stores.file import FileStore

    reads: list[str] = []
    original = FileStore.read
    monkeypatch.setattr(FileStore, "read", lambda self, key: reads.append(key) or original(self, key))
    (store / NAME / "versions" / ids[1] / "data" / "tab-parquet.parquet").unlink()
    second = read(store, env, "tab-parquet")
    pd.testing.assert_frame_equal(first, second)
    assert not [k for k in reads if not k.endswith((".json",))]  # pointers only, no data


def test_a_damaged_cache_entry_is_fetched_again(store: Path, env: dict[str, str]) -> None:
    read(store, env)
    for cached in Path(env["DVBUILD_CACHE_DIR"]).rglob("*"):
        if cached.is_file():
            cached.write_text("damaged")
    assert len(read(store, env)) == 4


# -- lineage ----------------------------------------------------------------------------------


def test_every_read_is_recorded_and_read_inputs_dedupes(store: Path, env: dict[str, str],
                                                        ids: list[str]) -> None:
    read(store, env, "tab-csv")
    read(store, env, "tab-json", version="~1.2")
    read(store, env, "tab-csv")
    lines = (Path(env["DVBUILD_OUTPUT_DIR"]) / INPUTS).read_text().splitlines()
    assert len(lines) == 3
    with (Path(env["DVBUILD_OUTPUT_DIR"]) / INPUTS).open("a") as f:
        f.write('{"name": "half')  # a kernel killed mid-write
    inputs = read_inputs(env["DVBUILD_OUTPUT_DIR"])
    assert [(i["version"], i["resource"]) for i in inputs] == [(ids[1], "tab-csv"),
                                                               (ids[0], "tab-json")]
    assert all(set(i) == {"name", "version", "resource", "sha256"} for i in inputs)


def test_nothing_is_recorded_without_an_output_dir(store: Path, tmp_path: Path) -> None:
    read(store, {"DVBUILD_CACHE_DIR": str(tmp_path / "c")})
    assert not list(tmp_path.rglob(INPUTS)) and read_inputs(tmp_path) == []


# -- S3 ---------------------------------------------------------------------------------------


@pytest.fixture
def s3_store(tmp_path: Path, rclone_s3: S3Server) -> Iterator[tuple[str, list[str]]]:
    url = f"s3://{rclone_s3.bucket()}/team/data"
    ids = [publish(build(tmp_path, "1.2.0", 3), url, rclone_s3.environ),
           publish(build(tmp_path, "1.3.0", 4), url, rclone_s3.environ)]
    yield url, ids


def test_read_from_rclone_s3(s3_store: tuple[str, list[str]], rclone_s3: S3Server,
                             env: dict[str, str]) -> None:
    url, ids = s3_store
    environ = {**env, **rclone_s3.environ}
    assert len(read_dp(NAME, "tab-parquet", store=url, environ=environ)) == 4
    assert len(read_dp(NAME, "tab-csv", store=url, version="~1.2", environ=environ)) == 3
    assert read_dp(NAME, store=url, version=ids[0], environ=environ)["version"] == "1.2.0"
    with pytest.raises(DataPackageError, match="no such package"):
        read_dp("nope", store=url, environ=environ)
    assert [i["version"] for i in read_inputs(env["DVBUILD_OUTPUT_DIR"])] == [ids[1], ids[0], ids[0]]
