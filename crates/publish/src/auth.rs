//! API-token authentication (the authenticate stage's `mode = "token"`).

use std::env::VarError;

use airlock_stage::{Category, StageError};

/// Checks the API token read from environment variable `var` (`value` is what
/// `std::env::var(var)` returned) and returns it trimmed, with warnings for a person.
///
/// Errors: [`Category::Authentication`] when the variable is unset (in the sandbox: also
/// when not granted) or blank; [`Category::Validation`] when it is not UTF-8. Warnings: the
/// value had surrounding whitespace; it does not start with `pypi-` (fine for private
/// indexes, whose passwords are anything). Messages never contain the value.
pub fn check_token(
    var: &str,
    value: Result<String, VarError>,
) -> Result<(String, Vec<String>), StageError> {
    let hint = format!(
        "set {var} in the environment of `airlock run` (e.g. from a CI secret) and grant it to this stage: \
         [stage.grants] env = [\"{var}\"]"
    );
    let raw = match value {
        Ok(v) => v,
        Err(VarError::NotPresent) => {
            return Err(StageError::new(
                Category::Authentication,
                format!("environment variable {var} is not set or not granted to this stage"),
            )
            .with_hint(hint));
        }
        Err(VarError::NotUnicode(_)) => {
            return Err(StageError::validation(format!(
                "environment variable {var} is not valid UTF-8"
            ))
            .with_hint(format!("set {var} to the token text")));
        }
    };
    let token = raw.trim();
    if token.is_empty() {
        return Err(StageError::new(
            Category::Authentication,
            format!("environment variable {var} is empty"),
        )
        .with_hint(hint));
    }
    let mut warnings = Vec::new();
    if token.len() != raw.len() {
        warnings.push(format!(
            "{var} had leading or trailing whitespace; it was trimmed"
        ));
    }
    if !token.starts_with("pypi-") {
        warnings.push(format!(
            "{var} does not look like a PyPI API token (they start with \"pypi-\"); fine for a private index's password"
        ));
    }
    Ok((token.to_string(), warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_without_echoing_them() {
        let (t, w) = check_token("PYPI_TOKEN", Ok("pypi-AgEIcHlwaS5vcmc\n".into())).unwrap();
        assert_eq!(t, "pypi-AgEIcHlwaS5vcmc");
        assert_eq!(w.len(), 1);
        let (_, w) = check_token("T", Ok("hunter2".into())).unwrap();
        assert!(w[0].contains("does not look like") && !w[0].contains("hunter2"));
        let e = check_token("PYPI_TOKEN", Err(VarError::NotPresent)).unwrap_err();
        assert_eq!(e.category, Category::Authentication);
        assert!(e.hint.unwrap().contains("grants"));
        let e = check_token("PYPI_TOKEN", Ok("  ".into())).unwrap_err();
        assert!(e.message.contains("empty"));
    }
}
