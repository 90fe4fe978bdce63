"""No secret value leaves a run: real notebooks emit secrets every way they can (print,
HTML displays, a multi-line PEM, a service-account JSON, CSV/JSON/NDJSON/XML/SVG/parquet
files, a `setsid` child writing after its kernel ended), and every byte of OUT, the file
store, the catalog, the PR comment and the commands' stdout/stderr is searched for each
value in every encoding. A value that cannot be masked (a binary file, a weak value like
`data` or `100`) fails its package, naming the file, and nothing of it is published."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest

from dvbuild import console
from tests.conftest import Repo
from tests.test_notebooks import DATA_REQUIREMENTS, notebook

TOKEN = "Tok/en\"<&'-9f8e7d-Zq"
PEM_LINES = ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7",
             "x9Lq2vZ+Kf3J/Qw8RrT5mNpL0sUeYbHcVdWiXoAzGjK"]
PEM = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(PEM_LINES) + "\n-----END PRIVATE KEY-----\n"
SA_KEY = PEM.replace("MIIE", "MIIF")
SA = json.dumps({"type": "service_account", "private_key_id": "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                 "private_key": SA_KEY, "client_email": "svc-x7@proj.iam.gserviceaccount.com",
                 "client_id": "1234567890"}, indent=2)
STRONG = [TOKEN, PEM, SA, SA_KEY, *PEM_LINES, "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
          "svc-x7@proj.iam.gserviceaccount.com"]
ENV = {"LEAK_TOKEN": TOKEN, "LEAK_PEM": PEM, "LEAK_SA": SA, "LEAK_USER": "data", "LEAK_PORT": "100"}

EMIT = [
    "import os, json, html, subprocess, sys\nimport pandas as pd\n"
    "from IPython.display import display, HTML\n"
    "token, pem, sa = os.environ['API_TOKEN'], os.environ['PEM_KEY'], os.environ['SA_JSON']",
    "print('token', token); print(pem); print(repr(pem)); print(json.loads(sa))\n"
    "print(json.loads(sa)['private_key']); print(pem.splitlines()[1]); print(sa)",
    "display(HTML('<b>' + html.escape(token) + '</b><pre>' + html.escape(pem) + '</pre>'))",
    "display({'token': token, 'pem': pem})",
    "df = pd.DataFrame({'n': [1, 2], 'secret': [token, pem]})\n"
    "df.to_csv('t.csv', index=False)\n"
    "df.to_json('t.json', orient='records')\n"
    "df.to_json('t.ndjson', orient='records', lines=True)\n"
    "open('t.xml', 'w').write('<r><v>' + html.escape(token) + '</v><k>' + html.escape(pem) + '</k></r>')\n"
    "open('t.svg', 'w').write('<svg xmlns=\"http://www.w3.org/2000/svg\"><text>'"
    " + html.escape(token) + '</text></svg>')",
    # after the kernel is gone: its own session (setsid), and a double fork below it
    "late = 'import os, time; time.sleep(3); open(\"late.txt\", \"w\").write(os.environ[\"API_TOKEN\"])'\n"
    "subprocess.Popen(['setsid', sys.executable, '-c', late])\n"
    "subprocess.Popen('(sleep 3; echo \"$API_TOKEN\" > late2.txt) &', shell=True,"
    " start_new_session=True)",
    "token",
]


def build(repo: Repo) -> None:
    strong = {"API_TOKEN": "env:LEAK_TOKEN", "PEM_KEY": "env:LEAK_PEM", "SA_JSON": "env:LEAK_SA"}
    repo.write("p/leaky/main.ipynb", notebook(*EMIT))
    repo.write("p/leaky/requirements.txt", DATA_REQUIREMENTS)
    repo.write_package("p/leaky", secrets=strong, resources=[
        {"name": "t", "path": "t.csv"}, {"name": "j", "path": "t.json", "format": "json"}])
    repo.write("p/binary/main.ipynb", notebook(
        "import os, pandas as pd",
        "pd.DataFrame({'secret': [os.environ['API_TOKEN']]}).to_parquet('t.parquet')"))
    repo.write("p/binary/requirements.txt", DATA_REQUIREMENTS)
    repo.write_package("p/binary", secrets=strong, resources=[
        {"name": "t", "path": "t.parquet", "format": "parquet"}])
    weak = {"DB_USER": "env:LEAK_USER", "DB_PORT": "env:LEAK_PORT"}
    repo.write("p/common/main.ipynb", notebook(
        "import os, pandas as pd; os.makedirs('data', exist_ok=True)",
        "pd.DataFrame({'aar': range(100), 'ledige': range(100)})"
        ".to_csv('data/ledighet.csv', index=False)"))
    repo.write("p/common/requirements.txt", DATA_REQUIREMENTS)
    repo.write_package("p/common", secrets=weak,
                       resources=[{"name": "ledighet", "path": "data/ledighet.csv"}])
    repo.write("p/commonleak/main.ipynb", notebook(
        "import os, json", "print('user', os.environ['DB_USER'])",
        "json.dump({'rows': int(os.environ['DB_PORT'])}, open('stats.json', 'w'))"))
    repo.write_package("p/commonleak", secrets=weak)
    repo.commit()


def dvbuild(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, **ENV}
    command = [str(Path(sys.executable).parent / "dvbuild"), *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=environ, capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("leakrepo")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    build(Repo(root))
    out, store = root.parent / "leak-out", root.parent / "leak-store"
    catalog = root.parent / "leak-cat"
    test = dvbuild("test", "--out", out, "--jobs", "4", "--json", cwd=root)
    ended = time.monotonic()
    names = ["leaky", "binary", "common", "commonleak"]
    publish = dvbuild("publish", *[out / n for n in names], "--store", store.as_uri(),
                      "--catalog", catalog.as_uri(), "--allow-test-output", "--json", cwd=root)
    comment = dvbuild("comment", "--dry-run", "--report", out, cwd=root)
    time.sleep(max(0.0, 6 - (time.monotonic() - ended)))  # the late writers' time has passed
    return {"out": out, "store": store, "catalog": catalog,
            "test": test, "publish": publish, "comment": comment}


def every_form() -> set[str]:
    return {f for value in STRONG for f in console.forms(value)}


def test_no_byte_anywhere_holds_a_strong_secret(runs: dict[str, Any]) -> None:
    forms = sorted(every_form(), key=len)
    texts = {f"{name} {stream}": getattr(runs[name], stream)
             for name in ("test", "publish", "comment") for stream in ("stdout", "stderr")}
    for folder in (runs["out"], runs["store"], runs["catalog"]):
        for path in folder.rglob("*"):
            if path.is_file():
                texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    hits = sorted({(where, form[:12]) for where, text in texts.items() for form in forms
                   if form in text})
    assert hits == []
    assert not (runs["out"] / "leaky/late.txt").exists()
    assert not (runs["out"] / "leaky/late2.txt").exists()


def test_masked_files_stay_valid_and_the_package_publishes(runs: dict[str, Any]) -> None:
    folder = runs["out"] / "leaky"
    report = json.loads((folder / "report.json").read_text())
    assert report["status"] == "passed", report["error"]
    assert "leaks" not in report
    nb = nbformat.read(str(folder / "main.ipynb"), as_version=4)
    nbformat.validate(nb)
    assert "***" in json.dumps(nb)
    assert list(pd.read_csv(folder / "t.csv")["secret"]) == ["***", "***"]
    assert [r["secret"] for r in json.loads((folder / "t.json").read_text())] == ["***", "***"]
    assert [json.loads(line)["secret"] for line in (folder / "t.ndjson").read_text().splitlines()] \
        == ["***", "***"]
    assert ET.parse(folder / "t.xml").getroot().find("v").text == "***"  # type: ignore[union-attr]
    ET.parse(folder / "t.svg")
    assert (runs["store"] / "leaky" / "latest.json").exists(), runs["publish"].stdout


def test_a_binary_secret_fails_the_package_naming_the_file(runs: dict[str, Any]) -> None:
    folder = runs["out"] / "binary"
    report = json.loads((folder / "report.json").read_text())
    assert report["status"] == "failed"
    assert "t.parquet" in report["error"] and report["leaks"][0]["path"] == "t.parquet"
    assert not (folder / "t.parquet").exists()
    assert not (runs["store"] / "binary").exists()
    assert "t.parquet" in runs["publish"].stdout + runs["publish"].stderr


def test_weak_values_are_never_replaced_so_paths_and_numbers_stay(runs: dict[str, Any]) -> None:
    test = json.loads(runs["test"].stdout)  # --json stays valid JSON
    assert test
    folder = runs["out"] / "common"
    report = json.loads((folder / "report.json").read_text())
    assert report["status"] == "passed", report["error"]
    assert report["resources"][0]["path"] == "data/ledighet.csv"
    assert report["resources"][0]["rows"] == 100
    assert any("DB_USER" in w and "not masked" in w for w in report["warnings"])
    latest = json.loads((runs["store"] / "common" / "latest.json").read_text())
    descriptor = runs["store"] / "common" / "versions" / latest["version"] / "datapackage.json"
    assert json.loads(descriptor.read_text())["resources"][0]["path"] == "data/ledighet.csv"


def test_a_weak_value_in_an_output_fails_the_package(runs: dict[str, Any]) -> None:
    folder = runs["out"] / "commonleak"
    report = json.loads((folder / "report.json").read_text())
    assert report["status"] == "failed"
    assert {leak["path"] for leak in report["leaks"]} == {"main.ipynb", "stats.json"}
    assert "DB_USER" in json.dumps(report["leaks"]) and "DB_PORT" in json.dumps(report["leaks"])
    assert not (folder / "stats.json").exists() and not (folder / "main.html").exists()
    assert not (runs["store"] / "commonleak").exists()


def test_structured_masking_of_json_and_text() -> None:
    console.mask("p4ss/w\"rd-x")
    try:
        doc = {"rows": 100, "path": "data/x.csv", "t": "p4ss/w\"rd-x", "p4ss/w\"rd-x": 1,
               "***": 2}
        assert console.redact_tree(doc) == {"rows": 100, "path": "data/x.csv", "t": "***",
                                            "p4ss/w\"rd-x": 1, "***": 2}  # no key merged
        assert console.redact('"p4ss\\/w\\"rd-x" p4ss/w&quot;rd-x "p4ss/w""rd-x"') \
            == '"***" *** "***"'
        console.mask("data")
        console.mask("100")
        assert console.redact("data/x.csv rows 100") == "data/x.csv rows 100"
        assert console.weakness("data") and console.weakness("100") and console.weakness("12345.5")
    finally:
        console._masked.clear()
