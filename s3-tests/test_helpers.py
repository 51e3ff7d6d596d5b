"""Checks of the suite's own helpers against published vectors. No cluster needed.

If these fail, a failure elsewhere may be the suite's fault rather than the gateway's.
"""

import datetime
from unittest import mock

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest

import checksums
import sigv4_helper as sig

# The credentials and date of every example in the AWS S3 API Reference.
AK = "AKIAIOSFODNN7EXAMPLE"
SK = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
DATE = "20130524T000000Z"


def test_get_object_example_signature():
    """'Example: GET Object' of "Signature Calculations for the Authorization Header"."""
    headers = {
        "Host": "examplebucket.s3.amazonaws.com",
        "Range": "bytes=0-9",
    }
    signature = sig.sign_headers(
        "GET", "/test.txt", [], headers, sig.EMPTY_SHA256, AK, SK, "us-east-1", DATE
    )
    assert signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    assert headers["Authorization"] == (
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    )


def test_streaming_example_signatures():
    """ "Transferring Payload in Multiple Chunks": 66560 bytes of 'a' in 64 KiB chunks."""
    data = b"a" * 66560
    headers = {
        "Host": "s3.amazonaws.com",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "Content-Length": str(sig.signed_chunked_length(len(data), 65536)),
    }
    assert headers["Content-Length"] == "66824"
    seed = sig.sign_headers(
        "PUT",
        "/examplebucket/chunkObject.txt",
        [],
        headers,
        sig.STREAMING_SIGNED,
        AK,
        SK,
        "us-east-1",
        DATE,
    )
    assert seed == "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
    body = sig.signed_chunked_body(data, 65536, seed, SK, "us-east-1", DATE)
    assert len(body) == 66824
    expected = [
        "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ]
    assert body.startswith(f"10000;chunk-signature={expected[0]}\r\n".encode())
    assert f"400;chunk-signature={expected[1]}\r\n".encode() in body
    assert body.endswith(f"0;chunk-signature={expected[2]}\r\n\r\n".encode())


def test_streaming_trailer_example_signatures():
    """ "Signature calculations for trailing headers": the same upload with a CRC32C trailer."""
    data = b"a" * 66560
    headers = {
        "Host": "s3.amazonaws.com",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "Content-Encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "x-amz-trailer": "x-amz-checksum-crc32c",
    }
    seed = sig.sign_headers(
        "PUT",
        "/examplebucket/chunkObject.txt",
        [],
        headers,
        sig.STREAMING_SIGNED_TRAILER,
        AK,
        SK,
        "us-east-1",
        DATE,
    )
    assert seed == "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e"
    trailers = [("x-amz-checksum-crc32c", checksums.checksum_b64("CRC32C", data))]
    assert trailers[0][1] == "sOO8/Q=="
    body = sig.signed_chunked_body(data, 65536, seed, SK, "us-east-1", DATE, trailers)
    assert len(body) == sig.signed_chunked_length(len(data), 65536, trailers)
    assert "b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2" in body.decode()
    assert "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7" in body.decode()
    assert body.endswith(
        b"0;chunk-signature=2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992\r\n"
        b"x-amz-checksum-crc32c:sOO8/Q==\r\n"
        b"x-amz-trailer-signature:"
        b"d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n\r\n"
    )


def test_unsigned_chunked_body_matches_botocore():
    """Our STREAMING-UNSIGNED-PAYLOAD-TRAILER framing is byte-equal to botocore's."""
    from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum
    import io

    data = bytes(range(256)) * 700
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=65536,
    )
    theirs = wrapper.read()
    ours = sig.unsigned_chunked_body(
        data, 65536, [("x-amz-checksum-crc32", checksums.checksum_b64("CRC32", data))]
    )
    assert ours == theirs


@pytest.mark.parametrize(
    "key,params",
    [
        ("plain.txt", []),
        ("with space/é 日本+%&=?#.txt", [("versionId", "a b/c")]),
        ("a//b/../x/./y", [("uploads", ""), ("prefix", "x/y"), ("list-type", "2")]),
    ],
)
def test_signer_agrees_with_botocore(key, params):
    """Path and query encoding match botocore's S3 signer for awkward keys and parameters."""
    path = sig.object_path("bucket", key)
    query = sig.canonical_query(params)
    url = "http://127.0.0.1:9000" + path + ("?" + query if query else "")
    request = botocore.awsrequest.AWSRequest(method="PUT", url=url, data=b"hello")
    request.headers["Content-Type"] = "text/plain"
    creds = botocore.credentials.Credentials(AK, SK)
    fixed = datetime.datetime(2013, 5, 24, 0, 0, 0)
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=fixed):
        botocore.auth.S3SigV4Auth(creds, "s3", "us-east-1").add_auth(request)
    theirs = request.headers["Authorization"]

    headers = {"Host": "127.0.0.1:9000", "Content-Type": "text/plain"}
    sig.sign_headers(
        "PUT", path, params, headers, sig.sha256_hex(b"hello"), AK, SK, "us-east-1", DATE
    )
    assert headers["Authorization"] == theirs


@pytest.mark.parametrize(
    "algorithm,expected",
    [
        # The "check" values of the CRC catalogue for "123456789", and the hashes' known values.
        ("CRC32", (0xCBF43926).to_bytes(4, "big")),
        ("CRC32C", (0xE3069283).to_bytes(4, "big")),
        ("CRC64NVME", (0xAE8B14860A799888).to_bytes(8, "big")),
        ("SHA1", bytes.fromhex("f7c3bc1d808e04732adf679965ccc34ca7ae3441")),
        (
            "SHA256",
            bytes.fromhex("15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225"),
        ),
    ],
)
def test_checksum_check_values(algorithm, expected):
    import base64

    assert checksums.checksum_b64(algorithm, b"123456789") == base64.b64encode(expected).decode()


def test_pure_python_crcs_match_tables():
    """The table fallback gives the same values as awscrt, when awscrt is there to compare."""
    data = bytes(range(256)) * 5 + b"tail"
    assert checksums._crc_reflected(b"123456789", checksums._CRC32C_TABLE, 32) == 0xE3069283
    if checksums._crt is None:
        pytest.skip("awscrt is not installed: nothing to compare the fallback with")
    assert checksums._crc_reflected(data, checksums._CRC32C_TABLE, 32) == checksums._crt.crc32c(
        data
    )
