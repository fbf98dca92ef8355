//! LDAPAuthenticator over HTTP against a real slapd: direct binds and lookups, each TLS
//! strategy, group rules of every group kind, injection attempts, empty passwords, a
//! directory that goes away, and refresh after a group change.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use hubauth_testkit::slapd;

use std::sync::Arc;

use hubauth_testkit::hub::*;
use slapd::{BASE, SEARCH_DN, SEARCH_PW, SPECIAL_UID, Slapd};

/// `[LDAPAuthenticator]` for `slapd` with `strategy`, trusting the test CA, plus `extra`.
fn ldap_table(slapd: &Slapd, strategy: &str, extra: &str) -> String {
    let port = match strategy {
        "on_connect" => slapd.ldaps_port,
        _ => slapd.ldap_port,
    };
    format!(
        "[LDAPAuthenticator]\nserver_address = \"127.0.0.1\"\nserver_port = {port}\ntls_strategy = \"{strategy}\"\ntls_kwargs = {{ ca_certs_file = \"{ca}\" }}\nfailure_delay = 0.2\nconnect_timeout = 2.0\noperation_timeout = 2.0\n{extra}\n",
        ca = slapd.ca_file(),
    )
}

const PEOPLE_TEMPLATE: &str = "bind_dn_template = \"uid={username},ou=people,dc=example,dc=org\"\n";

fn groups_line() -> String {
    format!(
        "allowed_groups = [\"cn=staff,ou=groups,{BASE}\", \"cn=ops,ou=groups,{BASE}\", \"cn=posix,ou=groups,{BASE}\", \"cn=special,ou=groups,{BASE}\"]\n"
    )
}

async fn ldap_hub(slapd: &Slapd, strategy: &str, extra: &str) -> TestHub {
    start_hub(
        "authenticator_class = \"ldap\"",
        &ldap_table(slapd, strategy, extra),
        &[],
    )
    .await
}

async fn try_login(hub: &TestHub, name: &str, password: &str) -> (u16, String) {
    let response = login(&client(), hub, name, password, None).await;
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn direct_bind_with_starttls_and_every_group_kind() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let extra = format!("{PEOPLE_TEMPLATE}{}", groups_line());
    let hub = ldap_hub(&slapd, "before_bind", &extra).await;
    // groupOfNames, groupOfUniqueNames and posixGroup members all get in.
    for user in ["alice", "bob", "carol"] {
        let (status, page) = try_login(&hub, user, &format!("{user}-pw")).await;
        assert_eq!(status, 302, "{user}: {page}\n{}", slapd.log());
    }
    // A valid account outside every allowed group is refused after its bind.
    let (status, _) = try_login(&hub, "dave", "dave-pw").await;
    assert_eq!(status, 403);
    assert!(hub.store().get_user("dave").await.unwrap().is_none());
    // Wrong password, unknown user.
    let (status, page) = try_login(&hub, "alice", "wrong").await;
    assert_eq!(status, 403);
    assert!(page.contains("Invalid username or password"), "{page}");
    let (status, _) = try_login(&hub, "nobody", "whatever").await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn client_certificate_is_presented_and_a_mismatched_key_stops_the_start() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let dir = slapd.dir.path();
    let table = |key: &str| {
        format!(
            "[LDAPAuthenticator]\nserver_address = \"127.0.0.1\"\nserver_port = {}\ntls_strategy = \"on_connect\"\ntls_kwargs = {{ ca_certs_file = \"{}\", local_certificate_file = \"{}\", local_private_key_file = \"{}\" }}\nallow_all = true\n{PEOPLE_TEMPLATE}",
            slapd.ldaps_port,
            slapd.ca_file(),
            dir.join("client.pem").display(),
            dir.join(key).display()
        )
    };
    let hub = start_hub("authenticator_class = \"ldap\"", &table("client.key"), &[]).await;
    let (status, page) = try_login(&hub, "alice", "alice-pw").await;
    assert_eq!(status, 302, "{page}\n{}", slapd.log());
    let err = start_hub_in(
        tempfile::TempDir::new().unwrap(),
        "authenticator_class = \"ldap\"",
        &table("server.key"),
        &[],
    )
    .await
    .expect_err("a key that does not match the certificate is refused");
    assert!(err.to_string().contains("tls_kwargs"), "{err}");
}

#[tokio::test]
async fn ldaps_on_connect_logs_in() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let hub = ldap_hub(
        &slapd,
        "on_connect",
        &format!("{PEOPLE_TEMPLATE}allow_all = true\n"),
    )
    .await;
    let (status, page) = try_login(&hub, "alice", "alice-pw").await;
    assert_eq!(status, 302, "{page}");
}

#[tokio::test]
async fn insecure_strategy_logs_in_without_tls() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let hub = ldap_hub(
        &slapd,
        "insecure",
        &format!("{PEOPLE_TEMPLATE}allow_all = true\n"),
    )
    .await;
    let (status, page) = try_login(&hub, "alice", "alice-pw").await;
    assert_eq!(status, 302, "{page}");
}

#[tokio::test]
async fn a_server_certificate_from_an_untrusted_ca_is_refused_with_a_clear_page() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    for (strategy, port) in [
        ("before_bind", slapd.ldap_port),
        ("on_connect", slapd.ldaps_port),
    ] {
        let table = format!(
            "[LDAPAuthenticator]\nserver_address = \"127.0.0.1\"\nserver_port = {port}\ntls_strategy = \"{strategy}\"\ntls_kwargs = {{ ca_certs_file = \"{}\" }}\nfailure_delay = 0.0\n{PEOPLE_TEMPLATE}",
            slapd.other_ca_file()
        );
        let hub = start_hub("authenticator_class = \"ldap\"", &table, &[]).await;
        let (status, page) = try_login(&hub, "alice", "alice-pw").await;
        assert_eq!(status, 502, "{strategy}: {page}");
        assert!(
            page.contains("LDAP"),
            "{strategy}: the page names the directory: {page}"
        );
        assert!(!page.contains("alice-pw"));
        assert!(hub.store().get_user("alice").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn empty_and_blank_passwords_never_reach_a_bind() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    // No group rule: a bind alone would let the user in.
    let hub = ldap_hub(
        &slapd,
        "before_bind",
        &format!("{PEOPLE_TEMPLATE}allow_all = true\n"),
    )
    .await;
    for password in ["", " ", "\t"] {
        let (status, _) = try_login(&hub, "alice", password).await;
        assert_eq!(status, 403, "password {password:?}");
    }
    assert!(hub.store().get_user("alice").await.unwrap().is_none());
    // The service account with an empty password is refused at start-up.
    let table = ldap_table(
        &slapd,
        "before_bind",
        &format!(
            "lookup_dn = true\nuser_search_base = \"ou=people,{BASE}\"\nuser_attribute = \"uid\"\nlookup_dn_user_dn_attribute = \"uid\"\nlookup_dn_search_user = \"{SEARCH_DN}\"\n"
        ),
    );
    let err = start_hub_in(
        tempfile::TempDir::new().unwrap(),
        "authenticator_class = \"ldap\"",
        &table,
        &[],
    )
    .await
    .expect_err("refused");
    assert!(
        err.to_string().contains("lookup_dn_search_password"),
        "{err}"
    );
}

#[tokio::test]
async fn injection_in_the_username_never_widens_a_bind_or_search() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    // Any login name reaches the directory: only escaping protects it.
    let lookup = format!(
        "valid_username_regex = \".*\"\nlookup_dn = true\nuser_search_base = \"ou=people,{BASE}\"\nuser_attribute = \"uid\"\nlookup_dn_user_dn_attribute = \"uid\"\nlookup_dn_search_user = \"{SEARCH_DN}\"\nlookup_dn_search_password = \"{SEARCH_PW}\"\n{}",
        groups_line()
    );
    let hub = ldap_hub(&slapd, "before_bind", &lookup).await;
    // Wildcards and filter breakouts find nobody (a widened search would find alice or
    // several entries), so nothing is bound, whatever the password.
    for name in [
        "*",
        "a*",
        "alice)(uid=*",
        "*)(|(uid=*",
        "alice\0",
        "alice)(|(objectClass=*)",
    ] {
        for password in ["alice-pw", "x"] {
            let (status, _) = try_login(&hub, name, password).await;
            assert_eq!(status, 403, "{name:?} / {password:?}");
        }
    }
    // The entry whose name holds every special character logs in, with its own password
    // only, and is found in its group.
    let (status, page) = try_login(&hub, SPECIAL_UID, "special-pw").await;
    assert_eq!(status, 302, "{page}\n{}", slapd.log());
    let (status, _) = try_login(&hub, SPECIAL_UID, "alice-pw").await;
    assert_eq!(status, 403);

    // The same through bind_dn_template: the name is escaped as a DN value, so a name
    // that adds an RDN or closes the template cannot reach another entry.
    let direct = format!(
        "valid_username_regex = \".*\"\n{PEOPLE_TEMPLATE}{}",
        groups_line()
    );
    let hub = ldap_hub(&slapd, "before_bind", &direct).await;
    for name in [
        "alice,ou=people",
        "alice+cn=x",
        "x,uid=alice",
        "alice\\",
        "*",
    ] {
        let (status, _) = try_login(&hub, name, "alice-pw").await;
        assert_eq!(status, 403, "{name:?}");
    }
    let (status, page) = try_login(&hub, SPECIAL_UID, "special-pw").await;
    assert_eq!(status, 302, "{page}");
}

#[tokio::test]
async fn default_username_regex_refuses_odd_names_before_the_directory() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let hub = ldap_hub(
        &slapd,
        "before_bind",
        &format!("{PEOPLE_TEMPLATE}allow_all = true\n"),
    )
    .await;
    let (status, _) = try_login(&hub, SPECIAL_UID, "special-pw").await;
    assert_eq!(status, 403);
    let (status, _) = try_login(&hub, "alice", "alice-pw").await;
    assert_eq!(status, 302);
}

#[tokio::test]
async fn active_directory_lookup_by_sam_account_name() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    // Active Directory's usual configuration: the DN holds the display name, so it is
    // looked up by sAMAccountName; search_filter keeps members of a group (memberOf).
    let ad = format!(
        "lookup_dn = true\nuser_search_base = \"ou=ad,{BASE}\"\nuser_attribute = \"sAMAccountName\"\nlookup_dn_user_dn_attribute = \"sAMAccountName\"\nlookup_dn_search_user = \"{SEARCH_DN}\"\nlookup_dn_search_password = \"{SEARCH_PW}\"\nuse_lookup_dn_username = true\nsearch_filter = \"(&({{userattr}}={{username}})(memberOf=cn=ad-staff,ou=ad,{BASE}))\"\nallow_all = true\n"
    );
    let hub = ldap_hub(&slapd, "before_bind", &ad).await;
    let (status, page) = try_login(&hub, "eve", "eve-pw").await;
    assert_eq!(status, 302, "{page}\n{}", slapd.log());
    assert!(hub.store().get_user("eve").await.unwrap().is_some());
    // frank is not a member: search_filter finds no entry.
    let (status, _) = try_login(&hub, "frank", "frank-pw").await;
    assert_eq!(status, 403);
    // Anonymous lookups work too when the directory allows them.
    let anonymous = ad
        .replace(&format!("lookup_dn_search_user = \"{SEARCH_DN}\"\n"), "")
        .replace(
            &format!("lookup_dn_search_password = \"{SEARCH_PW}\"\n"),
            "",
        );
    let hub = ldap_hub(&slapd, "before_bind", &anonymous).await;
    let (status, _) = try_login(&hub, "eve", "eve-pw").await;
    assert_eq!(status, 302);
}

#[tokio::test]
async fn a_directory_that_goes_away_gives_a_clear_page_and_the_hub_recovers() {
    let Some(mut slapd) = Slapd::start().await else {
        return;
    };
    let lookup = format!(
        "lookup_dn = true\nuser_search_base = \"ou=people,{BASE}\"\nuser_attribute = \"uid\"\nlookup_dn_user_dn_attribute = \"uid\"\nlookup_dn_search_user = \"{SEARCH_DN}\"\nlookup_dn_search_password = \"{SEARCH_PW}\"\nallow_all = true\n"
    );
    let hub = ldap_hub(&slapd, "before_bind", &lookup).await;
    let (status, _) = try_login(&hub, "alice", "alice-pw").await;
    assert_eq!(status, 302);
    slapd.stop();
    let (status, page) = try_login(&hub, "bob", "bob-pw").await;
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("LDAP"), "{page}");
    slapd.run().await;
    let (status, page) = try_login(&hub, "bob", "bob-pw").await;
    assert_eq!(status, 302, "the pool reconnects: {page}");
}

#[tokio::test]
async fn refresh_after_leaving_the_group_ends_access() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let clock = Arc::new(hubauth_server::ManualClock::at(1_800_000_000));
    let extra = format!(
        "{PEOPLE_TEMPLATE}{}lookup_dn_search_user = \"{SEARCH_DN}\"\nlookup_dn_search_password = \"{SEARCH_PW}\"\n",
        groups_line()
    );
    let table = format!(
        "[Authenticator]\nauth_refresh_age = 60\n\n{}",
        ldap_table(&slapd, "before_bind", &extra)
    );
    let hub = start_hub_with(HubOptions {
        dir: tempfile::TempDir::new().unwrap(),
        listener: None,
        hub_extra: "authenticator_class = \"ldap\"\nsession_cache_ttl = 0",
        rest: &table,
        env: &[],
        clock: Some(clock.clone()),
    })
    .await
    .unwrap();
    let alice = client();
    assert_eq!(
        login(&alice, &hub, "alice", "alice-pw", None)
            .await
            .status(),
        302
    );
    let erin = client();
    assert_eq!(
        login(&erin, &hub, "erin", "erin-pw", None).await.status(),
        302
    );
    // erin leaves the staff group; within auth_refresh_age nothing is asked.
    slapd.modify(&format!(
        "dn: cn=staff,ou=groups,{BASE}\nchangetype: modify\ndelete: member\nmember: uid=erin,ou=people,{BASE}\n"
    ));
    let (status, _) = home(&erin, &hub).await;
    assert_eq!(status, 200);
    // After auth_refresh_age the service account re-reads the groups: erin is out,
    // alice stays.
    clock.advance(61);
    let (status, _) = home(&erin, &hub).await;
    assert_ne!(status, 200, "erin lost access at refresh");
    let (status, _) = home(&alice, &hub).await;
    assert_eq!(status, 200);
    // A deleted account ends at the next refresh too.
    slapd.modify(&format!(
        "dn: uid=alice,ou=people,{BASE}\nchangetype: delete\n"
    ));
    clock.advance(61);
    let (status, _) = home(&alice, &hub).await;
    assert_ne!(status, 200, "alice's account is gone");
}

#[tokio::test]
async fn unknown_user_and_wrong_password_take_the_same_time() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let lookup = format!(
        "lookup_dn = true\nuser_search_base = \"ou=people,{BASE}\"\nuser_attribute = \"uid\"\nlookup_dn_user_dn_attribute = \"uid\"\nlookup_dn_search_user = \"{SEARCH_DN}\"\nlookup_dn_search_password = \"{SEARCH_PW}\"\nallow_all = true\n"
    );
    let hub = ldap_hub(&slapd, "before_bind", &lookup).await;
    // failure_delay = 0.2 (from ldap_table) is the floor for every refusal, counted from
    // the start of the attempt: an unknown user (no bind at all) waits as long as a
    // wrong password (a bind that fails).
    let mut unknown = Vec::new();
    let mut wrong = Vec::new();
    for _ in 0..3 {
        let started = std::time::Instant::now();
        assert_eq!(try_login(&hub, "nobody", "x").await.0, 403);
        unknown.push(started.elapsed());
        let started = std::time::Instant::now();
        assert_eq!(try_login(&hub, "alice", "x").await.0, 403);
        wrong.push(started.elapsed());
    }
    for elapsed in unknown.iter().chain(&wrong) {
        assert!(elapsed.as_secs_f64() >= 0.2, "{elapsed:?}");
    }
}

#[tokio::test]
async fn a_directory_that_never_answers_gives_the_page_within_the_timeout() {
    // A server that accepts connections and then says nothing, for each strategy.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    for strategy in ["before_bind", "on_connect", "insecure"] {
        let table = format!(
            "[LDAPAuthenticator]\nserver_address = \"127.0.0.1\"\nserver_port = {port}\ntls_strategy = \"{strategy}\"\nconnect_timeout = 0.5\noperation_timeout = 0.5\nallow_all = true\n{PEOPLE_TEMPLATE}"
        );
        let hub = start_hub("authenticator_class = \"ldap\"", &table, &[]).await;
        let started = std::time::Instant::now();
        let (status, page) = try_login(&hub, "alice", "alice-pw").await;
        assert_eq!(status, 502, "{strategy}: {page}");
        assert!(page.contains("LDAP"), "{strategy}: {page}");
        // Well before any default HTTP timeout: the configured half second, per step.
        assert!(
            started.elapsed().as_secs_f64() < 10.0,
            "{strategy}: {:?}",
            started.elapsed()
        );
    }
}
