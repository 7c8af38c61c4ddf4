//! `airlock audit`: for every stage, its component digest, the WIT interfaces it imports
//! and what the manifest grants, with findings where the two disagree:
//! - `unused-grant`: a grant no import can use (e.g. http granted, wasi:http not imported);
//! - `imported-not-granted`: an interface the component imports but gets nothing through
//!   (Rust std imports wasi:filesystem and wasi:cli even when unused; deny by default means
//!   the stage simply sees no preopen, no variable);
//! - `never-granted`: wasi:sockets, which no stage ever gets.

use anyhow::Context as _;
use serde::Serialize;

use crate::manifest::{Grants, Manifest};
use crate::runtime::Runtime;

/// One stage's audit.
#[derive(Debug, Clone, Serialize)]
pub struct StageAudit {
    /// Stage id.
    pub id: String,
    /// `builtin:NAME` or the component path.
    pub component: String,
    /// sha256 of the component bytes (lowercase hex).
    pub sha256: String,
    /// Size of the component in bytes.
    pub size: usize,
    /// Imported interface names, e.g. `wasi:http/outgoing-handler@0.2.4`.
    pub imports: Vec<String>,
    /// The grants (after `{config.*}` templates are resolved).
    pub grants: Grants,
    /// Disagreements between imports and grants.
    pub findings: Vec<Finding>,
}

/// A disagreement between imports and grants.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// `unused-grant`, `imported-not-granted` or `never-granted`.
    pub kind: &'static str,
    /// What it concerns and what it means.
    pub detail: String,
}

/// Audits every stage of `manifest`. Errors: a component that cannot be read or compiled.
pub fn audit(manifest: &Manifest, runtime: &Runtime) -> anyhow::Result<Vec<StageAudit>> {
    let mut out = Vec::new();
    for st in &manifest.stages {
        let bytes = Runtime::component_bytes(&st.component)?;
        let loaded = runtime
            .load(&st.component, &|_| {})
            .with_context(|| format!("stage \"{}\"", st.id))?;
        let ty = loaded.component.component_type();
        let imports: Vec<String> = ty
            .imports(runtime.engine())
            .map(|(n, _)| n.to_string())
            .collect();
        let has = |prefix: &str| imports.iter().any(|i| i.starts_with(prefix));
        let g = &st.grants;
        let mut findings = Vec::new();
        let mut unused = |what: &str, iface: &str| {
            findings.push(Finding {
                kind: "unused-grant",
                detail: format!("{what} is granted but the component does not import {iface}"),
            })
        };
        if !g.files.is_empty() && !has("wasi:filesystem/") {
            unused("files", "wasi:filesystem");
        }
        if !g.http.is_empty() && !has("wasi:http/outgoing-handler") {
            unused("http", "wasi:http/outgoing-handler");
        }
        if !g.env.is_empty() && !has("wasi:cli/environment") {
            unused("env", "wasi:cli/environment");
        }
        let uses_secrets = !(g.produce.is_empty() && g.inject.is_empty());
        if uses_secrets && !(has("airlock:stage/host") || has("wasi:http/outgoing-handler")) {
            unused("secrets", "airlock:stage/host or wasi:http");
        }
        let mut imported = |iface: &str, why: &str| {
            findings.push(Finding {
                kind: "imported-not-granted",
                detail: format!("{iface} is imported but {why}"),
            })
        };
        if has("wasi:filesystem/") && g.files.is_empty() {
            imported(
                "wasi:filesystem",
                "no files are granted: the stage sees no preopen",
            );
        }
        if has("wasi:http/outgoing-handler") && g.http.is_empty() {
            imported(
                "wasi:http/outgoing-handler",
                "no origin is granted: every request is refused",
            );
        }
        if has("wasi:cli/environment") && g.env.is_empty() {
            imported(
                "wasi:cli/environment",
                "no variable is granted: the stage sees an empty environment",
            );
        }
        for i in imports.iter().filter(|i| i.starts_with("wasi:sockets/")) {
            findings.push(Finding {
                kind: "never-granted",
                detail: format!(
                    "{i} is imported; sockets are off for every stage (TCP, UDP, name lookup)"
                ),
            });
        }
        out.push(StageAudit {
            id: st.id.clone(),
            component: st.component.to_string(),
            sha256: loaded.digest,
            size: bytes.len(),
            imports,
            grants: g.clone(),
            findings,
        });
    }
    Ok(out)
}

/// Renders the audit for people.
pub fn render_human(manifest: &Manifest, audits: &[StageAudit]) -> String {
    let mut s = format!(
        "pipeline {} (project {})\n",
        manifest.name,
        manifest.project.display()
    );
    for a in audits {
        s.push_str(&format!(
            "\nstage {}  {}  sha256:{}  {} bytes\n",
            a.id, a.component, a.sha256, a.size
        ));
        s.push_str("  imports:\n");
        for i in &a.imports {
            s.push_str(&format!("    {i}\n"));
        }
        s.push_str("  grants:\n");
        let g = &a.grants;
        if g.files.is_empty()
            && g.http.is_empty()
            && g.env.is_empty()
            && g.produce.is_empty()
            && g.inject.is_empty()
        {
            s.push_str("    (none)\n");
        }
        for f in &g.files {
            s.push_str(&format!("    files  {} ({})\n", f.path, f.access));
        }
        for h in &g.http {
            s.push_str(&format!(
                "    http   {h}{}\n",
                if g.insecure.contains(h) {
                    " (insecure)"
                } else {
                    ""
                }
            ));
        }
        for e in &g.env {
            s.push_str(&format!("    env    {e}\n"));
        }
        for p in &g.produce {
            s.push_str(&format!("    secret produces {p}\n"));
        }
        for r in &g.inject {
            s.push_str(&format!(
                "    secret injects {} into {} as {}\n",
                r.secret, r.into, r.credential
            ));
        }
        s.push_str(&format!(
            "    limits memory {} MiB, timeout {} s, output {} KiB\n",
            g.limits.memory_mib, g.limits.timeout_s, g.limits.output_kib
        ));
        for f in &a.findings {
            s.push_str(&format!("  {}: {}\n", f.kind, f.detail));
        }
    }
    s
}
