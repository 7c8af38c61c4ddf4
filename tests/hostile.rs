//! The hostile-stage suite: one pipeline of test components (tests/hostile, built beside
//! the built-in stages, never embedded) that each try one escape, plus one ordinary stage.
//! Every attempt must be refused or stopped with the right error category, the host must
//! keep running, and the ordinary stage must succeed in the same run.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{airlock, copy_tree, report, stage};
use serde_json::json;

const SECRET: &str = "hostile-suite-secret-9f8e7d6c5b4a";

/// A tiny HTTP server on 127.0.0.1: `/ok` answers 200 "ok" and records the Authorization
/// header; `/redirect` answers 302 to the same path on `localhost` (another origin);
/// `/echo` answers with the request's Authorization header as its body; `/slow` answers
/// after 2 s. Serves at most 256 connections, each on its own thread with a 10 s read
/// timeout.
fn serve() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen_all = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(256) {
            let seen2 = seen_all.clone();
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(10)));
                let mut buf = [0u8; 8192];
                let n = conn.read(&mut buf).unwrap_or(0);
                let head = String::from_utf8_lossy(&buf[..n]).to_string();
                for line in head.lines() {
                    if let Some(v) = line
                        .strip_prefix("authorization: ")
                        .or_else(|| line.strip_prefix("Authorization: "))
                    {
                        seen2.lock().unwrap().push(v.to_string());
                    }
                }
                let auth = head
                    .lines()
                    .find_map(|l| {
                        l.strip_prefix("authorization: ")
                            .or_else(|| l.strip_prefix("Authorization: "))
                    })
                    .unwrap_or("")
                    .to_string();
                let resp = if head.starts_with("GET /redirect") {
                    format!(
                        "HTTP/1.1 302 Found\r\nLocation: http://localhost:{port}/ok\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                } else if head.starts_with("GET /echo") {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{auth}",
                        auth.len()
                    )
                } else {
                    if head.starts_with("GET /slow") {
                        std::thread::sleep(std::time::Duration::from_secs(2));
                    }
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        .to_string()
                };
                let _ = conn.write_all(resp.as_bytes());
            });
        }
    });
    (port, seen)
}

#[test]
fn hostile_stages_are_refused_or_stopped_and_the_pipeline_goes_on() {
    let wasm = env!("AIRLOCK_TEST_HOSTILE_WASM");
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("p");
    copy_tree(
        &airlock_test_support::workspace().join("examples/demo"),
        &project,
    );
    for d in ["data", "ro", "secret"] {
        std::fs::create_dir_all(project.join(d)).unwrap();
    }
    std::fs::write(project.join("secret/token.txt"), "do-not-read").unwrap();
    std::os::unix::fs::symlink("/etc", project.join("data/link")).unwrap();
    let (port, seen) = serve();
    let other_port = airlock_test_support::free_port();

    let h = |id: &str, attempt: &str, target: &str, grants: &str| {
        format!(
            "[[stage]]\nid = \"{id}\"\ncomponent = {{ path = \"{wasm}\" }}\nconfig = {{ attempt = \"{attempt}\", target = \"{target}\" }}\n[stage.grants]\n{grants}\n"
        )
    };
    let data = r#"files = [{ path = "data", access = "read" }]"#;
    let local = format!(r#"http = ["http://127.0.0.1:{port}"]"#);
    let mut cases: Vec<(&str, String)> = vec![
        (
            "fs-etc-passwd",
            h("fs-etc-passwd", "read", "/etc/passwd", data),
        ),
        (
            "fs-dotdot",
            h("fs-dotdot", "read", "data/../../etc/passwd", data),
        ),
        (
            "fs-dotdot-abs",
            h("fs-dotdot-abs", "read", "/data/../../../etc/hostname", data),
        ),
        (
            "fs-ungranted-sibling",
            h("fs-ungranted-sibling", "read", "secret/token.txt", data),
        ),
        (
            "fs-symlink-out",
            h("fs-symlink-out", "read", "data/link/passwd", data),
        ),
        ("fs-list-etc", h("fs-list-etc", "list", "/etc", data)),
        (
            "fs-write-readonly",
            h(
                "fs-write-readonly",
                "write",
                "ro/x.txt",
                r#"files = [{ path = "ro", access = "read" }]"#,
            ),
        ),
        (
            "fs-write-root",
            h("fs-write-root", "write", "/new.txt", data),
        ),
        (
            "http-ungranted-host",
            h(
                "http-ungranted-host",
                "http",
                "http://example.invalid/",
                &local,
            ),
        ),
        (
            "http-other-port",
            h(
                "http-other-port",
                "http",
                &format!("http://127.0.0.1:{other_port}/ok"),
                &local,
            ),
        ),
        (
            "http-other-scheme",
            h(
                "http-other-scheme",
                "http",
                &format!("https://127.0.0.1:{port}/ok"),
                &local,
            ),
        ),
        (
            "http-ip-literal",
            h(
                "http-ip-literal",
                "http",
                &format!("http://127.0.0.1:{port}/ok"),
                &format!(r#"http = ["http://localhost:{port}"]"#),
            ),
        ),
        (
            "http-redirect-out",
            h(
                "http-redirect-out",
                "redirect",
                &format!("http://127.0.0.1:{port}/redirect"),
                &local,
            ),
        ),
        (
            "tcp-connect",
            h("tcp-connect", "tcp", &format!("127.0.0.1:{port}"), &local),
        ),
        ("udp-send", h("udp-send", "udp", "127.0.0.1:53", &local)),
        ("dns-lookup", h("dns-lookup", "dns", "localhost", &local)),
        (
            "env-ungranted",
            h(
                "env-ungranted",
                "env",
                "AIRLOCK_HOSTILE_SECRET",
                r#"env = ["SOURCE_DATE_EPOCH"]"#,
            ),
        ),
        (
            "store-secret-ungranted",
            h(
                "store-secret-ungranted",
                "store-secret",
                "pypi-token",
                r#"secrets = { produce = ["other"] }"#,
            ),
        ),
        ("loop", h("loop", "loop", "", "limits = { timeout_s = 2 }")),
        (
            "sleep-in-host-call",
            h(
                "sleep-in-host-call",
                "sleep",
                "",
                "limits = { timeout_s = 2 }",
            ),
        ),
        (
            "memory-bomb",
            h("memory-bomb", "memory", "", "limits = { memory_mib = 32 }"),
        ),
        (
            "oversized-output",
            h(
                "oversized-output",
                "output",
                "",
                "limits = { output_kib = 1024 }",
            ),
        ),
        ("recursion", h("recursion", "recursion", "", "")),
        ("panic", h("panic", "panic", "", "")),
    ];
    // ---- attempts on the host: what it does with what a stage leaves behind or sends ----
    let hx = |id: &str, cfg: serde_json::Value, grants: &str| {
        let table = toml::Value::try_from(&cfg).unwrap();
        format!(
            "[[stage]]\nid = \"{id}\"\ncomponent = {{ path = \"{wasm}\" }}\nconfig = {table}\n[stage.grants]\n{grants}\n"
        )
    };
    std::fs::write(project.join("data/f.txt"), "data").unwrap();
    let echo = format!("http://127.0.0.1:{port}/echo");
    let inject_basic = format!(
        "{local}\nsecrets = {{ inject = [{{ secret = \"hostile\", into = \"http://127.0.0.1:{port}\", as = \"basic:__token__\" }}] }}"
    );
    let hostile_text = "\u{1b}]0;pwned\u{7}\u{1b}[2J\u{1b}[31mred\r\n::stop-commands::tok\n::error::forged annotation\n::add-mask::x\n\u{202e}reversed";
    let markdown_text = "<img src=x onerror=alert(1)> [click](javascript:alert(1)) | forged | row |\n## Forged heading\n::stop-commands::zz";
    let ws = |dir: &str| format!(r#"files = [{{ path = "{dir}", access = "write" }}]"#);
    let new_cases: Vec<(&str, String)> = vec![
        // Limits that count every resource of the stage.
        (
            "res-open-files",
            hx(
                "res-open-files",
                json!({"attempt": "files", "target": "data/f.txt", "n": 5000}),
                data,
            ),
        ),
        (
            "res-http-fields-big",
            hx(
                "res-http-fields-big",
                json!({"attempt": "fields", "n": 1, "size": 4096}),
                "",
            ),
        ),
        (
            "res-http-fields-many",
            hx(
                "res-http-fields-many",
                json!({"attempt": "fields", "n": 5000, "size": 64}),
                "",
            ),
        ),
        (
            "res-concurrent-requests",
            hx(
                "res-concurrent-requests",
                json!({"attempt": "requests", "target": format!("http://127.0.0.1:{port}/slow"), "n": 40}),
                &local,
            ),
        ),
        // Host work sized by the stage.
        (
            "work-log-flood",
            hx(
                "work-log-flood",
                json!({"attempt": "log-flood", "n": 20000, "size": 65536}),
                "limits = { memory_mib = 64 }",
            ),
        ),
        (
            "work-log-huge-line",
            hx(
                "work-log-huge-line",
                json!({"attempt": "log-flood", "n": 1, "size": 48 << 20}),
                "limits = { memory_mib = 256 }",
            ),
        ),
        (
            "work-progress-flood",
            hx(
                "work-progress-flood",
                json!({"attempt": "progress-flood", "n": 200000, "size": 1024}),
                "",
            ),
        ),
        (
            "work-failure-huge",
            hx(
                "work-failure-huge",
                json!({"attempt": "fail", "size": 32 << 20}),
                "limits = { memory_mib = 256 }",
            ),
        ),
        (
            "work-sparse-artifact",
            hx(
                "work-sparse-artifact",
                json!({"attempt": "sparse-artifact", "target": "out1/big.bin", "size": 8u64 << 30}),
                &ws("out1"),
            ),
        ),
        // Values the host publishes.
        (
            "pub-artifact-outside-grant",
            hx(
                "pub-artifact-outside-grant",
                json!({"attempt": "artifact", "target": "secret/token.txt", "sha256": "0".repeat(64), "size": 11}),
                &ws("out2"),
            ),
        ),
        (
            "pub-artifact-wrong-digest",
            hx(
                "pub-artifact-wrong-digest",
                json!({"attempt": "sparse-artifact", "target": "out3/small.bin", "size": 10}),
                &ws("out3"),
            ),
        ),
        (
            "pub-forged-outputs",
            hx(
                "pub-forged-outputs",
                json!({"attempt": "json", "value": {"release": true, "trigger": "manual", "version": "9.9.9", "grade": "A", "success": true}}),
                "",
            ),
        ),
        (
            "pub-forged-multiline",
            hx(
                "pub-forged-multiline",
                json!({"attempt": "json", "value": {"value": "1.0\nrelease=true\nghadelimiter_0000"}}),
                "",
            ),
        ),
        // Stage text that reaches places that interpret it.
        (
            "text-terminal",
            hx(
                "text-terminal",
                json!({"attempt": "log", "text": hostile_text}),
                "",
            ),
        ),
        (
            "text-failure",
            hx(
                "text-failure",
                json!({"attempt": "fail", "text": markdown_text}),
                "",
            ),
        ),
        (
            "text-artifact-name",
            hx(
                "text-artifact-name",
                json!({"attempt": "artifact", "target": "out4/\u{1b}[2Jx\n::error::name.whl", "sha256": "0".repeat(64), "size": 1}),
                &ws("out4"),
            ),
        ),
        // Redaction: the Basic-auth form of an injected secret, echoed back to the stage.
        (
            "redact-log",
            hx(
                "redact-log",
                json!({"attempt": "echo-secret", "target": echo, "mode": "log"}),
                &inject_basic,
            ),
        ),
        (
            "redact-output-keys",
            hx(
                "redact-output-keys",
                json!({"attempt": "echo-secret", "target": echo, "mode": "output"}),
                &inject_basic,
            ),
        ),
        (
            "redact-failure",
            hx(
                "redact-failure",
                json!({"attempt": "echo-secret", "target": echo, "mode": "fail"}),
                &inject_basic,
            ),
        ),
        (
            "redact-refused-url",
            hx(
                "redact-refused-url",
                json!({"attempt": "echo-secret", "target": echo, "mode": "url"}),
                &inject_basic,
            ),
        ),
        (
            "redact-progress",
            hx(
                "redact-progress",
                json!({"attempt": "echo-secret", "target": echo, "mode": "progress"}),
                &inject_basic,
            ),
        ),
        // Secrets a producer stores.
        (
            "secret-too-short",
            hx(
                "secret-too-short",
                json!({"attempt": "store", "target": "short", "value": "9.9.9"}),
                r#"secrets = { produce = ["short"] }"#,
            ),
        ),
        (
            "secret-too-large",
            hx(
                "secret-too-large",
                json!({"attempt": "store", "target": "large", "value": "L".repeat(20 << 10)}),
                r#"secrets = { produce = ["large"] }"#,
            ),
        ),
        (
            "secret-flood",
            hx(
                "secret-flood",
                json!({"attempt": "store", "target": "flood", "value": "flood-secret-value", "n": 200}),
                r#"secrets = { produce = ["flood"] }"#,
            ),
        ),
        (
            "revoke-ungranted",
            hx(
                "revoke-ungranted",
                json!({"attempt": "revoke", "target": "rv", "to": "http://127.0.0.9:9/burn"}),
                &format!(
                    "http = [\"http://127.0.0.1:{port}\"]\nsecrets = {{ produce = [\"rv\"] }}"
                ),
            ),
        ),
        (
            "revoke-flood",
            hx(
                "revoke-flood",
                json!({"attempt": "revoke", "target": "rvf", "to": format!("http://127.0.0.1:{port}/ok"), "n": 500}),
                &format!(
                    "http = [\"http://127.0.0.1:{port}\"]\nsecrets = {{ produce = [\"rvf\"] }}"
                ),
            ),
        ),
        (
            "secret-in-output",
            hx(
                "secret-in-output",
                json!({"attempt": "store-and-output", "target": "leak", "value": "leak-secret-value-123"}),
                r#"secrets = { produce = ["leak"] }"#,
            ),
        ),
        (
            "secret-to-downstream",
            format!(
                "{}needs = [\"secret-in-output\"]\n",
                hx("secret-to-downstream", json!({"attempt": "inputs"}), "").replacen(
                    "[stage.grants]\n",
                    "",
                    1
                )
            ),
        ),
    ];
    cases.extend(new_cases);
    // Components no Rust compiler would make: many memories, a huge table.
    for (id, memories, pages, table, limit) in [
        ("res-many-memories", 8u32, 64u32, 0u32, 16u32),
        ("res-huge-table", 1, 1, 10_000_000, 32),
        ("res-memory-count", 100, 1, 0, 32),
    ] {
        let file = project.join(format!("{id}.wasm"));
        std::fs::write(
            &file,
            airlock_test_support::hostile_memory_component(memories, pages, table),
        )
        .unwrap();
        cases.push((
            id,
            format!(
                "[[stage]]\nid = \"{id}\"\ncomponent = {{ path = \"{}\" }}\n[stage.grants]\nlimits = {{ memory_mib = {limit} }}\n",
                file.display()
            ),
        ));
    }
    // The injected secret: the stage reaches the granted origin with it added by the host,
    // and tries to see it in its environment.
    let inject = format!(
        "[[stage]]\nid = \"read-injected-secret\"\ncomponent = {{ path = \"{wasm}\" }}\nconfig = {{ attempt = \"env-dump\" }}\n[stage.grants]\nenv = [\"AIRLOCK_HOSTILE_SECRET\"]\n\n[[stage]]\nid = \"use-injected-secret\"\ncomponent = {{ path = \"{wasm}\" }}\nconfig = {{ attempt = \"http\", target = \"http://127.0.0.1:{port}/ok\" }}\n[stage.grants]\n{local}\nsecrets = {{ inject = [{{ secret = \"hostile\", into = \"http://127.0.0.1:{port}\", as = \"bearer\" }}] }}\n"
    );
    let ordinary = "[[stage]]\nid = \"ordinary\"\ncomponent = \"builtin:detect\"\nconfig = { previous = \"security/previous\", current = \"security/current\" }\n[stage.grants]\nfiles = [{ path = \"security\", access = \"read\" }]\n";
    let mut manifest = String::from(
        "[pipeline]\nname = \"hostile\"\noutputs = { forged = \"pub-forged-multiline.value\" }\n[secrets]\nhostile = { env = \"AIRLOCK_HOSTILE_SECRET\" }\n\n",
    );
    for (_, text) in &cases {
        manifest.push_str(text);
        manifest.push('\n');
    }
    manifest.push_str(&inject);
    manifest.push_str(ordinary);
    std::fs::write(project.join("hostile.toml"), &manifest).unwrap();

    let runner = tmp.path().join("runner");
    std::fs::create_dir_all(&runner).unwrap();
    let (gh_output, gh_summary) = (runner.join("output"), runner.join("summary"));
    let (out, peak_kib) = common::airlock_measured(
        &[
            "run",
            project.join("hostile.toml").to_str().unwrap(),
            "--format",
            "json",
        ],
        &[
            ("AIRLOCK_HOSTILE_SECRET", SECRET),
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", gh_output.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", gh_summary.to_str().unwrap()),
        ],
        None,
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "stderr:\n{stderr}");
    let r = report(&out);

    let expect = |id: &str, category: &str, needle: &str| {
        let s = stage(&r, id);
        assert_eq!(s["status"], "failed", "{id} was not stopped: {s}");
        assert_eq!(s["failure"]["category"], category, "{id}: {s}");
        let msg = s["failure"]["message"].as_str().unwrap();
        assert!(
            msg.contains(needle),
            "{id}: message lacks {needle:?}: {msg}"
        );
    };
    expect("fs-etc-passwd", "capability", "/etc/passwd");
    expect("fs-dotdot", "capability", "../../etc/passwd");
    expect("fs-dotdot-abs", "capability", "etc/hostname");
    expect("fs-ungranted-sibling", "capability", "secret/token.txt");
    expect("fs-symlink-out", "capability", "data/link/passwd");
    expect("fs-list-etc", "capability", "/etc");
    expect("fs-write-readonly", "capability", "ro/x.txt");
    assert!(!project.join("ro/x.txt").exists());
    expect("fs-write-root", "capability", "/new.txt");
    assert!(!project.join("new.txt").exists());
    expect(
        "http-ungranted-host",
        "capability",
        "http://example.invalid/",
    );
    expect(
        "http-other-port",
        "capability",
        &format!("127.0.0.1:{other_port}"),
    );
    expect(
        "http-other-scheme",
        "capability",
        &format!("https://127.0.0.1:{port}/ok"),
    );
    expect(
        "http-ip-literal",
        "capability",
        &format!("http://127.0.0.1:{port}/ok"),
    );
    expect(
        "http-redirect-out",
        "capability",
        &format!("http://localhost:{port}/ok"),
    );
    expect("tcp-connect", "capability", "tcp connect");
    expect("udp-send", "capability", "udp send");
    expect("dns-lookup", "capability", "name lookup");
    expect("env-ungranted", "capability", "AIRLOCK_HOSTILE_SECRET");
    expect("store-secret-ungranted", "capability", "\"pypi-token\"");
    expect("loop", "capability", "wall-clock limit of 2 s");
    expect(
        "sleep-in-host-call",
        "capability",
        "wall-clock limit of 2 s",
    );
    expect("memory-bomb", "capability", "memory limit of 32 MiB");
    expect(
        "oversized-output",
        "capability",
        "over its limit of 1024 KiB",
    );
    expect("recursion", "internal", "trapped");
    expect("panic", "internal", "trapped");
    for id in [
        "http-ungranted-host",
        "http-other-port",
        "http-other-scheme",
        "http-ip-literal",
        "http-redirect-out",
    ] {
        assert!(
            !stage(&r, id)["denied"].as_array().unwrap().is_empty(),
            "{id}: no refused URL reported"
        );
    }

    // The injected secret reached the server, but never the stage, its output or the logs.
    assert_eq!(stage(&r, "use-injected-secret")["status"], "succeeded");
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .any(|a| a == &format!("Bearer {SECRET}")),
        "the host did not inject the secret"
    );
    assert_eq!(stage(&r, "read-injected-secret")["status"], "succeeded");
    // The one allowed place for a secret is GitHub's own `::add-mask::` command.
    let unmasked: String = stderr
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        !stdout.contains(SECRET) && !unmasked.contains(SECRET),
        "the secret leaked into the run output"
    );
    for (path, bytes) in common::all_files(&project.join(".airlock")) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(SECRET),
            "the secret leaked into {}",
            path.display()
        );
    }

    // The table for the record (visible with --nocapture).
    for s in r["stages"].as_array().unwrap() {
        let f = &s["failure"];
        let msg = f["message"].as_str().unwrap_or("");
        eprintln!(
            "| {} | {} | {} | {} |",
            s["id"].as_str().unwrap(),
            s["status"].as_str().unwrap(),
            f["category"].as_str().unwrap_or("-"),
            msg.chars().take(140).collect::<String>().replace('|', "/")
        );
    }

    // The host kept running: the ordinary stage succeeded in the same run.
    assert_eq!(
        stage(&r, "ordinary")["status"],
        "succeeded",
        "{}",
        stage(&r, "ordinary")
    );
    // ---- the host's side ----
    let failed = |id: &str| {
        let s = stage(&r, id);
        assert_eq!(s["status"], "failed", "{id} was not stopped: {s}");
        s["failure"]["message"].as_str().unwrap().to_string()
    };
    // Resources: every kind is capped per stage; the stage fails alone.
    failed("res-open-files");
    failed("res-http-fields-big");
    failed("res-http-fields-many");
    expect("res-many-memories", "capability", "memory limit of 16 MiB");
    expect("res-huge-table", "capability", "memory limit of 32 MiB");
    expect("res-memory-count", "capability", "memory count too high");
    expect(
        "res-concurrent-requests",
        "capability",
        "concurrent requests refused",
    );
    // Host work: logs, progress, failures and artifacts are bounded.
    assert_eq!(stage(&r, "work-log-flood")["status"], "succeeded");
    let flood_lines = stderr
        .lines()
        .filter(|l| l.contains("work-log-flood: lll"))
        .count();
    assert!(
        flood_lines <= 300,
        "{flood_lines} log lines of 64 KiB passed the 1 MiB log budget"
    );
    assert!(stderr.contains("work-log-flood: warn: log volume over grants.limits.log_kib"));
    let longest = stderr.lines().map(str::len).max().unwrap_or(0);
    assert!(longest < 16 << 10, "a stderr line of {longest} bytes");
    assert!(stderr.contains("bytes cut)"), "the 48 MiB line was not cut");
    let progress_lines = stderr
        .lines()
        .filter(|l| l.contains("work-progress-flood: ppp"))
        .count();
    assert!(progress_lines < 200, "{progress_lines} progress lines");
    let huge = failed("work-failure-huge");
    assert!(huge.len() < 6000, "failure message of {} bytes", huge.len());
    assert!(
        stage(&r, "work-failure-huge")["failure"]["hint"]
            .as_str()
            .unwrap()
            .len()
            < 3000
    );
    expect(
        "work-sparse-artifact",
        "capability",
        "over grants.limits.artifact_mib",
    );
    // Artifacts: only inside write grants, and never a digest the stage did not declare.
    expect(
        "pub-artifact-outside-grant",
        "capability",
        "not inside a folder this stage may write",
    );
    let wrong = failed("pub-artifact-wrong-digest");
    let real = hex::encode(<sha2::Sha256 as sha2::Digest>::digest([0u8; 10]));
    assert!(wrong.contains("does not match"), "{wrong}");
    assert!(
        !stdout.contains(&real) && !stderr.contains(&real),
        "the real digest of a mismatched artifact was revealed"
    );
    assert!(
        !project
            .join(".airlock/state/artifacts/out3/small.bin")
            .exists()
            && !project
                .join(".airlock/state/artifacts/secret/token.txt")
                .exists()
    );
    // Published values come from the manifest's mapping only, validated, with a delimiter
    // no stage can guess.
    let gh_out = std::fs::read_to_string(&gh_output).unwrap();
    let entries = airlock::encode::parse_github_output(&gh_out).unwrap();
    assert_eq!(
        entries,
        vec![("success".to_string(), "false".to_string())],
        "GITHUB_OUTPUT:\n{gh_out}"
    );
    assert!(stderr.contains("step output forged (from pub-forged-multiline.value) not written"));
    // Stage text: no escape sequence reaches the terminal, no stage text begins a line.
    assert!(!stderr.contains('\u{1b}') && !stderr.contains('\u{202e}'));
    assert!(!stdout.contains('\u{1b}'));
    for line in stderr.lines() {
        if line.starts_with("::") {
            assert!(
                line.starts_with("::add-mask::")
                    || line.starts_with("::error title=airlock stage "),
                "a stage's text began a line: {line}"
            );
        } else {
            assert!(
                line.starts_with('['),
                "a line not begun by the host: {line}"
            );
        }
    }
    assert!(stderr.contains(r"\u{1b}]0;pwned"), "escaped text not shown");
    let summary = std::fs::read_to_string(&gh_summary).unwrap();
    for bad in ["<img", "](javascript", "\n## Forged", "| forged | row |"] {
        assert!(
            !summary.contains(bad),
            "summary carries {bad:?}:\n{summary}"
        );
    }
    assert!(summary.contains("text\\-failure"), "{summary}");
    // Redaction: the Basic-auth header form of the secret, echoed back, never comes out.
    let basic = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(format!("__token__:{SECRET}"))
    };
    assert_eq!(stage(&r, "redact-log")["status"], "succeeded");
    assert_eq!(stage(&r, "redact-output-keys")["status"], "succeeded");
    assert!(
        stage(&r, "redact-output-keys")["output"]
            .as_object()
            .unwrap()
            .keys()
            .any(|k| k.contains("***")),
        "the output key was not redacted"
    );
    failed("redact-failure");
    let refused = failed("redact-refused-url");
    assert!(
        refused.contains("http://example.invalid/***/x"),
        "{refused}"
    );
    for (what, text) in [
        ("stdout", stdout.as_str()),
        ("stderr", stderr.as_str()),
        ("GITHUB_OUTPUT", gh_out.as_str()),
        ("the summary", summary.as_str()),
    ] {
        assert!(
            !text.contains(&basic),
            "the Basic-auth form leaked into {what}"
        );
        assert!(
            !text.contains(&basic[..basic.len() - 4]),
            "a Basic-auth prefix leaked into {what}"
        );
    }
    for (path, bytes) in common::all_files(&project.join(".airlock")) {
        assert!(
            !String::from_utf8_lossy(&bytes).contains(&basic),
            "the Basic-auth form leaked into {}",
            path.display()
        );
    }
    // Producers: no short, huge or endless secrets; none handed on in an output.
    expect("secret-too-short", "capability", "short");
    assert!(
        stdout.contains("\"9.9.9\""),
        "a refused short secret still censors text"
    );
    failed("secret-too-large");
    failed("secret-flood");
    // Revocations: only at a granted origin, and bounded however many a stage asks for.
    expect(
        "revoke-ungranted",
        "capability",
        "is not in stage \"revoke-ungranted\"'s grants.http",
    );
    assert_eq!(stage(&r, "revoke-flood")["status"], "succeeded");
    let revocations = stderr
        .lines()
        .filter(|l| l.contains("secret \"rvf\""))
        .count();
    assert!(
        (1..=8).contains(&revocations),
        "{revocations} revocation notes for one secret (bound 8)"
    );
    for l in stdout.lines().chain(stderr.lines()) {
        // `::add-mask::VALUE` is how the host asks the Actions runner to mask a value.
        assert!(
            l.starts_with("::add-mask::") || !l.contains("revoke-me-secret-value"),
            "a revoked value was shown: {l}"
        );
    }
    expect("secret-in-output", "capability", "put a secret it stored");
    assert_eq!(stage(&r, "secret-to-downstream")["status"], "not_run");
    for l in stdout.lines().chain(unmasked.lines()) {
        assert!(
            !l.contains("leak-secret-value-123"),
            "a stored secret leaked: {l}"
        );
    }
    // The host's own memory stayed bounded while all of this ran at once.
    eprintln!("hostile suite: host peak RSS {} MiB", peak_kib >> 10);
    assert!(
        peak_kib < 1536 << 10,
        "the host's peak RSS was {} MiB (bound 1536 MiB)",
        peak_kib >> 10
    );
    let tried = cases.len() + 2;
    assert!(
        tried >= 45,
        "the suite must try at least 45 attempts, has {tried}"
    );
}

/// Everything under `dir` (path → bytes), to check nothing outside the project changed.
fn snapshot(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut v = common::all_files(dir);
    v.sort();
    v
}

/// Links a stage plants in its write grant are never followed by the host: not when it
/// opens a later stage's granted folders, not when it reads an artifact, not in the state
/// folder; and compiled code in the cache is loaded only when its MAC verifies.
#[test]
fn links_and_caches_a_stage_could_plant_are_never_trusted() {
    let wasm = env!("AIRLOCK_TEST_HOSTILE_WASM");
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("p");
    copy_tree(
        &airlock_test_support::workspace().join("examples/demo"),
        &project,
    );
    let outside = tmp.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.txt"), "outside-the-project").unwrap();
    let before = snapshot(&outside);
    let secret_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(
        b"outside-the-project",
    ));
    let stage_toml = |id: &str, needs: &str, cfg: serde_json::Value, grants: &str| {
        format!(
            "[[stage]]\nid = \"{id}\"\ncomponent = {{ path = \"{wasm}\" }}\nneeds = [{needs}]\nconfig = {}\n[stage.grants]\n{grants}\n\n",
            toml::Value::try_from(&cfg).unwrap()
        )
    };
    let mut m = String::from("[pipeline]\nname = \"links\"\n\n");
    m += &stage_toml(
        "plant-dir",
        "",
        json!({"attempt": "symlink", "target": "w/out", "to": "../../outside"}),
        r#"files = [{ path = "w", access = "write" }]"#,
    );
    m += &stage_toml(
        "plant-file",
        "\"plant-dir\"",
        json!({"attempt": "symlink", "target": "w/file", "to": "../../outside/secret.txt"}),
        r#"files = [{ path = "w", access = "write" }]"#,
    );
    m += &stage_toml(
        "link-read-grant",
        "\"plant-file\"",
        json!({"attempt": "list", "target": "/w/out"}),
        r#"files = [{ path = "w/out", access = "read" }]"#,
    );
    m += &stage_toml(
        "link-write-grant",
        "\"plant-file\"]\nafter = [\"link-read-grant\"",
        json!({"attempt": "write", "target": "/w/out/sub/x.txt"}),
        r#"files = [{ path = "w/out/sub", access = "write" }]"#,
    );
    m += &stage_toml(
        "link-artifact",
        "\"plant-file\"]\nafter = [\"link-write-grant\"",
        json!({"attempt": "artifact", "target": "w/file", "sha256": secret_sha, "size": 19}),
        r#"files = [{ path = "w", access = "write" }]"#,
    );
    // The host's `file-mode` import answers for this stage's grants only: the granted
    // folder and a plain file in it, never through a link, `..`, an ungranted path, a
    // relative or an over-long one.
    std::fs::create_dir_all(project.join("w")).unwrap();
    std::fs::write(project.join("w/plain.txt"), "x").unwrap();
    std::fs::set_permissions(
        project.join("w/plain.txt"),
        std::os::unix::fs::PermissionsExt::from_mode(0o640),
    )
    .unwrap();
    let probes = json!([
        "/w",
        "/w/plain.txt",
        "/w/out",
        "/w/out/secret.txt",
        "/w/file",
        "/w/../outside/secret.txt",
        "/w/../../outside/secret.txt",
        "/security/current",
        "w/plain.txt",
        format!("/w/{}", "a/".repeat(3000)),
    ]);
    m += &stage_toml(
        "file-mode-probe",
        "\"plant-file\"]\nafter = [\"link-artifact\"",
        json!({"attempt": "file-mode", "value": probes}),
        r#"files = [{ path = "w", access = "read" }]"#,
    );
    std::fs::write(project.join("links.toml"), &m).unwrap();
    let cache = tmp.path().join("cache");
    let (out, _) = common::airlock_measured(
        &[
            "run",
            project.join("links.toml").to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
        Some(&cache),
    );
    let r = report(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stage(&r, "plant-dir")["status"], "succeeded", "{stderr}");
    assert_eq!(stage(&r, "plant-file")["status"], "succeeded", "{stderr}");
    let modes = &stage(&r, "file-mode-probe")["output"]["modes"];
    let answered: Vec<(String, serde_json::Value)> = modes
        .as_array()
        .unwrap_or_else(|| panic!("file-mode-probe: {}", stage(&r, "file-mode-probe")))
        .iter()
        .map(|m| {
            (
                m[0].as_str().unwrap().chars().take(40).collect(),
                m[1].clone(),
            )
        })
        .collect();
    assert_eq!(
        answered[1],
        ("/w/plain.txt".into(), json!(0o640)),
        "{answered:?}"
    );
    assert!(
        answered[0].1.is_u64(),
        "the granted folder itself: {answered:?}"
    );
    for (path, mode) in &answered[2..] {
        assert!(mode.is_null(), "file-mode answered {mode} for {path}");
    }
    for id in ["link-read-grant", "link-write-grant", "link-artifact"] {
        let s = stage(&r, id);
        assert_eq!(s["status"], "failed", "{id}: {s}");
        assert_eq!(s["failure"]["category"], "capability", "{id}: {s}");
        let msg = s["failure"]["message"].as_str().unwrap();
        assert!(msg.contains("link"), "{id}: {msg}");
        assert!(!msg.contains("outside-the-project"), "{id}: {msg}");
    }
    assert_eq!(
        snapshot(&outside),
        before,
        "a file outside the project changed"
    );
    assert!(!project.join(".airlock/state/artifacts/w").exists());

    // A link planted in the state folder is never walked or cleaned through.
    let victim = tmp.path().join("victim");
    std::fs::create_dir_all(victim.join("x")).unwrap();
    std::fs::write(victim.join("x/keep.json"), "{}").unwrap();
    let state = tmp.path().join("state");
    std::fs::create_dir_all(&state).unwrap();
    std::os::unix::fs::symlink(&victim, state.join("outputs")).unwrap();
    // detect loaded from its file (built-in components are precompiled into the binary and
    // never read from the cache), so that the cache below is used.
    let detect = format!("{}/stage_detect.wasm", env!("AIRLOCK_TEST_STAGES_DIR"));
    let simple = format!(
        "[pipeline]\nname = \"s\"\n[[stage]]\nid = \"detect\"\ncomponent = {{ path = \"{detect}\" }}\nconfig = {{ previous = \"security/previous\", current = \"security/current\" }}\n[stage.grants]\nfiles = [{{ path = \"security\", access = \"read\" }}]\n"
    );
    std::fs::write(project.join("simple.toml"), simple).unwrap();
    let (out, _) = common::airlock_measured(
        &[
            "run",
            project.join("simple.toml").to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
        &[],
        Some(&cache),
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(
        victim.join("x/keep.json").exists(),
        "the host cleaned through a link"
    );
    assert!(
        !victim.join("detect.json").exists(),
        "the host wrote through a link"
    );
    std::fs::remove_file(state.join("outputs")).unwrap();

    // A forged cache entry (another component's compiled code under detect's name) is
    // never loaded: its MAC does not verify, so detect is compiled again.
    let (out, _) = common::airlock_measured(
        &[
            "run",
            project.join("simple.toml").to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
        Some(&cache),
    );
    let r = report(&out);
    let detect_digest = stage(&r, "detect")["digest"].as_str().unwrap().to_string();
    assert_eq!(stage(&r, "detect")["cache"], "hit");
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    let target = entries
        .iter()
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&detect_digest)
        })
        .unwrap()
        .clone();
    let other = entries.iter().find(|p| **p != target).unwrap();
    std::fs::copy(other, &target).unwrap();
    let (out, _) = common::airlock_measured(
        &[
            "run",
            project.join("simple.toml").to_str().unwrap(),
            "--format",
            "json",
        ],
        &[],
        Some(&cache),
    );
    let r = report(&out);
    assert_eq!(stage(&r, "detect")["status"], "succeeded");
    assert_eq!(
        stage(&r, "detect")["cache"],
        "miss",
        "a forged cache entry was loaded"
    );
}

/// The manifest refuses grants that reach the host's own folders, and two stages that could
/// touch the same files at once.
#[test]
fn grants_over_host_folders_or_unordered_writers_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let project = tmp.path().join("p");
    copy_tree(
        &airlock_test_support::workspace().join("examples/demo"),
        &project,
    );
    let run = |name: &str, body: &str, extra: &[&str]| {
        let file = project.join(name);
        std::fs::write(&file, format!("[pipeline]\nname = \"m\"\n{body}")).unwrap();
        let mut args = vec!["run", file.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = airlock(&args, &[]);
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let st = |id: &str, grants: &str, extra: &str| {
        format!(
            "[[stage]]\nid = \"{id}\"\ncomponent = \"builtin:detect\"\n{extra}config = {{ previous = \"security/previous\", current = \"security/current\" }}\n[stage.grants]\nfiles = [{grants}]\n"
        )
    };
    let (code, err) = run(
        "state.toml",
        &st("w", r#"{ path = ".airlock", access = "write" }"#, ""),
        &[],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("overlaps the state folder"), "{err}");
    let cache = project.join("cache");
    let (code, err) = run(
        "cache.toml",
        &st("r", r#"{ path = "cache", access = "read" }"#, ""),
        &["--cache-dir", cache.to_str().unwrap()],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("overlaps the compile cache"), "{err}");
    let two = format!(
        "{}{}",
        st(
            "writer",
            r#"{ path = "security/out", access = "write" }"#,
            ""
        ),
        st("reader", r#"{ path = "security", access = "read" }"#, "")
    );
    let (code, err) = run("race.toml", &two, &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("could run at the same time"), "{err}");
    let ordered = format!(
        "{}{}",
        st(
            "writer",
            r#"{ path = "security/out", access = "write" }"#,
            ""
        ),
        st(
            "reader",
            r#"{ path = "security", access = "read" }"#,
            "after = [\"writer\"]\n"
        )
    );
    // Ordered with `after`: accepted, and the reader starts once the writer settled, even
    // though the writer failed (it may not read security/current).
    let (code, err) = run("ordered.toml", &ordered, &[]);
    assert_ne!(code, Some(2), "{err}");
    let (w, rd) = (
        err.find("✘ writer failed").unwrap(),
        err.find("▶ reader").unwrap(),
    );
    assert!(w < rd && err.contains("✔ reader succeeded"), "{err}");
}
