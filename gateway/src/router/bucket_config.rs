//! The bucket configuration subresources (`?lifecycle`, `?cors`...) that dfs does not keep, and
//! what S3 answers for a bucket without them.

use super::Query;
use crate::error::S3ErrorCode;

/// A bucket configuration subresource that dfs does not keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BucketConfig {
    /// `?accelerate`.
    Accelerate,
    /// `?acl` (PUT; GET is [`Endpoint::GetBucketAcl`]).
    Acl,
    /// `?analytics`.
    Analytics,
    /// `?cors`.
    Cors,
    /// `?encryption`.
    Encryption,
    /// `?intelligent-tiering`.
    IntelligentTiering,
    /// `?inventory`.
    Inventory,
    /// `?lifecycle`.
    Lifecycle,
    /// `?logging`.
    Logging,
    /// `?metrics`.
    Metrics,
    /// `?notification`.
    Notification,
    /// `?object-lock`.
    ObjectLock,
    /// `?ownershipControls`.
    OwnershipControls,
    /// `?policy`.
    Policy,
    /// `?policyStatus`.
    PolicyStatus,
    /// `?publicAccessBlock`.
    PublicAccessBlock,
    /// `?replication`.
    Replication,
    /// `?requestPayment`.
    RequestPayment,
    /// `?tagging`.
    Tagging,
    /// `?versioning` (PUT; GET is [`Endpoint::GetBucketVersioning`]).
    Versioning,
    /// `?versions` (ListObjectVersions).
    Versions,
    /// `?website`.
    Website,
}

impl BucketConfig {
    /// Every configuration, in the order the router looks for them.
    pub const ALL: [BucketConfig; 22] = [
        BucketConfig::Accelerate,
        BucketConfig::Acl,
        BucketConfig::Analytics,
        BucketConfig::Cors,
        BucketConfig::Encryption,
        BucketConfig::IntelligentTiering,
        BucketConfig::Inventory,
        BucketConfig::Lifecycle,
        BucketConfig::Logging,
        BucketConfig::Metrics,
        BucketConfig::Notification,
        BucketConfig::ObjectLock,
        BucketConfig::OwnershipControls,
        BucketConfig::Policy,
        BucketConfig::PolicyStatus,
        BucketConfig::PublicAccessBlock,
        BucketConfig::Replication,
        BucketConfig::RequestPayment,
        BucketConfig::Tagging,
        BucketConfig::Versioning,
        BucketConfig::Versions,
        BucketConfig::Website,
    ];

    /// The query parameter that names it.
    pub fn query_name(self) -> &'static str {
        match self {
            BucketConfig::Accelerate => "accelerate",
            BucketConfig::Acl => "acl",
            BucketConfig::Analytics => "analytics",
            BucketConfig::Cors => "cors",
            BucketConfig::Encryption => "encryption",
            BucketConfig::IntelligentTiering => "intelligent-tiering",
            BucketConfig::Inventory => "inventory",
            BucketConfig::Lifecycle => "lifecycle",
            BucketConfig::Logging => "logging",
            BucketConfig::Metrics => "metrics",
            BucketConfig::Notification => "notification",
            BucketConfig::ObjectLock => "object-lock",
            BucketConfig::OwnershipControls => "ownershipControls",
            BucketConfig::Policy => "policy",
            BucketConfig::PolicyStatus => "policyStatus",
            BucketConfig::PublicAccessBlock => "publicAccessBlock",
            BucketConfig::Replication => "replication",
            BucketConfig::RequestPayment => "requestPayment",
            BucketConfig::Tagging => "tagging",
            BucketConfig::Versioning => "versioning",
            BucketConfig::Versions => "versions",
            BucketConfig::Website => "website",
        }
    }

    /// The error S3 answers a GET of this configuration with when the bucket has none; `None`
    /// for those where S3 answers an empty or default document instead (logging, notification,
    /// accelerate, request payment, versions...).
    pub fn missing_code(self) -> Option<S3ErrorCode> {
        match self {
            BucketConfig::Cors => Some(S3ErrorCode::NoSuchCORSConfiguration),
            BucketConfig::Lifecycle => Some(S3ErrorCode::NoSuchLifecycleConfiguration),
            BucketConfig::Policy | BucketConfig::PolicyStatus => {
                Some(S3ErrorCode::NoSuchBucketPolicy)
            }
            BucketConfig::Tagging => Some(S3ErrorCode::NoSuchTagSet),
            BucketConfig::Website => Some(S3ErrorCode::NoSuchWebsiteConfiguration),
            BucketConfig::Encryption => {
                Some(S3ErrorCode::ServerSideEncryptionConfigurationNotFoundError)
            }
            BucketConfig::OwnershipControls => Some(S3ErrorCode::OwnershipControlsNotFoundError),
            BucketConfig::ObjectLock => Some(S3ErrorCode::ObjectLockConfigurationNotFoundError),
            BucketConfig::Replication => Some(S3ErrorCode::ReplicationConfigurationNotFoundError),
            BucketConfig::PublicAccessBlock => {
                Some(S3ErrorCode::NoSuchPublicAccessBlockConfiguration)
            }
            _ => None,
        }
    }

    /// The first configuration named in the query.
    pub(super) fn find(query: &Query) -> Option<BucketConfig> {
        BucketConfig::ALL
            .into_iter()
            .find(|c| query.has(c.query_name()))
    }
}
