"""The production instance configuration (deploy/dagster.yaml) against a real PostgreSQL server on
loopback, started by scripts/postgres.sh: a materialisation's run and events land in PostgreSQL."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile

import pytest

from curation.extract.sources import CrawlSource
from tests.conftest import ROOT

SCRIPT = ROOT / "scripts/postgres.sh"


@pytest.fixture
def postgres_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    work = tempfile.mkdtemp(prefix="curation-pg-")
    os.chmod(work, 0o777)  # the server runs as the postgres user
    url = subprocess.run([str(SCRIPT), "start", f"{work}/pg", str(port)], check=True, capture_output=True,
                         text=True, timeout=600).stdout.strip().splitlines()[-1]
    try:
        yield url
    finally:
        subprocess.run([str(SCRIPT), "stop", f"{work}/pg"], timeout=120)
        shutil.rmtree(work, ignore_errors=True)


MATERIALISE = """
import sys, dagster as dg
from curation.core.sharding import shard_keys
from curation.extract.sources import CrawlSource
from curation_assets.documents import documents
from curation_assets.partitions import SNAPSHOTS, partition_key
from curation_assets.sources import warc_files
from resources import CrawlSourceResource, StorageResource
crawl, out = sys.argv[1], sys.argv[2]
instance = dg.DagsterInstance.get()  # from $DAGSTER_HOME/dagster.yaml
assert type(instance.run_storage).__name__ == "PostgresRunStorage", type(instance.run_storage)
conc = instance.get_concurrency_config()  # the run queue limits and the `gpu` pool limit of deploy/dagster.yaml
assert conc.run_queue_config.max_concurrent_runs == 16 and conc.pool_config.default_pool_limit == 1, conc
snaps = CrawlSource(crawl).list_snapshots()
instance.add_dynamic_partitions(SNAPSHOTS.name, snaps)
res = dg.materialize([warc_files, documents], selection=[documents], partition_key=partition_key(snaps[0], shard_keys(4)[0]),
                     instance=instance, resources={"crawl": CrawlSourceResource(root=crawl), "storage": StorageResource(base=out)})
assert res.success
print(len(instance.get_runs()))
"""


def test_runs_and_events_are_stored_in_postgres(postgres_url, small_crawl, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(ROOT / "deploy/dagster.yaml", home / "dagster.yaml")
    # SQLAlchemy 2.1 maps postgresql:// to psycopg 3; dagster-postgres ships psycopg2: name the driver
    env = {**os.environ, "DAGSTER_HOME": str(home),
           "DAGSTER_PG_URL": postgres_url.replace("postgresql://", "postgresql+psycopg2://")}
    run = lambda: subprocess.run([sys.executable, "-c", MATERIALISE, str(small_crawl), str(tmp_path / "out")],  # noqa
                                 env=env, capture_output=True, text=True, timeout=600, cwd=ROOT)
    first = run()
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.strip().splitlines()[-1] == "1"
    # a second process on the same database sees both runs: the state lives in PostgreSQL, not DAGSTER_HOME
    second = run()
    assert second.returncode == 0 and second.stdout.strip().splitlines()[-1] == "2"

    import psycopg2

    snaps = CrawlSource(str(small_crawl)).list_snapshots()
    with psycopg2.connect(postgres_url) as conn, conn.cursor() as cur:
        cur.execute("select count(*) from runs where status = 'SUCCESS'")
        assert cur.fetchone()[0] == 2
        cur.execute("select count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION'")
        assert cur.fetchone()[0] >= 2
        cur.execute("select partition from dynamic_partitions where partitions_def_name = 'snapshots'")
        assert sorted(r[0] for r in cur.fetchall()) == sorted(snaps)
