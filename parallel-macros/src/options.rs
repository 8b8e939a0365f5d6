//! The options of the attributes (`#[attr(key = value, flag, …)]`): one
//! parser, driven by a table of keys per attribute, and the typed option
//! set each expansion reads. Unknown keys (with the valid ones listed),
//! repeated keys and values of the wrong kind are all reported at once,
//! each at its own span; a bad option is skipped, so its default applies.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::Parser;
use syn::spanned::Spanned;

use crate::ctxt::Ctxt;

/// What an option takes, and where its value goes in the option set `O`:
/// how it is read, and what its error says.
pub(crate) enum Kind<O> {
    /// `key = "one of these"` (the first is the example in errors); the
    /// setter gets the span of the value too.
    Choice(&'static [&'static str], fn(&mut O, String, Span)),
    /// `key = <positive integer>`.
    PositiveInt(fn(&mut O, u64)),
    /// `key` or `key = true|false`.
    Flag(fn(&mut O, bool)),
    /// `key = "some::path"`.
    Path(fn(&mut O, syn::Path)),
    /// `key = "non-empty string"`: `what` it is, and an `example`.
    Name {
        what: &'static str,
        example: &'static str,
        set: fn(&mut O, syn::LitStr),
    },
}

/// One option an attribute takes.
pub(crate) struct Key<O> {
    name: &'static str,
    kind: Kind<O>,
}

/// The options of one attribute: its name, and each key it takes (`crate`
/// last: every attribute takes it, for a renamed dependency) with what it
/// takes and where its value goes.
pub(crate) struct Table<O: 'static> {
    /// The attribute's name, as in `#[name]`.
    pub(crate) attr: &'static str,
    keys: &'static [Key<O>],
}

/// `#[parallel_map(…)]`.
#[rustfmt::skip]
pub(crate) const PARALLEL_MAP: Table<MapOptions> = Table {
    attr: "parallel_map",
    keys: &[
        Key { name: "schedule", kind: Kind::Choice(&["static", "dynamic", "guided"], |o, v, _| o.schedule = Some(v)) },
        Key { name: "chunk_size", kind: Kind::PositiveInt(|o, n| o.chunk_size = Some(n)) },
        Key { name: "backend", kind: Kind::Choice(&["serial", "threads", "mpi"], |o, v, at| o.backend = Some((v, at))) },
        Key { name: "progress", kind: Kind::Flag(|o, on| o.progress = Some(on)) },
        Key { name: "threads", kind: Kind::PositiveInt(|o, n| o.threads = Some(n)) },
        Key { name: "init", kind: Kind::Path(|o, path| o.init = Some(path)) },
        Key { name: "items", kind: Kind::PositiveInt(|o, n| o.items = Some(n)) },
        Key { name: "crate", kind: Kind::Path(|o, path| o.runtime = Runtime(path)) },
    ],
};

/// `#[delayed(…)]`.
#[rustfmt::skip]
pub(crate) const DELAYED: Table<DelayedOptions> = Table {
    attr: "delayed",
    keys: &[
        Key { name: "name", kind: Kind::Name { what: "the task name used in keys", example: "load", set: |o, s| o.name = Some(s) } },
        Key { name: "result", kind: Kind::Choice(&["fail", "value"], |o, v, _| o.result_is_value = v == "value") },
        Key { name: "crate", kind: Kind::Path(|o, path| o.runtime = Runtime(path)) },
    ],
};

/// `#[mpi_main(…)]`.
#[rustfmt::skip]
pub(crate) const MPI_MAIN: Table<MainOptions> = Table {
    attr: "mpi_main",
    keys: &[
        Key { name: "threading", kind: Kind::Choice(&["single", "funneled", "serialized", "multiple"], |o, v, _| o.threading = Some(v)) },
        Key { name: "crate", kind: Kind::Path(|o, path| o.runtime = Runtime(path)) },
    ],
};

/// Where the runtime is: `::parallel_runtime`, or the path of `crate = "…"`.
pub(crate) struct Runtime(syn::Path);

impl Default for Runtime {
    fn default() -> Self {
        Runtime(syn::parse_quote!(::parallel_runtime))
    }
}

impl Runtime {
    /// The runtime's own path, as written (for doc links to public items).
    pub(crate) fn path(&self) -> &syn::Path {
        &self.0
    }

    /// `path::__private`, the only way into the runtime an expansion takes.
    pub(crate) fn private(&self) -> TokenStream {
        let path = &self.0;
        quote!(#path::__private)
    }
}

/// The options of `#[parallel_map]`; `None` where the runtime's default
/// (or its `PARALLEL_*` variable) applies.
#[derive(Default)]
pub(crate) struct MapOptions {
    pub(crate) schedule: Option<String>,
    pub(crate) chunk_size: Option<u64>,
    /// With the span of its value, to blame for a result without serde.
    pub(crate) backend: Option<(String, Span)>,
    pub(crate) progress: Option<bool>,
    /// The size of the function's own pool (`MapOptions::threads`).
    pub(crate) threads: Option<u64>,
    /// The function that builds each worker's state, handed to the last
    /// parameter (`&mut State`).
    pub(crate) init: Option<syn::Path>,
    /// How many leading parameters take each item (a tuple of them), 1
    /// when not given.
    pub(crate) items: Option<u64>,
    pub(crate) runtime: Runtime,
}

impl MapOptions {
    /// How many leading parameters take each item.
    pub(crate) fn per_item(&self) -> usize {
        self.items
            .map_or(1, |n| usize::try_from(n).unwrap_or(usize::MAX))
    }
}

/// The options of `#[delayed]`.
#[derive(Default)]
pub(crate) struct DelayedOptions {
    /// The name in task keys, if not the function's.
    pub(crate) name: Option<syn::LitStr>,
    /// `result = "value"`: a `Result` is the task's value, not a failure.
    pub(crate) result_is_value: bool,
    pub(crate) runtime: Runtime,
}

/// The options of `#[mpi_main]`.
#[derive(Default)]
pub(crate) struct MainOptions {
    /// The thread level asked of MPI, if not the default.
    pub(crate) threading: Option<String>,
    pub(crate) runtime: Runtime,
}

/// `"static"` → `Static`: an option's value as the name of its enum variant
/// in the runtime.
pub(crate) fn variant(value: &str) -> syn::Ident {
    let mut c = value.chars();
    let name: String = match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    };
    syn::Ident::new(&name, Span::call_site())
}

/// `` `a`, `b`, or `c` ``.
fn backticked(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{}, or {}", rest.join(", "), last),
        Some((last, _)) => last.clone(),
        None => String::new(),
    }
}

/// A value as written.
enum Written {
    /// `key` alone.
    Flag,
    /// `key = <literal>`.
    Lit(syn::Lit),
}

/// One option as written, with the key it is.
struct Arg<O: 'static> {
    key: &'static Key<O>,
    ident: syn::Ident,
    written: Written,
}

impl<O: Default> Table<O> {
    fn names(&self) -> Vec<&'static str> {
        self.keys.iter().map(|k| k.name).collect()
    }

    /// Parses `tokens` as this attribute's options. Every mistake goes to
    /// `cx`: first those of the list itself (unknown, repeated or
    /// non-literal options, in order), then those of each value; a bad
    /// option keeps its default.
    pub(crate) fn parse(&self, tokens: TokenStream, cx: &mut Ctxt) -> O {
        let mut options = O::default();
        for arg in self.parse_args(tokens, cx) {
            arg.set(&mut options, cx);
        }
        options
    }

    /// The options as written, with unknown and repeated keys reported (and
    /// skipped) so that parsing goes on.
    fn parse_args(&self, tokens: TokenStream, cx: &mut Ctxt) -> Vec<Arg<O>> {
        let mut args: Vec<Arg<O>> = Vec::new();
        let result = syn::meta::parser(|meta| {
            let Some(key) = meta.path.get_ident().cloned() else {
                let path = quote::ToTokens::to_token_stream(&meta.path).to_string();
                cx.error(meta.path.span(), self.unknown(&path.replace(' ', "")));
                return skip_value(&meta);
            };
            let Some(written) = written(&meta, &key, cx)? else {
                return Ok(());
            };
            let name = key.to_string();
            match self.keys.iter().find(|k| k.name == name) {
                None => cx.error(key.span(), self.unknown(&name)),
                Some(_) if args.iter().any(|a| a.ident == key) => cx.error(
                    key.span(),
                    format_args!("duplicate option `{name}`; give it once"),
                ),
                Some(k) => args.push(Arg {
                    key: k,
                    ident: key,
                    written,
                }),
            }
            Ok(())
        });
        if let Err(e) = result.parse2(tokens) {
            cx.push(e);
        }
        args
    }

    fn unknown(&self, key: &str) -> String {
        format!(
            "unknown option `{key}` for #[{}]; expected one of {}",
            self.attr,
            backticked(&self.names())
        )
    }
}

/// The value after `key`: `None` (reported) when it is not a literal; an
/// error (which ends parsing) when what follows is neither `=` nor `,`.
fn written(
    meta: &syn::meta::ParseNestedMeta<'_>,
    key: &syn::Ident,
    cx: &mut Ctxt,
) -> syn::Result<Option<Written>> {
    if meta.input.peek(syn::Token![=]) {
        let expr: syn::Expr = meta.value()?.parse()?;
        match expr {
            syn::Expr::Lit(l) => Ok(Some(Written::Lit(l.lit))),
            other => {
                cx.error(
                    other.span(),
                    format_args!(
                        "`{key}` takes a literal value (a string, integer or `true`/`false`)"
                    ),
                );
                Ok(None)
            }
        }
    } else if meta.input.is_empty() || meta.input.peek(syn::Token![,]) {
        Ok(Some(Written::Flag))
    } else {
        Err(meta.error(format_args!("expected `{key} = value`, `{key}` or `,`")))
    }
}

fn skip_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    }
    Ok(())
}

impl<O> Arg<O> {
    /// Where the value is written (the key's span for a flag).
    fn span(&self) -> Span {
        match &self.written {
            Written::Flag => self.ident.span(),
            Written::Lit(l) => l.span(),
        }
    }

    /// Reads the value as its key's kind into `options`, or reports it.
    fn set(&self, options: &mut O, cx: &mut Ctxt) {
        let key = &self.ident;
        match (&self.key.kind, &self.written) {
            (Kind::Choice(valid, set), Written::Lit(syn::Lit::Str(s))) => {
                if let Some(v) = self.choice(s, valid, cx) {
                    set(options, v, self.span());
                }
            }
            (Kind::PositiveInt(set), Written::Lit(syn::Lit::Int(i))) => {
                if let Some(n) = positive_int(key, i, cx) {
                    set(options, n);
                }
            }
            (Kind::Path(set), Written::Lit(syn::Lit::Str(s))) => {
                if let Some(p) = path(key, s, cx) {
                    set(options, p);
                }
            }
            (Kind::Name { set, .. }, Written::Lit(syn::Lit::Str(s)))
                if !s.value().trim().is_empty() =>
            {
                set(options, s.clone());
            }
            (Kind::Flag(set), Written::Flag) => set(options, true),
            (Kind::Flag(set), Written::Lit(syn::Lit::Bool(b))) => set(options, b.value),
            (kind, _) => cx.error(self.span(), wrong_kind(key, kind)),
        }
    }

    /// `key = "one of valid"`.
    fn choice(&self, s: &syn::LitStr, valid: &[&str], cx: &mut Ctxt) -> Option<String> {
        let v = s.value();
        if valid.contains(&v.as_str()) {
            return Some(v);
        }
        cx.error(
            s.span(),
            format_args!(
                "invalid {} {:?}; expected one of {}",
                self.ident,
                v,
                backticked(valid)
            ),
        );
        None
    }
}

/// `key = <positive integer>`, given an integer.
fn positive_int(key: &syn::Ident, i: &syn::LitInt, cx: &mut Ctxt) -> Option<u64> {
    match i.base10_parse::<u64>() {
        Ok(n) if n > 0 => Some(n),
        _ => {
            cx.error(
                i.span(),
                format_args!("`{key}` must be a positive integer such as `{key} = 64`"),
            );
            None
        }
    }
}

/// `key = "some::path"`, given a string.
fn path(key: &syn::Ident, s: &syn::LitStr, cx: &mut Ctxt) -> Option<syn::Path> {
    match s.parse::<syn::Path>() {
        Ok(p) => Some(p),
        Err(_) => {
            cx.error(
                s.span(),
                format_args!("`{key}` must name a path, e.g. `\"::my_runtime\"`"),
            );
            None
        }
    }
}

/// What to write instead of a value of the wrong kind for `key`.
fn wrong_kind<O>(key: &syn::Ident, kind: &Kind<O>) -> String {
    match *kind {
        Kind::Choice(valid, _) => format!(
            "`{key}` takes a string: write `{key} = \"{}\"` (one of {})",
            valid[0],
            backticked(valid)
        ),
        Kind::PositiveInt(_) => format!("`{key}` takes a positive integer: write `{key} = 64`"),
        Kind::Flag(_) => format!("`{key}` is a switch: write `{key}` or `{key} = false`"),
        Kind::Path(_) => format!("`{key}` takes a path in a string: `{key} = \"::my_runtime\"`"),
        Kind::Name { what, example, .. } => {
            format!("`{key}` takes {what}, as a non-empty string: `{key} = \"{example}\"`")
        }
    }
}

#[cfg(test)]
mod tests;
