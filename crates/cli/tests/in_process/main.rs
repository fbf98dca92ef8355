//! The hub's tests that need nothing beyond the workspace: hubs in-process on loopback
//! with real SQLite files, the development identity provider and the mocks, and the
//! `hubauth` binary's commands.

// Tests measure real elapsed time, make real timestamps and wait for real processes.
#![allow(clippy::disallowed_methods)]

mod admin_groups;
mod api_cache;
mod backchannel_logout;
mod config_cli;
mod demo;
mod docs_examples;
mod gateway_tokens;
mod hub_http;
mod identity_assertion;
mod login_fuzz;
mod login_log;
mod login_methods;
mod oauth_flow;
mod operations;
mod proxy_cookies;
mod tls;
mod web_hardening;
