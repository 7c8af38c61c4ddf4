//! The common project model: `pyproject.toml`'s [PEP 621] `[project]` table and the
//! backends' `[tool.*]` tables read into serde structs, shared by hatchling ([`crate::project`]),
//! flit_core ([`crate::flit`]) and uv_build ([`crate::uvbuild`]).
//!
//! This module only checks shapes (a string, a list of strings, a table, ...); a wrong shape
//! is an [`Error::Invalid`] naming the field path, e.g. "field `project.authors[0].name`:
//! invalid type: integer `1`, expected a string". What a value means (normalisation,
//! required fields, what a backend refuses) is each backend's, in its own module.
//!
//! [PEP 621]: https://peps.python.org/pep-0621/

use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{DeserializeOwned, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use toml::{Table, Value};

use crate::error::{Error, Result};

/// Deserializes `value`, the TOML found at the dotted `path` (e.g. `tool.uv.build-backend`),
/// into `T`. Errors: [`Error::Invalid`] "field `PATH`: WHAT", the path running down to the
/// offending value (`project.authors[0].name`; list indices count from 0).
pub(crate) fn parse_at<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T> {
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let inner = e.path().to_string();
        let field = match inner.as_str() {
            "." => path.to_string(),
            i if i.starts_with('[') => format!("{path}{i}"),
            i => format!("{path}.{i}"),
        };
        Error::invalid(format!(
            "field `{field}`: {}",
            e.into_inner().message().trim()
        ))
    })
}

/// The table at `path` under the document (`["tool", "uv", "build-backend"]`) read as `T`
/// with [`parse_at`], or `T::default()` when it is absent (or a parent is not a table).
pub(crate) fn tool_table<T: DeserializeOwned + Default>(doc: &Table, path: &[&str]) -> Result<T> {
    let mut cur = doc.get(path[0]);
    for key in &path[1..] {
        cur = cur.and_then(|v| v.get(key));
    }
    match cur {
        Some(v) => parse_at(v, &path.join(".")),
        None => Ok(T::default()),
    }
}

/// `[project]` as written, every field optional (the backends say which are required).
/// Unknown keys are ignored, as all three backends ignore them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct ProjectTable {
    /// `name`.
    pub name: Option<String>,
    /// `version`.
    pub version: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `readme`: a file path, or a table.
    pub readme: Option<StrOrTable<ReadmeTable>>,
    /// `requires-python`.
    pub requires_python: Option<String>,
    /// `license`: an SPDX expression (PEP 639), or a legacy table.
    pub license: Option<StrOrTable<LicenseTable>>,
    /// `license-files`: a list of globs (PEP 639), or hatchling's draft table.
    pub license_files: Option<ListOrTable<LicenseFilesTable>>,
    /// `authors`.
    pub authors: Option<Vec<Contact>>,
    /// `maintainers`.
    pub maintainers: Option<Vec<Contact>>,
    /// `keywords`.
    pub keywords: Option<Vec<String>>,
    /// `classifiers`.
    pub classifiers: Option<Vec<String>>,
    /// `urls`: (label, url) in file order.
    pub urls: Option<Entries<String>>,
    /// `dependencies`.
    pub dependencies: Option<Vec<String>>,
    /// `optional-dependencies`: (extra as written, requirements) in file order.
    pub optional_dependencies: Option<Entries<Vec<String>>>,
    /// `scripts`: (name, object reference) in file order.
    pub scripts: Option<Entries<String>>,
    /// `gui-scripts`.
    pub gui_scripts: Option<Entries<String>>,
    /// `entry-points`: (group, entries) in file order.
    pub entry_points: Option<Entries<Entries<String>>>,
    /// `dynamic`.
    pub dynamic: Option<Vec<String>>,
}

impl ProjectTable {
    /// Reads the document's `[project]` table ([`project_fields`]).
    pub fn from_doc(doc: &Table) -> Result<ProjectTable> {
        project_fields(doc)
    }

    /// `dynamic`, empty when absent.
    pub fn dynamic(&self) -> &[String] {
        self.dynamic.as_deref().unwrap_or_default()
    }
}

/// The document's `[project]` table read as `T` (all of it, [`ProjectTable`], or the few
/// fields a caller needs). Errors: no `[project]` table, or a field of the wrong shape.
pub(crate) fn project_fields<T: DeserializeOwned>(doc: &Table) -> Result<T> {
    match doc.get("project") {
        Some(v @ Value::Table(_)) => parse_at(v, "project"),
        Some(_) => Err(Error::invalid("`project` must be a table")),
        None => Err(Error::invalid(
            "pyproject.toml has no [project] table (PEP 621 metadata is required)",
        )),
    }
}

/// A `[project.readme]` table.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) struct ReadmeTable {
    /// `content-type`.
    pub content_type: Option<String>,
    /// `file`.
    pub file: Option<String>,
    /// `text`.
    pub text: Option<String>,
    /// `charset` (only uv_build reads it).
    pub charset: Option<String>,
}

/// A `[project.license]` table (the pre-PEP 639 form).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct LicenseTable {
    /// `file`.
    pub file: Option<String>,
    /// `text`.
    pub text: Option<String>,
}

/// hatchling's `license-files` table of the PEP 639 draft: `globs` (or `paths`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct LicenseFilesTable {
    /// `globs`.
    pub globs: Option<Vec<String>>,
    /// `paths`.
    pub paths: Option<Vec<String>>,
}

/// A `project.authors` / `project.maintainers` entry.
#[derive(Debug, Clone, Default)]
pub(crate) struct Contact {
    /// `name`.
    pub name: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// Whether the table has keys other than `name` and `email` (uv_build refuses them).
    pub other_keys: bool,
}

impl<'de> Deserialize<'de> for Contact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Contact;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table with `name` and/or `email`")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Contact, A::Error> {
                let mut c = Contact::default();
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "name" => c.name = Some(map.next_value()?),
                        "email" => c.email = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                            c.other_keys = true;
                        }
                    }
                }
                Ok(c)
            }
        }
        d.deserialize_map(V)
    }
}

/// Entry point groups as the backends resolve them: (group, (name, object reference)).
pub(crate) type EntryPointGroups = Vec<(String, Vec<(String, String)>)>;

/// A TOML table read as (key, value) pairs in file order (`toml`'s `preserve_order`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entries<T>(pub Vec<(String, T)>);

impl<T> Default for Entries<T> {
    fn default() -> Self {
        Entries(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a table")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Entries<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

/// A value that is either a string or a table `T` (`project.readme`, `project.license`).
#[derive(Debug, Clone)]
pub(crate) enum StrOrTable<T> {
    /// The string form.
    Str(String),
    /// The table form.
    Table(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for StrOrTable<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = StrOrTable<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a table")
            }
            fn visit_str<E: serde::de::Error>(
                self,
                s: &str,
            ) -> std::result::Result<Self::Value, E> {
                Ok(StrOrTable::Str(s.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(StrOrTable::Table)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A value that is either a list of strings or a table `T` (hatchling's `license-files`
/// and `sources`).
#[derive(Debug, Clone)]
pub(crate) enum ListOrTable<T> {
    /// The list form.
    List(Vec<String>),
    /// The table form.
    Table(T),
}

impl<T> ListOrTable<T> {
    /// The list, or [`Error::Invalid`] "field `FIELD` must be an array" for the table form
    /// (flit_core's and uv_build's `license-files`).
    pub fn list(&self, field: &str) -> Result<&[String]> {
        match self {
            ListOrTable::List(l) => Ok(l),
            ListOrTable::Table(_) => {
                Err(Error::invalid(format!("field `{field}` must be an array")))
            }
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ListOrTable<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = ListOrTable<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of strings or a table")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                Vec::deserialize(SeqAccessDeserializer::new(seq)).map(ListOrTable::List)
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(ListOrTable::Table)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A string or a list of strings, as a list (uv_build's `module-name`).
pub(crate) fn one_or_many<'de, D: Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<Vec<String>>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or a list of strings")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> std::result::Result<Self::Value, E> {
            Ok(vec![s.to_string()])
        }
        fn visit_seq<A: SeqAccess<'de>>(
            self,
            seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            Vec::deserialize(SeqAccessDeserializer::new(seq))
        }
    }
    d.deserialize_any(V).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err<T: DeserializeOwned + std::fmt::Debug>(toml: &str, path: &str) -> String {
        let v: Value = Value::Table(toml.parse().unwrap());
        parse_at::<T>(&v, path).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_field_path() {
        assert_eq!(
            err::<ProjectTable>("authors = [{ name = 1 }]", "project"),
            "field `project.authors[0].name`: invalid type: integer `1`, expected a string"
        );
        assert_eq!(
            err::<ProjectTable>("readme = 1", "project"),
            "field `project.readme`: invalid type: integer `1`, expected a string or a table"
        );
        assert_eq!(
            err::<ProjectTable>("entry-points = { a = { b = 1 } }", "project"),
            "field `project.entry-points.a.b`: invalid type: integer `1`, expected a string"
        );
        assert_eq!(
            err::<crate::uvbuild::Settings>("module-root = 1", "tool.uv.build-backend"),
            "field `tool.uv.build-backend.module-root`: invalid type: integer `1`, expected a string"
        );
        assert_eq!(
            err::<crate::uvbuild::Settings>("data = { foo = \"x\" }", "tool.uv.build-backend"),
            "field `tool.uv.build-backend.data.foo`: unknown field `foo`, expected one of \
             `purelib`, `platlib`, `headers`, `scripts`, `data`"
        );
    }

    #[test]
    fn tables_keep_file_order_and_shapes() {
        let v = Value::Table(
            "readme = { file = \"a\", charset = \"x\" }\nurls = { b = \"1\", a = \"2\" }\n\
             authors = [{ name = \"n\", x = 1 }]\nlicense-files = [\"L*\"]"
                .parse()
                .unwrap(),
        );
        let p: ProjectTable = parse_at(&v, "project").unwrap();
        let urls = p.urls.unwrap().0;
        assert_eq!(urls[0].0, "b");
        assert!(matches!(
            p.readme,
            Some(StrOrTable::Table(ReadmeTable {
                charset: Some(_),
                ..
            }))
        ));
        assert!(p.authors.unwrap()[0].other_keys);
        assert_eq!(p.license_files.unwrap().list("f").unwrap(), ["L*"]);
    }
}
