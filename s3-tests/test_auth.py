"""Authentication and authorisation: SigV4 header and presigned, clock skew, expiry, and keys
made with `dfs key create` that only see the buckets they were granted."""

import datetime
import re
import time
import uuid

import pytest
import requests

from s3util import RawS3, expect_error


def test_unsigned_requests_denied(s3, bucket, endpoint):
    s3.put_object(Bucket=bucket, Key="secret", Body=b"private")
    for method, url, data in [
        ("GET", f"{endpoint}/{bucket}/secret", None),
        ("GET", f"{endpoint}/{bucket}?list-type=2", None),
        ("GET", f"{endpoint}/", None),
        ("PUT", f"{endpoint}/{bucket}/planted", b"evil"),
        ("DELETE", f"{endpoint}/{bucket}/secret", None),
    ]:
        response = requests.request(method, url, data=data, timeout=60)
        assert response.status_code == 403, f"{method} {url}: {response.status_code}"
        assert "<Code>AccessDenied</Code>" in response.text
    assert s3.get_object(Bucket=bucket, Key="secret")["Body"].read() == b"private"
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="planted")


def test_wrong_secret(make_client, s3, bucket, cluster_env):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    bad = make_client(secret_key=cluster_env["AWS_SECRET_ACCESS_KEY"] + "x")
    with expect_error("SignatureDoesNotMatch", 403):
        bad.get_object(Bucket=bucket, Key="k")
    with expect_error("SignatureDoesNotMatch", 403):
        bad.put_object(Bucket=bucket, Key="other", Body=b"x")
    with expect_error("SignatureDoesNotMatch", 403):
        bad.list_buckets()
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="other")


def test_unknown_access_key(make_client, bucket):
    stranger = make_client(access_key="AKIA" + uuid.uuid4().hex[:16].upper(), secret_key="x" * 40)
    with expect_error("InvalidAccessKeyId", 403):
        stranger.list_objects_v2(Bucket=bucket)
    with expect_error("InvalidAccessKeyId", 403):
        stranger.put_object(Bucket=bucket, Key="k", Body=b"x")


@pytest.mark.parametrize("minutes", [-20, 20], ids=["past", "future"])
def test_request_time_too_skewed(raw, bucket, minutes):
    when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=minutes)
    response = raw.request("GET", bucket, params=[("list-type", "2")], when=when)
    assert response.status == 403, response
    assert response.error()[0] == "RequestTimeTooSkewed"


def test_small_skew_accepted(raw, bucket):
    """A client clock a few minutes off is within S3's 15 minutes."""
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=4)
    response = raw.request("GET", bucket, params=[("list-type", "2")], when=when)
    assert response.status == 200, response


def test_wrong_region_in_scope(cluster_env, bucket, region):
    other = "eu-west-3" if region != "eu-west-3" else "us-west-2"
    client = RawS3(
        cluster_env["AWS_ENDPOINT_URL"],
        cluster_env["AWS_ACCESS_KEY_ID"],
        cluster_env["AWS_SECRET_ACCESS_KEY"],
        other,
    )
    response = client.request("GET", bucket, params=[("list-type", "2")])
    assert response.status == 400, response
    assert response.error()[0] == "AuthorizationHeaderMalformed"


def test_presigned_get_and_put(s3, bucket):
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "via presigned/é.txt"}, ExpiresIn=600
    )
    put = requests.put(put_url, data=b"uploaded with a presigned URL", timeout=60)
    assert put.status_code == 200, put.text
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "via presigned/é.txt"}, ExpiresIn=600
    )
    got = requests.get(get_url, timeout=60)
    assert got.status_code == 200, got.text
    assert got.content == b"uploaded with a presigned URL"
    assert got.headers.get("x-amz-request-id")


def test_presigned_url_bound_to_its_key(s3, bucket):
    s3.put_object(Bucket=bucket, Key="allowed", Body=b"a")
    s3.put_object(Bucket=bucket, Key="other", Body=b"b")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "allowed"}, ExpiresIn=600
    )
    forged = url.replace("/allowed?", "/other?")
    assert forged != url
    response = requests.get(forged, timeout=60)
    assert response.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in response.text


def test_presigned_url_expired(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1
    )
    time.sleep(2.5)  # let it expire; nothing below depends on how long anything took
    response = requests.get(url, timeout=60)
    assert response.status_code == 403
    assert "<Code>AccessDenied</Code>" in response.text


def test_presigned_expiry_longer_than_a_week(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"v")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=604801
    )
    assert "X-Amz-Expires=604801" in url
    response = requests.get(url, timeout=60)
    assert response.status_code in (400, 403)
    assert "<Code>AuthorizationQueryParametersError</Code>" in response.text


def _parse_key(output):
    ids = re.findall(r"AWS_ACCESS_KEY_ID=(\S+)", output)
    secrets = re.findall(r"AWS_SECRET_ACCESS_KEY=(\S+)", output)
    assert ids and secrets, f"`dfs key create` printed no key:\n{output}"
    return ids[0], secrets[0]


@pytest.mark.dfs
def test_key_grants(run_cli, make_client, s3, bucket_factory):
    granted, other = bucket_factory("granted"), bucket_factory("other")
    for name in (granted, other):
        s3.put_object(Bucket=name, Key="doc.txt", Body=b"content")
    key_id, secret = _parse_key(
        run_cli(["key", "create", f"s3t-{uuid.uuid4().hex[:8]}"]).stdout_text
    )
    user = make_client(access_key=key_id, secret_key=secret)

    # A new key may do nothing in a bucket it was not granted.
    with expect_error("AccessDenied", 403):
        user.list_objects_v2(Bucket=granted)
    with expect_error("AccessDenied", 403):
        user.get_object(Bucket=granted, Key="doc.txt")
    with expect_error("AccessDenied", 403):
        user.put_object(Bucket=granted, Key="new.txt", Body=b"x")

    run_cli(["bucket", "allow", "--read", granted, key_id])
    assert user.get_object(Bucket=granted, Key="doc.txt")["Body"].read() == b"content"
    assert [o["Key"] for o in user.list_objects_v2(Bucket=granted)["Contents"]] == ["doc.txt"]
    assert user.head_object(Bucket=granted, Key="doc.txt")["ContentLength"] == 7
    with expect_error("AccessDenied", 403):
        user.put_object(Bucket=granted, Key="new.txt", Body=b"x")
    with expect_error("AccessDenied", 403):
        user.delete_object(Bucket=granted, Key="doc.txt")
    with expect_error("AccessDenied", 403):
        user.get_object(Bucket=other, Key="doc.txt")
    assert s3.head_object(Bucket=granted, Key="doc.txt")["ContentLength"] == 7
    with expect_error(status=404):
        s3.head_object(Bucket=granted, Key="new.txt")

    run_cli(["bucket", "allow", "--read", "--write", granted, key_id])
    user.put_object(Bucket=granted, Key="new.txt", Body=b"now allowed")
    assert s3.get_object(Bucket=granted, Key="new.txt")["Body"].read() == b"now allowed"
    with expect_error("AccessDenied", 403):
        user.put_object(Bucket=other, Key="new.txt", Body=b"x")


def test_a_request_without_host_is_malformed(raw):
    """HTTP/1.1 requires Host and SigV4 signs it: without one a request is a 400, not a 403."""
    conn = raw.connection()
    try:
        conn.putrequest("GET", "/", skip_host=True, skip_accept_encoding=True)
        conn.endheaders()
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    assert response.status == 400, body
    assert b"<Code>InvalidRequest</Code>" in body
    assert b"Host" in body
