//! Effects: the exact rows a committed transaction writes to the replicated state.
//!
//! A transaction is evaluated once (by the leader, later); what every member applies is its
//! effects, raw keys and encoded values, never the request that produced them. That keeps the
//! state machine free of the namespace logic and of everything non-deterministic in it (time,
//! fresh ids, random upload ids, the soft state of the live nodes and open sessions): see
//! REPLICATION.md §2. The values are already versioned (`store::values`), so effects written
//! by one binary apply on a newer one.
//!
//! Node-local rows (`Cf::Local`) are never effects: [`LocalWrite`] carries them next to the
//! effects to the member that evaluated the transaction, and nowhere else.

use crate::store::Cf;
use serde::{Deserialize, Serialize};

/// One row written (a put, or a deletion when `value` is `None`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Write {
    /// The table: [`Cf::code`], stable across versions, never the enum's position.
    pub cf: u8,
    /// The raw key.
    pub key: Vec<u8>,
    /// The encoded value, or `None` to delete the key.
    pub value: Option<Vec<u8>>,
}

impl Write {
    /// The write of `value` (or a deletion) at `key` of table `cf`.
    pub fn new(cf: Cf, key: Vec<u8>, value: Option<Vec<u8>>) -> Write {
        Write {
            cf: cf.code(),
            key,
            value,
        }
    }
}

/// The effects of one committed transaction: its writes, each key at most once, applied
/// together or not at all.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnEffects {
    /// The rows, in the order the transaction staged them by table and key.
    pub writes: Vec<Write>,
}

impl TxnEffects {
    /// Effects of one write (an id-block reservation).
    pub fn one(write: Write) -> TxnEffects {
        TxnEffects {
            writes: vec![write],
        }
    }
}

/// A node-local row written with a transaction's effects (the `local` table): applied on the
/// member that evaluated the transaction, in the same batch as its effects, never replicated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalWrite {
    /// The raw key in the `local` table.
    pub key: Vec<u8>,
    /// The encoded value, or `None` to delete the key.
    pub value: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use bincode::Options;

    /// The encoding the Raft log will use for entries: bincode with variable-length integers
    /// (the options of the stored values).
    fn codec() -> impl Options {
        bincode::DefaultOptions::new().with_limit(1 << 20)
    }

    #[test]
    fn effects_encode_compactly_and_round_trip() {
        let fx = TxnEffects {
            writes: vec![
                Write::new(Cf::Dentry, b"key".to_vec(), Some(vec![7; 5])),
                Write::new(Cf::NodeSweep, vec![0; 8], None),
            ],
        };
        let bytes = codec().serialize(&fx).unwrap();
        // Every length and the table code is one byte: the overhead of a write is its table,
        // two lengths and the option tag, so effects stay close to the size of the rows.
        #[rustfmt::skip]
        let expected: Vec<u8> = [
            &[2u8][..],                                 // two writes
            &[2, 3], b"key", &[1, 5], &[7; 5],          // dentry, key, Some, value
            &[15, 8], &[0; 8], &[0],                    // node_sweep, key, None
        ]
        .concat();
        assert_eq!(bytes, expected);
        let back: TxnEffects = codec().deserialize(&bytes).unwrap();
        assert_eq!(back, fx);
        assert_eq!(Cf::from_code(back.writes[1].cf), Some(Cf::NodeSweep));
    }

    #[test]
    fn truncated_effects_do_not_decode() {
        let fx = TxnEffects::one(Write::new(Cf::Meta, b"next_chunk".to_vec(), Some(vec![1])));
        let bytes = codec().serialize(&fx).unwrap();
        for len in 0..bytes.len() {
            assert!(
                codec().deserialize::<TxnEffects>(&bytes[..len]).is_err(),
                "{len}"
            );
        }
    }
}
