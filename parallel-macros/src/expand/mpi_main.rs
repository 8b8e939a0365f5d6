//! `#[mpi_main]`: `main` as an SPMD program. The user's function is kept
//! (renamed, inside the real `fn main()`), and the real `main` starts MPI,
//! hands it the world and turns a failure into an abort of the whole job.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::args::{self, Ctxt};
use crate::model;

const ATTR: &str = "mpi_main";
const KEYS: &[&str] = &["threading", "crate"];
const THREADING: &[&str] = &["single", "funneled", "serialized", "multiple"];

#[derive(Default)]
struct Options {
    threading: Option<String>,
    krate: Option<syn::Path>,
}

impl Options {
    fn parse(tokens: TokenStream, cx: &mut Ctxt) -> Self {
        let mut o = Options::default();
        for arg in args::parse(tokens, ATTR, KEYS, cx) {
            match arg.key.to_string().as_str() {
                "threading" => o.threading = arg.choice(cx, THREADING),
                "crate" => o.krate = arg.path(cx),
                _ => {}
            }
        }
        o
    }
}

/// Whether `ty` is written as `Comm` (any path ending in `Comm`, no
/// generics).
fn is_comm(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Comm" && s.arguments.is_none()))
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut cx = Ctxt::default();
    let options = Options::parse(attr, &mut cx);
    let func = match model::parse_fn(item.clone(), ATTR) {
        Ok(f) => f,
        Err(e) => {
            let e = e.into_compile_error();
            return quote!(#e #item);
        }
    };

    let sig = &func.sig;
    let is_main = sig.ident == "main";
    if !is_main {
        cx.error(
            sig.ident.span(),
            format_args!(
                "#[mpi_main] goes on the program's `fn main`, not on `fn {}`: it writes the real \
                 entry point; call `{}` from `main` instead",
                sig.ident, sig.ident
            ),
        );
    }
    model::check_plain_fn(&func, ATTR, &mut cx);
    let typed: Vec<&syn::PatType> = sig
        .inputs
        .iter()
        .filter_map(|i| match i {
            syn::FnArg::Typed(pt) => Some(pt),
            syn::FnArg::Receiver(_) => None,
        })
        .collect();
    match typed.split_first() {
        None => cx.error(
            model::params_span(&func),
            "#[mpi_main] hands `main` the world communicator: write \
             `fn main(world: Comm)` (with `use parallel_runtime::prelude::*;`)",
        ),
        Some((p, extra)) => {
            if !is_comm(&p.ty) {
                let hint = match &*p.ty {
                    syn::Type::Reference(r) if is_comm(&r.elem) => {
                        "; take it by value (`world: Comm`), not by reference"
                    }
                    _ => "",
                };
                cx.error(
                    p.ty.span(),
                    format_args!(
                        "the parameter of #[mpi_main] is the world communicator, of type `Comm` \
                         (`parallel_runtime::mpi::Comm`){hint}"
                    ),
                );
            }
            for p in extra {
                cx.error(
                    p.span(),
                    "#[mpi_main] passes one parameter, the world communicator: remove this one \
                     (read command-line arguments with `std::env::args()`)",
                );
            }
        }
    }

    let krate = options
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::parallel_runtime));
    let p = quote!(#krate::__private::mpi);

    // The user's function, kept as written under another name so that its
    // body type-checks (and rust-analyzer works) even when it is misused.
    let mut body_fn = func.clone();
    let body_name = format_ident!("__mpi_main_body", span = sig.ident.span());
    body_fn.sig.ident = body_name.clone();
    body_fn.vis = syn::Visibility::Inherited;
    let attrs = &func.attrs;
    let vis = &func.vis;

    if let Err(e) = cx.finish() {
        let e = e.into_compile_error();
        if !is_main {
            return quote!(#e #func);
        }
        return quote! {
            #e
            #(#attrs)*
            #vis fn main() {
                #[allow(dead_code, unused_variables)]
                #body_fn
            }
        };
    }

    let level = syn::Ident::new(
        &args::capitalize(options.threading.as_deref().unwrap_or("funneled")),
        Span::call_site(),
    );
    let name_span = sig.ident.span();
    let location = quote_spanned!(name_span=>
        ::core::concat!(::core::file!(), ":", ::core::line!())
    );
    let ret_span = match &sig.output {
        syn::ReturnType::Default => name_span,
        syn::ReturnType::Type(_, ty) => ty.span(),
    };
    let run = quote_spanned!(ret_span=>
        __session.run(__world, #body_name)
    );
    quote! {
        #(#attrs)*
        #vis fn main() {
            #body_fn
            let (__session, __world) = #p::start(#p::Threading::#level, #location);
            #run
        }
    }
}
