//! Validation: what each attribute needs of the function, beyond parsing.
//! Every problem goes to the [`Ctxt`] at its own span, with a message that
//! says what to write instead; nothing here stops at the first one.

use syn::spanned::Spanned;

use crate::ctxt::Ctxt;
use crate::model::FnModel;
use crate::options::{DelayedOptions, MainOptions, MapOptions};
use crate::types;

/// `#[parallel_map]`: a plain function with its per-item parameters (and
/// with `init`, its state last), whose shared parameters can be shared.
pub(crate) fn parallel_map(m: &FnModel, o: &MapOptions, cx: &mut Ctxt) {
    plain_fn(&m.item, "parallel_map", cx);
    if m.params.is_empty() {
        cx.error(
            m.params_span(),
            format_args!(
                "#[parallel_map] needs at least one parameter: the first is the per-item \
                 parameter (`{name}::map` takes an iterable of it); any others are shared by \
                 all calls, e.g. `fn {name}(x: f64, scale: &Params) -> f64`",
                name = m.name()
            ),
        );
    }
    if !m.params.is_empty() {
        roles(m, o, cx);
    }
    let roles = m.roles(o.per_item(), o.init.is_some());
    for p in roles.shared {
        if types::is_mut_ref(&p.ty) {
            cx.error(
                p.ty.span(),
                format_args!(
                    "shared parameter `{}` is a mutable borrow, which parallel calls cannot share: \
                     take `&T` (with a `Mutex` or atomics inside for what must change), or make it \
                     the first, per-item, parameter",
                    p.ident
                ),
            );
        }
    }
}

/// What `items = n` and `init = "…"` ask of the parameters: `n` per-item
/// ones, then (with `init`) the state, last, as `&mut State`.
fn roles(m: &FnModel, o: &MapOptions, cx: &mut Ctxt) {
    let name = m.name();
    let per_item = o.per_item();
    let state = usize::from(o.init.is_some());
    if let Some(init) = &o.init {
        let last = &m.params[m.params.len() - 1];
        if m.params.len() <= per_item {
            cx.error(
                m.params_span(),
                format_args!(
                    "with `init`, the last parameter receives each worker's state, after the \
                     per-item one: write `fn {name}(x: u64, state: &mut State)`"
                ),
            );
        } else if !types::is_mut_ref(&last.ty) {
            cx.error(
                last.ty.span(),
                format_args!(
                    "with `init = \"{init}\"`, the last parameter receives each worker's state \
                     and must be a mutable borrow: write `{}: &mut {}`",
                    last.ident,
                    types::text(&last.ty),
                    init = quote::ToTokens::to_token_stream(init)
                        .to_string()
                        .replace(' ', ""),
                ),
            );
        }
    }
    if per_item > 1 && m.params.len() < per_item + state {
        cx.error(
            m.params_span(),
            format_args!(
                "`items = {per_item}` passes each item, a tuple of {per_item} values, to the first \
                 {per_item} parameters, but `{name}` has {} {}: add parameters, or lower `items`",
                m.params.len() - state.min(m.params.len()),
                if state == 1 { "besides its state" } else { "in all" },
            ),
        );
    }
}

/// `#[delayed]`: a plain function whose inputs and output own their data.
pub(crate) fn delayed(m: &FnModel, _: &DelayedOptions, cx: &mut Ctxt) {
    plain_fn(&m.item, "delayed", cx);
    for p in &m.params {
        if types::has_lifetimes(&p.ty) {
            cx.error(
                p.ty.span(),
                format_args!(
                    "#[delayed] parameters must own their values, because the task runs later, \
                     after `{name}(…)` has returned: take `{owned}` instead of `{orig}` (to share \
                     one large input between tasks without copying it, take an `Arc<…>`)",
                    name = m.name(),
                    owned = types::owned_hint(&p.ty),
                    orig = types::text(&p.ty),
                ),
            );
        }
    }
    if let Some(out) = &m.output {
        if let syn::Type::ImplTrait(t) = out {
            cx.error(
                t.span(),
                "#[delayed] needs a concrete return type, because it becomes `Delayed<T>`: \
                 name the type instead of `impl Trait` (box it if needed)",
            );
        } else if types::has_lifetimes(out) {
            cx.error(
                out.span(),
                "#[delayed] results must own their data (`T: 'static`), because they outlive \
                 the call that made them: return an owned type such as `String` or `Vec<T>`",
            );
        }
    }
}

/// `#[mpi_main]`: the program's `fn main`, plain, taking the world.
pub(crate) fn mpi_main(m: &FnModel, _: &MainOptions, cx: &mut Ctxt) {
    let name = m.name();
    if name != "main" {
        cx.error(
            name.span(),
            format_args!(
                "#[mpi_main] goes on the program's `fn main`, not on `fn {name}`: it writes the \
                 real entry point; call `{name}` from `main` instead"
            ),
        );
    }
    plain_fn(&m.item, "mpi_main", cx);
    let Some((world, extra)) = m.params.split_first() else {
        cx.error(
            m.params_span(),
            "#[mpi_main] hands `main` the world communicator: write \
             `fn main(world: Comm)` (with `use parallel_runtime::prelude::*;`)",
        );
        return;
    };
    if !types::is_comm(&world.ty) {
        let hint = match &world.ty {
            syn::Type::Reference(r) if types::is_comm(&r.elem) => {
                "; take it by value (`world: Comm`), not by reference"
            }
            _ => "",
        };
        cx.error(
            world.ty.span(),
            format_args!(
                "the parameter of #[mpi_main] is the world communicator, of type `Comm` \
                 (`parallel_runtime::mpi::Comm`){hint}"
            ),
        );
    }
    for p in extra {
        cx.error(
            p.span,
            "#[mpi_main] passes one parameter, the world communicator: remove this one \
             (read command-line arguments with `std::env::args()`)",
        );
    }
}

/// What every function attribute here needs: a free, synchronous, safe,
/// non-generic function.
fn plain_fn(item: &syn::ItemFn, attr: &str, cx: &mut Ctxt) {
    qualifiers(&item.sig, attr, cx);
    generics(&item.sig, attr, cx);
    for input in &item.sig.inputs {
        match input {
            syn::FnArg::Receiver(r) => cx.error(
                r.span(),
                format_args!(
                    "#[{attr}] works on free functions, not methods: move `{}` out of the `impl` \
                     block and pass the value as an ordinary parameter",
                    item.sig.ident
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

/// `const`, `async`, `unsafe`, `extern "…"` and `...`, which no attribute
/// here supports: each where it is written, with what to do instead.
fn qualifiers(sig: &syn::Signature, attr: &str, cx: &mut Ctxt) {
    let unsafety = match &sig.safety {
        syn::Safety::Unsafe(u) => Some(u.span()),
        _ => None,
    };
    let found = [
        (
            sig.constness.map(|c| c.span()),
            format!("#[{attr}] cannot be used on a `const fn`: remove `const`"),
        ),
        (
            sig.asyncness.map(|a| a.span()),
            format!(
                "#[{attr}] cannot be used on an `async fn`: it runs plain functions on threads; \
                 remove `async` (block on any future inside the function)"
            ),
        ),
        (
            unsafety,
            format!(
                "#[{attr}] cannot be used on an `unsafe fn`: annotate a safe function that \
                 makes the unsafe call inside an `unsafe {{ … }}` block"
            ),
        ),
        (
            sig.abi.as_ref().map(|abi| abi.span()),
            format!("#[{attr}] cannot be used on an `extern` function: remove the ABI"),
        ),
        (
            sig.variadic.as_ref().map(|v| v.span()),
            format!("#[{attr}] cannot be used on a variadic function"),
        ),
    ];
    for (span, msg) in found {
        if let Some(span) = span {
            cx.error(span, msg);
        }
    }
}

/// Generic parameters or a `where` clause: the expansions need concrete types.
fn generics(sig: &syn::Signature, attr: &str, cx: &mut Ctxt) {
    if sig.generics.params.is_empty() && sig.generics.where_clause.is_none() {
        return;
    }
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
