//! `#[delayed]`: calling the function builds a task of a lazy graph.
//!
//! For `fn load(path: String) -> Vec<f64> { body }` it writes:
//!
//! - `fn load(path: impl IntoDelayed<String>) -> Delayed<Vec<f64>>`, which
//!   records the arguments (plain values, or the tasks they come from) and
//!   returns at once;
//! - an uninhabited `enum load {}` beside it whose associated function
//!   `load::call(path: String) -> Vec<f64>` holds the user's body unchanged:
//!   the plain function, for tests and serial use. A type (not a module),
//!   because a function and a type may share a name, and an associated
//!   function sees the items of the block it is written in (tests and
//!   doctests declare functions inside function bodies).

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::args::{self, Ctxt, Value};
use crate::model::{self, FnModel};

const ATTR: &str = "delayed";
const KEYS: &[&str] = &["name", "result", "crate"];
const RESULTS: &[&str] = &["fail", "value"];

#[derive(Default)]
struct Options {
    name: Option<syn::LitStr>,
    /// `result = "value"`: a `Result` is the task's value, not a failure.
    result_is_value: bool,
    krate: Option<syn::Path>,
}

impl Options {
    fn parse(tokens: TokenStream, cx: &mut Ctxt) -> Self {
        let mut o = Options::default();
        for arg in args::parse(tokens, ATTR, KEYS, cx) {
            match arg.key.to_string().as_str() {
                "name" => match &arg.value {
                    Value::Lit(syn::Lit::Str(s)) if !s.value().trim().is_empty() => {
                        o.name = Some(s.clone());
                    }
                    _ => cx.error(
                        arg.span(),
                        "`name` takes the task name used in keys, as a non-empty string: \
                         `name = \"load\"`",
                    ),
                },
                "result" => {
                    o.result_is_value = arg.choice(cx, RESULTS).as_deref() == Some("value");
                }
                "crate" => o.krate = arg.path(cx),
                _ => {}
            }
        }
        o
    }
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    model::expand_fn_attribute(ATTR, attr, item, Options::parse, check, expansion)
}

/// What `#[delayed]` needs beyond a plain function: owned inputs and output.
fn check(m: &FnModel, cx: &mut Ctxt) {
    for p in &m.params {
        if model::has_lifetimes(&p.ty) {
            cx.error(
                p.ty.span(),
                format_args!(
                    "#[delayed] parameters must own their values, because the task runs later, \
                     after `{name}(…)` has returned: take `{owned}` instead of `{orig}` (to share \
                     one large input between tasks without copying it, take an `Arc<…>`)",
                    name = m.name(),
                    owned = owned_hint(&p.ty),
                    orig = tokens(&p.ty),
                ),
            );
        }
    }
    if let Some(out) = &m.output {
        if let syn::Type::ImplTrait(t) = out {
            cx.error(
                t.span(),
                "#[delayed] needs a concrete return type, because it becomes `Delayed<T>`: \
                 name the type instead of `impl Trait` (box it if needed)",
            );
        } else if model::has_lifetimes(out) {
            cx.error(
                out.span(),
                "#[delayed] results must own their data (`T: 'static`), because they outlive \
                 the call that made them: return an owned type such as `String` or `Vec<T>`",
            );
        }
    }
}

/// `String` for `&str`, `Vec<T>` for `&[T]`, `T` for `&T`.
fn owned_hint(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Reference(r) => match &*r.elem {
            syn::Type::Path(p) if p.path.is_ident("str") => "String".into(),
            syn::Type::Slice(s) => format!("Vec<{}>", tokens(&s.elem)),
            syn::Type::Path(p) => owned_path(p),
            other => tokens(other),
        },
        other => tokens(other),
    }
}

/// `std::path::PathBuf` for `std::path::Path`, else the type itself.
fn owned_path(p: &syn::TypePath) -> String {
    let mut p = p.clone();
    if let Some(last) = p.path.segments.last_mut() {
        if last.ident == "Path" {
            last.ident = syn::Ident::new("PathBuf", last.ident.span());
        }
    }
    tokens(&p)
}

fn tokens(t: &impl quote::ToTokens) -> String {
    let s = t.to_token_stream().to_string();
    s.replace(" < ", "<")
        .replace(" >", ">")
        .replace("< ", "<")
        .replace(" ,", ",")
        .replace("& ", "&")
        .replace(" :: ", "::")
        .replace(":: ", "::")
}

/// `tokens` with every span set to `span` (so that an error about the call
/// points at the user's code, not at the attribute).
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut t| {
            if let proc_macro2::TokenTree::Group(g) = &t {
                let mut ng = proc_macro2::Group::new(g.delimiter(), respan(g.stream(), span));
                ng.set_span(span);
                t = proc_macro2::TokenTree::Group(ng);
            } else {
                t.set_span(span);
            }
            t
        })
        .collect()
}

fn is_lint_attr(a: &syn::Attribute) -> bool {
    ["allow", "warn", "deny", "expect", "forbid"]
        .iter()
        .any(|l| a.path().is_ident(l))
}

fn expansion(m: &FnModel, o: &Options) -> TokenStream {
    let krate = o
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::parallel_runtime));
    let p = quote!(#krate::__private);
    let name = m.name();
    let site_name = o
        .name
        .as_ref()
        .map_or_else(|| name.to_string(), syn::LitStr::value);
    let vis = &m.item.vis;
    let attrs = &m.item.attrs;
    let docs: Vec<_> = attrs.iter().filter(|a| a.path().is_ident("doc")).collect();
    let cfgs: Vec<_> = attrs
        .iter()
        .filter(|a| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr"))
        .collect();
    let lints: Vec<_> = attrs.iter().filter(|a| is_lint_attr(a)).collect();
    let others: Vec<_> = attrs
        .iter()
        .filter(|a| !a.path().is_ident("doc"))
        .filter(|a| !a.path().is_ident("cfg") && !a.path().is_ident("cfg_attr"))
        .collect();

    let out_ty = m.output_ty();
    let out_span = m.output.as_ref().map_or(Span::call_site(), |t| t.span());
    let fallible = !o.result_is_value && model::looks_like_result(&out_ty);
    let (value_ty, outcome, err_check) = if fallible {
        let (ok, err) = model::result_parts(&out_ty).map_or_else(
            || {
                (
                    quote!(<#out_ty as #p::IsResult>::Ok),
                    quote!(<#out_ty as #p::IsResult>::Err),
                )
            },
            |(t, e)| (quote!(#t), quote!(#e)),
        );
        (
            ok,
            quote!(#p::delayed_from_result),
            Some(quote_spanned!(out_span=> #p::delayed_assert_error::<#err>();)),
        )
    } else {
        (quote!(#out_ty), quote!(#p::delayed_ok), None)
    };

    let idents: Vec<&syn::Ident> = m.params.iter().map(|p| &p.ident).collect();
    let builder_params = m.params.iter().map(|prm| {
        let (i, t) = (&prm.ident, &prm.ty);
        quote_spanned!(t.span()=> #i: impl #p::IntoDelayed<#t>)
    });
    let to_inputs = m.params.iter().map(|prm| {
        let (i, t) = (&prm.ident, &prm.ty);
        quote_spanned!(t.span()=> let #i = <_ as #p::IntoDelayed<#t>>::into_input(#i, &mut __deps);)
    });
    let resolve = m.params.iter().map(|prm| {
        let (i, t) = (&prm.ident, &prm.ty);
        quote_spanned!(t.span()=> let #i = <_ as #p::Input<#t>>::resolve(#i, __inputs)?;)
    });
    let mut checks: Vec<TokenStream> = m
        .params
        .iter()
        .map(|prm| {
            let t = &prm.ty;
            quote_spanned!(t.span()=> #p::assert_send::<#t>();)
        })
        .collect();
    checks.push(quote_spanned!(out_span=> #p::assert_send::<#out_ty>();));
    checks.extend(err_check);

    // Spanned at the return type: a result that cannot cross threads is
    // reported there.
    let resolve: Vec<TokenStream> = resolve.collect();
    let task_fn = respan(quote!(#p::delayed_task), out_span);
    let task_call = quote_spanned! {out_span=>
        #task_fn(&__SITE, __deps, move |__inputs| {
            let _ = __inputs;
            #(#resolve)*
            #outcome(#name::call(#(#idents),*))
        })
    };
    let sig = &m.item.sig;
    let inputs = &sig.inputs;
    let output = &sig.output;
    let body = &m.item.block;
    let name_str = name.to_string();
    let builder_doc = format!(
        "\n\n*Delayed* (`#[delayed]`): calling `{name_str}(…)` runs nothing; it records a task \
         and returns a `Delayed` handle at once. Each argument may be a plain value or a \
         `Delayed` of it. Run the graph with `.compute()`. The plain function is \
         `{name_str}::call(…)`.",
    );
    let enum_doc = format!(
        "The plain function behind the delayed `{name_str}`: `{name_str}::call(…)`, written \
         by `#[delayed]`. (A type with no values, so that it can share the function's name.)"
    );
    let call_doc = format!(
        "The plain `{name_str}`, as written: runs now, on this thread, without building a task."
    );
    let must_use = "a `Delayed` does nothing until it is computed: call `.compute()`, or pass it \
                    to another #[delayed] function";

    quote! {
        #(#docs)*
        #[doc = #builder_doc]
        #(#cfgs)*
        #(#lints)*
        #[must_use = #must_use]
        #vis fn #name(#(#builder_params),*) -> #krate::Delayed<#value_ty> {
            static __SITE: #p::TaskSite = #p::TaskSite::new(#site_name);
            #[allow(unused_mut)]
            let mut __deps = #p::DepList::new();
            #(#to_inputs)*
            #task_call
        }

        #[doc = #enum_doc]
        #(#cfgs)*
        #[allow(non_camel_case_types)]
        #vis enum #name {}

        #(#cfgs)*
        impl #name {
            #[doc = #call_doc]
            #(#others)*
            #vis fn call(#inputs) #output #body

            #[allow(dead_code)]
            fn __compile_time_checks() {
                #(#checks)*
            }
        }
    }
}
