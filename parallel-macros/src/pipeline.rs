//! The one pipeline of the function attributes: parse the options, model
//! the function, validate it, expand it. Each attribute is its option
//! table, its validation and its expansion, wired together here.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};

use crate::ctxt::Ctxt;
use crate::expand;
use crate::model::FnModel;
use crate::options::{self, DelayedOptions, MainOptions, MapOptions, Table};
use crate::valid;

/// What a mistake in the options does.
#[derive(Clone, Copy)]
enum OptionErrors {
    /// Listed after the function's own mistakes; alone, they do not stop
    /// the expansion (it uses the defaults for the bad options), so call
    /// sites keep working and the user sees only the real mistakes.
    Soft,
    /// Listed first, and like a mistake in the function they stop the
    /// expansion: the fallback is emitted instead.
    Fatal,
}

/// An attribute on a function, as the stages of the pipeline; `O` is its
/// option set.
pub(crate) struct FnAttribute<O: 'static> {
    /// Its options (and its name).
    options: &'static Table<O>,
    /// What a mistake in its options does.
    option_errors: OptionErrors,
    /// Reports what it needs of the function (with these options) and the
    /// function lacks.
    validate: fn(&FnModel, &O, &mut Ctxt),
    /// The expansion of a valid function.
    expand: fn(&FnModel, &O) -> TokenStream,
    /// What stands beside the errors when it does not expand.
    fallback: fn(&FnModel) -> TokenStream,
}

/// `#[parallel_map]`.
pub(crate) const PARALLEL_MAP: FnAttribute<MapOptions> = FnAttribute::new(
    &options::PARALLEL_MAP,
    valid::parallel_map,
    expand::parallel_map::expand,
);

/// `#[delayed]`.
pub(crate) const DELAYED: FnAttribute<DelayedOptions> =
    FnAttribute::new(&options::DELAYED, valid::delayed, expand::delayed::expand);

/// `#[mpi_main]`: a bad option stops it, since the options decide how MPI
/// starts; its fallback still gives the program a `main`.
pub(crate) const MPI_MAIN: FnAttribute<MainOptions> = FnAttribute::new(
    &options::MPI_MAIN,
    valid::mpi_main,
    expand::mpi_main::expand,
)
.with_fatal_options()
.with_fallback(expand::mpi_main::fallback);

/// The function unchanged, so that the rest of the crate still type-checks.
fn unchanged(m: &FnModel) -> TokenStream {
    m.item.to_token_stream()
}

impl<O: Default> FnAttribute<O> {
    /// An attribute whose option errors are soft and whose fallback is the
    /// function unchanged.
    const fn new(
        options: &'static Table<O>,
        validate: fn(&FnModel, &O, &mut Ctxt),
        expand: fn(&FnModel, &O) -> TokenStream,
    ) -> Self {
        FnAttribute {
            options,
            option_errors: OptionErrors::Soft,
            validate,
            expand,
            fallback: unchanged,
        }
    }

    const fn with_fatal_options(mut self) -> Self {
        self.option_errors = OptionErrors::Fatal;
        self
    }

    const fn with_fallback(mut self, fallback: fn(&FnModel) -> TokenStream) -> Self {
        self.fallback = fallback;
        self
    }

    /// Runs the attribute on `item` with the options `attr`. Every error is
    /// reported, beside the expansion or the fallback; an item that is not
    /// a function is emitted unchanged beside the one error that says so.
    pub(crate) fn run(&self, attr: TokenStream, item: TokenStream) -> TokenStream {
        let mut option_cx = Ctxt::default();
        let options = self.options.parse(attr, &mut option_cx);
        let m = match FnModel::parse(item.clone(), self.options.attr) {
            Ok(m) => m,
            Err(e) => {
                let e = e.into_compile_error();
                return quote!(#e #item);
            }
        };
        let mut fn_cx = Ctxt::default();
        (self.validate)(&m, &options, &mut fn_cx);
        let (option_errors, fn_errors) = (option_cx.into_error(), fn_cx.into_error());
        let mut all = Ctxt::default();
        let stop = match self.option_errors {
            OptionErrors::Soft => {
                let stop = fn_errors.is_some();
                all.extend(fn_errors);
                all.extend(option_errors);
                stop
            }
            OptionErrors::Fatal => {
                let stop = fn_errors.is_some() || option_errors.is_some();
                all.extend(option_errors);
                all.extend(fn_errors);
                stop
            }
        };
        let errors = all.into_error().map(syn::Error::into_compile_error);
        let output = if stop {
            (self.fallback)(&m)
        } else {
            (self.expand)(&m, &options)
        };
        quote!(#errors #output)
    }
}
