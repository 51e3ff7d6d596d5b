"""Integrity on upload: flexible checksums (header and trailer), Content-MD5, and every way a
body can be framed: plain, aws-chunked signed (with and without trailer), aws-chunked unsigned
with trailer, and HTTP chunked transfer encoding."""

import pytest
from botocore.config import Config

import sigv4_helper as sig
from checksums import ALGORITHMS, botocore_computes, checksum_b64, md5_b64, quoted_etag
from s3util import amz_date, expect_error, random_bytes

KiB = 1024
BODY = random_bytes(300 * KiB + 3, seed=3)
# A well-formed value of the right length for each algorithm, which no test body has.
WRONG = {
    "CRC32": "AAAAAA==",
    "CRC32C": "AAAAAA==",
    "CRC64NVME": "AAAAAAAAAAA=",
    "SHA1": "A" * 27 + "=",
    "SHA256": "A" * 43 + "=",
}


def _member(algorithm):
    """boto3's parameter/response member name for an algorithm: ChecksumCRC64NVME, ..."""
    return "Checksum" + algorithm


def _put_with_checksum(s3, bucket, key, data, algorithm):
    """PUT letting boto3 compute the checksum when it can, else giving it ourselves."""
    if botocore_computes(algorithm):
        return s3.put_object(Bucket=bucket, Key=key, Body=data, ChecksumAlgorithm=algorithm)
    return s3.put_object(
        Bucket=bucket, Key=key, Body=data, **{_member(algorithm): checksum_b64(algorithm, data)}
    )


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_checksum_stored_and_returned(s3, bucket, algorithm):
    expected = checksum_b64(algorithm, BODY)
    put = _put_with_checksum(s3, bucket, "obj", BODY, algorithm)
    assert put[_member(algorithm)] == expected
    assert put["ETag"] == quoted_etag(BODY)

    head = s3.head_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert head[_member(algorithm)] == expected
    if "ChecksumType" in head:
        assert head["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=bucket, Key="obj", ChecksumMode="ENABLED")
    assert got[_member(algorithm)] == expected
    assert got["Body"].read() == BODY

    # Without checksum mode no checksum is sent; a ranged GET never has the whole-object one.
    assert _member(algorithm) not in s3.head_object(Bucket=bucket, Key="obj")
    ranged = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=10-99", ChecksumMode="ENABLED")
    assert _member(algorithm) not in ranged
    assert ranged["Body"].read() == BODY[10:100]


def test_default_crc32_of_sdk_is_kept(s3, bucket):
    """boto3 >= 1.36 sends a CRC32 with every PUT by default; S3 stores and returns it."""
    s3.put_object(Bucket=bucket, Key="default", Body=BODY)
    head = s3.head_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == checksum_b64("CRC32", BODY)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_wrong_checksum_is_bad_digest(s3, bucket, algorithm):
    s3.put_object(Bucket=bucket, Key="existing", Body=b"old content")
    for key in ("new", "existing"):
        with expect_error("BadDigest", 400):
            s3.put_object(
                Bucket=bucket, Key=key, Body=BODY, **{_member(algorithm): WRONG[algorithm]}
            )
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="new")
    assert s3.get_object(Bucket=bucket, Key="existing")["Body"].read() == b"old content"


def test_malformed_checksum_value_rejected(s3, bucket):
    """A checksum of the wrong length (3 bytes for a CRC32) is refused, nothing stored."""
    with expect_error(status=400):
        s3.put_object(Bucket=bucket, Key="k", Body=b"data", ChecksumCRC32="AAAA")
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="k")


def test_content_md5(s3, bucket):
    ok = s3.put_object(Bucket=bucket, Key="good", Body=BODY, ContentMD5=md5_b64(BODY))
    assert ok["ETag"] == quoted_etag(BODY)
    with expect_error("BadDigest", 400):
        s3.put_object(Bucket=bucket, Key="bad", Body=BODY, ContentMD5=md5_b64(b"other"))
    for malformed in ("not base64!", "AAAA", md5_b64(b"x")[:-4]):
        with expect_error("InvalidDigest", 400):
            s3.put_object(Bucket=bucket, Key="bad", Body=BODY, ContentMD5=malformed)
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="bad")


def _trailer_client(make_client, captured):
    """A client whose PutObject sends its checksum as an aws-chunked trailer, even over HTTP.

    botocore only uses trailers over HTTPS; flipping the resolved location to `trailer` makes it
    send STREAMING-UNSIGNED-PAYLOAD-TRAILER, as it does against AWS.
    """
    client = make_client(config=Config(request_checksum_calculation="when_supported"))

    def force_trailer(params, **_):
        algorithm = params.get("context", {}).get("checksum", {}).get("request_algorithm")
        if isinstance(algorithm, dict) and algorithm.get("in") == "header":
            algorithm["in"] = "trailer"

    def capture(request, **_):
        captured.append(
            {
                name.lower(): value.decode() if isinstance(value, bytes) else value
                for name, value in request.headers.items()
            }
        )

    client.meta.events.register("before-call.s3.PutObject", force_trailer)
    client.meta.events.register("before-send.s3.PutObject", capture)
    return client


STREAMING_ALGORITHMS = [a for a in ALGORITHMS if botocore_computes(a)]


@pytest.mark.parametrize("algorithm", STREAMING_ALGORITHMS)
def test_sdk_unsigned_trailer_upload(make_client, s3, bucket, tmp_path, algorithm):
    data = random_bytes(1024 * KiB + 5, seed=5)
    path = tmp_path / "upload.bin"
    path.write_bytes(data)
    captured = []
    client = _trailer_client(make_client, captured)
    with open(path, "rb") as body:
        client.put_object(Bucket=bucket, Key="streamed", Body=body, ChecksumAlgorithm=algorithm)
    headers = captured[-1]
    assert headers["x-amz-content-sha256"] == sig.STREAMING_UNSIGNED_TRAILER
    assert "aws-chunked" in headers["content-encoding"]
    assert headers["x-amz-trailer"] == f"x-amz-checksum-{algorithm.lower()}"

    head = s3.head_object(Bucket=bucket, Key="streamed", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == quoted_etag(data)
    assert head[_member(algorithm)] == checksum_b64(algorithm, data)
    assert "ContentEncoding" not in head, "aws-chunked must not be stored as Content-Encoding"
    assert s3.get_object(Bucket=bucket, Key="streamed")["Body"].read() == data


def test_sdk_trailer_keeps_user_content_encoding(make_client, s3, bucket):
    captured = []
    client = _trailer_client(make_client, captured)
    client.put_object(Bucket=bucket, Key="gz", Body=b"\x1f\x8bdata", ContentEncoding="gzip")
    assert captured[-1]["content-encoding"] == "gzip,aws-chunked"
    got = s3.get_object(Bucket=bucket, Key="gz")
    assert got["ContentEncoding"] == "gzip"
    assert got["Body"].read() == b"\x1f\x8bdata"


def streaming_put(raw, bucket, key, data, mode, chunk_size=64 * KiB, trailers=None, tamper=None):
    """PUTs `data` aws-chunked, signed (mode STREAMING_SIGNED[_TRAILER]) or unsigned
    (STREAMING_UNSIGNED_TRAILER), built by hand with a Content-Length. Returns the Response."""
    when = amz_date()
    headers = {
        "Host": raw.netloc,
        "Content-Encoding": "aws-chunked",
        "Content-Type": "application/octet-stream",
        "x-amz-decoded-content-length": str(len(data)),
    }
    if trailers:
        headers["x-amz-trailer"] = ",".join(name for name, _ in trailers)
    path = sig.object_path(bucket, key)
    if mode == sig.STREAMING_UNSIGNED_TRAILER:
        body = sig.unsigned_chunked_body(data, chunk_size, trailers)
        headers["Content-Length"] = str(len(body))
        sig.sign_headers(
            "PUT", path, [], headers, mode, raw.access_key, raw.secret_key, raw.region, when
        )
    else:
        headers["Content-Length"] = str(sig.signed_chunked_length(len(data), chunk_size, trailers))
        seed = sig.sign_headers(
            "PUT", path, [], headers, mode, raw.access_key, raw.secret_key, raw.region, when
        )
        body = sig.signed_chunked_body(
            data, chunk_size, seed, raw.secret_key, raw.region, when, trailers, tamper=tamper
        )
        assert len(body) == int(headers["Content-Length"])
    return raw.request("PUT", path=path, headers=headers, body=body, sign=False)


@pytest.mark.parametrize(
    "size", [0, 1, 64 * KiB, 200 * KiB + 5], ids=["0B", "1B", "64KiB", "200KiB+5"]
)
def test_signed_streaming_upload(raw, s3, bucket, size):
    data = random_bytes(size, seed=size)
    response = streaming_put(raw, bucket, "signed", data, sig.STREAMING_SIGNED)
    assert response.status == 200, response
    assert response.header("ETag") == quoted_etag(data)
    got = s3.get_object(Bucket=bucket, Key="signed")
    assert got["Body"].read() == data
    assert got["ContentLength"] == size
    assert "ContentEncoding" not in got


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA256"])
def test_signed_streaming_upload_with_trailer(raw, s3, bucket, algorithm):
    data = random_bytes(150 * KiB + 9, seed=7)
    name = f"x-amz-checksum-{algorithm.lower()}"
    trailers = [(name, checksum_b64(algorithm, data))]
    response = streaming_put(
        raw, bucket, "trailed", data, sig.STREAMING_SIGNED_TRAILER, trailers=trailers
    )
    assert response.status == 200, response
    head = s3.head_object(Bucket=bucket, Key="trailed", ChecksumMode="ENABLED")
    assert head[_member(algorithm)] == trailers[0][1]
    assert head["ContentLength"] == len(data)
    assert s3.get_object(Bucket=bucket, Key="trailed")["Body"].read() == data


def test_unsigned_trailer_upload_by_hand(raw, s3, bucket):
    data = random_bytes(100 * KiB, seed=8)
    trailers = [("x-amz-checksum-crc32c", checksum_b64("CRC32C", data))]
    response = streaming_put(
        raw, bucket, "u", data, sig.STREAMING_UNSIGNED_TRAILER, trailers=trailers
    )
    assert response.status == 200, response
    head = s3.head_object(Bucket=bucket, Key="u", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32C"] == trailers[0][1]
    assert s3.get_object(Bucket=bucket, Key="u")["Body"].read() == data


@pytest.mark.parametrize("mode", [sig.STREAMING_SIGNED_TRAILER, sig.STREAMING_UNSIGNED_TRAILER])
def test_wrong_trailer_checksum_is_bad_digest(raw, s3, bucket, mode):
    data = random_bytes(100 * KiB, seed=12)
    trailers = [("x-amz-checksum-crc32", WRONG["CRC32"])]
    response = streaming_put(raw, bucket, "bad", data, mode, trailers=trailers)
    assert response.status == 400, response
    assert response.error()[0] == "BadDigest"
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="bad")


def test_forged_chunk_signature_refused(raw, s3, bucket):
    data = random_bytes(200 * KiB, seed=13)

    def forge(index, signature):
        return "0" * 64 if index == 1 else signature

    response = streaming_put(raw, bucket, "forged", data, sig.STREAMING_SIGNED, tamper=forge)
    assert response.status == 403, response
    assert response.error()[0] == "SignatureDoesNotMatch"
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="forged")


def test_signed_payload_hash_mismatch(raw, s3, bucket):
    """A signed x-amz-content-sha256 that is not the body's hash is refused."""
    response = raw.request(
        "PUT", bucket, "lie", body=b"actual body", payload_hash=sig.sha256_hex(b"another body")
    )
    assert response.status == 400, response
    assert response.error()[0] == "XAmzContentSHA256Mismatch"
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="lie")


@pytest.mark.dfs  # AWS answers 411 MissingContentLength to a PUT without Content-Length
def test_http_chunked_transfer_encoding(raw, s3, bucket):
    data = random_bytes(3 * 1024 * KiB + 11, seed=14)

    def pieces():
        for start in range(0, len(data), 100_000):
            yield data[start : start + 100_000]

    response = raw.request(
        "PUT", bucket, "te-chunked", body=pieces(), payload_hash=sig.UNSIGNED_PAYLOAD
    )
    assert response.status == 200, response
    assert response.header("ETag") == quoted_etag(data)
    got = s3.get_object(Bucket=bucket, Key="te-chunked")
    assert got["ContentLength"] == len(data)
    assert got["Body"].read() == data
