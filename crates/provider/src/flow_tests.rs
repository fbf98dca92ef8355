//! The whole code flow over an in-memory store, with the clock as a number: what is
//! issued, and each attack the protocol rules stop.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::json;

use crate::client::tests::clients;
use crate::store::{
    AccessTokenRecord, AccessTokenStore, Accounts, Exchange, ExchangeOutcome, GrantState,
    GrantStore, NewGrant, StoredGrant, Subject,
};
use crate::{
    AuthorizationRequest, CodeIssue, Form, Provider, ProviderError, SigningKeys, StorageError,
    TokenResponse, at_hash,
};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ISSUER: &str = "https://hub.example";
const NOW: i64 = 1_800_000_000;

#[derive(Default)]
struct Memory {
    grants: HashMap<String, StoredGrant>,
    /// Access tokens by value, with the family they were issued from.
    tokens: HashMap<String, (AccessTokenRecord, String)>,
    sessions: HashMap<String, i64>,
    users: HashMap<String, Subject>,
    next_id: i64,
}

/// A store that keeps everything in memory, with the same single-use rules as the hub's.
#[derive(Default)]
struct MemoryStore(Mutex<Memory>);

impl MemoryStore {
    fn with_user_and_session() -> MemoryStore {
        let store = MemoryStore::default();
        {
            let mut memory = store.0.lock().unwrap();
            memory.users.insert(
                "ada".into(),
                Subject {
                    name: "ada".into(),
                    groups: vec!["staff".into()],
                    admin: false,
                },
            );
            memory.sessions.insert("session-1".into(), NOW + 3600);
        }
        store
    }

    fn token_count(&self) -> usize {
        self.0.lock().unwrap().tokens.len()
    }
}

#[async_trait]
impl GrantStore for MemoryStore {
    async fn create_code(&self, code: NewGrant) -> Result<(), StorageError> {
        let mut memory = self.0.lock().unwrap();
        memory.grants.insert(
            code.key.clone(),
            StoredGrant {
                kind: crate::GrantKind::Code,
                family: code.key,
                state: GrantState::Active,
                data: code.data,
                expires: code.expires,
            },
        );
        Ok(())
    }

    async fn find_grant(&self, key: &str) -> Result<Option<StoredGrant>, StorageError> {
        Ok(self.0.lock().unwrap().grants.get(key).cloned())
    }

    async fn revoke_family(&self, family: &str) -> Result<u64, StorageError> {
        let mut memory = self.0.lock().unwrap();
        for grant in memory.grants.values_mut() {
            if grant.family == family {
                grant.state = GrantState::Revoked;
            }
        }
        let before = memory.tokens.len();
        memory.tokens.retain(|_, (_, of)| of != family);
        Ok((before - memory.tokens.len()) as u64)
    }

    async fn exchange(&self, exchange: Exchange) -> Result<ExchangeOutcome, StorageError> {
        let family = {
            let mut memory = self.0.lock().unwrap();
            let Some(grant) = memory.grants.get_mut(&exchange.key) else {
                return Ok(ExchangeOutcome::Invalid);
            };
            if grant.kind != exchange.kind || exchange.now >= grant.expires {
                return Ok(ExchangeOutcome::Invalid);
            }
            if grant.state != GrantState::Active {
                grant.family.clone()
            } else {
                grant.state = GrantState::Used;
                let family = grant.family.clone();
                memory.grants.insert(
                    exchange.refresh.key.clone(),
                    StoredGrant {
                        kind: crate::GrantKind::Refresh,
                        family: family.clone(),
                        state: GrantState::Active,
                        data: exchange.refresh.data,
                        expires: exchange.refresh.expires,
                    },
                );
                memory.next_id += 1;
                let token = exchange.access_token;
                let record = AccessTokenRecord {
                    id: memory.next_id,
                    user: token.user,
                    client_id: Some(token.client_id),
                    scopes: token.scopes,
                    expires: Some(token.expires),
                };
                memory.tokens.insert(token.token, (record, family));
                return Ok(ExchangeOutcome::Issued);
            }
        };
        let revoked_tokens = self.revoke_family(&family).await?;
        Ok(ExchangeOutcome::Replayed { revoked_tokens })
    }
}

#[async_trait]
impl AccessTokenStore for MemoryStore {
    async fn find_access_token(
        &self,
        token: &str,
    ) -> Result<Option<AccessTokenRecord>, StorageError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .tokens
            .get(token)
            .map(|(record, _)| record.clone()))
    }

    async fn delete_access_token(&self, token: &AccessTokenRecord) -> Result<(), StorageError> {
        self.0
            .lock()
            .unwrap()
            .tokens
            .retain(|_, (record, _)| record.id != token.id);
        Ok(())
    }

    async fn touch_access_token(
        &self,
        _token: &AccessTokenRecord,
        _now: i64,
    ) -> Result<(), StorageError> {
        Ok(())
    }
}

#[async_trait]
impl Accounts for MemoryStore {
    async fn session_alive(&self, session: &str, now: i64) -> Result<bool, StorageError> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .sessions
            .get(session)
            .is_some_and(|expires| now < *expires))
    }

    async fn active_user(&self, name: &str) -> Result<Option<Subject>, StorageError> {
        Ok(self.0.lock().unwrap().users.get(name).cloned())
    }
}

fn provider() -> Provider {
    Provider::new(clients(), SigningKeys::generate().unwrap(), 3600)
}

fn form(fields: &[(&str, &str)]) -> Form {
    fields.iter().copied().collect()
}

/// Ada authorizes client `conf` for `scope` (with PKCE and a nonce); the code.
async fn code(provider: &Provider, store: &MemoryStore, scope: &str, now: i64) -> String {
    let request = AuthorizationRequest {
        response_type: Some("code".into()),
        client_id: Some("conf".into()),
        scope: Some(scope.into()),
        nonce: Some("n-0S6".into()),
        code_challenge: Some(CHALLENGE.into()),
        code_challenge_method: Some("S256".into()),
        ..AuthorizationRequest::default()
    };
    let target = provider.authorization_target(&request).unwrap();
    let authorization = target.validate(&request).unwrap();
    let scopes = target.client().grant_scopes(authorization.scope.as_deref());
    target
        .issue_code(
            store,
            &authorization,
            CodeIssue {
                user: "ada".into(),
                scopes,
                session: "session-1".into(),
                auth_time: now - 10,
            },
            now,
        )
        .await
        .unwrap()
}

async fn redeem(
    provider: &Provider,
    store: &MemoryStore,
    fields: &[(&str, &str)],
    now: i64,
) -> Result<TokenResponse, ProviderError> {
    let client = provider.client("conf").unwrap();
    let mut all = vec![("grant_type", "authorization_code")];
    all.extend_from_slice(fields);
    provider
        .token(store, client, &form(&all), ISSUER, now)
        .await
}

async fn refresh(
    provider: &Provider,
    store: &MemoryStore,
    token: &str,
    scope: Option<&str>,
) -> Result<TokenResponse, ProviderError> {
    let client = provider.client("conf").unwrap();
    let mut all = vec![("grant_type", "refresh_token"), ("refresh_token", token)];
    if let Some(scope) = scope {
        all.push(("scope", scope));
    }
    provider
        .token(store, client, &form(&all), ISSUER, NOW + 5)
        .await
}

fn invalid_grant(result: Result<TokenResponse, ProviderError>) -> &'static str {
    match result {
        Err(ProviderError::InvalidGrant(description)) => description,
        other => panic!("expected invalid_grant, got {other:?}"),
    }
}

#[tokio::test]
async fn a_code_with_its_verifier_gives_tokens_and_an_id_token() {
    let (provider, store) = (provider(), MemoryStore::with_user_and_session());
    let code = code(&provider, &store, "openid custom:read", NOW).await;
    let tokens = redeem(
        &provider,
        &store,
        &[("code", &code), ("code_verifier", VERIFIER)],
        NOW + 1,
    )
    .await
    .unwrap();
    assert_eq!(tokens.scope, "identify openid custom:read");
    assert_eq!(tokens.expires_in, 3600);
    let claims = provider
        .keys()
        .verify_own(tokens.id_token.as_deref().unwrap(), ISSUER)
        .unwrap();
    assert_eq!(claims["sub"], "ada");
    assert_eq!(claims["aud"], "conf");
    assert_eq!(claims["nonce"], "n-0S6");
    assert_eq!(claims["auth_time"], NOW - 10);
    assert_eq!(claims["at_hash"], json!(at_hash(&tokens.access_token)));
    // Without openid, no ID token.
    let code = self::code(&provider, &store, "", NOW).await;
    let plain = redeem(
        &provider,
        &store,
        &[("code", &code), ("code_verifier", VERIFIER)],
        NOW + 1,
    )
    .await
    .unwrap();
    assert!(plain.id_token.is_none());
    assert_eq!(plain.scope, "identify");
}

#[tokio::test]
async fn code_replay_is_refused_and_revokes_the_tokens_issued_from_it() {
    let (provider, store) = (provider(), MemoryStore::with_user_and_session());
    let code = code(&provider, &store, "openid", NOW).await;
    let fields = [("code", code.as_str()), ("code_verifier", VERIFIER)];
    let first = redeem(&provider, &store, &fields, NOW + 1).await.unwrap();
    assert_eq!(store.token_count(), 1);
    assert_eq!(
        invalid_grant(redeem(&provider, &store, &fields, NOW + 2).await),
        "the code is invalid, expired or already used"
    );
    assert_eq!(store.token_count(), 0, "the first access token is revoked");
    assert!(
        refresh(&provider, &store, &first.refresh_token, None)
            .await
            .is_err(),
        "and so is the refresh token"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_replayed_one_revokes_the_family() {
    let (provider, store) = (provider(), MemoryStore::with_user_and_session());
    let code = code(&provider, &store, "openid custom:read", NOW).await;
    let first = redeem(
        &provider,
        &store,
        &[("code", &code), ("code_verifier", VERIFIER)],
        NOW + 1,
    )
    .await
    .unwrap();
    // A request that fails leaves the refresh token usable.
    assert!(matches!(
        refresh(
            &provider,
            &store,
            &first.refresh_token,
            Some("openid admin:users")
        )
        .await,
        Err(ProviderError::InvalidScope(_))
    ));
    let second = refresh(&provider, &store, &first.refresh_token, Some("custom:read"))
        .await
        .unwrap();
    assert_eq!(second.scope, "identify custom:read");
    assert!(second.id_token.is_none(), "narrowed to no openid");
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_eq!(
        invalid_grant(refresh(&provider, &store, &first.refresh_token, None).await),
        "the refresh token is invalid, expired or already used"
    );
    assert_eq!(store.token_count(), 0);
    assert!(
        refresh(&provider, &store, &second.refresh_token, None)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn codes_are_bound_to_client_redirect_uri_verifier_session_and_time() {
    let (provider, store) = (provider(), MemoryStore::with_user_and_session());
    // (extra token request fields, when, the refusal)
    type Case<'a> = (&'a [(&'a str, &'a str)], i64, &'a str);
    let cases: &[Case<'_>] = &[
        (&[], NOW + 1, "code_verifier is required"),
        (
            &[("code_verifier", "x")],
            NOW + 1,
            "code_verifier is malformed",
        ),
        (
            &[("code_verifier", &"a".repeat(43))],
            NOW + 1,
            "code_verifier does not match the code_challenge",
        ),
        (
            &[
                ("code_verifier", VERIFIER),
                ("redirect_uri", "https://app.example/other"),
            ],
            NOW + 1,
            "redirect_uri does not match the authorization request",
        ),
        (
            &[("code_verifier", VERIFIER)],
            NOW + crate::CODE_TTL,
            "the code is invalid, expired or already used",
        ),
    ];
    for (fields, at, expected) in cases {
        let code = code(&provider, &store, "", NOW).await;
        let mut all = vec![("code", code.as_str())];
        all.extend_from_slice(fields);
        assert_eq!(
            invalid_grant(redeem(&provider, &store, &all, *at).await),
            *expected
        );
    }
    // Another client's code.
    let code = code(&provider, &store, "", NOW).await;
    let public = provider.client("pub").unwrap();
    let stolen = form(&[
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("code_verifier", VERIFIER),
    ]);
    assert_eq!(
        invalid_grant(
            provider
                .token(&store, public, &stolen, ISSUER, NOW + 1)
                .await
        ),
        "the code was issued to another client"
    );
    // The session ended, then the user is gone.
    let code = self::code(&provider, &store, "", NOW).await;
    store.0.lock().unwrap().sessions.clear();
    let fields = [("code", code.as_str()), ("code_verifier", VERIFIER)];
    assert_eq!(
        invalid_grant(redeem(&provider, &store, &fields, NOW + 1).await),
        "the user's login session at the hub has ended; log in again"
    );
    store
        .0
        .lock()
        .unwrap()
        .sessions
        .insert("session-1".into(), NOW + 3600);
    store.0.lock().unwrap().users.clear();
    assert_eq!(
        invalid_grant(redeem(&provider, &store, &fields, NOW + 1).await),
        "the user no longer exists or is blocked"
    );
}

#[tokio::test]
async fn grant_types_and_missing_parameters() {
    let (provider, store) = (provider(), MemoryStore::with_user_and_session());
    let client = provider.client("conf").unwrap();
    let ask = |fields: &'static [(&'static str, &'static str)]| {
        let form = form(fields);
        let (provider, store) = (&provider, &store);
        async move {
            provider
                .token(store, client, &form, ISSUER, NOW)
                .await
                .map_err(|err| (err.code(), err.description().into_owned()))
        }
    };
    assert_eq!(
        ask(&[("grant_type", "password")]).await.unwrap_err().0,
        "unsupported_grant_type"
    );
    assert_eq!(
        ask(&[]).await.unwrap_err(),
        ("invalid_request", "grant_type is required".into())
    );
    assert_eq!(
        ask(&[("grant_type", "authorization_code")])
            .await
            .unwrap_err(),
        ("invalid_request", "code is required".into())
    );
    assert_eq!(
        ask(&[("grant_type", "refresh_token")]).await.unwrap_err(),
        ("invalid_request", "refresh_token is required".into())
    );
}

#[tokio::test]
async fn revocation_and_userinfo() {
    let (provider, store) = (provider(), MemoryStore::with_user_and_session());
    let code = code(&provider, &store, "openid", NOW).await;
    let tokens = redeem(
        &provider,
        &store,
        &[("code", &code), ("code_verifier", VERIFIER)],
        NOW + 1,
    )
    .await
    .unwrap();
    let bearer = format!("Bearer {}", tokens.access_token);
    let claims = provider
        .userinfo(&store, Some(&bearer), NOW + 2)
        .await
        .unwrap();
    assert_eq!(claims["preferred_username"], "ada");
    assert_eq!(claims["groups"], json!(["staff"]));
    assert!(matches!(
        provider.userinfo(&store, None, NOW).await,
        Err(ProviderError::InvalidRequest(_))
    ));
    assert!(matches!(
        provider.userinfo(&store, Some(&bearer), NOW + 3601).await,
        Err(ProviderError::InvalidToken(_))
    ));
    // Another client cannot revoke it; an unknown token is no error.
    let public = provider.client("pub").unwrap();
    let revoke = form(&[("token", &tokens.refresh_token)]);
    assert!(matches!(
        provider.revoke(&store, public, &revoke).await,
        Err(ProviderError::TokenOfAnotherClient)
    ));
    let conf = provider.client("conf").unwrap();
    assert!(
        provider
            .revoke(&store, conf, &form(&[("token", "unknown")]))
            .await
            .is_ok()
    );
    assert!(matches!(
        provider.revoke(&store, conf, &Form::default()).await,
        Err(ProviderError::InvalidRequest(_))
    ));
    // Revoking the refresh token takes the access token with it.
    provider.revoke(&store, conf, &revoke).await.unwrap();
    assert!(matches!(
        provider.userinfo(&store, Some(&bearer), NOW + 2).await,
        Err(ProviderError::InvalidToken(_))
    ));
    assert!(
        refresh(&provider, &store, &tokens.refresh_token, None)
            .await
            .is_err()
    );
    // A token without identify or openid opens no userinfo.
    store.0.lock().unwrap().tokens.insert(
        "narrow".into(),
        (
            AccessTokenRecord {
                id: 99,
                user: "ada".into(),
                client_id: None,
                scopes: vec!["read:users".into()],
                expires: None,
            },
            String::new(),
        ),
    );
    assert!(matches!(
        provider.userinfo(&store, Some("token narrow"), NOW).await,
        Err(ProviderError::InsufficientScope(_))
    ));
}
