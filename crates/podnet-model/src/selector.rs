//! Kubernetes label selectors and field selectors: the string syntax of the
//! `labelSelector` and `fieldSelector` query parameters, the typed form of a
//! `metav1.LabelSelector`, and matching.
//!
//! Parsing, canonical strings and error messages follow Kubernetes'
//! apimachinery (`labels` and `fields` packages), so a client sees the same
//! answer from podnet as from a real API server.

use std::collections::BTreeMap;
use std::fmt;

use crate::names;

/// Why a selector could not be parsed or built. The messages are
/// Kubernetes' own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// One requirement of a label selector string is malformed or invalid.
    #[error("unable to parse requirement: {0}")]
    Requirement(String),
    /// A label selector string is malformed between requirements.
    #[error("{0}")]
    Syntax(String),
    /// A requirement built from a typed selector is invalid: Kubernetes'
    /// field errors (`key: Invalid value: ...`), aggregated.
    #[error("{0}")]
    InvalidRequirement(String),
    /// A typed selector expression names an operator other than In, NotIn,
    /// Exists and DoesNotExist.
    #[error("{0:?} is not a valid label selector operator")]
    UnknownOperator(String),
    /// A field selector term has no `=`, `==` or `!=`.
    #[error("invalid selector: '{selector}'; can't understand '{term}'")]
    FieldTerm { selector: String, term: String },
    /// A field selector value has a backslash not followed by `\`, `,` or `=`.
    #[error("invalid field selector: invalid escape sequence: {0}")]
    InvalidEscape(String),
    /// A field selector value has an unescaped `,` or `=` (Kubernetes prints
    /// the character's code point).
    #[error("invalid field selector: unescaped character in value: {}", u32::from(*.0))]
    UnescapedCharacter(char),
}

/// How a label requirement relates its key to its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    In,
    NotIn,
    Equals,
    DoubleEquals,
    NotEquals,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl Operator {
    /// The binary operators in the order Kubernetes lists them when a
    /// selector has something else where an operator belongs.
    const BINARY_NAMES: &'static str = "in, notin, =, ==, !=, gt, lt";
}

/// One `key op values` term of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    key: String,
    operator: Operator,
    values: Vec<String>,
}

/// Go's `%#v` rendering of a `[]string`, which Kubernetes puts in field
/// errors about requirement values.
fn go_string_slice(values: &[String]) -> String {
    if values.is_empty() {
        // Kubernetes copies the values with append(nil, ...), so an empty
        // list is a nil slice.
        return "[]string(nil)".to_string();
    }
    let quoted: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[]string{{{}}}", quoted.join(", "))
}

fn field_invalid(path: &str, value: &str, detail: &str) -> String {
    format!("{path}: Invalid value: {value}: {detail}")
}

/// Kubernetes' aggregate of error messages: one alone, several (deduplicated)
/// in brackets.
fn aggregate(messages: Vec<String>) -> String {
    let mut unique: Vec<String> = Vec::with_capacity(messages.len());
    for message in messages {
        if !unique.contains(&message) {
            unique.push(message);
        }
    }
    if unique.len() == 1 {
        unique.remove(0)
    } else {
        format!("[{}]", unique.join(", "))
    }
}

/// The key check of a parsed selector; Kubernetes reports it without a
/// field path, which prints as `<nil>`.
fn check_parsed_key(key: &str) -> Result<(), SelectorError> {
    let problems = names::qualified_name(key);
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SelectorError::Requirement(field_invalid(
            "<nil>",
            &format!("{key:?}"),
            &problems.join("; "),
        )))
    }
}

impl Requirement {
    /// Checks a requirement as Kubernetes' NewRequirement does; the error
    /// lists every problem as field errors under `key` and `values`.
    fn build(key: &str, operator: Operator, values: Vec<String>) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let key_problems = names::qualified_name(key);
        if !key_problems.is_empty() {
            problems.push(field_invalid(
                "key",
                &format!("{key:?}"),
                &key_problems.join("; "),
            ));
        }
        match operator {
            Operator::In | Operator::NotIn => {
                if values.is_empty() {
                    problems.push(field_invalid(
                        "values",
                        &go_string_slice(&values),
                        "for 'in', 'notin' operators, values set can't be empty",
                    ));
                }
            }
            Operator::Equals | Operator::DoubleEquals | Operator::NotEquals => {
                if values.len() != 1 {
                    problems.push(field_invalid(
                        "values",
                        &go_string_slice(&values),
                        "exact-match compatibility requires one single value",
                    ));
                }
            }
            Operator::Exists | Operator::DoesNotExist => {
                if !values.is_empty() {
                    problems.push(field_invalid(
                        "values",
                        &go_string_slice(&values),
                        "values set must be empty for exists and does not exist",
                    ));
                }
            }
            Operator::GreaterThan | Operator::LessThan => {
                if values.len() != 1 {
                    problems.push(field_invalid(
                        "values",
                        &go_string_slice(&values),
                        "for 'Gt', 'Lt' operators, exactly one value is required",
                    ));
                }
                for (i, value) in values.iter().enumerate() {
                    if value.parse::<i64>().is_err() {
                        problems.push(field_invalid(
                            &format!("values[{i}]"),
                            &format!("{value:?}"),
                            "for 'Gt', 'Lt' operators, the value must be an integer",
                        ));
                    }
                }
            }
        }
        for (i, value) in values.iter().enumerate() {
            let value_problems = names::label_value(value);
            if !value_problems.is_empty() {
                problems.push(field_invalid(
                    &format!("values[{i}][{key}]"),
                    &format!("{value:?}"),
                    &value_problems.join("; "),
                ));
            }
        }
        if problems.is_empty() {
            Ok(Requirement {
                key: key.to_string(),
                operator,
                values,
            })
        } else {
            Err(problems)
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    pub fn operator(&self) -> Operator {
        self.operator
    }

    /// The values as given (a parsed selector's are sorted and deduplicated).
    pub fn values(&self) -> &[String] {
        &self.values
    }

    fn has_value(&self, value: &str) -> bool {
        self.values.iter().any(|v| v == value)
    }

    /// Whether a label set satisfies this requirement. As in Kubernetes,
    /// `!=` and `notin` hold when the key is absent, and `>`/`<` need the
    /// label to be an integer.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let label = labels.get(&self.key);
        match self.operator {
            Operator::In | Operator::Equals | Operator::DoubleEquals => {
                label.is_some_and(|v| self.has_value(v))
            }
            Operator::NotIn | Operator::NotEquals => !label.is_some_and(|v| self.has_value(v)),
            Operator::Exists => label.is_some(),
            Operator::DoesNotExist => label.is_none(),
            Operator::GreaterThan | Operator::LessThan => {
                let (Some(label), [bound]) = (label, self.values.as_slice()) else {
                    return false;
                };
                let (Ok(label), Ok(bound)) = (label.parse::<i64>(), bound.parse::<i64>()) else {
                    return false;
                };
                if self.operator == Operator::GreaterThan {
                    label > bound
                } else {
                    label < bound
                }
            }
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.operator == Operator::DoesNotExist {
            f.write_str("!")?;
        }
        f.write_str(&self.key)?;
        let (op, parenthesized) = match self.operator {
            Operator::Exists | Operator::DoesNotExist => return Ok(()),
            Operator::Equals => ("=", false),
            Operator::DoubleEquals => ("==", false),
            Operator::NotEquals => ("!=", false),
            Operator::In => (" in ", true),
            Operator::NotIn => (" notin ", true),
            Operator::GreaterThan => (">", false),
            Operator::LessThan => ("<", false),
        };
        f.write_str(op)?;
        if parenthesized {
            f.write_str("(")?;
        }
        let mut values: Vec<&str> = self.values.iter().map(String::as_str).collect();
        values.sort_unstable();
        f.write_str(&values.join(","))?;
        if parenthesized {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// A label selector: the conjunction of its requirements, kept sorted by key.
/// The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LabelSelector {
    requirements: Vec<Requirement>,
}

impl LabelSelector {
    /// The selector that matches every label set.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses the string form (`app=web,tier in (a,b),!canary`).
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let items = lex(selector);
        let mut parser = Parser { items, position: 0 };
        let mut requirements = parser.parse()?;
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { requirements })
    }

    /// The selector of a typed `metav1.LabelSelector`: every `matchLabels`
    /// entry as `key=value`, every expression with its operator (`In`,
    /// `NotIn`, `Exists`, `DoesNotExist`). No parts at all selects everything.
    pub fn from_parts(
        match_labels: &BTreeMap<String, String>,
        expressions: &[(String, String, Vec<String>)],
    ) -> Result<Self, SelectorError> {
        let mut requirements = Vec::with_capacity(match_labels.len() + expressions.len());
        for (key, value) in match_labels {
            let requirement = Requirement::build(key, Operator::Equals, vec![value.clone()])
                .map_err(|problems| SelectorError::InvalidRequirement(aggregate(problems)))?;
            requirements.push(requirement);
        }
        for (key, operator, values) in expressions {
            let operator = match operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => return Err(SelectorError::UnknownOperator(other.to_string())),
            };
            let requirement = Requirement::build(key, operator, values.clone())
                .map_err(|problems| SelectorError::InvalidRequirement(aggregate(problems)))?;
            requirements.push(requirement);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector { requirements })
    }

    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when the selector restricts nothing.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// The single value the first requirement on `key` demands, if it is an
    /// equality (or a one-value `in`).
    pub fn requires_exact_match(&self, key: &str) -> Option<&str> {
        let requirement = self.requirements.iter().find(|r| r.key == key)?;
        match (requirement.operator, requirement.values.as_slice()) {
            (Operator::Equals | Operator::DoubleEquals | Operator::In, [value]) => Some(value),
            _ => None,
        }
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    End,
    ClosedPar,
    Comma,
    DoesNotExist,
    DoubleEquals,
    Equals,
    GreaterThan,
    Identifier,
    In,
    LessThan,
    NotEquals,
    NotIn,
    OpenPar,
}

#[derive(Debug, Clone)]
struct Item {
    token: Token,
    literal: String,
}

fn is_whitespace(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

fn is_special(b: u8) -> bool {
    matches!(b, b'=' | b'!' | b'(' | b')' | b',' | b'>' | b'<')
}

/// Splits a selector into tokens. Identifiers run until whitespace or an
/// operator character; `in` and `notin` are keywords; `!=` and `==` win over
/// their one-character prefixes. A NUL byte ends the input, as in Kubernetes.
fn lex(selector: &str) -> Vec<Item> {
    let bytes = selector.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let bytes = &bytes[..end];
    let mut items = Vec::new();
    let mut pos = 0;
    loop {
        while pos < bytes.len() && is_whitespace(bytes[pos]) {
            pos += 1;
        }
        let Some(&first) = bytes.get(pos) else {
            items.push(Item {
                token: Token::End,
                literal: String::new(),
            });
            return items;
        };
        if is_special(first) {
            let pair = bytes.get(pos..pos + 2);
            let (token, len) = match (first, pair) {
                (b'!', Some(b"!=")) => (Token::NotEquals, 2),
                (b'=', Some(b"==")) => (Token::DoubleEquals, 2),
                (b'!', _) => (Token::DoesNotExist, 1),
                (b'=', _) => (Token::Equals, 1),
                (b'(', _) => (Token::OpenPar, 1),
                (b')', _) => (Token::ClosedPar, 1),
                (b',', _) => (Token::Comma, 1),
                (b'>', _) => (Token::GreaterThan, 1),
                _ => (Token::LessThan, 1),
            };
            items.push(Item {
                token,
                literal: selector[pos..pos + len].to_string(),
            });
            pos += len;
        } else {
            let start = pos;
            while pos < bytes.len() && !is_special(bytes[pos]) && !is_whitespace(bytes[pos]) {
                pos += 1;
            }
            let literal = String::from_utf8_lossy(&bytes[start..pos]).into_owned();
            let token = match literal.as_str() {
                "in" => Token::In,
                "notin" => Token::NotIn,
                _ => Token::Identifier,
            };
            items.push(Item { token, literal });
        }
    }
}

/// Where the parser is: `in` and `notin` are operators only after a key;
/// where a key or value is expected they are plain words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Context {
    KeyAndOperator,
    Values,
}

struct Parser {
    items: Vec<Item>,
    position: usize,
}

impl Parser {
    fn token_in(item: &Item, context: Context) -> Token {
        match (item.token, context) {
            (Token::In | Token::NotIn, Context::Values) => Token::Identifier,
            (token, _) => token,
        }
    }

    fn lookahead(&self, context: Context) -> (Token, String) {
        // The lexer always ends with End, and nothing consumes past it.
        let item = &self.items[self.position.min(self.items.len() - 1)];
        (Self::token_in(item, context), item.literal.clone())
    }

    fn consume(&mut self, context: Context) -> (Token, String) {
        let next = self.lookahead(context);
        self.position += 1;
        next
    }

    fn parse(&mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        loop {
            let (token, literal) = self.lookahead(Context::Values);
            match token {
                Token::Identifier | Token::DoesNotExist => {
                    let requirement = self.requirement().map_err(SelectorError::Requirement)?;
                    requirements.push(requirement);
                    let (after, literal) = self.consume(Context::Values);
                    match after {
                        Token::End => return Ok(requirements),
                        Token::Comma => {
                            let (next, literal) = self.lookahead(Context::Values);
                            if next != Token::Identifier && next != Token::DoesNotExist {
                                return Err(SelectorError::Syntax(format!(
                                    "found '{literal}', expected: identifier after ','"
                                )));
                            }
                        }
                        _ => {
                            return Err(SelectorError::Syntax(format!(
                                "found '{literal}', expected: ',' or 'end of string'"
                            )))
                        }
                    }
                }
                Token::End => return Ok(requirements),
                _ => {
                    return Err(SelectorError::Syntax(format!(
                        "found '{literal}', expected: !, identifier, or 'end of string'"
                    )))
                }
            }
        }
    }

    /// One requirement; the error is the text after "unable to parse requirement: ".
    fn requirement(&mut self) -> Result<Requirement, String> {
        let (key, unary) = self.key_and_unary_operator()?;
        if let Some(operator) = unary {
            return Requirement::build(&key, operator, Vec::new()).map_err(aggregate);
        }
        let operator = self.operator()?;
        let values = match operator {
            Operator::In | Operator::NotIn => self.value_set()?,
            _ => self.exact_value()?,
        };
        Requirement::build(&key, operator, values).map_err(aggregate)
    }

    /// The key, and Exists/DoesNotExist when no binary operator follows
    /// (a `!key` is DoesNotExist whatever follows).
    fn key_and_unary_operator(&mut self) -> Result<(String, Option<Operator>), String> {
        let (mut token, mut literal) = self.consume(Context::Values);
        let negated = token == Token::DoesNotExist;
        if negated {
            (token, literal) = self.consume(Context::Values);
        }
        if token != Token::Identifier {
            return Err(format!("found '{literal}', expected: identifier"));
        }
        check_parsed_key(&literal).map_err(|e| match e {
            SelectorError::Requirement(message) => message,
            other => other.to_string(),
        })?;
        let (next, _) = self.lookahead(Context::Values);
        let unary = if negated {
            Some(Operator::DoesNotExist)
        } else if next == Token::End || next == Token::Comma {
            Some(Operator::Exists)
        } else {
            None
        };
        Ok((literal, unary))
    }

    fn operator(&mut self) -> Result<Operator, String> {
        let (token, literal) = self.consume(Context::KeyAndOperator);
        match token {
            Token::In => Ok(Operator::In),
            Token::Equals => Ok(Operator::Equals),
            Token::DoubleEquals => Ok(Operator::DoubleEquals),
            Token::GreaterThan => Ok(Operator::GreaterThan),
            Token::LessThan => Ok(Operator::LessThan),
            Token::NotIn => Ok(Operator::NotIn),
            Token::NotEquals => Ok(Operator::NotEquals),
            _ => Err(format!(
                "found '{literal}', expected: {}",
                Operator::BINARY_NAMES
            )),
        }
    }

    /// `(a,b,c)`: a set, so sorted and deduplicated; empty entries are the
    /// empty value.
    fn value_set(&mut self) -> Result<Vec<String>, String> {
        let (token, literal) = self.consume(Context::Values);
        if token != Token::OpenPar {
            return Err(format!("found '{literal}' expected: '('"));
        }
        let (token, literal) = self.lookahead(Context::Values);
        match token {
            Token::Identifier | Token::Comma => {
                let values = self.identifier_list()?;
                let (closing, _) = self.consume(Context::Values);
                if closing != Token::ClosedPar {
                    return Err(format!("found '{literal}', expected: ')'"));
                }
                Ok(values)
            }
            Token::ClosedPar => {
                self.consume(Context::Values);
                Ok(vec![String::new()])
            }
            _ => Err(format!(
                "found '{literal}', expected: ',', ')' or identifier"
            )),
        }
    }

    fn identifier_list(&mut self) -> Result<Vec<String>, String> {
        let mut set = std::collections::BTreeSet::new();
        loop {
            let (token, literal) = self.consume(Context::Values);
            match token {
                Token::Identifier => {
                    set.insert(literal);
                    let (next, literal) = self.lookahead(Context::Values);
                    match next {
                        Token::Comma => continue,
                        Token::ClosedPar => return Ok(set.into_iter().collect()),
                        _ => return Err(format!("found '{literal}', expected: ',' or ')'")),
                    }
                }
                Token::Comma => {
                    if set.is_empty() {
                        set.insert(String::new());
                    }
                    let (next, _) = self.lookahead(Context::Values);
                    if next == Token::ClosedPar {
                        set.insert(String::new());
                        return Ok(set.into_iter().collect());
                    }
                    if next == Token::Comma {
                        set.insert(String::new());
                    }
                }
                _ => return Err(format!("found '{literal}', expected: ',', or identifier")),
            }
        }
    }

    /// The single value after `=`, `==`, `!=`, `>` or `<`; nothing there is
    /// the empty value.
    fn exact_value(&mut self) -> Result<Vec<String>, String> {
        let (next, _) = self.lookahead(Context::Values);
        if next == Token::End || next == Token::Comma {
            return Ok(vec![String::new()]);
        }
        let (token, literal) = self.consume(Context::Values);
        if token == Token::Identifier {
            Ok(vec![literal])
        } else {
            Err(format!("found '{literal}', expected: identifier"))
        }
    }
}

/// How a field requirement compares: `=` and `==` are the same test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldOperator {
    Equals,
    NotEquals,
}

/// One `field=value` or `field!=value` term of a field selector, value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub operator: FieldOperator,
    pub value: String,
}

/// A field selector: the conjunction of its terms, in the order Kubernetes
/// sorts them (by the raw term text). The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FieldSelector {
    requirements: Vec<FieldRequirement>,
}

/// Splits on commas that are not escaped; escapes stay in the terms.
fn split_field_terms(selector: &str) -> Vec<&str> {
    if selector.is_empty() {
        return Vec::new();
    }
    let mut terms = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in selector.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == ',' {
            terms.push(&selector[start..i]);
            start = i + 1;
        }
    }
    terms.push(&selector[start..]);
    terms
}

/// Splits a term at the first operator; at one position `!=` and `==` are
/// preferred over `=`. The field part has no escaping.
fn split_field_term(term: &str) -> Option<(&str, FieldOperator, &str)> {
    for (i, _) in term.char_indices() {
        let rest = &term[i..];
        if let Some(value) = rest.strip_prefix("!=") {
            return Some((&term[..i], FieldOperator::NotEquals, value));
        }
        if let Some(value) = rest.strip_prefix("==") {
            return Some((&term[..i], FieldOperator::Equals, value));
        }
        if let Some(value) = rest.strip_prefix('=') {
            return Some((&term[..i], FieldOperator::Equals, value));
        }
    }
    None
}

/// Undoes `\\`, `\,` and `\=`; any other escape, or a bare `,` or `=`, is an error.
fn unescape_field_value(value: &str) -> Result<String, SelectorError> {
    if !value.contains(['\\', ',', '=']) {
        return Ok(value.to_string());
    }
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            if !matches!(c, '\\' | ',' | '=') {
                return Err(SelectorError::InvalidEscape(format!("\\{c}")));
            }
            out.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            ',' | '=' => return Err(SelectorError::UnescapedCharacter(c)),
            _ => out.push(c),
        }
    }
    if escaped {
        return Err(SelectorError::InvalidEscape("\\".to_string()));
    }
    Ok(out)
}

fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl FieldSelector {
    /// The selector that matches every object.
    pub fn everything() -> Self {
        Self::default()
    }

    /// Parses `f=v,g!=w` (`==` is `=`; `\,` `\=` `\\` escape inside values).
    pub fn parse(selector: &str) -> Result<Self, SelectorError> {
        let mut terms = split_field_terms(selector);
        terms.sort_unstable();
        let mut requirements = Vec::with_capacity(terms.len());
        for term in terms.into_iter().filter(|t| !t.is_empty()) {
            let (field, operator, raw_value) =
                split_field_term(term).ok_or_else(|| SelectorError::FieldTerm {
                    selector: selector.to_string(),
                    term: term.to_string(),
                })?;
            requirements.push(FieldRequirement {
                field: field.to_string(),
                operator,
                value: unescape_field_value(raw_value)?,
            });
        }
        Ok(FieldSelector { requirements })
    }

    pub fn requirements(&self) -> &[FieldRequirement] {
        &self.requirements
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The distinct field names the selector tests, in selector order.
    pub fn fields(&self) -> Vec<&str> {
        let mut fields: Vec<&str> = Vec::new();
        for requirement in &self.requirements {
            if !fields.contains(&requirement.field.as_str()) {
                fields.push(&requirement.field);
            }
        }
        fields
    }

    /// Whether an object passes; `value_of` gives a field's value, and a
    /// field without one compares as the empty string.
    pub fn matches(&self, mut value_of: impl FnMut(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let value = value_of(&r.field).unwrap_or_default();
            match r.operator {
                FieldOperator::Equals => value == r.value,
                FieldOperator::NotEquals => value != r.value,
            }
        })
    }

    /// The value an `=` term demands of `field`, if there is one.
    pub fn requires_exact_match(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.field == field && r.operator == FieldOperator::Equals)
            .map(|r| r.value.as_str())
    }
}

impl fmt::Display for FieldSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            let op = match r.operator {
                FieldOperator::Equals => "=",
                FieldOperator::NotEquals => "!=",
            };
            write!(f, "{}{op}{}", r.field, escape_field_value(&r.value))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn parse(s: &str) -> LabelSelector {
        LabelSelector::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    fn parse_err(s: &str) -> String {
        match LabelSelector::parse(s) {
            Ok(sel) => panic!("{s:?} parsed as {sel}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn equality_operators() {
        let web = labels(&[("app", "web")]);
        let db = labels(&[("app", "db")]);
        let none = labels(&[]);
        for s in ["app=web", "app==web", " app = web "] {
            let sel = parse(s);
            assert!(sel.matches(&web), "{s}");
            assert!(!sel.matches(&db), "{s}");
            assert!(!sel.matches(&none), "{s}");
        }
        let sel = parse("app!=web");
        assert!(!sel.matches(&web));
        assert!(sel.matches(&db));
        assert!(sel.matches(&none), "!= holds when the key is absent");
        assert_eq!(parse("app==web").to_string(), "app==web");
        assert_eq!(
            parse("app!=web").requirements()[0].operator(),
            Operator::NotEquals
        );
    }

    #[test]
    fn set_operators() {
        let sel = parse("env in (prod, staging)");
        assert!(sel.matches(&labels(&[("env", "prod")])));
        assert!(sel.matches(&labels(&[("env", "staging")])));
        assert!(!sel.matches(&labels(&[("env", "dev")])));
        assert!(!sel.matches(&labels(&[])));
        assert_eq!(sel.to_string(), "env in (prod,staging)");

        let sel = parse("env notin (prod,staging)");
        assert!(!sel.matches(&labels(&[("env", "prod")])));
        assert!(sel.matches(&labels(&[("env", "dev")])));
        assert!(
            sel.matches(&labels(&[])),
            "notin holds when the key is absent"
        );

        // Values form a set: sorted, deduplicated, empty entries allowed.
        let sel = parse("x in (b,a,b)");
        assert_eq!(sel.requirements()[0].values(), ["a", "b"]);
        assert_eq!(parse("x in ()").requirements()[0].values(), [""]);
        assert_eq!(
            parse("x in (a,,b)").requirements()[0].values(),
            ["", "a", "b"]
        );
        assert_eq!(parse("x in (,a)").requirements()[0].values(), ["", "a"]);
        assert_eq!(parse("x in (a,)").requirements()[0].values(), ["", "a"]);
        // Keywords are plain words where values are expected.
        assert_eq!(parse("x in (in,notin)").to_string(), "x in (in,notin)");
    }

    #[test]
    fn existence_operators() {
        let sel = parse("canary");
        assert!(sel.matches(&labels(&[("canary", "")])));
        assert!(!sel.matches(&labels(&[])));
        assert_eq!(sel.requirements()[0].operator(), Operator::Exists);
        let sel = parse("!canary");
        assert!(!sel.matches(&labels(&[("canary", "x")])));
        assert!(sel.matches(&labels(&[])));
        assert_eq!(sel.to_string(), "!canary");
        assert_eq!(parse(" ! canary ").to_string(), "!canary");
    }

    #[test]
    fn numeric_operators() {
        let gt = parse("replicas>2");
        assert!(gt.matches(&labels(&[("replicas", "3")])));
        assert!(!gt.matches(&labels(&[("replicas", "2")])));
        assert!(!gt.matches(&labels(&[("replicas", "many")])));
        assert!(!gt.matches(&labels(&[])));
        let lt = parse("replicas<2");
        assert!(lt.matches(&labels(&[("replicas", "-1")])));
        assert!(!lt.matches(&labels(&[("replicas", "2")])));
        assert_eq!(lt.to_string(), "replicas<2");
        assert_eq!(
            parse_err("replicas>two"),
            "unable to parse requirement: values[0]: Invalid value: \"two\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }

    #[test]
    fn conjunctions_are_sorted_by_key() {
        let sel = parse("tier=front, app in (web), !legacy ,ver");
        assert_eq!(sel.to_string(), "app in (web),!legacy,tier=front,ver");
        let l = labels(&[("app", "web"), ("tier", "front"), ("ver", "1")]);
        assert!(sel.matches(&l));
        let mut with_legacy = l.clone();
        with_legacy.insert("legacy".into(), "yes".into());
        assert!(!sel.matches(&with_legacy));
        // The canonical string parses back to the same selector.
        assert_eq!(parse(&sel.to_string()), sel);
        assert_eq!(sel.requires_exact_match("app"), Some("web"));
        assert_eq!(sel.requires_exact_match("tier"), Some("front"));
        assert_eq!(sel.requires_exact_match("ver"), None);
    }

    #[test]
    fn empty_selector_matches_everything() {
        for s in ["", "   "] {
            let sel = parse(s);
            assert!(sel.is_everything());
            assert!(sel.matches(&labels(&[])));
            assert!(sel.matches(&labels(&[("a", "b")])));
            assert_eq!(sel.to_string(), "");
        }
        assert!(!parse("a").is_everything());
        assert!(LabelSelector::everything().is_everything());
    }

    #[test]
    fn empty_exact_values() {
        let sel = parse("a=,b!=");
        assert_eq!(sel.to_string(), "a=,b!=");
        assert!(sel.matches(&labels(&[("a", ""), ("b", "x")])));
        assert!(!sel.matches(&labels(&[("b", "x")])));
    }

    #[test]
    fn syntax_errors_read_like_kubernetes() {
        assert_eq!(parse_err("a,"), "found '', expected: identifier after ','");
        assert_eq!(
            parse_err("a=b c"),
            "found 'c', expected: ',' or 'end of string'"
        );
        assert_eq!(
            parse_err(",a"),
            "found ',', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_err("a b"),
            "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"
        );
        assert_eq!(
            parse_err("a in b"),
            "unable to parse requirement: found 'b' expected: '('"
        );
        assert_eq!(
            parse_err("a in (b"),
            "unable to parse requirement: found '', expected: ',' or ')'"
        );
        assert_eq!(
            parse_err("a in (="),
            "unable to parse requirement: found '=', expected: ',', ')' or identifier"
        );
        assert_eq!(
            parse_err("a in (b,="),
            "unable to parse requirement: found '=', expected: ',', or identifier"
        );
        assert_eq!(
            parse_err("a=(b)"),
            "unable to parse requirement: found '(', expected: identifier"
        );
        assert_eq!(
            parse_err("!=a"),
            "found '!=', expected: !, identifier, or 'end of string'"
        );
        assert_eq!(
            parse_err("! =a"),
            "unable to parse requirement: found '=', expected: identifier"
        );
        assert_eq!(
            parse_err("!a=b"),
            "found '=', expected: ',' or 'end of string'"
        );
    }

    #[test]
    fn invalid_keys_and_values() {
        let message = parse_err("a_=b");
        assert!(
            message.starts_with("unable to parse requirement: <nil>: Invalid value: \"a_\": name part must consist of"),
            "{message}"
        );
        let message = parse_err("app=b/c");
        assert!(
            message.starts_with("unable to parse requirement: values[0][app]: Invalid value: \"b/c\": a valid label must be"),
            "{message}"
        );
        let long = "v".repeat(64);
        let message = parse_err(&format!("app={long}"));
        assert!(
            message.contains("must be no more than 63 characters"),
            "{message}"
        );
        assert!(
            parse("example.com/app=x.y_z-1").matches(&labels(&[("example.com/app", "x.y_z-1")]))
        );
    }

    #[test]
    fn typed_selectors() {
        let match_labels = labels(&[("app", "web")]);
        let expressions = vec![
            (
                "tier".to_string(),
                "In".to_string(),
                vec!["front".to_string(), "edge".to_string()],
            ),
            ("legacy".to_string(), "DoesNotExist".to_string(), vec![]),
            (
                "env".to_string(),
                "NotIn".to_string(),
                vec!["dev".to_string()],
            ),
            ("zone".to_string(), "Exists".to_string(), vec![]),
        ];
        let sel = LabelSelector::from_parts(&match_labels, &expressions).unwrap();
        assert_eq!(
            sel.to_string(),
            "app=web,env notin (dev),!legacy,tier in (edge,front),zone"
        );
        assert!(sel.matches(&labels(&[("app", "web"), ("tier", "edge"), ("zone", "a")])));
        assert!(!sel.matches(&labels(&[("app", "web"), ("tier", "edge")])));
        assert!(LabelSelector::from_parts(&BTreeMap::new(), &[])
            .unwrap()
            .is_everything());
    }

    #[test]
    fn typed_selector_errors_name_the_problem() {
        let none = BTreeMap::new();
        let err = LabelSelector::from_parts(&none, &[("a".into(), "Gt".into(), vec!["1".into()])])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"Gt\" is not a valid label selector operator"
        );
        let err =
            LabelSelector::from_parts(&none, &[("a".into(), "In".into(), vec![])]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "values: Invalid value: []string(nil): for 'in', 'notin' operators, values set can't be empty"
        );
        let err =
            LabelSelector::from_parts(&none, &[("a".into(), "Exists".into(), vec!["x".into()])])
                .unwrap_err();
        assert_eq!(
            err.to_string(),
            "values: Invalid value: []string{\"x\"}: values set must be empty for exists and does not exist"
        );
        let err = LabelSelector::from_parts(&labels(&[("bad key", "v")]), &[]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("key: Invalid value: \"bad key\": name part must consist of"),
            "{err}"
        );
        let err = LabelSelector::from_parts(&labels(&[("-k", "bad value")]), &[]).unwrap_err();
        let message = err.to_string();
        assert!(
            message.starts_with("[key: Invalid value: \"-k\""),
            "{message}"
        );
        assert!(
            message.contains(", values[0][-k]: Invalid value: \"bad value\""),
            "{message}"
        );
        assert!(message.ends_with(']'), "{message}");
    }

    fn field_value<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl FnMut(&str) -> Option<String> + 'a {
        move |field| {
            pairs
                .iter()
                .find(|(f, _)| *f == field)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn field_selectors() {
        let sel = FieldSelector::parse("spec.nodeName=node-1,status.phase!=Failed").unwrap();
        assert_eq!(sel.fields(), ["spec.nodeName", "status.phase"]);
        assert!(sel.matches(field_value(&[
            ("spec.nodeName", "node-1"),
            ("status.phase", "Running")
        ])));
        assert!(!sel.matches(field_value(&[
            ("spec.nodeName", "node-1"),
            ("status.phase", "Failed")
        ])));
        assert!(!sel.matches(field_value(&[("spec.nodeName", "node-2")])));
        assert_eq!(sel.requires_exact_match("spec.nodeName"), Some("node-1"));
        assert_eq!(sel.requires_exact_match("status.phase"), None);

        let sel = FieldSelector::parse("metadata.name==web").unwrap();
        assert_eq!(sel.requirements()[0].operator, FieldOperator::Equals);
        assert_eq!(sel.to_string(), "metadata.name=web");
    }

    #[test]
    fn missing_fields_compare_as_empty() {
        let sel = FieldSelector::parse("spec.nodeName=").unwrap();
        assert!(sel.matches(field_value(&[])));
        assert!(!sel.matches(field_value(&[("spec.nodeName", "n")])));
        let sel = FieldSelector::parse("spec.nodeName!=").unwrap();
        assert!(!sel.matches(field_value(&[])));
    }

    #[test]
    fn field_terms_are_sorted_and_empty_terms_skipped() {
        let sel = FieldSelector::parse("b=2,,a=1,").unwrap();
        assert_eq!(sel.to_string(), "a=1,b=2");
        let empty = FieldSelector::parse("").unwrap();
        assert!(empty.is_everything());
        assert!(empty.matches(field_value(&[])));
        assert!(FieldSelector::everything().is_everything());
    }

    #[test]
    fn field_value_escapes() {
        let sel = FieldSelector::parse(r"metadata.name=a\,b\=c\\d,x=y").unwrap();
        assert_eq!(sel.requirements()[0].value, r"a,b=c\d");
        assert_eq!(sel.requirements()[1].value, "y");
        assert_eq!(sel.to_string(), r"metadata.name=a\,b\=c\\d,x=y");
        assert_eq!(FieldSelector::parse(&sel.to_string()).unwrap(), sel);
    }

    #[test]
    fn field_selector_errors() {
        assert_eq!(
            FieldSelector::parse("a=1,nonsense")
                .unwrap_err()
                .to_string(),
            "invalid selector: 'a=1,nonsense'; can't understand 'nonsense'"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\c").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \c"
        );
        assert_eq!(
            FieldSelector::parse(r"a=b\").unwrap_err().to_string(),
            r"invalid field selector: invalid escape sequence: \"
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err(),
            SelectorError::UnescapedCharacter('=')
        );
        assert_eq!(
            FieldSelector::parse("a=b=c").unwrap_err().to_string(),
            "invalid field selector: unescaped character in value: 61"
        );
    }
}
