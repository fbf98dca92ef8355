//! The admin page manages groups as JupyterHub's does: create and delete groups, add and
//! remove members, through XSRF-protected forms over the REST API's operations, and
//! refuses while `manage_groups` makes the login method the groups' owner.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::hub::{TestHub, client, login, scrape_xsrf, start_hub};

const USERS: &str =
    "[Authenticator]\nadmin_users = [\"grace\"]\n[DummyAuthenticator]\nallow_all = true\n";

async fn page(client: &reqwest::Client, hub: &TestHub) -> String {
    client
        .get(format!("{}admin", hub.hub_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Posts a form of the admin page; returns the status and, after a redirect, the page it
/// leads to (else the answer's body).
async fn post(
    client: &reqwest::Client,
    hub: &TestHub,
    path: &str,
    form: &[(&str, &str)],
) -> (u16, String) {
    let response = client
        .post(format!("{}{path}", hub.hub_url))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    if status == 303 {
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        let shown = client
            .get(format!("{}{location}", hub.origin))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        return (status, shown);
    }
    (status, response.text().await.unwrap())
}

fn members_row(page: &str, group: &str) -> String {
    let start = page
        .find(&format!("data-label=\"Group\">{group}</th>"))
        .unwrap_or_else(|| panic!("group {group} listed: {page}"));
    let end = page[start..].find("</tr>").unwrap() + start;
    page[start..end].to_owned()
}

#[tokio::test]
async fn admins_create_groups_add_and_remove_members_and_delete_groups() {
    let hub = start_hub("", USERS, &[]).await;
    for name in ["linus", "margaret"] {
        assert_eq!(login(&client(), &hub, name, "pw", None).await.status(), 302);
    }
    let admin = client();
    assert_eq!(login(&admin, &hub, "grace", "pw", None).await.status(), 302);
    let shown = page(&admin, &hub).await;
    let xsrf = scrape_xsrf(&shown);
    assert!(shown.contains("No groups yet."), "{shown}");

    let (status, shown) = post(
        &admin,
        &hub,
        "admin/groups",
        &[("_xsrf", &xsrf), ("name", "reviewers")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(shown.contains("Created group reviewers."), "{shown}");
    assert!(members_row(&shown, "reviewers").contains("none"));

    for member in ["linus", "Margaret"] {
        let (status, shown) = post(
            &admin,
            &hub,
            "admin/groups/reviewers/members",
            &[("_xsrf", &xsrf), ("member", member)],
        )
        .await;
        assert_eq!(status, 303, "{shown}");
    }
    let shown = page(&admin, &hub).await;
    let row = members_row(&shown, "reviewers");
    assert!(row.contains("linus") && row.contains("margaret"), "{row}");
    let stored = hub.store().get_user("linus").await.unwrap().unwrap();
    assert_eq!(stored.groups, ["reviewers"]);

    // The API's refusals, shown on the page with their status.
    let (status, shown) = post(
        &admin,
        &hub,
        "admin/groups/reviewers/members",
        &[("_xsrf", &xsrf), ("member", "nobody")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(shown.contains("No such user"), "{shown}");
    let (status, shown) = post(
        &admin,
        &hub,
        "admin/groups",
        &[("_xsrf", &xsrf), ("name", "reviewers")],
    )
    .await;
    assert_eq!(status, 409);
    assert!(shown.contains("Group reviewers already exists"), "{shown}");
    let (status, _) = post(
        &admin,
        &hub,
        "admin/groups/ghosts/delete",
        &[("_xsrf", &xsrf)],
    )
    .await;
    assert_eq!(status, 404);

    let (status, shown) = post(
        &admin,
        &hub,
        "admin/groups/reviewers/members/remove",
        &[("_xsrf", &xsrf), ("member", "linus")],
    )
    .await;
    assert_eq!(status, 303);
    assert!(shown.contains("Removed linus from reviewers."), "{shown}");
    assert!(
        hub.store()
            .get_user("linus")
            .await
            .unwrap()
            .unwrap()
            .groups
            .is_empty()
    );

    let (status, shown) = post(
        &admin,
        &hub,
        "admin/groups/reviewers/delete",
        &[("_xsrf", &xsrf)],
    )
    .await;
    assert_eq!(status, 303);
    assert!(shown.contains("Deleted group reviewers."), "{shown}");
    assert!(hub.store().list_groups().await.unwrap().is_empty());
}

#[tokio::test]
async fn group_forms_need_an_admin_and_the_token() {
    let hub = start_hub("", USERS, &[]).await;
    let user = client();
    assert_eq!(login(&user, &hub, "linus", "pw", None).await.status(), 302);
    let admin = client();
    assert_eq!(login(&admin, &hub, "grace", "pw", None).await.status(), 302);
    let xsrf = scrape_xsrf(&page(&admin, &hub).await);
    // Another user's page token, or none, changes nothing.
    let (status, _) = post(&admin, &hub, "admin/groups", &[("name", "a")]).await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &user,
        &hub,
        "admin/groups",
        &[("_xsrf", &xsrf), ("name", "b")],
    )
    .await;
    assert_eq!(status, 403);
    assert!(hub.store().list_groups().await.unwrap().is_empty());
}

#[tokio::test]
async fn group_changes_are_refused_while_the_login_method_manages_groups() {
    let idp = hubauth_devidp::DevIdp::builder().start().await.unwrap();
    let rest = format!(
        "[GenericOAuthenticator]\nclient_id = \"hub\"\nclient_secret = \"s\"\noidc_issuer = \"{}\"\nmanage_groups = true\nadmin_users = [\"grace\"]\n",
        idp.issuer()
    );
    let hub = start_hub("authenticator_class = \"generic-oauth\"", &rest, &[]).await;
    hub.store()
        .create_groups(&[("staff".to_owned(), Vec::new())])
        .await
        .unwrap();
    // An admin session, as a login through the provider would leave it.
    let token = hub
        .hub
        .state()
        .sessions()
        .start(
            "grace",
            hubauth_server::Clock::now(&hubauth_server::SystemClock),
        )
        .await
        .unwrap();
    let admin = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let with_cookie = |request: reqwest::RequestBuilder| {
        request.header("cookie", format!("hubauth-session={token}"))
    };
    let shown = with_cookie(admin.get(format!("{}admin", hub.hub_url)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains("id=\"groups-managed\""), "{shown}");
    assert!(!shown.contains("Create a group"), "{shown}");
    assert!(!shown.contains("Delete group staff"), "{shown}");
    let xsrf = scrape_xsrf(&shown);
    for (path, form) in [
        (
            "admin/groups",
            vec![("_xsrf", xsrf.as_str()), ("name", "x")],
        ),
        ("admin/groups/staff/delete", vec![("_xsrf", xsrf.as_str())]),
        (
            "admin/groups/staff/members",
            vec![("_xsrf", xsrf.as_str()), ("member", "grace")],
        ),
    ] {
        let response = with_cookie(admin.post(format!("{}{path}", hub.hub_url)))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{path}");
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("Groups are managed by the login method"),
            "{path}"
        );
    }
    assert_eq!(hub.store().list_groups().await.unwrap().len(), 1);
}
