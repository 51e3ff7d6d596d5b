//! Sealing access-key secrets with the cluster secret, so that a copy of metad's database
//! (a backup, a disk sent for repair) does not give away the S3 credentials.
//!
//! Construction, for a secret `s` of the key with id `k` (always 20 bytes: ids are checked at
//! creation, so the concatenations below are unambiguous) and the cluster secret `C`:
//! - keystream block `i` = HMAC-SHA256(C, `"dfs-key-secret"` ‖ k ‖ be32(i)), 32 bytes each;
//! - sealed = s XOR the first |s| bytes of the keystream;
//! - tag = HMAC-SHA256(C, `"dfs-key-tag"` ‖ k ‖ sealed) (encrypt-then-MAC).
//!
//! Why this suffices. HMAC-SHA256 under a secret key is a pseudo-random function, so without
//! `C` the keystream is indistinguishable from random bytes. Each key id gets its own keystream,
//! key ids are unique, and a key's secret is sealed once when the key is created (it is never
//! changed in place: a new secret means a new key id), so no keystream is ever used for two
//! different plaintexts: the XOR is a one-time pad, and the sealed bytes reveal nothing but the
//! secret's length (always 40). XOR alone is malleable, so the tag, over the key id and the
//! sealed bytes, detects a corrupted or edited record and a sealed secret moved to another key
//! record; it is checked, in constant time, before anything is decrypted. The two uses of `C`
//! are kept apart by their labels, and both differ from request signatures (which start with
//! `DFS1\n`).
//!
//! Limits, on purpose: every daemon holds `C`, so anyone with the cluster secret can read the
//! secrets (they can sign internal requests anyway); the grants and names are not sealed (who
//! can write the database controls the cluster regardless); and changing the cluster secret
//! makes every stored secret unreadable (`open` then fails clearly; re-create the keys). No new
//! dependency is needed: HMAC-SHA256 already signs every internal request.

use dfs_common::auth::{constant_time_eq, ClusterSecret};

const STREAM_LABEL: &[u8] = b"dfs-key-secret";
const TAG_LABEL: &[u8] = b"dfs-key-tag";

/// A sealed secret that failed its integrity check.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the stored secret of access key {0} fails its integrity check (the database was changed, \
     or the cluster secret is not the one the key was created with)"
)]
pub struct TamperedSecret(pub String);

/// Encrypts `secret` for key `key_id`; returns the sealed bytes and their tag.
pub fn seal(cluster: &ClusterSecret, key_id: &str, secret: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let sealed = xor_keystream(cluster, key_id, secret);
    let tag = tag(cluster, key_id, &sealed).to_vec();
    (sealed, tag)
}

/// Checks the tag and decrypts a sealed secret.
pub fn open(
    cluster: &ClusterSecret,
    key_id: &str,
    sealed: &[u8],
    given_tag: &[u8],
) -> Result<Vec<u8>, TamperedSecret> {
    if !constant_time_eq(&tag(cluster, key_id, sealed), given_tag) {
        return Err(TamperedSecret(key_id.to_owned()));
    }
    Ok(xor_keystream(cluster, key_id, sealed))
}

/// XORs `data` with the key's keystream (the same call seals and unseals).
fn xor_keystream(cluster: &ClusterSecret, key_id: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    for (counter, block) in (0u32..).zip(data.chunks(32)) {
        let pad = cluster.mac(&[STREAM_LABEL, key_id.as_bytes(), &counter.to_be_bytes()]);
        out.extend(block.iter().zip(pad).map(|(b, p)| b ^ p));
    }
    out
}

fn tag(cluster: &ClusterSecret, key_id: &str, sealed: &[u8]) -> [u8; 32] {
    cluster.mac(&[TAG_LABEL, key_id.as_bytes(), sealed])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(text: &str) -> ClusterSecret {
        ClusterSecret::new(text).unwrap()
    }

    #[test]
    fn round_trip_and_the_secret_does_not_show() {
        let c = cluster("0123456789abcdef0123");
        let secret = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN";
        let (sealed, tag) = seal(&c, "DFSAAAAAAAAAAAAAAAAA", secret);
        assert_eq!(sealed.len(), secret.len());
        assert_ne!(sealed.as_slice(), secret.as_slice());
        assert!(!sealed.windows(4).any(|w| secret.windows(4).any(|s| s == w)));
        let opened = open(&c, "DFSAAAAAAAAAAAAAAAAA", &sealed, &tag).unwrap();
        assert_eq!(opened, secret);
        // Another key id gets another keystream.
        let (other, _) = seal(&c, "DFSBBBBBBBBBBBBBBBBB", secret);
        assert_ne!(other, sealed);
    }

    #[test]
    fn tampering_a_wrong_key_id_or_cluster_secret_is_detected() {
        let c = cluster("0123456789abcdef0123");
        let id = "DFSAAAAAAAAAAAAAAAAA";
        let (sealed, tag) = seal(&c, id, b"0123456789012345678901234567890123456789");
        let mut flipped = sealed.clone();
        flipped[3] ^= 1;
        assert!(open(&c, id, &flipped, &tag).is_err());
        assert!(open(&c, "DFSBBBBBBBBBBBBBBBBB", &sealed, &tag).is_err());
        assert!(open(&c, id, &sealed, &tag[..31]).is_err());
        let err = open(&cluster("another-cluster-secret"), id, &sealed, &tag).unwrap_err();
        assert!(err.to_string().contains(id), "{err}");
    }
}
