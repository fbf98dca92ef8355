//! The hub's tests that need programs from outside the workspace: PostgreSQL (the
//! scenarios that run on both backends, replicas, crash safety), nginx, Caddy, slapd,
//! Node (`oidc-provider`, Chromium through the browser driver), a real JupyterHub, and
//! the built binary's shipping checks (PAM loaded at run time, the release files).
//! `./scripts/test.sh` installs them; a test whose program is missing says so and skips.

// Tests measure real elapsed time, make real timestamps and wait for real processes.
#![allow(clippy::disallowed_methods)]

mod backchannel_logout;
mod browser_pages;
mod caddy;
mod crash_safety;
mod crypt_rotate;
mod e2e_jupyterhub;
mod e2e_oidc_provider;
mod forward_auth;
mod identity_assertion;
mod import_config;
mod import_db;
mod ldap;
mod managed_roles;
mod oauth2_provider;
mod replica_invalidation;
mod replicas;
mod rest_api;
mod reverse_proxy;
mod shipping;

/// The Python of `e2e/jupyterhub/.venv` (with PyJWT, made by `./scripts/test.sh`), or
/// `None` when it is missing and `HUBAUTH_SKIP_E2E=1` says to skip `what`; missing
/// otherwise fails the test.
#[allow(
    clippy::panic,
    reason = "a missing program fails the test that needs it"
)]
fn e2e_python(what: &str) -> Option<std::path::PathBuf> {
    let python = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../e2e/jupyterhub/.venv/bin/python");
    if python.is_file() {
        return Some(python);
    }
    if std::env::var("HUBAUTH_SKIP_E2E").as_deref() == Ok("1") {
        eprintln!(
            "note: skipping {what}: no {} (HUBAUTH_SKIP_E2E=1)",
            python.display()
        );
        return None;
    }
    panic!(
        "{} is missing. Run ./scripts/test.sh once (it makes e2e/jupyterhub/.venv with PyJWT), or set HUBAUTH_SKIP_E2E=1 to skip this test.",
        python.display()
    );
}
