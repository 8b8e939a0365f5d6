//! `#[delayed]`: calls build nodes of a lazy task graph.

use proc_macro2::TokenStream;
use quote::quote;

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    let _ = attr;
    let e = syn::Error::new(
        proc_macro2::Span::call_site(),
        "#[delayed] is not implemented yet",
    )
    .into_compile_error();
    quote!(#e #item)
}
