//! Shared parts of the dfs benchmarks: `dfs-bench` (S3 workloads) and `dfs-bench-meta`
//! (metad's own work at millions of objects).

pub mod machine;
pub mod stats;
