"""CopyObject: metadata directives, copying onto itself, copy-source conditions."""

import datetime

import pytest

from checksums import md5_hex, quoted_etag
from s3util import expect_error, random_bytes

MiB = 1024 * 1024


@pytest.fixture
def source(s3, bucket):
    """An object with every kind of metadata: (bucket, key, body, etag, last_modified)."""
    body = b"copy me " * 100
    s3.put_object(
        Bucket=bucket,
        Key="src/orig.txt",
        Body=body,
        ContentType="text/plain",
        ContentDisposition="inline",
        CacheControl="max-age=60",
        Metadata={"origin": "source", "n": "1"},
    )
    head = s3.head_object(Bucket=bucket, Key="src/orig.txt")
    return bucket, "src/orig.txt", body, head["ETag"], head["LastModified"]


def test_copy_metadata_directive_copy(s3, source):
    bucket, key, body, etag, _ = source
    out = s3.copy_object(
        Bucket=bucket,
        Key="dst/copy.txt",
        CopySource={"Bucket": bucket, "Key": key},
        Metadata={"ignored": "yes"},  # ignored with the default COPY directive
    )
    assert out["CopyObjectResult"]["ETag"] == etag
    assert out["CopyObjectResult"]["LastModified"] is not None
    got = s3.get_object(Bucket=bucket, Key="dst/copy.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == etag
    assert got["ContentType"] == "text/plain"
    assert got["ContentDisposition"] == "inline"
    assert got["CacheControl"] == "max-age=60"
    assert got["Metadata"] == {"origin": "source", "n": "1"}


def test_copy_metadata_directive_replace(s3, source):
    bucket, key, body, etag, _ = source
    s3.copy_object(
        Bucket=bucket,
        Key="dst/replaced.txt",
        CopySource={"Bucket": bucket, "Key": key},
        MetadataDirective="REPLACE",
        ContentType="application/json",
        Metadata={"fresh": "value"},
    )
    got = s3.get_object(Bucket=bucket, Key="dst/replaced.txt")
    assert got["Body"].read() == body
    assert got["ETag"] == etag
    assert got["ContentType"] == "application/json"
    assert got["Metadata"] == {"fresh": "value"}
    assert "ContentDisposition" not in got
    assert "CacheControl" not in got
    # The source is untouched.
    assert s3.head_object(Bucket=bucket, Key=key)["Metadata"] == {"origin": "source", "n": "1"}


def test_copy_onto_itself_with_replace(s3, source):
    bucket, key, body, etag, _ = source
    s3.copy_object(
        Bucket=bucket,
        Key=key,
        CopySource={"Bucket": bucket, "Key": key},
        MetadataDirective="REPLACE",
        ContentType="text/markdown",
        Metadata={"edited": "true"},
    )
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == body
    assert got["ETag"] == etag
    assert got["ContentType"] == "text/markdown"
    assert got["Metadata"] == {"edited": "true"}


def test_copy_onto_itself_without_replace_is_invalid(s3, source):
    bucket, key, body, _, _ = source
    with expect_error("InvalidRequest", 400):
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body


def test_copy_across_buckets_and_special_keys(s3, source, bucket_factory):
    bucket, key, body, etag, _ = source
    other = bucket_factory("copy-target")
    odd = "dst dir/é+&?#/日本"
    s3.copy_object(Bucket=other, Key=odd, CopySource={"Bucket": bucket, "Key": key})
    assert s3.get_object(Bucket=other, Key=odd)["Body"].read() == body
    # And back, with the odd key as the source.
    s3.copy_object(Bucket=bucket, Key="back", CopySource={"Bucket": other, "Key": odd})
    assert s3.head_object(Bucket=bucket, Key="back")["ETag"] == etag


def test_copy_missing_source(s3, bucket):
    with expect_error("NoSuchKey", 404):
        s3.copy_object(Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "nope"})
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="dst")


def test_copy_is_independent_of_source(s3, bucket):
    """A copy of a multi-chunk object keeps its bytes when the source changes or goes away."""
    data = random_bytes(9 * MiB, seed=11)
    s3.put_object(Bucket=bucket, Key="big", Body=data)
    s3.copy_object(Bucket=bucket, Key="big-copy", CopySource={"Bucket": bucket, "Key": "big"})
    s3.put_object(Bucket=bucket, Key="big", Body=b"overwritten")
    got = s3.get_object(Bucket=bucket, Key="big-copy")["Body"].read()
    assert md5_hex(got) == md5_hex(data)
    s3.delete_object(Bucket=bucket, Key="big")
    got = s3.get_object(Bucket=bucket, Key="big-copy")["Body"].read()
    assert md5_hex(got) == md5_hex(data)


def _day_before(value):
    return value - datetime.timedelta(days=1)


COPY_CONDITIONS = {
    "if-match-true": (lambda e, lm: {"CopySourceIfMatch": e}, 200),
    "if-match-false": (lambda e, lm: {"CopySourceIfMatch": quoted_etag(b"x")}, 412),
    "if-none-match-true": (lambda e, lm: {"CopySourceIfNoneMatch": quoted_etag(b"x")}, 200),
    # For copies S3 answers 412, never 304.
    "if-none-match-false": (lambda e, lm: {"CopySourceIfNoneMatch": e}, 412),
    "if-modified-since-true": (
        lambda e, lm: {"CopySourceIfModifiedSince": _day_before(lm)},
        200,
    ),
    "if-modified-since-false": (lambda e, lm: {"CopySourceIfModifiedSince": lm}, 412),
    "if-unmodified-since-true": (lambda e, lm: {"CopySourceIfUnmodifiedSince": lm}, 200),
    "if-unmodified-since-false": (
        lambda e, lm: {"CopySourceIfUnmodifiedSince": _day_before(lm)},
        412,
    ),
    # S3: if-match true and if-unmodified-since false copies.
    "match-true-unmodified-false": (
        lambda e, lm: {"CopySourceIfMatch": e, "CopySourceIfUnmodifiedSince": _day_before(lm)},
        200,
    ),
    # S3: if-none-match false and if-modified-since true fails.
    "none-match-false-modified-true": (
        lambda e, lm: {"CopySourceIfNoneMatch": e, "CopySourceIfModifiedSince": _day_before(lm)},
        412,
    ),
}


@pytest.mark.parametrize("case", COPY_CONDITIONS.keys())
def test_copy_source_conditions(s3, source, case):
    bucket, key, body, etag, last_modified = source
    build, status = COPY_CONDITIONS[case]
    kwargs = dict(
        Bucket=bucket,
        Key="dst/conditional",
        CopySource={"Bucket": bucket, "Key": key},
        **build(etag, last_modified),
    )
    if status == 200:
        s3.copy_object(**kwargs)
        assert s3.get_object(Bucket=bucket, Key="dst/conditional")["Body"].read() == body
    else:
        with expect_error("PreconditionFailed", 412):
            s3.copy_object(**kwargs)
        with expect_error(status=404):
            s3.head_object(Bucket=bucket, Key="dst/conditional")
