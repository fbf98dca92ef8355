//! Which names may be handed to a user-creation command.
//!
//! `add_user_cmd` runs as an argv without a shell, so quoting is not the danger; the
//! danger is a name that the *program* reads as something else: `-rf` or `--uid=0` as an
//! option, `../etc` or `/root` as a path, a newline that splits a line in
//! `/etc/passwd`-style files or logs. Names are therefore held to the POSIX portable
//! user-name set before any command runs.

/// The longest name accepted (the limit of Linux `useradd` and most systems).
pub const MAX_SYSTEM_USERNAME_LEN: usize = 32;

/// Checks that `name` is safe to pass to a user-creation command as a user name.
///
/// Accepted: 1 to 32 characters from `A-Z a-z 0-9 . _ -`, not starting with `-` or `.`,
/// without `..`, not made of digits only (it could be read as a uid), with an optional
/// final `$` (Samba machine accounts). Returns why the name is refused otherwise.
pub fn check_system_username(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.chars().any(char::is_control) {
        return Err("the name contains control characters");
    }
    if name.chars().any(char::is_whitespace) {
        return Err("the name contains whitespace");
    }
    if name.starts_with('-') {
        return Err("the name starts with '-', so a command could read it as an option");
    }
    if name.contains('/') {
        return Err("the name contains '/', so a command could read it as a path");
    }
    if name.contains("..") {
        return Err("the name contains '..', so a command could read it as a path");
    }
    if name.starts_with('.') {
        return Err("the name starts with '.'");
    }
    if name.len() > MAX_SYSTEM_USERNAME_LEN {
        return Err("the name is longer than 32 characters, the limit of most systems");
    }
    let body = name.strip_suffix('$').unwrap_or(name);
    if body.is_empty() {
        return Err("the name is only '$'");
    }
    if !body
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(
            "the name has characters outside the POSIX portable set A-Z a-z 0-9 . _ - (shell or option syntax is never passed on)",
        );
    }
    if body.chars().all(|c| c.is_ascii_digit()) {
        return Err("the name is all digits, so a command could read it as a uid");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_system_username;

    #[test]
    fn plain_names_pass() {
        for name in [
            "alice", "bob_2", "x", "a.b-c", "Grace", "_svc", "host$", "a1",
        ] {
            assert_eq!(check_system_username(name), Ok(()), "{name}");
        }
    }

    #[test]
    fn hostile_names_are_refused() {
        for name in [
            "",
            "-rf",
            "--uid=0",
            "../x",
            "..",
            ".",
            "a/b",
            "/root",
            "a b",
            "a\tb",
            "a\n b",
            "a\0b",
            "$(id)",
            "`id`",
            "a;b",
            "a|b",
            "a&b",
            "a>b",
            "$",
            "1234",
            "ünïcode",
            "a@b",
            "name*",
            ".hidden",
            "abcdefghijklmnopqrstuvwxyz0123456",
        ] {
            assert!(check_system_username(name).is_err(), "{name:?} accepted");
        }
    }
}
