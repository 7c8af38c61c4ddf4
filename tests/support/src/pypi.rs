//! A stand-in for the rules only PyPI's upload endpoint enforces, following warehouse's
//! `forklift/legacy.py` (2026-08): pypiserver has none of them. On 127.0.0.1:
//!
//! - `POST /legacy/`: the legacy upload API (`multipart/form-data` with `:action`,
//!   `name`, `version`, `filetype`, `sha256_digest`, `content`). Refuses, in forklift's
//!   order and with its words: no or another token (403 "Invalid or non-existent
//!   authentication information."), an archived or quarantined project (403 "The given
//!   token isn't allowed to upload to project '…'", as warehouse's ACL does), a file over
//!   [`PypiStandIn::max_file_size`] (400 "File too large. …"), an existing file name with
//!   other content (400 "File already exists (…)"; the same content: 200, as
//!   `_is_duplicate_file`), a new file for a release created more than 14 days ago (400
//!   "Uploading new files to releases older than 14 days is not allowed."), a second sdist
//!   (400 "Only one sdist may be uploaded per release."). Stores the rest.
//!   PEP 740 attestations (the form field `attestations`) are checked as warehouse's
//!   `IntegrityService.parse_attestations` does short of the signature, after the rules
//!   above: a JSON list, not empty, at most 2, each statement's one subject naming the
//!   uploaded file with its sha256, a supported predicate type, one per type; otherwise 400
//!   "Invalid attestations supplied during upload: <reason>" (warehouse's words). Accepted
//!   ones are kept (see [`PypiStandIn::attestations`]) and served as the file's provenance.
//!   Unlike PyPI, a token upload may carry attestations (PyPI takes them only with Trusted
//!   Publishing).
//! - `GET /simple/<name>/`: the project page in PEP 691 JSON, API version 1.4: files with
//!   `hashes`, `size`, PEP 700 `upload-time`, PEP 740 `provenance` (the integrity URL, or
//!   `null`), and PEP 792 `project-status`; each file's `url` is `/packages/<filename>`.
//! - `GET /packages/<filename>`: the uploaded bytes (so pip installs from it).
//! - `GET /integrity/<name>/<version>/<filename>/provenance`: warehouse's integrity API:
//!   `{"version": 1, "attestation_bundles": [{"publisher", "attestations"}]}` with the
//!   publisher set by [`PypiStandIn::set_publisher`] (default: GitHub, `octo/mypylogger`,
//!   `release.yml`, environment `pypi`); 404 `{"message": "No provenance available for
//!   <filename>"}` for a file without one.

use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use sha2::Digest;

use crate::http::{read_request, respond, serve};

/// A file the stand-in holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldFile {
    /// File name.
    pub filename: String,
    /// sha256, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Upload time, unix seconds.
    pub uploaded: u64,
    /// The release version it belongs to (the form's `version`).
    pub version: String,
    /// `sdist` or `bdist_wheel`.
    pub filetype: String,
}

/// The stand-in's state, shared with the test.
#[derive(Debug, Default)]
pub struct PypiState {
    /// Files by project (normalized name).
    pub files: Vec<(String, HeldFile)>,
    /// When each release was created, `(project, version, unix seconds)`.
    pub releases: Vec<(String, String, u64)>,
    /// PEP 792 status per project (absent: active).
    pub status: Vec<(String, String)>,
    /// Every upload POST received, as `filename -> answer status`.
    pub posts: Vec<(String, u16)>,
    /// The attestations accepted with each stored file, `(filename, attestation objects)`.
    pub attestations: Vec<(String, Vec<serde_json::Value>)>,
    /// The publisher object of the provenance of files uploaded from now on (PEP 740;
    /// `None`: the default, see [`default_publisher`]).
    pub publisher: Option<serde_json::Value>,
    /// The provenance objects served, `(filename, provenance)`.
    pub provenance: Vec<(String, serde_json::Value)>,
    /// The stand-in's port (for the absolute provenance URLs of its pages).
    pub port: u16,
    /// The bytes of each uploaded file, `(filename, content)`, served at
    /// `/packages/<filename>` (the page's file URLs).
    pub contents: Vec<(String, Vec<u8>)>,
}

/// The default publisher of the stand-in's provenance (warehouse's GitHub Trusted
/// Publisher `attestation_identity`): `{"kind": "GitHub", "repository": "octo/mypylogger",
/// "workflow": "release.yml", "environment": "pypi"}`.
pub fn default_publisher() -> serde_json::Value {
    serde_json::json!({
        "kind": "GitHub",
        "repository": "octo/mypylogger",
        "workflow": "release.yml",
        "environment": "pypi",
    })
}

/// PEP 740's predicate types warehouse takes (`SUPPORTED_ATTESTATION_TYPES`).
const PREDICATE_TYPES: [&str; 2] = [
    "https://docs.pypi.org/attestations/publish/v1",
    "https://slsa.dev/provenance/v1",
];

/// Checks the `attestations` form field as warehouse does (short of verifying signatures)
/// for the uploaded file `filename` with `sha256`; `Err(reason)` in warehouse's words.
fn check_attestations(
    field: &str,
    filename: &str,
    sha256: &str,
) -> Result<Vec<serde_json::Value>, String> {
    let list: Vec<serde_json::Value> =
        serde_json::from_str(field).map_err(|e| format!("Malformed attestations: {e}"))?;
    if list.is_empty() {
        return Err("Malformed attestations: an empty attestation set is not permitted".into());
    }
    if list.len() > PREDICATE_TYPES.len() {
        return Err(format!(
            "A maximum of {} attestations per file are supported",
            PREDICATE_TYPES.len()
        ));
    }
    let b64 = |v: &serde_json::Value| {
        v.as_str()
            .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
    };
    let mut seen: Vec<String> = Vec::new();
    for a in &list {
        let malformed = |what: &str| format!("Malformed attestations: {what}");
        if a["version"] != 1 {
            return Err(malformed("version must be 1"));
        }
        if b64(&a["verification_material"]["certificate"]).is_none()
            || b64(&a["envelope"]["signature"]).is_none()
            || a["verification_material"]["transparency_entries"]
                .as_array()
                .is_none_or(|t| t.is_empty())
        {
            return Err(malformed("invalid verification material or envelope"));
        }
        let statement: serde_json::Value = b64(&a["envelope"]["statement"])
            .and_then(|b| serde_json::from_slice(&b).ok())
            .ok_or_else(|| malformed("the statement is not base64 JSON"))?;
        let verify = |why: String| {
            format!("Could not verify the uploaded artifact using the included attestation: {why}")
        };
        let subjects = statement["subject"].as_array().cloned().unwrap_or_default();
        if subjects.len() != 1 {
            return Err(verify(
                "too many subjects in statement (must be exactly one)".into(),
            ));
        }
        let name = subjects[0]["name"].as_str().unwrap_or("");
        if name != filename {
            return Err(verify(format!(
                "subject does not match distribution name: {name} != {filename}"
            )));
        }
        if subjects[0]["digest"]["sha256"].as_str() != Some(sha256) {
            return Err(verify("subject does not match distribution digest".into()));
        }
        let predicate = statement["predicateType"].as_str().unwrap_or("");
        if !PREDICATE_TYPES.contains(&predicate) {
            return Err(format!(
                "Attestation with unsupported predicate type: {predicate}"
            ));
        }
        if seen.iter().any(|p| p == predicate) {
            return Err(format!(
                "Multiple attestations for the same file with the same predicate type ({predicate}) are not supported"
            ));
        }
        seen.push(predicate.to_string());
    }
    Ok(list)
}

/// The running stand-in.
pub struct PypiStandIn {
    /// Its port.
    pub port: u16,
    /// Its state (files, releases, statuses, POSTs seen).
    pub state: Arc<Mutex<PypiState>>,
    /// The file size limit applied (bytes).
    pub max_file_size: u64,
}

/// Now, unix seconds.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The project key: lowercase with `_` and `.` as `-` (PEP 503 for the names these tests
/// use, which have no runs of separators).
fn normalize(name: &str) -> String {
    name.to_ascii_lowercase().replace(['_', '.'], "-")
}

/// PEP 700's `upload-time` form of unix seconds (RFC 3339, UTC, microseconds).
fn rfc3339(t: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(t as i64).unwrap();
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// The parts of a `multipart/form-data` body: `(name, filename, bytes)`.
fn parts(content_type: &str, body: &[u8]) -> Vec<(String, Option<String>, Vec<u8>)> {
    let Some(boundary) = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"'))
    else {
        return Vec::new();
    };
    let delim = format!("\r\n--{boundary}").into_bytes();
    // The body starts with `--boundary`; prefix CRLF so every delimiter looks the same.
    let mut data = b"\r\n".to_vec();
    data.extend_from_slice(body);
    let mut out = Vec::new();
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(p) = data[i..].windows(delim.len()).position(|w| w == delim) {
        starts.push(i + p);
        i += p + delim.len();
    }
    for w in starts.windows(2) {
        let part = &data[w[0] + delim.len()..w[1]];
        let part = part.strip_prefix(b"\r\n").unwrap_or(part);
        let Some(h) = part.windows(4).position(|x| x == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&part[..h]).to_string();
        let head = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))
            .unwrap_or("")
            .to_string();
        let attr = |k: &str| {
            head.split(';').find_map(|p| {
                p.trim()
                    .strip_prefix(&format!("{k}=\""))
                    .and_then(|v| v.strip_suffix('"'))
                    .map(str::to_string)
            })
        };
        if let Some(name) = attr("name") {
            out.push((name, attr("filename"), part[h + 4..].to_vec()));
        }
    }
    out
}

impl PypiStandIn {
    /// Starts the stand-in; uploads need `Authorization: Basic base64("__token__:" + token)`.
    /// `max_file_size` is the project's file size limit in bytes (PyPI's default: 100 MiB).
    pub fn start(token: &str, max_file_size: u64) -> PypiStandIn {
        let state: Arc<Mutex<PypiState>> = Arc::default();
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("__token__:{token}"))
        );
        let st = state.clone();
        let port = serve(move |mut s| {
            let Ok(req) = read_request(&mut s, true) else {
                return;
            };
            if req.method == "GET" && req.target.starts_with("/integrity/") {
                // /integrity/{project}/{version}/{filename}/provenance
                let parts: Vec<&str> = req.target.trim_start_matches('/').split('/').collect();
                let st = st.lock().unwrap();
                let found = match parts.as_slice() {
                    ["integrity", _, _, filename, "provenance"] => st
                        .provenance
                        .iter()
                        .find(|(f, _)| f == filename)
                        .map(|(_, p)| p.clone()),
                    _ => None,
                };
                match found {
                    Some(p) => respond(
                        &mut s,
                        200,
                        &[("Content-Type", "application/vnd.pypi.integrity.v1+json")],
                        p.to_string().as_bytes(),
                    ),
                    None => {
                        let body = serde_json::json!({
                            "message": format!("No provenance available for {}", parts.get(3).unwrap_or(&""))
                        });
                        respond(
                            &mut s,
                            404,
                            &[("Content-Type", "application/json")],
                            body.to_string().as_bytes(),
                        )
                    }
                }
                return;
            }
            if req.method == "GET"
                && let Some(filename) = req.target.strip_prefix("/packages/")
            {
                let st = st.lock().unwrap();
                match st.contents.iter().find(|(f, _)| f == filename) {
                    Some((_, bytes)) => respond(
                        &mut s,
                        200,
                        &[("Content-Type", "application/octet-stream")],
                        bytes,
                    ),
                    None => respond(&mut s, 404, &[], b"Not Found"),
                }
                return;
            }
            if req.method == "GET" {
                let name = req
                    .target
                    .trim_start_matches("/simple/")
                    .trim_end_matches('/')
                    .to_string();
                let st = st.lock().unwrap();
                let files: Vec<serde_json::Value> = st
                    .files
                    .iter()
                    .filter(|(p, _)| *p == name)
                    .map(|(_, f)| {
                        serde_json::json!({
                            "filename": f.filename,
                            "url": format!("/packages/{}", f.filename),
                            "hashes": { "sha256": f.sha256 },
                            "size": f.size,
                            "upload-time": rfc3339(f.uploaded),
                            "provenance": st.provenance.iter().any(|(n, _)| *n == f.filename).then(|| {
                                format!(
                                    "http://127.0.0.1:{}/integrity/{name}/{}/{}/provenance",
                                    st.port, f.version, f.filename
                                )
                            }),
                        })
                    })
                    .collect();
                let known = !files.is_empty() || st.status.iter().any(|(p, _)| *p == name);
                if !known {
                    respond(&mut s, 404, &[], b"Not Found");
                    return;
                }
                let mut page = serde_json::json!({
                    "meta": { "api-version": "1.4" },
                    "name": name,
                    "files": files,
                    "versions": [],
                });
                if let Some((_, status)) = st.status.iter().find(|(p, _)| *p == name) {
                    page["project-status"] = serde_json::json!({ "status": status });
                }
                respond(
                    &mut s,
                    200,
                    &[("Content-Type", "application/vnd.pypi.simple.v1+json")],
                    page.to_string().as_bytes(),
                );
                return;
            }
            let form = parts(req.header("content-type").unwrap_or(""), &req.body);
            let field = |n: &str| {
                form.iter()
                    .find(|(k, _, _)| k == n)
                    .map(|(_, _, v)| String::from_utf8_lossy(v).to_string())
                    .unwrap_or_default()
            };
            let Some((_, Some(filename), content)) =
                form.iter().find(|(k, _, _)| k == "content").cloned()
            else {
                respond(&mut s, 400, &[], b"Upload payload does not have a file.");
                return;
            };
            let (project, version, filetype) = (
                normalize(&field("name")),
                field("version"),
                field("filetype"),
            );
            let answer = |st: &mut PypiState, s: &mut std::net::TcpStream, code: u16, msg: &str| {
                st.posts.push((filename.clone(), code));
                respond(s, code, &[("Content-Type", "text/plain")], msg.as_bytes());
            };
            let mut st = st.lock().unwrap();
            if req.header("authorization") != Some(basic.as_str()) {
                answer(
                    &mut st,
                    &mut s,
                    403,
                    "Invalid or non-existent authentication information.",
                );
                return;
            }
            if st
                .status
                .iter()
                .any(|(p, v)| *p == project && (v == "archived" || v == "quarantined"))
            {
                let msg = format!(
                    "The given token isn't allowed to upload to project '{project}'. See /help/#project-name for more information."
                );
                answer(&mut st, &mut s, 403, &msg);
                return;
            }
            if content.len() as u64 > max_file_size {
                let msg = format!(
                    "File too large. Limit for project '{project}' is {} MB.",
                    max_file_size / (1024 * 1024)
                );
                answer(&mut st, &mut s, 400, &msg);
                return;
            }
            let sha256 = hex::encode(sha2::Sha256::digest(&content));
            if let Some((_, f)) = st.files.iter().find(|(_, f)| f.filename == filename) {
                if f.sha256 == sha256 {
                    answer(&mut st, &mut s, 200, "OK");
                } else {
                    let msg = format!(
                        "File already exists ('{filename}', with blake2_256 hash 'x'). See /help/#file-name-reuse for more information."
                    );
                    answer(&mut st, &mut s, 400, &msg);
                }
                return;
            }
            let created = st
                .releases
                .iter()
                .find(|(p, v, _)| *p == project && *v == version)
                .map(|r| r.2);
            if created.is_some_and(|c| now().saturating_sub(c) > 14 * 86_400) {
                answer(
                    &mut st,
                    &mut s,
                    400,
                    "Uploading new files to releases older than 14 days is not allowed.",
                );
                return;
            }
            if filetype == "sdist"
                && st
                    .files
                    .iter()
                    .any(|(p, f)| *p == project && f.version == version && f.filetype == "sdist")
            {
                answer(
                    &mut st,
                    &mut s,
                    400,
                    "Only one sdist may be uploaded per release.",
                );
                return;
            }
            let attestations = match form.iter().find(|(k, _, _)| k == "attestations") {
                None => None,
                Some((_, _, v)) => {
                    match check_attestations(&String::from_utf8_lossy(v), &filename, &sha256) {
                        Ok(list) => Some(list),
                        Err(why) => {
                            let msg = format!("Invalid attestations supplied during upload: {why}");
                            answer(&mut st, &mut s, 400, &msg);
                            return;
                        }
                    }
                }
            };
            if let Some(list) = attestations {
                let publisher = st.publisher.clone().unwrap_or_else(default_publisher);
                st.provenance.push((
                    filename.clone(),
                    serde_json::json!({
                        "version": 1,
                        "attestation_bundles": [{ "publisher": publisher, "attestations": list }],
                    }),
                ));
                st.attestations.push((filename.clone(), list));
            }
            if created.is_none() {
                st.releases.push((project.clone(), version.clone(), now()));
            }
            st.contents.push((filename.clone(), content.clone()));
            st.files.push((
                project,
                HeldFile {
                    filename: filename.clone(),
                    sha256,
                    size: content.len() as u64,
                    uploaded: now(),
                    version,
                    filetype,
                },
            ));
            answer(&mut st, &mut s, 200, "OK");
        });
        state.lock().unwrap().port = port;
        PypiStandIn {
            port,
            state,
            max_file_size,
        }
    }

    /// Sets the publisher of the provenance of files uploaded from now on: a GitHub Trusted
    /// Publisher `{"kind": "GitHub", "repository", "workflow", "environment"}` (see
    /// [`default_publisher`]).
    pub fn set_publisher(&self, repository: &str, workflow: &str, environment: &str) {
        self.state.lock().unwrap().publisher = Some(serde_json::json!({
            "kind": "GitHub",
            "repository": repository,
            "workflow": workflow,
            "environment": environment,
        }));
    }

    /// The attestations accepted with each stored file, `(filename, attestation objects)`,
    /// in upload order.
    pub fn attestations(&self) -> Vec<(String, Vec<serde_json::Value>)> {
        self.state.lock().unwrap().attestations.clone()
    }

    /// Puts a file on the index as if uploaded `age_s` seconds ago (creating its release
    /// then, if new).
    pub fn hold(&self, project: &str, file: HeldFile, age_s: u64) {
        let mut st = self.state.lock().unwrap();
        let at = now() - age_s;
        let project = normalize(project);
        if !st
            .releases
            .iter()
            .any(|(p, v, _)| *p == project && *v == file.version)
        {
            st.releases
                .push((project.clone(), file.version.clone(), at));
        }
        st.files.push((
            project,
            HeldFile {
                uploaded: at,
                ..file
            },
        ));
    }

    /// Sets a project's PEP 792 status (`archived`, `quarantined`, `deprecated`).
    pub fn set_status(&self, project: &str, status: &str) {
        self.state
            .lock()
            .unwrap()
            .status
            .push((normalize(project), status.to_string()));
    }

    /// The upload URL (`http://127.0.0.1:PORT/legacy/`); the simple index is `…/simple/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/legacy/", self.port)
    }

    /// The file names held, sorted.
    pub fn held(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .state
            .lock()
            .unwrap()
            .files
            .iter()
            .map(|(_, f)| f.filename.clone())
            .collect();
        v.sort();
        v
    }

    /// The upload POSTs received, as `(filename, answer status)`.
    pub fn posts(&self) -> Vec<(String, u16)> {
        self.state.lock().unwrap().posts.clone()
    }
}
