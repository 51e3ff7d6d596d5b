//! Parsing member lists, and [`call_group`] against real HTTP servers on loopback: a member
//! that redirects to the leader, one that knows no leader, and addresses nobody listens on.

use super::*;
use crate::auth::ClusterSecret;
use crate::http::{error_response, json_response, serve};
use crate::wire::{StatusReq, StatusResp};
use crate::ErrorCode;
use hyper::StatusCode;
use tokio::net::TcpListener;

#[test]
fn lists_parse_with_blanks_and_repeats() {
    let group = MetadGroup::parse(" a:1, b:2 ,,a:1").unwrap();
    assert_eq!(group.members(), ["a:1", "b:2"]);
    assert_eq!(group.to_string(), "a:1,b:2");
    assert_eq!(group.current(), "a:1");
    assert!(MetadGroup::parse("").is_err());
    assert!(MetadGroup::parse(" , ").is_err());
    assert!(MetadGroup::parse("a b:1").is_err());
}

#[test]
fn a_hint_is_followed_and_a_failed_leader_forgotten() {
    let group = MetadGroup::parse("a:1,b:2,c:3").unwrap();
    group.failed("a:1", &RpcError::not_leader(Some("c:3".into()), "follower"));
    assert_eq!(group.current(), "c:3");
    group.failed("c:3", &RpcError::detailed(ErrorDetail::Unreachable, "down"));
    let after = group.current();
    assert_ne!(after, "c:3");
    group.answered("b:2");
    assert_eq!(group.current(), "b:2");
    // A failure of another address than the leader's leaves the leader alone.
    group.failed("a:1", &RpcError::detailed(ErrorDetail::Unreachable, "down"));
    assert_eq!(group.current(), "b:2");
}

/// A server that answers every request with `answer`; returns its address.
async fn server(answer: fn() -> Result<StatusResp, RpcError>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let handler = move |_req| async move {
        match answer() {
            Ok(resp) => json_response(StatusCode::OK, &resp),
            Err(err) => error_response(&err),
        }
    };
    tokio::spawn(serve(
        listener,
        crate::http::ServeLimits::default(),
        handler,
        std::future::pending(),
    ));
    addr
}

/// An address nobody listens on.
async fn dead_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().to_string()
}

fn status(replication: u32) -> StatusResp {
    StatusResp {
        nodes: Vec::new(),
        replication,
        chunks: 0,
        under_replicated: 0,
        lost: 0,
        repair_queue: 0,
        gc_queue: 0,
        detached_trees: 0,
        dead_node_sweeps: 0,
        metad: Vec::new(),
    }
}

fn client() -> InternalClient {
    InternalClient::new(ClusterSecret::new("metad-group-test-secret").unwrap())
}

#[tokio::test]
async fn requests_find_the_leader_through_dead_members_and_hints() {
    let leader = server(|| Ok(status(7))).await;
    // The follower's hint is fixed when it starts, as a member learns the leader's address.
    static LEADER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LEADER.set(leader.clone()).unwrap();
    let follower = server(|| {
        Err(RpcError::not_leader(
            LEADER.get().cloned(),
            "member 2 is not the leader",
        ))
    })
    .await;
    let group = MetadGroup::parse(&format!("{},{follower}", dead_addr().await)).unwrap();
    let http = client();
    let resp = call_group(&http, &group, &StatusReq {}).await.unwrap();
    assert_eq!(resp.replication, 7);
    // The leader is remembered: the next request goes straight there.
    assert_eq!(group.current(), leader);
    assert_eq!(
        call_group(&http, &group, &StatusReq {})
            .await
            .unwrap()
            .replication,
        7
    );
}

#[tokio::test]
async fn a_group_without_a_reachable_leader_fails_after_one_round() {
    let leaderless = server(|| Err(RpcError::not_leader(None, "an election is under way"))).await;
    let group = MetadGroup::parse(&format!("{},{leaderless}", dead_addr().await)).unwrap();
    let err = call_group(&client(), &group, &StatusReq {})
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Unavailable);
    assert!(
        err.message.starts_with("no metad of ") && err.message.contains(&leaderless),
        "{}",
        err.message
    );

    let group = MetadGroup::parse(&format!("{},{}", dead_addr().await, dead_addr().await)).unwrap();
    let err = call_group(&client(), &group, &StatusReq {})
        .await
        .unwrap_err();
    assert_eq!(err.detail, ErrorDetail::Unreachable);
}

#[tokio::test]
async fn a_member_cut_off_from_the_majority_passes_the_request_on() {
    let minority = server(|| {
        Err(RpcError::detailed(
            ErrorDetail::NoQuorum,
            "metad 3 has known no leader for 4.0 s",
        ))
    })
    .await;
    let leader = server(|| Ok(status(5))).await;
    let group = MetadGroup::parse(&format!("{minority},{leader}")).unwrap();
    let resp = call_group(&client(), &group, &StatusReq {}).await.unwrap();
    assert_eq!(resp.replication, 5);
    // With no other member to answer, the answer is the minority's, not the silence of the
    // members that are down.
    let group = MetadGroup::parse(&format!("{minority},{}", dead_addr().await)).unwrap();
    let err = call_group(&client(), &group, &StatusReq {})
        .await
        .unwrap_err();
    assert_eq!(err.detail, ErrorDetail::NoQuorum, "{err}");
}

#[tokio::test]
async fn an_error_of_the_request_itself_is_not_sent_to_other_members() {
    let refusing = server(|| Err(RpcError::invalid("bad request"))).await;
    let answering = server(|| Ok(status(1))).await;
    let group = MetadGroup::parse(&format!("{refusing},{answering}")).unwrap();
    let err = call_group(&client(), &group, &StatusReq {})
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidArgument);
}

/// A member that takes connections and drops them unanswered (a member dying mid-request).
async fn silent_addr() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            drop(conn);
        }
    });
    addr
}

#[tokio::test]
async fn a_member_that_took_a_request_unanswered_is_not_asked_first_again() {
    let silent = silent_addr().await;
    let answering = server(|| Ok(status(3))).await;
    let group = MetadGroup::parse(&format!("{silent},{answering}")).unwrap();
    let http = client();
    // The request may have been done there: this call ends with that doubt ...
    let err = call_group(&http, &group, &StatusReq {}).await.unwrap_err();
    assert_eq!(err.detail, ErrorDetail::NoAnswer, "{}", err.message);
    // ... and the next one starts with another member.
    let resp = call_group(&http, &group, &StatusReq {}).await.unwrap();
    assert_eq!(resp.replication, 3);
}
