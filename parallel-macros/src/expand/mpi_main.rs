//! `#[mpi_main]`: `main` as an SPMD program. The user's function is kept
//! (renamed, inside the real `fn main()`), and the real `main` starts MPI,
//! hands it the world and turns a failure into an abort of the whole job.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

use crate::model::FnModel;
use crate::options::{self, MainOptions};

/// The real `fn main()`: starts MPI at the thread level asked for, then
/// runs the user's function on the world.
pub(crate) fn expand(m: &FnModel, o: &MainOptions) -> TokenStream {
    let p = o.runtime.private();
    let p = quote!(#p::mpi);
    let (body_fn, body_name) = body_fn(m);
    let (attrs, vis) = (&m.item.attrs, &m.item.vis);
    let level = options::variant(o.threading.as_deref().unwrap_or("funneled"));
    let name_span = m.name().span();
    let location = quote_spanned!(name_span=>
        ::core::concat!(::core::file!(), ":", ::core::line!())
    );
    // A return type that `run` does not take is reported at the return type.
    let ret_span = match &m.item.sig.output {
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

/// Beside the errors: a function not named `main` unchanged; `main` as a
/// `fn main()` that holds the user's function, so that its body still
/// type-checks (and rust-analyzer works) while the program has a `main`.
pub(crate) fn fallback(m: &FnModel) -> TokenStream {
    let item = &m.item;
    if m.name() != "main" {
        return quote!(#item);
    }
    let (body_fn, _) = body_fn(m);
    let (attrs, vis) = (&item.attrs, &item.vis);
    quote! {
        #(#attrs)*
        #vis fn main() {
            #[allow(dead_code, unused_variables)]
            #body_fn
        }
    }
}

/// The user's function, kept as written under another name (private),
/// and that name.
fn body_fn(m: &FnModel) -> (syn::ItemFn, syn::Ident) {
    let mut body_fn = m.item.clone();
    let body_name = format_ident!("__mpi_main_body", span = m.name().span());
    body_fn.sig.ident = body_name.clone();
    body_fn.vis = syn::Visibility::Inherited;
    (body_fn, body_name)
}
