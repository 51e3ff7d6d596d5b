"""ListParts and ListMultipartUploads: contents, order and every pagination parameter."""

import hashlib

import pytest

from multipart_util import create_upload, upload_part
from s3util import expect_error


def _etag(data):
    return f'"{hashlib.md5(data).hexdigest()}"'


def test_list_parts_pagination(s3, bucket):
    upload_id = create_upload(s3, bucket, "k")
    # Numbers with gaps, uploaded out of order: markers are part numbers, not positions.
    datas = {n: bytes([n]) * (1000 + n) for n in (8, 3, 1, 5, 2)}
    for number, data in datas.items():
        upload_part(s3, bucket, "k", upload_id, number, data)

    everything = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    assert everything["IsTruncated"] is False
    assert everything["Bucket"] == bucket and everything["Key"] == "k"
    assert everything["UploadId"] == upload_id
    assert [(p["PartNumber"], p["Size"], p["ETag"]) for p in everything["Parts"]] == [
        (n, len(datas[n]), _etag(datas[n])) for n in (1, 2, 3, 5, 8)
    ]
    assert all(p["LastModified"] for p in everything["Parts"])

    pages = []
    marker = 0
    for _ in range(10):
        page = s3.list_parts(
            Bucket=bucket, Key="k", UploadId=upload_id, MaxParts=2, PartNumberMarker=marker
        )
        assert page["MaxParts"] == 2
        assert page.get("PartNumberMarker", 0) == marker
        pages.append([(p["PartNumber"], p["Size"], p["ETag"]) for p in page["Parts"]])
        if not page["IsTruncated"]:
            break
        assert page["NextPartNumberMarker"] == pages[-1][-1][0]
        marker = page["NextPartNumberMarker"]
    assert [[number for number, _, _ in page] for page in pages] == [[1, 2], [3, 5], [8]]
    assert [part for page in pages for part in page] == [
        (n, len(datas[n]), _etag(datas[n])) for n in (1, 2, 3, 5, 8)
    ]

    after_last = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, PartNumberMarker=8)
    assert after_last.get("Parts", []) == []
    assert after_last["IsTruncated"] is False
    # In between two parts: the page starts at the next one.
    middle = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id, PartNumberMarker=4)
    assert [p["PartNumber"] for p in middle["Parts"]] == [5, 8]

    paginator = s3.get_paginator("list_parts")
    numbers = [
        p["PartNumber"]
        for page in paginator.paginate(
            Bucket=bucket, Key="k", UploadId=upload_id, PaginationConfig={"PageSize": 1}
        )
        for p in page.get("Parts", [])
    ]
    assert numbers == [1, 2, 3, 5, 8]


def test_list_parts_of_empty_upload(s3, bucket):
    upload_id = create_upload(s3, bucket, "k")
    page = s3.list_parts(Bucket=bucket, Key="k", UploadId=upload_id)
    assert page.get("Parts", []) == []
    assert page["IsTruncated"] is False


# Keys in the order the uploads are created; "b" gets two uploads.
CREATION_ORDER = ["b", "a/1", "c/x/y", "b", "a/2", "d", "c/z"]


@pytest.fixture
def uploads(s3, bucket):
    """Open uploads of CREATION_ORDER: (bucket, [(key, upload id)] in S3's listing order)."""
    created = [(key, create_upload(s3, bucket, key)) for key in CREATION_ORDER]
    # S3 order: by key, then (for one key) by initiation; sorted() is stable.
    return bucket, sorted(created, key=lambda pair: pair[0])


def _listed(page):
    return [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]


def _prefixes(page):
    return [p["Prefix"] for p in page.get("CommonPrefixes", [])]


def test_list_uploads_all(s3, uploads):
    bucket, expected = uploads
    page = s3.list_multipart_uploads(Bucket=bucket)
    assert _listed(page) == expected
    assert page["IsTruncated"] is False
    assert page["Bucket"] == bucket
    assert all(u["Initiated"] for u in page["Uploads"])
    b_ids = [upload_id for key, upload_id in expected if key == "b"]
    assert len(b_ids) == 2 and b_ids[0] != b_ids[1]


def test_list_uploads_max_uploads_pages(s3, uploads):
    bucket, expected = uploads
    pages, key_marker, id_marker = [], None, None
    for _ in range(10):
        args = {"Bucket": bucket, "MaxUploads": 2}
        if key_marker is not None:
            args["KeyMarker"] = key_marker
        if id_marker:
            args["UploadIdMarker"] = id_marker
        page = s3.list_multipart_uploads(**args)
        assert page["MaxUploads"] == 2
        pages.append(_listed(page))
        if not page["IsTruncated"]:
            break
        assert (page["NextKeyMarker"], page["NextUploadIdMarker"]) == pages[-1][-1]
        key_marker, id_marker = page["NextKeyMarker"], page["NextUploadIdMarker"]
    assert pages == [expected[0:2], expected[2:4], expected[4:6], expected[6:]]

    paginator = s3.get_paginator("list_multipart_uploads")
    every = [
        (u["Key"], u["UploadId"])
        for page in paginator.paginate(Bucket=bucket, PaginationConfig={"PageSize": 3})
        for u in page.get("Uploads", [])
    ]
    assert every == expected


def test_list_uploads_key_marker(s3, uploads):
    bucket, expected = uploads
    # A key marker alone skips every upload of that key.
    page = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="b")
    assert page["KeyMarker"] == "b"
    assert _listed(page) == [pair for pair in expected if pair[0] > "b"]
    # With an upload id marker, the uploads of that key after that id come first.
    first_b = next(upload_id for key, upload_id in expected if key == "b")
    page = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="b", UploadIdMarker=first_b)
    assert page["UploadIdMarker"] == first_b
    assert _listed(page) == expected[expected.index(("b", first_b)) + 1 :]
    # A marker between keys.
    page = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="a/15")
    assert _listed(page) == [pair for pair in expected if pair[0] > "a/15"]
    # Past the end.
    page = s3.list_multipart_uploads(Bucket=bucket, KeyMarker="zzz")
    assert _listed(page) == [] and page["IsTruncated"] is False


def test_list_uploads_prefix(s3, uploads):
    bucket, expected = uploads
    page = s3.list_multipart_uploads(Bucket=bucket, Prefix="c/")
    assert page["Prefix"] == "c/"
    assert _listed(page) == [pair for pair in expected if pair[0].startswith("c/")]
    assert _listed(s3.list_multipart_uploads(Bucket=bucket, Prefix="nothing")) == []


def test_list_uploads_delimiter(s3, uploads):
    bucket, expected = uploads
    page = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert page["Delimiter"] == "/"
    assert _listed(page) == [pair for pair in expected if "/" not in pair[0]]
    assert _prefixes(page) == ["a/", "c/"]

    page = s3.list_multipart_uploads(Bucket=bucket, Prefix="c/", Delimiter="/")
    assert _listed(page) == [pair for pair in expected if pair[0] == "c/z"]
    assert _prefixes(page) == ["c/x/"]


def test_list_uploads_delimiter_pages(s3, uploads):
    """Paged with a delimiter, common prefixes count toward MaxUploads and are never repeated."""
    bucket, expected = uploads
    model = sorted(
        [("prefix", p) for p in ("a/", "c/")]
        + [("upload", pair) for pair in expected if "/" not in pair[0]],
        key=lambda item: item[1] if item[0] == "prefix" else item[1][0],
    )
    seen, key_marker, id_marker = [], None, None
    for _ in range(10):
        args = {"Bucket": bucket, "Delimiter": "/", "MaxUploads": 2}
        if key_marker is not None:
            args["KeyMarker"] = key_marker
        if id_marker:
            args["UploadIdMarker"] = id_marker
        page = s3.list_multipart_uploads(**args)
        items = [("prefix", p) for p in _prefixes(page)] + [("upload", u) for u in _listed(page)]
        assert 0 < len(items) <= 2, page
        seen += items
        if not page["IsTruncated"]:
            break
        key_marker, id_marker = page["NextKeyMarker"], page.get("NextUploadIdMarker")
    assert sorted(seen, key=model.index) == model
    assert len(seen) == len(model)


def test_list_uploads_of_missing_bucket(s3, bucket):
    with expect_error("NoSuchBucket", 404):
        s3.list_multipart_uploads(Bucket=bucket + "-missing")
