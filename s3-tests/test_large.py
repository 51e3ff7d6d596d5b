"""Large objects through real clients' multipart code paths (aws-cli, rclone, boto3's transfer
manager), and the gateway's memory while 5 GiB go up and down.

Data is generated (multipart_util.PatternStream) and compared by MD5, never held whole in
memory; files exist only where a client needs one (aws-cli, rclone).
"""

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from conftest import bin_dir

from multipart_util import (
    GiB,
    MiB,
    HashingWriter,
    PatternStream,
    multipart_etag_of_md5s,
    pattern_md5,
)

# aws-cli's and boto3's defaults: multipart from 8 MiB, in 8 MiB parts.
DEFAULT_PART = 8 * MiB


def write_pattern_file(path, size, part_size=DEFAULT_PART):
    """Writes a PatternStream of `size` bytes to `path`; returns (hex MD5, binary MD5 of each
    `part_size` part), computed while writing."""
    stream = PatternStream(size)
    whole = hashlib.md5()
    part_md5s = []
    with open(path, "wb") as out:
        while True:
            piece = stream.read(part_size)
            if not piece:
                return whole.hexdigest(), part_md5s
            whole.update(piece)
            part_md5s.append(hashlib.md5(piece).digest())
            out.write(piece)


def file_md5(path):
    md5 = hashlib.md5()
    with open(path, "rb") as source:
        while piece := source.read(8 * MiB):
            md5.update(piece)
    return md5.hexdigest()


def object_md5(s3, bucket, key):
    """MD5 and length of an object, streamed."""
    md5, length = hashlib.md5(), 0
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    for piece in body.iter_chunks(MiB):
        md5.update(piece)
        length += len(piece)
    return md5.hexdigest(), length


def test_aws_cli_cp_100mib(aws, s3, bucket, tmp_path):
    size = 100 * MiB
    local = tmp_path / "hundred.bin"
    md5, part_md5s = write_pattern_file(local, size)
    assert len(part_md5s) == 13
    aws(["s3", "cp", local, f"s3://{bucket}/big/hundred.bin"])
    head = s3.head_object(Bucket=bucket, Key="big/hundred.bin")
    assert head["ContentLength"] == size
    # 13 parts of aws-cli's default 8 MiB, so multipart it was.
    assert head["ETag"] == multipart_etag_of_md5s(part_md5s)
    assert object_md5(s3, bucket, "big/hundred.bin") == (md5, size)

    back = tmp_path / "back.bin"
    aws(["s3", "cp", f"s3://{bucket}/big/hundred.bin", back])
    assert back.stat().st_size == size
    assert file_md5(back) == md5
    back.unlink()

    # A server-side copy: aws-cli copies objects above 8 MiB with UploadPartCopy of ranges.
    aws(["s3", "cp", f"s3://{bucket}/big/hundred.bin", f"s3://{bucket}/big/copy.bin"])
    copy = s3.head_object(Bucket=bucket, Key="big/copy.bin")
    assert copy["ContentLength"] == size
    assert copy["ETag"] == head["ETag"]
    assert object_md5(s3, bucket, "big/copy.bin") == (md5, size)


def test_rclone_copy_300mib(rclone, s3, bucket, tmp_path):
    size = 300 * MiB
    src = tmp_path / "src"
    src.mkdir()
    md5, _ = write_pattern_file(src / "three-hundred.bin", size)
    # rclone uploads in one PUT up to --s3-upload-cutoff (200 MiB), multipart above it.
    rclone(["copy", src, f"dfs:{bucket}/r"])
    head = s3.head_object(Bucket=bucket, Key="r/three-hundred.bin")
    assert head["ContentLength"] == size
    parts = int(head["ETag"].strip('"').rsplit("-", 1)[1])
    assert parts > 1, f"not a multipart upload: ETag {head['ETag']}"
    # rclone keeps the MD5 of a multipart upload in metadata, and `check` compares it.
    checked = rclone(["check", src, f"dfs:{bucket}/r"])
    assert "0 differences found" in checked.stderr_text, checked.stderr_text
    assert "1 matching files" in checked.stderr_text, checked.stderr_text
    assert "could not be checked" not in checked.stderr_text, checked.stderr_text
    assert object_md5(s3, bucket, "r/three-hundred.bin") == (md5, size)


def test_boto3_transfer_64mib_stream(s3, bucket):
    size = 64 * MiB
    config = TransferConfig()  # the defaults: multipart above 8 MiB, 8 MiB parts
    s3.upload_fileobj(PatternStream(size, seekable=False), bucket, "stream.bin", Config=config)
    head = s3.head_object(Bucket=bucket, Key="stream.bin")
    assert head["ContentLength"] == size
    part_md5s = [hashlib.md5(_part(size, start)).digest() for start in range(0, size, DEFAULT_PART)]
    assert head["ETag"] == multipart_etag_of_md5s(part_md5s)
    sink = HashingWriter()
    s3.download_fileobj(bucket, "stream.bin", sink, Config=config)
    assert sink.length == size
    assert sink.hexdigest() == pattern_md5(size)


def _part(size, start, part_size=DEFAULT_PART):
    """Bytes `start` to `start + part_size` of a PatternStream of `size`."""
    stream = PatternStream(size)
    stream.seek(start)
    return stream.read(part_size)


# ---------------------------------------------------------------- the gateway's memory

MEMORY_SIZE = 5 * GiB
MEMORY_PART = 64 * MiB
MEMORY_LIMIT = 256 * MiB


def _status_kib(pid, field):
    """A `VmXXX:  N kB` field of /proc/PID/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


@pytest.mark.slow
@pytest.mark.dfs  # watches the gateway process of the dfs-cluster
def test_gateway_memory_5gib_up_and_down(s3, bucket, cluster_env, tmp_path, summary_line):
    pid = cluster_env.get("DFS_GATEWAY_PID")
    if not pid:
        pytest.skip(
            "DFS_GATEWAY_PID is not set: the memory test needs the gateway's PID, which "
            "dfs-cluster exports (rebuild it with `cargo build --workspace --bins`)"
        )
    if not Path(f"/proc/{pid}/status").is_file():
        pytest.skip(f"/proc/{pid}/status is not readable: no procfs view of the gateway")
    session_peak = _status_kib(pid, "VmHWM")
    # Writing 5 to clear_refs resets VmHWM to the current RSS, so the figure is this test's
    # own; where that is not allowed the peak covers the whole session (still bounded).
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        scope = "this test"
    except OSError:
        scope = "the whole session"
    rss_before = _status_kib(pid, "VmRSS")

    config = TransferConfig(multipart_chunksize=MEMORY_PART, max_concurrency=4)
    started = time.monotonic()
    s3.upload_fileobj(PatternStream(MEMORY_SIZE), bucket, "five-gib.bin", Config=config)
    uploaded = time.monotonic()
    head = s3.head_object(Bucket=bucket, Key="five-gib.bin")
    assert head["ContentLength"] == MEMORY_SIZE
    assert head["ETag"].endswith(f'-{MEMORY_SIZE // MEMORY_PART}"'), head["ETag"]
    sink = HashingWriter()
    s3.download_fileobj(bucket, "five-gib.bin", sink, Config=config)
    downloaded = time.monotonic()
    peak = _status_kib(pid, "VmHWM")
    rss_after = _status_kib(pid, "VmRSS")

    line = (
        f"gateway peak RSS after 5 GiB up+down: {peak / 1024:.1f} MiB "
        f"(VmHWM over {scope}; RSS {rss_before / 1024:.1f} MiB before, "
        f"{rss_after / 1024:.1f} MiB after; session peak before the test "
        f"{session_peak / 1024:.1f} MiB; upload {uploaded - started:.0f} s, "
        f"download {downloaded - uploaded:.0f} s)"
    )
    print(line)
    (tmp_path / "gateway-peak-rss.txt").write_text(line + "\n")
    summary_line(line)

    assert sink.length == MEMORY_SIZE
    assert sink.hexdigest() == pattern_md5(MEMORY_SIZE), "the 5 GiB came back different"
    assert peak * 1024 < MEMORY_LIMIT, line


# A child's peak RSS, measured by a one-off Python parent so that no earlier subprocess of this
# pytest run (aws-cli, rclone...) counts: RUSAGE_CHILDREN reports the largest waited-for child.
_PEAK_RSS_WRAPPER = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:])\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(done.returncode)\n"
)


@pytest.mark.slow
@pytest.mark.dfs  # the dfs CLI on the cluster's namespace
def test_dfs_cli_put_and_get_of_2gib_in_bounded_memory(
    s3, bucket, subprocess_env, tmp_path, summary_line
):
    """`dfs put` and `dfs get` stream a multi-GiB file with a bounded window of chunks: each
    process stays far below the file's size, and the object is the same for S3 and the CLI."""
    size = 2 * GiB + 12345
    local = tmp_path / "big.bin"
    whole_md5, _ = write_pattern_file(local, size)
    dfs = str(bin_dir() / "dfs")
    peaks = {}
    back = tmp_path / "back.bin"
    for name, args in (
        ("put", [dfs, "put", str(local), f"/{bucket}/big.bin"]),
        ("get", [dfs, "get", f"/{bucket}/big.bin", str(back)]),
    ):
        done = subprocess.run(
            [sys.executable, "-c", _PEAK_RSS_WRAPPER, *args],
            env=subprocess_env,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, f"dfs {name} failed: {done.stderr}"
        peaks[name] = int(done.stdout.strip().splitlines()[-1]) / 1024  # KiB -> MiB
    assert file_md5(back) == whole_md5
    head = s3.head_object(Bucket=bucket, Key="big.bin")
    assert head["ContentLength"] == size
    assert head["ETag"] == f'"{whole_md5}"', "dfs put stores the MD5 as the S3 ETag"
    summary_line(
        f"dfs CLI peak RSS for a 2 GiB file: put {peaks['put']:.1f} MiB, get {peaks['get']:.1f} MiB"
    )
    for name, peak in peaks.items():
        assert peak < 128, f"dfs {name} of 2 GiB peaked at {peak:.1f} MiB"
