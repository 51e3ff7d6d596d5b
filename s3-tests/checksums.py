"""Checksums as S3 sends them: base64 of the big-endian digest.

The tests compute every value themselves, so that a gateway storing or returning a wrong checksum
is caught even when boto3 would not check it (boto3 validates CRC32C and CRC64NVME only when the
optional `awscrt` package is installed). CRC32C and CRC64NVME fall back to table-driven pure
Python, fast enough for the few hundred KiB the tests feed them.
"""

import base64
import hashlib
import zlib

try:  # optional: the same C code botocore uses when it is installed
    from awscrt import checksums as _crt
except ImportError:  # pragma: no cover - depends on the machine
    _crt = None

# The algorithms S3's flexible checksums support, as boto3 spells them in `ChecksumAlgorithm`.
ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")


def _reflected_table(poly, width):
    mask = (1 << width) - 1
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ poly if crc & 1 else crc >> 1
        table.append(crc & mask)
    return table


# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78.
_CRC32C_TABLE = _reflected_table(0x82F63B78, 32)
# CRC-64/NVME, reflected polynomial 0x9A6C9329AC4BC9B5 (the one S3 calls CRC64NVME).
_CRC64NVME_TABLE = _reflected_table(0x9A6C9329AC4BC9B5, 64)


def _crc_reflected(data, table, width):
    mask = (1 << width) - 1
    crc = mask
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ mask


def crc32c(data):
    """CRC-32C of `data` as an integer."""
    if _crt is not None:
        return _crt.crc32c(data)
    return _crc_reflected(data, _CRC32C_TABLE, 32)


def crc64nvme(data):
    """CRC-64/NVME of `data` as an integer."""
    if _crt is not None and hasattr(_crt, "crc64nvme"):
        return _crt.crc64nvme(data)
    return _crc_reflected(data, _CRC64NVME_TABLE, 64)


def _b64(raw):
    return base64.b64encode(raw).decode("ascii")


def checksum_b64(algorithm, data):
    """The value of the `x-amz-checksum-<algorithm>` header for `data`."""
    algorithm = algorithm.upper()
    if algorithm == "CRC32":
        return _b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))
    if algorithm == "CRC32C":
        return _b64(crc32c(data).to_bytes(4, "big"))
    if algorithm == "CRC64NVME":
        return _b64(crc64nvme(data).to_bytes(8, "big"))
    if algorithm == "SHA1":
        return _b64(hashlib.sha1(data).digest())
    if algorithm == "SHA256":
        return _b64(hashlib.sha256(data).digest())
    raise ValueError(f"unknown checksum algorithm {algorithm!r}")


def md5_hex(data):
    """Hex MD5: the ETag of a single-part upload, without its quotes."""
    return hashlib.md5(data).hexdigest()


def md5_b64(data):
    """The value of a `Content-MD5` header for `data`."""
    return _b64(hashlib.md5(data).digest())


def quoted_etag(data):
    """The ETag header S3 returns for a single-part upload of `data`."""
    return f'"{md5_hex(data)}"'


def botocore_computes(algorithm):
    """Whether boto3 can compute `algorithm` itself (CRC32C and CRC64NVME need awscrt)."""
    try:
        from botocore.httpchecksum import _CHECKSUM_CLS
    except ImportError:  # pragma: no cover - very old botocore
        return algorithm.upper() in ("CRC32", "SHA1", "SHA256")
    return algorithm.lower() in _CHECKSUM_CLS
