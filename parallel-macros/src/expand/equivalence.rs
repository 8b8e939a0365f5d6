//! `#[derive(Equivalence)]`: an element type of the buffer path.
//!
//! One derive for both builds of the runtime. It emits:
//!
//! - with the runtime's `mpi` feature, rsmpi's `Equivalence` impl (the MPI
//!   datatype of the struct, built once, as rsmpi's own derive does), at
//!   the path given by `#[mpi(crate = "…::mpi::rsmpi")]`;
//! - without it, the runtime's stand-in marker (`unsafe impl Equivalence`);
//! - in both, `AnyBitPattern` ("every bit pattern is a valid value", what
//!   a receive needs) when every field has it: a struct holding a `bool`
//!   can be sent but not received into;
//! - a check of each field, at its span.
//!
//! The macro cannot see the runtime's features, so the first two go
//! through two `macro_rules!` of the runtime (`__mpi_feature_on!`,
//! `__mpi_feature_off!`), one of which drops its input. Everything of the
//! runtime is reached through its `__private` module.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::ctxt::Ctxt;

/// The paths from `#[mpi(crate = "…")]`: the runtime (`…` without
/// `::mpi::rsmpi`, else `::parallel_runtime`) and rsmpi (as written, as
/// users of rsmpi's own derive write it, else the runtime's
/// `__private::mpi::rsmpi`).
fn paths(input: &syn::DeriveInput) -> syn::Result<(syn::Path, syn::Path)> {
    let mut runtime: syn::Path = syn::parse_quote!(::parallel_runtime);
    let mut rsmpi: Option<syn::Path> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("mpi")) {
        attr.parse_nested_meta(|meta| {
            if !meta.path.is_ident("crate") {
                return Err(meta.error(
                    "unknown option; expected `crate = \"::parallel_runtime::mpi::rsmpi\"`",
                ));
            }
            let s: syn::LitStr = meta.value()?.parse()?;
            let p: syn::Path = s.parse()?;
            let names: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
            if names.len() > 2 && names.ends_with(&["mpi".to_owned(), "rsmpi".to_owned()]) {
                runtime = syn::Path {
                    leading_colon: p.leading_colon,
                    segments: p.segments.iter().take(names.len() - 2).cloned().collect(),
                };
            }
            rsmpi = Some(p);
            Ok(())
        })?;
    }
    let rsmpi = rsmpi.unwrap_or_else(|| syn::parse_quote!(#runtime::__private::mpi::rsmpi));
    Ok((runtime, rsmpi))
}

/// The MPI datatype of a field's type, as rsmpi's derive writes it: a
/// named type has its own, an array is contiguous copies of its element, a
/// tuple a structure (the last two as references, which
/// `UncommittedDatatypeRef::from` takes like the first).
fn datatype(rsmpi: &syn::Path, ty: &syn::Type) -> syn::Result<TokenStream> {
    Ok(match ty {
        syn::Type::Path(p) => quote!(
            <#p as #rsmpi::datatype::Equivalence>::equivalent_datatype()
        ),
        syn::Type::Array(a) => {
            let elem = datatype(rsmpi, &a.elem)?;
            let len = &a.len;
            quote!(
                &#rsmpi::datatype::UncommittedUserDatatype::contiguous(
                    __count({ let n: usize = #len; n }),
                    &#elem,
                )
            )
        }
        syn::Type::Tuple(t) => {
            let parts = t
                .elems
                .iter()
                .map(|e| datatype(rsmpi, e))
                .collect::<syn::Result<Vec<_>>>()?;
            let ones = t.elems.iter().map(|_| quote!(1 as #rsmpi::Count));
            let idx = (0..t.elems.len()).map(syn::Index::from);
            quote!(
                &#rsmpi::datatype::UncommittedUserDatatype::structured(
                    &[#(#ones),*],
                    &[#(::core::mem::offset_of!(#t, #idx) as #rsmpi::Address),*],
                    &[#(#rsmpi::datatype::UncommittedDatatypeRef::from(#parts)),*],
                )
            )
        }
        other => return Err(unsupported(other)),
    })
}

fn unsupported(ty: &syn::Type) -> syn::Error {
    syn::Error::new(
        ty.span(),
        "#[derive(Equivalence)] supports fields that are named types, arrays or tuples of \
         plain data (numbers, `bool`, other `Equivalence` structs)",
    )
}

/// Compile-time checks that `ty`'s elements implement `Equivalence`
/// (arrays and tuples looked into, as MPI builds their datatype from their
/// elements). Other types get none: [`datatype`] reports them.
fn checks(ty: &syn::Type, out: &mut Vec<TokenStream>) {
    match ty {
        syn::Type::Path(_) => out.push(quote_spanned!(ty.span()=> __equivalent::<#ty>();)),
        syn::Type::Array(a) => checks(&a.elem, out),
        syn::Type::Tuple(t) => {
            for e in &t.elems {
                checks(e, out);
            }
        }
        _ => {}
    }
}

/// The struct, checked: its paths, fields, their datatypes and checks.
struct Model {
    ident: syn::Ident,
    /// The runtime's path (its `__private` is what the expansion reaches).
    runtime: syn::Path,
    /// rsmpi's path, as `#[mpi(crate = "…")]` gives it.
    rsmpi: syn::Path,
    members: Vec<syn::Member>,
    field_tys: Vec<syn::Type>,
    /// The MPI datatype of each field.
    datatypes: Vec<TokenStream>,
    /// One check per element type of the fields, at its span.
    field_checks: Vec<TokenStream>,
}

/// Parses and validates the struct: every mistake at once, each at its span.
fn model(item: TokenStream) -> syn::Result<Model> {
    let input = syn::parse2::<syn::DeriveInput>(item)?;
    let syn::Data::Struct(data) = &input.data else {
        return Err(syn::Error::new(
            input.ident.span(),
            "#[derive(Equivalence)] works on structs of plain data (numbers, `bool`, arrays and \
             other such structs), not on enums or unions",
        ));
    };
    let mut cx = Ctxt::default();
    if !input.generics.params.is_empty() {
        cx.error(
            input.generics.span(),
            "#[derive(Equivalence)] works on structs without generic parameters: MPI builds one \
             datatype per type, once",
        );
    }
    let (runtime, rsmpi) = paths(&input).unwrap_or_else(|e| {
        cx.push(e);
        (
            syn::parse_quote!(::parallel_runtime),
            syn::parse_quote!(::parallel_runtime::__private::mpi::rsmpi),
        )
    });
    let mut field_checks = Vec::new();
    let mut datatypes = Vec::new();
    for f in &data.fields {
        checks(&f.ty, &mut field_checks);
        match datatype(&rsmpi, &f.ty) {
            Ok(t) => datatypes.push(t),
            Err(e) => cx.push(e),
        }
    }
    if let Some(e) = cx.into_error() {
        return Err(e);
    }
    Ok(Model {
        ident: input.ident.clone(),
        runtime,
        rsmpi,
        members: data
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| match &f.ident {
                Some(id) => syn::Member::Named(id.clone()),
                None => syn::Member::Unnamed(syn::Index::from(i)),
            })
            .collect(),
        field_tys: data.fields.iter().map(|f| f.ty.clone()).collect(),
        datatypes,
        field_checks,
    })
}

pub(crate) fn expand(item: TokenStream) -> TokenStream {
    let m = match model(item) {
        Ok(m) => m,
        Err(e) => return e.into_compile_error(),
    };
    let p = &m.runtime;
    let rsmpi_impl = rsmpi_impl(&m);
    let (ident, field_tys, field_checks) = (&m.ident, &m.field_tys, &m.field_checks);
    quote! {
        #p::__private::__mpi_feature_on! {
            #rsmpi_impl
        }
        #p::__private::__mpi_feature_off! {
            // SAFETY: every field implements `Equivalence` (checked below),
            // so the struct is plain data.
            unsafe impl #p::__private::mpi::Equivalence for #ident {}
        }
        // SAFETY: the bounds hold only when every field accepts any bit
        // pattern; then so does the struct (its padding holds no value).
        // (`for<'__a>` keeps the bounds from being checked where the impl
        // is written: a struct with a `bool` is still an `Equivalence`,
        // it just cannot be received into.)
        unsafe impl #p::__private::mpi::AnyBitPattern for #ident
        where
            #(for<'__a> #field_tys: #p::__private::mpi::AnyBitPattern,)*
        {}
        const _: () = {
            #[allow(dead_code)]
            fn __check() {
                fn __equivalent<T: #p::__private::mpi::Equivalence>() {}
                #(#field_checks)*
            }
        };
    }
}

/// rsmpi's `Equivalence`: the struct's datatype, built once, as rsmpi's
/// own derive builds it.
fn rsmpi_impl(m: &Model) -> TokenStream {
    let (rsmpi, ident, members, datatypes) = (&m.rsmpi, &m.ident, &m.members, &m.datatypes);
    let name = ident.to_string();
    let ones = members.iter().map(|_| quote!(1 as #rsmpi::Count));
    quote! {
        // SAFETY: the datatype describes every field at its offset with
        // the field's own datatype, as rsmpi's derive builds it.
        unsafe impl #rsmpi::datatype::Equivalence for #ident {
            type Out = #rsmpi::datatype::DatatypeRef<'static>;
            fn equivalent_datatype() -> Self::Out {
                fn __count(n: usize) -> #rsmpi::Count {
                    <#rsmpi::Count as ::core::convert::TryFrom<usize>>::try_from(n)
                        .unwrap_or_else(|_| ::core::panic!(
                            "#[derive(Equivalence)]: an array of {} elements is longer than \
                             an MPI datatype can describe", n))
                }
                static DATATYPE: #rsmpi::internal::once_cell::sync::Lazy<
                    #rsmpi::datatype::UserDatatype,
                > = #rsmpi::internal::once_cell::sync::Lazy::new(|| {
                    #rsmpi::datatype::internal::check_derive_equivalence_universe_state(#name);
                    #rsmpi::datatype::UserDatatype::structured::<
                        #rsmpi::datatype::UncommittedDatatypeRef,
                    >(
                        &[#(#ones),*],
                        &[#(::core::mem::offset_of!(#ident, #members) as #rsmpi::Address),*],
                        &[#(#rsmpi::datatype::UncommittedDatatypeRef::from(#datatypes)),*],
                    )
                });
                DATATYPE.as_ref()
            }
        }
    }
}
