//! The token endpoint (RFC 6749 §4.1.3, §6): redeeming an authorization code, refreshing,
//! and what is issued for them.
//!
//! Access tokens are opaque and stored (as a digest) by the caller; refresh tokens rotate
//! on every use; a code and every token descending from it form a family, revoked as a
//! whole when a used code or refresh token comes back (RFC 6749 §4.1.2, RFC 9700
//! §4.14.2).

use std::fmt;

use serde::Serialize;

use crate::client::Client;
use crate::error::ProviderError;
use crate::form::Form;
use crate::grants::{CodeGrant, Found, Grant, RefreshGrant, find, new_grant, random_value};
use crate::id_token::{IdTokenParams, id_token};
use crate::pkce::{is_valid_verifier, verifier_matches};
use crate::provider::Provider;
use crate::store::{
    Accounts, Exchange, ExchangeOutcome, GrantKind, GrantState, GrantStore, NewAccessToken, Subject,
};

/// The answer to a code or refresh token that is not (or no longer) valid: the same
/// whatever the reason, so that it tells an attacker nothing.
const SPENT_CODE: &str = "the code is invalid, expired or already used";
const SPENT_REFRESH_TOKEN: &str = "the refresh token is invalid, expired or already used";
const SESSION_ENDED: &str = "the user's login session at the hub has ended; log in again";
const USER_GONE: &str = "the user no longer exists or is blocked";

/// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3), serialised as its
/// JSON body. Prints without its tokens.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// The access token's lifetime in seconds.
    pub expires_in: i64,
    /// The next refresh token of the family.
    pub refresh_token: String,
    /// The granted scopes, space-separated.
    pub scope: String,
    /// The ID token, when `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .field("id_token", &self.id_token.is_some())
            .finish_non_exhaustive()
    }
}

/// What a token request is answered with, once its code or refresh token checked out.
struct Granted<'a> {
    client: &'a Client,
    user: &'a Subject,
    scopes: &'a [String],
    /// The hub session the grant descends from.
    session: &'a str,
    /// When the user last authenticated at the hub.
    auth_time: i64,
}

impl Provider {
    /// Answers a token request from `client` (authenticated by
    /// [`Provider::authenticate_client`]): `grant_type` `authorization_code` or
    /// `refresh_token`. `issuer` goes into the ID token.
    pub async fn token<S: GrantStore + Accounts + ?Sized>(
        &self,
        store: &S,
        client: &Client,
        form: &Form,
        issuer: &str,
        now: i64,
    ) -> Result<TokenResponse, ProviderError> {
        match form.get("grant_type") {
            Some("authorization_code") => self.redeem_code(store, client, form, issuer, now).await,
            Some("refresh_token") => self.refresh(store, client, form, issuer, now).await,
            Some(_) => Err(ProviderError::UnsupportedGrantType),
            None => Err(ProviderError::invalid_request("grant_type is required")),
        }
    }

    async fn redeem_code<S: GrantStore + Accounts + ?Sized>(
        &self,
        store: &S,
        client: &Client,
        form: &Form,
        issuer: &str,
        now: i64,
    ) -> Result<TokenResponse, ProviderError> {
        let code = form
            .token("code")
            .ok_or(ProviderError::invalid_request("code is required"))?;
        let Some(Found { grant, .. }) =
            active_grant::<CodeGrant, S>(store, client, code, now).await?
        else {
            return Err(ProviderError::InvalidGrant(SPENT_CODE));
        };
        if grant.client_id != client.client_id {
            tracing::warn!(client = %client.client_id, "a code issued to another client was presented");
            return Err(ProviderError::InvalidGrant(
                "the code was issued to another client",
            ));
        }
        match form.get("redirect_uri") {
            Some(uri) if uri != grant.redirect_uri => {
                return Err(ProviderError::InvalidGrant(
                    "redirect_uri does not match the authorization request",
                ));
            }
            None if grant.redirect_uri_given => {
                return Err(ProviderError::InvalidGrant(
                    "redirect_uri is required: the authorization request named one",
                ));
            }
            _ => {}
        }
        match (&grant.code_challenge, form.get("code_verifier")) {
            (Some(challenge), Some(verifier)) => {
                if !is_valid_verifier(verifier) {
                    return Err(ProviderError::InvalidGrant("code_verifier is malformed"));
                }
                if !verifier_matches(verifier, challenge) {
                    return Err(ProviderError::InvalidGrant(
                        "code_verifier does not match the code_challenge",
                    ));
                }
            }
            (Some(_), None) => {
                return Err(ProviderError::InvalidGrant("code_verifier is required"));
            }
            (None, Some(_)) => {
                return Err(ProviderError::InvalidGrant(
                    "code_verifier sent, but the authorization request had no code_challenge",
                ));
            }
            (None, None) => {}
        }
        if !store.session_alive(&grant.session, now).await? {
            return Err(ProviderError::InvalidGrant(SESSION_ENDED));
        }
        let Some(user) = store.active_user(&grant.user).await? else {
            return Err(ProviderError::InvalidGrant(USER_GONE));
        };
        let granted = Granted {
            client,
            user: &user,
            scopes: &grant.scopes,
            session: &grant.session,
            auth_time: grant.auth_time,
        };
        let Some(tokens) = self
            .exchange(store, &granted, GrantKind::Code, code, now)
            .await?
        else {
            return Err(ProviderError::InvalidGrant(SPENT_CODE));
        };
        tracing::info!(client = %client.client_id, user = %user.name, "issued an access token for an authorization code");
        self.response(&granted, tokens, grant.nonce.as_deref(), issuer, now)
    }

    /// A refresh request is checked in full before its refresh token is used, so that a
    /// request that fails (another client, wider scopes, a user blocked since) leaves the
    /// token as it was.
    async fn refresh<S: GrantStore + Accounts + ?Sized>(
        &self,
        store: &S,
        client: &Client,
        form: &Form,
        issuer: &str,
        now: i64,
    ) -> Result<TokenResponse, ProviderError> {
        let presented = form
            .token("refresh_token")
            .ok_or(ProviderError::invalid_request("refresh_token is required"))?;
        let Some(Found { grant, .. }) =
            active_grant::<RefreshGrant, S>(store, client, presented, now).await?
        else {
            return Err(ProviderError::InvalidGrant(SPENT_REFRESH_TOKEN));
        };
        if grant.client_id != client.client_id {
            tracing::warn!(client = %client.client_id, "a refresh token issued to another client was presented");
            return Err(ProviderError::InvalidGrant(
                "the refresh token was issued to another client",
            ));
        }
        let scopes = match form.get("scope") {
            None => grant.scopes.clone(),
            Some(asked) => narrowed_scopes(&grant.scopes, asked)?,
        };
        if !store.session_alive(&grant.session, now).await? {
            return Err(ProviderError::InvalidGrant(SESSION_ENDED));
        }
        let Some(user) = store.active_user(&grant.user).await? else {
            return Err(ProviderError::InvalidGrant(USER_GONE));
        };
        let granted = Granted {
            client,
            user: &user,
            scopes: &scopes,
            session: &grant.session,
            auth_time: grant.auth_time,
        };
        let Some(tokens) = self
            .exchange(store, &granted, GrantKind::Refresh, presented, now)
            .await?
        else {
            return Err(ProviderError::InvalidGrant(SPENT_REFRESH_TOKEN));
        };
        tracing::info!(client = %client.client_id, user = %user.name, "refreshed an access token");
        self.response(&granted, tokens, None, issuer, now)
    }

    /// Uses the code or refresh token `presented` (of `kind`) once, issuing an access
    /// token and the next refresh token of its family for `granted`, in one store
    /// transaction. `None` when it was not usable after all: expired meanwhile, or used
    /// by a concurrent request first, in which case the store revoked the family, the
    /// other request's tokens included.
    async fn exchange<S: GrantStore + ?Sized>(
        &self,
        store: &S,
        granted: &Granted<'_>,
        kind: GrantKind,
        presented: &str,
        now: i64,
    ) -> Result<Option<(NewAccessToken, String)>, ProviderError> {
        let access = NewAccessToken {
            token: random_value(),
            user: granted.user.name.clone(),
            client_id: granted.client.client_id.clone(),
            session: granted.session.to_owned(),
            scopes: granted.scopes.to_vec(),
            created: now,
            expires: now.saturating_add(self.access_token_ttl()),
        };
        let refresh_token = random_value();
        let refresh = new_grant(
            &refresh_token,
            &RefreshGrant {
                client_id: granted.client.client_id.clone(),
                user: granted.user.name.clone(),
                scopes: granted.scopes.to_vec(),
                auth_time: granted.auth_time,
                session: granted.session.to_owned(),
            },
            now,
            now.saturating_add(self.refresh_token_ttl()),
        )?;
        let outcome = store
            .exchange(Exchange {
                key: crate::grants::grant_key(kind, presented),
                kind,
                now,
                access_token: access.clone(),
                refresh,
            })
            .await?;
        match outcome {
            ExchangeOutcome::Issued => Ok(Some((access, refresh_token))),
            ExchangeOutcome::Replayed { revoked_tokens } => {
                tracing::warn!(client = %granted.client.client_id, user = %granted.user.name, revoked = revoked_tokens, "two requests used the same grant at once; revoked every token issued from it");
                Ok(None)
            }
            ExchangeOutcome::Invalid => Ok(None),
        }
    }

    /// The answer for the issued tokens, with an ID token (carrying `nonce`) when
    /// `openid` was granted.
    fn response(
        &self,
        granted: &Granted<'_>,
        (access, refresh_token): (NewAccessToken, String),
        nonce: Option<&str>,
        issuer: &str,
        now: i64,
    ) -> Result<TokenResponse, ProviderError> {
        let id_token = if granted.scopes.iter().any(|s| s == "openid") {
            Some(id_token(
                self.keys(),
                granted.user,
                &IdTokenParams {
                    issuer,
                    client_id: &granted.client.client_id,
                    alg: granted.client.id_token_alg,
                    nonce,
                    auth_time: granted.auth_time,
                    access_token: &access.token,
                    now,
                    sid: Some(&crate::backchannel::session_sid(granted.session)),
                },
            )?)
        } else {
            None
        };
        Ok(TokenResponse {
            access_token: access.token,
            token_type: "Bearer",
            expires_in: self.access_token_ttl(),
            refresh_token,
            scope: granted.scopes.join(" "),
            id_token,
        })
    }
}

/// The scopes a refresh asks for (`asked`, space-separated), when all were granted:
/// `identify` first, then the others as asked. RFC 6749 §6: a refresh may narrow the
/// scopes, never widen them.
fn narrowed_scopes(granted: &[String], asked: &str) -> Result<Vec<String>, ProviderError> {
    let narrowed: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
    if narrowed.iter().any(|s| !granted.iter().any(|g| g == s)) {
        return Err(ProviderError::InvalidScope(
            "a refresh may only narrow the granted scopes",
        ));
    }
    let mut scopes = vec!["identify".to_owned()];
    scopes.extend(
        narrowed
            .into_iter()
            .filter(|s| *s != "identify")
            .map(str::to_owned),
    );
    Ok(scopes)
}

/// The grant `value` names when it is active and unexpired; `None` when it is unknown,
/// expired or spent. A spent one presented again revokes its whole family.
async fn active_grant<T: Grant, S: GrantStore + ?Sized>(
    store: &S,
    client: &Client,
    value: &str,
    now: i64,
) -> Result<Option<Found<T>>, ProviderError> {
    let Some(found) = find::<T, S>(store, value).await? else {
        return Ok(None);
    };
    if found.stored.state != GrantState::Active {
        let revoked = store.revoke_family(&found.stored.family).await?;
        tracing::warn!(client = %client.client_id, user = found.grant.user(), revoked, "{} was presented again after its use; revoked every token issued from it", T::KIND.described());
        return Ok(None);
    }
    Ok(found.stored.is_usable_at(now).then_some(found))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_scopes_narrow_only() {
        let granted: Vec<String> = ["identify", "openid", "read:users"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            narrowed_scopes(&granted, "read:users  identify").unwrap(),
            ["identify", "read:users"]
        );
        assert_eq!(narrowed_scopes(&granted, "").unwrap(), ["identify"]);
        assert!(matches!(
            narrowed_scopes(&granted, "openid admin:users"),
            Err(ProviderError::InvalidScope(_))
        ));
    }

    #[test]
    fn token_responses_print_without_tokens() {
        let response = TokenResponse {
            access_token: "secret-access".into(),
            token_type: "Bearer",
            expires_in: 3600,
            refresh_token: "secret-refresh".into(),
            scope: "identify".into(),
            id_token: None,
        };
        assert!(!format!("{response:?}").contains("secret"));
        let body = serde_json::to_value(&response).unwrap();
        assert_eq!(
            body.as_object().unwrap().keys().collect::<Vec<_>>(),
            [
                "access_token",
                "token_type",
                "expires_in",
                "refresh_token",
                "scope"
            ]
        );
    }
}
