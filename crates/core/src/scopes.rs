//! JupyterHub's scopes: definitions, expansion (sub-scopes, `self`, `inherit`) and
//! filters (`!user=name`, `!group=name`).
//!
//! A scope string is `name` or `name!filter`. A filter narrows the scope to one user
//! (`!user=alice`), to the members of a group (`!group=staff`, for user scopes) or to one
//! group (`!group=staff`, for group scopes). `!user` without a value, as role
//! definitions write it, means the user holding the role. Expanding a scope adds its
//! sub-scopes with the same filter. Scopes hubauth does not know (servers, services,
//! `openid`...) are kept as they are, so tokens issued for other purposes still carry
//! them.
//!
//! Everything here is pure: who holds which roles, and what a request may do, is decided
//! by the callers (the hub's REST API and its OAuth provider) with these sets.

use std::collections::{BTreeMap, BTreeSet};

/// One scope definition.
#[derive(Debug, Clone, Copy)]
pub struct ScopeDef {
    /// The scope's name.
    pub name: &'static str,
    /// What it grants.
    pub description: &'static str,
    /// Scopes it implies.
    pub subscopes: &'static [&'static str],
}

const fn def(
    name: &'static str,
    description: &'static str,
    subscopes: &'static [&'static str],
) -> ScopeDef {
    ScopeDef {
        name,
        description,
        subscopes,
    }
}

/// JupyterHub's scope definitions (those that mean something to hubauth, plus the
/// server and service scopes so that upstream roles keep their meaning).
pub static SCOPES: &[ScopeDef] = &[
    def("self", "Your own resources (metascope for users).", &[]),
    def(
        "inherit",
        "Anything you have access to (metascope for tokens).",
        &[],
    ),
    def("admin-ui", "Access the admin page.", &[]),
    def(
        "admin:users",
        "Read, modify, create, and delete users and their authentication state, not including their servers or tokens.",
        &[
            "admin:auth_state",
            "users",
            "read:roles:users",
            "delete:users",
        ],
    ),
    def(
        "admin:auth_state",
        "Read a user's authentication state.",
        &[],
    ),
    def(
        "users",
        "Read and write permissions to user models (excluding servers, tokens and authentication state).",
        &["read:users", "list:users", "users:activity"],
    ),
    def("delete:users", "Delete users.", &[]),
    def(
        "list:users",
        "List users, including at least their names.",
        &["read:users:name"],
    ),
    def(
        "read:users",
        "Read user models.",
        &[
            "read:users:name",
            "read:users:groups",
            "read:users:activity",
        ],
    ),
    def("read:users:name", "Read names of users.", &[]),
    def("read:users:groups", "Read users' group membership.", &[]),
    def(
        "read:users:activity",
        "Read time of last user activity.",
        &[],
    ),
    def(
        "read:roles",
        "Read role assignments.",
        &[
            "read:roles:users",
            "read:roles:services",
            "read:roles:groups",
        ],
    ),
    def("read:roles:users", "Read user role assignments.", &[]),
    def("read:roles:services", "Read service role assignments.", &[]),
    def("read:roles:groups", "Read group role assignments.", &[]),
    def(
        "users:activity",
        "Update time of last user activity.",
        &["read:users:activity"],
    ),
    def(
        "admin:servers",
        "Read, start, stop, create and delete user servers and their state.",
        &["admin:server_state", "servers"],
    ),
    def(
        "admin:server_state",
        "Read and write users' server state.",
        &[],
    ),
    def(
        "servers",
        "Start and stop user servers.",
        &["read:servers", "start:servers", "delete:servers"],
    ),
    def(
        "read:servers",
        "Read users' names and their server models.",
        &["read:users:name"],
    ),
    def("start:servers", "Start and edit users' servers.", &[]),
    def("delete:servers", "Stop and delete users' servers.", &[]),
    def(
        "tokens",
        "Read, write, create and delete user tokens.",
        &["read:tokens"],
    ),
    def("read:tokens", "Read user tokens.", &[]),
    def(
        "admin:groups",
        "Read and write group information, create and delete groups.",
        &["groups", "read:roles:groups", "delete:groups"],
    ),
    def(
        "groups",
        "Read and write group information, including adding/removing any users to/from groups.",
        &["read:groups", "list:groups"],
    ),
    def(
        "list:groups",
        "List groups, including at least their names.",
        &["read:groups:name"],
    ),
    def("read:groups", "Read group models.", &["read:groups:name"]),
    def("read:groups:name", "Read group names.", &[]),
    def("delete:groups", "Delete groups.", &[]),
    def(
        "admin:services",
        "Create, read, update, delete services.",
        &["list:services", "read:services", "read:roles:services"],
    ),
    def(
        "list:services",
        "List services, including at least their names.",
        &["read:services:name"],
    ),
    def(
        "read:services",
        "Read service models.",
        &["read:services:name"],
    ),
    def("read:services:name", "Read service names.", &[]),
    def("read:hub", "Read detailed information about the Hub.", &[]),
    def(
        "access:servers",
        "Access user servers via API or browser.",
        &[],
    ),
    def(
        "access:services",
        "Access services via API or browser.",
        &[],
    ),
    def(
        "access:apps",
        "Reach the apps the hub protects (forward-auth and the built-in proxy) with this token, when [Hub] forward_auth_accept_tokens is on (hubauth's own scope).",
        &[],
    ),
    def(
        "users:shares",
        "Read and revoke a user's access to shared servers.",
        &["read:users:shares"],
    ),
    def("read:users:shares", "Read servers shared with a user.", &[]),
    def(
        "groups:shares",
        "Read and revoke a group's access to shared servers.",
        &["read:groups:shares"],
    ),
    def(
        "read:groups:shares",
        "Read servers shared with a group.",
        &[],
    ),
    def(
        "read:shares",
        "Read information about shared access to servers.",
        &[],
    ),
    def(
        "shares",
        "Manage access to shared servers.",
        &[
            "access:servers",
            "read:shares",
            "users:shares",
            "groups:shares",
        ],
    ),
    def("proxy", "Read and sync the proxy's routing table.", &[]),
    def("shutdown", "Shutdown the hub.", &[]),
    def("read:metrics", "Read prometheus metrics.", &[]),
];

/// The scopes `self` stands for, filtered to the user (upstream's `_expand_self_scope`).
const SELF_SCOPES: &[&str] = &[
    "read:users",
    "users:shares",
    "read:shares",
    "users:activity",
    "servers",
    "tokens",
    "access:servers",
    "access:apps",
];

/// The definition of a scope, if hubauth knows it.
pub fn find(name: &str) -> Option<&'static ScopeDef> {
    SCOPES.iter().find(|def| def.name == name)
}

/// Requested scopes that are neither known (see [`is_known`]) nor the one `extra` name
/// allowed in that place (`self` for roles, `inherit` for tokens).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown scopes: {}", .0.join(", "))]
pub struct UnknownScopes(pub Vec<String>);

/// Checks that every requested scope is known or is `extra`; the error names every one
/// that is not, in the order requested.
pub fn check_known<S: AsRef<str>>(requested: &[S], extra: &str) -> Result<(), UnknownScopes> {
    let unknown: Vec<String> = requested
        .iter()
        .map(AsRef::as_ref)
        .filter(|scope| *scope != extra && !is_known(scope))
        .map(str::to_owned)
        .collect();
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(UnknownScopes(unknown))
    }
}

/// Whether a scope string names a known scope (with a well-formed filter, if any).
pub fn is_known(scope: &str) -> bool {
    let (name, filter) = split(scope);
    if find(name).is_none() {
        return false;
    }
    match filter {
        None => true,
        Some(filter) => parse_filter(filter, None).is_some(),
    }
}

/// Whether a scope string is about one of hubauth's scopes (its name is known, whatever
/// its filter), as opposed to a service's own scope or an identity scope.
pub fn names_hub_scope(scope: &str) -> bool {
    find(split(scope).0).is_some()
}

fn split(scope: &str) -> (&str, Option<&str>) {
    match scope.split_once('!') {
        Some((name, filter)) => (name, Some(filter)),
        None => (scope, None),
    }
}

/// What a scope applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Targets {
    /// Every entity.
    pub all: bool,
    /// These users (or, for group scopes, nothing).
    pub users: BTreeSet<String>,
    /// These groups (members of them for user scopes; the group itself for group scopes).
    pub groups: BTreeSet<String>,
    /// Other filters kept verbatim (`server=...`, `service=...`).
    pub other: BTreeSet<String>,
}

impl Targets {
    fn merge(&mut self, other: &Targets) {
        self.all |= other.all;
        // Filters under `all` add nothing; keeping them would make equal sets compare
        // unequal (a user holding `read:users` and `read:users!user=self`).
        if self.all {
            self.users.clear();
            self.groups.clear();
            self.other.clear();
            return;
        }
        self.users.extend(other.users.iter().cloned());
        self.groups.extend(other.groups.iter().cloned());
        self.other.extend(other.other.iter().cloned());
    }

    fn is_empty(&self) -> bool {
        !self.all && self.users.is_empty() && self.groups.is_empty() && self.other.is_empty()
    }

    fn intersect(&self, other: &Targets) -> Targets {
        if self.all {
            return other.clone();
        }
        if other.all {
            return self.clone();
        }
        Targets {
            all: false,
            users: self.users.intersection(&other.users).cloned().collect(),
            groups: self.groups.intersection(&other.groups).cloned().collect(),
            other: self.other.intersection(&other.other).cloned().collect(),
        }
    }
}

/// A filter, parsed: `user=NAME`, `group=NAME`, or another kind kept verbatim.
enum Filter {
    User(String),
    Group(String),
    Other(String),
}

fn parse_filter(filter: &str, owner: Option<&str>) -> Option<Filter> {
    match filter.split_once('=') {
        Some(("user", name)) if !name.is_empty() => Some(Filter::User(name.to_owned())),
        Some(("group", name)) if !name.is_empty() => Some(Filter::Group(name.to_owned())),
        Some((kind, value)) if !value.is_empty() && matches!(kind, "server" | "service") => {
            Some(Filter::Other(filter.to_owned()))
        }
        None if filter == "user" => owner.map(|owner| Filter::User(owner.to_owned())),
        _ => None,
    }
}

/// Which of `raw` (scopes as a role or a token lists them), expanded for `owner` (the
/// user who would hold them), `held` does not fully cover: the raw scopes themselves,
/// and for `inherit` (everything `owner_scopes` holds) the expanded scopes it lacks.
/// Empty when `held` covers them all. This is the rule for handing out scopes: nobody
/// may give a role or a token more than they hold themselves.
pub fn not_held<S: AsRef<str>>(
    raw: &[S],
    owner: &str,
    owner_scopes: &Scopes,
    held: &Scopes,
) -> Vec<String> {
    let mut missing = Vec::new();
    for scope in raw {
        let scope = scope.as_ref();
        if scope == "inherit" {
            missing.extend(owner_scopes.not_covered_by(held));
        } else if !Scopes::expand(&[scope], Some(owner))
            .not_covered_by(held)
            .is_empty()
        {
            missing.push(scope.to_owned());
        }
    }
    let mut seen = BTreeSet::new();
    missing.retain(|scope| seen.insert(scope.clone()));
    missing
}

/// A set of expanded scopes with what each applies to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes {
    map: BTreeMap<String, Targets>,
}

impl Scopes {
    /// Expands raw scopes (from roles or a token) held by `owner` (a user name, for
    /// `self` and `!user`): sub-scopes are added with the same filter. `inherit` is left
    /// out (see [`Scopes::for_token`]). A scope with a malformed filter grants nothing.
    pub fn expand<S: AsRef<str>>(raw: &[S], owner: Option<&str>) -> Scopes {
        let mut scopes = Scopes::default();
        for scope in raw {
            scopes.add(scope.as_ref(), owner);
        }
        scopes
    }

    fn add(&mut self, scope: &str, owner: Option<&str>) {
        let (name, filter) = split(scope);
        if name == "inherit" {
            return;
        }
        if name == "self" {
            if filter.is_some() {
                return;
            }
            if let Some(owner) = owner {
                for scope in SELF_SCOPES {
                    self.add(&format!("{scope}!user={owner}"), None);
                }
            }
            return;
        }
        let targets = match filter {
            None => Targets {
                all: true,
                ..Targets::default()
            },
            Some(filter) => match parse_filter(filter, owner) {
                Some(Filter::User(user)) => Targets {
                    users: BTreeSet::from([user]),
                    ..Targets::default()
                },
                Some(Filter::Group(group)) => Targets {
                    groups: BTreeSet::from([group]),
                    ..Targets::default()
                },
                Some(Filter::Other(other)) => Targets {
                    other: BTreeSet::from([other]),
                    ..Targets::default()
                },
                None => return,
            },
        };
        self.grant(name, &targets);
    }

    fn grant(&mut self, name: &str, targets: &Targets) {
        self.map.entry(name.to_owned()).or_default().merge(targets);
        if let Some(def) = find(name) {
            for sub in def.subscopes {
                self.grant(sub, targets);
            }
        }
    }

    /// A token's scopes: its raw scopes expanded, limited to what its owner holds;
    /// `inherit` gives the owner's. A token without scopes may only identify its owner.
    pub fn for_token<S: AsRef<str>>(raw: &[S], owner_name: &str, owner: &Scopes) -> Scopes {
        if raw.iter().any(|scope| scope.as_ref() == "inherit") {
            return owner.clone();
        }
        Scopes::expand(raw, Some(owner_name)).intersect(owner)
    }

    /// What both sets allow (filters intersected; a user filter meets a group filter
    /// only where the names are equal, so such combinations are narrowed to nothing).
    pub fn intersect(&self, other: &Scopes) -> Scopes {
        let mut map = BTreeMap::new();
        for (name, mine) in &self.map {
            if let Some(theirs) = other.map.get(name) {
                let both = mine.intersect(theirs);
                if !both.is_empty() {
                    map.insert(name.clone(), both);
                }
            }
        }
        Scopes { map }
    }

    /// The scopes of this set that `held` does not cover, as sorted strings (empty when
    /// `held` covers every one). A filtered holding covers only what it names:
    /// `admin:users!group=x` does not cover `admin:users`, and a group filter never
    /// covers a user filter (membership can change after the check).
    pub fn not_covered_by(&self, held: &Scopes) -> Vec<String> {
        let covered = self.intersect(held);
        if covered == *self {
            return Vec::new();
        }
        let covered: BTreeSet<String> = covered.to_strings().into_iter().collect();
        self.to_strings()
            .into_iter()
            .filter(|scope| !covered.contains(scope))
            .collect()
    }

    /// Adds scopes (e.g. the identify scopes on `GET /user`).
    pub fn extend(&mut self, other: &Scopes) {
        for (name, targets) in &other.map {
            self.map.entry(name.clone()).or_default().merge(targets);
        }
    }

    /// Whether the set holds nothing.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Whether the scope is held for anything at all.
    pub fn has_any(&self, name: &str) -> bool {
        self.map
            .get(name)
            .is_some_and(|targets| !targets.is_empty())
    }

    /// Whether the scope is held without a filter.
    pub fn has_all(&self, name: &str) -> bool {
        self.map.get(name).is_some_and(|targets| targets.all)
    }

    /// What a scope applies to, if held.
    pub fn targets(&self, name: &str) -> Option<&Targets> {
        self.map.get(name).filter(|targets| !targets.is_empty())
    }

    /// Whether the scope is held for this user (who is in `groups`).
    pub fn allows_user(&self, name: &str, user: &str, groups: &[String]) -> bool {
        self.targets(name).is_some_and(|targets| {
            targets.all
                || targets.users.contains(user)
                || groups.iter().any(|group| targets.groups.contains(group))
        })
    }

    /// Whether the scope is held for this group.
    pub fn allows_group(&self, name: &str, group: &str) -> bool {
        self.targets(name)
            .is_some_and(|targets| targets.all || targets.groups.contains(group))
    }

    /// The expanded scopes as strings, sorted (`read:users`, `tokens!user=alice`...).
    pub fn to_strings(&self) -> Vec<String> {
        let mut out = BTreeSet::new();
        for (name, targets) in &self.map {
            if targets.all {
                out.insert(name.clone());
                continue;
            }
            for user in &targets.users {
                out.insert(format!("{name}!user={user}"));
            }
            for group in &targets.groups {
                out.insert(format!("{name}!group={group}"));
            }
            for other in &targets.other {
                out.insert(format!("{name}!{other}"));
            }
        }
        out.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_users_implies_auth_state_and_reading() {
        let scopes = Scopes::expand(&["admin:users"], None);
        assert!(scopes.has_all("admin:auth_state"));
        assert!(scopes.has_all("read:users:groups"));
        assert!(scopes.has_all("list:users"));
        assert!(!scopes.has_any("tokens"));
    }

    #[test]
    fn self_is_the_users_own_resources() {
        let scopes = Scopes::expand(&["self"], Some("alice"));
        assert!(scopes.allows_user("read:users", "alice", &[]));
        assert!(scopes.allows_user("tokens", "alice", &[]));
        assert!(!scopes.allows_user("read:users", "bob", &[]));
        assert!(!scopes.has_any("users"), "users cannot edit themselves");
        assert!(!scopes.has_any("admin:auth_state"));
    }

    #[test]
    fn token_scopes_are_limited_to_the_owner() {
        let owner = Scopes::expand(&["self"], Some("alice"));
        let token = Scopes::for_token(&["read:users", "admin:users"], "alice", &owner);
        assert!(token.allows_user("read:users", "alice", &[]));
        assert!(!token.allows_user("read:users", "bob", &[]));
        assert!(!token.has_any("admin:auth_state"));
        assert!(!token.has_any("tokens"), "not asked for");
        assert_eq!(Scopes::for_token(&["inherit"], "alice", &owner), owner);
        let none: [&str; 0] = [];
        assert_eq!(Scopes::for_token(&none, "alice", &owner), Scopes::default());
    }

    #[test]
    fn group_filters() {
        let scopes = Scopes::expand(&["read:users!group=staff", "groups!group=staff"], None);
        assert!(scopes.allows_user("read:users", "x", &["staff".to_owned()]));
        assert!(!scopes.allows_user("read:users", "x", &["other".to_owned()]));
        assert!(scopes.allows_group("read:groups", "staff"));
        assert!(!scopes.allows_group("read:groups", "other"));
    }

    #[test]
    fn malformed_filters_grant_nothing() {
        let scopes = Scopes::expand(&["read:users!user=", "read:users!bogus"], None);
        assert!(!scopes.has_any("read:users"));
        assert!(!is_known("read:users!nope=1"));
        assert!(is_known("read:users!user=alice"));
        assert!(!is_known("nonsense"));
    }

    #[test]
    fn only_unfiltered_holdings_cover_unfiltered_scopes() {
        let held = Scopes::expand(&["admin:users!group=x", "read:users"], None);
        assert_eq!(
            not_held(&["admin:users"], "bob", &Scopes::default(), &held),
            ["admin:users"]
        );
        assert!(not_held(&["read:users:name"], "bob", &Scopes::default(), &held).is_empty());
        assert!(not_held(&["admin:users!group=x"], "bob", &Scopes::default(), &held).is_empty());
        // A group filter does not cover a user filter, even for a member.
        assert_eq!(
            not_held(&["admin:users!user"], "bob", &Scopes::default(), &held),
            ["admin:users!user"]
        );
        // `self` and `!user` resolve for the receiver.
        let alice = Scopes::expand(&["self"], Some("alice"));
        assert!(not_held(&["self"], "alice", &Scopes::default(), &alice).is_empty());
        assert_eq!(
            not_held(&["self", "tokens!user"], "bob", &Scopes::default(), &alice),
            ["self", "tokens!user"]
        );
        // `inherit` names the expanded scopes the holder lacks.
        let admin_users = Scopes::expand(&["admin:users"], None);
        let missing = not_held(&["inherit"], "alice", &alice, &admin_users);
        assert!(
            missing.contains(&"tokens!user=alice".to_owned()),
            "{missing:?}"
        );
        assert!(
            !missing.contains(&"read:users!user=alice".to_owned()),
            "{missing:?}"
        );
        assert!(not_held(&["inherit"], "alice", &alice, &alice).is_empty());
    }

    #[test]
    fn filters_under_an_unfiltered_scope_change_nothing() {
        let admin = Scopes::expand(&["admin:users", "self"], Some("ada"));
        let asked = Scopes::expand(&["admin:users"], Some("ada"));
        assert_eq!(asked.intersect(&admin), asked);
        assert!(asked.not_covered_by(&admin).is_empty());
        assert_eq!(
            Scopes::expand(&["read:users", "read:users!user=ada"], None),
            Scopes::expand(&["read:users"], None)
        );
    }

    #[test]
    fn unknown_scopes_are_named_in_order() {
        assert_eq!(check_known(&["read:users", "self"], "self"), Ok(()));
        let err =
            check_known(&["nope", "read:users", "read:users!bogus", "x!y"], "self").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unknown scopes: nope, read:users!bogus, x!y"
        );
    }

    #[test]
    fn strings_round_trip() {
        let scopes = Scopes::expand(&["tokens!user=alice"], None);
        assert_eq!(
            scopes.to_strings(),
            ["read:tokens!user=alice", "tokens!user=alice"]
        );
    }
}
