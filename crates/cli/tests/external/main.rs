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
