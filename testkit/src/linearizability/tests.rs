//! Known histories: the checker accepts what a register allows and refuses what it does not.

use super::*;

fn op(action: Action, invoke: u64, complete: Option<u64>) -> Op {
    Op {
        client: 0,
        action,
        invoke,
        complete,
    }
}

#[test]
fn sequential_histories_follow_the_register() {
    let good = [
        op(Action::Get(None), 0, Some(1)),
        op(Action::Put(1), 2, Some(3)),
        op(Action::Get(Some(1)), 4, Some(5)),
        op(Action::Delete, 6, Some(7)),
        op(Action::Get(None), 8, Some(9)),
    ];
    assert_eq!(check_register(&good), Ok(()));
    // A read after a completed write that returns the older value.
    let stale = [
        op(Action::Put(1), 0, Some(1)),
        op(Action::Put(2), 2, Some(3)),
        op(Action::Get(Some(1)), 4, Some(5)),
    ];
    assert!(check_register(&stale).is_err());
    // A read of a value never written.
    assert!(check_register(&[op(Action::Get(Some(9)), 0, Some(1))]).is_err());
}

#[test]
fn concurrent_operations_may_take_effect_in_either_order() {
    // Both reads overlap the write: one may see it and the other not, in that order only.
    let ok = [
        op(Action::Put(1), 0, Some(10)),
        op(Action::Get(None), 1, Some(3)),
        op(Action::Get(Some(1)), 4, Some(6)),
    ];
    assert_eq!(check_register(&ok), Ok(()));
    // The new value is seen, then the old one by a read that began after: not linearizable.
    let flicker = [
        op(Action::Put(1), 0, Some(10)),
        op(Action::Get(Some(1)), 1, Some(3)),
        op(Action::Get(None), 4, Some(6)),
    ];
    let err = check_register(&flicker).unwrap_err();
    assert!(!err.longest.is_empty());
}

#[test]
fn a_write_of_unknown_outcome_may_apply_late_or_never() {
    // It never applied.
    let never = [
        op(Action::Put(1), 0, None),
        op(Action::Get(None), 5, Some(6)),
    ];
    assert_eq!(check_register(&never), Ok(()));
    // It applied long after it was sent (a retry that landed).
    let late = [
        op(Action::Put(1), 0, None),
        op(Action::Get(None), 5, Some(6)),
        op(Action::Get(Some(1)), 7, Some(8)),
    ];
    assert_eq!(check_register(&late), Ok(()));
    // But it cannot apply before it was sent.
    let early = [
        op(Action::Get(Some(1)), 0, Some(1)),
        op(Action::Put(1), 2, None),
    ];
    assert!(check_register(&early).is_err());
}

#[test]
fn long_concurrent_histories_are_checked_quickly() {
    // Four clients in lockstep, each writing its own values and reading: 120 operations.
    let mut history = Vec::new();
    let mut last = None;
    for round in 0..30u64 {
        let t = round * 10;
        for client in 0..3u64 {
            let value = round * 3 + client + 1;
            history.push(Op {
                client: client as usize,
                action: Action::Put(value),
                invoke: t,
                complete: Some(t + 5),
            });
            last = Some(value);
        }
        history.push(Op {
            client: 3,
            action: Action::Get(last),
            invoke: t + 6,
            complete: Some(t + 8),
        });
    }
    assert_eq!(history.len(), 120);
    assert_eq!(check_register(&history), Ok(()));
}
