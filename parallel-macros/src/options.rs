//! Parsing of attribute options (`#[attr(key = value, flag, …)]`), shared by
//! every attribute: duplicate keys, unknown keys and values of the wrong kind
//! are reported all at once, each at its own span.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::spanned::Spanned;

/// Collects errors so that every mistake is reported in one compilation.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Option<syn::Error>,
}

impl Ctxt {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(error),
            None => self.errors = Some(error),
        }
    }

    pub(crate) fn error(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    /// All errors so far, as one `syn::Error`.
    pub(crate) fn finish(self) -> Result<(), syn::Error> {
        match self.errors {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The value given to one option.
pub(crate) enum Value {
    /// `key` alone.
    Flag,
    /// `key = <literal>`.
    Lit(syn::Lit),
}

/// One option as written.
pub(crate) struct Arg {
    pub(crate) key: syn::Ident,
    pub(crate) value: Value,
}

impl Arg {
    pub(crate) fn span(&self) -> Span {
        match &self.value {
            Value::Flag => self.key.span(),
            Value::Lit(l) => l.span(),
        }
    }

    /// `key = "one of valid"`.
    pub(crate) fn choice(&self, cx: &mut Ctxt, valid: &[&str]) -> Option<String> {
        let list = backticked(valid);
        match &self.value {
            Value::Lit(syn::Lit::Str(s)) => {
                let v = s.value();
                if valid.contains(&v.as_str()) {
                    Some(v)
                } else {
                    cx.error(
                        s.span(),
                        format_args!("invalid {} {:?}; expected one of {}", self.key, v, list),
                    );
                    None
                }
            }
            _ => {
                cx.error(
                    self.span(),
                    format_args!(
                        "`{}` takes a string: write `{} = \"{}\"` (one of {})",
                        self.key, self.key, valid[0], list
                    ),
                );
                None
            }
        }
    }

    /// `key = <positive integer>`.
    pub(crate) fn positive_int(&self, cx: &mut Ctxt) -> Option<u64> {
        match &self.value {
            Value::Lit(syn::Lit::Int(i)) => match i.base10_parse::<u64>() {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    cx.error(
                        i.span(),
                        format_args!(
                            "`{}` must be a positive integer such as `{} = 64`",
                            self.key, self.key
                        ),
                    );
                    None
                }
            },
            _ => {
                cx.error(
                    self.span(),
                    format_args!(
                        "`{}` takes a positive integer: write `{} = 64`",
                        self.key, self.key
                    ),
                );
                None
            }
        }
    }

    /// `key` or `key = true|false`.
    pub(crate) fn flag(&self, cx: &mut Ctxt) -> Option<bool> {
        match &self.value {
            Value::Flag => Some(true),
            Value::Lit(syn::Lit::Bool(b)) => Some(b.value),
            Value::Lit(_) => {
                cx.error(
                    self.span(),
                    format_args!(
                        "`{}` is a switch: write `{}` or `{} = false`",
                        self.key, self.key, self.key
                    ),
                );
                None
            }
        }
    }

    /// `key = "some::path"`.
    pub(crate) fn path(&self, cx: &mut Ctxt) -> Option<syn::Path> {
        match &self.value {
            Value::Lit(syn::Lit::Str(s)) => match s.parse::<syn::Path>() {
                Ok(p) => Some(p),
                Err(_) => {
                    cx.error(
                        s.span(),
                        format_args!("`{}` must name a path, e.g. `\"::my_runtime\"`", self.key),
                    );
                    None
                }
            },
            _ => {
                cx.error(
                    self.span(),
                    format_args!(
                        "`{}` takes a path in a string: `{} = \"::my_runtime\"`",
                        self.key, self.key
                    ),
                );
                None
            }
        }
    }
}

/// `"static"` → `"Static"`: an option's value as the name of its enum variant.
pub(crate) fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

pub(crate) fn backticked(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, or {}", rest.join(", "), last),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// Parses `tokens` as a list of options whose keys are in `valid`; unknown
/// and repeated keys are reported (and skipped) so parsing goes on.
pub(crate) fn parse(tokens: TokenStream, attr: &str, valid: &[&str], cx: &mut Ctxt) -> Vec<Arg> {
    let mut args: Vec<Arg> = Vec::new();
    let result = syn::meta::parser(|meta| {
        let Some(key) = meta.path.get_ident().cloned() else {
            cx.error(
                meta.path.span(),
                format_args!(
                    "unknown option `{}` for #[{attr}]; expected one of {}",
                    quote::ToTokens::to_token_stream(&meta.path)
                        .to_string()
                        .replace(' ', ""),
                    backticked(valid)
                ),
            );
            skip_value(&meta)?;
            return Ok(());
        };
        let name = key.to_string();
        let value = if meta.input.peek(syn::Token![=]) {
            let expr: syn::Expr = meta.value()?.parse()?;
            match expr {
                syn::Expr::Lit(l) => Value::Lit(l.lit),
                other => {
                    cx.error(
                        other.span(),
                        format_args!(
                            "`{name}` takes a literal value (a string, integer or `true`/`false`)"
                        ),
                    );
                    return Ok(());
                }
            }
        } else if meta.input.is_empty() || meta.input.peek(syn::Token![,]) {
            Value::Flag
        } else {
            return Err(meta.error(format_args!("expected `{name} = value`, `{name}` or `,`")));
        };
        if !valid.contains(&name.as_str()) {
            cx.error(
                key.span(),
                format_args!(
                    "unknown option `{name}` for #[{attr}]; expected one of {}",
                    backticked(valid)
                ),
            );
        } else if args.iter().any(|a| a.key == key) {
            cx.error(
                key.span(),
                format_args!("duplicate option `{name}`; give it once"),
            );
        } else {
            args.push(Arg { key, value });
        }
        Ok(())
    });
    if let Err(e) = result.parse2(tokens) {
        cx.push(e);
    }
    args
}

fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    }
    Ok(())
}
