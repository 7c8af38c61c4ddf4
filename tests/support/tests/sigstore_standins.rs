//! The Sigstore stand-ins (Fulcio, Rekor, trust material) proven with sigstore-python and
//! pypi-attestations, not with airlock's own code: sigstore-python signs an in-toto
//! statement against them (checking Fulcio's SCT as it does against the real services),
//! verifies the bundle against the trusted root with a GitHub Trusted Publisher policy,
//! converts it to a PEP 740 attestation and back, and refuses a tampered bundle
//! (tests/support/tests/sigstore_sign_verify.py).

use std::path::PathBuf;
use std::process::Command;

use airlock_test_support::{
    ACTIONS_REQUEST_TOKEN, GithubOidc, IdTokenSpec, Sigstore, http_get, http_post, workspace,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Value, json};

/// The venv's Python with sigstore and pypi-attestations ($VIRTUAL_ENV, else target/venv).
fn python() -> PathBuf {
    let venv = std::env::var_os("VIRTUAL_ENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/venv"));
    let py = venv.join("bin/python");
    assert!(
        py.exists(),
        "{} is missing: run scripts/test (it installs tests/requirements.txt, with sigstore \
         and pypi-attestations, into target/venv)",
        py.display()
    );
    py
}

#[test]
fn sigstore_python_signs_against_the_stand_ins_and_verifies_what_they_issue() {
    let py = python();
    let github = GithubOidc::start(IdTokenSpec::default());
    let sigstore = Sigstore::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("client_trust_config.json");
    let root = dir.path().join("trusted_root.json");
    let bundle = dir.path().join("bundle.sigstore.json");
    sigstore.write_client_trust_config(&config).unwrap();
    sigstore.write_trusted_root(&root).unwrap();
    let script = workspace().join("tests/support/tests/sigstore_sign_verify.py");
    let out = Command::new(&py)
        .arg(&script)
        .arg(&config)
        .arg(&root)
        .arg(github.request_url())
        .arg(ACTIONS_REQUEST_TOKEN)
        .arg(&bundle)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.trim_end().ends_with("OK"),
        "sigstore-python failed ({}):\n{stdout}\n{stderr}\nrequests: {:#?}",
        out.status,
        sigstore.requests()
    );
    for refusal in [
        "another repository",
        "another workflow",
        "tampered signature",
        "tampered root hash",
    ] {
        assert!(
            stdout.contains(&format!("refused: {refusal}")),
            "{refusal}: {stdout}"
        );
    }
    let requests = sigstore.requests();
    assert_eq!(
        requests[..4],
        [
            "fulcio POST /api/v2/signingCert 200",
            "rekor POST /api/v1/log/entries 201",
            "rekor POST /api/v1/log/entries 201",
            "rekor POST /api/v1/log/entries 201",
        ],
        "{requests:#?}"
    );
    assert!(requests.contains(&"rekor GET /api/v1/log 200".to_string()));
    assert!(requests.contains(&"rekor GET /api/v1/log/entries?logIndex=2 200".to_string()));
    let entries = sigstore.entries();
    assert_eq!(entries.len(), 3);
    assert_eq!(sigstore.certificates().len(), 1);
    let body: Value = serde_json::from_slice(&entries[0].body).unwrap();
    assert_eq!(body["kind"], "dsse");
    assert_eq!(body["spec"]["signatures"].as_array().unwrap().len(), 1);

    // The bundle carries the entry as Rekor answered it.
    let written: Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    let tlog = &written["verificationMaterial"]["tlogEntries"][0];
    assert_eq!(tlog["canonicalizedBody"], B64.encode(&entries[0].body));
    assert_eq!(
        tlog["kindVersion"],
        json!({"kind": "dsse", "version": "0.0.1"})
    );

    // The same proposal again is a conflict, as on Rekor; another envelope text with the
    // same signature is a new entry (the envelope hash differs).
    let leaf = B64.encode(sigstore.certificates()[0].as_bytes());
    let envelope = &written["dsseEnvelope"];
    let propose = |envelope: String| {
        let proposed = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {"proposedContent": {"envelope": envelope, "verifiers": [leaf]}},
        });
        http_post(
            sigstore.rekor,
            "/api/v1/log/entries",
            "application/json",
            proposed.to_string().as_bytes(),
        )
        .unwrap()
    };
    // sigstore-python's envelope text (compact JSON) again: already logged.
    let compact = json!({
        "payload": envelope["payload"],
        "payloadType": envelope["payloadType"],
        "signatures": envelope["signatures"],
    });
    let (status, body) = propose(compact.to_string());
    assert_eq!(status, 409, "{body}");
    let text = serde_json::to_string_pretty(&compact).unwrap();
    let (status, body) = propose(text.clone());
    assert_eq!(status, 201, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let (uuid, entry) = answer.as_object().unwrap().iter().next().unwrap();
    assert_eq!(uuid.len(), 80);
    assert_eq!(entry["logIndex"], 3);
    assert_eq!(entry["verification"]["inclusionProof"]["treeSize"], 4);
    assert_eq!(
        entry["verification"]["inclusionProof"]["hashes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let (status, body) = propose(text);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains(uuid.as_str()), "{body}");
}

#[test]
fn fulcio_refuses_bad_tokens_and_rekor_bad_envelopes() {
    let sigstore = Sigstore::start();
    let token = |claims: Value| {
        let b64url = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.{}",
            b64url.encode(br#"{"alg":"RS256"}"#),
            b64url.encode(claims.to_string()),
            b64url.encode(b"sig")
        )
    };
    let spec = IdTokenSpec::default();
    let mut wrong_aud = spec.claims("pypi");
    let mut expired = spec.claims("sigstore");
    expired["exp"] = json!(1);
    let mut wrong_iss = spec.claims("sigstore");
    wrong_iss["iss"] = json!("https://gitlab.com");
    for claims in [wrong_aud.take(), expired, wrong_iss] {
        let req = json!({
            "credentials": {"oidcIdentityToken": token(claims)},
            "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": "x"}, "proofOfPossession": "x"},
        });
        let (status, body) = http_post(
            sigstore.fulcio,
            "/api/v2/signingCert",
            "application/json",
            req.to_string().as_bytes(),
        )
        .unwrap();
        assert_eq!(status, 400, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], 3);
        assert_eq!(
            body["message"],
            "There was an error processing the identity token"
        );
    }
    // A good token with an unparsable key.
    let req = json!({
        "credentials": {"oidcIdentityToken": token(spec.claims("sigstore"))},
        "publicKeyRequest": {"publicKey": {"algorithm": "ECDSA", "content": "x"}, "proofOfPossession": "x"},
    });
    let (status, body) = http_post(
        sigstore.fulcio,
        "/api/v2/signingCert",
        "application/json",
        req.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("could not be parsed"), "{body}");

    let proposed = json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {"proposedContent": {
        "envelope": "{\"payload\":\"e30=\",\"payloadType\":\"application/vnd.in-toto+json\",\"signatures\":[{\"sig\":\"MEUCIQ==\"}]}",
        "verifiers": [B64.encode(sigstore.root_cert_pem())],
    }}});
    let (status, body) = http_post(
        sigstore.rekor,
        "/api/v1/log/entries",
        "application/json",
        proposed.to_string().as_bytes(),
    )
    .unwrap();
    assert_eq!(status, 400, "{body}");
    assert!(sigstore.entries().is_empty());
    let (status, body) = http_get(sigstore.rekor, "/api/v1/log").unwrap();
    assert_eq!(status, 200);
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["treeSize"], 0);
    assert_eq!(
        info["rootHash"],
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    let (status, body) = http_get(sigstore.rekor, "/api/v1/log/publicKey").unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, sigstore.rekor_public_key_pem());
}
