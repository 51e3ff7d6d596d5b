//! A linearizability checker for histories of one key used as a register (S3 PUT, GET and
//! DELETE of one object), after Wing & Gong's search with Lowe's memoization.
//!
//! A history is linearizable when every operation can be given one instant between its
//! invocation and its completion such that, taken in that order, the operations behave like a
//! register: a GET returns the value of the last PUT before it, or nothing after a DELETE (or
//! before any PUT). An operation that failed or got no answer may have taken effect at any
//! instant after its invocation, or never: the checker tries both. Keys are independent
//! (a register per key), so each key's history is checked on its own, which keeps the search
//! small.

use std::collections::HashSet;

/// What an operation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Stored the value.
    Put(u64),
    /// Read the value (`None`: no such key).
    Get(Option<u64>),
    /// Deleted the key.
    Delete,
}

/// One operation of a history, with its invocation and completion instants (any monotonic
/// unit). A write whose outcome is unknown (an error, no answer) has `complete: None`; a
/// read that failed says nothing and is left out of the history.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Op {
    /// The client that ran it (for reports).
    pub client: usize,
    /// What it did.
    pub action: Action,
    /// When it was sent.
    pub invoke: u64,
    /// When its answer came; `None` when it may or may not have taken effect.
    pub complete: Option<u64>,
}

impl Op {
    fn complete_or_never(&self) -> u64 {
        self.complete.unwrap_or(u64::MAX)
    }
}

/// Why a history is not linearizable: the longest prefix of operations the search could order
/// (indices into the history), for a report.
#[derive(Debug, PartialEq, Eq)]
pub struct Violation {
    /// The deepest order found.
    pub longest: Vec<usize>,
}

/// Most operations one key's history may hold: the search remembers sets of operations as
/// bitmaps of this width.
pub const MAX_OPS: usize = 128;

/// Checks one key's history, starting from an absent key.
pub fn check_register(history: &[Op]) -> Result<(), Violation> {
    assert!(
        history.len() <= MAX_OPS,
        "a key's history holds at most {MAX_OPS} operations, not {}",
        history.len()
    );
    let mut search = Search {
        history,
        seen: HashSet::new(),
        order: Vec::new(),
        longest: Vec::new(),
    };
    if search.extend(0, None) {
        Ok(())
    } else {
        Err(Violation {
            longest: search.longest,
        })
    }
}

/// The depth-first search over orders: `done` is the set of operations ordered so far (a
/// bitmap), `state` the register's value after them.
struct Search<'a> {
    history: &'a [Op],
    /// (done, state) pairs already explored and found to lead nowhere.
    seen: HashSet<(u128, Option<u64>)>,
    order: Vec<usize>,
    longest: Vec<usize>,
}

impl Search<'_> {
    fn extend(&mut self, done: u128, state: Option<u64>) -> bool {
        let pending = |i: usize| done & (1u128 << i) == 0;
        // Every operation known to have completed is ordered: the rest (unknown outcomes)
        // may never have happened.
        let finished =
            (0..self.history.len()).all(|i| !pending(i) || self.history[i].complete.is_none());
        if finished {
            return true;
        }
        if !self.seen.insert((done, state)) {
            return false;
        }
        // The next operation must have been invoked before every pending one completed.
        let horizon = (0..self.history.len())
            .filter(|&i| pending(i))
            .map(|i| self.history[i].complete_or_never())
            .min()
            .unwrap_or(u64::MAX);
        for i in 0..self.history.len() {
            let op = self.history[i];
            if !pending(i) || op.invoke > horizon {
                continue;
            }
            let next = match op.action {
                Action::Put(value) => Some(value),
                Action::Delete => None,
                Action::Get(seen) if seen == state => state,
                Action::Get(_) => continue,
            };
            self.order.push(i);
            if self.order.len() > self.longest.len() {
                self.longest.clone_from(&self.order);
            }
            if self.extend(done | (1u128 << i), next) {
                return true;
            }
            self.order.pop();
        }
        false
    }
}

#[cfg(test)]
mod tests;
