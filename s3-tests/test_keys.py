"""Object keys: any UTF-8 up to 1024 bytes, stored verbatim (no normalisation of `//`, `.`,
`..`), keys that are prefixes of others, `dir/` marker objects, and DeleteObjects."""

import base64
import hashlib
from concurrent.futures import ThreadPoolExecutor

import pytest

from checksums import quoted_etag
from s3util import expect_error

SPECIAL_KEYS = {
    "space": "with space.txt",
    "spaces-around": " lead and trail ",
    "plus": "a+b+c",
    "percent": "100%25 real %",
    "ampersand": "a&b=c;d",
    "e-acute": "café/é",
    "japanese": "日本/語.txt",
    "emoji": "emoji-😀",
    "double-slash": "a//b",
    "leading-slash": "/leading",
    "dot-segment": "./x",
    "dotdot-segment": "../x",
    "inner-dots": "a/./b/../c",
    "question-mark": "x?y",
    "hash": "tag#1",
    "punctuation": "!$'()*,:@[]{}~^`|\\\"<>",
    "trailing-dot": "name.",
}


@pytest.mark.parametrize("key", SPECIAL_KEYS.values(), ids=SPECIAL_KEYS.keys())
def test_special_key_roundtrip(s3, bucket, key):
    body = key.encode("utf-8") * 3
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    assert s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [(key, len(body))]
    listed_v1 = s3.list_objects(Bucket=bucket, Prefix=key)["Contents"]
    assert [o["Key"] for o in listed_v1] == [key]
    s3.delete_object(Bucket=bucket, Key=key)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_unnormalised_keys_stay_distinct(s3, bucket):
    """Keys that a file system path normaliser would merge are distinct objects."""
    keys = ["a/b", "a//b", "a/./b", "a/x/../b", "./a/b", "a/b/", "a/b/."]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    for key in keys:
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == key.encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == sorted(keys, key=lambda k: k.encode())


def test_key_length_limit(s3, bucket):
    ascii_max = "k/" + "x" * 1022
    utf8_max = "é" * 512  # 1024 bytes in UTF-8
    for key in (ascii_max, utf8_max):
        assert len(key.encode()) == 1024
        s3.put_object(Bucket=bucket, Key=key, Body=b"ok")
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"ok"
    for key in (ascii_max + "y", utf8_max + "y"):
        with expect_error("KeyTooLongError", 400):
            s3.put_object(Bucket=bucket, Key=key, Body=b"too long")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 2


@pytest.mark.parametrize("order", ["file-first", "child-first"])
def test_key_and_longer_keys_coexist(s3, bucket, order):
    keys = ["a", "a/b"] if order == "file-first" else ["a/b", "a"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=f"body of {key}".encode())
    s3.put_object(Bucket=bucket, Key="a/", Body=b"")
    for key in ("a", "a/b"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == f"body of {key}".encode()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == ["a", "a/", "a/b"]
    s3.delete_object(Bucket=bucket, Key="a")
    assert s3.get_object(Bucket=bucket, Key="a/b")["Body"].read() == b"body of a/b"
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert listed == ["a/", "a/b"]


def test_directory_marker_object(s3, bucket):
    s3.put_object(
        Bucket=bucket,
        Key="dir/",
        Body=b"",
        ContentType="application/x-directory",
        Metadata={"kind": "folder"},
    )
    head = s3.head_object(Bucket=bucket, Key="dir/")
    assert head["ContentLength"] == 0
    assert head["ContentType"] == "application/x-directory"
    assert head["Metadata"] == {"kind": "folder"}
    assert head["ETag"] == quoted_etag(b"")
    got = s3.get_object(Bucket=bucket, Key="dir/")
    assert got["Body"].read() == b""
    assert got["ContentType"] == "application/x-directory"

    full = s3.list_objects_v2(Bucket=bucket)
    assert [(o["Key"], o["Size"]) for o in full["Contents"]] == [("dir/", 0)]
    # With a delimiter the marker rolls up into its prefix...
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert "Contents" not in top
    assert top["CommonPrefixes"] == [{"Prefix": "dir/"}]
    # ...and inside the prefix it is the one key.
    inside = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in inside["Contents"]] == ["dir/"]
    assert "CommonPrefixes" not in inside


def test_marker_with_children(s3, bucket):
    """Deleting the marker `d/` keeps `d/x`; deleting `d/x` keeps the marker."""
    s3.put_object(Bucket=bucket, Key="d/", Body=b"")
    s3.put_object(Bucket=bucket, Key="d/x", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="d/")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d/x"]
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="d/")
    s3.put_object(Bucket=bucket, Key="d/", Body=b"")
    s3.delete_object(Bucket=bucket, Key="d/x")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["d/"]


def test_slash_key_with_content(s3, bucket):
    """S3 lets a key ending in `/` hold bytes like any other key."""
    s3.put_object(Bucket=bucket, Key="notes/", Body=b"not empty", ContentType="text/plain")
    got = s3.get_object(Bucket=bucket, Key="notes/")
    assert got["Body"].read() == b"not empty"
    assert got["ContentType"] == "text/plain"


def test_implicit_prefixes_are_not_objects(s3, bucket):
    """PUT x/y/z creates no object x/ or x/y/; they vanish with their last key."""
    s3.put_object(Bucket=bucket, Key="x/y/z", Body=b"z")
    for key in ("x/", "x/y/", "x", "x/y"):
        with expect_error(status=404):
            s3.head_object(Bucket=bucket, Key=key)
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["x/y/z"]
    s3.delete_object(Bucket=bucket, Key="x/y/z")
    listing = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert listing["KeyCount"] == 0
    assert "CommonPrefixes" not in listing


def _put_many(s3, bucket, keys):
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=k, Body=k.encode()), keys))


def test_delete_objects_1000(s3, bucket):
    keys = [f"batch/{i:04d}" for i in range(995)]
    _put_many(s3, bucket, keys)
    missing = [f"missing/{i}" for i in range(5)]
    response = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys + missing]}
    )
    assert response.get("Errors", []) == []
    # Deleting a key that does not exist is reported as deleted, as a DELETE is 204.
    assert sorted(d["Key"] for d in response["Deleted"]) == sorted(keys + missing)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_quiet(s3, bucket):
    keys = [f"q/{i}" for i in range(20)]
    _put_many(s3, bucket, keys)
    response = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": True}
    )
    assert "Deleted" not in response
    assert "Errors" not in response
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_special_keys(s3, bucket):
    keys = ["a b", "é/日本", "x&y<z>", "a//b", "../up"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    response = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys]})
    assert sorted(d["Key"] for d in response["Deleted"]) == sorted(keys)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_delete_objects_1001_is_malformed(s3, bucket):
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    objects = [{"Key": "keep"}] + [{"Key": f"k{i}"} for i in range(1000)]
    with expect_error("MalformedXML", 400):
        s3.delete_objects(Bucket=bucket, Delete={"Objects": objects})
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"x"


def _delete_document(keys):
    objects = "".join(f"<Object><Key>{k}</Key></Object>" for k in keys)
    return f"<Delete>{objects}</Delete>".encode()


def test_delete_objects_needs_content_md5_or_a_checksum(raw, s3, bucket):
    """As S3: a DeleteObjects document must come with Content-MD5 or a flexible checksum, so a
    key corrupted on the way can never delete another object; one with either works."""
    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    doc = _delete_document(["keep"])
    response = raw.request("POST", bucket, params=[("delete", "")], body=doc)
    assert response.status == 400, response.body
    assert b"<Code>InvalidRequest</Code>" in response.body
    assert b"Content-MD5" in response.body
    assert s3.get_object(Bucket=bucket, Key="keep")["Body"].read() == b"x"

    md5 = base64.b64encode(hashlib.md5(doc).digest()).decode()
    response = raw.request(
        "POST", bucket, params=[("delete", "")], body=doc, headers={"Content-MD5": md5}
    )
    assert response.status == 200, response.body
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="keep")

    s3.put_object(Bucket=bucket, Key="keep", Body=b"x")
    sha = base64.b64encode(hashlib.sha256(doc).digest()).decode()
    response = raw.request(
        "POST",
        bucket,
        params=[("delete", "")],
        body=doc,
        headers={"x-amz-checksum-sha256": sha},
    )
    assert response.status == 200, response.body
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="keep")
