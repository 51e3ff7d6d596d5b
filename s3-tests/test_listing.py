"""ListObjects V1 and V2, every page compared exactly with a model computed in Python.

The model: keys in UTF-8 byte order; with a delimiter, a key whose rest (after the prefix)
contains it rolls up into one CommonPrefix (prefix + rest up to and including the delimiter);
pages hold max-keys entries, keys and common prefixes counted together.
"""

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import unquote_plus

import pytest

from checksums import quoted_etag
from s3util import empty_and_delete_bucket, expect_error, unique_bucket_name

NESTED = [f"d{i % 7}/s{i % 13}/k{i}" for i in range(2400)]
TOP = [f"t{i:03d}" for i in range(90)]
# Edge cases around the prefix `d1`: a file and a directory of the same name, a sibling
# directory that shares the prefix, explicit directory markers, non-ASCII and spaces.
EDGES = ["d1", "d1-x", "d1/", "d10/x", "d1/s1", "d1/s1-", "é/u", "z", "d2/s3/", "a b/c"]
KEYS = NESTED + TOP + EDGES
assert len(KEYS) == len(set(KEYS)) == 2500


def utf8(key):
    return key.encode("utf-8")


def model(keys, prefix="", delimiter=None, after=None):
    """Every entry of the listing as ("key"|"prefix", name), in order, without pagination.

    `after` (StartAfter / Marker) drops keys <= it; tests only use values for which no
    common prefix sorts before it (where S3's rule would need more care than this model).
    """
    entries, seen = [], set()
    for key in sorted(keys, key=utf8):
        if not key.startswith(prefix) or (after is not None and utf8(key) <= utf8(after)):
            continue
        rest = key[len(prefix) :]
        if delimiter and delimiter in rest:
            common = prefix + rest[: rest.index(delimiter) + len(delimiter)]
            if common not in seen:
                assert after is None or utf8(common) > utf8(after), "ambiguous test marker"
                seen.add(common)
                entries.append(("prefix", common))
            continue
        entries.append(("key", key))
    return entries


def entries_of(page):
    """A page's keys and common prefixes, merged in S3 order; checks each list is ordered."""
    keys = [o["Key"] for o in page.get("Contents", [])]
    prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", [])]
    assert keys == sorted(keys, key=utf8), "Contents out of order"
    assert prefixes == sorted(prefixes, key=utf8), "CommonPrefixes out of order"
    merged = [("key", k) for k in keys] + [("prefix", p) for p in prefixes]
    return sorted(merged, key=lambda e: utf8(e[1]))


def list_all_v2(s3, bucket, max_keys=None, **kwargs):
    """Every V2 page, following NextContinuationToken; checks the per-page invariants."""
    pages, token = [], None
    args = dict(kwargs)
    if max_keys is not None:
        args["MaxKeys"] = max_keys
    while True:
        page = s3.list_objects_v2(
            Bucket=bucket, **args, **({"ContinuationToken": token} if token else {})
        )
        pages.append(page)
        entries = entries_of(page)
        assert page["KeyCount"] == len(entries)
        assert len(entries) <= (max_keys or 1000)
        assert page.get("Prefix", "") == kwargs.get("Prefix", "")
        if "Delimiter" in kwargs:
            assert page["Delimiter"] == kwargs["Delimiter"]
        if token:
            assert page["ContinuationToken"] == token
        if "StartAfter" in kwargs:
            assert page["StartAfter"] == kwargs["StartAfter"]
        if not page["IsTruncated"]:
            assert "NextContinuationToken" not in page
            return pages
        token = page["NextContinuationToken"]
        assert token
        assert len(pages) <= 3000, "pagination does not end"


def list_all_v1(s3, bucket, max_keys=None, **kwargs):
    """Every V1 page, following NextMarker (or the last key without a delimiter)."""
    pages, marker = [], kwargs.pop("Marker", None)
    args = dict(kwargs)
    if max_keys is not None:
        args["MaxKeys"] = max_keys
    while True:
        page = s3.list_objects(Bucket=bucket, **args, **({"Marker": marker} if marker else {}))
        pages.append(page)
        entries = entries_of(page)
        assert len(entries) <= (max_keys or 1000)
        assert page.get("Marker", "") == (marker or "")
        if not page["IsTruncated"]:
            return pages
        if "Delimiter" in kwargs:
            # NextMarker is the last key or common prefix of the page.
            assert page["NextMarker"] == entries[-1][1]
            marker = page["NextMarker"]
        else:
            # Without a delimiter S3 sends no NextMarker: the client continues from the last key.
            assert "NextMarker" not in page
            marker = page["Contents"][-1]["Key"]
        assert len(pages) <= 3000, "pagination does not end"


def assert_pages_match(pages, expected, max_keys):
    """Page i holds exactly entries [i*max_keys, (i+1)*max_keys) of the model."""
    size = max_keys or 1000
    want = [expected[i : i + size] for i in range(0, len(expected), size)] or [[]]
    got = [entries_of(p) for p in pages]
    assert len(got) == len(want), f"{len(got)} pages instead of {len(want)}"
    for index, (g, w) in enumerate(zip(got, want, strict=True)):
        assert g == w, f"page {index} differs: got {g[:5]}..., want {w[:5]}..."


@pytest.fixture(scope="module")
def big_bucket(s3):
    """One bucket with the 2,500 KEYS (body: the key itself), shared by this module's tests."""
    name = unique_bucket_name("listing")
    s3.create_bucket(Bucket=name)

    def put(key):
        s3.put_object(Bucket=name, Key=key, Body=utf8(key))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, KEYS))
    yield name
    empty_and_delete_bucket(s3, name)


CASES = [
    # (id, prefix, delimiter, max_keys)
    ("all-7", "", None, 7),
    ("all-1000", "", None, 1000),
    ("all-default", "", None, None),
    ("d1-1", "d1/", None, 1),
    ("slash-1", "", "/", 1),
    ("slash-7", "", "/", 7),
    ("slash-1000", "", "/", 1000),
    ("d3-slash-7", "d3/", "/", 7),
    ("d3s1-slash-1", "d3/s1/", "/", 1),
    ("partial-d1s1-slash-1", "d1/s1", "/", 1),
    ("partial-d1-slash-7", "d1", "/", 7),
    ("partial-d1-1000", "d1", None, 1000),
    ("dash-7", "", "-", 7),
    ("multichar-7", "d2/", "/k1", 7),
    ("nothing", "nope/", "/", 7),
]


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize(
    "prefix,delimiter,max_keys", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_listing_matches_model(s3, big_bucket, version, prefix, delimiter, max_keys):
    kwargs = {"Prefix": prefix} if prefix else {}
    if delimiter:
        kwargs["Delimiter"] = delimiter
    lister = list_all_v2 if version == "v2" else list_all_v1
    pages = lister(s3, big_bucket, max_keys=max_keys, **kwargs)
    assert_pages_match(pages, model(KEYS, prefix, delimiter), max_keys)


@pytest.mark.parametrize(
    "after,delimiter",
    [("d3", None), ("d3/s5/k1000", None), ("d3", "/"), ("t050", "/"), ("zz", None), ("", "/")],
)
def test_start_after_and_marker(s3, big_bucket, after, delimiter):
    kwargs = {"Delimiter": delimiter} if delimiter else {}
    expected = model(KEYS, "", delimiter, after or None)
    v2 = (
        list_all_v2(s3, big_bucket, max_keys=300, StartAfter=after, **kwargs)
        if after
        else list_all_v2(s3, big_bucket, max_keys=300, **kwargs)
    )
    assert_pages_match(v2, expected, 300)
    v1 = (
        list_all_v1(s3, big_bucket, max_keys=300, Marker=after, **kwargs)
        if after
        else list_all_v1(s3, big_bucket, max_keys=300, **kwargs)
    )
    assert_pages_match(v1, expected, 300)


def test_object_fields(s3, big_bucket):
    pages = list_all_v2(s3, big_bucket, max_keys=1000, Prefix="d4/")
    objects = [o for page in pages for o in page.get("Contents", [])]
    assert len(objects) == len([k for k in KEYS if k.startswith("d4/")])
    for obj in objects:
        assert obj["Size"] == len(utf8(obj["Key"]))
        assert obj["ETag"] == quoted_etag(utf8(obj["Key"]))
        assert obj["LastModified"] is not None
        assert obj["StorageClass"] == "STANDARD"
        assert "Owner" not in obj, "V2 sends Owner only with fetch-owner=true"


def test_fetch_owner(s3, big_bucket):
    page = s3.list_objects_v2(Bucket=big_bucket, MaxKeys=20, FetchOwner=True)
    assert len(page["Contents"]) == 20
    owner = s3.list_buckets()["Owner"]["ID"]
    assert all(o["Owner"]["ID"] == owner for o in page["Contents"])


def test_max_keys_capped_at_1000(s3, big_bucket):
    page = s3.list_objects_v2(Bucket=big_bucket, MaxKeys=5000)
    assert page["KeyCount"] == 1000
    assert page["IsTruncated"] is True


def test_invalid_continuation_token(s3, big_bucket):
    with expect_error("InvalidArgument", 400):
        s3.list_objects_v2(Bucket=big_bucket, ContinuationToken="not-a-token!!")


def test_list_missing_bucket(s3):
    with expect_error("NoSuchBucket", 404):
        s3.list_objects_v2(Bucket=unique_bucket_name("missing"))


def test_s3_order(s3, bucket):
    keys = ["a-b", "a/", "a/b", "a0", "a", "~", "z", "é", "\ufffd", "😀", "A", "_"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    # UTF-8 byte order: U+FFFD (EF BF BD) before U+1F600 (F0 ...), unlike UTF-16 order.
    assert listed == ["A", "_", "a", "a-b", "a/", "a/b", "a0", "z", "~", "é", "\ufffd", "😀"]
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == [
        "A",
        "_",
        "a",
        "a-b",
        "a0",
        "z",
        "~",
        "é",
        "\ufffd",
        "😀",
    ]
    assert top["CommonPrefixes"] == [{"Prefix": "a/"}]


def test_continuation_survives_deletes(s3, bucket):
    keys = [f"k{i:02d}" for i in range(30)]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    first = s3.list_objects_v2(Bucket=bucket, MaxKeys=7)
    assert [o["Key"] for o in first["Contents"]] == keys[:7]
    # Delete the last key returned and the first ones the next page would have shown.
    for key in ("k06", "k07", "k08"):
        s3.delete_object(Bucket=bucket, Key=key)
    second = s3.list_objects_v2(
        Bucket=bucket, MaxKeys=7, ContinuationToken=first["NextContinuationToken"]
    )
    assert [o["Key"] for o in second["Contents"]] == keys[9:16]


ENCODED_KEYS = ["a b/c d", "é/ü", "日本/語", "plus+/x", "pct%/y", "amp&=?#", "tilde~ok"]


def _assert_url_encoded(raw_value, original):
    assert raw_value.isascii() and " " not in raw_value, f"{raw_value!r} is not URL-encoded"
    assert unquote_plus(raw_value) == original


def test_encoding_type_url(s3, bucket):
    for key in ENCODED_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    expected = sorted(ENCODED_KEYS, key=utf8)
    # Given explicitly, EncodingType=url is not undone by boto3: we see what the server sent.
    v2 = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert v2["EncodingType"] == "url"
    assert len(v2["Contents"]) == len(expected)
    for obj, key in zip(v2["Contents"], expected, strict=True):
        _assert_url_encoded(obj["Key"], key)

    grouped = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/", Prefix="")
    prefixes = [p["Prefix"] for p in grouped["CommonPrefixes"]]
    wanted = [e[1] for e in model(ENCODED_KEYS, "", "/") if e[0] == "prefix"]
    assert len(prefixes) == len(wanted)
    for raw_prefix, prefix in zip(prefixes, wanted, strict=True):
        _assert_url_encoded(raw_prefix, prefix)

    inside = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Prefix="é/", StartAfter="é/a")
    _assert_url_encoded(inside["Prefix"], "é/")
    _assert_url_encoded(inside["StartAfter"], "é/a")
    _assert_url_encoded(inside["Contents"][0]["Key"], "é/ü")

    v1 = s3.list_objects(Bucket=bucket, EncodingType="url", Delimiter="/", MaxKeys=1, Marker="a")
    assert v1["IsTruncated"] is True
    _assert_url_encoded(v1["NextMarker"], "a b/")


def test_without_encoding_type_keys_are_literal(raw, s3, bucket):
    for key in ENCODED_KEYS:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    response = raw.request("GET", bucket, params=[("list-type", "2")])
    assert response.status == 200
    root = response.xml()
    assert root.find("EncodingType") is None
    assert [c.findtext("Key") for c in root.findall("Contents")] == sorted(ENCODED_KEYS, key=utf8)
