"""GET and HEAD semantics: byte ranges, conditional requests (with S3's rules for combined
conditions) and response-header overrides."""

import datetime

import pytest
import requests

from checksums import quoted_etag
from s3util import expect_error, random_bytes

DATA = b"0123456789abcdefghij"  # 20 bytes
MiB = 1024 * 1024


@pytest.fixture
def small(s3, bucket):
    """Bucket and key of DATA, plus its ETag and Last-Modified."""
    s3.put_object(Bucket=bucket, Key="small.txt", Body=DATA, ContentType="text/plain")
    head = s3.head_object(Bucket=bucket, Key="small.txt")
    return bucket, "small.txt", head["ETag"], head["LastModified"]


@pytest.mark.parametrize(
    "range_header,start,end",
    [
        ("bytes=0-0", 0, 0),
        ("bytes=0-19", 0, 19),
        ("bytes=5-", 5, 19),
        ("bytes=-5", 15, 19),
        ("bytes=19-19", 19, 19),
        ("bytes=3-7", 3, 7),
        # Past the end: clamped to the last byte.
        ("bytes=10-1000", 10, 19),
        # A suffix longer than the object is the whole object.
        ("bytes=-1000", 0, 19),
    ],
)
def test_range(raw, small, range_header, start, end):
    bucket, key, etag, _ = small
    for method in ("GET", "HEAD"):
        response = raw.request(method, bucket, key, headers={"Range": range_header})
        assert response.status == 206, f"{method} {range_header}: {response}"
        assert response.header("Content-Range") == f"bytes {start}-{end}/{len(DATA)}"
        assert response.header("Content-Length") == str(end - start + 1)
        assert response.header("ETag") == etag
        assert response.header("Accept-Ranges") == "bytes"
        if method == "GET":
            assert response.body == DATA[start : end + 1]


@pytest.mark.parametrize("range_header", ["bytes=20-", "bytes=20-25", "bytes=100-200"])
def test_unsatisfiable_range(raw, small, range_header):
    bucket, key, _, _ = small
    response = raw.request("GET", bucket, key, headers={"Range": range_header})
    assert response.status == 416
    assert response.error()[0] == "InvalidRange"
    assert response.header("Content-Range") == f"bytes */{len(DATA)}"


def test_malformed_range_is_ignored(raw, small):
    """A Range header S3 cannot parse is ignored: 200 and the whole object."""
    bucket, key, _, _ = small
    response = raw.request("GET", bucket, key, headers={"Range": "bytes=abc"})
    assert response.status == 200
    assert response.body == DATA


def test_ranges_across_chunk_boundary(s3, bucket):
    """dfs cuts objects in 8 MiB chunks: ranges that straddle, start or end at the boundary."""
    data = random_bytes(9 * MiB + 100, seed=9)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    boundary = 8 * MiB
    for start, end in [
        (boundary - 10, boundary + 10),
        (boundary - 1, boundary - 1),
        (boundary, boundary),
        (boundary, len(data) - 1),
        (1, boundary + 1),
    ]:
        got = s3.get_object(Bucket=bucket, Key="big", Range=f"bytes={start}-{end}")
        assert got["ContentRange"] == f"bytes {start}-{end}/{len(data)}"
        assert got["Body"].read() == data[start : end + 1], f"bytes {start}-{end}"
    got = s3.get_object(Bucket=bucket, Key="big", Range="bytes=-150")
    assert got["Body"].read() == data[-150:]


def _day(value):
    return value - datetime.timedelta(days=1)


# Each case: the conditions (built from the object's etag and last-modified) and the status.
CONDITIONS = {
    "if-match-true": (lambda e, lm: {"IfMatch": e}, 200),
    "if-match-false": (lambda e, lm: {"IfMatch": quoted_etag(b"other")}, 412),
    "if-none-match-false": (lambda e, lm: {"IfNoneMatch": e}, 304),
    "if-none-match-true": (lambda e, lm: {"IfNoneMatch": quoted_etag(b"other")}, 200),
    "if-modified-since-false": (lambda e, lm: {"IfModifiedSince": lm}, 304),
    "if-modified-since-true": (lambda e, lm: {"IfModifiedSince": _day(lm)}, 200),
    "if-unmodified-since-false": (lambda e, lm: {"IfUnmodifiedSince": _day(lm)}, 412),
    "if-unmodified-since-true": (lambda e, lm: {"IfUnmodifiedSince": lm}, 200),
    # S3: If-Match true wins over If-Unmodified-Since false.
    "match-true-unmodified-false": (
        lambda e, lm: {"IfMatch": e, "IfUnmodifiedSince": _day(lm)},
        200,
    ),
    # S3: If-None-Match false with If-Modified-Since true is 304.
    "none-match-false-modified-true": (
        lambda e, lm: {"IfNoneMatch": e, "IfModifiedSince": _day(lm)},
        304,
    ),
    "match-false-unmodified-true": (
        lambda e, lm: {"IfMatch": quoted_etag(b"other"), "IfUnmodifiedSince": lm},
        412,
    ),
}


@pytest.mark.parametrize("method", ["get_object", "head_object"])
@pytest.mark.parametrize("case", CONDITIONS.keys())
def test_preconditions(s3, small, method, case):
    bucket, key, etag, last_modified = small
    build, status = CONDITIONS[case]
    call = getattr(s3, method)
    if status == 200:
        response = call(Bucket=bucket, Key=key, **build(etag, last_modified))
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert response["ETag"] == etag
        if method == "get_object":
            assert response["Body"].read() == DATA
    else:
        with expect_error(status=status) as failure:
            call(Bucket=bucket, Key=key, **build(etag, last_modified))
        if status == 412 and method == "get_object":
            assert failure.error.response["Error"]["Code"] == "PreconditionFailed"


def test_not_modified_response(raw, small):
    """304 carries the ETag and no body, on GET and HEAD."""
    bucket, key, etag, _ = small
    conn = raw.connection()
    try:
        for method in ("GET", "HEAD"):
            response = raw.request(method, bucket, key, headers={"If-None-Match": etag}, conn=conn)
            assert response.status == 304
            assert response.body == b""
            assert response.header("ETag") == etag
        # The connection is still in step: no stray body was sent after the 304s.
        after = raw.request("GET", bucket, key, conn=conn)
        assert after.status == 200 and after.body == DATA
    finally:
        conn.close()


def test_response_header_overrides(s3, small):
    bucket, key, _, _ = small
    got = s3.get_object(
        Bucket=bucket,
        Key=key,
        ResponseContentType="application/x-override",
        ResponseContentDisposition='attachment; filename="report.txt"',
        ResponseContentLanguage="de",
        ResponseContentEncoding="identity",
        ResponseCacheControl="no-cache",
        ResponseExpires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc),
    )
    assert got["ContentType"] == "application/x-override"
    assert got["ContentDisposition"] == 'attachment; filename="report.txt"'
    assert got["ContentLanguage"] == "de"
    assert got["ContentEncoding"] == "identity"
    assert got["CacheControl"] == "no-cache"
    assert "2030" in got["ResponseMetadata"]["HTTPHeaders"]["expires"]
    assert got["Body"].read() == DATA
    # Overrides change the response only, never the stored object.
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentType"] == "text/plain"
    assert "ContentDisposition" not in head


def test_response_overrides_via_presigned_url(s3, small):
    bucket, key, _, _ = small
    url = s3.generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": key,
            "ResponseContentType": "image/png",
            "ResponseContentDisposition": "inline; filename=x.png",
        },
        ExpiresIn=300,
    )
    response = requests.get(url, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"] == "inline; filename=x.png"
    assert response.content == DATA
