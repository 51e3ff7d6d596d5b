//! Running the `dfs` CLI binary against a test cluster.

use crate::Cluster;
use std::process::{Command, Stdio};

/// What a finished `dfs` command printed.
#[derive(Debug)]
pub struct Output {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
}

impl Cluster {
    /// A `dfs` command (the CLI binary) with `DFS_METAD` and `DFS_SECRET_FILE` set for this cluster.
    pub fn dfs(&self) -> Command {
        let mut command = Command::new(self.bin_dir.join("dfs"));
        command
            .env("DFS_METAD", &self.metad_addr)
            .env("DFS_SECRET_FILE", &self.secret_file)
            .env_remove("DFS_SECRET")
            .current_dir(self.dir.path());
        command
    }

    /// Runs `dfs ARGS...` against the cluster and returns what it printed.
    pub fn run_dfs(&self, args: &[&str]) -> Output {
        self.run_dfs_with_input(args, None)
    }

    /// Runs `dfs ARGS...` with `input` on its standard input.
    pub fn run_dfs_with_input(&self, args: &[&str], input: Option<&str>) -> Output {
        use std::io::Write;
        let mut command = self.dfs();
        command
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = command.spawn().expect("the dfs binary starts");
        if let Some(text) = input {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            stdin
                .write_all(text.as_bytes())
                .expect("write to dfs stdin");
        }
        let out = child.wait_with_output().expect("dfs runs to the end");
        Output {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs `dfs ARGS...`, panics with its output unless it succeeds, and returns its stdout.
    pub fn dfs_ok(&self, args: &[&str]) -> String {
        let out = self.run_dfs(args);
        assert!(
            out.success,
            "dfs {args:?} failed:\n{}{}",
            out.stdout, out.stderr
        );
        out.stdout
    }

    /// Runs `dfs ARGS...`, panics unless it fails, and returns its stderr.
    pub fn dfs_err(&self, args: &[&str]) -> String {
        let out = self.run_dfs(args);
        assert!(
            !out.success,
            "dfs {args:?} should have failed:\n{}{}",
            out.stdout, out.stderr
        );
        out.stderr
    }
}
