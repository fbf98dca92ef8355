//! `GET {base_url}hub/home`: who you are.

use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;

use super::{encode_query, html, redirect};
use crate::pages::PageUser;
use crate::state::AppState;
use crate::web::session::resume_session;
use crate::web::{Now, WebError};

#[derive(Serialize)]
struct HomeContext {
    hub_prefix: String,
    user: PageUser,
    logout_xsrf: String,
}

/// The home page; visitors without a session are sent to the login page.
pub async fn home(
    State(state): State<AppState>,
    Now(now): Now,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let Some(current) = resume_session(&state, &headers, now).await? else {
        // Back to exactly this page (with its query) after login.
        let here = uri
            .path_and_query()
            .map(|pq| pq.as_str().to_owned())
            .unwrap_or_else(|| format!("{}home", state.hub_prefix()));
        return Ok(redirect(
            &format!("{}login?next={}", state.hub_prefix(), encode_query(&here)),
            &[],
        ));
    };
    let user = PageUser {
        name: current.user.name.clone(),
        admin: current.user.admin,
        groups: current.user.groups.clone(),
    };
    let body = state.pages.render(
        "home.html",
        HomeContext {
            hub_prefix: state.hub_prefix(),
            user,
            logout_xsrf: crate::csrf::session_token(&state.secret, &current.session_hash),
        },
    )?;
    Ok(html(StatusCode::OK, body, &[]))
}
