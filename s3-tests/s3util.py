"""Shared helpers of the suite: a raw S3 client for what boto3 hides, and error assertions.

`RawS3` sends requests over `http.client`, which sends the path exactly as given (`requests` and
urllib3 would remove `..` and `.` segments) and lets a test read every status, header and body
byte, send bodies with `Transfer-Encoding: chunked`, or sign with a wrong key or clock.
"""

import datetime
import http.client
import os
import random
import re
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest
from botocore.exceptions import ClientError

import sigv4_helper as sig

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def amz_date(when=None):
    """`YYYYMMDDTHHMMSSZ` of `when` (default now, UTC)."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.strftime("%Y%m%dT%H%M%SZ")


def random_bytes(size, seed=None):
    """`size` pseudo-random bytes: reproducible with a seed, and never compressible."""
    if seed is None:
        return os.urandom(size)
    return random.Random(seed).randbytes(size)


class Response:
    """A raw HTTP response: status, headers (in order, repeated names kept) and body."""

    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def header(self, name, default=None):
        """The first value of header `name` (case-insensitive)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return default

    def has_header(self, name):
        return any(key.lower() == name.lower() for key, _ in self.headers)

    def xml(self):
        """The body parsed as XML, namespace removed from tags."""
        root = ET.fromstring(self.body)
        for element in root.iter():
            if element.tag.startswith("{"):
                element.tag = element.tag.split("}", 1)[1]
        return root

    def error(self):
        """(Code, Message, RequestId) of an S3 error body; fails the test if it is not one."""
        assert self.body, f"HTTP {self.status}: expected an XML error body, got none"
        try:
            root = self.xml()
        except ET.ParseError as err:
            pytest.fail(f"HTTP {self.status}: error body is not XML ({err}): {self.body[:300]!r}")
        assert root.tag == "Error", f"error body's root is <{root.tag}>: {self.body[:300]!r}"
        return root.findtext("Code"), root.findtext("Message"), root.findtext("RequestId")

    def __repr__(self):
        return f"<Response {self.status} {self.reason} {self.headers} {self.body[:200]!r}>"


class RawS3:
    """Signs (SigV4, path style) and sends single requests with `http.client`."""

    def __init__(self, endpoint_url, access_key, secret_key, region):
        parts = urlsplit(endpoint_url)
        if parts.scheme != "http":
            raise ValueError(f"RawS3 speaks plain HTTP only, not {endpoint_url}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self.netloc = parts.netloc
        self.access_key = access_key
        self.secret_key = secret_key
        self.region = region

    def connection(self):
        """A new keep-alive connection, for tests that send several requests on one socket."""
        return http.client.HTTPConnection(self.host, self.port, timeout=120)

    def request(
        self,
        method,
        bucket=None,
        key=None,
        params=(),
        headers=None,
        body=b"",
        payload_hash=None,
        sign=True,
        when=None,
        access_key=None,
        secret_key=None,
        path=None,
        conn=None,
    ):
        """Sends one request and reads the whole response.

        `params` are (name, value) pairs; `payload_hash` defaults to the SHA-256 of a bytes
        body and to UNSIGNED-PAYLOAD for an iterable one (sent with Transfer-Encoding: chunked
        when no Content-Length header is given). `path` overrides the path built from bucket
        and key. `conn` reuses a connection (left open); otherwise one is opened and closed.
        """
        path = path or sig.object_path(bucket, key)
        params = list(params.items()) if isinstance(params, dict) else list(params)
        headers = dict(headers or {})
        headers.setdefault("Host", self.netloc)
        if isinstance(body, (bytes, bytearray)) and method in ("PUT", "POST"):
            headers.setdefault("Content-Length", str(len(body)))
        if sign:
            if payload_hash is None:
                if isinstance(body, (bytes, bytearray)):
                    payload_hash = sig.sha256_hex(bytes(body))
                else:
                    payload_hash = sig.UNSIGNED_PAYLOAD
            sig.sign_headers(
                method,
                path,
                params,
                headers,
                payload_hash,
                access_key or self.access_key,
                secret_key or self.secret_key,
                self.region,
                amz_date(when),
            )
        query = sig.canonical_query(params)
        target = path + ("?" + query if query else "")
        own = conn is None
        conn = conn or self.connection()
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name, value)
            chunked = not isinstance(body, (bytes, bytearray)) and "Content-Length" not in headers
            if chunked:
                conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            try:
                if chunked:
                    for piece in body:
                        if piece:
                            conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    conn.send(b"0\r\n\r\n")
                elif isinstance(body, (bytes, bytearray)):
                    if body:
                        conn.send(bytes(body))
                else:
                    for piece in body:
                        conn.send(piece)
            except (BrokenPipeError, ConnectionResetError):
                # A server may answer an error (e.g. a bad chunk signature) and close before
                # reading the whole body: its answer is still there to read.
                pass
            response = conn.getresponse()
            data = response.read()
            return Response(response.status, response.reason, response.getheaders(), data)
        finally:
            if own:
                conn.close()


def error_code(err):
    """The S3 error code of a botocore ClientError."""
    return err.response.get("Error", {}).get("Code")


def http_status(err_or_response):
    """The HTTP status of a botocore ClientError or a boto3 response dict."""
    response = getattr(err_or_response, "response", err_or_response)
    return response["ResponseMetadata"]["HTTPStatusCode"]


class expect_error:
    """Context manager: the block must raise a ClientError with this code and/or status.

    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=b, Key="missing")
    """

    def __init__(self, code=None, status=None):
        self.code = code
        self.status = status
        self.error = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            pytest.fail(f"expected S3 error {self.code or ''} {self.status or ''}, got success")
        if not issubclass(exc_type, ClientError):
            return False
        self.error = exc
        got_code, got_status = error_code(exc), http_status(exc)
        if self.code is not None:
            assert got_code == self.code, f"expected {self.code}, got {got_code} ({exc})"
        if self.status is not None:
            assert got_status == self.status, f"expected HTTP {self.status}, got {got_status}"
        return True


def unique_bucket_name(hint="b"):
    """A fresh valid bucket name: `s3t-<hint>-<random>`, at most 63 characters."""
    hint = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")[:40].strip("-") or "b"
    return f"s3t-{hint}-{uuid.uuid4().hex[:10]}"


def empty_and_delete_bucket(client, name):
    """Deletes every object and open upload of bucket `name`, then the bucket."""
    try:
        # Always the first page again: the cleanup must not depend on continuation tokens.
        for _ in range(1000):
            keys = [
                {"Key": o["Key"]} for o in client.list_objects_v2(Bucket=name).get("Contents", [])
            ]
            if not keys:
                break
            out = client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
            assert not out.get("Errors"), f"cleanup of {name}: {out['Errors'][:5]}"
        try:
            uploads = client.list_multipart_uploads(Bucket=name).get("Uploads", [])
        except ClientError:
            uploads = []  # multipart not implemented is not this fixture's business
        for upload in uploads:
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
        client.delete_bucket(Bucket=name)
    except ClientError as err:
        if err.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
