"""Real S3 clients against the gateway: aws-cli, rclone and s3cmd, each run as a subprocess
with a generated configuration (see conftest.py)."""

import json
import os
from pathlib import Path

import pytest

from checksums import md5_hex
from s3util import empty_and_delete_bucket, random_bytes, unique_bucket_name

KiB = 1024
MiB = 1024 * KiB


@pytest.fixture
def fresh_name(s3):
    """A bucket name for a client to create itself; deleted after the test if it still exists."""
    name = unique_bucket_name("client")
    yield name
    empty_and_delete_bucket(s3, name)


def make_tree(root, files=20, seed=0):
    """`files` files in nested folders (one of 1 MiB+), returns {relative path: bytes}."""
    tree = {}
    for i in range(files):
        rel = f"dir{i % 3}/sub{i % 2}/file {i}.txt" if i % 4 else f"top-{i}.bin"
        size = 1 * MiB + 3 if i == 5 else 100 + 37 * i
        tree[rel] = random_bytes(size, seed=seed * 1000 + i)
    for rel, data in tree.items():
        path = Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return tree


def read_tree(root):
    root = Path(root)
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def remote_keys(s3, bucket, prefix=""):
    paginator = s3.get_paginator("list_objects_v2")
    return sorted(
        o["Key"]
        for page in paginator.paginate(Bucket=bucket, Prefix=prefix)
        for o in page.get("Contents", [])
    )


# ---------------------------------------------------------------- aws-cli


def test_aws_cli_mb_cp_rm_rb(aws, s3, fresh_name, tmp_path):
    aws(["s3", "mb", f"s3://{fresh_name}"])
    assert fresh_name in aws(["s3", "ls"]).stdout_text

    for name, size in (("small.bin", 1 * KiB), ("seven.bin", 7 * MiB)):
        data = random_bytes(size, seed=size)
        local = tmp_path / name
        local.write_bytes(data)
        aws(["s3", "cp", local, f"s3://{fresh_name}/up/{name}"])
        back = tmp_path / f"back-{name}"
        aws(["s3", "cp", f"s3://{fresh_name}/up/{name}", back])
        assert back.read_bytes() == data, f"{name} came back different"
        head = json.loads(
            aws(["s3api", "head-object", "--bucket", fresh_name, "--key", f"up/{name}"]).stdout_text
        )
        assert head["ContentLength"] == size
        assert head["ETag"] == f'"{md5_hex(data)}"'

    listing = json.loads(
        aws(
            ["s3api", "list-objects-v2", "--no-paginate", "--bucket", fresh_name, "--prefix", "up/"]
        ).stdout_text
    )
    assert [o["Key"] for o in listing["Contents"]] == ["up/seven.bin", "up/small.bin"]
    assert listing["KeyCount"] == 2

    aws(["s3", "rm", "--recursive", f"s3://{fresh_name}/up/"])
    assert remote_keys(s3, fresh_name) == []
    aws(["s3", "rb", f"s3://{fresh_name}"])
    assert fresh_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_aws_cli_sync_both_ways(aws, s3, bucket, tmp_path):
    src = tmp_path / "src"
    tree = make_tree(src)
    aws(["s3", "sync", src, f"s3://{bucket}/tree"])
    assert remote_keys(s3, bucket) == sorted(f"tree/{rel}" for rel in tree)

    recursive = aws(["s3", "ls", "--recursive", f"s3://{bucket}/tree/"]).stdout_text
    listed = [line.split(None, 3)[3] for line in recursive.splitlines() if line.strip()]
    assert sorted(listed) == sorted(f"tree/{rel}" for rel in tree)

    # Change one file (and its size, so that sync sees it): only that one is uploaded again.
    changed = "dir1/sub1/file 1.txt"
    tree[changed] = b"changed content"
    (src / changed).write_bytes(tree[changed])
    second = aws(["s3", "sync", src, f"s3://{bucket}/tree"]).stdout_text
    uploads = [line for line in second.splitlines() if line.startswith("upload:")]
    assert len(uploads) == 1 and changed in uploads[0], second
    body = s3.get_object(Bucket=bucket, Key=f"tree/{changed}")["Body"].read()
    assert body == b"changed content"

    dst = tmp_path / "dst"
    aws(["s3", "sync", f"s3://{bucket}/tree", dst])
    assert read_tree(dst) == tree


# ---------------------------------------------------------------- rclone


@pytest.mark.parametrize("list_version", [1, 2])
def test_rclone(rclone, s3, bucket, tmp_path, list_version):
    src = tmp_path / "src"
    tree = make_tree(src, files=12, seed=list_version)
    remote = f"dfs:{bucket}/data"

    def run(*args, check=True):
        return rclone([*args], list_version=list_version, check=check)

    run("copy", src, remote)
    assert remote_keys(s3, bucket) == sorted(f"data/{rel}" for rel in tree)
    files = run("lsf", "-R", "--files-only", remote).stdout_text.split("\n")
    assert sorted(f for f in files if f) == sorted(tree)
    # Sizes and MD5 hashes (the ETags of single-part uploads) agree with the local files.
    run("check", src, remote)

    # rclone check really compares hashes: same size, other bytes is a difference.
    victim = sorted(tree)[0]
    s3.put_object(Bucket=bucket, Key=f"data/{victim}", Body=bytes(len(tree[victim])))
    assert run("check", src, remote, check=False).returncode != 0

    # sync: uploads the changed file, deletes what is gone locally.
    os.remove(src / sorted(tree)[1])
    run("sync", src, remote)
    run("check", src, remote)
    expected = sorted(f"data/{rel}" for rel in tree if rel != sorted(tree)[1])
    assert remote_keys(s3, bucket) == expected

    back = tmp_path / "back"
    run("copy", remote, back)
    assert read_tree(back) == read_tree(src)

    run("delete", remote)
    assert remote_keys(s3, bucket) == []
    assert run("lsf", "-R", "--files-only", remote).stdout_text.strip() == ""


# ---------------------------------------------------------------- s3cmd


def test_s3cmd(s3cmd, s3, fresh_name, tmp_path):
    s3cmd(["mb", f"s3://{fresh_name}"])
    assert f"s3://{fresh_name}" in s3cmd(["ls"]).stdout_text

    data = random_bytes(300 * KiB + 1, seed=21)
    local = tmp_path / "report 1.bin"
    local.write_bytes(data)
    s3cmd(["put", local, f"s3://{fresh_name}/docs/report 1.bin"])
    assert s3.head_object(Bucket=fresh_name, Key="docs/report 1.bin")["ContentLength"] == len(data)

    listing = s3cmd(["ls", f"s3://{fresh_name}/docs/"]).stdout_text
    assert f"s3://{fresh_name}/docs/report 1.bin" in listing
    top = s3cmd(["ls", f"s3://{fresh_name}/"]).stdout_text
    assert f"DIR s3://{fresh_name}/docs/" in " ".join(top.split())

    back = tmp_path / "back.bin"
    s3cmd(["get", f"s3://{fresh_name}/docs/report 1.bin", back])
    assert back.read_bytes() == data

    s3cmd(["del", f"s3://{fresh_name}/docs/report 1.bin"])
    assert remote_keys(s3, fresh_name) == []
    s3cmd(["rb", f"s3://{fresh_name}"])
    assert fresh_name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
