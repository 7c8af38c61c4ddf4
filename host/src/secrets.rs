//! The host's secret store, shared by every stage of a run, and the redactor that keeps
//! every stored value out of output.
//!
//! Values never leave the host except inside an injected request header (see
//! [`Credential`]). Every value ever stored, current or replaced by a renewal, is redacted
//! from whatever the host prints or records, in each of the forms a value commonly takes
//! on its way out (see [`Secrets::redact`] for the list).
//!
//! A stage may store secrets, so the store is hardened against a hostile producer:
//! - a value must be at least [`MIN_SECRET_LEN`] bytes, so no one can censor ordinary words
//!   (a version, a package name) from every other stage's output;
//! - a value is at most [`MAX_SECRET_BYTES`] bytes, and one secret name holds at most
//!   [`MAX_VALUES`] distinct values (current and renewed) totalling at most
//!   [`MAX_TOTAL_BYTES`]; the names are bounded by the manifest, so this bounds the
//!   redactor's size and build time; beyond that a store is refused, a value is never
//!   forgotten (forgetting would un-redact it), and the budget of one name is not shared
//!   with another stage's;
//! - redaction runs one Aho-Corasick automaton over each text, so its cost per line does
//!   not grow with the number of stored values;
//! - object keys of JSON documents are redacted as well as string values.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine;
use base64::engine::GeneralPurpose;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::capabilities::Credential;

/// The shortest value accepted, in bytes. A shorter value would let its producer censor
/// common words (a version such as `1.2.3`, a package name) from every other stage's
/// output.
pub const MIN_SECRET_LEN: usize = 12;

/// The longest value accepted, in bytes (16 KiB: a token, a key, a small certificate).
pub const MAX_SECRET_BYTES: usize = 16 * 1024;

/// The most distinct values one secret name may hold in a run: its current value plus the
/// values it replaced (all stay redacted). A store that would exceed it is refused; no value is forgotten,
/// since forgetting one would un-redact it.
pub const MAX_VALUES: usize = 64;

/// The most `(secret, URL)` revocations a run registers (WIT `revoke-secret-at`); a
/// stage calling it in a loop cannot make the host send more requests than this times
/// [`MAX_VALUES`].
pub const MAX_REVOCATIONS: usize = 8;

/// The most bytes the distinct values of one secret name (current and replaced) may total
/// (128 KiB: 64 values of 2 KiB). Each value is looked for in a few dozen forms, up to
/// about 30 times its size; this bounds the redactor at a few MiB, built in well under a
/// second, whatever the values (without it, 64 hostile values of 16 KiB make a 1.3 GB,
/// 4-second build on every store). A store beyond it is refused, like one beyond
/// [`MAX_VALUES`].
pub const MAX_TOTAL_BYTES: usize = 128 * 1024;

/// What replaces each occurrence of a secret.
const MASK: &str = "***";

/// How many extra redaction passes a text gets when a stored value contains `*` (and so
/// could be re-formed around a [`MASK`]); a text still holding a value after them is
/// replaced by the mask as a whole.
const MAX_STAR_PASSES: usize = 4;

/// RFC 3986 unreserved characters kept as they are (`-._~`): the percent-encoding of
/// Python's `quote(safe="")`, Go's `url.QueryEscape` and most URL libraries.
const NON_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Why a value was not stored. The message names the secret and the limit, never the
/// value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The value is shorter than [`MIN_SECRET_LEN`] bytes.
    #[error(
        "secret {name:?} is {len} bytes long: a secret must be at least {min} bytes (a shorter \
         value could censor ordinary words, such as a version, from every stage's output); \
         store the whole token",
        min = MIN_SECRET_LEN
    )]
    TooShort {
        /// The secret's name.
        name: String,
        /// The value's length in bytes.
        len: usize,
    },
    /// The value is longer than [`MAX_SECRET_BYTES`] bytes.
    #[error(
        "secret {name:?} is {len} bytes long: at most {max} bytes are accepted; store the \
         token itself, not a file or document that contains it",
        max = MAX_SECRET_BYTES
    )]
    TooLarge {
        /// The secret's name.
        name: String,
        /// The value's length in bytes.
        len: usize,
    },
    /// Storing the value would make the name hold more than [`MAX_VALUES`] distinct values.
    #[error(
        "secret {name:?} was not stored: it already had {max} distinct values in this run \
         (current and renewed ones, all kept for redaction); renew it less often (a \
         longer-lived credential)",
        max = MAX_VALUES
    )]
    TooMany {
        /// The secret's name.
        name: String,
    },
    /// Storing the value would make the name's distinct values total more than
    /// [`MAX_TOTAL_BYTES`] bytes.
    #[error(
        "secret {name:?} was not stored: with it its values in this run (current and renewed \
         ones, all kept for redaction) would total {total} bytes, over the {max}-byte budget; \
         store a smaller secret, or renew it less often",
        max = MAX_TOTAL_BYTES
    )]
    TooMuch {
        /// The secret's name.
        name: String,
        /// The total in bytes the run's distinct values would reach.
        total: usize,
    },
}

/// When a stored secret stops working, and which stage can produce a fresh one
/// (`store-secret-until` in crates/stage/wit/stage.wit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lifetime {
    /// Unix seconds at which the credential stops working.
    pub expires_at: u64,
    /// Unix seconds at which it was stored.
    pub stored_at: u64,
    /// The id of the stage that stored it (run again to renew it).
    pub producer: String,
}

impl Lifetime {
    /// The longest renewal margin: a credential is renewed once it has at most this many
    /// seconds left (a 15-minute PyPI token: in its last minute).
    pub const MAX_MARGIN_S: u64 = 60;

    /// True when the credential should be renewed before it is used at `now` (unix
    /// seconds): it has at most `min(60 s, half its lifetime)` left.
    pub fn renew_due(&self, now: u64) -> bool {
        let lifetime = self.expires_at.saturating_sub(self.stored_at);
        let margin = Self::MAX_MARGIN_S.min(lifetime / 2);
        now.saturating_add(margin) >= self.expires_at
    }
}

/// The host's secret store, shared by every stage of a run (clones share one store).
/// Values never leave the host except inside an injected request header; every value ever
/// stored is redacted from output ([`Secrets::redact`]).
#[derive(Clone, Default)]
pub struct Secrets {
    inner: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Held by a store for its whole length, so the redactor is rebuilt outside `store`:
    /// readers (redaction, injection) never wait for a build.
    writer: Mutex<()>,
    store: Mutex<Store>,
}

#[derive(Default)]
struct Store {
    values: BTreeMap<String, String>,
    lifetimes: BTreeMap<String, Lifetime>,
    /// (name, value) pairs replaced by a renewal: no longer injected, still redacted.
    retired: Vec<(String, String)>,
    /// The users of the `basic:USER` credential forms: `base64(USER:value)` is redacted too.
    basic_users: Vec<String>,
    /// Over every form of every current and retired value; `None` while nothing is stored.
    redactor: Option<Redactor>,
    /// `(name, url)`: revoke every value of secret `name` at `url` when the run ends.
    revocations: Vec<(String, String)>,
}

impl Store {
    /// Makes `value` the current value of `name` (the old one retired) with `lifetime`.
    fn commit(&mut self, name: &str, value: &str, lifetime: Option<Lifetime>) {
        match lifetime {
            Some(l) => self.lifetimes.insert(name.to_string(), l),
            None => self.lifetimes.remove(name),
        };
        if let Some(old) = self.values.insert(name.to_string(), value.to_string())
            && old != value
            && !self.retired.iter().any(|(n, v)| n == name && *v == old)
        {
            self.retired.push((name.to_string(), old));
        }
    }

    /// Every distinct value ever stored (current and retired).
    fn distinct_values(&self) -> BTreeSet<&str> {
        self.values
            .values()
            .map(String::as_str)
            .chain(self.retired.iter().map(|(_, v)| v.as_str()))
            .collect()
    }
}

/// The automaton over every form of every stored value.
#[derive(Clone)]
struct Redactor {
    automaton: AhoCorasick,
    /// Some form contains `*`, so a text could re-form it around a mask.
    starred: bool,
}

impl Redactor {
    /// Builds the automaton over the forms of `values`; `None` when there are none.
    fn build<'v>(values: impl IntoIterator<Item = &'v str>, users: &[String]) -> Option<Redactor> {
        let patterns: BTreeSet<String> = values.into_iter().flat_map(|v| forms(v, users)).collect();
        if patterns.is_empty() {
            return None;
        }
        let starred = patterns.iter().any(|p| p.contains('*'));
        // A contiguous NFA, never a DFA: filling a DFA's transition table follows failure
        // links from every state, quadratic in the length of a repetitive value (a 16 KiB
        // value of one repeated byte takes minutes), and a producer chooses the values.
        // The NFA builds and searches in time linear in the patterns and the text.
        let automaton = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&patterns)
            // The patterns are bounded (MAX_TOTAL_BYTES of values, each in a few dozen
            // few dozen forms each): far below the automaton's state limit.
            .expect("the redactor's patterns are bounded by MAX_TOTAL_BYTES");
        Some(Redactor { automaton, starred })
    }

    /// `text` with each leftmost-longest match replaced by the mask, or `None` when nothing
    /// matched.
    fn replace_once(&self, text: &str) -> Option<String> {
        let mut matches = self.automaton.find_iter(text).peekable();
        matches.peek()?;
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in matches {
            // Patterns are whole UTF-8 strings, so a match starts and ends on character
            // boundaries of the (UTF-8) text.
            out.push_str(&text[last..m.start()]);
            out.push_str(MASK);
            last = m.end();
        }
        out.push_str(&text[last..]);
        Some(out)
    }

    fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let Some(mut out) = self.replace_once(text) else {
            return Cow::Borrowed(text);
        };
        // One pass leaves no star-free form: a form found in the output would lie within
        // an unmatched stretch of the text (the leftmost-longest scan would have found it)
        // or overlap a mask (it would contain '*'). Starred forms get more passes, each of
        // which shrinks the text by at least 9 bytes per match.
        if !self.starred {
            return Cow::Owned(out);
        }
        for _ in 0..MAX_STAR_PASSES {
            match self.replace_once(&out) {
                Some(next) => out = next,
                None => return Cow::Owned(out),
            }
        }
        Cow::Owned(MASK.to_string())
    }
}

/// Every form of `value` the redactor looks for: see [`Secrets::redact`].
fn forms(value: &str, users: &[String]) -> Vec<String> {
    let bytes = value.as_bytes();
    let mut out = vec![value.to_string()];
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(bytes));
    }
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for shift in 0..3 {
            out.push(base64_core(engine, bytes, shift));
        }
    }
    for user in users {
        let pair = format!("{user}:{value}");
        out.push(STANDARD.encode(&pair));
        out.push(STANDARD_NO_PAD.encode(&pair));
    }
    if let Ok(json) = serde_json::to_string(value) {
        let escaped = &json[1..json.len() - 1];
        if escaped != value {
            out.push(escaped.to_string());
        }
    }
    for set in [NON_ALPHANUMERIC, NON_UNRESERVED] {
        let encoded = utf8_percent_encode(value, set).to_string();
        let plus = encoded.replace("%20", "+");
        if plus != encoded {
            out.push(plus);
        }
        if encoded != value {
            out.push(encoded);
        }
    }
    out
}

/// The base64 characters that depend on `value` alone when it starts `shift` bytes
/// (0..3) into a longer encoded text: whatever precedes or follows it in that text, its
/// encoding contains this run.
fn base64_core(engine: &GeneralPurpose, value: &[u8], shift: usize) -> String {
    let mut buf = vec![0u8; shift];
    buf.extend_from_slice(value);
    let encoded = engine.encode(&buf);
    // Character i carries bits 6i..6i+6; keep those inside the value's bits.
    let start = (8 * shift).div_ceil(6);
    let end = 8 * (shift + value.len()) / 6;
    encoded[start..end].to_string()
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secrets({:?})", self.names())
    }
}

impl Secrets {
    /// An empty store that also redacts the header forms of `credentials` (the credential
    /// forms of the manifest's inject rules): for each `basic:USER` it redacts
    /// `base64(USER:value)` (standard alphabet, with and without padding) of every value.
    /// `bearer` and `header:NAME` send the raw value, which is always redacted.
    pub fn with_forms(credentials: impl IntoIterator<Item = Credential>) -> Secrets {
        let mut users: Vec<String> = Vec::new();
        for c in credentials {
            if let Credential::Basic { user } = c
                && !users.contains(&user)
            {
                users.push(user);
            }
        }
        let store = Store {
            basic_users: users,
            ..Store::default()
        };
        Secrets {
            inner: Arc::new(Shared {
                writer: Mutex::new(()),
                store: Mutex::new(store),
            }),
        }
    }

    /// The store, even after a panic elsewhere while it was held (an update is applied
    /// only once nothing can fail, so the store is always consistent).
    fn store(&self) -> MutexGuard<'_, Store> {
        self.inner
            .store
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Stores `value` under `name`, replacing an earlier value (which stays redacted) and
    /// any lifetime it had.
    ///
    /// Errors (nothing is stored, the earlier value stays current):
    /// [`SecretError::TooShort`] under [`MIN_SECRET_LEN`] bytes, [`SecretError::TooLarge`]
    /// over [`MAX_SECRET_BYTES`] bytes, [`SecretError::TooMany`] when the run would hold
    /// more than [`MAX_VALUES`] distinct values, [`SecretError::TooMuch`] when their total
    /// would exceed [`MAX_TOTAL_BYTES`] (storing a value already known never counts).
    pub fn insert(&self, name: &str, value: &str) -> Result<(), SecretError> {
        self.put(name, value, None)
    }

    /// Stores `value` under `name` with its [`Lifetime`] (see [`Secrets::insert`], same
    /// errors).
    pub fn insert_until(
        &self,
        name: &str,
        value: &str,
        lifetime: Lifetime,
    ) -> Result<(), SecretError> {
        self.put(name, value, Some(lifetime))
    }

    fn put(&self, name: &str, value: &str, lifetime: Option<Lifetime>) -> Result<(), SecretError> {
        let len = value.len();
        if len < MIN_SECRET_LEN {
            return Err(SecretError::TooShort {
                name: name.into(),
                len,
            });
        }
        if len > MAX_SECRET_BYTES {
            return Err(SecretError::TooLarge {
                name: name.into(),
                len,
            });
        }
        let _writer = self
            .inner
            .writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The automaton covers current and retired values alike, so it changes only when
        // the value is new; then it is built from a snapshot, without holding the store
        // (only this writer changes the store meanwhile).
        let snapshot = {
            let mut store = self.store();
            if store.distinct_values().contains(value) {
                store.commit(name, value, lifetime);
                return Ok(());
            }
            // Budgets are per secret name, so that one producer cannot use up the run's and
            // make another stage's store fail; the names are bounded by the manifest.
            let mine: BTreeSet<&str> = store
                .values
                .get(name)
                .map(String::as_str)
                .into_iter()
                .chain(
                    store
                        .retired
                        .iter()
                        .filter(|(n, _)| n == name)
                        .map(|(_, v)| v.as_str()),
                )
                .collect();
            if mine.len() >= MAX_VALUES {
                return Err(SecretError::TooMany { name: name.into() });
            }
            let total = mine.iter().map(|v| v.len()).sum::<usize>() + len;
            let known = store.distinct_values();
            if total > MAX_TOTAL_BYTES {
                return Err(SecretError::TooMuch {
                    name: name.into(),
                    total,
                });
            }
            let known: Vec<String> = known.into_iter().map(str::to_owned).collect();
            (known, store.basic_users.clone())
        };
        let (known, users) = snapshot;
        let redactor = Redactor::build(known.iter().map(String::as_str).chain([value]), &users);
        let mut store = self.store();
        store.commit(name, value, lifetime);
        store.redactor = redactor;
        Ok(())
    }

    /// The value of `name`, for injection.
    pub fn get(&self, name: &str) -> Option<String> {
        self.store().values.get(name).cloned()
    }

    /// The lifetime of `name`, when its current value was stored with one.
    pub fn lifetime(&self, name: &str) -> Option<Lifetime> {
        self.store().lifetimes.get(name).cloned()
    }

    /// True when no secret is stored.
    pub fn is_empty(&self) -> bool {
        self.store().values.is_empty()
    }

    /// Registers that every value of `name` is to be revoked at `url` when the run ends
    /// (WIT `revoke-secret-at`; the caller checked the grant). At most
    /// [`MAX_REVOCATIONS`] registrations; more are ignored. Repeats are kept once.
    pub fn revoke_at(&self, name: &str, url: &str) {
        let mut store = self.store();
        let entry = (name.to_string(), url.to_string());
        if !store.revocations.contains(&entry) && store.revocations.len() < MAX_REVOCATIONS {
            store.revocations.push(entry);
        }
    }

    /// Takes the registered revocations: `(name, url, values)`, with every value `name` had
    /// in this run (current and replaced by renewals). Afterwards none is registered.
    pub fn take_revocations(&self) -> Vec<(String, String, Vec<String>)> {
        let mut store = self.store();
        let taken = std::mem::take(&mut store.revocations);
        taken
            .into_iter()
            .map(|(name, url)| {
                let mut values: Vec<String> = store
                    .retired
                    .iter()
                    .filter(|(n, _)| *n == name)
                    .map(|(_, v)| v.clone())
                    .collect();
                values.extend(store.values.get(&name).cloned());
                (name, url, values)
            })
            .collect()
    }

    /// The names of the stored secrets, sorted.
    pub fn names(&self) -> Vec<String> {
        self.store().values.keys().cloned().collect()
    }

    fn redactor(&self) -> Option<Redactor> {
        // A clone shares the automaton: redaction runs without holding the lock.
        self.store().redactor.clone()
    }

    /// `text` with every occurrence of every stored value, current or replaced, in any of
    /// these forms replaced by `***`:
    /// - the value itself;
    /// - its base64 (standard and URL-safe alphabets, with and without padding), and the
    ///   characters that depend on the value alone wherever it sits in a longer base64 text
    ///   (for each of the three alignments);
    /// - `base64(USER:value)` for each `basic:USER` form given to [`Secrets::with_forms`]
    ///   (with and without padding): a Basic `Authorization` header reads `Basic ***`;
    /// - its JSON string escape (`serde_json`, without the quotes) when that differs;
    /// - its percent-encoding, every non-alphanumeric byte encoded and also with the RFC 3986
    ///   unreserved `-._~` kept, each also with `+` for spaces, when they differ.
    ///
    /// Matches are leftmost-longest: of overlapping forms, the one starting first (then the
    /// longest) is masked whole. Borrowed when nothing matched. The cost is one pass of an
    /// automaton over `text`, whatever the number of stored values; a value containing `*`
    /// may need a few more passes (a text that keeps re-forming it around the mask is
    /// replaced by `***` as a whole).
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.redactor() {
            Some(r) => r.redact(text),
            None => Cow::Borrowed(text),
        }
    }

    /// [`Secrets::redact`] as an owned string.
    pub fn redact_string(&self, text: &str) -> String {
        self.redact(text).into_owned()
    }

    /// A copy of `v` with every string value and object key redacted
    /// ([`Secrets::redact`]).
    ///
    /// - Two keys of one object that redact to the same text are both kept: the later one
    ///   (in the object's order) gets the suffix `#2`, the next `#3`, and so on (`***`,
    ///   `***#2`, `***#3`).
    /// - A number whose decimal text contains a secret (a numeric value of 12+ digits)
    ///   becomes the redacted string.
    pub fn redact_json(&self, v: &serde_json::Value) -> serde_json::Value {
        match self.redactor() {
            Some(r) => redact_value(&r, v),
            None => v.clone(),
        }
    }

    /// True when `text` contains any form ([`Secrets::redact`]) of a current or retired
    /// value stored under one of `names`: used to refuse a producer whose output contains
    /// the secret it stored. Builds a small automaton on each call.
    pub fn leaks(&self, names: &[String], text: &str) -> bool {
        let (values, users) = {
            let store = self.store();
            let values: BTreeSet<String> = names
                .iter()
                .filter_map(|n| store.values.get(n).cloned())
                .chain(
                    store
                        .retired
                        .iter()
                        .filter(|(n, _)| names.contains(n))
                        .map(|(_, v)| v.clone()),
                )
                .collect();
            (values, store.basic_users.clone())
        };
        let patterns: BTreeSet<String> = values.iter().flat_map(|v| forms(v, &users)).collect();
        if patterns.is_empty() {
            return false;
        }
        // Fail closed: an automaton that cannot be built counts as a leak.
        let automaton = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&patterns);
        match automaton {
            Ok(automaton) => automaton.is_match(text),
            Err(_) => true,
        }
    }

    /// True when `text` contains any form of any stored value, current or retired.
    pub fn contains_any(&self, text: &str) -> bool {
        self.redactor().is_some_and(|r| r.automaton.is_match(text))
    }
}

fn redact_value(r: &Redactor, v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(r.redact(s).into_owned()),
        Value::Number(n) => match r.redact(&n.to_string()) {
            Cow::Borrowed(_) => Value::Number(n.clone()),
            Cow::Owned(s) => Value::String(s),
        },
        Value::Array(a) => Value::Array(a.iter().map(|x| redact_value(r, x)).collect()),
        Value::Object(o) => {
            let mut out = serde_json::Map::new();
            for (k, x) in o {
                let key = r.redact(k);
                let key = if out.contains_key(key.as_ref()) {
                    let mut i = 2;
                    loop {
                        let candidate = format!("{key}#{i}");
                        if !out.contains_key(&candidate) {
                            break candidate;
                        }
                        i += 1;
                    }
                } else {
                    key.into_owned()
                };
                out.insert(key, redact_value(r, x));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pypi() -> Secrets {
        Secrets::with_forms([Credential::parse("basic:__token__").unwrap()])
    }

    #[test]
    fn revocations_cover_every_value_and_are_bounded() {
        let s = Secrets::default();
        s.insert("tok", "first-token-value-1").unwrap();
        s.insert("tok", "second-token-value-2").unwrap();
        for i in 0..100 {
            s.revoke_at("tok", &format!("https://pypi.org/_/oidc/burn-token?{i}"));
        }
        s.revoke_at("tok", "https://pypi.org/_/oidc/burn-token?0");
        let taken = s.take_revocations();
        assert_eq!(taken.len(), MAX_REVOCATIONS);
        assert_eq!(
            taken[0].2,
            vec![
                "first-token-value-1".to_string(),
                "second-token-value-2".to_string()
            ]
        );
        assert!(s.take_revocations().is_empty(), "taken once");
    }

    #[test]
    fn secrets_are_redacted_in_plain_and_basic_auth_form() {
        let s = pypi();
        s.insert("pypi-token", "pypi-AgEIcHlwaS5vcmc").unwrap();
        let (_, header) = Credential::parse("basic:__token__")
            .unwrap()
            .header("pypi-AgEIcHlwaS5vcmc");
        let text = format!("token pypi-AgEIcHlwaS5vcmc sent as {header}");
        let red = s.redact(&text);
        assert_eq!(red, "token *** sent as Basic ***");
        // Without padding, and as a header of its own.
        let unpadded = header.trim_end_matches('=');
        assert_eq!(s.redact(unpadded), "Basic ***");
        assert_eq!(s.redact(&header), "Basic ***");
    }

    #[test]
    fn basic_header_of_every_length_is_fully_redacted() {
        // Each length modulo 3 pads base64(USER:value) differently.
        for value in [
            "pypi-AgEIcHlwaS5vcmc",
            "pypi-AgEIcHlwaS5vcmcX",
            "pypi-AgEIcHlwaS5vcmcXY",
        ] {
            let s = pypi();
            s.insert("t", value).unwrap();
            let (name, header) = Credential::parse("basic:__token__").unwrap().header(value);
            assert_eq!(name, "authorization");
            assert_eq!(
                s.redact(&format!("{name}: {header}")),
                "authorization: Basic ***"
            );
        }
    }

    #[test]
    fn renewed_secrets_stay_redacted_and_renewal_is_due_near_expiry() {
        let s = Secrets::default();
        let life = |stored_at, expires_at| Lifetime {
            expires_at,
            stored_at,
            producer: "authenticate".into(),
        };
        s.insert_until("pypi-token", "pypi-first-token", life(1000, 1900))
            .unwrap();
        assert_eq!(s.lifetime("pypi-token").unwrap().producer, "authenticate");
        s.insert_until("pypi-token", "pypi-second-token", life(1800, 2700))
            .unwrap();
        assert_eq!(s.get("pypi-token").as_deref(), Some("pypi-second-token"));
        let red = s.redact("old pypi-first-token new pypi-second-token");
        assert_eq!(red, "old *** new ***");
        s.insert("pypi-token", "pypi-third-token").unwrap();
        assert_eq!(
            s.lifetime("pypi-token"),
            None,
            "a plain insert drops the lifetime"
        );
        assert_eq!(s.names(), vec!["pypi-token".to_string()]);

        // A 15-minute token: renewed in its last minute.
        let t = life(1000, 1900);
        assert!(!t.renew_due(1839));
        assert!(t.renew_due(1840));
        assert!(t.renew_due(5000));
        // A 2-second token: renewed in its last second, not on every use.
        let short = life(1000, 1002);
        assert!(!short.renew_due(1000));
        assert!(short.renew_due(1001));
    }

    #[test]
    fn json_keys_and_values_are_redacted_and_colliding_keys_kept() {
        let s = Secrets::default();
        s.insert("a", "first-secret-value").unwrap();
        s.insert("b", "second-secret-value").unwrap();
        s.insert("n", "123456789012345").unwrap();
        let v = serde_json::json!({
            "first-secret-value": "x",
            "second-secret-value": ["y second-secret-value"],
            "***": "a real key",
            "plain": {"nested first-secret-value": 1},
            "id": 123456789012345u64,
            "count": 7,
        });
        let red = s.redact_json(&v);
        assert_eq!(
            red,
            serde_json::json!({
                "***": "a real key",
                "***#2": "x",
                "***#3": ["y ***"],
                "plain": {"nested ***": 1},
                "id": "***",
                "count": 7,
            })
        );
        let text = serde_json::to_string(&red).unwrap();
        assert!(!text.contains("secret-value"), "{text}");
    }

    #[test]
    fn percent_encoded_and_json_escaped_forms_are_redacted() {
        let s = Secrets::default();
        let value = r#"pa"ss/word with-space"#;
        s.insert("p", value).unwrap();
        let json = serde_json::to_string(&serde_json::json!({ "password": value })).unwrap();
        assert!(json.contains(r#"pa\"ss/word"#), "{json}");
        assert_eq!(s.redact(&json), r#"{"password":"***"}"#);
        let all = utf8_percent_encode(value, NON_ALPHANUMERIC).to_string();
        assert_eq!(all, "pa%22ss%2Fword%20with%2Dspace");
        let unreserved = utf8_percent_encode(value, NON_UNRESERVED).to_string();
        assert_eq!(unreserved, "pa%22ss%2Fword%20with-space");
        for encoded in [
            all.clone(),
            all.replace("%20", "+"),
            unreserved.clone(),
            unreserved.replace("%20", "+"),
        ] {
            let url = format!("https://example.com/?user=me&password={encoded}&x=1");
            assert_eq!(
                s.redact(&url),
                "https://example.com/?user=me&password=***&x=1"
            );
        }
    }

    #[test]
    fn base64_inside_a_longer_base64_text_is_redacted() {
        let value = "ghp_16C7e42F292c6912E7710c838347Ae178B4a";
        let s = Secrets::default();
        s.insert("gh", value).unwrap();
        for prefix in ["", "a", "ab", "{\"token\":\""] {
            let blob = STANDARD.encode(format!("{prefix}{value}\"}}"));
            let red = s.redact(&blob);
            assert!(red.contains(MASK), "{prefix:?}: {red}");
            for shift in 0..3 {
                let core = base64_core(&STANDARD_NO_PAD, value.as_bytes(), shift);
                assert!(!red.contains(&core), "{prefix:?}: {red}");
            }
        }
        let url_safe = URL_SAFE_NO_PAD.encode(value);
        assert_eq!(s.redact(&format!("t={url_safe};")), "t=***;");
    }

    #[test]
    fn short_values_are_refused_and_not_redacted() {
        let s = Secrets::default();
        let e = s.insert("version", "1.2.3").unwrap_err();
        assert_eq!(
            e,
            SecretError::TooShort {
                name: "version".into(),
                len: 5
            }
        );
        assert!(e.to_string().contains("at least 12 bytes"), "{e}");
        assert!(!e.to_string().contains("1.2.3"), "{e}");
        assert!(s.is_empty());
        assert_eq!(s.redact("released 1.2.3"), "released 1.2.3");
        assert!(matches!(
            s.insert("eleven", "12345678901"),
            Err(SecretError::TooShort { len: 11, .. })
        ));
        s.insert("twelve", "123456789012").unwrap();
        let big = "x".repeat(MAX_SECRET_BYTES + 1);
        let e = s.insert("big", &big).unwrap_err();
        assert!(matches!(e, SecretError::TooLarge { len, .. } if len == MAX_SECRET_BYTES + 1));
        assert!(!e.to_string().contains("xxxx"), "{e}");
        s.insert("big", &big[1..]).unwrap();
        assert_eq!(s.redact(&format!("<{}>", &big[1..])), "<***>");
    }

    #[test]
    fn the_value_after_max_values_is_refused_and_nothing_forgotten() {
        let s = Secrets::default();
        let value = |i: usize| format!("renewed-token-{i:04}");
        // One name renewed MAX_VALUES times: its budget is spent.
        for i in 0..MAX_VALUES {
            s.insert("renewed", &value(i)).unwrap();
        }
        let e = s.insert("renewed", &value(MAX_VALUES)).unwrap_err();
        assert_eq!(
            e,
            SecretError::TooMany {
                name: "renewed".into()
            }
        );
        assert!(e.to_string().contains("64 distinct"), "{e}");
        assert_eq!(
            s.get("renewed"),
            Some(value(MAX_VALUES - 1)),
            "the current value stays"
        );
        // A value already known is not a new one; another name has its own budget.
        s.insert("renewed", &value(3)).unwrap();
        s.insert("other", &value(MAX_VALUES + 1)).unwrap();
        for i in 0..MAX_VALUES {
            assert_eq!(s.redact(&value(i)), "***", "value {i}");
        }
        assert_eq!(s.redact(&value(MAX_VALUES)), value(MAX_VALUES));
    }

    #[test]
    fn the_total_of_the_values_is_bounded() {
        let s = pypi();
        let big = |c: char| c.to_string().repeat(MAX_SECRET_BYTES);
        let fill = MAX_TOTAL_BYTES / MAX_SECRET_BYTES;
        for c in ('a'..).take(fill) {
            s.insert("key", &big(c)).unwrap();
        }
        let e = s.insert("key", "twelve-bytes").unwrap_err();
        assert_eq!(
            e,
            SecretError::TooMuch {
                name: "key".into(),
                total: MAX_TOTAL_BYTES + 12
            }
        );
        assert!(e.to_string().contains("131072-byte budget"), "{e}");
        // Another name has its own budget; known values still go in; all stay redacted.
        s.insert("small", "twelve-bytes").unwrap();
        s.insert("again", &big('a')).unwrap();
        for c in ('a'..).take(fill) {
            assert_eq!(s.redact(&format!("[{}]", big(c))), "[***]");
        }
    }

    #[test]
    fn leaks_and_contains_any_see_every_form_of_the_named_values() {
        let s = pypi();
        s.insert("token", "pypi-first-token-value").unwrap();
        s.insert("token", "pypi-second-token-value").unwrap();
        s.insert("other", "unrelated-secret-value").unwrap();
        let names = vec!["token".to_string()];
        assert!(s.leaks(&names, "got pypi-second-token-value"));
        let retired_b64 = STANDARD.encode("pypi-first-token-value");
        assert!(s.leaks(&names, &format!("old {retired_b64}")));
        let basic = STANDARD.encode("__token__:pypi-second-token-value");
        assert!(s.leaks(&names, &basic));
        assert!(!s.leaks(&names, "unrelated-secret-value"));
        assert!(!s.leaks(&["missing".to_string()], "pypi-second-token-value"));
        assert!(!s.leaks(&[], "pypi-second-token-value"));
        assert!(s.contains_any("unrelated-secret-value"));
        assert!(s.contains_any(&retired_b64));
        assert!(!s.contains_any("nothing to see"));
        assert!(!Secrets::default().contains_any("pypi-second-token-value"));
    }

    #[test]
    fn debug_shows_names_only() {
        let s = Secrets::default();
        s.insert("pypi-token", "pypi-AgEIcHlwaS5vcmc").unwrap();
        let d = format!("{s:?}");
        assert_eq!(d, r#"Secrets(["pypi-token"])"#);
    }

    #[test]
    fn a_value_with_stars_is_not_re_formed_around_the_mask() {
        let s = Secrets::default();
        s.insert("a", "**abcdefghij").unwrap();
        // One pass would leave "***abcdefghij", which holds the value again.
        let red = s.redact("x**abcdefghijabcdefghij");
        assert!(!red.contains("**abcdefghij"), "{red}");
        let s = Secrets::default();
        s.insert("b", "***xxxxxxxxx").unwrap();
        let nested = format!("***{}", "xxxxxxxxx".repeat(20));
        assert_eq!(s.redact(&nested), "***");
        assert_eq!(s.redact("no value here"), "no value here");
    }

    #[test]
    fn redacting_a_megabyte_line_with_max_values_stored() {
        let s = pypi();
        let values: Vec<String> = (0..MAX_VALUES)
            .map(|i| format!("tok-{i:02}-{}", "q7Zp".repeat(8)))
            .collect();
        for (i, v) in values.iter().enumerate() {
            s.insert(&format!("s{i}"), v).unwrap();
        }
        let mut line = String::with_capacity(1 << 20);
        let mut i = 0;
        while line.len() < 1 << 20 {
            line.push_str("lorem ipsum dolor sit amet, consectetur adipiscing elit ");
            if i % 50 == 0 {
                let v = &values[i / 50 % MAX_VALUES];
                line.push_str(v);
                line.push(' ');
                line.push_str(&STANDARD.encode(format!("__token__:{v}")));
                line.push(' ');
            }
            i += 1;
        }
        let red = s.redact(&line);
        assert!(red.len() < line.len());
        assert!(!red.contains("q7Zpq7Zp"));
        assert!(!s.contains_any(&red));
    }

    proptest! {
        #[test]
        fn redacted_text_never_holds_the_secret_or_its_base64(
            secret in "[ -~]{12,64}",
            prefix in any::<String>(),
            suffix in any::<String>(),
        ) {
            let s = pypi();
            s.insert("t", &secret).unwrap();
            let b64 = STANDARD.encode(&secret);
            let b64_bare = STANDARD_NO_PAD.encode(&secret);
            for middle in [&secret, &b64] {
                let red = s.redact_string(&format!("{prefix}{middle}{suffix}"));
                prop_assert!(!red.contains(&secret), "{}", red);
                prop_assert!(!red.contains(&b64_bare), "{}", red);
            }
        }

        #[test]
        fn unicode_secrets_are_redacted_too(
            secret in "\\PC{12,40}",
            prefix in "\\PC{0,20}",
            suffix in "\\PC{0,20}",
        ) {
            let s = Secrets::default();
            s.insert("t", &secret).unwrap();
            let red = s.redact_string(&format!("{prefix}{secret}{suffix}"));
            prop_assert!(!red.contains(&secret), "{}", red);
        }

        #[test]
        fn redaction_never_panics(
            text in any::<String>(),
            pieces in proptest::collection::vec(0usize..6, 0..12),
        ) {
            let s = pypi();
            let values = ["ünïcödé-sëcrët-välüe", "plain-secret-value-1", "a*b*c*d*e*f*g"];
            for (i, v) in values.iter().enumerate() {
                s.insert(&format!("s{i}"), v).unwrap();
            }
            // Arbitrary text, spliced with whole and partial forms of the values.
            let mut t = text.clone();
            for p in pieces {
                let v = values[p % 3];
                match p / 3 {
                    0 => t.push_str(v),
                    _ => t.push_str(&STANDARD.encode(v)[..10]),
                }
                t.push_str(&text);
            }
            let red = s.redact(&t);
            prop_assert!(red.len() <= t.len());
            for v in values {
                prop_assert!(!red.contains(v));
            }
            let _ = s.redact_json(&serde_json::Value::String(t));
        }

        #[test]
        fn redacted_json_never_holds_the_secret(
            secret in "[ -~]{12,64}",
            other in "[a-z]{0,12}",
        ) {
            let s = Secrets::default();
            s.insert("t", &secret).unwrap();
            let v = serde_json::json!({
                secret.clone(): secret.clone(),
                other.clone(): { secret.clone(): [secret.clone(), format!("{other}{secret}")] },
            });
            let text = serde_json::to_string(&s.redact_json(&v)).unwrap();
            let escaped = serde_json::to_string(&secret).unwrap();
            prop_assert!(!text.contains(&secret), "{}", text);
            prop_assert!(!text.contains(&escaped[1..escaped.len() - 1]), "{}", text);
        }
    }
}
