//! Checks that the user info describes the user the provider authenticated, before a
//! username is taken from it: the user info's `sub` against the verified ID token's
//! (OIDC Core 5.3.2, F28), and `email_verified` when the username comes from an email
//! claim (F27).

use hubauth_core::AuthError;
use serde_json::Value;

use crate::claims::{ClaimRule, lookup_path};

/// The step named on the error page for these checks.
pub const USERINFO_STEP: &str = "user info request to the identity provider";

/// Why user info was refused. Messages carry no token; the subjects compared are logged,
/// not shown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserInfoError {
    /// The user info is about another subject than the verified ID token: the access
    /// token belongs to someone else, or the answer was substituted.
    #[error(
        "the {USERINFO_STEP} answered for another user (sub) than the verified ID token of this login"
    )]
    SubjectMismatch,
    /// The OpenID Connect UserInfo endpoint answered without `sub`, so it cannot be tied to
    /// the ID token.
    #[error(
        "the {USERINFO_STEP} answered without a sub claim, so it cannot be tied to the verified ID token"
    )]
    MissingSubject,
    /// The username (or a rule) would come from an email the provider did not mark as
    /// verified (`email_verified` is not `true`).
    #[error("Login with unverified email {email} is not allowed")]
    UnverifiedEmail {
        /// The email address (the user's own, shown to them).
        email: String,
    },
}

impl From<UserInfoError> for AuthError {
    fn from(err: UserInfoError) -> Self {
        match err {
            UserInfoError::UnverifiedEmail { .. } => AuthError::forbidden(err.to_string()),
            other => AuthError::forbidden(format!("Login refused: {other}.")),
        }
    }
}

/// OIDC Core 5.3.2: the user info's `sub` must be exactly the verified ID token's. When
/// the user info has no `sub`, it is refused if `sub_required` (it came from the OpenID
/// Connect UserInfo endpoint, which always sends one), else accepted (a plain OAuth API).
pub fn check_subject(
    user_info: &Value,
    id_claims: &Value,
    sub_required: bool,
) -> Result<(), UserInfoError> {
    let expected = id_claims.get("sub").and_then(Value::as_str);
    match user_info.get("sub") {
        Some(Value::String(found)) if Some(found.as_str()) == expected => Ok(()),
        None if !sub_required => Ok(()),
        None => Err(UserInfoError::MissingSubject),
        Some(found) => {
            tracing::warn!(id_token_sub = ?expected, userinfo_sub = %found, "user info is about another subject than the ID token");
            Err(UserInfoError::SubjectMismatch)
        }
    }
}

/// Where an email-derived username's email and its `email_verified` flag are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailSource {
    /// The email claim (a name or dotted path).
    pub email_path: String,
    /// The `email_verified` claim beside it.
    pub verified_path: String,
}

/// Whether `username_claim` takes the username from an email: a claim named `email`, or
/// a path or namespaced claim ending in `email` (`user.email`,
/// `https://example.org/email`), or a script that reads `email`. `None` otherwise.
pub fn email_source(rule: &ClaimRule) -> Option<EmailSource> {
    match rule {
        ClaimRule::Path(path) => {
            let lower = path.to_ascii_lowercase();
            let is_email = lower == "email"
                || [".email", "/email", ":email"]
                    .iter()
                    .any(|end| lower.ends_with(end));
            is_email.then(|| {
                let prefix = path.get(..path.len() - "email".len()).unwrap_or_default();
                EmailSource {
                    email_path: path.clone(),
                    verified_path: format!("{prefix}email_verified"),
                }
            })
        }
        ClaimRule::Script { reads_email, .. } => reads_email.then(|| EmailSource {
            email_path: "email".to_owned(),
            verified_path: "email_verified".to_owned(),
        }),
    }
}

/// Whether a claim value says "verified": JSON `true` only. The string `"true"` (which
/// AWS Cognito's user info sends) is not accepted: a value that decides access must parse
/// exactly.
pub fn is_verified(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true)))
}

/// F27: refuses an email-derived username whose email is not verified. The flag is read
/// beside the email in the user info; when the user info does not say, the verified ID
/// token may vouch for the same address. `provider_verified` is a provider's own
/// documented verification (Azure AD's `xms_edov`). No email at the path: nothing to check
/// (the username step reports a missing claim itself).
pub fn check_email_verified(
    user_info: &Value,
    id_claims: Option<&Value>,
    source: &EmailSource,
    provider_verified: bool,
) -> Result<(), UserInfoError> {
    let Some(email) = lookup_path(user_info, &source.email_path).and_then(Value::as_str) else {
        return Ok(());
    };
    let verified = match lookup_path(user_info, &source.verified_path) {
        Some(flag) => is_verified(Some(flag)),
        None => id_claims.is_some_and(|claims| {
            lookup_path(claims, &source.email_path).and_then(Value::as_str) == Some(email)
                && is_verified(lookup_path(claims, &source.verified_path))
        }),
    };
    if verified || provider_verified {
        Ok(())
    } else {
        Err(UserInfoError::UnverifiedEmail {
            email: email.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn userinfo_with_another_sub_is_refused() {
        let id = json!({"sub": "ada-1"});
        assert_eq!(check_subject(&json!({"sub": "ada-1"}), &id, true), Ok(()));
        assert_eq!(
            check_subject(&json!({"sub": "eve-9"}), &id, false),
            Err(UserInfoError::SubjectMismatch)
        );
        assert_eq!(
            check_subject(&json!({"sub": "ADA-1"}), &id, true),
            Err(UserInfoError::SubjectMismatch)
        );
        assert_eq!(
            check_subject(&json!({"sub": 1}), &json!({"sub": "1"}), true),
            Err(UserInfoError::SubjectMismatch)
        );
        assert_eq!(
            check_subject(&json!({"name": "x"}), &id, true),
            Err(UserInfoError::MissingSubject)
        );
        assert_eq!(check_subject(&json!({"name": "x"}), &id, false), Ok(()));
    }

    fn script(source: &str) -> ClaimRule {
        ClaimRule::from_value(&json!({ "script": source }), &["user_info"]).unwrap()
    }

    #[test]
    fn email_claims_are_recognized() {
        let source = |path: &str| email_source(&ClaimRule::path(path));
        assert_eq!(
            source("email"),
            Some(EmailSource {
                email_path: "email".into(),
                verified_path: "email_verified".into()
            })
        );
        assert_eq!(
            source("user.email").unwrap().verified_path,
            "user.email_verified"
        );
        assert_eq!(
            source("https://example.org/email").unwrap().verified_path,
            "https://example.org/email_verified"
        );
        assert!(source("Email").is_some());
        for other in ["preferred_username", "emails", "email_address", "sub", ""] {
            assert_eq!(source(other), None, "{other}");
        }
        assert!(email_source(&script("user_info.email.split(\"@\")[0]")).is_some());
        assert!(email_source(&script("user_info.login")).is_none());
    }

    #[test]
    fn unverified_email_cannot_become_the_username() {
        let source = email_source(&ClaimRule::path("email")).unwrap();
        let check = |info: Value, id: Option<Value>| {
            check_email_verified(&info, id.as_ref(), &source, false)
        };
        let unverified = Err(UserInfoError::UnverifiedEmail {
            email: "ada@example.org".into(),
        });
        assert_eq!(
            check(
                json!({"email": "ada@example.org", "email_verified": true}),
                None
            ),
            Ok(())
        );
        for flag in [json!(false), json!("true"), json!(1), json!(null)] {
            assert_eq!(
                check(
                    json!({"email": "ada@example.org", "email_verified": flag}),
                    None
                ),
                unverified,
                "{flag}"
            );
        }
        assert_eq!(check(json!({"email": "ada@example.org"}), None), unverified);
        // The verified ID token vouches for the same address when the user info is silent,
        assert_eq!(
            check(
                json!({"email": "ada@example.org"}),
                Some(json!({"email": "ada@example.org", "email_verified": true}))
            ),
            Ok(())
        );
        // but not for another address, and not against the user info's own "false".
        assert_eq!(
            check(
                json!({"email": "ada@example.org"}),
                Some(json!({"email": "eve@example.org", "email_verified": true}))
            ),
            unverified
        );
        assert_eq!(
            check(
                json!({"email": "ada@example.org", "email_verified": false}),
                Some(json!({"email": "ada@example.org", "email_verified": true}))
            ),
            unverified
        );
        // A provider's documented verification.
        assert_eq!(
            check_email_verified(&json!({"email": "ada@example.org"}), None, &source, true),
            Ok(())
        );
        // No email at all: nothing to check here.
        assert_eq!(check(json!({"name": "ada"}), None), Ok(()));
        // Nested claims: the flag beside the email.
        let nested = email_source(&ClaimRule::path("user.email")).unwrap();
        assert_eq!(
            check_email_verified(
                &json!({"user": {"email": "a@x.org", "email_verified": true}, "email_verified": false}),
                None,
                &nested,
                false
            ),
            Ok(())
        );
    }

    #[test]
    fn messages_name_the_step_and_keep_upstreams_words() {
        let page = AuthError::from(UserInfoError::SubjectMismatch);
        assert_eq!(page.status(), 403);
        assert!(page.to_string().contains(USERINFO_STEP), "{page}");
        let page = AuthError::from(UserInfoError::UnverifiedEmail {
            email: "ada@example.org".into(),
        });
        assert_eq!(
            page.to_string(),
            "Login with unverified email ada@example.org is not allowed"
        );
    }
}
