"""Bucket operations: naming rules, create/head/delete/list, and the subresources dfs does not
implement, which must answer the error S3 gives for an unset configuration."""

import uuid

import pytest

from s3util import empty_and_delete_bucket, expect_error, unique_bucket_name


@pytest.fixture
def named(s3):
    """Creates buckets with exact names (`named(name, **kwargs)`), deleted after the test."""
    created = []

    def create(name, **kwargs):
        created.append(name)
        return s3.create_bucket(Bucket=name, **kwargs)

    yield create
    for name in created:
        empty_and_delete_bucket(s3, name)


INVALID_NAMES = {
    "too-short": "ab",
    "too-long": "a" * 64,
    "uppercase": "Uppercase-bucket",
    "underscore": "under_score",
    "ip-address": "192.168.5.4",
    "xn-prefix": "xn--bucket-name",
    "sthree-prefix": "sthree-bucket",
    "s3alias-suffix": "bucket-s3alias",
    "ol-s3-suffix": "bucket--ol-s3",
    "leading-dash": "-bucket",
    "trailing-dash": "bucket-",
    "leading-dot": ".bucket",
    "adjacent-dots": "bucket..name",
}


@pytest.mark.parametrize("name", INVALID_NAMES.values(), ids=INVALID_NAMES.keys())
def test_invalid_bucket_name(s3, named, name):
    with expect_error("InvalidBucketName", 400):
        named(name)


def test_valid_edge_names(s3, named):
    """63 characters, dots, digits and dashes inside are all fine."""
    suffix = uuid.uuid4().hex
    long_name = ("s3t-" + suffix + "-" + "x" * 63)[:63]
    dotted = f"s3t.{suffix[:8]}.1-2"
    for name in (long_name, dotted):
        named(name)
        assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.dfs  # on AWS every 3-letter name is already taken by someone
def test_three_letter_name(s3, named):
    name = uuid.uuid4().hex[:3]
    named(name)
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.dfs  # AWS refuses an explicit us-east-1 (InvalidLocationConstraint); MinIO accepts
def test_create_with_location_constraint(s3, named, region):
    name = unique_bucket_name("location")
    named(name, CreateBucketConfiguration={"LocationConstraint": region})
    assert s3.head_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_create_twice_already_owned(s3, bucket):
    """Outside us-east-1 AWS answers 409 BucketAlreadyOwnedByYou; in us-east-1 AWS keeps a legacy
    200. dfs (and MinIO) answer 409 everywhere."""
    with expect_error("BucketAlreadyOwnedByYou", 409):
        s3.create_bucket(Bucket=bucket)


def test_head_bucket(s3, bucket):
    response = s3.head_bucket(Bucket=bucket)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")


def test_head_missing_bucket_404_without_body(raw):
    """404 and no body: the next response on the same keep-alive connection parses cleanly."""
    name = unique_bucket_name("missing")
    conn = raw.connection()
    try:
        head = raw.request("HEAD", name, conn=conn)
        assert head.status == 404
        assert head.header("x-amz-request-id")
        # A body sent after a HEAD answer would be read as the start of this one.
        follow = raw.request("GET", name, params=[("location", "")], conn=conn)
        assert follow.status == 404
        assert follow.error()[0] == "NoSuchBucket"
    finally:
        conn.close()


def test_delete_non_empty_bucket(s3, bucket):
    s3.put_object(Bucket=bucket, Key="a/b/c.txt", Body=b"x")
    with expect_error("BucketNotEmpty", 409):
        s3.delete_bucket(Bucket=bucket)
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_delete_after_emptying_nested_keys(s3, bucket_factory):
    """Deleting the last key below a/b/ leaves nothing that keeps the bucket non-empty."""
    name = bucket_factory()
    s3.put_object(Bucket=name, Key="a/b/c.txt", Body=b"x")
    s3.put_object(Bucket=name, Key="a/d.txt", Body=b"y")
    s3.delete_object(Bucket=name, Key="a/b/c.txt")
    s3.delete_object(Bucket=name, Key="a/d.txt")
    assert s3.list_objects_v2(Bucket=name, Prefix="a")["KeyCount"] == 0
    s3.delete_bucket(Bucket=name)
    with expect_error(status=404):
        s3.head_bucket(Bucket=name)


def test_delete_missing_bucket(s3):
    with expect_error("NoSuchBucket", 404):
        s3.delete_bucket(Bucket=unique_bucket_name("missing"))


def test_delete_bucket_204(s3):
    name = unique_bucket_name("delete")
    s3.create_bucket(Bucket=name)
    response = s3.delete_bucket(Bucket=name)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_list_buckets_shows_it(s3, bucket):
    response = s3.list_buckets()
    names = [b["Name"] for b in response["Buckets"]]
    assert bucket in names
    mine = next(b for b in response["Buckets"] if b["Name"] == bucket)
    assert mine["CreationDate"] is not None
    assert response["Owner"].get("ID")


def test_get_bucket_location(s3, bucket, region):
    location = s3.get_bucket_location(Bucket=bucket)["LocationConstraint"]
    if region == "us-east-1":
        # S3 answers an empty <LocationConstraint/> for us-east-1 (boto3: None).
        assert location in (None, "", "us-east-1")
    else:
        assert location == region


def test_get_bucket_versioning_unset(s3, bucket):
    response = s3.get_bucket_versioning(Bucket=bucket)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert "Status" not in response
    assert "MFADelete" not in response


def test_get_bucket_acl_owner_full_control(s3, bucket):
    acl = s3.get_bucket_acl(Bucket=bucket)
    owner = acl["Owner"]["ID"]
    assert owner
    assert {
        "Grantee": {"ID": owner, "Type": "CanonicalUser"},
        "Permission": "FULL_CONTROL",
    } in [
        {
            "Grantee": {"ID": g["Grantee"].get("ID"), "Type": g["Grantee"]["Type"]},
            "Permission": g["Permission"],
        }
        for g in acl["Grants"]
    ]


@pytest.mark.parametrize(
    "operation,code",
    [
        ("get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration"),
        ("get_bucket_cors", "NoSuchCORSConfiguration"),
        ("get_bucket_policy", "NoSuchBucketPolicy"),
        ("get_bucket_tagging", "NoSuchTagSet"),
        ("get_bucket_website", "NoSuchWebsiteConfiguration"),
    ],
)
def test_unset_configuration_errors(s3, bucket, operation, code):
    with expect_error(code, 404):
        getattr(s3, operation)(Bucket=bucket)


def test_subresource_of_missing_bucket(s3):
    with expect_error("NoSuchBucket", 404):
        s3.get_bucket_versioning(Bucket=unique_bucket_name("missing"))


@pytest.mark.dfs  # AWS and MinIO implement lifecycle rules; dfs refuses rather than fake it
def test_put_lifecycle_not_implemented(s3, bucket):
    with expect_error("NotImplemented", 501):
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "expire",
                        "Filter": {"Prefix": "tmp/"},
                        "Status": "Enabled",
                        "Expiration": {"Days": 1},
                    }
                ]
            },
        )
    with expect_error("NoSuchLifecycleConfiguration", 404):
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
