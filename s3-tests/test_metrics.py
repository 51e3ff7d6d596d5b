"""Metrics and health probes of every daemon of the cluster, after real S3 traffic.

The gateway serves `/metrics`, `/health/live` and `/health/ready` on its admin address; metad
and each chunkd on their own address, without a cluster signature. `/metrics` is OpenMetrics
text, so it is parsed with `prometheus_client.openmetrics.parser`, which also checks that the
exposition is well formed.
"""

import pytest
import requests
from prometheus_client.openmetrics.parser import text_string_to_metric_families

OPENMETRICS = "application/openmetrics-text"


def scrape(addr):
    """GET http://addr/metrics, parsed: {family name: [samples]}."""
    resp = requests.get(f"http://{addr}/metrics", timeout=10)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Type"].startswith(OPENMETRICS), resp.headers
    return {f.name: f.samples for f in text_string_to_metric_families(resp.text)}


def total(families, family, suffix="", **labels):
    """The sum of the samples `family + suffix` whose labels include `labels`."""
    assert family in families, f"no {family} in {sorted(families)}"
    return sum(
        s.value
        for s in families[family]
        if s.name == family + suffix and labels.items() <= s.labels.items()
    )


def assert_ready(addr):
    for probe in ("/health/live", "/health/ready"):
        resp = requests.get(f"http://{addr}{probe}", timeout=10)
        assert (resp.status_code, resp.text) == (200, "ok\n"), f"{addr}{probe}"


@pytest.fixture(scope="module")
def addresses(cluster_env):
    names = ("DFS_GATEWAY_ADMIN", "DFS_METAD", "DFS_CHUNKDS")
    missing = [n for n in names if not cluster_env.get(n)]
    if missing:
        pytest.skip(
            f"{missing} not exported: the metrics test needs dfs-cluster's daemon addresses "
            "(rebuild it with `cargo build --workspace --bins`)"
        )
    return (
        cluster_env["DFS_GATEWAY_ADMIN"],
        cluster_env["DFS_METAD"],
        cluster_env["DFS_CHUNKDS"].split(","),
    )


@pytest.mark.dfs
def test_every_daemon_reports_metrics_after_traffic(s3, bucket, addresses):
    gateway, metad, chunkds = addresses
    body = b"metrics " * 4096
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"m/{i}", Body=body)
        got = s3.get_object(Bucket=bucket, Key=f"m/{i}")["Body"].read()
        assert got == body
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=bucket, Key="m/missing")

    g = scrape(gateway)
    assert total(g, "dfs_gateway_requests", "_total", endpoint="PutObject", status="2xx") >= 3
    assert total(g, "dfs_gateway_requests", "_total", endpoint="GetObject", status="4xx") >= 1
    duration = "dfs_gateway_request_duration_seconds"
    assert total(g, duration, "_count", endpoint="GetObject", status="2xx") >= 3
    assert total(g, duration, "_sum", endpoint="PutObject", status="2xx") > 0
    assert total(g, "dfs_gateway_received_bytes", "_total") >= 3 * len(body)
    assert total(g, "dfs_gateway_sent_bytes", "_total") >= 3 * len(body)
    assert "dfs_gateway_requests_in_flight" in g

    m = scrape(metad)
    rpc = "dfs_metad_rpc_duration_seconds"
    assert total(m, rpc, "_count", method="commit", outcome="ok") >= 3
    assert total(m, rpc, "_count", method="heartbeat", outcome="ok") > 0
    assert total(m, "dfs_metad_commit_duration_seconds", "_count") >= 3
    assert total(m, "dfs_metad_chunkds_alive") == len(chunkds)
    assert total(m, "dfs_metad_chunkds_dead") == 0
    for gauge in (
        "dfs_metad_chunks",
        "dfs_metad_chunks_under_replicated",
        "dfs_metad_chunks_without_live_replica",
        "dfs_metad_repair_queue_chunks",
        "dfs_metad_gc_queue_chunks",
    ):
        assert gauge in m, f"no {gauge} in {sorted(m)}"
    assert total(m, "dfs_metad_chunks_without_live_replica") == 0

    # Each chunk went to `replication` chunkds: every figure summed over the nodes moved.
    per_node = [scrape(addr) for addr in chunkds]
    summed = lambda family, suffix="": sum(total(c, family, suffix) for c in per_node)
    assert summed("dfs_chunkd_chunk_write_duration_seconds", "_count") >= 3
    assert summed("dfs_chunkd_chunk_read_duration_seconds", "_count") >= 3
    assert summed("dfs_chunkd_fsync_duration_seconds", "_count") >= 3
    assert summed("dfs_chunkd_stored_bytes") >= 3 * len(body)
    for c in per_node:
        assert total(c, "dfs_chunkd_free_bytes") > 0
        # The scrub runs once a day by default: its counters exist, at whatever value.
        assert "dfs_chunkd_scrubbed_chunks" in c
        assert "dfs_chunkd_scrub_errors" in c

    for addr in [gateway, metad, *chunkds]:
        assert_ready(addr)


@pytest.mark.dfs
def test_probes_need_no_signature_but_data_does(addresses):
    _, metad, chunkds = addresses
    for addr in [metad, *chunkds]:
        assert requests.get(f"http://{addr}/health/ready", timeout=10).status_code == 200
    # Everything else still wants the cluster signature.
    assert requests.post(f"http://{metad}/rpc/status", data=b"{}", timeout=10).status_code == 401
    assert requests.get(f"http://{chunkds[0]}/chunks", timeout=10).status_code == 401


@pytest.mark.dfs
def test_an_unknown_key_id_is_looked_up_once_not_per_request(make_client, bucket, addresses):
    """The gateway remembers that an access key id is unknown for a few seconds, as it does a
    known key: requests signed with a wrong key id (no valid signature needed to send them)
    do not each cost metad a lookup."""
    import uuid

    _, metad, _ = addresses
    rpc = "dfs_metad_rpc_duration_seconds"
    before = total(scrape(metad), rpc, "_count", method="key_get")
    stranger = make_client(access_key="AKIA" + uuid.uuid4().hex[:16].upper(), secret_key="x" * 40)
    for _ in range(20):
        with pytest.raises(Exception) as err:
            stranger.head_bucket(Bucket=bucket)
        assert "403" in str(err.value), err.value
    lookups = total(scrape(metad), rpc, "_count", method="key_get") - before
    # One lookup, or a few if the host was so slow that the 5 s memory ran out meanwhile.
    assert 1 <= lookups <= 5, lookups
