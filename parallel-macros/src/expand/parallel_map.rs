//! `#[parallel_map]`: the function stays as written, and a type of the same
//! name beside it holds `map`, `map_with`, `try_map`, `try_map_with`,
//! `reduce` and `reduce_with` as associated functions.
//!
//! Why a type (an uninhabited `enum`) and not a module: a function and a type
//! may share a name, and associated functions resolve names in the scope where
//! the function is written. A module would not see items declared inside a
//! function body (where tests and doctests put their functions), because its
//! `super` is the enclosing module, not the block.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;

use crate::args::{self, Ctxt};
use crate::model::{self, FnModel};

const ATTR: &str = "parallel_map";
const KEYS: &[&str] = &["schedule", "chunk_size", "backend", "progress", "crate"];
const SCHEDULES: &[&str] = &["static", "dynamic", "guided"];
const BACKENDS: &[&str] = &["serial", "threads", "mpi"];

#[derive(Default)]
struct Options {
    schedule: Option<String>,
    chunk_size: Option<u64>,
    backend: Option<(String, Span)>,
    progress: Option<bool>,
    krate: Option<syn::Path>,
}

impl Options {
    fn parse(tokens: TokenStream, cx: &mut Ctxt) -> Self {
        let mut o = Options::default();
        for arg in args::parse(tokens, ATTR, KEYS, cx) {
            match arg.key.to_string().as_str() {
                "schedule" => o.schedule = arg.choice(cx, SCHEDULES),
                "chunk_size" => o.chunk_size = arg.positive_int(cx),
                "backend" => o.backend = arg.choice(cx, BACKENDS).map(|b| (b, arg.span())),
                "progress" => o.progress = arg.flag(cx),
                "crate" => o.krate = arg.path(cx),
                _ => {}
            }
        }
        o
    }

    /// `MapOptions::new().schedule(…)…` for the attribute's defaults.
    fn defaults(&self, p: &TokenStream) -> TokenStream {
        let mut calls = TokenStream::new();
        if let Some(s) = &self.schedule {
            let v = syn::Ident::new(&args::capitalize(s), Span::call_site());
            calls.extend(quote!(.schedule(#p::Schedule::#v)));
        }
        if let Some(n) = self.chunk_size {
            let n = n as usize;
            calls.extend(quote!(.chunk_size(#n)));
        }
        if let Some((b, _)) = &self.backend {
            let v = syn::Ident::new(&args::capitalize(b), Span::call_site());
            calls.extend(quote!(.backend(#p::Backend::#v)));
        }
        if let Some(on) = self.progress {
            calls.extend(quote!(.progress(#on)));
        }
        quote!(#p::MapOptions::new() #calls)
    }
}

pub(crate) fn expand(attr: TokenStream, item: TokenStream) -> TokenStream {
    model::expand_fn_attribute(ATTR, attr, item, Options::parse, check, |m, o| {
        let item_fn = &m.item;
        let entry_points = entry_points(m, o);
        quote!(#item_fn #entry_points)
    })
}

/// What `#[parallel_map]` needs beyond a plain function.
fn check(m: &FnModel, cx: &mut Ctxt) {
    if m.params.is_empty() {
        cx.error(
            model::params_span(&m.item),
            format_args!(
                "#[parallel_map] needs at least one parameter: the first is the per-item \
                 parameter (`{name}::map` takes an iterable of it); any others are shared by \
                 all calls, e.g. `fn {name}(x: f64, scale: &Params) -> f64`",
                name = m.name()
            ),
        );
    }
    for p in m.params.iter().skip(1) {
        if model::is_mut_ref(&p.ty) {
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

fn entry_points(m: &FnModel, o: &Options) -> TokenStream {
    let krate = o
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::parallel_runtime));
    let p = quote!(#krate::__private);
    let name = m.name();
    let name_str = name.to_string();
    let vis = &m.item.vis;
    let inner_vis = vis;

    let lt: syn::Lifetime = syn::parse_quote!('__item);
    let mut item_ty = m.params[0].ty.clone();
    let mut out_ty = m.output_ty();
    let named_in = model::name_elided_lifetimes(&mut item_ty, &lt);
    let named_out = model::name_elided_lifetimes(&mut out_ty, &lt);
    let lt_param = (named_in || named_out).then(|| quote!(#lt,));

    let shared = &m.params[1..];
    let shared_decl: Vec<TokenStream> = shared
        .iter()
        .map(|s| {
            let (i, t) = (&s.ident, &s.ty);
            quote!(#i: #t)
        })
        .collect();
    let shared_pass: Vec<TokenStream> = shared
        .iter()
        .map(|s| {
            let i = &s.ident;
            quote_spanned!(s.ty.span()=> ::core::clone::Clone::clone(&#i))
        })
        .collect();
    let call = quote!(|__item| #name(__item, #(#shared_pass),*));
    // The serde probe works by method lookup on a concrete type; a result
    // that borrows (from the items) cannot cross ranks anyway.
    let borrows = named_out || model::has_lifetimes(&out_ty);
    let codec = if borrows {
        quote!(::core::option::Option::None)
    } else {
        quote! {{
            #[allow(unused_imports)]
            use #p::{ViaSerde as _, WithoutSerde as _};
            (&&#p::Probe::<#out_ty>::new()).result_codec()
        }}
    };

    let reduce_codec = if borrows {
        quote!(::core::option::Option::None)
    } else {
        quote! {{
            #[allow(unused_imports)]
            use #p::{ViaSerde as _, WithoutSerde as _};
            (&&#p::Probe::<#out_ty>::new()).reduce_codec::<__R>()
        }}
    };

    // The order check of the `mpi` backend fingerprints the items: by
    // `Hash`, else by serde, else not at all (probed like the codec).
    let fingerprint = quote! {{
        #[allow(unused_imports)]
        use #p::{ItemUnhashed as _, ItemViaHash as _, ItemViaSerde as _};
        (&&&#p::ItemProbe::<#item_ty>::new()).item_fingerprint()
    }};

    // Compile-time checks at the user's spans.
    let item_span = m.params[0].ty.span();
    let orig_item_ty = &m.params[0].ty;
    let mut checks = vec![quote_spanned!(item_span=> #p::assert_item_send::<#orig_item_ty>();)];
    for s in shared {
        let t = &s.ty;
        checks.push(quote_spanned!(t.span()=> #p::assert_shared_sync::<#t>();));
    }
    if let Some((_, span)) = &o.backend.as_ref().filter(|(b, _)| b == "mpi") {
        let t = m.output_ty();
        let span = m.output.as_ref().map_or(*span, |t| t.span());
        checks.push(quote_spanned!(span=> #p::assert_serde::<#t>();));
    }

    let defaults = o.defaults(&p);
    let generics = quote!(<#lt_param __I>);
    let bound = quote!(where __I: #p::IntoItems<Item = #item_ty>);
    // `reduce` is generic over its value type `__R` (always the function's
    // result type) so that `Clone + Send + Sync` is checked where `reduce` is
    // called: a function whose result is not `Clone` still gets `map`.
    let reduce_generics = quote!(<#lt_param __I, __R>);
    let reduce_bound = quote!(#bound, __R: #p::ReduceValue<#out_ty>);
    let reduce_call =
        quote!(|__item| #p::ReduceValue::from_result(#name(__item, #(#shared_pass),*)));
    let link = format!("[`{name_str}`](fn@{name_str})");

    let map_doc = format!(
        "Calls {link} on every item, in parallel on the shared thread pool, and returns the \
         results in input order (like Python's `Pool.map`).\n\n\
         `items` is anything iterable of the first parameter's type (a `Vec`, a slice, a range, \
         an iterator: see [`IntoItems`]({krate}::IntoItems)); the other arguments are passed once \
         and shared by every call.\n\n\
         # Panics\n\
         If the function panics for an item, this panics with an \
         [`ItemPanic`]({krate}::ItemPanic) (`{name_str}: item <index> panicked: <message>`) \
         that holds the item's own payload; the pool stays usable. With the `mpi` backend, \
         if the ranks do not hold the same items in the same order (a `HashMap` iterates in \
         an order of its own in each process), before any item runs.",
        krate = quote!(#krate).to_string().replace(' ', ""),
    );
    let with_doc = "[`map`](Self::map) with options for this call only, which win over the \
                    attribute and the `PARALLEL_*` environment variables.";
    let reduce_doc = format!(
        "Folds the results of {link} over all items with `op`, starting every block from \
         `identity`, without collecting them.\n\n\
         **Bitwise reproducible**: items are folded in blocks whose size depends on the \
         number of items alone (`reduce_block_size`) and the blocks combined in a fixed pairwise tree, so the same items \
         give the same bits whatever the number of threads, the schedule or the backend. \
         `op` must be associative (up to rounding) and `identity` its neutral element."
    );

    let try_map = model::looks_like_result(&out_ty).then(|| {
        let (ok, err) = model::result_parts(&out_ty).map_or_else(
            || {
                (
                    quote!(<#out_ty as #p::IsResult>::Ok),
                    quote!(<#out_ty as #p::IsResult>::Err),
                )
            },
            |(t, e)| (quote!(#t), quote!(#e)),
        );
        let ret = quote!(::core::result::Result<::std::vec::Vec<#ok>, #krate::ItemError<#err>>);
        let call = quote!(|__item| #p::IsResult::into_result(#name(__item, #(#shared_pass),*)));
        let doc = format!(
            "Like [`map`](Self::map) for {link}, which returns a `Result`: all the `Ok` values in \
             input order, or the failure with the lowest index among the items that ran, naming \
             that index. No new item starts after a failure is seen."
        );
        quote! {
            #[doc = #doc]
            #[track_caller]
            #inner_vis fn try_map #generics(items: __I, #(#shared_decl),*) -> #ret #bound {
                #p::try_map(&Self::__SITE, ::core::option::Option::None, items, #call)
            }

            #[doc = #with_doc]
            #[track_caller]
            #inner_vis fn try_map_with #generics(
                options: &#p::MapOptions,
                items: __I,
                #(#shared_decl),*
            ) -> #ret #bound {
                #p::try_map(&Self::__SITE, ::core::option::Option::Some(options), items, #call)
            }
        }
    });

    let mod_doc = format!(
        "Parallel entry points for {link}, written by `#[parallel_map]`: \
         [`{name_str}::map`](Self::map), [`{name_str}::reduce`](Self::reduce){}, each with a \
         `_with` form that takes options. (A type with no values, so that it can share the \
         function's name; only its associated functions matter.)",
        if try_map.is_some() {
            format!(", [`{name_str}::try_map`](Self::try_map)")
        } else {
            String::new()
        }
    );

    quote! {
        #[doc = #mod_doc]
        #[allow(non_camel_case_types)]
        #vis enum #name {}

        #[allow(dead_code, clippy::all)]
        impl #name {
            const __SITE: #p::MapSite = #p::MapSite {
                name: #name_str,
                defaults: #defaults,
            };

            fn __compile_time_checks() {
                #(#checks)*
            }

            #[doc = #map_doc]
            #[track_caller]
            #inner_vis fn map #generics(items: __I, #(#shared_decl),*) -> ::std::vec::Vec<#out_ty> #bound {
                #p::map(&Self::__SITE, ::core::option::Option::None, items, #codec, #fingerprint, #call)
            }

            #[doc = #with_doc]
            #[track_caller]
            #inner_vis fn map_with #generics(
                options: &#p::MapOptions,
                items: __I,
                #(#shared_decl),*
            ) -> ::std::vec::Vec<#out_ty> #bound {
                #p::map(&Self::__SITE, ::core::option::Option::Some(options), items, #codec, #fingerprint, #call)
            }

            #try_map

            #[doc = #reduce_doc]
            #[track_caller]
            #inner_vis fn reduce #reduce_generics(
                items: __I,
                #(#shared_decl,)*
                identity: __R,
                op: impl ::core::ops::Fn(__R, __R) -> __R + ::core::marker::Sync,
            ) -> __R #reduce_bound {
                #p::reduce(&Self::__SITE, ::core::option::Option::None, items, #reduce_codec, #fingerprint, #reduce_call, identity, op)
            }

            #[doc = #with_doc]
            #[track_caller]
            #inner_vis fn reduce_with #reduce_generics(
                options: &#p::MapOptions,
                items: __I,
                #(#shared_decl,)*
                identity: __R,
                op: impl ::core::ops::Fn(__R, __R) -> __R + ::core::marker::Sync,
            ) -> __R #reduce_bound {
                #p::reduce(&Self::__SITE, ::core::option::Option::Some(options), items, #reduce_codec, #fingerprint, #reduce_call, identity, op)
            }
        }
    }
}
