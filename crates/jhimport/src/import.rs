//! The import: a plan (create, change, skip, conflict per row) computed from the source
//! and hubauth's store, then written in batches.
//!
//! Safe on a live system: the source is only read; the plan compares with what hubauth
//! holds, so a second run finds everything imported and writes nothing (idempotent), and
//! a run cut short is finished by running again (resumable). Rows of hubauth that differ
//! from the source are conflicts, left alone unless `overwrite` is set.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use hubauth_store::jupyterhub_hash::{is_jupyterhub_hash, jupyterhub_hash_matches};
use hubauth_store::{
    CryptKeeper, ImportBatch, ImportedApiToken, ImportedUser, RoleSpec, Store, UserRecord,
};

use crate::ImportError;
use crate::model::{JhOAuthClient, JhRole, JhToken, JhUser, Snapshot, TokenOwner};

/// JupyterHub's default roles: hubauth keeps its own `user` and `admin` (the admin flag
/// decides `admin`), and has no servers or server tokens.
const DEFAULT_ROLES: &[&str] = &["user", "admin", "server", "token"];

/// The OAuth client id of JupyterHub itself (tokens made through its API or token page).
const JUPYTERHUB_CLIENT: &str = "jupyterhub";

/// A service registered in hubauth's configuration (`[[Hub.services]]`), against which the
/// source's OAuth clients of services are checked: hubauth keeps its OAuth clients in the
/// configuration, where `import-config` puts them.
#[derive(Clone, PartialEq, Eq)]
pub struct ConfiguredClient {
    /// The OAuth client id.
    pub client_id: String,
    /// The registered redirect URIs.
    pub redirect_uris: Vec<String>,
    /// The client secret (the service's `api_token`), if any.
    pub secret: Option<String>,
}

impl fmt::Debug for ConfiguredClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfiguredClient")
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Plan only: read both sides, write nothing.
    pub dry_run: bool,
    /// Replace what differs in hubauth with the source's values instead of reporting a
    /// conflict.
    pub overwrite: bool,
    /// Users per batch (each batch, with those users' tokens, is one transaction).
    pub batch_size: usize,
    /// Now (unix seconds): tokens expired by then are not imported, and a user without a
    /// creation time gets this one.
    pub now: i64,
    /// Decrypt each auth_state once with these keys and report the unreadable ones.
    pub check_auth_state: Option<CryptKeeper>,
    /// hubauth's registered services, to check the source's OAuth clients against.
    pub clients: Vec<ConfiguredClient>,
    /// Stop after this many written batches (to test resuming); `None` runs to the end.
    pub max_batches: Option<u64>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            dry_run: false,
            overwrite: false,
            batch_size: 500,
            now: 0,
            check_auth_state: None,
            clients: Vec::new(),
            max_batches: None,
        }
    }
}

/// What kind of row an item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A group.
    Group,
    /// A role.
    Role,
    /// A user (admin flag, times, auth_state, memberships, role grants).
    User,
    /// An API token.
    Token,
    /// An OAuth client of a service.
    OAuthClient,
    /// An auth_state checked with `--check-auth-state`.
    AuthState,
    /// Something hubauth has no place for (group properties, role assignments of groups
    /// and services, tokens of services): reported, not imported.
    NotCarried,
}

impl Kind {
    /// Every kind, in the order of the summary.
    pub const ALL: [Kind; 7] = [
        Kind::Group,
        Kind::Role,
        Kind::User,
        Kind::Token,
        Kind::OAuthClient,
        Kind::AuthState,
        Kind::NotCarried,
    ];

    /// The kind's name in messages.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Group => "group",
            Kind::Role => "role",
            Kind::User => "user",
            Kind::Token => "token",
            Kind::OAuthClient => "oauth client",
            Kind::AuthState => "auth_state",
            Kind::NotCarried => "not carried",
        }
    }
}

/// What the import does (or, in a dry run, would do) with one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Created in hubauth.
    Create,
    /// Changed in hubauth (with `overwrite`, or newer activity).
    Change,
    /// Nothing to do: hubauth already holds it, or it does not apply to hubauth.
    Skip,
    /// hubauth holds something different; left alone (use `overwrite`).
    Conflict,
    /// Could not be imported (unreadable, or cannot be represented); see the reason.
    Failed,
    /// Reported only: hubauth has no place for it.
    Reported,
}

impl Action {
    /// The action's word in messages (`dry`: as a plan).
    pub fn label(self, dry: bool) -> &'static str {
        match (self, dry) {
            (Action::Create, false) => "created",
            (Action::Create, true) => "would create",
            (Action::Change, false) => "changed",
            (Action::Change, true) => "would change",
            (Action::Skip, _) => "skipped",
            (Action::Conflict, _) => "conflict",
            (Action::Failed, _) => "not imported",
            (Action::Reported, _) => "not carried over",
        }
    }
}

/// One row of the report. Never holds a secret: names, ids and reasons only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The kind of row.
    pub kind: Kind,
    /// Its name (a token: `a<id> of <user>`, as JupyterHub's API names it).
    pub name: String,
    /// What happened to it.
    pub action: Action,
    /// Why, for conflicts, failures, skips and reported rows.
    pub reason: String,
}

/// Counts of one kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Created (or to create).
    pub created: u64,
    /// Changed (or to change).
    pub changed: u64,
    /// Skipped.
    pub skipped: u64,
    /// Conflicts left alone.
    pub conflicts: u64,
    /// Not imported.
    pub failed: u64,
    /// Reported, not carried.
    pub reported: u64,
}

/// What an import did, or in a dry run would do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// The source's schema, for the summary.
    pub schema: String,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// Every row, in the order planned.
    pub items: Vec<Item>,
    /// Transactions written.
    pub batches_written: u64,
    /// True when the run stopped early (`max_batches`): run again to finish.
    pub incomplete: bool,
}

impl ImportReport {
    /// The counts of one kind.
    pub fn counts(&self, kind: Kind) -> Counts {
        let mut counts = Counts::default();
        for item in self.items.iter().filter(|item| item.kind == kind) {
            match item.action {
                Action::Create => counts.created += 1,
                Action::Change => counts.changed += 1,
                Action::Skip => counts.skipped += 1,
                Action::Conflict => counts.conflicts += 1,
                Action::Failed => counts.failed += 1,
                Action::Reported => counts.reported += 1,
            }
        }
        counts
    }

    /// Whether everything was imported: no conflict left, nothing that failed, and not
    /// stopped early. The command's exit status is non-zero otherwise.
    pub fn is_complete(&self) -> bool {
        !self.incomplete
            && !self
                .items
                .iter()
                .any(|item| matches!(item.action, Action::Conflict | Action::Failed))
    }

    /// Whether the run wrote (or would write) anything.
    pub fn writes(&self) -> bool {
        self.items
            .iter()
            .any(|item| matches!(item.action, Action::Create | Action::Change))
    }

    /// The items with `action`, for tests and summaries.
    pub fn with(&self, kind: Kind, action: Action) -> Vec<&str> {
        self.items
            .iter()
            .filter(|item| item.kind == kind && item.action == action)
            .map(|item| item.name.as_str())
            .collect()
    }

    /// The report as text: one line per row that is not a plain skip, then a summary
    /// with counts per kind.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for item in &self.items {
            if item.action == Action::Skip {
                continue;
            }
            let reason = if item.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", item.reason)
            };
            if item.action == Action::Reported {
                out.push_str(&format!("not carried over: {}{reason}\n", item.name));
                continue;
            }
            out.push_str(&format!(
                "{} {} {}{reason}\n",
                item.action.label(self.dry_run),
                item.kind.label(),
                item.name
            ));
        }
        out.push_str(&format!(
            "{} from a {} database{}:\n",
            if self.dry_run {
                "plan (dry run, nothing written)"
            } else {
                "imported"
            },
            self.schema,
            if self.dry_run {
                String::new()
            } else {
                format!(", {} batch(es) written", self.batches_written)
            }
        ));
        for kind in Kind::ALL {
            let c = self.counts(kind);
            if c == Counts::default() {
                continue;
            }
            out.push_str(&format!(
                "  {:<13} {} create, {} change, {} skip, {} conflict, {} not imported, {} not carried\n",
                kind.label(),
                c.created,
                c.changed,
                c.skipped,
                c.conflicts,
                c.failed,
                c.reported
            ));
        }
        if self.incomplete {
            out.push_str("stopped early: run the import again to continue\n");
        }
        out
    }
}

fn item(kind: Kind, name: impl Into<String>, action: Action, reason: impl Into<String>) -> Item {
    Item {
        kind,
        name: name.into(),
        action,
        reason: reason.into(),
    }
}

fn parse_scopes(text: Option<&str>) -> Result<Vec<String>, String> {
    match text {
        None => Ok(Vec::new()),
        Some(text) if text.trim().is_empty() || text.trim() == "null" => Ok(Vec::new()),
        Some(text) => serde_json::from_str::<Vec<String>>(text)
            .map_err(|_| "its scopes are not a JSON list of strings".to_owned()),
    }
}

/// A planned user and what to write for it.
struct PlannedUser {
    write: Option<ImportedUser>,
    /// Whether its tokens may be imported (the user is, or will be, the source's user).
    tokens_allowed: bool,
}

/// Reads the source at `source_url` and imports it into `store` (see the module
/// documentation). Returns the report; rows that could not be imported are in it, and
/// [`ImportReport::is_complete`] says whether there were any.
pub async fn import_database(
    source_url: &str,
    store: &dyn Store,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let source = crate::Source::open(source_url).await?;
    let snapshot = source.read().await;
    source.close().await;
    import_snapshot(&snapshot?, store, options).await
}

/// Imports an already read [`Snapshot`] into `store`.
pub async fn import_snapshot(
    snapshot: &Snapshot,
    store: &dyn Store,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    if options
        .check_auth_state
        .as_ref()
        .is_some_and(|keeper| !keeper.is_available())
    {
        return Err(ImportError::NoCryptKeys);
    }
    let mut report = ImportReport {
        schema: snapshot
            .schema
            .map_or("JupyterHub", |schema| schema.releases())
            .to_owned(),
        dry_run: options.dry_run,
        ..ImportReport::default()
    };

    // ----- what hubauth holds
    let existing_users: BTreeMap<String, UserRecord> = store
        .list_users()
        .await?
        .into_iter()
        .map(|user| (user.name.clone(), user))
        .collect();
    let existing_groups: BTreeSet<String> = store
        .list_groups()
        .await?
        .into_iter()
        .map(|group| group.name)
        .collect();
    let existing_roles: BTreeMap<String, (String, Vec<String>)> = store
        .list_roles()
        .await?
        .into_iter()
        .map(|role| (role.name, (role.description, role.scopes)))
        .collect();

    // ----- roles
    let mut roles_to_write = Vec::new();
    let mut grantable_roles = BTreeSet::new();
    for role in &snapshot.roles {
        plan_role(
            role,
            &existing_roles,
            options,
            &mut report,
            &mut roles_to_write,
            &mut grantable_roles,
        );
    }

    // ----- groups
    let mut groups_to_write = Vec::new();
    for group in &snapshot.groups {
        if existing_groups.contains(&group.name) {
            report
                .items
                .push(item(Kind::Group, &group.name, Action::Skip, "exists"));
        } else {
            groups_to_write.push(group.name.clone());
            report
                .items
                .push(item(Kind::Group, &group.name, Action::Create, ""));
        }
        if group.properties.is_some() {
            report.items.push(item(
                Kind::NotCarried,
                format!("properties of group {}", group.name),
                Action::Reported,
                "hubauth groups have no properties (JupyterHub passes them to spawners)",
            ));
        }
    }

    // ----- users
    let mut planned: BTreeMap<&str, PlannedUser> = BTreeMap::new();
    for user in &snapshot.users {
        let existing = existing_users.get(&user.name);
        let stored_state = match existing {
            Some(_) => store.get_auth_state(&user.name).await?,
            None => None,
        };
        let plan = plan_user(
            user,
            existing,
            stored_state.as_deref(),
            &grantable_roles,
            options,
            &mut report,
        );
        planned.insert(user.name.as_str(), plan);
        if let (Some(keeper), Some(bytes)) = (&options.check_auth_state, &user.encrypted_auth_state)
        {
            if keeper.decrypt_json(bytes).is_ok() {
                report
                    .items
                    .push(item(Kind::AuthState, &user.name, Action::Skip, "readable"));
            } else {
                tracing::warn!(user = %user.name, "auth_state cannot be decrypted with the configured keys");
                report.items.push(item(
                    Kind::AuthState,
                    &user.name,
                    Action::Failed,
                    "cannot be decrypted with any key of JUPYTERHUB_CRYPT_KEY (copied as is; \
                     hubauth treats it as absent until the user logs in again)",
                ));
            }
        }
    }

    // ----- tokens
    let mut tokens_by_user: BTreeMap<&str, Vec<ImportedApiToken>> = BTreeMap::new();
    for token in &snapshot.tokens {
        if let Some((user, imported)) =
            plan_token(token, &planned, store, options, &mut report).await?
        {
            tokens_by_user.entry(user).or_default().push(imported);
        }
    }

    // ----- OAuth clients
    for client in &snapshot.oauth_clients {
        plan_client(client, &options.clients, &mut report);
    }

    if options.dry_run {
        return Ok(report);
    }

    // ----- writing: groups and roles first, then users with their tokens in batches
    let first = ImportBatch {
        groups: groups_to_write,
        roles: roles_to_write,
        ..ImportBatch::default()
    };
    if !first.is_empty() {
        store.import_batch(&first).await?;
        report.batches_written += 1;
    }
    let users: Vec<&JhUser> = snapshot.users.iter().collect();
    for chunk in users.chunks(options.batch_size.max(1)) {
        let mut batch = ImportBatch::default();
        for user in chunk {
            if let Some(plan) = planned.get_mut(user.name.as_str())
                && let Some(write) = plan.write.take()
            {
                batch.users.push(write);
            }
            if let Some(tokens) = tokens_by_user.remove(user.name.as_str()) {
                batch.tokens.extend(tokens);
            }
        }
        if batch.is_empty() {
            continue;
        }
        if options
            .max_batches
            .is_some_and(|max| report.batches_written >= max)
        {
            report.incomplete = true;
            break;
        }
        store.import_batch(&batch).await?;
        report.batches_written += 1;
    }
    Ok(report)
}

fn plan_role(
    role: &JhRole,
    existing: &BTreeMap<String, (String, Vec<String>)>,
    options: &ImportOptions,
    report: &mut ImportReport,
    to_write: &mut Vec<RoleSpec>,
    grantable: &mut BTreeSet<String>,
) {
    for group in &role.groups {
        report.items.push(item(
            Kind::NotCarried,
            format!("role {} of group {group}", role.name),
            Action::Reported,
            "hubauth roles are held by users only: give the role to the group's members \
             (load_managed_roles or the REST API)",
        ));
    }
    for service in &role.services {
        report.items.push(item(
            Kind::NotCarried,
            format!("role {} of service {service}", role.name),
            Action::Reported,
            "hubauth services are OAuth clients, not API principals",
        ));
    }
    if DEFAULT_ROLES.contains(&role.name.as_str()) {
        report.items.push(item(
            Kind::Role,
            &role.name,
            Action::Skip,
            "JupyterHub's default role (hubauth keeps its own; the admin flag decides admin)",
        ));
        return;
    }
    let scopes = match parse_scopes(role.scopes.as_deref()) {
        Ok(scopes) => scopes,
        Err(reason) => {
            report
                .items
                .push(item(Kind::Role, &role.name, Action::Failed, reason));
            return;
        }
    };
    let spec = RoleSpec {
        name: role.name.clone(),
        description: role.description.clone(),
        scopes,
        managed_by_auth: role.managed_by_auth,
    };
    match existing.get(&role.name) {
        None => {
            report
                .items
                .push(item(Kind::Role, &role.name, Action::Create, ""));
            to_write.push(spec);
            grantable.insert(role.name.clone());
        }
        Some((description, scopes)) => {
            let same_scopes = {
                let mut a = scopes.clone();
                let mut b = spec.scopes.clone();
                a.sort();
                b.sort();
                a == b
            };
            if same_scopes && *description == spec.description {
                report
                    .items
                    .push(item(Kind::Role, &role.name, Action::Skip, "exists"));
                grantable.insert(role.name.clone());
            } else if options.overwrite {
                report.items.push(item(
                    Kind::Role,
                    &role.name,
                    Action::Change,
                    "scopes or description replaced (--overwrite)",
                ));
                to_write.push(spec);
                grantable.insert(role.name.clone());
            } else {
                report.items.push(item(
                    Kind::Role,
                    &role.name,
                    Action::Conflict,
                    "hubauth has this role with other scopes or description; its grants to \
                     imported users are left out (--overwrite replaces it)",
                ));
            }
        }
    }
}

fn plan_user(
    user: &JhUser,
    existing: Option<&UserRecord>,
    stored_state: Option<&[u8]>,
    grantable: &BTreeSet<String>,
    options: &ImportOptions,
    report: &mut ImportReport,
) -> PlannedUser {
    let roles: Vec<String> = user
        .roles
        .iter()
        .filter(|role| grantable.contains(*role))
        .cloned()
        .collect();
    let mut write = ImportedUser {
        name: user.name.clone(),
        admin: user.admin,
        created: user.created.unwrap_or(options.now),
        last_activity: user.last_activity,
        auth_state: user.encrypted_auth_state.clone(),
        groups: user.groups.clone(),
        roles,
        replace: false,
    };
    let Some(existing) = existing else {
        report
            .items
            .push(item(Kind::User, &user.name, Action::Create, ""));
        return PlannedUser {
            write: Some(write),
            tokens_allowed: true,
        };
    };
    let mut differences = Vec::new();
    if existing.admin != write.admin {
        differences.push(format!(
            "admin is {} in hubauth, {} in JupyterHub",
            existing.admin, write.admin
        ));
    }
    // A source row without a creation time gets `now`, which no later run repeats.
    if user.created.is_some() && existing.created != write.created {
        differences.push("created at another time (not by this import)".to_owned());
    }
    if stored_state != write.auth_state.as_deref() {
        differences.push("auth_state differs".to_owned());
    }
    let missing_groups: Vec<&String> = write
        .groups
        .iter()
        .filter(|group| !existing.groups.contains(group))
        .collect();
    if !missing_groups.is_empty() {
        differences.push(format!("not in group(s) {missing_groups:?} in hubauth"));
    }
    let missing_roles: Vec<&String> = write
        .roles
        .iter()
        .filter(|role| !existing.roles.contains(role))
        .collect();
    if !missing_roles.is_empty() {
        differences.push(format!("without role(s) {missing_roles:?} in hubauth"));
    }
    if differences.is_empty() {
        let newer = match (existing.last_activity, write.last_activity) {
            (Some(have), Some(source)) => source > have,
            (None, Some(_)) => true,
            _ => false,
        };
        if newer {
            report.items.push(item(
                Kind::User,
                &user.name,
                Action::Change,
                "newer last_activity",
            ));
            return PlannedUser {
                write: Some(write),
                tokens_allowed: true,
            };
        }
        report.items.push(item(
            Kind::User,
            &user.name,
            Action::Skip,
            "already imported",
        ));
        return PlannedUser {
            write: None,
            tokens_allowed: true,
        };
    }
    let reason = differences.join("; ");
    if options.overwrite {
        write.replace = true;
        report.items.push(item(
            Kind::User,
            &user.name,
            Action::Change,
            format!("replaced (--overwrite): {reason}"),
        ));
        PlannedUser {
            write: Some(write),
            tokens_allowed: true,
        }
    } else {
        report.items.push(item(
            Kind::User,
            &user.name,
            Action::Conflict,
            format!("already in hubauth and different: {reason} (--overwrite replaces it)"),
        ));
        PlannedUser {
            write: None,
            tokens_allowed: false,
        }
    }
}

async fn plan_token<'s>(
    token: &JhToken,
    planned: &BTreeMap<&'s str, PlannedUser>,
    store: &dyn Store,
    options: &ImportOptions,
    report: &mut ImportReport,
) -> Result<Option<(&'s str, ImportedApiToken)>, ImportError> {
    let user = match &token.owner {
        TokenOwner::User(user) => user,
        TokenOwner::Service(service) => {
            report.items.push(item(
                Kind::NotCarried,
                format!("token a{} of service {service}", token.id),
                Action::Reported,
                "hubauth services are OAuth clients, not API principals",
            ));
            return Ok(None);
        }
        TokenOwner::Nobody => {
            report.items.push(item(
                Kind::Token,
                format!("a{}", token.id),
                Action::Skip,
                "belongs to nobody",
            ));
            return Ok(None);
        }
    };
    let name = format!("a{} of {user}", token.id);
    if let Some(client) = token
        .client_id
        .as_deref()
        .filter(|client| *client != JUPYTERHUB_CLIENT)
    {
        report.items.push(item(
            Kind::Token,
            name,
            Action::Skip,
            format!(
                "issued at a login to the OAuth client {client}; the client gets a new one at its next login"
            ),
        ));
        return Ok(None);
    }
    if token.expires.is_some_and(|expires| expires <= options.now) {
        report
            .items
            .push(item(Kind::Token, name, Action::Skip, "expired"));
        return Ok(None);
    }
    let Some((owner, plan)) = planned.get_key_value(user.as_str()) else {
        report.items.push(item(
            Kind::Token,
            name,
            Action::Failed,
            "its user is not in the source",
        ));
        return Ok(None);
    };
    if !plan.tokens_allowed {
        report.items.push(item(
            Kind::Token,
            name,
            Action::Conflict,
            "its user conflicts with a user of hubauth",
        ));
        return Ok(None);
    }
    if !is_jupyterhub_hash(&token.hashed) {
        report.items.push(item(
            Kind::Token,
            name,
            Action::Failed,
            "its stored hash is not in a format hubauth checks",
        ));
        return Ok(None);
    }
    let scopes = match parse_scopes(token.scopes.as_deref()) {
        Ok(scopes) => scopes,
        Err(reason) => {
            report
                .items
                .push(item(Kind::Token, name, Action::Failed, reason));
            return Ok(None);
        }
    };
    if let Some(stored) = store.find_api_token(&token.hashed).await? {
        if stored.user == *user {
            report
                .items
                .push(item(Kind::Token, name, Action::Skip, "already imported"));
        } else {
            report.items.push(item(
                Kind::Token,
                name,
                Action::Conflict,
                "hubauth holds this token for another user",
            ));
        }
        return Ok(None);
    }
    report
        .items
        .push(item(Kind::Token, name, Action::Create, ""));
    Ok(Some((
        *owner,
        ImportedApiToken {
            hash: token.hashed.clone(),
            prefix: token.prefix.clone(),
            user: user.clone(),
            note: token.note.clone(),
            scopes,
            created: token.created.unwrap_or(options.now),
            expires: token.expires,
            last_activity: token.last_activity,
        },
    )))
}

fn plan_client(client: &JhOAuthClient, configured: &[ConfiguredClient], report: &mut ImportReport) {
    let name = &client.identifier;
    let Some(service) = &client.service else {
        let reason = if name == JUPYTERHUB_CLIENT {
            "JupyterHub's own client".to_owned()
        } else {
            "not a service's client (a single-user server's, which hubauth does not run)".to_owned()
        };
        report
            .items
            .push(item(Kind::OAuthClient, name, Action::Skip, reason));
        return;
    };
    let Some(found) = configured.iter().find(|c| c.client_id == *name) else {
        report.items.push(item(
            Kind::OAuthClient,
            name,
            Action::Failed,
            format!(
                "service {service} has no [[Hub.services]] entry with this oauth_client_id: \
                 convert jupyterhub_config.py with `hubauth import-config` (hubauth keeps its \
                 OAuth clients in the configuration)"
            ),
        ));
        return;
    };
    if !client.redirect_uri.is_empty() && !found.redirect_uris.contains(&client.redirect_uri) {
        report.items.push(item(
            Kind::OAuthClient,
            name,
            Action::Failed,
            format!(
                "the configured oauth_redirect_uri does not include JupyterHub's {}",
                client.redirect_uri
            ),
        ));
        return;
    }
    let secret_ok = match (&found.secret, client.secret_hash.is_empty()) {
        (_, true) => true,
        (None, false) => false,
        (Some(secret), false) => jupyterhub_hash_matches(&client.secret_hash, secret),
    };
    if !secret_ok {
        report.items.push(item(
            Kind::OAuthClient,
            name,
            Action::Failed,
            "the configured api_token is not the secret JupyterHub stored for this client",
        ));
        return;
    }
    report.items.push(item(
        Kind::OAuthClient,
        name,
        Action::Skip,
        format!("service {service} is configured with the same id, redirect URI and secret"),
    ));
}
