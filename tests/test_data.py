"""The workshop data: the AI4I generator, the quickstart download, folders of CSV files."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import threading

import numpy as np
import pandas as pd
import pytest

from sagemaker_snowpark import data, generator
from sagemaker_snowpark.errors import TutorialError

pytestmark = pytest.mark.unit  # needs no local stack (make test-fast)


@pytest.fixture(scope="module")
def generated():
    return generator.generate(rows=50_000, seed=7)


def test_same_seed_same_data_other_seed_other_data():
    first, again = generator.generate(2_000, seed=1), generator.generate(2_000, seed=1)
    other = generator.generate(2_000, seed=2)
    for name in ("maintenance", "city_udi", "humidity"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    assert not first.maintenance.equals(other.maintenance)


def test_distributions_follow_the_published_rules(generated):
    m = generated.maintenance
    assert list(m.columns) == list(generator.MAINTENANCE_COLUMNS)
    assert m["UDI"].tolist() == list(range(1, len(m) + 1))
    shares = m["TYPE"].value_counts(normalize=True)
    assert shares["L"] == pytest.approx(0.5, abs=0.02)
    assert shares["M"] == pytest.approx(0.3, abs=0.02)
    assert shares["H"] == pytest.approx(0.2, abs=0.02)
    assert (m["PRODUCT_ID"].str[0] == m["TYPE"]).all()
    assert m["AIR_TEMPERATURE_K"].mean() == pytest.approx(300, abs=0.01)
    assert m["AIR_TEMPERATURE_K"].std() == pytest.approx(2, abs=0.01)
    difference = m["PROCESS_TEMPERATURE"] - m["AIR_TEMPERATURE_K"]
    assert difference.mean() == pytest.approx(10, abs=0.01)
    assert difference.std() == pytest.approx(1, abs=0.01)
    assert m["TORQUE_NM"].min() > 0
    assert m["TORQUE_NM"].mean() == pytest.approx(40, abs=0.3)
    assert m["TORQUE_NM"].std() == pytest.approx(10, abs=0.3)
    # The published data set's speed: mean about 1539 rpm, falling as torque rises.
    assert m["ROTATIONAL_SPEED_RPM"].mean() == pytest.approx(1539, abs=15)
    assert np.corrcoef(m["ROTATIONAL_SPEED_RPM"], m["TORQUE_NM"])[0, 1] < -0.8
    assert 0.02 < m["MACHINE_FAILURE"].mean() < 0.06  # AI4I: 3.4 %


def test_tool_wear_grows_by_quality_and_resets_at_end_of_life(generated):
    m = generated.maintenance
    wear, quality = m["TOOL_WEAR_MIN"].to_numpy(), m["TYPE"].to_numpy()
    step = np.diff(wear)
    increments = np.array([generator.TOOL_WEAR_PER_PROCESS[q] for q in quality[:-1]])
    grew = step > 0
    assert (step[grew] == increments[grew]).all()  # H, M, L add 5, 3, 2 minutes
    assert (wear[1:][~grew] == 0).all()  # otherwise the tool was replaced
    assert wear[0] == 0 and wear.max() <= 240 + 5


def test_failure_flags_follow_the_failure_rules(generated):
    m = generated.maintenance
    power = m["TORQUE_NM"] * m["ROTATIONAL_SPEED_RPM"] * 2 * np.pi / 60
    hdf = (m["PROCESS_TEMPERATURE"] - m["AIR_TEMPERATURE_K"] < 8.6) & (
        m["ROTATIONAL_SPEED_RPM"] < 1380
    )
    pwf = (power < 3500) | (power > 9000)
    limit = m["TYPE"].map(generator.OVERSTRAIN_LIMIT_MIN_NM)
    osf = m["TOOL_WEAR_MIN"] * m["TORQUE_NM"] > limit
    assert (m["HDF"] == hdf).all() and (m["PWF"] == pwf).all() and (m["OSF"] == osf).all()
    assert hdf.any() and pwf.any() and osf.any()
    # TWF happens only where a tool is replaced (the next wear is 0), in 200-240 min of wear.
    twf = m[m["TWF"] == 1]
    assert len(twf) > 0 and twf["TOOL_WEAR_MIN"].between(200, 245).all()
    assert m["RNF"].mean() == pytest.approx(0.001, abs=0.0006)
    any_mode = m[["TWF", "HDF", "PWF", "OSF", "RNF"]].any(axis=1)
    assert (m["MACHINE_FAILURE"] == any_mode.astype(int)).all()


def test_cities_and_humidity_join_completely(generated):
    cities = set(generated.humidity["CITY_NAME"])
    assert len(cities) == len(generator.CITIES)
    assert set(generated.city_udi["CITY"]) <= cities
    assert generated.humidity["HUMIDITY_RELATIVE_AVG"].between(0, 100).all()
    assert generated.city_udi["UDI"].tolist() == generated.maintenance["UDI"].tolist()


def test_generated_files_have_the_workshop_headers(tmp_path):
    folder = data.source_folder("generated", rows=100, seed=3, cache_dir=tmp_path)
    assert data.check_folder(folder) == folder
    assert len(pd.read_csv(folder / "maintenance.csv")) == 100
    again = data.source_folder("generated", rows=100, seed=3, cache_dir=tmp_path)
    assert again == folder


class _Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    requests: list[str] = []

    def do_GET(self):  # noqa: N802
        self.requests.append(self.path)
        body = self.files.get(self.path.rsplit("/", 1)[-1])
        self.send_response(200 if body is not None else 404)
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args):
        pass


@pytest.fixture
def file_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Files.files, _Files.requests = {}, []
    yield f"http://127.0.0.1:{server.server_address[1]}/repo/commit", _Files
    server.shutdown()
    server.server_close()


def _pinned(files: dict[str, bytes]):
    return tuple(
        dataclasses.replace(s, sha256=hashlib.sha256(files[s.file]).hexdigest())
        for s in data.SOURCE_TABLES
    )


def _workshop_files() -> dict[str, bytes]:
    return {s.file: (s.header + "\n").encode() for s in data.SOURCE_TABLES}


def test_quickstart_download_verifies_and_caches(tmp_path, file_server):
    url, handler = file_server
    handler.files = _workshop_files()
    folder = data.download_quickstart(tmp_path, url, _pinned(handler.files))
    assert sorted(p.name for p in folder.iterdir()) == sorted(handler.files)
    assert len(handler.requests) == 3
    data.download_quickstart(tmp_path, url, _pinned(handler.files))
    assert len(handler.requests) == 3  # verified files in the cache are not fetched again


def test_quickstart_download_rejects_a_wrong_checksum(tmp_path, file_server):
    url, handler = file_server
    handler.files = _workshop_files()
    pinned = _pinned(handler.files)
    handler.files["city_udi.csv"] += b"1,Atlantis\n"
    with pytest.raises(TutorialError, match=r"city_udi.csv from .* has SHA-256 \w+\.\.\., not"):
        data.download_quickstart(tmp_path, url, pinned)
    folder = next(tmp_path.iterdir())
    assert not (folder / "city_udi.csv").exists()
    assert not list(folder.glob("*.partial"))


def test_quickstart_download_offline_says_what_to_do(tmp_path, file_server):
    url, handler = file_server
    with pytest.raises(TutorialError, match="Cannot download maintenance.csv .*DATA=generated"):
        data.download_quickstart(tmp_path, url)  # the server answers 404 for every file
    with pytest.raises(TutorialError, match="Cannot download .*Connection refused"):
        data.download_quickstart(tmp_path, "http://127.0.0.1:9/none")


def test_a_folder_is_checked_file_by_file(tmp_path):
    for name, content in _workshop_files().items():
        (tmp_path / name).write_bytes(content)
    assert data.source_folder(str(tmp_path)) == tmp_path
    (tmp_path / "humidity.csv").write_text("CITY,HUMIDITY\n")
    with pytest.raises(
        TutorialError, match="humidity.csv has the header 'CITY,HUMIDITY', expected"
    ):
        data.source_folder(str(tmp_path))
    (tmp_path / "humidity.csv").unlink()
    with pytest.raises(TutorialError, match="has no humidity.csv"):
        data.source_folder(str(tmp_path))


def test_an_unknown_source_names_the_choices(tmp_path):
    with pytest.raises(
        TutorialError, match="DATA=quickstrat is not a folder: use generated, quick"
    ):
        data.source_folder("quickstrat", cache_dir=tmp_path)


def test_the_repository_ships_the_quickstart_files_and_uses_them_offline(tmp_path, monkeypatch):
    """data/quickstart/ holds the pinned files, byte for byte, with their licence: the
    `quickstart` source (the default) reads them there and downloads nothing."""
    shipped = data.shipped_quickstart()
    assert shipped is not None and shipped.parts[-2:] == ("data", "quickstart")
    for source in data.SOURCE_TABLES:
        assert data.sha256_of(shipped / source.file) == source.sha256
    assert "Apache License" in (shipped / "LICENSE").read_text()
    assert data.QUICKSTART_COMMIT in (shipped / "README.md").read_text()

    def no_network(*args, **kwargs):
        raise AssertionError("the quickstart source downloaded although the files are shipped")

    monkeypatch.setattr(data.urllib.request, "urlopen", no_network)
    assert data.source_folder("quickstart", cache_dir=tmp_path) == shipped


def test_a_changed_shipped_file_is_not_used(tmp_path, monkeypatch):
    """A copy that differs from the pinned file (an editor's line endings, say) is passed over."""
    copy, shipped = tmp_path / "repository", data.shipped_quickstart()
    for source in data.SOURCE_TABLES:
        target = copy / data.SHIPPED_FOLDER / source.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((shipped / source.file).read_bytes())
    monkeypatch.chdir(copy / "data")  # as a notebook in the repository's notebooks/ would be
    monkeypatch.setattr(data, "__file__", str(tmp_path / "elsewhere" / "src" / "p" / "data.py"))
    assert data.shipped_quickstart() == copy / data.SHIPPED_FOLDER
    humidity = copy / data.SHIPPED_FOLDER / "humidity.csv"
    humidity.write_bytes(humidity.read_bytes().replace(b"\n", b"\r\n"))
    assert data.shipped_quickstart() is None


def test_each_source_says_which_data_it_is():
    assert "quickstart, commit 2f04abae" in data.describe_source("quickstart")
    assert data.describe_source("generated", rows=500, seed=9) == (
        "generated by AI4I 2020's rules: 500 machines, seed 9"
    )
    assert data.describe_source("/some/where/workshop") == (
        "the workshop-format files in the folder workshop"
    )


# --- A CSV file of your own (notebook 06) ---------------------------------------------------------


def test_a_csv_of_your_own_keeps_its_names_and_gets_a_type_per_column(tmp_path):
    path = tmp_path / "line 3 readings.csv"
    path.write_text(
        '\ufeffpart id,Line Speed,temperature C,Shift,"Vibration, mm/s",'  # a byte-order mark first
        "Zip,Checked,Notes,Broke Down\n"
        "1,12.5,40,day,0.3,01234,true,,yes\n"
        "2,13,41,night,,02134,FALSE,,no\n"
        "3,,-39,late,1e-3,12345,,,\n"
        "4,11,38,,.25,54321,True,,No\n",
        encoding="utf-8",
    )
    source = data.csv_table(path, "OWN_TABLE", chunk_rows=2)  # two chunks: types merge
    assert (source.table, source.file, source.sha256) == ("OWN_TABLE", path.name, "")
    assert source.columns == (
        ('"part id"', "NUMBER(38,0)"),
        ('"Line Speed"', "FLOAT"),  # 13 in one chunk, 12.5 in the other
        ('"temperature C"', "NUMBER(38,0)"),
        ('"Shift"', "VARCHAR"),
        ('"Vibration, mm/s"', "FLOAT"),
        ('"Zip"', "VARCHAR"),  # a leading zero: a code, not a number
        ('"Checked"', "BOOLEAN"),
        ('"Notes"', "VARCHAR"),  # no value at all
        ('"Broke Down"', "VARCHAR"),  # yes and no are text; training reads them as a label
    )
    assert source.create_statement.startswith(
        'CREATE OR REPLACE TABLE OWN_TABLE ("part id" NUMBER(38,0), "Line Speed" FLOAT,'
    )


def test_a_csv_whose_columns_cannot_be_named_says_why(tmp_path):
    assert data.quoted('say "hi"') == '"say ""hi"""'
    with pytest.raises(TutorialError, match=r"is not a file"):
        data.csv_table(tmp_path / "missing.csv", "T")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(TutorialError, match=r"empty.csv needs a header line"):
        data.csv_table(tmp_path / "empty.csv", "T")
    (tmp_path / "blank.csv").write_text("a,,c\n1,2,3\n")
    with pytest.raises(TutorialError, match=r"blank.csv needs a header line naming every column"):
        data.csv_table(tmp_path / "blank.csv", "T")
    (tmp_path / "twice.csv").write_text("a,b,a\n1,2,3\n")
    with pytest.raises(TutorialError, match=r"twice.csv names the column 'a' twice"):
        data.csv_table(tmp_path / "twice.csv", "T")
