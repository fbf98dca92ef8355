//! The provider's HTML pages: the login form, error pages, the logged-out page.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Form field names the login form adds to the authorization request's parameters.
pub(crate) const FIELD_USERNAME: &str = "devidp_username";
/// The password field.
pub(crate) const FIELD_PASSWORD: &str = "devidp_password";
/// The button pressed: `login` or `deny`.
pub(crate) const FIELD_ACTION: &str = "devidp_action";

pub(crate) use crate::mock::html::escape;

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0}\
main{max-width:24rem;margin:4rem auto;background:#fff;padding:2rem;border-radius:8px;\
box-shadow:0 1px 4px #0002}h1{font-size:1.3rem;margin-top:0}label{display:block;margin:.8rem 0 .2rem}\
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:.5rem}\
.buttons{margin-top:1.2rem;display:flex;gap:.6rem}button{padding:.5rem 1rem}\
.error{color:#a00;background:#fee;padding:.5rem;border-radius:4px}.note{color:#666;font-size:.85rem}";

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>\n",
        title = escape(title),
    );
    let mut response = (status, Html(html)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// An error page; used for errors that must not be redirected to the client.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    page(
        status,
        "Sign-in error",
        &format!(
            "<h1>Sign-in error</h1><p class=\"error\">{}</p>\
             <p class=\"note\">Development identity provider</p>",
            escape(message)
        ),
    )
}

/// The page shown after a logout without a `post_logout_redirect_uri`.
pub(crate) fn logged_out_page() -> Response {
    page(
        StatusCode::OK,
        "Signed out",
        "<h1>Signed out</h1><p>You are signed out of the development identity provider.</p>",
    )
}

/// The login form. `hidden` are the authorization request's parameters, sent back with
/// the form so that the POST can be checked exactly as the GET was.
pub(crate) fn login_form(
    status: StatusCode,
    action: &str,
    client_id: &str,
    hidden: &[(String, String)],
    username: &str,
    error: Option<&str>,
) -> Response {
    let mut fields = String::new();
    for (name, value) in hidden {
        fields.push_str(&format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        ));
    }
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in</h1><p>to continue to <strong>{client}</strong></p>{error}\
         <form method=\"post\" action=\"{action}\">{fields}\
         <label for=\"username\">Username</label>\
         <input type=\"text\" id=\"username\" name=\"{FIELD_USERNAME}\" value=\"{username}\" autocomplete=\"username\" autofocus>\
         <label for=\"password\">Password</label>\
         <input type=\"password\" id=\"password\" name=\"{FIELD_PASSWORD}\" autocomplete=\"current-password\">\
         <div class=\"buttons\"><button type=\"submit\" name=\"{FIELD_ACTION}\" value=\"login\">Sign in</button>\
         <button type=\"submit\" name=\"{FIELD_ACTION}\" value=\"deny\">Deny</button></div></form>\
         <p class=\"note\">Development identity provider: not for production use.</p>",
        client = escape(client_id),
        action = escape(action),
        username = escape(username),
    );
    page(status, "Sign in", &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
