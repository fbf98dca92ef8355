//! Small sandboxed scripts for the places where upstream takes a Python callable.
//!
//! Scripts are written in [Rhai](https://rhai.rs): no file, network or process access,
//! and hard limits on operations, call depth, string, array and map sizes and run time.
//! [`ScriptHook`] runs a script as `post_auth_hook`.
#![forbid(unsafe_code)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hubauth_core::{AuthError, AuthModel, PostAuthHook, RequestContext};
use rhai::{AST, Dynamic, Engine, Scope};

/// Limits applied to every script run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum number of operations (roughly, evaluated expressions) per run.
    pub max_operations: u64,
    /// Maximum wall-clock time per run.
    pub max_time: Duration,
    /// Maximum length of any string, in bytes.
    pub max_string_size: usize,
    /// Maximum number of items in any array.
    pub max_array_size: usize,
    /// Maximum number of entries in any map.
    pub max_map_size: usize,
    /// Maximum function call depth.
    pub max_call_levels: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_operations: 200_000,
            max_time: Duration::from_millis(250),
            max_string_size: 64 * 1024,
            max_array_size: 10_000,
            max_map_size: 10_000,
            max_call_levels: 32,
        }
    }
}

/// A script that failed to compile or to run.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The script is not valid Rhai; the message gives the line and column.
    #[error("script does not compile: {0}")]
    Syntax(String),
    /// The script stopped with an error, or hit a limit.
    #[error("script failed: {0}")]
    Runtime(String),
    /// The script ran but did not evaluate to what was expected.
    #[error("script returned {0}")]
    BadResult(String),
}

/// A compiled script with its sandboxed engine.
#[derive(Clone)]
pub struct Script {
    engine: Arc<Engine>,
    ast: Arc<AST>,
    limits: Limits,
}

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("limits", &self.limits)
            .finish()
    }
}

impl Script {
    /// Compiles a script with the default limits.
    pub fn compile(source: &str) -> Result<Self, ScriptError> {
        Self::compile_with_limits(source, Limits::default())
    }

    /// Compiles a script with the given limits.
    pub fn compile_with_limits(source: &str, limits: Limits) -> Result<Self, ScriptError> {
        let engine = sandboxed_engine(&limits);
        let ast = engine
            .compile(source)
            .map_err(|err| ScriptError::Syntax(err.to_string()))?;
        Ok(Script {
            engine: Arc::new(engine),
            ast: Arc::new(ast),
            limits,
        })
    }

    /// Runs the script with the given variables (as JSON) and returns its value as JSON.
    /// Blocks the calling thread for at most the time limit.
    // The run's time budget is wall-clock time by nature: a deadline for the script, not a decision about a user.
    #[allow(clippy::disallowed_methods)]
    pub fn eval_json(
        &self,
        variables: &[(&str, serde_json::Value)],
    ) -> Result<serde_json::Value, ScriptError> {
        let mut scope = Scope::new();
        for (name, value) in variables {
            let value = rhai::serde::to_dynamic(value)
                .map_err(|err| ScriptError::Runtime(err.to_string()))?;
            scope.push_dynamic(*name, value);
        }
        let started = Instant::now();
        let limit = self.limits.max_time;
        // A fresh engine view per run would lose the compiled limits; the progress callback
        // is installed on a clone so that each run has its own deadline.
        let mut engine = sandboxed_engine(&self.limits);
        engine.on_progress(move |_| {
            if started.elapsed() > limit {
                Some(Dynamic::from("time limit exceeded"))
            } else {
                None
            }
        });
        let result: Dynamic = engine
            .eval_ast_with_scope(&mut scope, &self.ast)
            .map_err(|err| match *err {
                rhai::EvalAltResult::ErrorTerminated(_, position) => {
                    ScriptError::Runtime(format!("time limit of {limit:?} exceeded ({position})"))
                }
                other => ScriptError::Runtime(other.to_string()),
            })?;
        rhai::serde::from_dynamic(&result).map_err(|err| ScriptError::BadResult(err.to_string()))
    }

    /// The limits this script runs under.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The engine used to compile the script (kept for callers that check syntax only).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }
}

fn sandboxed_engine(limits: &Limits) -> Engine {
    let mut engine = Engine::new();
    engine.set_max_operations(limits.max_operations);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_expr_depths(64, 32);
    // No `import`: scripts cannot load other files.
    engine.set_module_resolver(rhai::module_resolvers::DummyModuleResolver::new());
    engine.disable_symbol("eval");
    engine.on_print(|text| tracing::info!(target: "hubauth::script", "{text}"));
    engine.on_debug(|text, _, _| tracing::debug!(target: "hubauth::script", "{text}"));
    engine
}

/// `post_auth_hook` as a script: it sees `authentication` (the auth model as a map) and
/// `authenticator` (the class name) and must evaluate to the auth model.
#[derive(Debug, Clone)]
pub struct ScriptHook {
    script: Script,
}

impl ScriptHook {
    /// Compiles the hook's source.
    pub fn compile(source: &str) -> Result<Self, ScriptError> {
        Ok(ScriptHook {
            script: Script::compile(source)?,
        })
    }

    /// Wraps an already compiled script.
    pub fn new(script: Script) -> Self {
        ScriptHook { script }
    }
}

#[async_trait]
impl PostAuthHook for ScriptHook {
    async fn run(
        &self,
        authenticator: &str,
        _ctx: &RequestContext,
        model: AuthModel,
    ) -> Result<AuthModel, AuthError> {
        let script = self.script.clone();
        let authenticator = authenticator.to_owned();
        let input = model.to_json();
        let output = tokio::task::spawn_blocking(move || {
            script.eval_json(&[
                ("authentication", input),
                ("authenticator", serde_json::Value::String(authenticator)),
            ])
        })
        .await
        .map_err(|err| AuthError::Hook(format!("the hook's task failed: {err}")))?
        .map_err(|err| AuthError::Hook(err.to_string()))?;
        if !output.is_object() {
            return Err(AuthError::Hook(format!(
                "the hook must evaluate to the authentication map, got {}",
                short(&output)
            )));
        }
        AuthModel::from_json(output).map_err(|err| AuthError::Hook(err.to_string()))
    }
}

fn short(value: &serde_json::Value) -> String {
    let text = value.to_string();
    if text.len() > 80 {
        format!("{}...", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ctx() -> RequestContext {
        RequestContext::at(0)
    }

    #[tokio::test]
    async fn hook_can_add_auth_state() {
        let hook = ScriptHook::compile(
            r#"
            let state = authentication.auth_state;
            if state == () { state = #{}; }
            state.via = authenticator;
            authentication.auth_state = state;
            authentication.testkey = 42;
            authentication
            "#,
        )
        .unwrap();
        let model = hook
            .run("DummyAuthenticator", &ctx(), AuthModel::named("ann"))
            .await
            .unwrap();
        assert_eq!(model.auth_state, Some(json!({"via": "DummyAuthenticator"})));
        assert_eq!(model.extra.get("testkey"), Some(&json!(42)));
    }

    #[tokio::test]
    async fn hook_returning_unit_fails_the_login() {
        let hook = ScriptHook::compile("let x = 1;").unwrap();
        let err = hook
            .run("DummyAuthenticator", &ctx(), AuthModel::named("ann"))
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::Hook(_)), "{err}");
    }

    #[test]
    fn syntax_errors_are_reported_at_compile_time() {
        let err = ScriptHook::compile("authentication +").unwrap_err();
        assert!(matches!(err, ScriptError::Syntax(_)), "{err}");
    }

    #[test]
    fn infinite_loops_are_stopped() {
        let script = Script::compile("loop { }").unwrap();
        let err = script.eval_json(&[]).unwrap_err();
        assert!(matches!(err, ScriptError::Runtime(_)), "{err}");
    }

    #[test]
    fn huge_strings_are_refused() {
        let script = Script::compile(r#"let s = "x"; loop { s += s; }"#).unwrap();
        assert!(script.eval_json(&[]).is_err());
    }

    #[test]
    fn import_and_eval_are_unavailable() {
        assert!(
            Script::compile(r#"import "os" as os; 1"#)
                .and_then(|s| s.eval_json(&[]))
                .is_err()
        );
        assert!(
            Script::compile(r#"eval("1")"#)
                .and_then(|s| s.eval_json(&[]))
                .is_err()
        );
    }

    #[test]
    fn time_limit_applies() {
        let limits = Limits {
            max_operations: u64::MAX / 2,
            max_time: Duration::from_millis(20),
            ..Limits::default()
        };
        let script = Script::compile_with_limits("let i = 0; loop { i += 1; }", limits).unwrap();
        let err = script.eval_json(&[]).unwrap_err();
        assert!(err.to_string().contains("time limit"), "{err}");
    }
}
