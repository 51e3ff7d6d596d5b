"""A small, independent AWS Signature Version 4 signer for S3, with aws-chunked streaming.

boto3 cannot send every request the tests need: signed streaming uploads
(STREAMING-AWS4-HMAC-SHA256-PAYLOAD, with or without a trailer), requests dated 20 minutes off,
bodies without a Content-Length. These functions build them by hand, following the AWS S3 API
Reference ("Authenticating Requests: Using the Authorization Header" and "Transferring Payload in
Multiple Chunks", including "Signature calculations for trailing headers"). They are checked
against the worked examples of those pages in test_helpers.py, which needs no cluster.

Everything here is pure: no network, no clock (the caller passes the date).
"""

import hashlib
import hmac
from urllib.parse import quote

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_SIGNED_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def sha256_hex(data):
    """Lower-case hex SHA-256 of bytes (or of a str, as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.sha256(data).hexdigest()


def uri_encode(value, encode_slash=True):
    """SigV4's URI-encode: every byte but A-Z a-z 0-9 - . _ ~ as %XX, upper-case hex.

    S3 object paths keep `/` (encode_slash=False); query names and values encode it.
    """
    return quote(value, safe="-_.~" if encode_slash else "-_.~/")


def object_path(bucket=None, key=None):
    """The request path of a path-style S3 request, encoded once as S3 expects it."""
    if bucket is None:
        return "/"
    if key is None:
        return "/" + uri_encode(bucket)
    return "/" + uri_encode(bucket) + "/" + uri_encode(key, encode_slash=False)


def canonical_query(params):
    """The canonical query string of `params` (pairs of str; value "" for a bare name)."""
    encoded = sorted((uri_encode(k), uri_encode(v)) for k, v in params)
    return "&".join(f"{k}={v}" for k, v in encoded)


def credential_scope(amz_date, region, service="s3"):
    """`YYYYMMDD/region/service/aws4_request`."""
    return f"{amz_date[:8]}/{region}/{service}/aws4_request"


def signing_key(secret_key, amz_date, region, service="s3"):
    """The derived key: HMAC chain over date, region, service and `aws4_request`."""

    def mac(key, msg):
        return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()

    k_date = mac(("AWS4" + secret_key).encode("utf-8"), amz_date[:8])
    return mac(mac(mac(k_date, region), service), "aws4_request")


def _hmac_hex(key, text):
    return hmac.new(key, text.encode("utf-8"), hashlib.sha256).hexdigest()


def canonical_request(method, path, params, headers, signed_headers, payload_hash):
    """The canonical request: method, path, query, the signed headers, their names, payload hash.

    `path` is the path exactly as sent (already encoded: S3 does not encode it twice); header
    values are trimmed and their inner runs of spaces folded, as SigV4 says.
    """
    lowered = {}
    for name, value in headers.items():
        lowered.setdefault(name.lower(), []).append(" ".join(str(value).split()))
    lines = [method, path, canonical_query(params)]
    lines += [f"{name}:{','.join(lowered[name])}" for name in signed_headers]
    lines += ["", ";".join(signed_headers), payload_hash]
    return "\n".join(lines)


def string_to_sign(amz_date, scope, canonical):
    """`AWS4-HMAC-SHA256`, the date, the scope and the hash of the canonical request."""
    return "\n".join([ALGORITHM, amz_date, scope, sha256_hex(canonical)])


def sign_headers(
    method,
    path,
    params,
    headers,
    payload_hash,
    access_key,
    secret_key,
    region,
    amz_date,
    service="s3",
):
    """Signs a request in place: sets x-amz-date, x-amz-content-sha256 and Authorization.

    `headers` must already hold Host and whatever else should be signed; every header present
    is signed. Returns the signature (the seed signature of a streaming upload).
    """
    headers["x-amz-date"] = amz_date
    headers["x-amz-content-sha256"] = payload_hash
    signed = sorted({name.lower() for name in headers if name.lower() != "authorization"})
    canonical = canonical_request(method, path, params, headers, signed, payload_hash)
    scope = credential_scope(amz_date, region, service)
    key = signing_key(secret_key, amz_date, region, service)
    signature = _hmac_hex(key, string_to_sign(amz_date, scope, canonical))
    headers["Authorization"] = (
        f"{ALGORITHM} Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(signed)}, Signature={signature}"
    )
    return signature


def chunk_string_to_sign(amz_date, scope, previous_signature, chunk):
    """The string to sign of one aws-chunked chunk, chained to the previous signature."""
    return "\n".join(
        [
            "AWS4-HMAC-SHA256-PAYLOAD",
            amz_date,
            scope,
            previous_signature,
            EMPTY_SHA256,
            sha256_hex(chunk),
        ]
    )


def trailer_string_to_sign(amz_date, scope, previous_signature, trailers):
    """The string to sign of the trailing headers (each `name:value\\n`) after the last chunk."""
    canonical = "".join(f"{name}:{value}\n" for name, value in trailers)
    return "\n".join(
        [
            "AWS4-HMAC-SHA256-TRAILER",
            amz_date,
            scope,
            previous_signature,
            sha256_hex(canonical),
        ]
    )


def _split(data, chunk_size):
    """The payload's chunks, then the final empty one."""
    chunks = [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)]
    return chunks + [b""]


def signed_chunked_body(
    data,
    chunk_size,
    seed_signature,
    secret_key,
    region,
    amz_date,
    trailers=None,
    service="s3",
    tamper=None,
):
    """The aws-chunked body of a signed streaming upload.

    Each chunk is `hex-size;chunk-signature=SIG\\r\\n<data>\\r\\n`, each signature chained to
    the previous one starting from the seed, ending with the empty chunk. With `trailers` (a list
    of (name, value)), the trailing headers and `x-amz-trailer-signature` follow the last chunk.
    `tamper(index, signature)` may return a replacement signature, to build forged bodies.
    """
    key = signing_key(secret_key, amz_date, region, service)
    scope = credential_scope(amz_date, region, service)
    previous = seed_signature
    out = bytearray()
    for index, chunk in enumerate(_split(data, chunk_size)):
        signature = _hmac_hex(key, chunk_string_to_sign(amz_date, scope, previous, chunk))
        previous = signature
        if tamper is not None:
            signature = tamper(index, signature)
        out += f"{len(chunk):x};chunk-signature={signature}\r\n".encode("ascii")
        out += chunk
        if chunk:
            out += b"\r\n"
    if trailers:
        for name, value in trailers:
            out += f"{name}:{value}\r\n".encode("ascii")
        signature = _hmac_hex(key, trailer_string_to_sign(amz_date, scope, previous, trailers))
        out += f"x-amz-trailer-signature:{signature}\r\n".encode("ascii")
    out += b"\r\n"
    return bytes(out)


def signed_chunked_length(data_length, chunk_size, trailers=None):
    """The encoded length of `signed_chunked_body` (Content-Length is signed, so known first)."""
    signature_len = 64
    total = 0
    sizes = [chunk_size] * (data_length // chunk_size)
    if data_length % chunk_size:
        sizes.append(data_length % chunk_size)
    for size in sizes + [0]:
        total += len(f"{size:x}") + len(";chunk-signature=") + signature_len + 2 + size
        if size:
            total += 2
    if trailers:
        total += sum(len(f"{name}:{value}\r\n") for name, value in trailers)
        total += len("x-amz-trailer-signature:") + signature_len + 2
    return total + 2


def unsigned_chunked_body(data, chunk_size, trailers=None):
    """The aws-chunked body of STREAMING-UNSIGNED-PAYLOAD-TRAILER: `hex\\r\\n<data>\\r\\n`, the
    empty chunk, then the trailing headers and an empty line."""
    out = bytearray()
    for chunk in _split(data, chunk_size):
        out += f"{len(chunk):x}\r\n".encode("ascii") + chunk
        if chunk:
            out += b"\r\n"
    for name, value in trailers or []:
        out += f"{name}:{value}\r\n".encode("ascii")
    out += b"\r\n"
    return bytes(out)
