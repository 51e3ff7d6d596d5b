//! Choosing chunkds for new replicas: weighted random by free space, never two replicas of a
//! chunk on one node, never a dead or excluded node.
//!
//! Weighting by free bytes fills nodes evenly over time without a global rebalancer, and the
//! randomness spreads the chunks of one file over many nodes (parallel reads, and a dead node
//! costs every file a little rather than a few files everything).

use dfs_common::NodeId;
use rand::Rng;

/// A node that may receive a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    /// The node.
    pub id: NodeId,
    /// Whether it is alive.
    pub live: bool,
    /// Its capacity in bytes (0 when it did not say).
    pub capacity: u64,
    /// Its bytes in use.
    pub used: u64,
}

impl Candidate {
    fn free(&self) -> u64 {
        self.capacity.saturating_sub(self.used)
    }
}

/// Too few eligible nodes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("need {need} live chunkds, {alive} alive{}", excluded_note(*.excluded, *.full))]
pub struct NotEnoughNodes {
    /// Nodes wanted.
    pub need: usize,
    /// Live nodes (excluded or not).
    pub alive: usize,
    /// Live nodes left out because the caller excluded them.
    pub excluded: usize,
    /// Live nodes left out because they have no room for the chunk.
    pub full: usize,
}

impl NotEnoughNodes {
    /// Whether the shortfall is for want of room: enough live nodes are eligible, but too
    /// many of them are full. Waiting does not help then, unlike for a node that is down.
    pub fn is_full(&self) -> bool {
        self.full > 0 && self.alive - self.excluded >= self.need
    }
}

fn excluded_note(excluded: usize, full: usize) -> String {
    let mut note = String::new();
    if excluded > 0 {
        note.push_str(&format!(", {excluded} of them excluded"));
    }
    if full > 0 {
        note.push_str(&format!(", {full} of them full"));
    }
    note
}

/// Picks `count` distinct nodes among the live candidates not in `exclude` that have room for
/// `bytes` more, each draw weighted by free space. Nodes that report no capacity are eligible
/// with a minimal weight.
pub fn choose(
    candidates: &[Candidate],
    count: usize,
    exclude: &[NodeId],
    bytes: u64,
    rng: &mut impl Rng,
) -> Result<Vec<NodeId>, NotEnoughNodes> {
    let mut alive = 0;
    let mut excluded = 0;
    let mut full = 0;
    let mut pool: Vec<(NodeId, u128)> = Vec::new();
    for c in candidates {
        if !c.live || pool.iter().any(|(id, _)| *id == c.id) {
            continue;
        }
        alive += 1;
        if exclude.contains(&c.id) {
            excluded += 1;
        } else if c.capacity > 0 && c.free() < bytes {
            full += 1;
        } else {
            pool.push((c.id, u128::from(c.free()) + 1));
        }
    }
    if pool.len() < count {
        return Err(NotEnoughNodes {
            need: count,
            alive,
            excluded,
            full,
        });
    }
    let mut chosen = Vec::with_capacity(count);
    for _ in 0..count {
        let total: u128 = pool.iter().map(|(_, w)| w).sum();
        let mut ticket = rng.gen_range(0..total);
        let mut pick = pool.len() - 1;
        for (i, (_, weight)) in pool.iter().enumerate() {
            if ticket < *weight {
                pick = i;
                break;
            }
            ticket -= weight;
        }
        chosen.push(pool.swap_remove(pick).0);
    }
    Ok(chosen)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    fn node(id: u64, live: bool, capacity: u64, used: u64) -> Candidate {
        Candidate {
            id: NodeId(id),
            live,
            capacity,
            used,
        }
    }

    #[test]
    fn never_two_replicas_on_one_node_and_never_dead_ones() {
        let nodes = [
            node(1, true, 100, 0),
            node(2, false, 1000, 0),
            node(3, true, 100, 90),
            node(4, true, 0, 0),
        ];
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let mut chosen = choose(&nodes, 3, &[], 1, &mut rng).unwrap();
            chosen.sort();
            assert_eq!(chosen, [NodeId(1), NodeId(3), NodeId(4)]);
        }
        for _ in 0..200 {
            let chosen = choose(&nodes, 2, &[NodeId(1)], 1, &mut rng).unwrap();
            assert!(!chosen.contains(&NodeId(1)) && !chosen.contains(&NodeId(2)));
            assert_ne!(chosen[0], chosen[1]);
        }
    }

    #[test]
    fn prefers_free_space() {
        let nodes = [node(1, true, 1000, 0), node(2, true, 1000, 990)];
        let mut rng = StdRng::seed_from_u64(1);
        let first = (0..1000)
            .filter(|_| choose(&nodes, 1, &[], 1, &mut rng).unwrap() == [NodeId(1)])
            .count();
        assert!(first > 900, "{first}");
    }

    #[test]
    fn not_enough_nodes_says_how_many() {
        let nodes = [node(1, true, 100, 0), node(2, false, 100, 0)];
        let mut rng = StdRng::seed_from_u64(3);
        let err = choose(&nodes, 2, &[], 1, &mut rng).unwrap_err();
        assert_eq!(err.to_string(), "need 2 live chunkds, 1 alive");
        let err = choose(&nodes, 1, &[NodeId(1)], 1, &mut rng).unwrap_err();
        assert_eq!(
            err.to_string(),
            "need 1 live chunkds, 1 alive, 1 of them excluded"
        );
        let err = choose(&nodes, 1, &[], 1000, &mut rng).unwrap_err();
        assert!(err.to_string().contains("1 of them full"), "{err}");
        assert!(choose(&[], 1, &[], 1, &mut rng).is_err());
    }

    /// A full cluster is told apart from one missing nodes: only the first is final.
    #[test]
    fn a_shortfall_of_room_is_full_and_one_of_nodes_is_not() {
        let mut rng = StdRng::seed_from_u64(4);
        let full = [
            node(1, true, 100, 100),
            node(2, true, 100, 0),
            node(3, false, 100, 0),
        ];
        assert!(choose(&full, 2, &[], 10, &mut rng).unwrap_err().is_full());
        // One node down, and no other to take its place: not a matter of room.
        let down = [node(1, true, 100, 0), node(2, false, 100, 0)];
        assert!(!choose(&down, 2, &[], 10, &mut rng).unwrap_err().is_full());
        // Too few once the caller's exclusions are out, even with one full: not full either.
        let err = choose(&full, 2, &[NodeId(2)], 10, &mut rng).unwrap_err();
        assert!(!err.is_full(), "{err}");
    }
}
