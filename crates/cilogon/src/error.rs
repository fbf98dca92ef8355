//! Why a CILogon configuration, login or IdP list check failed. None of these carries a
//! token or a secret; the claim values they name are the user's own (shown to them) or
//! claim names.

use hubauth_core::AuthError;

/// Why the `idps` option was refused at start-up (upstream validates each entry against
/// its JSON schema, `cilogon-schema.yaml`, and checks that each key looks like an
/// EntityID; the messages follow the schema validator's wording).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdpConfigError {
    /// `idps` is empty: nobody could log in, and there is no IdP to pre-select.
    #[error("One or more idps must be configured")]
    Empty,
    /// A key does not look like a CILogon EntityID (a URL or URN); a domain name such
    /// as `uni.edu` is the usual mistake.
    #[error(
        "{entity_id:?} does not look like a valid CILogon EntityID: the keys of idps must be CILogon permitted EntityIDs (urn:, https:// or http://). See https://cilogon.org/idplist for the list of EntityIDs of each IdP"
    )]
    NotAnEntityId {
        /// The key.
        entity_id: String,
    },
    /// A value that must be a table (an IdP's settings, `username_derivation`) is not.
    #[error("idps[{entity_id:?}]{path}: {found} is not of type 'object'")]
    NotATable {
        /// The IdP.
        entity_id: String,
        /// Where inside the IdP's settings (`""` or `.username_derivation`).
        path: &'static str,
        /// What was found instead (a JSON rendering of the value).
        found: String,
    },
    /// A required setting is missing.
    #[error("idps[{entity_id:?}]{path}: '{property}' is a required property")]
    Missing {
        /// The IdP.
        entity_id: String,
        /// Where inside the IdP's settings.
        path: &'static str,
        /// The missing setting.
        property: &'static str,
    },
    /// A setting that the schema does not know.
    #[error(
        "idps[{entity_id:?}]{path}: Additional properties are not allowed ('{property}' was unexpected)"
    )]
    Unexpected {
        /// The IdP.
        entity_id: String,
        /// Where inside the IdP's settings.
        path: &'static str,
        /// The unknown setting.
        property: String,
    },
    /// A setting has the wrong type.
    #[error("idps[{entity_id:?}]{path}.{property}: {found} is not of type '{expected}'")]
    WrongType {
        /// The IdP.
        entity_id: String,
        /// Where inside the IdP's settings.
        path: &'static str,
        /// The setting.
        property: &'static str,
        /// The JSON type the schema requires.
        expected: &'static str,
        /// What was found instead.
        found: String,
    },
    /// `username_derivation.action` is not one of the two actions.
    #[error(
        "idps[{entity_id:?}].username_derivation.action: {found} is not one of ['strip_idp_domain', 'prefix']"
    )]
    UnknownAction {
        /// The IdP.
        entity_id: String,
        /// The action found.
        found: String,
    },
    /// `username_derivation.username_claim` is empty: no claim has an empty name, so
    /// every login through this IdP would fail (upstream accepts it and fails at login).
    #[error("idps[{entity_id:?}].username_derivation.username_claim must name a claim")]
    EmptyUsernameClaim {
        /// The IdP.
        entity_id: String,
    },
}

/// Why a login through CILogon was refused. Each maps to the status upstream answers
/// with (403 for a refusal, 500 for a response the configuration cannot be applied to).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginError {
    /// The user info has no `idp` claim (CILogon releases it with the
    /// `org.cilogon.userinfo` scope, which the client registration must include).
    #[error(
        "'idp' claim was not part of the response to the userdata_url (CILogon releases it with the org.cilogon.userinfo scope; check that the client registration at CILogon includes that scope)"
    )]
    NoIdp,
    /// The `idp` claim is not a string.
    #[error("the 'idp' claim in the response to the userdata_url is not a string")]
    IdpNotText,
    /// The user logged in through an identity provider that `idps` does not list.
    #[error("Login with identity provider {idp} is not pre-configured")]
    IdpNotConfigured {
        /// The `idp` claim (an EntityID).
        idp: String,
    },
    /// The IdP's `username_claim` is not in the user info (or is empty).
    #[error("Configured username_claim {claim} for {idp} was not found in the response {keys:?}")]
    UsernameClaimMissing {
        /// The claim.
        claim: String,
        /// The IdP.
        idp: String,
        /// The claim names the user info has.
        keys: Vec<String>,
    },
    /// The IdP's `username_claim` holds something else than text (a number, a list): it
    /// cannot be turned into a username exactly, so the login is refused.
    #[error("Configured username_claim {claim} for {idp} is not a string in the response")]
    UsernameClaimNotText {
        /// The claim.
        claim: String,
        /// The IdP.
        idp: String,
    },
    /// The username derivation left nothing (an email that was only `@domain`).
    #[error("The username derived from {claim} for {idp} is empty")]
    EmptyUsername {
        /// The claim.
        claim: String,
        /// The IdP.
        idp: String,
    },
    /// The IdP's `allowed_domains_claim` is not in the user info (or is empty).
    #[error(
        "Configured allowed_domains_claim {claim} for {idp} was not found in the response {keys:?}"
    )]
    DomainClaimMissing {
        /// The claim.
        claim: String,
        /// The IdP.
        idp: String,
        /// The claim names the user info has.
        keys: Vec<String>,
    },
    /// The claim the domain is read from holds something else than text.
    #[error("The claim {claim} that allowed_domains is checked against for {idp} is not a string")]
    DomainClaimNotText {
        /// The claim.
        claim: String,
        /// The IdP.
        idp: String,
    },
    /// The user info stored at login (auth_state's `cilogon_user`) is missing or has no
    /// `idp`, so the identity provider rules cannot be applied (a `modify_auth_state_hook`
    /// removed it).
    #[error("the CILogon user info (cilogon_user) is missing from auth_state")]
    NoStoredUserInfo,
    /// A refresh answered for another user (`sub`) or another identity provider (`idp`)
    /// than the login it refreshes.
    #[error("CILogon answered the refresh for another {0} than the one logged in")]
    ChangedIdentity(&'static str),
}

impl From<LoginError> for AuthError {
    fn from(err: LoginError) -> Self {
        let status = match err {
            LoginError::IdpNotConfigured { .. }
            | LoginError::EmptyUsername { .. }
            | LoginError::NoStoredUserInfo
            | LoginError::ChangedIdentity(_) => 403,
            LoginError::NoIdp
            | LoginError::IdpNotText
            | LoginError::UsernameClaimMissing { .. }
            | LoginError::UsernameClaimNotText { .. }
            | LoginError::DomainClaimMissing { .. }
            | LoginError::DomainClaimNotText { .. } => 500,
        };
        AuthError::Http {
            status,
            message: err.to_string(),
        }
    }
}

/// Why CILogon's IdP list could not be used to check the configured EntityIDs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdpListError {
    /// The list could not be fetched (connection, timeout, TLS).
    #[error("the IdP list could not be fetched: {0}")]
    Unreachable(String),
    /// CILogon answered with another status than 2xx.
    #[error("the IdP list answered HTTP {0}")]
    Status(u16),
    /// The answer is larger than hubauth reads.
    #[error("the IdP list is larger than {0} bytes")]
    TooLarge(usize),
    /// The answer is not a JSON list of IdPs each with a string `EntityID`.
    #[error("the IdP list is not a JSON list of IdPs with an EntityID each: {0}")]
    Malformed(String),
    /// The list is empty, which is how CILogon answers when it cannot read its own list
    /// (the `/idplist/` endpoint returns `[]` then): nothing can be checked against it.
    #[error("the IdP list is empty (CILogon answers [] when it cannot read its list)")]
    Empty,
}
