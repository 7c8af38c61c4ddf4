//! in-toto Statement v1 (https://github.com/in-toto/attestation/blob/main/spec/v1/statement.md)
//! for one distribution file, as PEP 740 and pypi-attestations form it.

use serde::{Deserialize, Serialize};

/// `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// PEP 740's publish attestation predicate (its predicate is `null`).
pub const PUBLISH_V1: &str = "https://docs.pypi.org/attestations/publish/v1";
/// SLSA Provenance v1's predicate type (https://slsa.dev/spec/v1.0/provenance).
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";
/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// One subject: a file name and its digests (`{"sha256": "<lowercase hex>"}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The distribution's file name, e.g. `demo-1.0-py3-none-any.whl`.
    pub name: String,
    /// Digest algorithm → lowercase hex; PyPI requires `sha256`.
    pub digest: std::collections::BTreeMap<String, String>,
}

/// An in-toto Statement v1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Statement {
    /// [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub type_: String,
    /// What the statement is about; PEP 740 requires exactly one.
    pub subject: Vec<Subject>,
    /// [`PUBLISH_V1`] or [`SLSA_PROVENANCE_V1`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The predicate (`null` for [`PUBLISH_V1`]).
    #[serde(default)]
    pub predicate: serde_json::Value,
}

impl Statement {
    /// The statement about file `name` with sha256 `sha256` (lowercase hex) for
    /// `predicate_type` carrying `predicate`.
    pub fn new(
        name: &str,
        sha256: &str,
        predicate_type: &str,
        predicate: serde_json::Value,
    ) -> Self {
        Statement {
            type_: STATEMENT_TYPE.into(),
            subject: vec![Subject {
                name: name.into(),
                digest: [("sha256".to_string(), sha256.to_ascii_lowercase())].into(),
            }],
            predicate_type: predicate_type.into(),
            predicate,
        }
    }

    /// PEP 740's publish attestation statement for file `name` with `sha256`.
    pub fn publish(name: &str, sha256: &str) -> Self {
        Self::new(name, sha256, PUBLISH_V1, serde_json::Value::Null)
    }

    /// The payload signed: compact JSON (keys in the order above).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a statement serializes")
    }
}

/// The predicate types an index takes (warehouse's `SUPPORTED_ATTESTATION_TYPES`).
pub const KNOWN_PREDICATE_TYPES: &[&str] = &[PUBLISH_V1, SLSA_PROVENANCE_V1];

impl Statement {
    /// Parses statement `bytes` and checks, as pypi-attestations' `Attestation.verify` does
    /// after the signature, that it is an in-toto Statement v1 about the distribution file
    /// `filename` with `sha256` (lowercase hex): exactly one subject, whose name is the file's
    /// (equal, or the same name, version and tags once parsed), whose sha256 is the file's,
    /// and a predicate type an index takes ([`KNOWN_PREDICATE_TYPES`]). Errors: one sentence
    /// saying what did not match.
    pub fn about(bytes: &[u8], filename: &str, sha256: &str) -> Result<Statement, String> {
        let st: Statement =
            serde_json::from_slice(bytes).map_err(|e| format!("not an in-toto statement: {e}"))?;
        if st.type_ != STATEMENT_TYPE {
            return Err(format!("_type is {:?}, not {STATEMENT_TYPE}", st.type_));
        }
        let [subject] = st.subject.as_slice() else {
            return Err(format!(
                "{} subjects, PEP 740 requires exactly one",
                st.subject.len()
            ));
        };
        if !same_distribution(&subject.name, filename) {
            return Err(format!(
                "the statement is for {}, not {filename}",
                subject.name
            ));
        }
        let digest = subject.digest.get("sha256").map(String::as_str);
        if !digest.is_some_and(|d| d.eq_ignore_ascii_case(sha256)) {
            return Err(format!(
                "the statement's sha256 for {} is {}, but the file's is {sha256}: it attests other bytes",
                subject.name,
                digest.unwrap_or("MISSING"),
            ));
        }
        if !KNOWN_PREDICATE_TYPES.contains(&st.predicate_type.as_str()) {
            return Err(format!(
                "predicate type {} is not one an index takes ({})",
                st.predicate_type,
                KNOWN_PREDICATE_TYPES.join(", ")
            ));
        }
        Ok(st)
    }
}

/// Whether two distribution file names name the same distribution: equal, or equal after
/// parsing (pypi-attestations compares parsed names: normalized project name and version).
fn same_distribution(a: &str, b: &str) -> bool {
    use airlock_pypkg::filename::DistFilename;
    if a == b {
        return true;
    }
    // A wheel's tags: what follows `{name}-{version}-`.
    let tail = |f: &str| f.splitn(3, '-').nth(2).map(str::to_string);
    match (DistFilename::parse(a), DistFilename::parse(b)) {
        (Some(x), Some(y)) => {
            x.kind == y.kind
                && x.project() == y.project()
                && x.is_version(y.version)
                && tail(a) == tail(b)
        }
        _ => false,
    }
}

/// What an SLSA Provenance v1 predicate says about a build airlock ran
/// (https://slsa.dev/spec/v1.0/provenance): the build type, the inputs and who built it.
#[derive(Debug, Clone, Default)]
pub struct BuildDescription {
    /// The source tree's digest (`{"sha256": hex}` of the project as the build read it).
    pub source_sha256: Option<String>,
    /// The source's URI (e.g. `git+https://github.com/OWNER/REPO@refs/tags/v1`).
    pub source_uri: Option<String>,
    /// The PEP 517 backend the project names (e.g. `hatchling.build`).
    pub backend: Option<String>,
    /// The manifest's sha256 and the build stage's config (external parameters).
    pub parameters: serde_json::Value,
    /// The builder's id (e.g. the workflow's URI at its ref).
    pub builder_id: String,
    /// The run's invocation id (e.g. `https://github.com/OWNER/REPO/actions/runs/ID/attempts/N`).
    pub invocation_id: Option<String>,
}

/// `buildType` of airlock's SLSA predicate.
pub const AIRLOCK_BUILD_TYPE: &str = "https://github.com/airlock-release/airlock/build/v1";

impl BuildDescription {
    /// The SLSA Provenance v1 predicate (`buildDefinition`, `runDetails`).
    pub fn predicate(&self) -> serde_json::Value {
        let mut deps = Vec::new();
        if let Some(sha) = &self.source_sha256 {
            let mut d = serde_json::json!({ "digest": { "sha256": sha } });
            if let Some(uri) = &self.source_uri {
                d["uri"] = uri.clone().into();
            }
            deps.push(d);
        }
        let mut internal = serde_json::Map::new();
        if let Some(b) = &self.backend {
            internal.insert("backend".into(), b.clone().into());
        }
        let mut metadata = serde_json::Map::new();
        if let Some(id) = &self.invocation_id {
            metadata.insert("invocationId".into(), id.clone().into());
        }
        serde_json::json!({
            "buildDefinition": {
                "buildType": AIRLOCK_BUILD_TYPE,
                "externalParameters": self.parameters,
                "internalParameters": internal,
                "resolvedDependencies": deps,
            },
            "runDetails": {
                "builder": { "id": self.builder_id },
                "metadata": metadata,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_statement_is_pep740s() {
        let s = Statement::publish("demo-1.0.tar.gz", "ABCD");
        assert_eq!(
            String::from_utf8(s.to_bytes()).unwrap(),
            r#"{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"demo-1.0.tar.gz","digest":{"sha256":"abcd"}}],"predicateType":"https://docs.pypi.org/attestations/publish/v1","predicate":null}"#
        );
        let back: Statement = serde_json::from_slice(&s.to_bytes()).unwrap();
        assert_eq!(back, s);
    }
}
