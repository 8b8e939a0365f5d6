//! A typed model of the annotated function: what the validation and the
//! expansions read, parsed once.

use proc_macro2::{Span, TokenStream};
use quote::format_ident;
use syn::spanned::Spanned;

/// One parameter of the annotated function.
pub(crate) struct Param {
    /// A name usable in generated code: the user's when the pattern is a
    /// plain identifier, else `__argN`.
    pub(crate) ident: syn::Ident,
    pub(crate) ty: syn::Type,
    /// The span of the whole parameter (`name: Type`).
    pub(crate) span: Span,
}

/// The parameters of a `#[parallel_map]` function by role.
pub(crate) struct Roles<'a> {
    /// Those that take each item (one, or a tuple's fields).
    pub(crate) per_item: &'a [Param],
    /// Those passed once and shared by all calls.
    pub(crate) shared: &'a [Param],
    /// The one that receives the worker's state (`&mut State`).
    pub(crate) state: Option<&'a Param>,
}

/// The annotated function, as the expansions need it.
pub(crate) struct FnModel {
    pub(crate) item: syn::ItemFn,
    /// The typed parameters (a receiver is left out: validation reports it).
    pub(crate) params: Vec<Param>,
    /// `None` for `-> ()` written or implied.
    pub(crate) output: Option<syn::Type>,
}

impl FnModel {
    /// Parses the item under `#[attr]` as a function; the error says where
    /// the attribute goes.
    pub(crate) fn parse(item: TokenStream, attr: &str) -> syn::Result<Self> {
        let item = syn::parse2::<syn::ItemFn>(item).map_err(|e| {
            syn::Error::new(
                e.span(),
                format_args!("#[{attr}] goes on a function: `#[{attr}] fn name(…) {{ … }}`"),
            )
        })?;
        Ok(Self::new(item))
    }

    fn new(item: syn::ItemFn) -> Self {
        let params = item
            .sig
            .inputs
            .iter()
            .filter_map(|input| match input {
                syn::FnArg::Typed(pt) => Some(pt),
                syn::FnArg::Receiver(_) => None,
            })
            .enumerate()
            .map(|(i, pt)| Param {
                ident: param_ident(i, &pt.pat),
                ty: (*pt.ty).clone(),
                span: pt.span(),
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

    pub(crate) fn name(&self) -> &syn::Ident {
        &self.item.sig.ident
    }

    /// The return type, `()` when none is written.
    pub(crate) fn output_ty(&self) -> syn::Type {
        self.output.clone().unwrap_or_else(|| syn::parse_quote!(()))
    }

    /// The span of the return type, else `fallback`.
    pub(crate) fn output_span(&self, fallback: Span) -> Span {
        self.output.as_ref().map_or(fallback, |t| t.span())
    }

    /// The parameters by role: the first `per_item` take each item, the
    /// last takes the worker's state when `has_state`, and those between
    /// are shared by all calls. Validation has checked that there are
    /// enough; with too few, the roles come out short, never out of range.
    pub(crate) fn roles(&self, per_item: usize, has_state: bool) -> Roles<'_> {
        let (state, rest) = match self.params.split_last() {
            Some((last, rest)) if has_state => (Some(last), rest),
            _ => (None, &self.params[..]),
        };
        let (per_item, shared) = rest.split_at(per_item.min(rest.len()));
        Roles {
            per_item,
            shared,
            state,
        }
    }

    /// The span to blame for "no parameters": the parentheses.
    pub(crate) fn params_span(&self) -> Span {
        self.item.sig.paren_token.span.join()
    }
}

/// The user's name for the `i`-th parameter when its pattern is a plain
/// identifier, else `__argN`.
fn param_ident(i: usize, pat: &syn::Pat) -> syn::Ident {
    match pat {
        syn::Pat::Ident(p) if p.subpat.is_none() && p.ident != "self" => {
            syn::Ident::new(&p.ident.to_string(), p.ident.span())
        }
        other => format_ident!("__arg{}", i, span = other.span()),
    }
}
