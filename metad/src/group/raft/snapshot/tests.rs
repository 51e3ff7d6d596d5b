use super::*;
use crate::store::test_util::temp_store;

fn put(db: &DB, cf: Cf, key: &[u8], value: &[u8]) {
    db.put_cf(crate::group::apply::handle(db, cf).unwrap(), key, value)
        .unwrap();
}

/// A checkpoint of `store` in `dir/snap`, as a leader builds it.
fn checkpoint_of(store: &crate::store::Store, dir: &Path) -> PathBuf {
    let checkpoint = dir.join("snap");
    rocksdb::checkpoint::Checkpoint::new(store.db())
        .unwrap()
        .create_checkpoint(&checkpoint)
        .unwrap();
    checkpoint
}

/// The group folder of a member whose data is in `dir`.
fn group_dir(dir: &Path) -> PathBuf {
    let group = dir.join("group");
    std::fs::create_dir_all(&group).unwrap();
    group
}

fn get(db: &DB, cf: Cf, key: &[u8]) -> Option<Vec<u8>> {
    db.get_cf(crate::group::apply::handle(db, cf).unwrap(), key)
        .unwrap()
}

#[test]
fn an_install_makes_the_state_exactly_the_snapshot_s_and_keeps_local_rows() {
    let (leader_dir, leader) = temp_store();
    let (member_dir, member) = temp_store();
    // The leader's state, with more rows than one copy batch.
    for i in 0..(COPY_ROWS as u32 + 5) {
        put(leader.db(), Cf::Dentry, &i.to_be_bytes(), b"leader");
    }
    put(leader.db(), Cf::Node, b"n", b"leader");
    // The member's older state: rows the snapshot does not have must go.
    put(member.db(), Cf::Dentry, b"\xff\xffstale", b"member");
    put(member.db(), Cf::Upload, b"u", b"member");
    put(member.db(), Cf::Local, b"session/1", b"mine");
    let checkpoint = checkpoint_of(&leader, leader_dir.path());
    let group_dir = group_dir(member_dir.path());
    install_state(member.db(), &group_dir, &checkpoint).unwrap();
    let db = member.db();
    assert_eq!(get(db, Cf::Dentry, b"\xff\xffstale"), None);
    assert_eq!(get(db, Cf::Upload, b"u"), None);
    assert_eq!(get(db, Cf::Node, b"n"), Some(b"leader".to_vec()));
    let copied = db
        .iterator_cf(
            crate::group::apply::handle(db, Cf::Dentry).unwrap(),
            IteratorMode::Start,
        )
        .count();
    assert_eq!(copied, COPY_ROWS + 5);
    assert_eq!(get(db, Cf::Local, b"session/1"), Some(b"mine".to_vec()));
    assert!(!group_dir.join(INSTALLING).exists());
}

#[test]
fn an_interrupted_install_is_finished_at_the_next_start() {
    let (leader_dir, leader) = temp_store();
    let (member_dir, member) = temp_store();
    put(leader.db(), Cf::Dentry, b"d", b"leader");
    put(member.db(), Cf::Dentry, b"old", b"member");
    let checkpoint = checkpoint_of(&leader, leader_dir.path());
    let group_dir = group_dir(member_dir.path());
    // A crash after the marker was written, before the copy finished.
    write_synced(
        &group_dir.join(INSTALLING),
        checkpoint.to_string_lossy().as_bytes(),
    )
    .unwrap();
    finish_interrupted_install(member.db(), &group_dir).unwrap();
    assert_eq!(get(member.db(), Cf::Dentry, b"d"), Some(b"leader".to_vec()));
    assert_eq!(get(member.db(), Cf::Dentry, b"old"), None);
    // Nothing to finish: nothing happens.
    finish_interrupted_install(member.db(), &group_dir).unwrap();
    // The named folder is gone: the member refuses to run on a half-copied state.
    write_synced(&group_dir.join(INSTALLING), b"/no/such/folder").unwrap();
    assert!(finish_interrupted_install(member.db(), &group_dir).is_err());
}

#[test]
fn snapshot_file_names_stay_inside_their_folder() {
    assert!(safe_name("000012.sst").is_ok());
    for bad in ["", "../x", ".hidden", "a/b", "a\\b", &"x".repeat(200)] {
        assert!(safe_name(bad).is_err(), "{bad:?}");
    }
}
