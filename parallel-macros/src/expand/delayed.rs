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

use crate::model::FnModel;
use crate::options::DelayedOptions;
use crate::types;

/// The builder function, then the type of the same name holding `call`.
pub(crate) fn expand(m: &FnModel, o: &DelayedOptions) -> TokenStream {
    let p = o.runtime.private();
    let attrs = Attrs::split(&m.item.attrs);
    let outcome = Outcome::new(m, o, &p);
    let builder = builder(m, o, &p, &attrs, &outcome);
    let plain = plain_fn(m, &p, &attrs, &outcome);
    quote!(#builder #plain)
}

/// The user's attributes, by where they go.
struct Attrs<'a> {
    /// `#[doc]`: on the builder.
    docs: Vec<&'a syn::Attribute>,
    /// `#[cfg]`, `#[cfg_attr]`: on everything written.
    cfgs: Vec<&'a syn::Attribute>,
    /// `#[allow]` and the other lint levels: on the builder too.
    lints: Vec<&'a syn::Attribute>,
    /// All but docs and cfgs: on the plain function.
    others: Vec<&'a syn::Attribute>,
}

impl<'a> Attrs<'a> {
    fn split(attrs: &'a [syn::Attribute]) -> Self {
        let is_cfg = |a: &syn::Attribute| a.path().is_ident("cfg") || a.path().is_ident("cfg_attr");
        let is_doc = |a: &syn::Attribute| a.path().is_ident("doc");
        Attrs {
            docs: attrs.iter().filter(|a| is_doc(a)).collect(),
            cfgs: attrs.iter().filter(|a| is_cfg(a)).collect(),
            lints: attrs.iter().filter(|a| is_lint_attr(a)).collect(),
            others: attrs.iter().filter(|a| !is_doc(a) && !is_cfg(a)).collect(),
        }
    }
}

fn is_lint_attr(a: &syn::Attribute) -> bool {
    ["allow", "warn", "deny", "expect", "forbid"]
        .iter()
        .any(|l| a.path().is_ident(l))
}

/// What a task makes of the function's result.
struct Outcome {
    /// `T` of the `Delayed<T>` the builder returns.
    value_ty: TokenStream,
    /// The runtime's function that turns the result into the task's outcome.
    wrap: TokenStream,
    /// For a failing `Result`, the check that its error can be reported.
    err_check: Option<TokenStream>,
}

impl Outcome {
    /// A `Result` (unless `result = "value"`) fails the task with its `Err`
    /// and is a `Delayed<T>`; any other result is the value.
    fn new(m: &FnModel, o: &DelayedOptions, p: &TokenStream) -> Self {
        let out_ty = m.output_ty();
        if o.result_is_value || !types::looks_like_result(&out_ty) {
            return Outcome {
                value_ty: quote!(#out_ty),
                wrap: quote!(#p::delayed_ok),
                err_check: None,
            };
        }
        let (ok, err) = super::ok_and_err(p, &out_ty);
        let out_span = m.output_span(Span::call_site());
        Outcome {
            value_ty: ok,
            wrap: quote!(#p::delayed_from_result),
            err_check: Some(quote_spanned!(out_span=> #p::delayed_assert_error::<#err>();)),
        }
    }
}

/// `fn name(args: impl IntoDelayed<T>…) -> Delayed<R>`: records a task.
fn builder(
    m: &FnModel,
    o: &DelayedOptions,
    p: &TokenStream,
    attrs: &Attrs<'_>,
    outcome: &Outcome,
) -> TokenStream {
    let name = m.name();
    let site_name = o
        .name
        .as_ref()
        .map_or_else(|| name.to_string(), syn::LitStr::value);
    let vis = &m.item.vis;
    let Attrs {
        docs, cfgs, lints, ..
    } = attrs;
    let value_ty = &outcome.value_ty;
    let params = m.params.iter().map(|prm| {
        let (i, t) = (&prm.ident, &prm.ty);
        quote_spanned!(t.span()=> #i: impl #p::IntoDelayed<#t>)
    });
    let deps = deps_ident();
    let to_inputs = m.params.iter().map(|prm| {
        let (i, t) = (&prm.ident, &prm.ty);
        quote_spanned!(t.span()=> let #i = <_ as #p::IntoDelayed<#t>>::into_input(#i, &mut #deps);)
    });
    let task_call = task_call(m, p, outcome);
    let register = register_types(m, p, value_ty);
    let name_str = name.to_string();
    let doc = format!(
        "\n\n*Delayed* (`#[delayed]`): calling `{name_str}(…)` runs nothing; it records a task \
         and returns a `Delayed` handle at once. Each argument may be a plain value or a \
         `Delayed` of it. Run the graph with `.compute()`. The plain function is \
         `{name_str}::call(…)`.",
    );
    let must_use = "a `Delayed` does nothing until it is computed: call `.compute()`, or pass it \
                    to another #[delayed] function";
    quote! {
        #(#docs)*
        #[doc = #doc]
        #(#cfgs)*
        #(#lints)*
        #[must_use = #must_use]
        #vis fn #name(#(#params),*) -> #p::Delayed<#value_ty> {
            static __SITE: #p::TaskSite = #p::TaskSite::at(
                #site_name,
                ::core::concat!(
                    ::core::module_path!(), "::", #name_str,
                    " (", ::core::file!(), ":", ::core::line!(), ")"
                ),
            );
            #[allow(unused_mut)]
            let mut #deps = #p::DepList::new();
            #(#to_inputs)*
            #register
            #task_call
        }
    }
}

/// Registers, once per function, the result and parameter types (and the
/// element of a `Vec` parameter) with the executor across ranks: which of
/// them can move between ranks, probed here where they are known
/// (`Serialize + DeserializeOwned`, else only named, else nothing).
fn register_types(m: &FnModel, p: &TokenStream, value_ty: &TokenStream) -> TokenStream {
    let mut tys: Vec<TokenStream> = vec![value_ty.clone()];
    for prm in &m.params {
        let t = &prm.ty;
        tys.push(quote!(#t));
        if let Some(elem) = vec_element(t) {
            tys.push(quote!(#elem));
        }
    }
    // A type holding a reference (`&'static str`) is only named: probing it
    // for serde picked `Deserialize<'de>` for one `'de`, a compile error
    // ("implementation of `Deserialize` is not general enough") at the
    // attribute, where `DeserializeOwned` wants all of them.
    let probes = tys.iter().map(|t| {
        if has_reference(t.clone()) {
            quote!((&&#p::GraphProbe::<#t>::new()))
        } else {
            quote!((&&&#p::GraphProbe::<#t>::new()))
        }
    });
    quote! {
        static __TYPES: ::std::sync::Once = ::std::sync::Once::new();
        __TYPES.call_once(|| {
            #[allow(unused_imports)]
            use #p::{GraphNamed as _, GraphOpaque as _, GraphViaSerde as _};
            #(#p::delayed_register(#probes.graph_type());)*
        });
    }
}

/// The builder's list of inputs: hygienic, so that a parameter of the
/// same name (`__deps`) does not take its place.
fn deps_ident() -> syn::Ident {
    syn::Ident::new("__deps", Span::mixed_site())
}

/// Whether a type, as tokens, holds a reference (a `&` anywhere in it).
fn has_reference(ty: TokenStream) -> bool {
    ty.into_iter().any(|t| match t {
        proc_macro2::TokenTree::Punct(p) => p.as_char() == '&',
        proc_macro2::TokenTree::Group(g) => has_reference(g.stream()),
        _ => false,
    })
}

/// `T` of a parameter written `Vec<T>` (which also takes a
/// `Vec<Delayed<T>>`).
fn vec_element(ty: &syn::Type) -> Option<&syn::Type> {
    let syn::Type::Path(tp) = ty else { return None };
    let last = tp.path.segments.last()?;
    if last.ident != "Vec" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(a) if a.args.len() == 1 => match &a.args[0] {
            syn::GenericArgument::Type(t) => Some(t),
            _ => None,
        },
        _ => None,
    }
}

/// The task: resolves each input, then calls the plain function. Spanned
/// at the return type: a result that cannot cross threads is reported there.
fn task_call(m: &FnModel, p: &TokenStream, outcome: &Outcome) -> TokenStream {
    let name = m.name();
    let (deps, inputs) = (
        deps_ident(),
        syn::Ident::new("__inputs", Span::mixed_site()),
    );
    let out_span = m.output_span(Span::call_site());
    let idents = m.params.iter().map(|prm| &prm.ident);
    let resolve = m.params.iter().map(|prm| {
        let (i, t) = (&prm.ident, &prm.ty);
        // `allow`: a `()` parameter (an ordering edge) is a unit `let`.
        quote_spanned!(t.span()=>
            #[allow(clippy::let_unit_value)]
            let #i = <_ as #p::Input<#t>>::resolve(#i, #inputs)?;
        )
    });
    let task_fn = respan(quote!(#p::delayed_task), out_span);
    let wrap = &outcome.wrap;
    quote_spanned! {out_span=>
        #task_fn(&__SITE, #deps, move |#inputs| {
            let _ = #inputs;
            #(#resolve)*
            #wrap(#name::call(#(#idents),*))
        })
    }
}

/// `enum name {}` with `name::call`, the user's function as written, and
/// the compile-time checks (at the user's spans) that the task's inputs and
/// result can cross threads.
fn plain_fn(m: &FnModel, p: &TokenStream, attrs: &Attrs<'_>, outcome: &Outcome) -> TokenStream {
    let name = m.name();
    let vis = &m.item.vis;
    let Attrs { cfgs, others, .. } = attrs;
    let sig = &m.item.sig;
    let (inputs, output, body) = (&sig.inputs, &sig.output, &m.item.block);
    let out_ty = m.output_ty();
    let out_span = m.output_span(Span::call_site());
    let mut checks: Vec<TokenStream> = m
        .params
        .iter()
        .map(|prm| {
            let t = &prm.ty;
            quote_spanned!(t.span()=> #p::assert_send::<#t>();)
        })
        .collect();
    checks.push(quote_spanned!(out_span=> #p::assert_send::<#out_ty>();));
    checks.extend(outcome.err_check.clone());
    let name_str = name.to_string();
    let enum_doc = format!(
        "The plain function behind the delayed `{name_str}`: `{name_str}::call(…)`, written \
         by `#[delayed]`. (A type with no values, so that it can share the function's name.)"
    );
    let call_doc = format!(
        "The plain `{name_str}`, as written: runs now, on this thread, without building a task."
    );
    quote! {
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
