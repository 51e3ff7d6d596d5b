"""The S3 conformance suite's harness: one real dfs cluster for the whole session.

By default the session starts `$DFS_BIN_DIR/dfs-cluster` (metad, chunkds and the S3 gateway as
real processes on loopback ports), reads the `export NAME=VALUE` lines it prints until `ready`,
and stops it at the end by closing its stdin. To run the suite against another S3 endpoint
(MinIO, AWS) and so check the tests themselves, set S3_TESTS_ENDPOINT_URL (with
S3_TESTS_ACCESS_KEY_ID, S3_TESTS_SECRET_ACCESS_KEY, optionally S3_TESTS_REGION): tests marked
`dfs` (dfs-specific behaviour or the dfs CLI) are then skipped.
"""

import os
import queue
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from s3util import RawS3, empty_and_delete_bucket, unique_bucket_name

HERE = Path(__file__).resolve().parent
WORKSPACE = HERE.parent
READY_TIMEOUT = 60
# Generous: a subprocess client moving a few MiB on 2 busy cores, never a hang forever.
SUBPROCESS_TIMEOUT = 300


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "dfs: dfs-specific behaviour or the dfs CLI; skipped against another S3 endpoint",
    )
    config.addinivalue_line(
        "markers",
        "slow: minutes long (the 5 GiB memory test); runs by default, -m 'not slow' skips it",
    )


def _external_endpoint():
    return os.environ.get("S3_TESTS_ENDPOINT_URL")


def pytest_collection_modifyitems(config, items):
    if not _external_endpoint():
        return
    skip = pytest.mark.skip(reason="dfs-specific: S3_TESTS_ENDPOINT_URL points at another S3")
    for item in items:
        if "dfs" in item.keywords:
            item.add_marker(skip)


def bin_dir():
    """Where dfs-cluster and dfs are: $DFS_BIN_DIR, else $CARGO_TARGET_DIR/debug."""
    explicit = os.environ.get("DFS_BIN_DIR")
    if explicit:
        return Path(explicit)
    target = Path(os.environ.get("CARGO_TARGET_DIR") or Path.home() / ".cache/dfs/target")
    if not target.is_absolute():  # cargo reads a relative one from the workspace root
        target = WORKSPACE / target
    return target / "debug"


class Cluster:
    """One `dfs-cluster` process: started, parsed until `ready`, stopped at the end."""

    def __init__(self, binary, chunkds=3):
        self.log_dir = Path(tempfile.mkdtemp(prefix="dfs-s3-tests-"))
        self.stderr_path = self.log_dir / "dfs-cluster.stderr"
        self._stderr = open(self.stderr_path, "wb")
        self.stdout_lines = []
        self.env = {}
        self.proc = subprocess.Popen(
            [str(binary), "--chunkds", str(chunkds)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            cwd=self.log_dir,
        )
        self._lines = queue.Queue()
        # The reader keeps draining stdout after `ready`, so the cluster never blocks writing it.
        threading.Thread(target=self._read_stdout, daemon=True).start()

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.stdout_lines.append(line)
            self._lines.put(line)
        self._lines.put(None)

    def stderr_tail(self, limit=6000):
        if not self._stderr.closed:
            self._stderr.flush()
        text = self.stderr_path.read_text("utf-8", "replace")
        return text[-limit:] if len(text) > limit else text

    def wait_ready(self, timeout=READY_TIMEOUT):
        """Parses the exports until `ready`; returns an error message, or None when ready."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return f"dfs-cluster printed no `ready` within {timeout} s"
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                code = self.proc.wait(timeout=10)
                return f"dfs-cluster exited with status {code} before `ready`"
            if line.strip() == "ready":
                missing = {"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
                missing -= self.env.keys()
                if missing:
                    return f"dfs-cluster said ready without exporting {sorted(missing)}"
                return None
            match = re.match(r"^\s*export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$", line)
            if match:
                value = shlex.split(match.group(2)) or [""]
                self.env[match.group(1)] = value[0]

    def stop(self):
        """Closes stdin (the cluster's signal to stop), then SIGTERM, then SIGKILL."""
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
        self._stderr.close()


_cluster_for_summary = []
_summary_lines = []


def pytest_terminal_summary(terminalreporter):
    for line in _summary_lines:
        terminalreporter.write_line(line)
    for cluster in _cluster_for_summary:
        terminalreporter.write_line(f"dfs-cluster log: {cluster.stderr_path}")


@pytest.fixture(scope="session")
def summary_line():
    """`summary_line(text)` prints text at the end of the run, even without `pytest -s`
    (figures worth seeing on every run, such as the gateway's peak memory)."""
    return _summary_lines.append


@pytest.fixture(scope="session")
def cluster_env():
    """Environment of the cluster under test: AWS_ENDPOINT_URL, keys, region, DFS_METAD, ..."""
    external = _external_endpoint()
    if external:
        yield {
            "AWS_ENDPOINT_URL": external,
            "AWS_ACCESS_KEY_ID": os.environ.get("S3_TESTS_ACCESS_KEY_ID")
            or os.environ.get("AWS_ACCESS_KEY_ID", ""),
            "AWS_SECRET_ACCESS_KEY": os.environ.get("S3_TESTS_SECRET_ACCESS_KEY")
            or os.environ.get("AWS_SECRET_ACCESS_KEY", ""),
            "AWS_DEFAULT_REGION": os.environ.get("S3_TESTS_REGION", "us-east-1"),
        }
        return
    binary = bin_dir() / "dfs-cluster"
    if not os.access(binary, os.X_OK):
        pytest.exit(
            f"{binary} not found: run `cargo build --workspace --bins` first "
            "(or set DFS_BIN_DIR to the folder holding dfs-cluster and dfs)",
            returncode=1,
        )
    cluster = Cluster(binary)
    error = cluster.wait_ready()
    if error:
        cluster.stop()
        pytest.exit(
            f"{error}.\nstdout:\n"
            + "\n".join(cluster.stdout_lines[-40:])
            + f"\nstderr ({cluster.stderr_path}):\n{cluster.stderr_tail()}",
            returncode=1,
        )
    _cluster_for_summary.append(cluster)
    env = dict(cluster.env)
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        yield env
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def endpoint(cluster_env):
    return cluster_env["AWS_ENDPOINT_URL"]


@pytest.fixture(scope="session")
def region(cluster_env):
    return cluster_env.get("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="session")
def make_client(cluster_env):
    """Factory of boto3 S3 clients on the cluster: `make_client(access_key=..., config=...)`.

    Path-style addressing and no retries, so that a failing answer is seen as it is.
    """

    def make(access_key=None, secret_key=None, config=None, **config_args):
        base = Config(
            # s3v4 also for presigned URLs, which botocore would otherwise sign with SigV2.
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=120,
            **config_args,
        )
        if config is not None:
            base = base.merge(config)
        return boto3.session.Session().client(
            "s3",
            endpoint_url=cluster_env["AWS_ENDPOINT_URL"],
            aws_access_key_id=access_key or cluster_env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=secret_key or cluster_env["AWS_SECRET_ACCESS_KEY"],
            region_name=cluster_env.get("AWS_DEFAULT_REGION", "us-east-1"),
            config=base,
        )

    return make


@pytest.fixture(scope="session")
def s3(make_client):
    """The boto3 S3 client of the cluster's admin key."""
    return make_client()


@pytest.fixture(scope="session")
def s3_resource(cluster_env):
    return boto3.session.Session().resource(
        "s3",
        endpoint_url=cluster_env["AWS_ENDPOINT_URL"],
        aws_access_key_id=cluster_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=cluster_env["AWS_SECRET_ACCESS_KEY"],
        region_name=cluster_env.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1},
        ),
    )


@pytest.fixture(scope="session")
def raw(cluster_env):
    """A RawS3 client (hand-signed requests over http.client) with the admin key."""
    return RawS3(
        cluster_env["AWS_ENDPOINT_URL"],
        cluster_env["AWS_ACCESS_KEY_ID"],
        cluster_env["AWS_SECRET_ACCESS_KEY"],
        cluster_env.get("AWS_DEFAULT_REGION", "us-east-1"),
    )


@pytest.fixture
def bucket_factory(s3, request):
    """Creates fresh buckets for one test (`bucket_factory()` → name); all deleted after it."""
    created = []

    def create(hint=None):
        name = unique_bucket_name(hint or request.node.name)
        s3.create_bucket(Bucket=name)
        created.append(name)
        return name

    yield create
    for name in created:
        empty_and_delete_bucket(s3, name)


@pytest.fixture
def bucket(bucket_factory):
    """A fresh, empty bucket of this test, emptied and deleted after it."""
    return bucket_factory()


@pytest.fixture(scope="session")
def tools_dir(cluster_env):
    """A folder for the generated client configs of this session."""
    path = Path(tempfile.mkdtemp(prefix="dfs-s3-tools-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def subprocess_env(cluster_env, tools_dir):
    """The environment of client subprocesses: ours, the cluster's, and no user AWS config."""
    env = dict(os.environ)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_CA_BUNDLE"):
        env.pop(name, None)
    env.update(cluster_env)
    config = tools_dir / "aws-config"
    config.write_text(
        "[default]\n"
        f"region = {cluster_env.get('AWS_DEFAULT_REGION', 'us-east-1')}\n"
        "s3 =\n    addressing_style = path\n"
    )
    credentials = tools_dir / "aws-credentials"
    credentials.write_text("")
    env["AWS_CONFIG_FILE"] = str(config)
    env["AWS_SHARED_CREDENTIALS_FILE"] = str(credentials)
    env["AWS_PAGER"] = ""
    return env


def _run(argv, env, check, input_bytes=None):
    result = subprocess.run(
        argv,
        env=env,
        input=input_bytes,
        stdin=None if input_bytes is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT,
    )
    result.stdout_text = result.stdout.decode("utf-8", "replace")
    result.stderr_text = result.stderr.decode("utf-8", "replace")
    if check and result.returncode != 0:
        pytest.fail(
            f"`{shlex.join(argv)}` exited with {result.returncode}\n"
            f"stdout:\n{result.stdout_text[-4000:]}\nstderr:\n{result.stderr_text[-4000:]}"
        )
    return result


@pytest.fixture(scope="session")
def run_cli(cluster_env, subprocess_env):
    """Runs the dfs CLI (`run_cli(["ls", "/b"])`); fails the test on a non-zero exit unless
    check=False. Returns the CompletedProcess with `.stdout_text` and `.stderr_text`."""
    if "DFS_METAD" not in cluster_env:
        pytest.skip("no DFS_METAD: the dfs CLI needs a dfs cluster")
    binary = bin_dir() / "dfs"
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} not found: run `cargo build --workspace --bins`")

    def run(args, check=True):
        return _run([str(binary), *map(str, args)], subprocess_env, check)

    return run


def _aws_command(env):
    """`aws` if it runs (v1 or v2), else `python -m awscli` (v1 installed with pip)."""
    candidates = []
    if shutil.which("aws"):
        candidates.append(["aws"])
    candidates.append([sys.executable, "-m", "awscli"])
    for argv in candidates:
        try:
            done = subprocess.run([*argv, "--version"], env=env, capture_output=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if done.returncode == 0:
            return argv
    return None


@pytest.fixture(scope="session")
def aws(subprocess_env, endpoint):
    """Runs aws-cli against the cluster: `aws(["s3", "ls"])`."""
    argv = _aws_command(subprocess_env)
    if argv is None:
        pytest.skip("aws-cli is not installed (neither `aws` nor `python -m awscli` runs)")

    def run(args, check=True):
        return _run([*argv, "--endpoint-url", endpoint, *map(str, args)], subprocess_env, check)

    return run


@pytest.fixture(scope="session")
def rclone(cluster_env, subprocess_env, tools_dir):
    """Runs rclone with a generated config whose remote `dfs:` is the cluster.

    `rclone(["lsf", "dfs:bucket"], list_version=1)` forces ListObjects V1 (or 2).
    """
    binary = shutil.which("rclone")
    if binary is None:
        pytest.skip("rclone is not installed (apt-get install rclone; CI installs it)")
    config = tools_dir / "rclone.conf"
    config.write_text(
        "[dfs]\n"
        "type = s3\n"
        "provider = Other\n"
        f"access_key_id = {cluster_env['AWS_ACCESS_KEY_ID']}\n"
        f"secret_access_key = {cluster_env['AWS_SECRET_ACCESS_KEY']}\n"
        f"endpoint = {cluster_env['AWS_ENDPOINT_URL']}\n"
        f"region = {cluster_env.get('AWS_DEFAULT_REGION', 'us-east-1')}\n"
        "force_path_style = true\n"
    )

    def run(args, list_version=None, check=True):
        argv = [binary, "--config", str(config), "--retries", "1", "--low-level-retries", "1"]
        if list_version is not None:
            argv += ["--s3-list-version", str(list_version)]
        return _run([*argv, *map(str, args)], subprocess_env, check)

    return run


@pytest.fixture(scope="session")
def s3cmd(cluster_env, subprocess_env, tools_dir):
    """Runs s3cmd with a generated config file: `s3cmd(["ls", "s3://bucket"])`."""
    binary = shutil.which("s3cmd")
    if binary is None:
        pytest.skip("s3cmd is not installed (apt-get install s3cmd; CI installs it)")
    host = re.sub(r"^https?://", "", cluster_env["AWS_ENDPOINT_URL"]).rstrip("/")
    config = tools_dir / "s3cmd.cfg"
    config.write_text(
        "[default]\n"
        f"access_key = {cluster_env['AWS_ACCESS_KEY_ID']}\n"
        f"secret_key = {cluster_env['AWS_SECRET_ACCESS_KEY']}\n"
        f"host_base = {host}\n"
        f"host_bucket = {host}\n"
        f"bucket_location = {cluster_env.get('AWS_DEFAULT_REGION', 'us-east-1')}\n"
        "use_https = False\n"
        "signature_v2 = False\n"
        "check_ssl_certificate = False\n"
        "progress_meter = False\n"
    )

    def run(args, check=True):
        return _run([binary, "-c", str(config), *map(str, args)], subprocess_env, check)

    return run
