//! Typed, span-keeping access to a parsed TOML table that records every problem instead
//! of stopping at the first.
//!
//! Serde with `deny_unknown_fields` reports one error and stops; a policy author wants
//! all of them. So the document is parsed once into `toml::de::DeTable` (which keeps a
//! span for every key and value) and read through [`Table`], whose getters push a
//! diagnostic and return `None` on a type error, and which reports unknown keys (with a
//! "did you mean") when it is opened.
//!
//! Other TOML files of countersign's (the server's configuration) are read the same way,
//! so their errors look like the policy's: [`read_toml`].

use jiff::civil::Date;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::diag::{Diagnostic, codes, did_you_mean};
use crate::model::Span;

/// A value with the span it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sp<T> {
    pub value: T,
    pub span: Span,
}

impl<T> Sp<T> {
    pub fn new(value: T, span: Span) -> Sp<T> {
        Sp { value, span }
    }
}

/// The diagnostics collected while reading.
#[derive(Debug, Default)]
pub struct Ctx {
    pub diags: Vec<Diagnostic>,
    /// Candidate names compared so far for "did you mean" suggestions.
    suggestions_compared: usize,
}

/// How many candidate names "did you mean" suggestions may compare in one policy. A file
/// with tens of thousands of unknown references to tens of thousands of names would
/// otherwise take hours; past the budget, errors come without a suggestion.
const SUGGESTION_BUDGET: usize = 200_000;

impl Ctx {
    /// [`did_you_mean`] within the policy's suggestion budget.
    pub fn did_you_mean<'a>(&mut self, name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
        let left = SUGGESTION_BUDGET.saturating_sub(self.suggestions_compared);
        let mut compared = 0;
        let suggestion = did_you_mean(name, candidates.into_iter().take(left).inspect(|_| compared += 1));
        self.suggestions_compared += compared;
        suggestion
    }

    pub fn push(&mut self, diag: Diagnostic) {
        self.diags.push(diag);
    }

    pub fn error_count(&self) -> usize {
        self.diags.iter().filter(|d| d.is_error()).count()
    }
}

/// Parse TOML text and read the document with `read`. Syntax errors are reported alone
/// (reading a half-parsed document would only add confusing follow-on errors): then the
/// result is `None`. Every diagnostic is in the returned [`Ctx`].
pub fn read_toml<T>(text: &str, read: impl FnOnce(&mut Ctx, &DeTable<'_>, Span) -> T) -> (Option<T>, Ctx) {
    let (root, syntax_errors) = DeTable::parse_recoverable(text);
    let mut ctx = Ctx::default();
    if !syntax_errors.is_empty() {
        for error in syntax_errors {
            let span = error.span().unwrap_or(0..0);
            let message = error.message().trim().to_string();
            // The parser stops at its own nesting limit rather than recurse without end.
            let diag = if message.contains("recursion") || message.contains("recurse") {
                Diagnostic::new(
                    codes::TOO_DEEP,
                    format!(
                        "brackets, braces or dotted keys nest more than {} levels deep",
                        crate::limits::MAX_TOML_NESTING
                    ),
                    span,
                    message,
                )
                .with_help(format!(
                    "no policy needs this; conditions and rules nest at most {} levels, so write deep logic as named rules",
                    crate::limits::MAX_NESTING
                ))
            } else {
                Diagnostic::new(codes::TOML_SYNTAX, format!("invalid TOML: {message}"), span, message.clone())
                    .with_help("check quotes, brackets and `=` on this line; see https://toml.io")
            };
            ctx.push(diag);
        }
        return (None, ctx);
    }
    let span = root.span();
    let value = read(&mut ctx, root.get_ref(), span);
    (Some(value), ctx)
}

/// One TOML table being read, with the keys it may hold.
pub struct Table<'a, 'i> {
    pub table: &'a DeTable<'i>,
    /// Where to point when a required key is missing: the table's header key.
    pub span: Span,
    /// How the table is named in messages: `[policy]`, `[[areas]]`, `[rules.peer]`.
    pub name: String,
}

pub fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "text",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a number",
        DeValue::Boolean(_) => "true/false",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "a list",
        DeValue::Table(_) => "a table",
    }
}

pub fn wrong_type(ctx: &mut Ctx, what: &str, expected: &str, value: &Spanned<DeValue<'_>>) {
    ctx.push(
        Diagnostic::new(
            codes::WRONG_TYPE,
            format!("`{what}` must be {expected}, found {}", type_name(value.get_ref())),
            value.span(),
            format!("expected {expected}"),
        )
        .with_help(format!("write `{what}` as {}", example_of(expected))),
    );
}

fn example_of(expected: &str) -> &'static str {
    match expected {
        "text" => "a quoted string, e.g. \"text\"",
        "true/false" => "true or false, without quotes",
        "an integer" => "a whole number without quotes, e.g. 2",
        "a list of text" | "text or a list of text" => "a list of quoted strings, e.g. [\"a\", \"b\"]",
        "a date" => "a date such as 2026-05-21",
        "a table" => "a table, e.g. { key = \"value\" }",
        "a list of tables" => "one or more [[…]] tables",
        _ => "the documented form (see docs/policy-language.md)",
    }
}

impl<'a, 'i> Table<'a, 'i> {
    /// Opens a table, reporting every key not in `allowed`.
    pub fn open(
        ctx: &mut Ctx,
        table: &'a DeTable<'i>,
        span: Span,
        name: impl Into<String>,
        allowed: &[&str],
    ) -> Table<'a, 'i> {
        let name = name.into();
        let display = if name.is_empty() { "the top level".to_string() } else { name.clone() };
        for (key, _) in table.iter() {
            let key_text: &str = key.get_ref();
            if !allowed.contains(&key_text) {
                let mut diag = Diagnostic::new(
                    codes::UNKNOWN_KEY,
                    format!("unknown key `{key_text}` in {display}"),
                    key.span(),
                    "not a key of this table",
                );
                diag = match ctx.did_you_mean(key_text, allowed.iter().copied()) {
                    Some(suggestion) => diag.with_help(format!("did you mean `{suggestion}`?")),
                    None => diag.with_help(format!("{display} accepts: {}", allowed.join(", "))),
                };
                ctx.push(diag);
            }
        }
        Table { table, span, name }
    }

    /// Opens a value that must be a table.
    pub fn from_value(
        ctx: &mut Ctx,
        value: &'a Spanned<DeValue<'i>>,
        what: &str,
        allowed: &[&str],
    ) -> Option<Table<'a, 'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(Table::open(ctx, table, value.span(), what, allowed)),
            _ => {
                wrong_type(ctx, what, "a table", value);
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
        self.table.get(key)
    }

    pub fn has(&self, key: &str) -> bool {
        self.table.get(key).is_some()
    }

    /// The span of a key as written, or the table's span.
    pub fn key_span(&self, key: &str) -> Span {
        self.table.get_key_value(key).map(|(k, _)| k.span()).unwrap_or_else(|| self.span.clone())
    }

    fn missing(&self, ctx: &mut Ctx, key: &str, expected: &str) {
        ctx.push(
            Diagnostic::new(
                codes::MISSING_KEY,
                format!("{} is missing the required key `{key}`", self.name),
                self.span.clone(),
                format!("add `{key} = …` here"),
            )
            .with_help(format!("`{key}` must be {expected}")),
        );
    }

    pub fn str(&self, ctx: &mut Ctx, key: &str) -> Option<Sp<String>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::String(s) => Some(Sp::new(s.to_string(), value.span())),
            _ => {
                wrong_type(ctx, key, "text", value);
                None
            }
        }
    }

    pub fn req_str(&self, ctx: &mut Ctx, key: &str) -> Option<Sp<String>> {
        if !self.has(key) {
            self.missing(ctx, key, "text");
            return None;
        }
        self.str(ctx, key)
    }

    pub fn bool(&self, ctx: &mut Ctx, key: &str) -> Option<bool> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Boolean(b) => Some(*b),
            _ => {
                wrong_type(ctx, key, "true/false", value);
                None
            }
        }
    }

    pub fn int(&self, ctx: &mut Ctx, key: &str) -> Option<Sp<i64>> {
        let value = self.get(key)?;
        match value.get_ref() {
            DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
                Ok(n) => Some(Sp::new(n, value.span())),
                Err(_) => {
                    ctx.push(Diagnostic::new(
                        codes::INVALID_VALUE,
                        format!("`{key}` is out of range"),
                        value.span(),
                        "too large",
                    ));
                    None
                }
            },
            _ => {
                wrong_type(ctx, key, "an integer", value);
                None
            }
        }
    }

    /// A list of strings; a single string is accepted as a list of one.
    pub fn str_list(&self, ctx: &mut Ctx, key: &str) -> Vec<Sp<String>> {
        match self.get(key) {
            Some(value) => str_list_value(ctx, key, value),
            None => Vec::new(),
        }
    }

    pub fn date(&self, ctx: &mut Ctx, key: &str) -> Option<Sp<Date>> {
        let value = self.get(key)?;
        date_value(ctx, key, value)
    }

    pub fn req_date(&self, ctx: &mut Ctx, key: &str) -> Option<Sp<Date>> {
        if !self.has(key) {
            self.missing(ctx, key, "a date such as 2026-05-21");
            return None;
        }
        self.date(ctx, key)
    }

    /// A sub-table.
    pub fn table(&self, ctx: &mut Ctx, key: &str, allowed: &[&str]) -> Option<Table<'a, 'i>> {
        let value = self.get(key)?;
        let prefix = self.name.trim_end_matches(']').trim_start_matches('[');
        let name = if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
        match value.get_ref() {
            DeValue::Table(table) => Some(Table::open(ctx, table, self.key_span(key), format!("[{name}]"), allowed)),
            _ => {
                wrong_type(ctx, key, "a table", value);
                None
            }
        }
    }

    /// An array of tables (`[[key]]`); each element gets its own [`Table`].
    pub fn tables(&self, ctx: &mut Ctx, key: &str, allowed: &[&str]) -> Vec<Table<'a, 'i>> {
        let Some(value) = self.get(key) else { return Vec::new() };
        let DeValue::Array(items) = value.get_ref() else {
            wrong_type(ctx, key, "a list of tables", value);
            return Vec::new();
        };
        let prefix = self.name.trim_end_matches(']').trim_start_matches('[');
        let full = if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") };
        let mut out = Vec::new();
        for (index, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::Table(table) => {
                    let span = header_span(table, item.span());
                    out.push(Table::open(ctx, table, span, format!("[[{full}]] #{}", index + 1), allowed));
                }
                _ => wrong_type(ctx, key, "a list of tables", item),
            }
        }
        out
    }
}

/// The span to point at for an element of an array of tables: the first key when the
/// element's own span is the whole table.
fn header_span(table: &DeTable<'_>, fallback: Span) -> Span {
    let first = table.iter().map(|(k, _)| k.span()).min_by_key(|s| s.start);
    match first {
        Some(span) if fallback.end.saturating_sub(fallback.start) > 200 || fallback.is_empty() => span,
        _ => fallback,
    }
}

pub(crate) fn str_list_value(ctx: &mut Ctx, key: &str, value: &Spanned<DeValue<'_>>) -> Vec<Sp<String>> {
    match value.get_ref() {
        DeValue::String(s) => vec![Sp::new(s.to_string(), value.span())],
        DeValue::Array(items) => {
            let mut out = Vec::new();
            for item in items.iter() {
                match item.get_ref() {
                    DeValue::String(s) => out.push(Sp::new(s.to_string(), item.span())),
                    _ => wrong_type(ctx, key, "a list of text", item),
                }
            }
            out
        }
        _ => {
            wrong_type(ctx, key, "text or a list of text", value);
            Vec::new()
        }
    }
}

pub(crate) fn date_value(ctx: &mut Ctx, key: &str, value: &Spanned<DeValue<'_>>) -> Option<Sp<Date>> {
    match value.get_ref() {
        DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => match Date::new(d.year as i16, d.month as i8, d.day as i8) {
                Ok(date) => Some(Sp::new(date, value.span())),
                Err(e) => {
                    bad_date(ctx, key, value.span(), &e.to_string());
                    None
                }
            },
            _ => {
                bad_date(ctx, key, value.span(), "a date without a time is expected");
                None
            }
        },
        DeValue::String(s) => match s.trim().parse::<Date>() {
            Ok(date) => Some(Sp::new(date, value.span())),
            Err(_) => {
                bad_date(ctx, key, value.span(), &format!("`{s}` is not a date in the form YYYY-MM-DD"));
                None
            }
        },
        _ => {
            wrong_type(ctx, key, "a date", value);
            None
        }
    }
}

fn bad_date(ctx: &mut Ctx, key: &str, span: Span, why: &str) {
    ctx.push(
        Diagnostic::new(codes::BAD_DATE, format!("`{key}` is not a valid date: {why}"), span, "not a calendar date")
            .with_help("write a date as 2026-05-21 (quotes optional)"),
    );
}

/// Whether a table was written with a key, for "exactly one of" checks.
pub(crate) fn present<'k>(table: &Table<'_, '_>, keys: &[&'k str]) -> Vec<&'k str> {
    keys.iter().copied().filter(|k| table.has(k)).collect()
}
