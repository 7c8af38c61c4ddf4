//! The [PEP 508] environment-marker tokenizer shared by [`crate::metadata`] (hatchling's
//! `Requires-Dist` normalisation) and [`crate::uvbuild`] (uv's marker algebra).
//!
//! [PEP 508]: https://peps.python.org/pep-0508/#environment-markers

/// A [PEP 508] marker token.
///
/// [PEP 508]: https://peps.python.org/pep-0508/#environment-markers
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// `(`.
    Open,
    /// `)`.
    Close,
    /// The keyword `and`.
    And,
    /// The keyword `or`.
    Or,
    /// A comparison operator: a run of `<>=!~` (`==`, `>=`, `~=`, `===`, …), `in` or
    /// `not in`.
    Op(String),
    /// A variable name (`python_version`, `os.name`, …) as written, or any other bare word.
    Word(String),
    /// A quoted value, without its quotes.
    Str(String),
}

/// Splits a [PEP 508] marker into tokens. Bare words are runs of alphanumerics, `.` and `_`;
/// `not` followed by `in` is the one operator `not in`.
///
/// Errors: `unclosed quote` for a value missing its closing quote, ``unexpected character
/// `c` `` for a character that starts no token.
///
/// [PEP 508]: https://peps.python.org/pep-0508/#environment-markers
pub(crate) fn tokenize(m: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = m.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            toks.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            toks.push(Tok::Close);
            i += 1;
        } else if c == '"' || c == '\'' {
            let end = chars[i + 1..]
                .iter()
                .position(|x| *x == c)
                .ok_or("unclosed quote")?;
            toks.push(Tok::Str(chars[i + 1..i + 1 + end].iter().collect()));
            i += end + 2;
        } else if "<>=!~".contains(c) {
            let start = i;
            while i < chars.len() && "<>=!~".contains(chars[i]) {
                i += 1;
            }
            toks.push(Tok::Op(chars[start..i].iter().collect()));
        } else {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || "._".contains(chars[i])) {
                i += 1;
            }
            if start == i {
                return Err(format!("unexpected character `{c}`"));
            }
            let w: String = chars[start..i].iter().collect();
            match w.as_str() {
                "and" => toks.push(Tok::And),
                "or" => toks.push(Tok::Or),
                "in" if matches!(toks.last(), Some(Tok::Word(p)) if p == "not") => {
                    toks.pop();
                    toks.push(Tok::Op("not in".into()));
                }
                "in" => toks.push(Tok::Op("in".into())),
                _ => toks.push(Tok::Word(w)),
            }
        }
    }
    Ok(toks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(
            tokenize("(os.name=='nt' or x not in \"a b\") and y in 'z'").unwrap(),
            vec![
                Tok::Open,
                Tok::Word("os.name".into()),
                Tok::Op("==".into()),
                Tok::Str("nt".into()),
                Tok::Or,
                Tok::Word("x".into()),
                Tok::Op("not in".into()),
                Tok::Str("a b".into()),
                Tok::Close,
                Tok::And,
                Tok::Word("y".into()),
                Tok::Op("in".into()),
                Tok::Str("z".into()),
            ]
        );
        assert_eq!(tokenize("x == 'a").unwrap_err(), "unclosed quote");
        assert_eq!(
            tokenize("x == a-b").unwrap_err(),
            "unexpected character `-`"
        );
    }
}
