from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import dvbuild
from dvbuild import console
from dvbuild.api.sources import Source, find_source
from dvbuild.errors import ConfigError, ServiceError
from tests.services.postgres import Postgres


@pytest.fixture
def sqlite_repo(tmp_path: Path) -> dict[str, str]:
    data = tmp_path / "data"
    data.mkdir()
    with sqlite3.connect(data / "ledige.db") as db:
        db.execute("create table ledige (fylke text, antall integer)")
        db.executemany("insert into ledige values (?, ?)", [("Oslo", 10), ("Agder", 4)])
    (tmp_path / "dvbuild.yaml").write_text(
        "sources:\n  lokal:\n    url: sqlite:///${DATA_DIR}/ledige.db\n")
    return {"DVBUILD_CONFIG": str(tmp_path / "dvbuild.yaml"), "DATA_DIR": str(data)}


def test_read_sql_sqlite(sqlite_repo: dict[str, str]) -> None:
    df = dvbuild.read_sql("select * from ledige where antall > :n order by fylke",
                          source="lokal", params={"n": 1}, environ=sqlite_repo)
    assert df.to_dict("records") == [{"fylke": "Agder", "antall": 4},
                                     {"fylke": "Oslo", "antall": 10}]


def test_connect_sqlite(sqlite_repo: dict[str, str]) -> None:
    import sqlalchemy

    with dvbuild.connect("lokal", environ=sqlite_repo) as conn:
        assert conn.execute(sqlalchemy.text("select count(*) from ledige")).scalar() == 2


def test_config_found_above_cwd(sqlite_repo: dict[str, str], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "packages/p").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "packages/p")
    env = {"DATA_DIR": sqlite_repo["DATA_DIR"]}
    assert find_source("lokal", env).template == "sqlite:///${DATA_DIR}/ledige.db"


def test_unknown_source(sqlite_repo: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as info:
        dvbuild.read_sql("select 1", source="dvh", environ=sqlite_repo)
    problem = info.value.problems[0]
    assert (problem.pointer, problem.message) == ("/sources/dvh", "no source 'dvh' (known: lokal)")


def test_no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="no dvbuild.yaml was found"):
        find_source("dvh", {})


def test_missing_placeholder_is_named(sqlite_repo: dict[str, str]) -> None:
    env = {"DVBUILD_CONFIG": sqlite_repo["DVBUILD_CONFIG"]}
    with pytest.raises(ConfigError) as info:
        dvbuild.read_sql("select 1", source="lokal", environ=env)
    assert info.value.problems[0].message == "source 'lokal': ${DATA_DIR} is not set"


def test_userinfo_is_percent_encoded() -> None:
    source = Source("dvh", "postgresql://u:${PW}@db.invalid:5432/${DB}")
    assert source.url({"PW": "a@b:c/d", "DB": "dvh"}) == \
        "postgresql://u:a%40b%3Ac%2Fd@db.invalid:5432/dvh"
    assert Source("x", "${URL}").url({"URL": "sqlite:///a b"}) == "sqlite:///a b"


def test_bad_url_does_not_leak(tmp_path: Path) -> None:
    (tmp_path / "dvbuild.yaml").write_text("sources:\n  x:\n    url: 'nodriver://u:${PW}@h/db'\n")
    env = {"DVBUILD_CONFIG": str(tmp_path / "dvbuild.yaml"), "PW": "hunter2-secret"}
    with pytest.raises(ServiceError) as info:
        dvbuild.connect("x", environ=env)
    assert "hunter2-secret" not in str(info.value)
    assert "nodriver://u:${PW}@h/db" in str(info.value)
    assert info.value.__suppress_context__


# -- a real PostgreSQL ---------------------------------------------------------------------

def pg_env(postgres: Postgres, tmp_path: Path, password: str) -> dict[str, str]:
    (tmp_path / "dvbuild.yaml").write_text(
        "sources:\n  dvh:\n    url: postgresql+psycopg://postgres:${DVH_PASSWORD}@"
        f"{postgres.host}:{postgres.port}/postgres\n")
    return {"DVBUILD_CONFIG": str(tmp_path / "dvbuild.yaml"), "DVH_PASSWORD": password}


def test_read_sql_postgres(postgres: Postgres, tmp_path: Path) -> None:
    env = pg_env(postgres, tmp_path, postgres.password)
    import sqlalchemy

    with dvbuild.connect("dvh", environ=env) as conn:
        conn.execute(sqlalchemy.text(
            "create table if not exists fylker (nr text primary key, navn text, innbyggere int)"))
        conn.execute(sqlalchemy.text("delete from fylker"))
        conn.execute(sqlalchemy.text(
            "insert into fylker values ('03', 'Oslo', 717710), ('46', 'Vestland', 651299)"))
        conn.commit()
    df = dvbuild.read_sql("select navn, innbyggere from fylker where innbyggere > :n "
                          "order by nr", source="dvh", params={"n": 700000}, environ=env)
    assert df.to_dict("records") == [{"navn": "Oslo", "innbyggere": 717710}]
    assert postgres.password in console.masked_values()


def test_wrong_password_postgres(postgres: Postgres, tmp_path: Path) -> None:
    env = pg_env(postgres, tmp_path, "wrong-password-123")
    with pytest.raises(ServiceError) as info:
        dvbuild.read_sql("select 1", source="dvh", environ=env)
    message = str(info.value)
    assert "wrong-password-123" not in message
    assert "password authentication failed" in message
    assert message.startswith("source 'dvh' (postgresql+psycopg://postgres:${DVH_PASSWORD}@")


def test_query_error_postgres(postgres: Postgres, tmp_path: Path) -> None:
    env = pg_env(postgres, tmp_path, postgres.password)
    with pytest.raises(ServiceError, match='query failed: .*relation "nope" does not exist'):
        dvbuild.read_sql("select * from nope", source="dvh", environ=env)
