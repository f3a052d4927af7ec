//! The `path` of an operation: a small tokenizer and recursive-descent parser of the ROR's
//! `Location.extension.where(url=...).where(...)` selectors.

#[allow(unused_imports)]
use super::*;

/// Why a `path` is not a capacity selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid capacity selector at byte {offset}: {message}")]
pub(crate) struct SelectorError {
    /// Byte offset in the `path` string where the problem was found.
    pub(crate) offset: usize,
    /// What was expected, lowercase English.
    pub(crate) message: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Token<'a> {
    Identifier(&'a str),
    Text(String),
    Number(&'a str),
    Dot,
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Equals,
    End,
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Identifier(name) => write!(formatter, "`{name}`"),
            Token::Text(text) => write!(formatter, "the string '{text}'"),
            Token::Number(number) => write!(formatter, "`{number}`"),
            Token::Dot => formatter.write_str("`.`"),
            Token::Open => formatter.write_str("`(`"),
            Token::Close => formatter.write_str("`)`"),
            Token::OpenBracket => formatter.write_str("`[`"),
            Token::CloseBracket => formatter.write_str("`]`"),
            Token::Equals => formatter.write_str("`=`"),
            Token::End => formatter.write_str("the end of the path"),
        }
    }
}

/// Splits a selector into tokens: identifiers, quoted strings (`'…'` or `"…"`, FHIRPath escapes
/// `\'`, `\"`, `\\`, `\/`), integers, `.`, `(`, `)`, `[`, `]`, `=`. Whitespace separates tokens.
pub(super) fn tokenize(path: &str) -> Result<Vec<(Token<'_>, usize)>, SelectorError> {
    let bytes = path.as_bytes();
    let mut tokens = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        let start = at;
        let single = match byte {
            b'.' => Some(Token::Dot),
            b'(' => Some(Token::Open),
            b')' => Some(Token::Close),
            b'[' => Some(Token::OpenBracket),
            b']' => Some(Token::CloseBracket),
            b'=' => Some(Token::Equals),
            _ => None,
        };
        if let Some(token) = single {
            tokens.push((token, start));
            at += 1;
        } else if byte.is_ascii_whitespace() {
            at += 1;
        } else if byte.is_ascii_alphabetic() || byte == b'_' {
            while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
                at += 1;
            }
            tokens.push((Token::Identifier(&path[start..at]), start));
        } else if byte.is_ascii_digit() {
            while at < bytes.len() && bytes[at].is_ascii_digit() {
                at += 1;
            }
            tokens.push((Token::Number(&path[start..at]), start));
        } else if byte == b'\'' || byte == b'"' {
            let quote = byte;
            let mut text = String::new();
            at += 1;
            loop {
                let Some(&next) = bytes.get(at) else {
                    return Err(SelectorError { offset: start, message: "unterminated string".into() });
                };
                if next == quote {
                    at += 1;
                    break;
                }
                if next == b'\\' {
                    let escaped = match bytes.get(at + 1) {
                        Some(b'\'') => '\'',
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        _ => {
                            return Err(SelectorError {
                                offset: at,
                                message: "unsupported escape in a string (only \\' \\\" \\\\ \\/)".into(),
                            });
                        }
                    };
                    text.push(escaped);
                    at += 2;
                    continue;
                }
                // `at` is on a char boundary: quotes and backslashes are ASCII.
                let character = path[at..].chars().next().unwrap_or('\u{fffd}');
                text.push(character);
                at += character.len_utf8();
            }
            tokens.push((Token::Text(text), start));
        } else {
            let character = path[at..].chars().next().unwrap_or('\u{fffd}');
            let hint = match character {
                '!' | '<' | '>' | '~' => " (only `=` comparisons are supported)",
                '|' => " (unions are not supported)",
                _ => "",
            };
            return Err(SelectorError { offset: start, message: format!("unexpected character `{character}`{hint}") });
        }
    }
    tokens.push((Token::End, bytes.len()));
    Ok(tokens)
}

/// Recursive-descent parser over the tokens of one selector.
pub(super) struct SelectorParser<'a> {
    tokens: Vec<(Token<'a>, usize)>,
    position: usize,
}

/// One `url = '…'` or `value… = '…'` comparison inside a clause.
pub(super) enum Comparison {
    Url { name: String, offset: usize },
    Code { code: String, offset: usize },
}

impl<'a> SelectorParser<'a> {
    fn peek(&self) -> &Token<'a> {
        &self.tokens[self.position].0
    }

    fn offset(&self) -> usize {
        self.tokens[self.position].1
    }

    fn advance(&mut self) -> (Token<'a>, usize) {
        let token = self.tokens[self.position].clone();
        if self.position + 1 < self.tokens.len() {
            self.position += 1;
        }
        token
    }

    fn error<T>(&self, message: String) -> Result<T, SelectorError> {
        Err(SelectorError { offset: self.offset(), message })
    }

    fn expect(&mut self, expected: Token<'static>) -> Result<(), SelectorError> {
        if *self.peek() == expected {
            self.advance();
            Ok(())
        } else {
            self.error(format!("expected {expected}, found {}", self.peek()))
        }
    }

    fn keyword(&mut self, name: &str) -> Result<(), SelectorError> {
        match self.peek() {
            Token::Identifier(found) if *found == name => {
                self.advance();
                Ok(())
            }
            found => self.error(format!("expected `{name}`, found {found}")),
        }
    }

    fn text(&mut self) -> Result<(String, usize), SelectorError> {
        match self.advance() {
            (Token::Text(text), offset) => Ok((text, offset)),
            (found, offset) => {
                Err(SelectorError { offset, message: format!("expected a quoted string, found {found}") })
            }
        }
    }

    /// `Location.extension.where(url = '<capacity>') [ .where( clause (and clause)* ) ]`
    fn selector(&mut self) -> Result<Selector, SelectorError> {
        self.keyword("Location")?;
        self.expect(Token::Dot)?;
        self.keyword("extension")?;
        self.expect(Token::Dot)?;
        self.keyword("where")?;
        self.expect(Token::Open)?;
        self.keyword("url")?;
        self.expect(Token::Equals)?;
        let (url, offset) = self.text()?;
        if !is_capacity_extension_url(&url) {
            return Err(SelectorError {
                offset,
                message: format!("the path must select the extension '{CAPACITY_EXTENSION_URL}', not '{url}'"),
            });
        }
        self.expect(Token::Close)?;
        if *self.peek() == Token::End {
            return Ok(Selector::Collection);
        }
        self.expect(Token::Dot)?;
        self.keyword("where")?;
        self.expect(Token::Open)?;
        let mut criteria = RecordCriteria::default();
        loop {
            self.clause(&mut criteria)?;
            match self.peek() {
                Token::Identifier("and") => {
                    self.advance();
                }
                Token::Identifier("or" | "xor" | "implies") => {
                    return self.error(format!("only `and` may join the clauses, found {}", self.peek()));
                }
                _ => break,
            }
        }
        self.expect(Token::Close)?;
        if *self.peek() != Token::End {
            return self.error(format!("expected the end of the path, found {}", self.peek()));
        }
        Ok(Selector::Record(criteria))
    }

    /// `extension.where( comparison and comparison )`, one url and one code, in either order.
    fn clause(&mut self, criteria: &mut RecordCriteria) -> Result<(), SelectorError> {
        let clause_offset = self.offset();
        self.keyword("extension")?;
        self.expect(Token::Dot)?;
        self.keyword("where")?;
        self.expect(Token::Open)?;
        let first = self.comparison()?;
        match self.peek() {
            Token::Identifier("and") => {
                self.advance();
            }
            found => return self.error(format!("expected `and` between `url` and the code, found {found}")),
        }
        let second = self.comparison()?;
        self.expect(Token::Close)?;
        let ((name, name_offset), (code, code_offset)) = match (first, second) {
            (Comparison::Url { name, offset }, Comparison::Code { code, offset: code_offset })
            | (Comparison::Code { code, offset: code_offset }, Comparison::Url { name, offset }) => {
                ((name, offset), (code, code_offset))
            }
            (Comparison::Url { .. }, Comparison::Url { .. }) => {
                return Err(SelectorError { offset: clause_offset, message: "a clause compares `url` twice".into() });
            }
            (Comparison::Code { .. }, Comparison::Code { .. }) => {
                return Err(SelectorError {
                    offset: clause_offset,
                    message: "a clause has no `url` comparison".into(),
                });
            }
        };
        let Some(field) = CapacityField::from_url(&name) else {
            return Err(SelectorError {
                offset: name_offset,
                message: format!("unknown capacity sub-extension '{name}'"),
            });
        };
        let Some(slot) = criteria.slot(field) else {
            return Err(SelectorError {
                offset: name_offset,
                message: format!(
                    "'{name}' cannot select a record; use the indicator fields capacityStatus, temporalityCapacity, \
                     genderCapacityAvailable, temporaryAssignement, capacityClosingType, additionalBedType, crisisType"
                ),
            });
        };
        if slot.is_some() {
            return Err(SelectorError { offset: name_offset, message: format!("'{name}' is compared twice") });
        }
        if code.is_empty() || code.chars().any(char::is_whitespace) {
            return Err(SelectorError { offset: code_offset, message: format!("invalid code '{code}' for '{name}'") });
        }
        *slot = Some(Code::from(code));
        Ok(())
    }

    /// `url = '…'`, or `valueCodeableConcept.coding[0]?.code = '…'`, `valueCoding.code = '…'`,
    /// `valueCode = '…'`.
    fn comparison(&mut self) -> Result<Comparison, SelectorError> {
        let offset = self.offset();
        match self.advance().0 {
            Token::Identifier("url") => {
                self.expect(Token::Equals)?;
                let (name, offset) = self.text()?;
                Ok(Comparison::Url { name, offset })
            }
            Token::Identifier("valueCode") => self.code_comparison(),
            Token::Identifier("valueCoding") => {
                self.expect(Token::Dot)?;
                self.keyword("code")?;
                self.code_comparison()
            }
            Token::Identifier("valueCodeableConcept") => {
                self.expect(Token::Dot)?;
                self.keyword("coding")?;
                if *self.peek() == Token::OpenBracket {
                    self.advance();
                    self.expect(Token::Number("0"))?;
                    self.expect(Token::CloseBracket)?;
                }
                self.expect(Token::Dot)?;
                self.keyword("code")?;
                self.code_comparison()
            }
            found => Err(SelectorError {
                offset,
                message: format!(
                    "expected `url`, `valueCodeableConcept.coding.code`, `valueCoding.code` or `valueCode`, found {found}"
                ),
            }),
        }
    }

    fn code_comparison(&mut self) -> Result<Comparison, SelectorError> {
        self.expect(Token::Equals)?;
        let (code, offset) = self.text()?;
        Ok(Comparison::Code { code, offset })
    }
}

/// Parses a capacity PATCH `path` into a [`Selector`].
///
/// Grammar (whitespace free between tokens, strings in `'…'` or `"…"`):
///
/// ```text
/// path       = "Location" "." "extension" "." "where" "(" "url" "=" STRING ")"
///              [ "." "where" "(" clause { "and" clause } ")" ]
/// clause     = "extension" "." "where" "(" comparison "and" comparison ")"   ; one url, one code
/// comparison = "url" "=" STRING
///            | ( "valueCodeableConcept" "." "coding" [ "[" "0" "]" ] "." "code"
///              | "valueCoding" "." "code" | "valueCode" ) "=" STRING
/// ```
///
/// The first STRING must be the capacity extension's URL ([`is_capacity_extension_url`]). A
/// clause's url names a tuple field ([`CapacityField::TUPLE`]): the four of the DOC
/// (`capacityStatus`, `temporalityCapacity`, `genderCapacityAvailable`, `temporaryAssignement`)
/// and the three optional ones (`capacityClosingType`, `additionalBedType`, `crisisType`), which
/// crisis indicators need; each at most once, in any order.
///
/// # Examples
///
/// ```text
/// use ror_search::live::patch::{Selector, parse_selector};
///
/// let path = "Location.extension.where(url='https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/ror-location-supported-capacity')\
///             .where(extension.where(url = 'capacityStatus' and valueCode = '02'))";
/// let Ok(Selector::Record(criteria)) = parse_selector(path) else { panic!() };
/// assert_eq!(criteria.status.as_deref(), Some("02"));
/// assert!(parse_selector("Location.extension").is_err());
/// ```
pub(crate) fn parse_selector(path: &str) -> Result<Selector, SelectorError> {
    let tokens = tokenize(path)?;
    SelectorParser { tokens, position: 0 }.selector()
}
