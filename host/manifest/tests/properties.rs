//! Property tests and bounded fuzzing (stable Rust, run in CI) for the two grammars a
//! manifest author controls: http origins and the manifest itself.
//!
//! - Origin matching: a grant covers exactly the requests with its scheme, port and host
//!   (or a strict subdomain for `*.`), whatever the host names are.
//! - Fuzzing: arbitrary text and mutated manifests never panic the parser, and every error
//!   names the file and a line inside the input.
//!
//! Deeper coverage-guided fuzzing of the same entry points: `fuzz/` (cargo fuzz, nightly).

use std::path::Path;

use airlock_manifest::capabilities::Origin;
use airlock_manifest::manifest;
use proptest::prelude::*;

mod common;

/// The built-in names, as the host passes them.
fn with_builtins<T>(f: impl FnOnce(&[&str]) -> T) -> T {
    let names = common::builtins();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    f(&names)
}

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,11}"
}

fn host() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 1..4).prop_map(|l| l.join("."))
}

/// Whether `grant` covers the origin of `url`.
fn covers(grant: &Origin, url: String) -> bool {
    grant.covers(&Origin::of_url(&url).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn exact_grants_cover_only_their_origin(h in host(), other in host(), port in 1u16..65535, other_port in 1u16..65535, https in any::<bool>()) {
        let scheme = if https { "https" } else { "http" };
        let grant = Origin::parse_grant(&format!("{scheme}://{h}:{port}")).unwrap();
        let same = Origin::of_url(&format!("{scheme}://{h}:{port}/any/path?q=1")).unwrap();
        prop_assert!(grant.covers(&same));
        let upper = Origin::of_url(&format!("{scheme}://{}:{port}/", h.to_uppercase())).unwrap();
        prop_assert!(grant.covers(&upper), "host names are case-insensitive");
        if other != h {
            prop_assert!(!covers(&grant, format!("{scheme}://{other}:{port}/")), "origin matching");
        }
        if other_port != port {
            prop_assert!(!covers(&grant, format!("{scheme}://{h}:{other_port}/")), "origin matching");
        }
        let flipped = if https { "http" } else { "https" };
        prop_assert!(!covers(&grant, format!("{flipped}://{h}:{port}/")), "origin matching");
        // A prefix or suffix trick is another host.
        prop_assert!(!covers(&grant, format!("{scheme}://{h}.evil.example:{port}/")), "origin matching");
        prop_assert!(!covers(&grant, format!("{scheme}://evil{h}:{port}/")), "origin matching");
    }

    #[test]
    fn wildcards_cover_strict_subdomains_only(base in host(), sub in label(), other in host()) {
        let grant = Origin::parse_grant(&format!("https://*.{base}")).unwrap();
        prop_assert!(covers(&grant, format!("https://{sub}.{base}/")), "origin matching");
        prop_assert!(!covers(&grant, format!("https://{base}/")), "origin matching");
        prop_assert!(!covers(&grant, format!("https://{sub}{base}/")), "no match without the dot");
        if !other.ends_with(&format!(".{base}")) && other != base {
            prop_assert!(!covers(&grant, format!("https://{other}/")), "origin matching");
        }
    }

    #[test]
    fn origin_grammar_never_panics(s in "\\PC{0,64}") {
        let _ = Origin::parse_grant(&s);
        let _ = Origin::of_url(&s);
    }

    #[test]
    fn manifest_parser_never_panics_on_any_text(s in "\\PC{0,400}") {
        if let Err(e) = with_builtins(|b| manifest::parse(Path::new("fuzz.toml"), &s, Some(Path::new(".")), b)) {
            prop_assert_eq!(e.file.as_path(), Path::new("fuzz.toml"));
            prop_assert!(!e.message.is_empty());
        }
    }

    #[test]
    fn mutated_manifests_never_panic(pos in 0usize..4000, junk in "\\PC{0,12}", cut in 0usize..4000) {
        let base = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mypylogger/release.toml")).unwrap();
        let mut text = base.clone();
        let n = text.chars().count();
        let at = text.char_indices().map(|(i, _)| i).nth(pos % n).unwrap_or(0);
        text.insert_str(at, &junk);
        let n = text.chars().count();
        let end = text.char_indices().map(|(i, _)| i).nth(cut % n).unwrap_or(text.len());
        let text = &text[..end];
        match with_builtins(|b| manifest::parse(Path::new("release.toml"), text, Some(Path::new(".")), b)) {
            Ok(mut m) => { let _ = m.resolve(); }
            Err(e) => {
                let lines = text.lines().count().max(1);
                if let Some(line) = e.line {
                    prop_assert!(line <= lines + 1, "line {line} past the end ({lines} lines): {e}");
                }
                prop_assert!(!e.message.is_empty());
            }
        }
    }
}
