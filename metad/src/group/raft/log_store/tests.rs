use super::*;
use crate::group::raft::types::{Epoch, Proposal, PROPOSAL_VERSION};
use crate::group::{TxnEffects, Write};
use crate::store::Cf;
use openraft::{CommittedLeaderId, EntryPayload};

fn entry(term: u64, index: u64, key: &[u8]) -> Entry<TypeConfig> {
    let proposal = Proposal {
        version: PROPOSAL_VERSION,
        epoch: Epoch {
            term,
            leader: 1,
            restart: 0,
        },
        seq: index,
        prev: None,
        base: 0,
        stamp_ms: 0,
        txns: vec![TxnEffects::one(Write::new(
            Cf::Dentry,
            key.to_vec(),
            Some(b"v".to_vec()),
        ))],
    };
    Entry {
        log_id: LogId::new(CommittedLeaderId::new(term, 1), index),
        payload: EntryPayload::Normal(proposal),
    }
}

fn indexes(entries: &[Entry<TypeConfig>]) -> Vec<u64> {
    entries.iter().map(|e| e.log_id.index).collect()
}

#[tokio::test]
async fn entries_round_trip_truncate_and_purge() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path()).unwrap();
    assert!(log.is_pristine().unwrap());
    let written: Vec<_> = (1..=5).map(|i| entry(1, i, &[i as u8])).collect();
    log.write_entries(&written).unwrap();
    assert!(!log.is_pristine().unwrap());

    let read = log.try_get_log_entries(2..4).await.unwrap();
    assert_eq!(indexes(&read), [2, 3]);
    assert_eq!(read[0], written[1]);
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_log_id, Some(written[4].log_id));
    assert_eq!(state.last_purged_log_id, None);

    // A new leader's conflicting entries replace the tail.
    log.truncate(written[3].log_id).await.unwrap();
    assert_eq!(
        indexes(&log.try_get_log_entries(..).await.unwrap()),
        [1, 2, 3]
    );
    log.write_entries(&[entry(2, 4, b"x")]).unwrap();

    log.purge(written[1].log_id).await.unwrap();
    assert_eq!(indexes(&log.try_get_log_entries(..).await.unwrap()), [3, 4]);
    let state = log.get_log_state().await.unwrap();
    assert_eq!(state.last_purged_log_id, Some(written[1].log_id));
    assert_eq!(
        state.last_log_id.map(|id| (id.leader_id.term, id.index)),
        Some((2, 4))
    );

    // Everything survives a reopen.
    drop(log);
    let mut log = LogStore::open(dir.path()).unwrap();
    assert_eq!(indexes(&log.try_get_log_entries(..).await.unwrap()), [3, 4]);
}

#[tokio::test]
async fn a_purged_log_keeps_its_last_id_and_the_vote_persists() {
    let dir = tempfile::tempdir().unwrap();
    let mut log = LogStore::open(dir.path()).unwrap();
    let written: Vec<_> = (1..=3).map(|i| entry(1, i, b"k")).collect();
    log.write_entries(&written).unwrap();
    log.purge(written[2].log_id).await.unwrap();
    let state = log.get_log_state().await.unwrap();
    assert_eq!(
        state.last_log_id,
        Some(written[2].log_id),
        "all purged: the last is the purged one"
    );

    let vote = Vote::new(3, 2);
    log.save_vote(&vote).await.unwrap();
    drop(log);
    let mut log = LogStore::open(dir.path()).unwrap();
    assert_eq!(log.read_vote().await.unwrap(), Some(vote));
}

#[test]
fn an_entry_of_an_unknown_format_is_refused() {
    let bytes = encode_entry(&entry(1, 1, b"k")).unwrap();
    assert_eq!(bytes[0], ENTRY_FORMAT);
    assert!(decode_entry(&bytes).is_ok());
    let mut newer = bytes.clone();
    newer[0] = 2;
    let err = decode_entry(&newer).unwrap_err().to_string();
    assert!(err.contains("format 2"), "{err}");
    assert!(decode_entry(&[]).is_err());
}
