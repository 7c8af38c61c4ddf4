//! `Requires-Dist` values as uv_build 0.9 writes them: `uv-pep508`'s `Requirement` display
//! (normalised name, extras as written but normalised, specifiers joined by `,`, `" @ url"`,
//! `" ; marker"`), where the marker went through uv's marker algebra (a decision diagram
//! printed in disjunctive normal form, `uv-pep508/src/marker/{tree,algebra,simplify}.rs`).
//!
//! The algebra is reproduced for what `Requires-Dist` markers hold in practice:
//! conjunctions of comparisons (`and`, parentheses), plus a disjunction of `==` comparisons
//! of one string variable (`sys_platform == 'win32' or sys_platform == 'cygwin'`); an extra's
//! `extra == '…'` is added to each conjunction as uv_build does. Within a conjunction:
//! - `python_version` is lowered to `python_full_version` as uv does (`== 3.8` → `==
//!   '3.8.*'`, `> 3.8` → `>= '3.9'`, `<= 3.8` → `< '3.9'`, `!= 3.8` → `!= '3.8.*'`);
//! - comparisons of one version variable are intersected into one interval and printed as
//!   `VersionSpecifier::from_release_only_bounds` prints it (`>= 'a' and < 'b'`, `== 'a'`,
//!   `== 'X.Y.*'`, or `!= 'v'` holes);
//! - `==`/`!=` of one string variable are combined (`!=` values sorted);
//!   `platform_system` `Windows`/`Darwin`/`Linux`/`AIX`/`Emscripten`/`Android` become
//!   `sys_platform` `win32`/`darwin`/`linux`/`aix`/`emscripten`/`android` as in uv;
//! - the terms are sorted by kind (version variables, string variables in uv's enum order,
//!   then `extra`); deprecated names (`os.name`, `sys.platform`, …) print canonically;
//! - a contradiction prints `python_version < '0'`, a tautology drops the marker.
//!
//! Anything else (other disjunctions, `in`/`not in`, `~=`, `===`, pre-release or
//! three-part `python_version` values, string ordering comparisons) is
//! [`Error::Unsupported`](crate::Error::Unsupported) naming the marker: uv's output for it
//! is not reproduced.

use std::cmp::Ordering;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::marker::{Tok, tokenize};
use crate::project::{is_valid_name, normalize_name};

/// A marker variable, in uv's `MarkerExpressionKind` order (the order terms print in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Key {
    ImplementationVersion,
    PythonFullVersion,
    ImplementationName,
    OsName,
    PlatformMachine,
    PlatformPythonImplementation,
    PlatformRelease,
    PlatformSystem,
    PlatformVersion,
    SysPlatform,
    Extra,
}

impl Key {
    fn parse(word: &str) -> Option<(Key, bool)> {
        // (key, is `python_version`)
        Some(match word {
            "python_version" => (Key::PythonFullVersion, true),
            "python_full_version" => (Key::PythonFullVersion, false),
            "implementation_version" => (Key::ImplementationVersion, false),
            "implementation_name" => (Key::ImplementationName, false),
            "os_name" | "os.name" => (Key::OsName, false),
            "platform_machine" | "platform.machine" => (Key::PlatformMachine, false),
            "platform_python_implementation"
            | "platform.python_implementation"
            | "python_implementation" => (Key::PlatformPythonImplementation, false),
            "platform_release" => (Key::PlatformRelease, false),
            "platform_system" => (Key::PlatformSystem, false),
            "platform_version" | "platform.version" => (Key::PlatformVersion, false),
            "sys_platform" | "sys.platform" => (Key::SysPlatform, false),
            "extra" => (Key::Extra, false),
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Key::ImplementationVersion => "implementation_version",
            Key::PythonFullVersion => "python_full_version",
            Key::ImplementationName => "implementation_name",
            Key::OsName => "os_name",
            Key::PlatformMachine => "platform_machine",
            Key::PlatformPythonImplementation => "platform_python_implementation",
            Key::PlatformRelease => "platform_release",
            Key::PlatformSystem => "platform_system",
            Key::PlatformVersion => "platform_version",
            Key::SysPlatform => "sys_platform",
            Key::Extra => "extra",
        }
    }

    fn is_version(self) -> bool {
        matches!(self, Key::ImplementationVersion | Key::PythonFullVersion)
    }
}

/// A parsed marker expression.
#[derive(Debug, Clone)]
enum Expr {
    And(Vec<Expr>),
    Or(Vec<Expr>),
    /// (variable, is python_version, operator, value), the variable on the left.
    Cmp(Key, bool, String, String),
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn or(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            items.push(self.and()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::Or(items)
        })
    }
    fn and(&mut self) -> Result<Expr, String> {
        let mut items = vec![self.atom()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            items.push(self.atom()?);
        }
        Ok(if items.len() == 1 {
            items.remove(0)
        } else {
            Expr::And(items)
        })
    }
    fn atom(&mut self) -> Result<Expr, String> {
        if self.peek() == Some(&Tok::Open) {
            self.pos += 1;
            let e = self.or()?;
            if self.next() != Some(Tok::Close) {
                return Err("expected `)`".into());
            }
            return Ok(e);
        }
        let left = self.next().ok_or("expected a marker expression")?;
        let op = match self.next() {
            Some(Tok::Op(op)) => op,
            other => return Err(format!("expected an operator, found {other:?}")),
        };
        let right = self.next().ok_or("expected a value")?;
        match (left, right) {
            (Tok::Word(w), Tok::Str(v)) => {
                let (key, pv) = Key::parse(&w).ok_or(format!("unknown marker variable `{w}`"))?;
                Ok(Expr::Cmp(key, pv, op, v))
            }
            (Tok::Str(v), Tok::Word(w)) => {
                let (key, pv) = Key::parse(&w).ok_or(format!("unknown marker variable `{w}`"))?;
                let flipped = match op.as_str() {
                    "<" => ">",
                    "<=" => ">=",
                    ">" => "<",
                    ">=" => "<=",
                    "==" | "!=" => op.as_str(),
                    _ => return Err(format!("`'{v}' {op} {w}` (value on the left)")),
                };
                Ok(Expr::Cmp(key, pv, flipped.to_string(), v))
            }
            _ => Err("a comparison needs one variable and one quoted value".into()),
        }
    }
}

/// A release-only version: the text as uv prints it and the release numbers.
#[derive(Debug, Clone)]
struct Ver {
    text: String,
    release: Vec<u64>,
}

impl Ver {
    fn parse(s: &str) -> Option<Ver> {
        let v = pep440_rs::Version::from_str(s.trim()).ok()?;
        if v.any_prerelease() || v.is_post() || !v.local().is_empty() || v.epoch() != 0 {
            return None;
        }
        Some(Ver {
            text: v.to_string(),
            release: v.release().to_vec(),
        })
    }
    fn new(release: Vec<u64>) -> Ver {
        Ver {
            text: release
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join("."),
            release,
        }
    }
    fn trimmed(&self) -> Vec<u64> {
        let mut r = self.release.clone();
        while r.len() > 1 && r.last() == Some(&0) {
            r.pop();
        }
        r
    }
    fn cmp(&self, other: &Ver) -> Ordering {
        let n = self.release.len().max(other.release.len());
        for i in 0..n {
            let a = self.release.get(i).copied().unwrap_or(0);
            let b = other.release.get(i).copied().unwrap_or(0);
            match a.cmp(&b) {
                Ordering::Equal => {}
                o => return o,
            }
        }
        Ordering::Equal
    }
}

#[derive(Debug, Clone)]
enum Bound {
    Unbounded,
    Included(Ver),
    Excluded(Ver),
}

/// A set of versions as sorted, disjoint intervals.
#[derive(Debug, Clone)]
struct Range(Vec<(Bound, Bound)>);

/// Compares two lower bounds (Unbounded lowest; Excluded(v) above Included(v)).
fn cmp_lower(a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Less,
        (_, Bound::Unbounded) => Ordering::Greater,
        (Bound::Included(x), Bound::Included(y)) | (Bound::Excluded(x), Bound::Excluded(y)) => {
            x.cmp(y)
        }
        (Bound::Included(x), Bound::Excluded(y)) => x.cmp(y).then(Ordering::Less),
        (Bound::Excluded(x), Bound::Included(y)) => x.cmp(y).then(Ordering::Greater),
    }
}

/// Compares two upper bounds (Unbounded highest; Excluded(v) below Included(v)).
fn cmp_upper(a: &Bound, b: &Bound) -> Ordering {
    match (a, b) {
        (Bound::Unbounded, Bound::Unbounded) => Ordering::Equal,
        (Bound::Unbounded, _) => Ordering::Greater,
        (_, Bound::Unbounded) => Ordering::Less,
        (Bound::Included(x), Bound::Included(y)) | (Bound::Excluded(x), Bound::Excluded(y)) => {
            x.cmp(y)
        }
        (Bound::Included(x), Bound::Excluded(y)) => x.cmp(y).then(Ordering::Greater),
        (Bound::Excluded(x), Bound::Included(y)) => x.cmp(y).then(Ordering::Less),
    }
}

fn nonempty(lo: &Bound, hi: &Bound) -> bool {
    match (lo, hi) {
        (Bound::Unbounded, _) | (_, Bound::Unbounded) => true,
        (Bound::Included(a), Bound::Included(b)) => a.cmp(b) != Ordering::Greater,
        (Bound::Included(a), Bound::Excluded(b))
        | (Bound::Excluded(a), Bound::Included(b))
        | (Bound::Excluded(a), Bound::Excluded(b)) => a.cmp(b) == Ordering::Less,
    }
}

impl Range {
    fn one(lo: Bound, hi: Bound) -> Range {
        Range(vec![(lo, hi)])
    }
    fn intersect(&self, other: &Range) -> Range {
        let mut out = Vec::new();
        for (a_lo, a_hi) in &self.0 {
            for (b_lo, b_hi) in &other.0 {
                let lo = if cmp_lower(a_lo, b_lo) == Ordering::Less {
                    b_lo
                } else {
                    a_lo
                };
                let hi = if cmp_upper(a_hi, b_hi) == Ordering::Greater {
                    b_hi
                } else {
                    a_hi
                };
                if nonempty(lo, hi) {
                    out.push((lo.clone(), hi.clone()));
                }
            }
        }
        out.sort_by(|x, y| cmp_lower(&x.0, &y.0));
        Range(out)
    }
    fn is_full(&self) -> bool {
        matches!(self.0.as_slice(), [(Bound::Unbounded, Bound::Unbounded)])
    }
}

/// The range of one version comparison (after `python_version` lowering), or `None` when
/// uv's output for it is not reproduced.
fn version_range(op: &str, value: &str, python_version: bool) -> Option<Range> {
    let star = value.trim().strip_suffix(".*");
    let v = Ver::parse(star.unwrap_or(value))?;
    let next_minor = |v: &Ver| -> Option<Ver> {
        match v.trimmed().as_slice() {
            [major] => Some(Ver::new(vec![*major, 1])),
            [major, minor] => Some(Ver::new(vec![*major, minor + 1])),
            _ => None,
        }
    };
    let star_range = |v: &Ver| -> Option<(Ver, Ver)> {
        // `== X.Y.*` for two release segments (uv prints it back as `== 'X.Y.*'`).
        match v.release.as_slice() {
            [major, minor] => Some((v.clone(), Ver::new(vec![*major, minor + 1]))),
            _ => None,
        }
    };
    let complement = |lo: Ver, hi: Ver| {
        Range(vec![
            (Bound::Unbounded, Bound::Excluded(lo)),
            (Bound::Included(hi), Bound::Unbounded),
        ])
    };
    if let Some(_s) = star {
        let v = if python_version {
            // `python_version == 3.9.0.*` is `3.9.*`; more segments are constant.
            match v.trimmed().as_slice() {
                [major, minor] => Ver::new(vec![*major, *minor]),
                _ => return None,
            }
        } else {
            v
        };
        let (lo, hi) = star_range(&v)?;
        return match op {
            "==" => Some(Range::one(Bound::Included(lo), Bound::Excluded(hi))),
            "!=" => Some(complement(lo, hi)),
            _ => None,
        };
    }
    if python_version {
        let (major, minor) = match v.trimmed().as_slice() {
            [major] => (*major, 0),
            [major, minor] => (*major, *minor),
            _ => return None,
        };
        let mm = Ver::new(vec![major, minor]);
        let next = Ver::new(vec![major, minor + 1]);
        return match op {
            "==" => Some(Range::one(Bound::Included(mm), Bound::Excluded(next))),
            "!=" => Some(complement(mm, next)),
            ">" => Some(Range::one(Bound::Included(next), Bound::Unbounded)),
            "<" => Some(Range::one(Bound::Unbounded, Bound::Excluded(v))),
            ">=" => Some(Range::one(Bound::Included(v), Bound::Unbounded)),
            "<=" => Some(Range::one(Bound::Unbounded, Bound::Excluded(next))),
            _ => None,
        };
    }
    let _ = next_minor;
    match op {
        "==" => Some(Range::one(Bound::Included(v.clone()), Bound::Included(v))),
        "!=" => Some(Range(vec![
            (Bound::Unbounded, Bound::Excluded(v.clone())),
            (Bound::Excluded(v), Bound::Unbounded),
        ])),
        ">" => Some(Range::one(Bound::Excluded(v), Bound::Unbounded)),
        ">=" => Some(Range::one(Bound::Included(v), Bound::Unbounded)),
        "<" => Some(Range::one(Bound::Unbounded, Bound::Excluded(v))),
        "<=" => Some(Range::one(Bound::Unbounded, Bound::Included(v))),
        _ => None,
    }
}

/// `VersionSpecifier::from_release_only_bounds` as `(op, version)` pairs.
fn print_bounds(lo: &Bound, hi: &Bound) -> Vec<(String, String)> {
    if let (Bound::Included(a), Bound::Included(b)) = (lo, hi)
        && a.cmp(b) == Ordering::Equal
    {
        return vec![("==".into(), a.text.clone())];
    }
    if let (Bound::Included(a), Bound::Excluded(b)) = (lo, hi) {
        let (ta, tb) = (a.trimmed(), b.trimmed());
        let star = match ta.as_slice() {
            [major] if tb == [*major, 1] => Some(format!("{major}.0")),
            [major, minor] if tb == [*major, minor + 1] => Some(format!("{major}.{minor}")),
            _ => None,
        };
        if let Some(s) = star {
            return vec![("==".into(), format!("{s}.*"))];
        }
    }
    let mut out = Vec::new();
    match lo {
        Bound::Included(v) => out.push((">=".into(), v.text.clone())),
        Bound::Excluded(v) => out.push((">".into(), v.text.clone())),
        Bound::Unbounded => {}
    }
    match hi {
        Bound::Included(v) => out.push(("<=".into(), v.text.clone())),
        Bound::Excluded(v) => out.push(("<".into(), v.text.clone())),
        Bound::Unbounded => {}
    }
    out
}

/// The printed terms of a version variable's range; `None` when uv would split it into
/// several conjunctions.
fn print_range(key: Key, range: &Range) -> Option<Vec<String>> {
    let term = |op: &str, v: &str| format!("{} {op} '{v}'", key.name());
    match range.0.as_slice() {
        [(lo, hi)] => Some(
            print_bounds(lo, hi)
                .into_iter()
                .map(|(op, v)| term(&op, &v))
                .collect(),
        ),
        many => {
            // `range_inequality`: unbounded on both ends, gaps of single excluded points.
            if matches!(many.first(), Some((Bound::Unbounded, _)))
                && matches!(many.last(), Some((_, Bound::Unbounded)))
            {
                let mut holes = Vec::new();
                let mut ok = true;
                for w in many.windows(2) {
                    match (&w[0].1, &w[1].0) {
                        (Bound::Excluded(a), Bound::Excluded(b)) if a.cmp(b) == Ordering::Equal => {
                            holes.push(term("!=", &a.text))
                        }
                        _ => ok = false,
                    }
                }
                if ok {
                    return Some(holes);
                }
                // `star_range_specifier`: `< X.Y or >= X.(Y+1)` is `!= X.Y.*`.
                if let [
                    (Bound::Unbounded, Bound::Excluded(a)),
                    (Bound::Included(b), Bound::Unbounded),
                ] = many
                {
                    match a.trimmed().as_slice() {
                        [major] if b.release == [*major, 1] => {
                            return Some(vec![term("!=", &format!("{major}.0.*"))]);
                        }
                        [major, minor] if b.release == [*major, minor + 1] => {
                            return Some(vec![term("!=", &format!("{}.*", a.text))]);
                        }
                        _ => {}
                    }
                }
            }
            None
        }
    }
}

/// The constraint on one string variable within a conjunction.
#[derive(Debug, Clone)]
enum StrSet {
    Eq(String),
    NotIn(Vec<String>),
    False,
}

/// One conjunction: per variable, its constraint.
#[derive(Debug, Clone, Default)]
struct Clause {
    versions: Vec<(Key, Range)>,
    strings: Vec<(Key, StrSet)>,
}

impl Clause {
    fn add(&mut self, key: Key, python_version: bool, op: &str, value: &str) -> Option<()> {
        if key.is_version() {
            let r = version_range(op, value, python_version)?;
            match self.versions.iter_mut().find(|(k, _)| *k == key) {
                Some((_, existing)) => *existing = existing.intersect(&r),
                None => self.versions.push((key, r)),
            }
            return Some(());
        }
        let (key, value) = if key == Key::Extra {
            if op != "==" {
                return None;
            }
            (key, normalize_name(value))
        } else {
            // uv's algebra turns `platform_system` values that are exactly equivalent into
            // `sys_platform` nodes (`algebra.rs`, "Normalize `platform_system` markers").
            let sys = match (key, value) {
                (Key::PlatformSystem, "Windows") => Some("win32"),
                (Key::PlatformSystem, "Darwin") => Some("darwin"),
                (Key::PlatformSystem, "Linux") => Some("linux"),
                (Key::PlatformSystem, "AIX") => Some("aix"),
                (Key::PlatformSystem, "Emscripten") => Some("emscripten"),
                (Key::PlatformSystem, "Android") => Some("android"),
                _ => None,
            };
            match sys {
                Some(v) => (Key::SysPlatform, v.to_string()),
                None => (key, value.to_string()),
            }
        };
        if value.contains('\'') {
            return None;
        }
        let new = match op {
            "==" => StrSet::Eq(value),
            "!=" => StrSet::NotIn(vec![value]),
            _ => return None,
        };
        match self.strings.iter_mut().find(|(k, _)| *k == key) {
            None => self.strings.push((key, new)),
            Some((_, existing)) => {
                *existing = match (existing.clone(), new) {
                    (StrSet::False, _) | (_, StrSet::False) => StrSet::False,
                    (StrSet::Eq(a), StrSet::Eq(b)) => {
                        if a == b {
                            StrSet::Eq(a)
                        } else {
                            StrSet::False
                        }
                    }
                    (StrSet::Eq(a), StrSet::NotIn(s)) | (StrSet::NotIn(s), StrSet::Eq(a)) => {
                        if s.contains(&a) {
                            StrSet::False
                        } else {
                            StrSet::Eq(a)
                        }
                    }
                    (StrSet::NotIn(mut a), StrSet::NotIn(b)) => {
                        a.extend(b);
                        a.sort();
                        a.dedup();
                        StrSet::NotIn(a)
                    }
                }
            }
        }
        Some(())
    }

    /// The printed terms of the conjunction, sorted by kind: `Some(Ok(terms))` (empty when
    /// always true), `Some(Err(()))` when contradictory, `None` when uv's output for it is
    /// not reproduced.
    fn print(&self) -> Option<Result<Vec<String>, ()>> {
        let mut terms: Vec<(Key, Vec<String>)> = Vec::new();
        for (key, range) in &self.versions {
            if range.0.is_empty() {
                return Some(Err(()));
            }
            if range.is_full() {
                continue;
            }
            terms.push((*key, print_range(*key, range)?));
        }
        for (key, set) in &self.strings {
            let printed = match set {
                StrSet::False => return Some(Err(())),
                StrSet::Eq(v) => vec![format!("{} == '{v}'", key.name())],
                StrSet::NotIn(vs) => vs
                    .iter()
                    .map(|v| format!("{} != '{v}'", key.name()))
                    .collect(),
            };
            terms.push((*key, printed));
        }
        terms.sort_by_key(|(k, _)| *k);
        Some(Ok(terms.into_iter().flat_map(|(_, t)| t).collect()))
    }
}

fn flatten_and(e: &Expr, out: &mut Vec<(Key, bool, String, String)>) -> bool {
    match e {
        Expr::Cmp(k, pv, op, v) => {
            out.push((*k, *pv, op.clone(), v.clone()));
            true
        }
        Expr::And(items) => items.iter().all(|i| flatten_and(i, out)),
        Expr::Or(_) => false,
    }
}

/// The marker of a `Requires-Dist` line as uv_build writes it: `marker` (the text after
/// `;`, if any) and-ed with `extra == '<extra>'` (if any). `Ok(None)`: no marker.
///
/// Errors: [`Error::Invalid`] for a marker that does not parse (naming the requirement);
/// [`Error::Unsupported`] for a marker outside the reproduced subset (see the module docs).
pub(crate) fn uv_marker(
    req: &str,
    marker: Option<&str>,
    extra: Option<&str>,
) -> Result<Option<String>> {
    let unsupported = || {
        Error::unsupported(format!(
            "the marker of requirement `{req}`: uv_build rewrites markers through uv's marker algebra, which this builder reproduces for conjunctions (and `==` alternatives of one string variable) only"
        ))
    };
    let expr = match marker.map(str::trim).filter(|m| !m.is_empty()) {
        None => None,
        Some(m) => {
            let toks = tokenize(m).map_err(|e| {
                Error::invalid(format!("invalid marker in requirement `{req}`: {e}"))
            })?;
            let mut p = Parser { toks, pos: 0 };
            let e = p.or().map_err(|e| {
                Error::invalid(format!("invalid marker in requirement `{req}`: {e}"))
            })?;
            if p.pos != p.toks.len() {
                return Err(Error::invalid(format!(
                    "invalid marker in requirement `{req}`: unexpected text after the marker"
                )));
            }
            Some(e)
        }
    };
    // The conjunctions (DNF) before simplification.
    let mut clauses: Vec<Vec<(Key, bool, String, String)>> = Vec::new();
    match &expr {
        None => clauses.push(Vec::new()),
        Some(Expr::Or(items)) => {
            // Only `key == 'a' or key == 'b' …` of one string variable.
            let mut values = Vec::new();
            let mut key = None;
            for item in items {
                match item {
                    Expr::Cmp(k, false, op, v)
                        if op == "==" && !k.is_version() && *k != Key::Extra =>
                    {
                        if key.is_some_and(|x| x != *k) {
                            return Err(unsupported());
                        }
                        key = Some(*k);
                        values.push(v.clone());
                    }
                    _ => return Err(unsupported()),
                }
            }
            values.sort();
            values.dedup();
            let key = key.ok_or_else(unsupported)?;
            for v in values {
                clauses.push(vec![(key, false, "==".to_string(), v)]);
            }
        }
        Some(e) => {
            let mut atoms = Vec::new();
            if !flatten_and(e, &mut atoms) {
                return Err(unsupported());
            }
            clauses.push(atoms);
        }
    }
    let mut printed = Vec::new();
    for atoms in clauses {
        let mut clause = Clause::default();
        for (k, pv, op, v) in &atoms {
            clause.add(*k, *pv, op, v).ok_or_else(unsupported)?;
        }
        if let Some(extra) = extra {
            clause
                .add(Key::Extra, false, "==", extra)
                .ok_or_else(unsupported)?;
        }
        match clause.print().ok_or_else(unsupported)? {
            Err(()) => {}
            Ok(terms) => printed.push(terms),
        }
    }
    match printed.as_slice() {
        [] => Ok(Some("python_version < '0'".to_string())),
        [one] if one.is_empty() => Ok(None),
        [one] => Ok(Some(one.join(" and "))),
        many => {
            if many.iter().any(Vec::is_empty) {
                return Ok(None);
            }
            Ok(Some(
                many.iter()
                    .map(|c| {
                        if c.len() == 1 {
                            c[0].clone()
                        } else {
                            format!("({})", c.join(" and "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" or "),
            ))
        }
    }
}

/// A PEP 508 requirement as uv_build 0.9 writes it in `Requires-Dist` (`uv-pep508`'s
/// `Requirement` display): the name normalised (PEP 503), `[extras]` normalised (PEP 685) in
/// the order written and joined by `,`, each version specifier as `{op}{normalised
/// version}` joined by `,` (parentheses dropped), or ` @ {url}` as written, then ` ; {marker}`
/// per [`uv_marker`] with `extra` (the optional-dependencies group, normalised) added.
///
/// Errors: [`Error::Invalid`] naming the requirement when it does not parse;
/// [`Error::Unsupported`] for markers outside the reproduced subset.
pub(crate) fn uv_requirement(req: &str, extra: Option<&str>) -> Result<String> {
    let invalid = |why: &str| Error::invalid(format!("invalid requirement `{req}`: {why}"));
    let s = req.trim();
    let name_end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || "-_.".contains(c)))
        .unwrap_or(s.len());
    let name = &s[..name_end];
    if !is_valid_name(name) {
        return Err(invalid("no valid project name at the start"));
    }
    let mut out = normalize_name(name);
    let mut rest = s[name_end..].trim_start();
    if let Some(r) = rest.strip_prefix('[') {
        let end = r.find(']').ok_or_else(|| invalid("unclosed `[`"))?;
        let extras: Vec<String> = r[..end]
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(normalize_name)
            .collect();
        if !extras.is_empty() {
            out.push_str(&format!("[{}]", extras.join(",")));
        }
        rest = r[end + 1..].trim_start();
    }
    let marker;
    if let Some(u) = rest.strip_prefix('@') {
        let u = u.trim_start();
        let url_end = u.find(char::is_whitespace).unwrap_or(u.len());
        let (url, after) = (&u[..url_end], u[url_end..].trim_start());
        if url.is_empty() {
            return Err(invalid("empty URL after `@`"));
        }
        out.push_str(&format!(" @ {url}"));
        marker = match after.strip_prefix(';') {
            Some(m) => Some(m),
            None if after.is_empty() => None,
            None => return Err(invalid("unexpected text after the URL")),
        };
    } else {
        let (spec, m) = match rest.split_once(';') {
            Some((a, b)) => (a.trim(), Some(b)),
            None => (rest.trim(), None),
        };
        marker = m;
        let spec = spec
            .strip_prefix('(')
            .and_then(|x| x.strip_suffix(')'))
            .unwrap_or(spec)
            .trim();
        if !spec.is_empty() {
            let mut parts = Vec::new();
            for p in spec.split(',') {
                let p: String = p.split_whitespace().collect();
                let parsed = pep440_rs::VersionSpecifier::from_str(&p)
                    .map_err(|e| invalid(&format!("version specifier `{p}`: {e}")))?;
                parts.push(parsed.to_string());
            }
            out.push_str(&parts.join(","));
        }
    }
    if let Some(m) = uv_marker(req, marker, extra)? {
        out.push_str(&format!(" ; {m}"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(req: &str, extra: Option<&str>) -> String {
        uv_requirement(req, extra).unwrap()
    }

    #[test]
    fn requirements_print_like_uv_pep508() {
        assert_eq!(r("Requests >= 2.0, <3", None), "requests>=2.0,<3");
        assert_eq!(
            r("tomli>=2 ; python_version < '3.11'", None),
            "tomli>=2 ; python_full_version < '3.11'"
        );
        assert_eq!(
            r(
                "foo[Bar_X,baz]==1.0.*; sys_platform != 'win32' and sys_platform != 'cygwin'",
                None
            ),
            "foo[bar-x,baz]==1.0.* ; sys_platform != 'cygwin' and sys_platform != 'win32'"
        );
        assert_eq!(
            r("pytest (>=8)", Some("Dev_Tools")),
            "pytest>=8 ; extra == 'dev-tools'"
        );
        assert_eq!(
            r("cov; python_version >= '3.10'", Some("dev")),
            "cov ; python_full_version >= '3.10' and extra == 'dev'"
        );
        assert_eq!(
            r("x; python_version == '3.8'", None),
            "x ; python_full_version == '3.8.*'"
        );
        assert_eq!(
            r(
                "x; python_version > '3.8' and python_version <= '3.10'",
                None
            ),
            "x ; python_full_version >= '3.9' and python_full_version < '3.11'"
        );
        assert_eq!(
            r(
                "x; python_version >= '3.8' and python_version < '3.9'",
                None
            ),
            "x ; python_full_version == '3.8.*'"
        );
        assert_eq!(
            r("x; python_version != '3.8'", None),
            "x ; python_full_version != '3.8.*'"
        );
        assert_eq!(
            r(
                "x; extra == 'a' and os.name == 'nt' and python_version < '3.9'",
                None
            ),
            "x ; python_full_version < '3.9' and os_name == 'nt' and extra == 'a'"
        );
        assert_eq!(
            r(
                "x; sys_platform == 'win32' or sys_platform == 'cygwin'",
                Some("e")
            ),
            "x ; (sys_platform == 'cygwin' and extra == 'e') or (sys_platform == 'win32' and extra == 'e')"
        );
        assert_eq!(
            r("pkg @ https://x/y.whl ; os_name=='nt'", None),
            "pkg @ https://x/y.whl ; os_name == 'nt'"
        );
        assert_eq!(
            r(
                "x; python_version < '3.8' and python_version >= '3.9'",
                None
            ),
            "x ; python_version < '0'"
        );
        assert!(matches!(
            uv_requirement("x; python_version < '3.8' or os_name == 'nt'", None),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            uv_requirement(">=1", None),
            Err(Error::Invalid(_))
        ));
    }
}
