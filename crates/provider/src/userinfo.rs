//! The userinfo endpoint (OpenID Connect Core 1.0 §5.3), a resource the access token
//! opens (RFC 6750).

use serde_json::{Map, Value};

use crate::error::ProviderError;
use crate::form::MAX_TOKEN_LEN;
use crate::id_token::user_claims;
use crate::provider::Provider;
use crate::store::{AccessTokenStore, Accounts};

/// The bearer token of an `Authorization` header: `Bearer ...` (RFC 6750 §2.1) or
/// JupyterHub's `token ...`, either scheme in any case; `None` when there is none.
pub fn bearer_token(authorization: Option<&str>) -> Option<&str> {
    let (scheme, token) = authorization?.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim())
        .filter(|token| !token.is_empty() && token.len() <= MAX_TOKEN_LEN)
}

impl Provider {
    /// The claims about the user of the bearer token in `authorization` (the request's
    /// `Authorization` header). The token must be valid at `now`, carry `openid` or
    /// `identify`, and its user must still be active; its use is recorded.
    pub async fn userinfo<S: AccessTokenStore + Accounts + ?Sized>(
        &self,
        store: &S,
        authorization: Option<&str>,
        now: i64,
    ) -> Result<Map<String, Value>, ProviderError> {
        let Some(token) = bearer_token(authorization) else {
            return Err(ProviderError::invalid_request("a bearer token is required"));
        };
        let invalid = ProviderError::InvalidToken("the token is invalid or expired");
        let Some(record) = store.find_access_token(token).await? else {
            return Err(invalid);
        };
        if !record.is_valid_at(now) {
            return Err(invalid);
        }
        if !record
            .scopes
            .iter()
            .any(|s| s == "openid" || s == "identify")
        {
            return Err(ProviderError::InsufficientScope(
                "the token has no openid or identify scope",
            ));
        }
        let Some(user) = store.active_user(&record.user).await? else {
            return Err(ProviderError::InvalidToken(
                "the token's user no longer exists or is blocked",
            ));
        };
        store.touch_access_token(&record, now).await?;
        Ok(user_claims(&user))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_schemes() {
        assert_eq!(bearer_token(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer_token(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer_token(Some("token abc")), Some("abc"));
        assert_eq!(bearer_token(Some("Basic abc")), None);
        assert_eq!(bearer_token(Some("Bearer ")), None);
        assert_eq!(bearer_token(Some("Bearer")), None);
        assert_eq!(bearer_token(None), None);
        assert_eq!(
            bearer_token(Some(&format!("Bearer {}", "x".repeat(257)))),
            None
        );
    }
}
