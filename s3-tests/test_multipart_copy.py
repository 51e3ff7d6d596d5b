"""UploadPartCopy: parts made from whole objects or byte ranges of them (across the 8 MiB chunk
boundaries of dfs), their ETags, and the copy-source conditions."""

from checksums import md5_hex, quoted_etag
from multipart_util import (
    KiB,
    MIN_PART,
    MiB,
    complete_upload,
    create_upload,
    multipart_etag,
    part_datas,
    upload_object,
    upload_part,
)
from s3util import expect_error, random_bytes


def _copy_part(s3, bucket, key, upload_id, number, src_bucket, src_key, **kwargs):
    """UploadPartCopy; returns (part entry for completion, CopyPartResult)."""
    out = s3.upload_part_copy(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        PartNumber=number,
        CopySource={"Bucket": src_bucket, "Key": src_key},
        **kwargs,
    )
    result = out["CopyPartResult"]
    assert result["LastModified"] is not None
    return {"PartNumber": number, "ETag": result["ETag"]}, result


def test_copy_whole_object_as_part(s3, bucket):
    source = random_bytes(MIN_PART + 3, seed=21)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    tail = b"and a tail"
    upload_id = create_upload(s3, bucket, "dst", ContentType="text/x-dst")
    first, result = _copy_part(s3, bucket, "dst", upload_id, 1, bucket, "src")
    assert result["ETag"] == quoted_etag(source)
    second = upload_part(s3, bucket, "dst", upload_id, 2, tail)
    parts = s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in parts] == [
        (1, len(source), quoted_etag(source)),
        (2, len(tail), quoted_etag(tail)),
    ]
    done = complete_upload(s3, bucket, "dst", upload_id, [first, second])
    assert done["ETag"] == multipart_etag([source, tail])
    got = s3.get_object(Bucket=bucket, Key="dst")
    assert got["ContentType"] == "text/x-dst"
    assert md5_hex(got["Body"].read()) == md5_hex(source + tail)
    # The source is untouched, and the copy does not depend on it.
    s3.delete_object(Bucket=bucket, Key="src")
    assert md5_hex(s3.get_object(Bucket=bucket, Key="dst")["Body"].read()) == md5_hex(source + tail)


def test_copy_multipart_source_as_part(s3, bucket, bucket_factory):
    """A multipart source's ETag is no MD5 of its bytes; the part's ETag still is."""
    pieces = part_datas([MIN_PART, 5 * KiB], seed=22)
    source = b"".join(pieces)
    other = bucket_factory("copy-src")
    upload_object(s3, other, "mp-src", pieces)
    upload_id = create_upload(s3, bucket, "dst")
    entry, result = _copy_part(s3, bucket, "dst", upload_id, 1, other, "mp-src")
    assert result["ETag"] == quoted_etag(source)
    complete_upload(s3, bucket, "dst", upload_id, [entry])
    got = s3.get_object(Bucket=bucket, Key="dst")["Body"].read()
    assert md5_hex(got) == md5_hex(source)


def test_copy_ranges_across_chunks(s3, bucket):
    source = random_bytes(20 * MiB, seed=23)
    s3.put_object(Bucket=bucket, Key="src", Body=source)
    # 3 MiB..11 MiB crosses the first chunk boundary (8 MiB); 15 MiB..end crosses the second.
    ranges = [(3 * MiB, 11 * MiB - 1), (15 * MiB, 20 * MiB - 1)]
    upload_id = create_upload(s3, bucket, "dst")
    entries, expected = [], []
    for number, (first, last) in enumerate(ranges, 1):
        entry, result = _copy_part(
            s3,
            bucket,
            "dst",
            upload_id,
            number,
            bucket,
            "src",
            CopySourceRange=f"bytes={first}-{last}",
        )
        piece = source[first : last + 1]
        assert result["ETag"] == quoted_etag(piece), f"part {number}"
        entries.append(entry)
        expected.append(piece)
    sizes = [
        p["Size"] for p in s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload_id)["Parts"]
    ]
    assert sizes == [8 * MiB, 5 * MiB]
    done = complete_upload(s3, bucket, "dst", upload_id, entries)
    assert done["ETag"] == multipart_etag(expected)
    got = s3.get_object(Bucket=bucket, Key="dst")
    body = got["Body"].read()
    assert len(body) == 13 * MiB
    assert md5_hex(body) == md5_hex(b"".join(expected))
    # A read across the boundary of the two copied parts.
    ranged = s3.get_object(Bucket=bucket, Key="dst", Range=f"bytes={8 * MiB - 5}-{8 * MiB + 4}")
    assert (
        ranged["Body"].read() == source[11 * MiB - 5 : 11 * MiB] + source[15 * MiB : 15 * MiB + 5]
    )


def test_copy_range_outside_source(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"0123456789")
    upload_id = create_upload(s3, bucket, "dst")
    with expect_error() as caught:
        s3.upload_part_copy(
            Bucket=bucket,
            Key="dst",
            UploadId=upload_id,
            PartNumber=1,
            CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceRange="bytes=5-10",
        )
    error = caught.error.response
    # AWS answers 416 InvalidRange here; some implementations 400 InvalidArgument.
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) in (
        ("InvalidRange", 416),
        ("InvalidArgument", 400),
    ), error["Error"]
    assert s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload_id).get("Parts", []) == []


def test_copy_part_missing_source(s3, bucket):
    upload_id = create_upload(s3, bucket, "dst")
    with expect_error("NoSuchKey", 404):
        _copy_part(s3, bucket, "dst", upload_id, 1, bucket, "nope")


def test_copy_part_source_conditions(s3, bucket):
    s3.put_object(Bucket=bucket, Key="src", Body=b"conditional source")
    etag = s3.head_object(Bucket=bucket, Key="src")["ETag"]
    upload_id = create_upload(s3, bucket, "dst")
    with expect_error("PreconditionFailed", 412):
        _copy_part(
            s3, bucket, "dst", upload_id, 1, bucket, "src", CopySourceIfMatch=quoted_etag(b"x")
        )
    with expect_error("PreconditionFailed", 412):
        _copy_part(s3, bucket, "dst", upload_id, 1, bucket, "src", CopySourceIfNoneMatch=etag)
    assert s3.list_parts(Bucket=bucket, Key="dst", UploadId=upload_id).get("Parts", []) == []
    entry, result = _copy_part(
        s3, bucket, "dst", upload_id, 1, bucket, "src", CopySourceIfMatch=etag
    )
    assert result["ETag"] == etag
    complete_upload(s3, bucket, "dst", upload_id, [entry])
    assert s3.get_object(Bucket=bucket, Key="dst")["Body"].read() == b"conditional source"
