//! Tells the builder early and clearly when libpam's development files are missing,
//! instead of letting the linker fail with "unable to find library -lpam".

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let pam = std::env::var_os("CARGO_FEATURE_PAM").is_some();
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if !pam || !linux {
        return;
    }
    let mut dirs: Vec<String> = [
        "/usr/lib/x86_64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib64",
        "/usr/lib",
        "/lib64",
        "/lib",
    ]
    .iter()
    .map(|dir| (*dir).to_owned())
    .collect();
    if let Ok(extra) = std::env::var("LIBRARY_PATH") {
        dirs.extend(extra.split(':').map(str::to_owned));
    }
    if let Ok(triple) = std::env::var("TARGET") {
        // Debian's multiarch directory for the target (x86_64-unknown-linux-gnu -> x86_64-linux-gnu).
        let mut parts = triple.split('-');
        if let (Some(arch), Some(_vendor), Some(os), Some(env)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        {
            dirs.push(format!("/usr/lib/{arch}-{os}-{env}"));
        }
    }
    let found = dirs
        .iter()
        .any(|dir| Path::new(dir).join("libpam.so").exists());
    if !found {
        println!(
            "cargo:warning=hubauth-local: libpam.so not found; PAMAuthenticator needs libpam's development files (Debian: apt-get install libpam0g-dev, or run scripts/setup-pam-tests.sh). Build with --no-default-features to leave PAM out."
        );
    }
}
