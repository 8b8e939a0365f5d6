//! Errors collected across the stages, so that every mistake is reported in
//! one compilation, each at its own span (serde's `Ctxt`).

use proc_macro2::Span;

/// Collects errors with `syn::Error::combine`, in the order they are found.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Option<syn::Error>,
}

impl Ctxt {
    /// Adds `error` after those found so far.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(all) => all.combine(error),
            None => self.errors = Some(error),
        }
    }

    /// Adds every error of `errors` (if any) after those found so far.
    pub(crate) fn extend(&mut self, errors: Option<syn::Error>) {
        if let Some(e) = errors {
            self.push(e);
        }
    }

    /// Adds the error `msg` at `span`.
    pub(crate) fn error(&mut self, span: Span, msg: impl std::fmt::Display) {
        self.push(syn::Error::new(span, msg));
    }

    /// All errors so far, as one `syn::Error`, or `None`.
    pub(crate) fn into_error(self) -> Option<syn::Error> {
        self.errors
    }
}
