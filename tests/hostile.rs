//! The hostile-stage suite: one pipeline of test components (tests/hostile, built beside
//! the built-in stages, never embedded) that each try one escape, plus one ordinary stage.
//! Every attempt must be refused or stopped with the right error category, the host must
//! keep running, and the ordinary stage must succeed in the same run.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::{airlock, copy_tree, report, stage};

const SECRET: &str = "hostile-suite-secret-9f8e7d6c5b4a";

/// A tiny HTTP server on 127.0.0.1: `/ok` answers 200 "ok" and records the Authorization
/// header; `/redirect` answers 302 to the same path on `localhost` (another origin).
/// Serves at most 64 connections, each with a 10 s read timeout.
fn serve() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming().take(64) {
            let Ok(mut conn) = conn else { continue };
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
            let resp = if head.starts_with("GET /redirect") {
                format!(
                    "HTTP/1.1 302 Found\r\nLocation: http://localhost:{port}/ok\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                )
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_string()
            };
            let _ = conn.write_all(resp.as_bytes());
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
    let cases: Vec<(&str, String)> = vec![
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
    // The injected secret: the stage reaches the granted origin with it added by the host,
    // and tries to see it in its environment.
    let inject = format!(
        "[[stage]]\nid = \"read-injected-secret\"\ncomponent = {{ path = \"{wasm}\" }}\nconfig = {{ attempt = \"env-dump\" }}\n[stage.grants]\nenv = [\"AIRLOCK_HOSTILE_SECRET\"]\n\n[[stage]]\nid = \"use-injected-secret\"\ncomponent = {{ path = \"{wasm}\" }}\nconfig = {{ attempt = \"http\", target = \"http://127.0.0.1:{port}/ok\" }}\n[stage.grants]\n{local}\nsecrets = {{ inject = [{{ secret = \"hostile\", into = \"http://127.0.0.1:{port}\", as = \"bearer\" }}] }}\n"
    );
    let ordinary = "[[stage]]\nid = \"ordinary\"\ncomponent = \"builtin:detect\"\nconfig = { previous = \"security/previous\", current = \"security/current\" }\n[stage.grants]\nfiles = [{ path = \"security\", access = \"read\" }]\n";
    let mut manifest = String::from(
        "[pipeline]\nname = \"hostile\"\n[secrets]\nhostile = { env = \"AIRLOCK_HOSTILE_SECRET\" }\n\n",
    );
    for (_, text) in &cases {
        manifest.push_str(text);
        manifest.push('\n');
    }
    manifest.push_str(&inject);
    manifest.push_str(ordinary);
    std::fs::write(project.join("hostile.toml"), &manifest).unwrap();

    let out = airlock(
        &[
            "run",
            project.join("hostile.toml").to_str().unwrap(),
            "--format",
            "json",
        ],
        &[("AIRLOCK_HOSTILE_SECRET", SECRET)],
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
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
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
    let tried = cases.len() + 2;
    assert!(
        tried >= 20,
        "the suite must try at least 20 escapes, has {tried}"
    );
}
