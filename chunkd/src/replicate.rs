//! `POST /replicate/<id>?to=<host:port>`: metad orders this node to copy a chunk it holds to a
//! peer (re-replication after a node died or a copy was found corrupt). The chunk is streamed,
//! each block verified before it leaves, as a normal signed `PUT /chunk/<id>` to the peer, and
//! the order is answered only once the peer acknowledged a durable copy.

use crate::stream::{self, OpenError};
use crate::{check_host_port, Node};
use dfs_common::checksum::crc_to_hex;
use dfs_common::http::{decode_json, json_response, read_body, Body};
use dfs_common::wire::{ChunkPutResp, CHUNK_PATH_PREFIX};
use dfs_common::{ChunkId, ErrorCode, RpcError};
use http::{Method, Response, StatusCode};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;

/// How long a copy to a peer may take. Generous: a 64 MiB chunk at even 1 MiB/s fits.
const REPLICATE_TIMEOUT: Duration = Duration::from_secs(300);

/// Handles a replication order.
pub async fn handle(
    node: &Arc<Node>,
    id: ChunkId,
    query: Option<&str>,
) -> Result<Response<Body>, RpcError> {
    let to = target(query)?;
    let opened = stream::open(node, id, None).await.map_err(|e| match e {
        OpenError::Store(e) => e.to_rpc(),
        OpenError::Unsatisfiable { .. } => RpcError::internal("whole-chunk read refused"),
    })?;
    let (len, crc) = (opened.len, opened.crc32c);
    let content = format!("crc32c={}", crc_to_hex(crc));
    let path = format!("{CHUNK_PATH_PREFIX}{id}");
    let send = async {
        let resp = node
            .client
            .send_ok(Method::PUT, &to, &path, &content, opened.body.boxed())
            .await?;
        let bytes = read_body(resp.into_body(), 64 * 1024).await?;
        decode_json::<ChunkPutResp>(&bytes)
    };
    let ack = match tokio::time::timeout(REPLICATE_TIMEOUT, send).await {
        Ok(Ok(ack)) => ack,
        Ok(Err(e)) => {
            // Our reader ends the upload with an error when a block fails its CRC, which the
            // peer sees as a cut body; the chunk is then quarantined here, which says why.
            if !node.store.contains(id) {
                return Err(RpcError::new(
                    ErrorCode::Corrupt,
                    format!("chunk {id} failed its checksum while being copied to {to}; it was quarantined here"),
                ));
            }
            // A failure of the peer is not ours: answer 503 so metad picks another target.
            return Err(RpcError::unavailable(format!(
                "copy of chunk {id} to {to} failed: {e}"
            )));
        }
        Err(_) => {
            return Err(RpcError::unavailable(format!(
                "copy of chunk {id} to {to} was not acknowledged within {} s",
                REPLICATE_TIMEOUT.as_secs()
            )))
        }
    };
    if ack.len != len || ack.crc32c != crc {
        return Err(RpcError::internal(format!(
            "peer {to} acknowledged chunk {id} as {} bytes with CRC32C {}, expected {len} bytes with {}",
            ack.len,
            crc_to_hex(ack.crc32c),
            crc_to_hex(crc)
        )));
    }
    tracing::info!(%to, len, "chunk copied to peer");
    Ok(json_response(StatusCode::OK, &ack))
}

/// The `to` parameter of the query, checked to be a plain `host:port`.
fn target(query: Option<&str>) -> Result<String, RpcError> {
    let value = query
        .unwrap_or("")
        .split('&')
        .find_map(|pair| pair.strip_prefix("to="))
        .ok_or_else(|| RpcError::invalid("replicate needs ?to=<host:port>"))?;
    let to = percent_decode(value)
        .ok_or_else(|| RpcError::invalid(format!("malformed to={value:?}")))?;
    check_host_port(&to)
        .map_err(|e| RpcError::invalid(format!("replication target {to:?}: {e}")))?;
    Ok(to)
}

/// Decodes `%XX` escapes (a `host:port` may arrive as `host%3Aport`); `None` on a bad escape
/// or a result that is not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(target(Some("to=127.0.0.1:7801")).unwrap(), "127.0.0.1:7801");
        assert_eq!(target(Some("x=1&to=node-2%3A7800")).unwrap(), "node-2:7800");
        assert_eq!(target(Some("to=[::1]:7800")).unwrap(), "[::1]:7800");
        for bad in [
            None,
            Some(""),
            Some("to="),
            Some("to=host"),
            Some("to=host:0"),
            Some("to=host:99999"),
            Some("to=evil.com/x?:80"),
            Some("to=user@host:80"),
            Some("to=%zz"),
            Some("to=:80"),
        ] {
            assert!(target(bad).is_err(), "{bad:?}");
        }
    }
}
