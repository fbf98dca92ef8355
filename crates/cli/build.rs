//! Records the git revision for `hubauth --version`.
//!
//! `HUBAUTH_GIT_REVISION` (set by packagers building from a tarball) wins; otherwise
//! `git rev-parse --short HEAD` when the source is a git checkout and git is installed;
//! otherwise "unknown". A build never fails because of this.

use std::path::PathBuf;
use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).output().ok()?;
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (!text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=HUBAUTH_GIT_REVISION");
    let from_env = std::env::var("HUBAUTH_GIT_REVISION")
        .ok()
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty());
    let revision = from_env.or_else(|| {
        let revision = git(&["rev-parse", "--short=10", "HEAD"])?;
        // Rebuild when HEAD moves: watch HEAD and the ref it points to (when they exist;
        // a missing watched file would make cargo rerun this script on every build).
        let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
        if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(git(&["rev-parse", "--git-path", &reference]));
        }
        watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
        for path in watched.into_iter().flatten() {
            let path = PathBuf::from(path);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        Some(revision)
    });
    let revision = revision
        .filter(|r| {
            r.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=HUBAUTH_GIT_REVISION={revision}");
}
