//! `#[mpi_main]`: `main` as an SPMD program.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let _ = attr;
    let e = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[mpi_main] is not implemented yet",
    )
    .into_compile_error();
    quote!(#e #item)
}
