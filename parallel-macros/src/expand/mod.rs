//! One expansion per attribute, of a valid function (or struct) with its
//! options read; each reaches the runtime only through its `__private`
//! module and `::core`/`::std`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::types;

pub(crate) mod delayed;
pub(crate) mod equivalence;
pub(crate) mod mpi_main;
pub(crate) mod parallel_map;

/// `(T, E)` of a function returning `ty`, a `Result`: as written for
/// `Result<T, E>`, else (an alias such as `io::Result<T>`) through the
/// runtime's `IsResult`. `p` is the runtime's `__private`.
fn ok_and_err(p: &TokenStream, ty: &syn::Type) -> (TokenStream, TokenStream) {
    types::result_parts(ty).map_or_else(
        || {
            (
                quote!(<#ty as #p::IsResult>::Ok),
                quote!(<#ty as #p::IsResult>::Err),
            )
        },
        |(t, e)| (quote!(#t), quote!(#e)),
    )
}
