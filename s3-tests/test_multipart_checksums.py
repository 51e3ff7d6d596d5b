"""Flexible checksums of multipart uploads: per part (checked on upload, shown by ListParts)
and for the whole object, COMPOSITE (the checksum of the parts' checksums, `-N`) or
FULL_OBJECT (the checksum of all the bytes). Every expected value is computed here."""

import pytest

from checksums import checksum_b64, md5_hex
from multipart_util import KiB, MIN_PART, composite_checksum, create_upload, part_datas
from s3util import expect_error

# A well-formed value of the right length for each algorithm, which no test part has.
WRONG = {
    "CRC32": "AAAAAA==",
    "CRC32C": "AAAAAA==",
    "CRC64NVME": "AAAAAAAAAAA=",
    "SHA1": "A" * 27 + "=",
    "SHA256": "A" * 43 + "=",
}


def _member(algorithm):
    return "Checksum" + algorithm


def _upload_part(s3, bucket, key, upload_id, number, data, algorithm):
    """UploadPart with the part's checksum computed here (so no awscrt is needed); returns the
    part's entry for CompleteMultipartUpload, checksum included."""
    value = checksum_b64(algorithm, data)
    out = s3.upload_part(
        Bucket=bucket,
        Key=key,
        UploadId=upload_id,
        PartNumber=number,
        Body=data,
        **{_member(algorithm): value},
    )
    assert out[_member(algorithm)] == value, f"part {number}: {out}"
    return {"PartNumber": number, "ETag": out["ETag"], _member(algorithm): value}


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_composite_checksum(s3, bucket, algorithm):
    created = s3.create_multipart_upload(Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm)
    upload_id = created["UploadId"]
    assert created["ChecksumAlgorithm"] == algorithm
    if "ChecksumType" in created:
        assert created["ChecksumType"] == "COMPOSITE"
    parts = part_datas([MIN_PART, 100 * KiB + 3], seed=11)
    listed = [
        _upload_part(s3, bucket, "k", upload_id, n, d, algorithm) for n, d in enumerate(parts, 1)
    ]

    # A part whose checksum does not match its bytes is refused and not stored.
    with expect_error("BadDigest", 400):
        s3.upload_part(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            PartNumber=3,
            Body=b"a third part",
            **{_member(algorithm): WRONG[algorithm]},
        )

    page = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    assert page["ChecksumAlgorithm"] == algorithm
    assert [(p["PartNumber"], p[_member(algorithm)]) for p in page["Parts"]] == [
        (n, checksum_b64(algorithm, d)) for n, d in enumerate(parts, 1)
    ]

    expected = composite_checksum(algorithm, parts)
    assert expected.endswith("-2")
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": listed}
    )
    assert done[_member(algorithm)] == expected
    if "ChecksumType" in done:
        assert done["ChecksumType"] == "COMPOSITE"

    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[_member(algorithm)] == expected
    assert head["ChecksumType"] == "COMPOSITE"
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got[_member(algorithm)] == expected
    assert md5_hex(got["Body"].read()) == md5_hex(b"".join(parts))
    # Only asked for does the checksum come.
    assert _member(algorithm) not in s3.head_object(Bucket=bucket, Key="k")


@pytest.mark.parametrize("algorithm", ["CRC64NVME", "CRC32", "CRC32C"])
def test_full_object_checksum(s3, bucket, algorithm):
    created = s3.create_multipart_upload(
        Bucket=bucket, Key="k", ChecksumAlgorithm=algorithm, ChecksumType="FULL_OBJECT"
    )
    upload_id = created["UploadId"]
    assert created["ChecksumAlgorithm"] == algorithm
    assert created["ChecksumType"] == "FULL_OBJECT"
    parts = part_datas([MIN_PART, 3 * KiB + 1], seed=12)
    listed = [
        _upload_part(s3, bucket, "k", upload_id, n, d, algorithm) for n, d in enumerate(parts, 1)
    ]
    with expect_error("BadDigest", 400):
        s3.upload_part(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            PartNumber=3,
            Body=b"bad",
            **{_member(algorithm): WRONG[algorithm]},
        )
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": listed}
    )
    data = b"".join(parts)
    expected = checksum_b64(algorithm, data)
    assert done[_member(algorithm)] == expected
    assert done["ChecksumType"] == "FULL_OBJECT"
    head = s3.head_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert head[_member(algorithm)] == expected
    assert head["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="k", ChecksumMode="ENABLED")
    assert got[_member(algorithm)] == expected
    assert md5_hex(got["Body"].read()) == md5_hex(data)


def test_sdk_default_checksum_on_parts(s3, bucket):
    """boto3 sends a CRC32 with every part by default, also to an upload created without an
    algorithm; S3 checks it and the upload completes as usual."""
    upload_id = create_upload(s3, bucket, "k")
    parts = part_datas([MIN_PART, 10], seed=13)
    listed = []
    for number, data in enumerate(parts, 1):
        out = s3.upload_part(
            Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=data
        )
        listed.append({"PartNumber": number, "ETag": out["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload={"Parts": listed}
    )
    got = s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    assert md5_hex(got) == md5_hex(b"".join(parts))
    # ... and a CRC32 that does not match is BadDigest even so.
    upload_id = create_upload(s3, bucket, "k2")
    with expect_error("BadDigest", 400):
        s3.upload_part(
            Bucket=bucket,
            Key="k2",
            UploadId=upload_id,
            PartNumber=1,
            Body=b"data",
            ChecksumCRC32=WRONG["CRC32"],
        )
