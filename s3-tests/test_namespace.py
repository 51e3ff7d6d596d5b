"""One namespace: what S3 writes the dfs CLI sees, and the other way round. All dfs-specific.

Bucket `b`, key `x/y/z` is the dfs file `/b/x/y/z`; a directory made with `dfs mkdir` is the
S3 object `dir/`; `dfs mv` of a directory moves every key below it at once.
"""

import threading

import pytest

from checksums import md5_hex, quoted_etag
from s3util import expect_error, random_bytes

pytestmark = pytest.mark.dfs

MiB = 1024 * 1024


def ls_names(run_cli, path):
    """The names `dfs ls PATH` prints, one per line (directories end in /)."""
    return [line for line in run_cli(["ls", path]).stdout_text.splitlines() if line.strip()]


def keys_of(s3, bucket, **kwargs):
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, **kwargs).get("Contents", [])]


def test_s3_object_seen_by_dfs(run_cli, s3, bucket, tmp_path):
    data = random_bytes(9 * MiB + 5, seed=31)  # two chunks
    s3.put_object(Bucket=bucket, Key="docs/sub/report.bin", Body=data)
    assert "docs/" in ls_names(run_cli, f"/{bucket}")
    assert ls_names(run_cli, f"/{bucket}/docs") == ["sub/"]
    assert ls_names(run_cli, f"/{bucket}/docs/sub") == ["report.bin"]
    long_line = run_cli(["ls", "-l", f"/{bucket}/docs/sub"]).stdout_text
    assert str(len(data)) in long_line.split()
    local = tmp_path / "report.bin"
    run_cli(["get", f"/{bucket}/docs/sub/report.bin", local])
    assert md5_hex(local.read_bytes()) == md5_hex(data)


def test_dfs_file_seen_by_s3(run_cli, s3, bucket, tmp_path):
    data = random_bytes(3 * MiB + 17, seed=32)
    local = tmp_path / "upload.bin"
    local.write_bytes(data)
    run_cli(["put", local, f"/{bucket}/in/dfs.bin"])
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"], o["ETag"]) for o in listed] == [
        ("in/dfs.bin", len(data), quoted_etag(data))
    ]
    got = s3.get_object(Bucket=bucket, Key="in/dfs.bin")
    assert got["ETag"] == quoted_etag(data)
    assert md5_hex(got["Body"].read()) == md5_hex(data)
    # Implicit parents made by `dfs put` are not objects, as with S3's PUT.
    with expect_error(status=404):
        s3.head_object(Bucket=bucket, Key="in/")


def test_dfs_mkdir_is_directory_object(run_cli, s3, bucket):
    run_cli(["mkdir", f"/{bucket}/made"])
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [(o["Key"], o["Size"]) for o in listed] == [("made/", 0)]
    assert s3.head_object(Bucket=bucket, Key="made/")["ContentLength"] == 0
    assert s3.list_objects_v2(Bucket=bucket, Delimiter="/")["CommonPrefixes"] == [
        {"Prefix": "made/"}
    ]
    # And an S3 marker object is a directory for dfs.
    s3.put_object(Bucket=bucket, Key="marker/", Body=b"")
    assert "marker/" in ls_names(run_cli, f"/{bucket}")
    assert ls_names(run_cli, f"/{bucket}/marker") == []


def test_dfs_rm_seen_by_s3(run_cli, s3, bucket):
    for key in ("gone.txt", "tree/a", "tree/b/c", "stay.txt"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    run_cli(["rm", f"/{bucket}/gone.txt"])
    run_cli(["rm", "-r", f"/{bucket}/tree"])
    assert keys_of(s3, bucket) == ["stay.txt"]
    with expect_error("NoSuchKey", 404):
        s3.get_object(Bucket=bucket, Key="tree/b/c")


def test_dfs_cp_seen_by_s3(run_cli, s3, bucket):
    data = random_bytes(MiB + 1, seed=33)
    s3.put_object(Bucket=bucket, Key="orig.bin", Body=data, ContentType="application/x-test")
    run_cli(["cp", f"/{bucket}/orig.bin", f"/{bucket}/copy.bin"])
    got = s3.get_object(Bucket=bucket, Key="copy.bin")
    assert got["Body"].read() == data
    assert got["ETag"] == quoted_etag(data)
    s3.delete_object(Bucket=bucket, Key="orig.bin")
    assert s3.get_object(Bucket=bucket, Key="copy.bin")["Body"].read() == data


def test_dfs_mv_directory_moves_every_key_at_once(run_cli, s3, bucket):
    moved = [f"old/a/x{i:02d}" for i in range(25)] + [f"old/b/c/y{i:02d}" for i in range(15)]
    for key in moved + ["keep/z"]:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())

    # While the move runs, every single-page listing must show all 40 keys on one side.
    done = threading.Event()
    snapshots, errors = [], []

    def watch():
        try:
            for _ in range(20000):
                keys = keys_of(s3, bucket)
                snapshots.append(
                    (
                        sum(k.startswith("old/") for k in keys),
                        sum(k.startswith("new/") for k in keys),
                    )
                )
                if done.is_set():
                    return
        except Exception as err:  # reported below, in the test's thread
            errors.append(err)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        run_cli(["mv", f"/{bucket}/old", f"/{bucket}/new"])
    finally:
        done.set()
        watcher.join(timeout=120)
    assert not errors, errors
    assert snapshots
    assert all(s in ((40, 0), (0, 40)) for s in snapshots), sorted(set(snapshots))

    assert keys_of(s3, bucket) == sorted(["keep/z"] + ["new/" + k[4:] for k in moved])
    assert keys_of(s3, bucket, Prefix="old/") == []
    for key in ("new/a/x07", "new/b/c/y14"):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == ("old/" + key[4:]).encode()
