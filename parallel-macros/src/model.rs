//! A typed model of an annotated free function, and the checks every
//! attribute on a function shares.

use proc_macro2::{Span, TokenStream};
use quote::format_ident;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;

use crate::args::Ctxt;

/// One parameter of the annotated function.
pub(crate) struct Param {
    /// A name usable in generated code: the user's when the pattern is a
    /// plain identifier, else `__argN`.
    pub(crate) ident: syn::Ident,
    pub(crate) ty: syn::Type,
}

/// The annotated function, as the expansions need it.
pub(crate) struct FnModel {
    pub(crate) item: syn::ItemFn,
    pub(crate) params: Vec<Param>,
    /// `None` for `-> ()` written or implied.
    pub(crate) output: Option<syn::Type>,
}

impl FnModel {
    pub(crate) fn name(&self) -> &syn::Ident {
        &self.item.sig.ident
    }

    /// The return type, `()` when none is written.
    pub(crate) fn output_ty(&self) -> syn::Type {
        self.output.clone().unwrap_or_else(|| syn::parse_quote!(()))
    }
}

/// The pipeline every function attribute shares: parse the options
/// (collecting their errors), parse the function and run the common checks
/// and the attribute's own `check`; then either `expand`, or, on a problem
/// with the function, emit it unchanged beside every error so the rest of
/// the crate still type-checks. Option errors alone do not stop the
/// expansion (it uses the defaults for the bad options), so call sites keep
/// working and the user sees only the real mistakes.
pub(crate) fn expand_fn_attribute<O>(
    attr_name: &str,
    attr: TokenStream,
    item: TokenStream,
    parse_options: impl FnOnce(TokenStream, &mut Ctxt) -> O,
    check: impl FnOnce(&FnModel, &mut Ctxt),
    expand: impl FnOnce(&FnModel, &O) -> TokenStream,
) -> TokenStream {
    let mut option_errors = Ctxt::default();
    let options = parse_options(attr, &mut option_errors);
    let func = match parse_fn(item.clone(), attr_name) {
        Ok(f) => f,
        Err(e) => {
            let e = e.into_compile_error();
            return quote::quote!(#e #item);
        }
    };
    let mut sig_errors = Ctxt::default();
    check_plain_fn(&func, attr_name, &mut sig_errors);
    let m = model(func);
    check(&m, &mut sig_errors);
    let option_errors = option_errors.finish().err();
    if let Err(mut e) = sig_errors.finish() {
        e.extend(option_errors);
        let e = e.into_compile_error();
        let item_fn = &m.item;
        return quote::quote!(#e #item_fn);
    }
    let expansion = expand(&m, &options);
    let errors = option_errors.map(syn::Error::into_compile_error);
    quote::quote!(#errors #expansion)
}

/// Parses the item under the attribute as a function.
pub(crate) fn parse_fn(item: TokenStream, attr: &str) -> syn::Result<syn::ItemFn> {
    syn::parse2::<syn::ItemFn>(item.clone()).map_err(|e| {
        syn::Error::new(
            e.span(),
            format_args!("#[{attr}] goes on a function: `#[{attr}] fn name(…) {{ … }}`"),
        )
    })
}

/// Checks what every function attribute here needs: a free, synchronous,
/// safe, non-generic function. Each problem is reported at its own span.
pub(crate) fn check_plain_fn(item: &syn::ItemFn, attr: &str, cx: &mut Ctxt) {
    let sig = &item.sig;
    if let Some(c) = &sig.constness {
        cx.error(
            c.span(),
            format_args!("#[{attr}] cannot be used on a `const fn`: remove `const`"),
        );
    }
    if let Some(a) = &sig.asyncness {
        cx.error(
            a.span(),
            format_args!(
                "#[{attr}] cannot be used on an `async fn`: it runs plain functions on threads; \
                 remove `async` (block on any future inside the function)"
            ),
        );
    }
    if let syn::Safety::Unsafe(u) = &sig.safety {
        cx.error(
            u.span(),
            format_args!(
                "#[{attr}] cannot be used on an `unsafe fn`: annotate a safe function that \
                 makes the unsafe call inside an `unsafe {{ … }}` block"
            ),
        );
    }
    if let Some(abi) = &sig.abi {
        cx.error(
            abi.span(),
            format_args!("#[{attr}] cannot be used on an `extern` function: remove the ABI"),
        );
    }
    if let Some(v) = &sig.variadic {
        cx.error(
            v.span(),
            format_args!("#[{attr}] cannot be used on a variadic function"),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        let span = if sig.generics.params.is_empty() {
            sig.generics.where_clause.span()
        } else {
            sig.generics.params.span()
        };
        cx.error(
            span,
            format_args!(
                "#[{attr}] does not support generic parameters: the generated entry points need \
                 concrete types; annotate a non-generic wrapper such as \
                 `fn {name}_f64(x: f64) -> f64 {{ {name}(x) }}`",
                name = sig.ident
            ),
        );
    }
    for input in &sig.inputs {
        match input {
            syn::FnArg::Receiver(r) => cx.error(
                r.span(),
                format_args!(
                    "#[{attr}] works on free functions, not methods: move `{}` out of the `impl` \
                     block and pass the value as an ordinary parameter",
                    sig.ident
                ),
            ),
            syn::FnArg::Typed(pt) => {
                if let syn::Type::ImplTrait(t) = &*pt.ty {
                    cx.error(
                        t.span(),
                        format_args!(
                            "#[{attr}] does not support `impl Trait` parameters (they are generic): \
                             name a concrete type"
                        ),
                    );
                }
            }
        }
    }
}

/// The typed parameters (receivers are skipped: [`check_plain_fn`] reports them).
pub(crate) fn model(item: syn::ItemFn) -> FnModel {
    let params = item
        .sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            syn::FnArg::Typed(pt) => Some(pt),
            syn::FnArg::Receiver(_) => None,
        })
        .enumerate()
        .map(|(i, pt)| {
            let ident = match &*pt.pat {
                syn::Pat::Ident(p) if p.subpat.is_none() && p.ident != "self" => {
                    syn::Ident::new(&p.ident.to_string(), p.ident.span())
                }
                other => format_ident!("__arg{}", i, span = other.span()),
            };
            Param {
                ident,
                ty: (*pt.ty).clone(),
            }
        })
        .collect();
    let output = match &item.sig.output {
        syn::ReturnType::Default => None,
        syn::ReturnType::Type(_, ty) => Some((**ty).clone()),
    };
    FnModel {
        item,
        params,
        output,
    }
}

/// Gives every elided lifetime in `ty` (`&T`, `'_`) the name `lifetime`;
/// returns whether there was one.
pub(crate) fn name_elided_lifetimes(ty: &mut syn::Type, lifetime: &syn::Lifetime) -> bool {
    struct Namer<'a> {
        lifetime: &'a syn::Lifetime,
        found: bool,
    }
    impl VisitMut for Namer<'_> {
        fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
            if r.lifetime.is_none() {
                r.lifetime = Some(self.lifetime.clone());
                self.found = true;
            }
            syn::visit_mut::visit_type_reference_mut(self, r);
        }
        fn visit_lifetime_mut(&mut self, l: &mut syn::Lifetime) {
            if l.ident == "_" {
                *l = self.lifetime.clone();
                self.found = true;
            }
        }
        fn visit_type_fn_ptr_mut(&mut self, _: &mut syn::TypeFnPtr) {
            // Elision inside `fn(&T)` binds to that fn type: leave it.
        }
    }
    let mut namer = Namer {
        lifetime,
        found: false,
    };
    namer.visit_type_mut(ty);
    namer.found
}

/// `&mut T`, which cannot be shared by parallel calls.
pub(crate) fn is_mut_ref(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Reference(r) if r.mutability.is_some())
}

/// For `Result<T, E>` written as such, `(T, E)`.
pub(crate) fn result_parts(ty: &syn::Type) -> Option<(syn::Type, syn::Type)> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    match (types.next(), types.next(), types.next()) {
        (Some(t), Some(e), None) => Some((t, e)),
        _ => None,
    }
}

/// Whether the return type's last path segment is `Result` (so `try_map`
/// applies; aliases like `io::Result<T>` included).
pub(crate) fn looks_like_result(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Result"))
}

/// The span to blame for "no parameters".
pub(crate) fn params_span(item: &syn::ItemFn) -> Span {
    item.sig.paren_token.span.join()
}

/// Whether `ty` names a lifetime other than `'static`.
pub(crate) fn has_lifetimes(ty: &syn::Type) -> bool {
    struct Finder(bool);
    impl<'ast> syn::visit::Visit<'ast> for Finder {
        fn visit_lifetime(&mut self, l: &'ast syn::Lifetime) {
            if l.ident != "static" {
                self.0 = true;
            }
        }
        fn visit_type_reference(&mut self, r: &'ast syn::TypeReference) {
            if r.lifetime.is_none() {
                self.0 = true;
            }
            syn::visit::visit_type_reference(self, r);
        }
    }
    let mut f = Finder(false);
    syn::visit::Visit::visit_type(&mut f, ty);
    f.0
}
