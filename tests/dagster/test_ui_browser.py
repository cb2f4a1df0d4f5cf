"""The UI for real: `dagster dev` (webserver + daemon) with workspace.yaml on loopback, driven in headless Chromium
(Debian's chromium and chromium-driver, installed by scripts/chromium.sh). The test opens the asset graph, clicks
*Materialize* on the `corpora` asset, launches one `documents` partition (snapshot x shard) with the GraphQL
mutation the launch dialog sends, waits for both runs to succeed, checks that their metadata shows on the asset
pages, and saves screenshots (``$CURATION_SCREENSHOTS`` or the test's tmp folder). A second test launches one
backfill over the whole graph by clicks (*Materialize all*, *All* partitions, *Launch backfill*) and waits until
every asset of the snapshot, the mixture included, is materialised."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import pytest
import requests

from curation.extract.sources import CrawlSource
from curation_assets.partitions import SNAPSHOTS, partition_key
from tests.conftest import ROOT, free_port, stop_server, wait_for_http

selenium = pytest.importorskip("selenium")
from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


@pytest.fixture(scope="module")
def chromium():
    out = subprocess.run([str(ROOT / "scripts/chromium.sh")], capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    browser, driver_path = out.stdout.split()[-2:]
    return browser, driver_path


def _driver(browser: str, driver_path: str, profile: Path):
    opts = webdriver.ChromeOptions()
    opts.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1600,1000", f"--user-data-dir={profile}"):
        opts.add_argument(flag)
    return webdriver.Chrome(service=Service(driver_path), options=opts)


def _gql(url: str, query: str, variables: dict | None = None) -> dict:
    resp = requests.post(f"{url}/graphql", json={"query": query, "variables": variables or {}}, timeout=60)
    resp.raise_for_status()
    body = resp.json()
    assert "errors" not in body, body["errors"]
    return body["data"]


RUNS = "{ runsOrError { ... on Runs { results { runId status assetSelection { path } } } } }"


def _wait_runs(url: str, n: int, timeout: float = 300) -> list[dict]:
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = _gql(url, RUNS)["runsOrError"]["results"]
        if len(runs) >= n and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in runs):
            return runs
        time.sleep(2)
    pytest.fail(f"runs did not finish in {timeout} s: {runs}")


def _skip_welcome(driver, wait_s: float = 0) -> None:
    """Dismiss the first-visit "Join the Dagster community" dialog (it opens a moment after the first page)."""
    from selenium.common.exceptions import TimeoutException

    xpath = "//button[normalize-space(.)='Skip']"
    try:
        if wait_s:
            WebDriverWait(driver, wait_s).until(EC.element_to_be_clickable((By.XPATH, xpath)))
        for b in driver.find_elements(By.XPATH, xpath):
            b.click()
        WebDriverWait(driver, 10).until(EC.invisibility_of_element_located((By.XPATH, xpath)))
    except TimeoutException:
        pass


def _click(driver, wait, xpath: str, tries: int = 10) -> None:
    """Click once the element is clickable; the UI re-renders while it loads, so a stale element is looked up
    again."""
    from selenium.common.exceptions import ElementClickInterceptedException, StaleElementReferenceException

    for _ in range(tries):
        try:
            _skip_welcome(driver)
            wait.until(EC.element_to_be_clickable((By.XPATH, xpath))).click()
            return
        except (StaleElementReferenceException, ElementClickInterceptedException):
            time.sleep(1)
    pytest.fail(f"could not click {xpath}")


def _shot(driver, name: str, tmp_path: Path) -> Path:
    folder = Path(os.environ.get("CURATION_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    driver.save_screenshot(str(path))
    assert path.stat().st_size > 10_000
    return path


def test_materialise_from_the_browser_and_read_the_metadata(chromium, small_crawl, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "CURATION_OUTPUT": str(tmp_path / "out"),
           "CURATION_CRAWL_ROOT": str(small_crawl), "CURATION_AUTOMATION": "off"}  # only the runs launched here
    snapshots = CrawlSource(str(small_crawl)).list_snapshots()
    old = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            instance.add_dynamic_partitions(SNAPSHOTS.name, snapshots)
    finally:
        if old is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = old
    port = free_port()
    exe = Path(sys.executable).with_name("dagster")
    proc = subprocess.Popen([str(exe), "dev", "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    driver = None
    try:
        wait_for_http(f"{url}/server_info", proc, 180, "dagster dev")
        driver = _driver(*chromium, tmp_path / "profile")
        wait = WebDriverWait(driver, 120)

        # the asset graph (global lineage) shows every stage's group, the catalog every asset
        driver.get(f"{url}/asset-groups")
        wait.until(EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'rewriting')]")))
        _skip_welcome(driver, wait_s=15)
        time.sleep(2)  # let the graph lay out
        page = driver.page_source
        for name in ("crawl", "curation", "dedup", "quality", "rewriting", "mixing"):
            assert name in page
        _shot(driver, "asset-graph.png", tmp_path)
        driver.get(f"{url}/assets")
        wait.until(EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'rewrites')]")))
        page = driver.page_source
        for name in ("warc_files", "documents", "language", "minhash_signatures", "dedup_clusters", "quality_classifier",
                     "rewrites", "corpora", "mixture"):
            assert name in page

        # click Materialize on an unpartitioned asset: its config has defaults, so the click launches a run
        driver.get(f"{url}/assets/corpora")
        _click(driver, wait, "//button[normalize-space(.)='Materialize']")

        # one partition of a partitioned asset, launched as the partition dialog does (launchPartitionBackfill)
        snap = snapshots[0]
        data = _gql(url, """mutation($p: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $p) {
            __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message } } }""",
                    {"p": {"partitionNames": [partition_key(snap, "0000")],
                           "assetSelection": [{"path": ["documents"]}], "fromFailure": False}})
        assert data["launchPartitionBackfill"]["__typename"] == "LaunchBackfillSuccess", data
        runs = _wait_runs(url, 2)
        assert {r["status"] for r in runs} == {"SUCCESS"}, runs
        assert sorted(r["assetSelection"][0]["path"][0] for r in runs) == ["corpora", "documents"]

        # the metadata shows on the asset pages
        driver.get(f"{url}/assets/corpora")
        wait.until(EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'wikipedia')]")))
        _shot(driver, "corpora-materialised.png", tmp_path)
        key = quote(str(partition_key(snap, "0000")))
        driver.get(f"{url}/assets/documents?view=partitions&partition={key}")
        wait.until(EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'records_in')]")))
        page = driver.page_source
        assert "dropped" in page and "fingerprint" in page
        _shot(driver, "documents-partition.png", tmp_path)
    except Exception:
        if driver is not None:
            _shot(driver, "failure.png", tmp_path)
        raise
    finally:
        if driver is not None:
            driver.quit()
        stop_server(proc)
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)


def test_one_backfill_by_clicks_materialises_the_whole_graph(chromium, tmp_path):
    """Global asset graph -> *Materialize all* -> *Launch backfill*, by clicks: every asset of the snapshot, the
    mixture included, gets materialised in dependency order (automation off: only the backfill runs)."""
    from dagster._core.instance.ref import InstanceRef

    from tests.conftest import sample_file, write_crawl, write_mixture

    snap, root, home = "CC-MAIN-2024-22", tmp_path / "crawl", tmp_path / "home"
    write_crawl(root, snap, {n: sample_file(snap, n).read_bytes()
                             for n in ("jwarc-commoncrawl.org.warc.gz", "dolma-wget-2024.sample-0000.warc.gz")})
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "CURATION_OUTPUT": str(tmp_path / "out"),
           "CURATION_CRAWL_ROOT": str(root), "CURATION_NUM_SHARDS": "2", "CURATION_REWRITE_MAX_DOCS": "0",
           "CURATION_AUTOMATION": "off", "CURATION_MIXTURES": str(write_mixture(tmp_path / "mixtures"))}
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        instance.add_dynamic_partitions(SNAPSHOTS.name, [snap])
    port = free_port()
    log = open(tmp_path / "dagster-dev.log", "w")  # a file: an unread pipe would fill and block the runs
    proc = subprocess.Popen([str(Path(sys.executable).with_name("dagster")), "dev", "-w", str(ROOT / "workspace.yaml"),
                             "-h", "127.0.0.1", "-p", str(port)], cwd=tmp_path, env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    driver = None
    try:
        wait_for_http(f"{url}/server_info", proc, 180, "dagster dev")
        driver = _driver(*chromium, tmp_path / "profile")
        wait = WebDriverWait(driver, 120)
        driver.get(f"{url}/asset-groups")
        wait.until(EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'rewriting')]")))
        _skip_welcome(driver, wait_s=15)
        _click(driver, wait, "//button[starts-with(normalize-space(.), 'Materialize all')]")  # "Materialize all (10)"
        wait.until(EC.presence_of_element_located((By.XPATH, "//button[normalize-space(.)='Launch backfill']")))
        time.sleep(2)  # the dialog loads the partitions of every asset
        for i in (1, 2):  # every shard, every snapshot: the "All" button beside each dimension's selector
            _click(driver, wait, f"(//button[normalize-space(.)='All'])[{i}]")
        time.sleep(1)
        _shot(driver, "backfill-launch-dialog.png", tmp_path)
        _click(driver, wait, "//button[normalize-space(.)='Launch backfill']")

        with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
            keys = [k for k in instance.get_asset_keys()] or []
            per_shard = ["documents", "language", "minhash_signatures", "tokens", "dedup", "quality", "rewrites"]
            deadline = time.time() + 900
            while time.time() < deadline:
                failed = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
                assert not failed, f"run {failed[0].run_id} failed"
                mixtures = [k for k in instance.get_asset_keys() if k.path[0] in ("mixture", "mixtures")]
                done = (all(len(instance.get_materialized_partitions(dg.AssetKey(a))) == 2 for a in per_shard)
                        and instance.get_materialized_partitions(dg.AssetKey("dedup_clusters")) == {snap}
                        and all(instance.get_latest_materialization_event(dg.AssetKey(a))
                                for a in ("quality_classifier", "corpora"))
                        and mixtures and all(instance.get_latest_materialization_event(k) for k in mixtures))
                if done:
                    break
                time.sleep(3)
            else:
                pytest.fail(f"the backfill did not materialise every asset in 900 s (keys: {keys})")
            backfills = instance.get_backfills()
            assert len(backfills) == 1  # one backfill drove every run
        driver.get(f"{url}/runs")  # the backfill's runs, every one succeeded
        wait.until(EC.presence_of_element_located((By.XPATH, "//*[contains(text(), 'mixture')]")))
        time.sleep(3)
        _shot(driver, "backfill-runs.png", tmp_path)
    except Exception:
        if driver is not None:
            _shot(driver, "failure-backfill.png", tmp_path)
        raise
    finally:
        if driver is not None:
            driver.quit()
        stop_server(proc)
        log.close()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
