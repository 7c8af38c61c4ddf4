//! Bounded mutation fuzzing of every report parser: seeds in each format, mutated by a
//! deterministic generator (byte flips, truncations, splices of JSON fragments, value
//! swaps). Each parser must answer `Ok` or a validation error naming the file, never panic.
//! 2,000 inputs per format; runs in well under a second.

use airlock_findings::reports::parse_report;
use airlock_findings::{Error, SeverityPolicy, Tool};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const FRAGMENTS: &[&str] = &[
    "null",
    "[]",
    "{}",
    "\"\"",
    "-1",
    "1e999",
    "18446744073709551616",
    "\"2.1.0\"",
    "true",
    "\"\\ud800\"",
    "[[[[",
    "}}}",
    ",",
    ":",
    "\"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\"",
    "\"CVSS:4.0/AV:N\"",
    "\"9.9.9\"",
    "\"NaN\"",
    "\"security-severity\"",
    "{\"fixed\": 1}",
];

fn seeds(tool: Tool) -> Vec<String> {
    match tool {
        Tool::PipAudit => vec![
            r#"{"dependencies": [{"name": "pip", "version": "25.2", "vulns": [{"id": "GHSA-4xh5-x5gv-qwph", "fix_versions": ["25.3"], "aliases": ["CVE-2025-8869"], "description": "d"}]}, {"name": "x", "skip_reason": "not on PyPI"}], "fixes": []}"#.into(),
            r#"[{"name": "py", "version": "1.11.0", "vulns": []}]"#.into(),
        ],
        Tool::Bandit => vec![
            r#"{"errors": [], "generated_at": "2025-10-31T16:37:53Z", "results": [{"code": "5 yaml.load(x)\n", "filename": "./a.py", "issue_severity": "HIGH", "issue_confidence": "HIGH", "issue_text": "t", "line_number": 5, "line_range": [5], "more_info": "u", "test_id": "B506", "test_name": "yaml_load"}]}"#.into(),
        ],
        Tool::Gitleaks => vec![
            "[]".into(),
            r#"{"findings": [{"RuleID": "r", "Description": "d", "File": "f", "StartLine": 1, "Fingerprint": "f:r:1"}]}"#.into(),
        ],
        Tool::OsvScanner => vec![
            r#"{"results": [{"source": {"path": "r.txt"}, "packages": [{"package": {"name": "jinja2", "version": "3.1.2", "ecosystem": "PyPI"}, "vulnerabilities": [{"id": "GHSA-1", "aliases": ["CVE-1"], "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}], "affected": [{"package": {"name": "jinja2", "ecosystem": "PyPI"}, "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.3"}]}]}], "database_specific": {"severity": "HIGH"}}], "groups": [{"ids": ["GHSA-1"], "aliases": ["CVE-1"], "max_severity": "9.8"}]}]}]}"#.into(),
        ],
        Tool::Sarif => vec![
            r#"{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "CodeQL", "rules": [{"id": "r", "properties": {"security-severity": "8.8"}, "defaultConfiguration": {"level": "error"}}]}}, "results": [{"ruleId": "r", "ruleIndex": 0, "level": "warning", "message": {"text": "m"}, "locations": [{"physicalLocation": {"artifactLocation": {"uri": "file:///a%20b.py"}, "region": {"startLine": 3, "snippet": {"text": "x"}}}}], "partialFingerprints": {"h": "1"}, "suppressions": [{"status": "rejected"}]}]}]}"#.into(),
        ],
    }
}

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut b = seed.as_bytes().to_vec();
    for _ in 0..=rng.below(3) {
        match rng.below(5) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] ^= 1 << rng.below(8);
            }
            1 => b.truncate(rng.below(b.len() + 1)),
            2 => {
                let i = rng.below(b.len() + 1);
                let f = FRAGMENTS[rng.below(FRAGMENTS.len())];
                b.splice(i..i, f.bytes());
            }
            3 => {
                // Replace a JSON scalar (from one quote or digit to the next , } or ]).
                let starts: Vec<usize> = b
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| **c == b':')
                    .map(|(i, _)| i + 1)
                    .collect();
                if let Some(&s) = starts.get(rng.below(starts.len())) {
                    let e = b[s..]
                        .iter()
                        .position(|c| matches!(c, b',' | b'}' | b']'))
                        .map_or(b.len(), |p| s + p);
                    let f = FRAGMENTS[rng.below(FRAGMENTS.len())];
                    b.splice(s..e, f.bytes());
                }
            }
            _ => {
                let i = rng.below(b.len() + 1);
                let j = rng.below(b.len() + 1);
                let (i, j) = (i.min(j), i.max(j));
                let dup = b[i..j].to_vec();
                b.splice(j..j, dup);
            }
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

#[test]
fn parsers_never_panic_on_mutated_reports() {
    let policy = SeverityPolicy::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let start = std::time::Instant::now();
    for tool in [
        Tool::PipAudit,
        Tool::Bandit,
        Tool::Gitleaks,
        Tool::OsvScanner,
        Tool::Sarif,
    ] {
        let seeds = seeds(tool);
        let (mut ok, mut invalid) = (0, 0);
        for seed in &seeds {
            parse_report(tool, "seed.json", seed, &policy)
                .unwrap_or_else(|e| panic!("{} seed does not parse: {e}", tool.as_str()));
        }
        for n in 0..2000 {
            let input = mutate(&mut rng, &seeds[n % seeds.len()]);
            let res = std::panic::catch_unwind(|| parse_report(tool, "fuzz.json", &input, &policy));
            match res {
                Err(_) => panic!("{} parser panicked on {input:?}", tool.as_str()),
                Ok(Ok(p)) => {
                    serde_json::to_string(&p.findings).unwrap();
                    ok += 1;
                }
                Ok(Err(Error::Invalid { message, .. })) => {
                    assert!(message.contains("fuzz.json"), "{message}");
                    invalid += 1;
                }
                Ok(Err(e)) => panic!("unexpected error kind: {e}"),
            }
        }
        // The generator must exercise both outcomes, or the test proves nothing.
        assert!(
            ok > 20 && invalid > 20,
            "{}: {ok} ok, {invalid} invalid",
            tool.as_str()
        );
    }
    assert!(start.elapsed().as_secs() < 30);
}
