//! S3 administration: access keys (`key create|list|delete`) and buckets with their grants
//! (`bucket ls|allow|deny`). Every call goes to metad; the gateway reads the result from there.

use super::emit;
use super::uploads::bucket_name;
use crate::args::{BucketCommand, GrantArgs, KeyCommand};
use crate::output::{escape, format_table, format_time_short, shell_quote, Align};
use crate::{CliError, Context};
use dfs_client::DfsClient;
use dfs_common::wire::{
    BucketAllowReq, BucketDenyReq, BucketGrant, BucketInfo, KeyCreateResp, KeyInfo,
};
use dfs_common::{ErrorCode, RpcError};

/// Runs `key ...`.
pub async fn key(ctx: &mut Context, command: KeyCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        KeyCommand::Create { name } => {
            let created = client.keys().create(&name).await?;
            emit(&format_key_exports(&created))?;
            // On stderr, so that `eval "$(dfs key create x)"` or `> key.env` keep only the exports.
            eprintln!(
                "created access key {} ({}); its secret is shown only this once: keep it now",
                created.key_id,
                escape(&name)
            );
            Ok(())
        }
        KeyCommand::List => {
            let listed = client.keys().list().await?;
            emit(&format_keys(&listed.keys))
        }
        KeyCommand::Delete { key_id } => {
            client
                .keys()
                .delete(&key_id)
                .await
                .map_err(no_such_key(&key_id))?;
            Ok(())
        }
    }
}

/// Runs `bucket ...`.
pub async fn bucket(ctx: &mut Context, command: BucketCommand) -> Result<(), CliError> {
    let client = ctx.client()?;
    match command {
        BucketCommand::Ls => {
            let listed = client.buckets().list(None).await?;
            emit(&format_buckets(&listed.buckets))
        }
        BucketCommand::Allow(args) => {
            let (read, write, owner) = args.rights();
            let req = BucketAllowReq {
                bucket: bucket_name(&args.bucket)?,
                key_id: args.key_id.clone(),
                read,
                write,
                owner,
            };
            let info = match client.buckets().allow(&req).await {
                Ok(info) => info,
                Err(err) if err.code == ErrorCode::NotFound => {
                    return Err(which_is_missing(&client, &args).await)
                }
                Err(err) => return Err(err.into()),
            };
            emit(&format_key_grants(&info))
        }
        BucketCommand::Deny(args) => {
            let (read, write, owner) = args.rights();
            let req = BucketDenyReq {
                bucket: bucket_name(&args.bucket)?,
                key_id: args.key_id.clone(),
                read,
                write,
                owner,
            };
            // The bucket need not exist (grants on a deleted bucket can still be cleared), so
            // only the key can be missing.
            let info = client
                .buckets()
                .deny(&req)
                .await
                .map_err(no_such_key(&args.key_id))?;
            emit(&format_key_grants(&info))
        }
    }
}

/// Maps `NotFound` to "no such access key: KEY_ID".
fn no_such_key(key_id: &str) -> impl FnOnce(RpcError) -> CliError + '_ {
    move |err| match err.code {
        ErrorCode::NotFound => CliError::NoSuch {
            what: "access key",
            name: key_id.to_owned(),
        },
        _ => err.into(),
    }
}

/// `bucket allow` answers `NotFound` for a missing bucket and for a missing key alike: ask
/// metad which of the two it was, so the person reads the name that is wrong.
async fn which_is_missing(client: &DfsClient, args: &GrantArgs) -> CliError {
    match client.keys().list().await {
        Ok(listed) if !listed.keys.iter().any(|k| k.key_id == args.key_id) => CliError::NoSuch {
            what: "access key",
            name: args.key_id.clone(),
        },
        Ok(_) => CliError::NoSuch {
            what: "bucket",
            name: args.bucket.clone(),
        },
        // metad went away in between: say so.
        Err(err) => err.into(),
    }
}

/// The lines `key create` prints: paste them into a shell to use the key with S3 tools.
pub fn format_key_exports(created: &KeyCreateResp) -> String {
    format!(
        "export AWS_ACCESS_KEY_ID={}\nexport AWS_SECRET_ACCESS_KEY={}\n",
        shell_quote(&created.key_id),
        shell_quote(created.secret.expose())
    )
}

/// The rights of one grant as letters: `r`ead, `w`rite, `o`wner (`rwo`, `r`, `wo`, ...).
pub fn format_rights(grant: &BucketGrant) -> String {
    [(grant.read, 'r'), (grant.write, 'w'), (grant.owner, 'o')]
        .iter()
        .filter(|(set, _)| *set)
        .map(|(_, letter)| *letter)
        .collect()
}

/// Every grant of a key on one line: `b1:rwo b2:r`; `-` for none.
pub fn format_grants(grants: &[BucketGrant]) -> String {
    let parts: Vec<String> = grants
        .iter()
        .map(|g| format!("{}:{}", escape(&g.bucket), format_rights(g)))
        .collect();
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" ")
    }
}

/// What `bucket allow` and `bucket deny` print: the key's grants once changed.
pub fn format_key_grants(info: &KeyInfo) -> String {
    let grants = if info.grants.is_empty() {
        "no grants".to_owned()
    } else {
        format_grants(&info.grants)
    };
    format!("{}: {grants}\n", escape(&info.key_id))
}

/// The table of `key list`.
pub fn format_keys(keys: &[KeyInfo]) -> String {
    if keys.is_empty() {
        return "no access keys (dfs key create NAME makes one)\n".to_owned();
    }
    let rows: Vec<Vec<String>> = keys
        .iter()
        .map(|k| {
            vec![
                escape(&k.key_id),
                escape(&k.name),
                format_time_short(k.created_ms),
                format_grants(&k.grants),
            ]
        })
        .collect();
    format_table(
        &["KEY ID", "NAME", "CREATED (UTC)", "GRANTS"],
        &[Align::Left; 4],
        &rows,
    )
}

/// The table of `bucket ls`.
pub fn format_buckets(buckets: &[BucketInfo]) -> String {
    if buckets.is_empty() {
        return "no buckets\n".to_owned();
    }
    let rows: Vec<Vec<String>> = buckets
        .iter()
        .map(|b| {
            vec![
                escape(&b.name),
                format_time_short(b.created_ms),
                b.owner_key
                    .as_deref()
                    .map_or_else(|| "-".to_owned(), escape),
            ]
        })
        .collect();
    format_table(
        &["BUCKET", "CREATED (UTC)", "OWNER KEY"],
        &[Align::Left; 3],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(bucket: &str, read: bool, write: bool, owner: bool) -> BucketGrant {
        BucketGrant {
            bucket: bucket.into(),
            read,
            write,
            owner,
        }
    }

    #[test]
    fn rights_and_grants() {
        assert_eq!(format_rights(&grant("b", true, true, true)), "rwo");
        assert_eq!(format_rights(&grant("b", false, true, true)), "wo");
        assert_eq!(format_rights(&grant("b", true, false, false)), "r");
        assert_eq!(
            format_grants(&[
                grant("b1", true, true, true),
                grant("b2", true, false, false)
            ]),
            "b1:rwo b2:r"
        );
        assert_eq!(format_grants(&[]), "-");
        assert_eq!(
            format_grants(&[grant("a\nb", true, false, false)]),
            "a\\nb:r"
        );
    }

    #[test]
    fn exports_of_a_new_key() {
        let created = KeyCreateResp {
            key_id: "DFSABCDEFGHIJKLMNOPQ".into(),
            secret: "s3cr3t".into(),
        };
        assert_eq!(
            format_key_exports(&created),
            "export AWS_ACCESS_KEY_ID=DFSABCDEFGHIJKLMNOPQ\nexport AWS_SECRET_ACCESS_KEY=s3cr3t\n"
        );
    }

    #[test]
    fn key_table() {
        let keys = vec![
            KeyInfo {
                key_id: "DFSAAAAAAAAAAAAAAAAA".into(),
                name: "alice".into(),
                created_ms: 1_700_000_000_000,
                grants: vec![
                    grant("b1", true, true, true),
                    grant("b2", true, false, false),
                ],
            },
            KeyInfo {
                key_id: "DFSBBBBBBBBBBBBBBBBB".into(),
                name: "backup job".into(),
                created_ms: 0,
                grants: vec![],
            },
        ];
        assert_eq!(
            format_keys(&keys),
            "KEY ID                NAME        CREATED (UTC)     GRANTS\n\
             DFSAAAAAAAAAAAAAAAAA  alice       2023-11-14 22:13  b1:rwo b2:r\n\
             DFSBBBBBBBBBBBBBBBBB  backup job  1970-01-01 00:00  -\n"
        );
        assert!(format_keys(&[]).starts_with("no access keys"));
    }

    #[test]
    fn bucket_table() {
        let buckets = vec![
            BucketInfo {
                name: "photos".into(),
                created_ms: 1_700_000_000_000,
                owner_key: Some("DFSAAAAAAAAAAAAAAAAA".into()),
            },
            BucketInfo {
                name: "b".into(),
                created_ms: 1_700_000_000_000,
                owner_key: None,
            },
        ];
        assert_eq!(
            format_buckets(&buckets),
            "BUCKET  CREATED (UTC)     OWNER KEY\n\
             photos  2023-11-14 22:13  DFSAAAAAAAAAAAAAAAAA\n\
             b       2023-11-14 22:13  -\n"
        );
        assert_eq!(format_buckets(&[]), "no buckets\n");
    }

    #[test]
    fn changed_grants() {
        let mut info = KeyInfo {
            key_id: "DFSK".into(),
            name: "k".into(),
            created_ms: 0,
            grants: vec![grant("b1", true, false, true)],
        };
        assert_eq!(format_key_grants(&info), "DFSK: b1:ro\n");
        info.grants.clear();
        assert_eq!(format_key_grants(&info), "DFSK: no grants\n");
    }
}
