# Sourced by .ci/run and the dev scripts: where the system RocksDB lives and where builds are cached.
export ROCKSDB_LIB_DIR="${ROCKSDB_LIB_DIR:-/usr/lib/x86_64-linux-gnu}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/dfs/target}"
