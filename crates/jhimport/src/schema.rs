//! JupyterHub's schema versions: which alembic revisions this importer reads.

use crate::ImportError;

/// A JupyterHub schema this importer knows, from the database's `alembic_version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SchemaVersion {
    /// JupyterHub 3.x and 4.x (head `0eee8c825d24`, "added properties column"): no
    /// `managed_by_auth` on roles.
    V4,
    /// JupyterHub 5.x (head `4621fec11365`, "manage roles").
    V5,
    /// JupyterHub 6.x (head `f460b0348206` in 6.1; the revisions between 5.x's head and
    /// it only add columns this importer does not read).
    V6,
}

/// Every revision accepted, with the version it stands for.
const KNOWN: &[(&str, SchemaVersion)] = &[
    ("0eee8c825d24", SchemaVersion::V4),
    ("4621fec11365", SchemaVersion::V5),
    ("be8ecf03ddac", SchemaVersion::V6),
    ("afd65840b69e", SchemaVersion::V6),
    ("ff1860e38070", SchemaVersion::V6),
    ("f460b0348206", SchemaVersion::V6),
];

/// Revisions of JupyterHub releases before 3.0, refused with advice to upgrade first.
const OLDER: &[&str] = &[
    "19c0846f6344",
    "eeb276e51423",
    "af4cbdb2d13c",
    "3ec6993fe20c",
    "1cebaf56856c",
    "56cc5a70207e",
    "99a28a4418e1",
    "d68c98b66cd4",
    "896818069c98",
    "4dc2d5a8c53c",
    "833da8570507",
    "651f5419b74d",
];

impl SchemaVersion {
    /// The version of the schema at alembic revision `revision`: an unknown revision is
    /// [`ImportError::UnknownRevision`], a known older one [`ImportError::TooOld`].
    pub fn from_revision(revision: &str) -> Result<SchemaVersion, ImportError> {
        let revision = revision.trim();
        if let Some((_, version)) = KNOWN.iter().find(|(known, _)| *known == revision) {
            return Ok(*version);
        }
        if OLDER.contains(&revision) {
            return Err(ImportError::TooOld {
                revision: revision.to_owned(),
            });
        }
        Err(ImportError::UnknownRevision {
            revision: revision.chars().take(64).collect(),
        })
    }

    /// The JupyterHub releases this schema belongs to, for messages.
    pub fn releases(self) -> &'static str {
        match self {
            SchemaVersion::V4 => "JupyterHub 3.x/4.x",
            SchemaVersion::V5 => "JupyterHub 5.x",
            SchemaVersion::V6 => "JupyterHub 6.x",
        }
    }

    /// Whether `roles` and the role maps have `managed_by_auth` (5.0 and later).
    pub(crate) fn has_managed_roles(self) -> bool {
        self >= SchemaVersion::V5
    }
}
