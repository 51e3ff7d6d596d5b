"""PUT, GET, HEAD and DELETE of single objects: bytes, ETag, headers kept, conditional PUT,
request ids and the shape of error responses."""

import datetime
import email.utils

import pytest

from checksums import md5_hex, quoted_etag
from s3util import expect_error, random_bytes

MiB = 1024 * 1024

SIZES = {
    "0B": 0,
    "1B": 1,
    "5MiB+1": 5 * MiB + 1,
    # Crosses dfs's 8 MiB chunk boundary, so the object spans two chunks.
    "9MiB+7": 9 * MiB + 7,
}


@pytest.fixture(params=SIZES.values(), ids=SIZES.keys())
def payload(request):
    """Random bytes of each interesting size."""
    return random_bytes(request.param, seed=request.param)


def test_put_get_head_delete(s3, bucket, payload):
    put = s3.put_object(Bucket=bucket, Key="obj.bin", Body=payload)
    assert put["ETag"] == quoted_etag(payload)

    head = s3.head_object(Bucket=bucket, Key="obj.bin")
    assert head["ContentLength"] == len(payload)
    assert head["ETag"] == quoted_etag(payload)
    assert head["LastModified"] is not None

    got = s3.get_object(Bucket=bucket, Key="obj.bin")
    assert got["ContentLength"] == len(payload)
    assert got["ETag"] == quoted_etag(payload)
    body = got["Body"].read()
    assert len(body) == len(payload)
    assert md5_hex(body) == md5_hex(payload), "GET returned different bytes"

    deleted = s3.delete_object(Bucket=bucket, Key="obj.bin")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="obj.bin")
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="obj.bin")


def test_overwrite_replaces_content_and_metadata(s3, bucket):
    s3.put_object(
        Bucket=bucket,
        Key="k",
        Body=b"first version",
        ContentType="text/plain",
        Metadata={"old": "1"},
    )
    s3.put_object(Bucket=bucket, Key="k", Body=b"second", Metadata={"new": "2"})
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == b"second"
    assert got["Metadata"] == {"new": "2"}
    assert got["ContentType"] != "text/plain"


def test_headers_and_user_metadata_kept(s3, bucket):
    expires = datetime.datetime(2031, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    s3.put_object(
        Bucket=bucket,
        Key="doc.txt.gz",
        Body=b"\x1f\x8b not really gzip",
        ContentType="text/plain; charset=utf-8",
        ContentEncoding="gzip",
        ContentDisposition='attachment; filename="doc.txt"',
        ContentLanguage="fr-CH",
        CacheControl="max-age=3600, must-revalidate",
        Expires=expires,
        Metadata={"color": "blue", "Mixed-Case": "Value With Spaces"},
    )
    for response in (
        s3.head_object(Bucket=bucket, Key="doc.txt.gz"),
        s3.get_object(Bucket=bucket, Key="doc.txt.gz"),
    ):
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        assert response["ContentType"] == "text/plain; charset=utf-8"
        assert response["ContentEncoding"] == "gzip"
        assert response["ContentDisposition"] == 'attachment; filename="doc.txt"'
        assert response["ContentLanguage"] == "fr-CH"
        assert response["CacheControl"] == "max-age=3600, must-revalidate"
        assert email.utils.parsedate_to_datetime(headers["expires"]) == expires
        # S3 lower-cases metadata names (HTTP headers are case-insensitive) and keeps values.
        assert response["Metadata"] == {"color": "blue", "mixed-case": "Value With Spaces"}


def test_default_content_type(s3, bucket):
    s3.put_object(Bucket=bucket, Key="untyped", Body=b"x")
    content_type = s3.head_object(Bucket=bucket, Key="untyped")["ContentType"]
    # AWS says binary/octet-stream; some servers application/octet-stream. Never empty.
    assert content_type in ("binary/octet-stream", "application/octet-stream")


def test_delete_missing_key_204(s3, bucket):
    response = s3.delete_object(Bucket=bucket, Key="never/existed")
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_get_missing_key_and_bucket(s3, bucket):
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="missing")
    with expect_error("NoSuchBucket", 404):
        s3.get_object(Bucket=bucket + "-missing", Key="missing")
    with expect_error("NoSuchBucket", 404):
        s3.put_object(Bucket=bucket + "-missing", Key="k", Body=b"x")


def test_put_if_none_match_star(s3, bucket):
    first = s3.put_object(Bucket=bucket, Key="once", Body=b"first", IfNoneMatch="*")
    assert first["ETag"] == quoted_etag(b"first")
    with expect_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="once", Body=b"second", IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="once")["Body"].read() == b"first"


def test_put_if_match(s3, bucket):
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"v1")["ETag"]
    with expect_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=quoted_etag(b"other"))
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v1"
    second = s3.put_object(Bucket=bucket, Key="k", Body=b"v2", IfMatch=etag)
    assert second["ETag"] == quoted_etag(b"v2")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"v2"
    # The old ETag no longer matches.
    with expect_error("PreconditionFailed", 412):
        s3.put_object(Bucket=bucket, Key="k", Body=b"v3", IfMatch=etag)


def test_put_if_match_missing_key(s3, bucket):
    """AWS: If-Match on a key that does not exist is 404 NoSuchKey, and nothing is created."""
    with expect_error("NoSuchKey", 404):
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=quoted_etag(b"x"))
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="absent")


def test_head_missing_key_404_without_body(raw, s3, bucket):
    s3.put_object(Bucket=bucket, Key="present", Body=b"12345")
    conn = raw.connection()
    try:
        head = raw.request("HEAD", bucket, "absent", conn=conn)
        assert head.status == 404
        assert head.header("x-amz-request-id")
        # Had the server written an error body after the HEAD answer, this GET would read it.
        follow = raw.request("GET", bucket, "present", conn=conn)
        assert follow.status == 200
        assert follow.body == b"12345"
    finally:
        conn.close()


def test_every_response_has_request_id(raw, s3, bucket, endpoint):
    import requests

    s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    responses = {
        "PUT": raw.request("PUT", bucket, "k2", body=b"data"),
        "GET": raw.request("GET", bucket, "k"),
        "HEAD": raw.request("HEAD", bucket, "k"),
        "LIST": raw.request("GET", bucket, params=[("list-type", "2")]),
        "LIST-BUCKETS": raw.request("GET"),
        "DELETE": raw.request("DELETE", bucket, "k2"),
        "GET-404": raw.request("GET", bucket, "missing"),
        "NO-BUCKET": raw.request("GET", bucket + "-missing", "k"),
        "BAD-SECRET": raw.request("GET", bucket, "k", secret_key="wrong" * 8),
    }
    unsigned = requests.get(f"{endpoint}/{bucket}/k", timeout=60)
    statuses = {name: r.status for name, r in responses.items()}
    assert statuses == {
        "PUT": 200,
        "GET": 200,
        "HEAD": 200,
        "LIST": 200,
        "LIST-BUCKETS": 200,
        "DELETE": 204,
        "GET-404": 404,
        "NO-BUCKET": 404,
        "BAD-SECRET": 403,
    }
    for name, response in responses.items():
        assert response.header("x-amz-request-id"), f"{name} has no x-amz-request-id"
    assert unsigned.status_code == 403
    assert unsigned.headers.get("x-amz-request-id")


@pytest.mark.parametrize(
    "case,code,status",
    [
        ("GET-404", "NoSuchKey", 404),
        ("NO-BUCKET", "NoSuchBucket", 404),
        ("BAD-SECRET", "SignatureDoesNotMatch", 403),
    ],
)
def test_error_body_is_s3_xml(raw, bucket, case, code, status):
    if case == "GET-404":
        response = raw.request("GET", bucket, "missing/key")
    elif case == "NO-BUCKET":
        response = raw.request("GET", bucket + "-missing", "k")
    else:
        response = raw.request("GET", bucket, "k", secret_key="wrong" * 8)
    assert response.status == status
    assert "xml" in (response.header("Content-Type") or "")
    got_code, message, request_id = response.error()
    assert got_code == code
    assert message
    assert request_id == response.header("x-amz-request-id")
