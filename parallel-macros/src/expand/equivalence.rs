//! `#[derive(Equivalence)]` without MPI: `unsafe impl Equivalence` for a
//! struct whose fields all implement it (checked field by field, at each
//! field's span).

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

/// The runtime's path from `#[mpi(crate = "…::mpi::rsmpi")]`, else
/// `::parallel_runtime`.
fn runtime_path(input: &syn::DeriveInput) -> syn::Result<syn::Path> {
    let mut path: syn::Path = syn::parse_quote!(::parallel_runtime);
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("mpi")) {
        attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident("crate") {
                return Err(meta.error("expected `crate = \"::parallel_runtime::mpi::rsmpi\"`"));
            }
            let s: syn::LitStr = meta.value()?.parse()?;
            let p: syn::Path = s.parse()?;
            let names: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            if names.len() > 2 && names.ends_with(&["mpi".to_owned(), "rsmpi".to_owned()]) {
                path = syn::Path {
                    leading_colon: p.leading_colon,
                    segments: p.segments.iter().take(names.len() - 2).cloned().collect(),
                };
            }
            Ok(())
        })?;
    }
    Ok(path)
}

pub(crate) fn expand(item: TokenStream) -> TokenStream {
    let input = match syn::parse2::<syn::DeriveInput>(item) {
        Ok(i) => i,
        Err(e) => return e.into_compile_error(),
    };
    let syn::Data::Struct(data) = &input.data else {
        return syn::Error::new(
            input.ident.span(),
            "#[derive(Equivalence)] works on structs of plain data (numbers, `bool`, arrays and \
             other such structs), not on enums or unions",
        )
        .into_compile_error();
    };
    let krate = match runtime_path(&input) {
        Ok(p) => p,
        Err(e) => return e.into_compile_error(),
    };
    let ident = &input.ident;
    let (impl_g, ty_g, where_g) = input.generics.split_for_impl();
    let checks = data.fields.iter().map(|f| {
        let ty = &f.ty;
        quote_spanned!(ty.span()=> __equivalent::<#ty>();)
    });
    quote! {
        // SAFETY: every field implements `Equivalence` (checked below), so
        // the struct is plain data.
        unsafe impl #impl_g #krate::mpi::Equivalence for #ident #ty_g #where_g {}
        const _: () = {
            #[allow(dead_code)]
            fn __check #impl_g () #where_g {
                fn __equivalent<T: #krate::mpi::Equivalence>() {}
                #(#checks)*
            }
        };
    }
}
