"""Multipart uploads: create, upload parts, complete, abort; the validation of a completion;
what is visible before it; GET and HEAD of one part; and the `dfs uploads` commands.

Listings of parts and uploads are in test_multipart_list.py, checksums in
test_multipart_checksums.py, UploadPartCopy and conditions in test_multipart_copy.py.
"""

import pytest

from checksums import md5_b64, md5_hex
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
from s3util import expect_error, http_status


def test_happy_path(s3, bucket):
    parts = part_datas([MIN_PART, MIN_PART, MIN_PART, 1234], seed=1)
    upload_id = create_upload(
        s3,
        bucket,
        "dir/big.bin",
        ContentType="application/x-test",
        Metadata={"origin": "multipart", "n": "4"},
    )
    listed = [
        upload_part(s3, bucket, "dir/big.bin", upload_id, n, d) for n, d in enumerate(parts, 1)
    ]
    done = complete_upload(s3, bucket, "dir/big.bin", upload_id, listed)
    data = b"".join(parts)
    etag = multipart_etag(parts)
    assert etag.endswith('-4"')
    assert done["ETag"] == etag
    assert done["Bucket"] == bucket and done["Key"] == "dir/big.bin"
    assert done["Location"]

    head = s3.head_object(Bucket=bucket, Key="dir/big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == etag
    assert head["ContentType"] == "application/x-test"
    assert head["Metadata"] == {"origin": "multipart", "n": "4"}
    got = s3.get_object(Bucket=bucket, Key="dir/big.bin")
    assert got["ETag"] == etag
    assert md5_hex(got["Body"].read()) == md5_hex(data)
    listing = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listing] == [("dir/big.bin", len(data), etag)]
    # A ranged read across the boundary of parts 1 and 2.
    ranged = s3.get_object(
        Bucket=bucket, Key="dir/big.bin", Range=f"bytes={MIN_PART - 10}-{MIN_PART + 9}"
    )
    assert ranged["Body"].read() == data[MIN_PART - 10 : MIN_PART + 10]
    # The upload is gone once completed.
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_parts_uploaded_out_of_order(s3, bucket):
    parts = part_datas([MIN_PART, MIN_PART + 3, 777], seed=2)
    upload_id = create_upload(s3, bucket, "ooo")
    listed = {n: upload_part(s3, bucket, "ooo", upload_id, n, parts[n - 1]) for n in (3, 1, 2)}
    done = complete_upload(s3, bucket, "ooo", upload_id, [listed[1], listed[2], listed[3]])
    assert done["ETag"] == multipart_etag(parts)
    got = s3.get_object(Bucket=bucket, Key="ooo")["Body"].read()
    assert md5_hex(got) == md5_hex(b"".join(parts))


def test_part_uploaded_twice_keeps_the_last(s3, bucket):
    first, second, last = part_datas([MIN_PART, MIN_PART, 100], seed=3)
    upload_id = create_upload(s3, bucket, "again")
    upload_part(s3, bucket, "again", upload_id, 1, first)
    one = upload_part(s3, bucket, "again", upload_id, 1, second)
    two = upload_part(s3, bucket, "again", upload_id, 2, last)
    parts = s3.list_parts(Bucket=bucket, Key="again", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, one["ETag"]), (2, two["ETag"])]
    complete_upload(s3, bucket, "again", upload_id, [one, two])
    assert s3.get_object(Bucket=bucket, Key="again")["Body"].read() == second + last


def _three_parts(s3, bucket, key, sizes=(MIN_PART, MIN_PART, 100), seed=4):
    """An open upload of `key` with three parts: (upload id, part datas, complete entries)."""
    parts = part_datas(sizes, seed=seed)
    upload_id = create_upload(s3, bucket, key)
    listed = [upload_part(s3, bucket, key, upload_id, n, d) for n, d in enumerate(parts, 1)]
    return upload_id, parts, listed


def _assert_still_open(s3, bucket, key, upload_id, count=3):
    """A failed completion leaves the upload open with its parts, and no object."""
    parts = s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in parts] == list(range(1, count + 1))
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key=key)


def test_complete_parts_out_of_order(s3, bucket):
    upload_id, _, listed = _three_parts(s3, bucket, "k")
    with expect_error("InvalidPartOrder", 400):
        complete_upload(s3, bucket, "k", upload_id, [listed[1], listed[0], listed[2]])
    _assert_still_open(s3, bucket, "k", upload_id)


def test_complete_missing_part(s3, bucket):
    upload_id, _, listed = _three_parts(s3, bucket, "k")
    ghost = {"PartNumber": 4, "ETag": listed[2]["ETag"]}
    with expect_error("InvalidPart", 400):
        complete_upload(s3, bucket, "k", upload_id, listed + [ghost])
    _assert_still_open(s3, bucket, "k", upload_id)


def test_complete_wrong_etag(s3, bucket):
    upload_id, _, listed = _three_parts(s3, bucket, "k")
    wrong = {"PartNumber": 2, "ETag": f'"{md5_hex(b"not this part")}"'}
    with expect_error("InvalidPart", 400):
        complete_upload(s3, bucket, "k", upload_id, [listed[0], wrong, listed[2]])
    _assert_still_open(s3, bucket, "k", upload_id)


def test_complete_etags_without_quotes(s3, bucket):
    """S3 accepts the part ETags of a completion with or without their quotes."""
    upload_id, parts, listed = _three_parts(s3, bucket, "k")
    bare = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"].strip('"')} for p in listed]
    assert complete_upload(s3, bucket, "k", upload_id, bare)["ETag"] == multipart_etag(parts)


def test_complete_too_small_middle_part(s3, bucket):
    # Uploading a small part is fine; only completing with it anywhere but last is not.
    upload_id, _, listed = _three_parts(s3, bucket, "k", sizes=(MIN_PART, MIN_PART - 1, 10))
    with expect_error("EntityTooSmall", 400):
        complete_upload(s3, bucket, "k", upload_id, listed)
    _assert_still_open(s3, bucket, "k", upload_id)


def test_complete_without_parts_is_malformed(s3, bucket):
    upload_id = create_upload(s3, bucket, "k")
    with expect_error("MalformedXML", 400):
        complete_upload(s3, bucket, "k", upload_id, [])


def test_small_last_part_and_single_small_part(s3, bucket):
    """Only parts before the last must be 5 MiB: one tiny part alone completes."""
    done = upload_object(s3, bucket, "tiny", [b"just this"])
    assert done["ETag"] == multipart_etag([b"just this"])
    assert s3.get_object(Bucket=bucket, Key="tiny")["Body"].read() == b"just this"


def test_abort_then_complete(s3, bucket):
    upload_id, _, listed = _three_parts(s3, bucket, "k")
    s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=upload_id)
    with expect_error("NoSuchUpload", 404):
        complete_upload(s3, bucket, "k", upload_id, listed)
    with expect_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    with expect_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"x")
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="k")
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_unknown_upload_id(s3, bucket):
    bogus = "0" * 32
    with expect_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="k", UploadId=bogus, PartNumber=1, Body=b"x")
    with expect_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key="k", UploadId=bogus)
    with expect_error("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket=bucket, Key="k", UploadId=bogus)
    with expect_error("NoSuchUpload", 404):
        complete_upload(s3, bucket, "k", bogus, [{"PartNumber": 1, "ETag": '"x"'}])


def test_upload_id_belongs_to_its_key(s3, bucket):
    upload_id = create_upload(s3, bucket, "mine")
    with expect_error("NoSuchUpload", 404):
        s3.upload_part(Bucket=bucket, Key="other", UploadId=upload_id, PartNumber=1, Body=b"x")
    with expect_error("NoSuchUpload", 404):
        s3.abort_multipart_upload(Bucket=bucket, Key="other", UploadId=upload_id)
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [
        upload_id
    ]


@pytest.mark.parametrize("number", [0, 10001])
def test_part_number_out_of_range(s3, bucket, number):
    upload_id = create_upload(s3, bucket, "k")
    with expect_error("InvalidArgument", 400):
        s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=number, Body=b"x")


def test_create_upload_in_missing_bucket(s3, bucket):
    with expect_error("NoSuchBucket", 404):
        s3.create_multipart_upload(Bucket=bucket + "-missing", Key="k")


def test_complete_twice_same_parts(s3, bucket):
    """AWS answers a completion repeated with the same parts (a client retry) with the same
    object rather than NoSuchUpload."""
    upload_id, parts, listed = _three_parts(s3, bucket, "k")
    first = complete_upload(s3, bucket, "k", upload_id, listed)
    second = complete_upload(s3, bucket, "k", upload_id, listed)
    assert first["ETag"] == second["ETag"] == multipart_etag(parts)
    assert s3.head_object(Bucket=bucket, Key="k")["ETag"] == first["ETag"]
    assert md5_hex(s3.get_object(Bucket=bucket, Key="k")["Body"].read()) == md5_hex(b"".join(parts))


def test_unlisted_parts_are_not_in_the_object(s3, bucket):
    upload_id, parts, listed = _three_parts(s3, bucket, "k", sizes=(MIN_PART, 3 * KiB, 100))
    done = complete_upload(s3, bucket, "k", upload_id, [listed[0], listed[2]])
    assert done["ETag"] == multipart_etag([parts[0], parts[2]])
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["ContentLength"] == len(parts[0]) + len(parts[2])
    assert got["Body"].read() == parts[0] + parts[2]


def test_complete_replaces_existing_object(s3, bucket):
    s3.put_object(Bucket=bucket, Key="k", Body=b"old", Metadata={"old": "1"})
    upload_id, parts, listed = _three_parts(s3, bucket, "k")
    # The old object stays readable while the upload is open.
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"old"
    complete_upload(s3, bucket, "k", upload_id, listed)
    head = s3.head_object(Bucket=bucket, Key="k")
    assert head["ETag"] == multipart_etag(parts)
    assert head["Metadata"] == {}


def test_object_invisible_before_completion(s3, bucket):
    upload_id, parts, listed = _three_parts(s3, bucket, "dir/pending")
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="dir/pending")
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="dir/pending")
    assert s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    assert s3.list_objects_v2(Bucket=bucket, Delimiter="/").get("CommonPrefixes", []) == []
    assert s3.list_objects(Bucket=bucket).get("Contents", []) == []
    complete_upload(s3, bucket, "dir/pending", upload_id, listed)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["dir/pending"]


@pytest.mark.dfs  # the dfs CLI
def test_parts_invisible_to_dfs_ls(s3, bucket, run_cli):
    upload_id, parts, listed = _three_parts(
        s3, bucket, "dir/pending", sizes=(MIN_PART, MIN_PART, 10)
    )
    assert run_cli(["ls", f"/{bucket}"]).stdout_text.strip() == ""
    assert run_cli(["stat", f"/{bucket}/dir/pending"], check=False).returncode != 0
    complete_upload(s3, bucket, "dir/pending", upload_id, listed)
    assert run_cli(["ls", f"/{bucket}/dir"]).stdout_text.split() == ["pending"]


def test_part_content_md5(s3, bucket):
    upload_id = create_upload(s3, bucket, "k")
    data = part_datas([200 * KiB], seed=5)[0]
    ok = s3.upload_part(
        Bucket=bucket,
        Key="k",
        UploadId=upload_id,
        PartNumber=1,
        Body=data,
        ContentMD5=md5_b64(data),
    )
    assert ok["ETag"] == f'"{md5_hex(data)}"'
    with expect_error("BadDigest", 400):
        s3.upload_part(
            Bucket=bucket,
            Key="k",
            UploadId=upload_id,
            PartNumber=2,
            Body=data,
            ContentMD5=md5_b64(b"something else"),
        )
    parts = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]


def test_get_and_head_by_part_number(raw, s3, bucket):
    parts = part_datas([MIN_PART, MIN_PART + 1, 1000], seed=6)
    data = b"".join(parts)
    etag = upload_object(s3, bucket, "k", parts)["ETag"]
    start = 0
    for number, part in enumerate(parts, 1):
        end = start + len(part) - 1
        got = s3.get_object(Bucket=bucket, Key="k", PartNumber=number)
        assert http_status(got) == 206
        assert got["ContentLength"] == len(part)
        assert got["ContentRange"] == f"bytes {start}-{end}/{len(data)}"
        assert got["PartsCount"] == 3
        assert got["ETag"] == etag
        assert md5_hex(got["Body"].read()) == md5_hex(part)
        head = s3.head_object(Bucket=bucket, Key="k", PartNumber=number)
        assert head["ContentLength"] == len(part)
        assert head["PartsCount"] == 3
        assert head["ETag"] == etag
        response = raw.request("HEAD", bucket, "k", params=[("partNumber", str(number))])
        assert response.status == 206, response
        assert response.header("Content-Range") == f"bytes {start}-{end}/{len(data)}"
        assert response.header("x-amz-mp-parts-count") == "3"
        start = end + 1
    # Past the last part; and PartsCount comes only with a part number (S3's documentation).
    with expect_error("InvalidPartNumber", 416):
        s3.get_object(Bucket=bucket, Key="k", PartNumber=4)
    assert "PartsCount" not in s3.head_object(Bucket=bucket, Key="k")


def test_part_number_of_single_part_object(s3, bucket):
    """PartNumber=1 of an object from a plain PUT is the whole object."""
    s3.put_object(Bucket=bucket, Key="plain", Body=b"0123456789")
    got = s3.get_object(Bucket=bucket, Key="plain", PartNumber=1)
    assert got["Body"].read() == b"0123456789"
    assert got["ContentLength"] == 10
    with expect_error("InvalidPartNumber", 416):
        s3.get_object(Bucket=bucket, Key="plain", PartNumber=2)


def test_complete_if_none_match(s3, bucket):
    upload_id, parts, listed = _three_parts(s3, bucket, "new")
    # No object yet: the condition holds.
    done = complete_upload(s3, bucket, "new", upload_id, listed, IfNoneMatch="*")
    assert done["ETag"] == multipart_etag(parts)

    s3.put_object(Bucket=bucket, Key="taken", Body=b"first")
    upload_id, _, listed = _three_parts(s3, bucket, "taken", seed=7)
    with expect_error("PreconditionFailed", 412):
        complete_upload(s3, bucket, "taken", upload_id, listed, IfNoneMatch="*")
    assert s3.get_object(Bucket=bucket, Key="taken")["Body"].read() == b"first"


@pytest.mark.dfs  # dfs's rule; AWS documents only objects as keeping a bucket from deletion
def test_delete_bucket_with_open_upload(s3, bucket_factory):
    name = bucket_factory()
    upload_id = create_upload(s3, name, "open")
    upload_part(s3, name, "open", upload_id, 1, b"data")
    with expect_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=name)
    s3.abort_multipart_upload(Bucket=name, Key="open", UploadId=upload_id)
    s3.delete_bucket(Bucket=name)
    with expect_error(status=404):
        s3.head_bucket(Bucket=name)


@pytest.mark.dfs  # the dfs CLI
def test_dfs_uploads_ls_and_abort(s3, bucket, run_cli):
    upload_id = create_upload(s3, bucket, "videos/trip.mp4")
    upload_part(s3, bucket, "videos/trip.mp4", upload_id, 1, b"x" * 1000)
    other = create_upload(s3, bucket, "notes.txt")
    listed = run_cli(["uploads", "ls", bucket]).stdout_text
    rows = [line.split() for line in listed.splitlines()[1:] if line.strip()]
    assert sorted((r[0], r[1]) for r in rows) == sorted(
        [("videos/trip.mp4", upload_id), ("notes.txt", other)]
    ), listed
    long_rows = run_cli(["uploads", "ls", "-l", "--prefix", "videos/", bucket]).stdout_text
    cells = [line.split() for line in long_rows.splitlines()[1:] if line.strip()]
    assert [(c[0], c[1], c[-2], c[-1]) for c in cells] == [
        ("videos/trip.mp4", upload_id, "1", "1000")
    ], long_rows

    run_cli(["uploads", "abort", bucket, "videos/trip.mp4", upload_id])
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [other]
    with expect_error("NoSuchUpload", 404):
        s3.list_parts(Bucket=bucket, Key="videos/trip.mp4", UploadId=upload_id)
    again = run_cli(["uploads", "abort", bucket, "videos/trip.mp4", upload_id], check=False)
    assert again.returncode != 0
    assert "no such upload" in again.stderr_text, again.stderr_text
    assert upload_id not in run_cli(["uploads", "ls", bucket]).stdout_text
