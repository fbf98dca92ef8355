//! `hubauth crypt-key rotate`: re-encrypt every stored auth_state with the first key of
//! `JUPYTERHUB_CRYPT_KEY`.
//!
//! The walk goes through the users in id order, one page (`batch_size` users with
//! auth_state) at a time. Each page's changes are written in one transaction, and each
//! row is a compare-and-swap against the bytes that were read, so a hub that is serving
//! meanwhile (and may store fresh auth_state at a login) loses nothing. Rows the first key
//! already decrypts are skipped, which makes the command idempotent and resumable: after
//! an interruption, running it again finishes the job. auth_state that no configured key
//! decrypts is reported by user name and left as it is (the hub treats it as absent, so
//! the user logs in again), or cleared with `clear_undecryptable`.

use hubauth_store::{AuthStateSwap, CryptError, CryptKeeper, Reencrypted, Store, StoreError};

/// How a rotation run should go.
#[derive(Debug, Clone)]
pub struct RotateOptions {
    /// Users per batch (each batch is one transaction); at least 1.
    pub batch_size: u32,
    /// Stop after this many batches that wrote something (to simulate an interruption
    /// in tests); `None` runs to the end.
    pub max_batches: Option<u64>,
    /// Clear auth_state that no key decrypts instead of leaving it in place.
    pub clear_undecryptable: bool,
    /// Timestamp (unix seconds) for the new Fernet tokens.
    pub now: u64,
}

/// What a rotation run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RotateReport {
    /// Users whose auth_state was re-encrypted with the first key.
    pub rotated: u64,
    /// Users whose auth_state the first key already decrypted (skipped).
    pub current: u64,
    /// Users whose auth_state changed (a login, a deletion) between reading and
    /// writing; their new value was left alone.
    pub changed_meanwhile: u64,
    /// Users whose auth_state no configured key decrypts, by name.
    pub undecryptable: Vec<String>,
    /// Whether undecryptable auth_state was cleared (else it was left in place).
    pub cleared_undecryptable: bool,
    /// Batches (pages of users) examined.
    pub batches: u64,
    /// Batches that wrote at least one change (one transaction each).
    pub written_batches: u64,
    /// True when the run stopped early because of `max_batches`: run again to finish.
    pub incomplete: bool,
}

/// Why rotation could not run.
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    /// No key is configured at all.
    #[error(
        "JUPYTERHUB_CRYPT_KEY is not set: put the new key first and the old key(s) after it, separated by ';'"
    )]
    NoKeys,
    /// The database failed; batches written before the failure are kept, and running the
    /// command again continues from there.
    #[error("database: {0} (batches already written are kept; run the command again to continue)")]
    Store(#[from] StoreError),
}

/// Re-encrypts every stored auth_state with `keeper`'s first key, calling `progress`
/// after each batch with the report so far.
pub async fn rotate(
    store: &dyn Store,
    keeper: &CryptKeeper,
    options: &RotateOptions,
    mut progress: impl FnMut(&RotateReport),
) -> Result<RotateReport, RotateError> {
    if !keeper.is_available() {
        return Err(RotateError::NoKeys);
    }
    let batch_size = options.batch_size.max(1);
    let mut report = RotateReport {
        cleared_undecryptable: options.clear_undecryptable,
        ..RotateReport::default()
    };
    let mut after_id = 0;
    loop {
        if options
            .max_batches
            .is_some_and(|max| report.written_batches >= max)
        {
            // Only incomplete if there is something left to look at.
            report.incomplete = !store.auth_state_page(after_id, 1).await?.is_empty();
            break;
        }
        let page = store.auth_state_page(after_id, batch_size).await?;
        let Some(last) = page.last() else {
            break;
        };
        after_id = last.user_id;
        let mut swaps = Vec::new();
        for row in page {
            match keeper.reencrypt(&row.encrypted, options.now) {
                Ok(Reencrypted::Current) => report.current += 1,
                Ok(Reencrypted::Rotated(token)) => swaps.push(AuthStateSwap {
                    user_id: row.user_id,
                    expected: row.encrypted,
                    replacement: Some(token),
                }),
                Err(CryptError::NoKeys) => return Err(RotateError::NoKeys),
                Err(_) => {
                    tracing::warn!(
                        user = %row.name,
                        "auth_state cannot be decrypted with any configured key; the user must log in again"
                    );
                    if options.clear_undecryptable {
                        swaps.push(AuthStateSwap {
                            user_id: row.user_id,
                            expected: row.encrypted,
                            replacement: None,
                        });
                    }
                    report.undecryptable.push(row.name);
                }
            }
        }
        if !swaps.is_empty() {
            let applied = store.replace_auth_states(&swaps).await?;
            report.written_batches += 1;
            for (swap, applied) in swaps.iter().zip(applied) {
                match (applied, swap.replacement.is_some()) {
                    (false, _) => report.changed_meanwhile += 1,
                    (true, true) => report.rotated += 1,
                    (true, false) => {}
                }
            }
        }
        report.batches += 1;
        progress(&report);
    }
    Ok(report)
}
