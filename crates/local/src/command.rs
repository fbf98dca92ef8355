//! `add_user_cmd`: its default, the argv built for one user, and running it.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::error::LocalError;
use crate::username::check_system_username;

/// The Linux default: `adduser -q --gecos "" --disabled-password` (the `""` is a literal
/// two-character argument, as upstream passes it).
pub const LINUX_ADD_USER_CMD: &[&str] =
    &["adduser", "-q", "--gecos", "\"\"", "--disabled-password"];

/// The BSD default, used when a `pw` program is on `PATH`: `pw useradd -m -n`.
pub const BSD_ADD_USER_CMD: &[&str] = &["pw", "useradd", "-m", "-n"];

/// How long a user-creation command may run before it is killed.
pub const DEFAULT_ADD_USER_TIMEOUT: Duration = Duration::from_secs(60);

/// The most of a failed command's output kept for the log.
const MAX_OUTPUT_CHARS: usize = 4000;

/// Upstream's default `add_user_cmd`, given the `PATH` to search for `pw`.
///
/// macOS has no supported command (upstream raises "I don't know how to create users on
/// OS X").
pub fn default_add_user_cmd(path: Option<&str>) -> Result<Vec<String>, LocalError> {
    if cfg!(target_os = "macos") {
        return Err(LocalError::UnsupportedPlatform);
    }
    let command = if program_on_path("pw", path) {
        BSD_ADD_USER_CMD
    } else {
        LINUX_ADD_USER_CMD
    };
    Ok(command.iter().map(|arg| (*arg).to_owned()).collect())
}

/// Whether an executable file `program` is in one of the directories of `path`.
fn program_on_path(program: &str, path: Option<&str>) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.unwrap_or_default()
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| Path::new(dir).join(program))
        .any(|candidate| {
            std::fs::metadata(&candidate)
                .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
        })
}

/// The argv that creates system user `name`: every `USERNAME` in `command` replaced by
/// the name, `--uid N` appended when a uid is given, then the name itself.
///
/// The name is checked with [`check_system_username`] first, so a name that a program
/// could read as an option or a path never reaches an argv.
pub fn add_user_argv(
    command: &[String],
    name: &str,
    uid: Option<u32>,
) -> Result<Vec<String>, LocalError> {
    check_system_username(name).map_err(|reason| LocalError::UnsafeName {
        name: name.to_owned(),
        reason,
    })?;
    if command.is_empty() {
        return Err(LocalError::EmptyCommand {
            name: name.to_owned(),
        });
    }
    let mut argv: Vec<String> = command
        .iter()
        .map(|arg| arg.replace("USERNAME", name))
        .collect();
    if let Some(uid) = uid {
        argv.push("--uid".to_owned());
        argv.push(uid.to_string());
    }
    argv.push(name.to_owned());
    Ok(argv)
}

/// Runs a user-creation argv without a shell, with no standard input, and waits at most
/// `timeout` (the child is killed after that). A non-zero exit becomes
/// [`LocalError::CommandFailed`] carrying what the command printed.
pub async fn run_add_user(
    argv: &[String],
    name: &str,
    timeout: Duration,
) -> Result<(), LocalError> {
    let Some((program, args)) = argv.split_first() else {
        return Err(LocalError::EmptyCommand {
            name: name.to_owned(),
        });
    };
    tracing::info!(user = %name, "Creating user: {}", shown_argv(argv));
    let child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|source| LocalError::CommandNotRun {
            name: name.to_owned(),
            program: program.clone(),
            source,
        })?;
    let output = match tokio::time::timeout(timeout, child.wait_with_output()).await {
        Ok(Ok(output)) => output,
        Ok(Err(source)) => {
            return Err(LocalError::CommandNotRun {
                name: name.to_owned(),
                program: program.clone(),
                source,
            });
        }
        // Dropping the future drops the child, which kills it (kill_on_drop).
        Err(_) => {
            return Err(LocalError::CommandTimedOut {
                name: name.to_owned(),
                program: program.clone(),
                seconds: timeout.as_secs(),
            });
        }
    };
    if output.status.success() {
        return Ok(());
    }
    let mut printed = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    if !stdout.is_empty() {
        if !printed.is_empty() {
            printed.push('\n');
        }
        printed.push_str(&stdout);
    }
    if printed.is_empty() {
        printed = format!(
            "{program} exited with {} and printed nothing",
            output.status
        );
    }
    Err(LocalError::CommandFailed {
        name: name.to_owned(),
        status: output.status.to_string(),
        output: for_log(&printed),
    })
}

/// An argv as one line for the log.
fn shown_argv(argv: &[String]) -> String {
    argv.iter()
        .map(|arg| for_log(arg))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text made safe for one log record: newlines kept as ` | `, other control characters
/// escaped, and cut to a bounded length.
fn for_log(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count >= MAX_OUTPUT_CHARS {
            out.push_str("...(cut)");
            break;
        }
        match c {
            '\n' => out.push_str(" | "),
            '\r' => {}
            c if c.is_control() => out.extend(c.escape_default()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn argv_replaces_username_and_appends_name() {
        let argv =
            add_user_argv(&strings(&["echo", "/home/USERNAME"]), "lioness4321", None).unwrap();
        assert_eq!(argv, strings(&["echo", "/home/lioness4321", "lioness4321"]));
    }

    #[test]
    fn argv_appends_uid_before_name() {
        let argv = add_user_argv(&strings(LINUX_ADD_USER_CMD), "river", Some(1234)).unwrap();
        assert_eq!(
            argv,
            strings(&[
                "adduser",
                "-q",
                "--gecos",
                "\"\"",
                "--disabled-password",
                "--uid",
                "1234",
                "river"
            ])
        );
    }

    #[test]
    fn hostile_names_never_make_an_argv() {
        for name in ["-rf", "../x", "a b", "$(id)", "a\n b", "--uid=0"] {
            let err = add_user_argv(&strings(&["true"]), name, None).unwrap_err();
            assert!(
                matches!(err, LocalError::UnsafeName { .. }),
                "{name:?}: {err}"
            );
        }
    }

    #[test]
    fn empty_command_is_an_error() {
        assert!(matches!(
            add_user_argv(&[], "alice", None),
            Err(LocalError::EmptyCommand { .. })
        ));
    }

    #[test]
    fn default_prefers_pw_when_on_path() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            default_add_user_cmd(Some(dir.path().to_str().unwrap())).unwrap(),
            strings(LINUX_ADD_USER_CMD)
        );
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "#!/bin/sh\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o755)).unwrap();
        let path = format!("/nonexistent:{}", dir.path().display());
        assert_eq!(
            default_add_user_cmd(Some(&path)).unwrap(),
            strings(BSD_ADD_USER_CMD)
        );
    }

    #[tokio::test]
    async fn failing_command_reports_its_output() {
        let argv = strings(&["sh", "-c", "echo 'adduser: boom' >&2; exit 3", "hbt_x"]);
        let err = run_add_user(&argv, "hbt_x", Duration::from_secs(10))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Failed to create system user hbt_x: adduser: boom"
        );
    }

    #[tokio::test]
    #[allow(clippy::disallowed_methods)] // measures that the command was stopped in time
    async fn slow_command_is_stopped() {
        let argv = strings(&["sleep", "30"]);
        let started = std::time::Instant::now();
        let err = run_add_user(&argv, "hbt_x", Duration::from_millis(200))
            .await
            .unwrap_err();
        assert!(matches!(err, LocalError::CommandTimedOut { .. }), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn missing_program_is_reported() {
        let argv = strings(&["/nonexistent/adduser", "hbt_x"]);
        let err = run_add_user(&argv, "hbt_x", Duration::from_secs(10))
            .await
            .unwrap_err();
        assert!(matches!(err, LocalError::CommandNotRun { .. }), "{err}");
    }
}
