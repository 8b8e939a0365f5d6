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
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;

use crate::model::FnModel;
use crate::options::{self, MapOptions};
use crate::types;

/// The function, then the type of the same name with its entry points.
pub(crate) fn expand(m: &FnModel, o: &MapOptions) -> TokenStream {
    let e = Entries::new(m, o);
    let item_fn = &m.item;
    let name = m.name();
    let vis = &m.item.vis;
    let try_map = e.try_map();
    let type_doc = e.type_doc(try_map.is_some());
    let site = e.site(o);
    let checks = e.compile_time_checks(o);
    let map = e.map();
    let reduce = e.reduce();
    let stream = e.stream();
    quote! {
        #item_fn

        #[doc = #type_doc]
        #[allow(non_camel_case_types)]
        #vis enum #name {}

        #[allow(dead_code, clippy::all)]
        impl #name {
            #site
            #checks
            #map
            #try_map
            #reduce
            #stream
        }
    }
}

/// The doc of every `_with` form.
const WITH_DOC: &str = "[`map`](Self::map) with options for this call only, which win over the \
                        attribute and the `PARALLEL_*` environment variables.";

/// What the entry points share, worked out once from the function.
struct Entries<'a> {
    m: &'a FnModel,
    /// The parameters that take each item (one, or `n` with `items = n`).
    per_item: &'a [crate::model::Param],
    /// The parameters shared by every call (between the per-item ones and
    /// the state).
    shared: &'a [crate::model::Param],
    /// The runtime's `__private`.
    p: TokenStream,
    /// The runtime's path as text, for doc links to its public items.
    krate: String,
    /// A doc link to the function.
    link: String,
    /// `'__item,` when the item or result type borrows (elided lifetimes
    /// named `'__item`, so that the result may borrow from the items).
    lt_param: Option<TokenStream>,
    /// The per-item type, its elided lifetimes named.
    item_ty: syn::Type,
    /// The result type, its elided lifetimes named.
    out_ty: syn::Type,
    /// Whether the result borrows (from the items): then it cannot cross
    /// ranks, and the serde probe, which works by method lookup on a
    /// concrete type, is left out.
    borrows: bool,
    /// `name: Type` of each shared parameter.
    shared_decl: Vec<TokenStream>,
    /// A clone of each shared parameter, for one call.
    shared_pass: Vec<TokenStream>,
    /// The closure's pattern for one item: `__item`, or `(a, b)` with
    /// `items = 2`.
    item_pat: TokenStream,
    /// The item as the function's leading arguments: `__item`, or `a, b`.
    item_args: TokenStream,
    /// With `init`: `let __state = PerWorker::new(init);`, the slots of the
    /// workers' states, made once per call.
    state_init: Option<TokenStream>,
}

/// One entry point and its `_with` form, which takes options for the call.
struct EntryPoint<'t> {
    name: &'t str,
    doc: &'t str,
    generics: &'t TokenStream,
    /// Parameters after the shared ones.
    tail: &'t [TokenStream],
    ret: &'t TokenStream,
    bound: &'t TokenStream,
}

impl<'a> Entries<'a> {
    fn new(m: &'a FnModel, o: &MapOptions) -> Self {
        let krate = o.runtime.path();
        let lt: syn::Lifetime = syn::parse_quote!('__item);
        let roles = m.roles(o.per_item(), o.init.is_some());
        let mut item_ty = item_type(roles.per_item);
        let mut out_ty = m.output_ty();
        let named_in = types::name_elided_lifetimes(&mut item_ty, &lt);
        let named_out = types::name_elided_lifetimes(&mut out_ty, &lt);
        let shared = roles.shared;
        let name_str = m.name().to_string();
        let (item_pat, item_args) = item_pattern(roles.per_item);
        let p = o.runtime.private();
        let state_init = o.init.as_ref().zip(roles.state).map(|(init, state)| {
            let elem = match &state.ty {
                syn::Type::Reference(r) => (*r.elem).clone(),
                other => other.clone(),
            };
            let slots = quote_spanned!(init.span()=> #p::PerWorker::<#elem>::new(#init));
            quote!(let __state = #slots;)
        });
        Entries {
            per_item: roles.per_item,
            shared: roles.shared,
            item_pat,
            item_args,
            state_init,
            m,
            p,
            krate: quote!(#krate).to_string().replace(' ', ""),
            link: format!("[`{name_str}`](fn@{name_str})"),
            lt_param: (named_in || named_out).then(|| quote!(#lt,)),
            borrows: named_out || types::has_lifetimes(&out_ty),
            item_ty,
            out_ty,
            shared_decl: shared
                .iter()
                .map(|s| {
                    let (i, t) = (&s.ident, &s.ty);
                    quote!(#i: #t)
                })
                .collect(),
            shared_pass: shared
                .iter()
                .map(|s| {
                    let i = &s.ident;
                    quote_spanned!(s.ty.span()=> ::core::clone::Clone::clone(&#i))
                })
                .collect(),
        }
    }

    /// `|__item| wrap(f(__item, shared…))`: one call of the function (with
    /// `init`, given the worker's state last).
    fn call(&self, wrap: Option<TokenStream>) -> TokenStream {
        let name = self.m.name();
        let (pat, args, shared) = (&self.item_pat, &self.item_args, &self.shared_pass);
        let state = self.state_init.as_ref().map(|_| quote!(__s));
        let call = quote!(#name(#args, #(#shared,)* #state));
        let call = match wrap {
            Some(wrap) => quote!(#wrap(#call)),
            None => call,
        };
        match state {
            Some(_) => quote!(|#pat| __state.with(|__s| #call)),
            None => quote!(|#pat| #call),
        }
    }

    /// `<'__item, __I>` and `where __I: IntoItems<Item = …>`.
    fn generics(&self) -> (TokenStream, TokenStream) {
        let (p, lt, item_ty) = (&self.p, &self.lt_param, &self.item_ty);
        (
            quote!(<#lt __I>),
            quote!(where __I: #p::IntoItems<Item = #item_ty>),
        )
    }

    /// The entry point `e` and its `_with` form; `body` gets the options
    /// expression (`None`, or `Some(options)`).
    fn with_pair(
        &self,
        e: EntryPoint<'_>,
        body: impl Fn(TokenStream) -> TokenStream,
    ) -> TokenStream {
        let (p, vis) = (&self.p, &self.m.item.vis);
        let EntryPoint {
            name,
            doc,
            generics,
            tail,
            ret,
            bound,
        } = e;
        let (plain, with) = (
            syn::Ident::new(name, Span::call_site()),
            format_ident!("{name}_with"),
        );
        let params: Vec<&TokenStream> = self.shared_decl.iter().chain(tail).collect();
        let state = &self.state_init;
        let none = body(quote!(::core::option::Option::None));
        let some = body(quote!(::core::option::Option::Some(options)));
        let (none, some) = (quote!(#state #none), quote!(#state #some));
        quote! {
            #[doc = #doc]
            #[track_caller]
            #vis fn #plain #generics(items: __I, #(#params),*) -> #ret #bound {
                #none
            }

            #[doc = #WITH_DOC]
            #[track_caller]
            #vis fn #with #generics(
                options: &#p::MapOptions,
                items: __I,
                #(#params),*
            ) -> #ret #bound {
                #some
            }
        }
    }

    /// `map` and `map_with`.
    fn map(&self) -> TokenStream {
        let (p, out_ty) = (&self.p, &self.out_ty);
        let (generics, bound) = self.generics();
        let doc = self.map_doc();
        let ret = quote!(::std::vec::Vec<#out_ty>);
        let codec = self.codec(quote!(result_codec()));
        let fingerprint = self.fingerprint();
        let call = self.call(None);
        let e = EntryPoint {
            name: "map",
            doc: &doc,
            generics: &generics,
            tail: &[],
            ret: &ret,
            bound: &bound,
        };
        self.with_pair(
            e,
            |opts| quote!(#p::map(&Self::__SITE, #opts, items, #codec, #fingerprint, #call)),
        )
    }

    /// `try_map` and `try_map_with`, for a function returning a `Result`.
    fn try_map(&self) -> Option<TokenStream> {
        if !types::looks_like_result(&self.out_ty) {
            return None;
        }
        let p = &self.p;
        let (ok, err) = super::ok_and_err(p, &self.out_ty);
        let (generics, bound) = self.generics();
        let ret = quote!(::core::result::Result<::std::vec::Vec<#ok>, #p::ItemError<#err>>);
        let call = self.call(Some(quote!(#p::IsResult::into_result)));
        let codecs = (self.codec_of(&ok), self.codec_of(&err));
        let fingerprint = self.fingerprint();
        let doc = format!(
            "Like [`map`](Self::map) for {}, which returns a `Result`: all the `Ok` values in \
             input order, or the failure with the lowest index among the items that ran, naming \
             that index. No new item starts after a failure is seen. With the `mpi` backend the \
             items are split across ranks when both the values and the errors are serde types \
             (each rank runs every item otherwise).",
            self.link
        );
        let e = EntryPoint {
            name: "try_map",
            doc: &doc,
            generics: &generics,
            tail: &[],
            ret: &ret,
            bound: &bound,
        };
        Some(self.with_pair(e, |opts| {
            let (ok, err) = &codecs;
            quote!(#p::try_map(&Self::__SITE, #opts, items, (#ok, #err), #fingerprint, #call))
        }))
    }

    /// `reduce` and `reduce_with`. Generic over its value type `__R` (always
    /// the function's result type) so that `Clone + Send + Sync` is checked
    /// where `reduce` is called: a function whose result is not `Clone`
    /// still gets `map`.
    fn reduce(&self) -> TokenStream {
        let (p, lt, out_ty) = (&self.p, &self.lt_param, &self.out_ty);
        let (_, bound) = self.generics();
        let generics = quote!(<#lt __I, __R>);
        let bound = quote!(#bound, __R: #p::ReduceValue<#out_ty>);
        let tail = [
            quote!(identity: __R),
            quote!(op: impl ::core::ops::Fn(__R, __R) -> __R + ::core::marker::Sync),
        ];
        let doc = self.reduce_doc();
        let codec = self.codec(quote!(reduce_codec::<__R>()));
        let fingerprint = self.fingerprint();
        let call = self.call(Some(quote!(#p::ReduceValue::from_result)));
        let e = EntryPoint {
            name: "reduce",
            doc: &doc,
            generics: &generics,
            tail: &tail,
            ret: &quote!(__R),
            bound: &bound,
        };
        self.with_pair(e, |opts| {
            quote!(#p::reduce(&Self::__SITE, #opts, items, #codec, #fingerprint, #call, identity, op))
        })
    }

    /// How results cross ranks: probed by method lookup (`result_codec()`
    /// or `reduce_codec::<__R>()`): through serde when the type has it.
    fn codec(&self, method: TokenStream) -> TokenStream {
        self.probe(&self.out_ty.to_token_stream(), method)
    }

    /// The codec of `ty`, one of the result's parts (`try_map`'s `Ok` and
    /// `Err` types).
    fn codec_of(&self, ty: &TokenStream) -> TokenStream {
        self.probe(ty, quote!(result_codec()))
    }

    fn probe(&self, ty: &TokenStream, method: TokenStream) -> TokenStream {
        if self.borrows {
            return quote!(::core::option::Option::None);
        }
        let p = &self.p;
        quote! {{
            #[allow(unused_imports)]
            use #p::{ViaSerde as _, WithoutSerde as _};
            (&&#p::Probe::<#ty>::new()).#method
        }}
    }

    /// The order check of the `mpi` backend fingerprints the items: by
    /// `Hash`, else by serde, else not at all (probed like the codec).
    fn fingerprint(&self) -> TokenStream {
        let (p, item_ty) = (&self.p, &self.item_ty);
        quote! {{
            #[allow(unused_imports)]
            use #p::{ItemUnhashed as _, ItemViaHash as _, ItemViaSerde as _};
            (&&&#p::ItemProbe::<#item_ty>::new()).item_fingerprint()
        }}
    }

    /// `__SITE`: the function's name and the attribute's defaults.
    fn site(&self, o: &MapOptions) -> TokenStream {
        let p = &self.p;
        let name_str = self.m.name().to_string();
        let defaults = defaults(o, p);
        quote! {
            const __SITE: #p::MapSite = #p::MapSite {
                name: #name_str,
                defaults: #defaults,
            };
        }
    }

    /// Compile-time checks at the user's spans: the item is `Send`, the
    /// shared parameters `Sync`, and with the `mpi` backend the result has
    /// serde (blamed on the return type, else on the option).
    fn compile_time_checks(&self, o: &MapOptions) -> TokenStream {
        let p = &self.p;
        let roles = self.m.roles(o.per_item(), o.init.is_some());
        let mut checks = Vec::new();
        for item in roles.per_item {
            let item = &item.ty;
            checks.push(quote_spanned!(item.span()=> #p::assert_item_send::<#item>();));
        }
        for s in roles.shared {
            let t = &s.ty;
            checks.push(quote_spanned!(t.span()=> #p::assert_shared_sync::<#t>();));
        }
        if let Some((_, span)) = o.backend.as_ref().filter(|(b, _)| b == "mpi") {
            let t = self.m.output_ty();
            let span = self.m.output_span(*span);
            checks.push(quote_spanned!(span=> #p::assert_serde::<#t>();));
        }
        quote! {
            fn __compile_time_checks() {
                #(#checks)*
            }
        }
    }

    fn type_doc(&self, has_try_map: bool) -> String {
        let name_str = self.m.name().to_string();
        format!(
            "Parallel entry points for {}, written by `#[parallel_map]`: \
             [`{name_str}::map`](Self::map), [`{name_str}::reduce`](Self::reduce){}, each with a \
             `_with` form that takes options. (A type with no values, so that it can share the \
             function's name; only its associated functions matter.)",
            self.link,
            if has_try_map {
                format!(", [`{name_str}::try_map`](Self::try_map)")
            } else {
                String::new()
            }
        )
    }

    fn map_doc(&self) -> String {
        let (link, krate) = (&self.link, &self.krate);
        let name_str = self.m.name().to_string();
        format!(
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
             an order of its own in each process), before any item runs."
        )
    }

    fn reduce_doc(&self) -> String {
        format!(
            "Folds the results of {} over all items with `op`, starting every block from \
             `identity`, without collecting them.\n\n\
             **Bitwise reproducible**: items are folded in blocks whose size depends on the \
             number of items alone (`reduce_block_size`) and the blocks combined in a fixed pairwise tree, so the same items \
             give the same bits whatever the number of threads, the schedule or the backend. \
             `op` must be associative (up to rounding) and `identity` its neutral element.",
            self.link
        )
    }
}

/// `MapOptions::new().schedule(…)…`: the attribute's defaults.
fn defaults(o: &MapOptions, p: &TokenStream) -> TokenStream {
    let mut calls = TokenStream::new();
    if let Some(s) = &o.schedule {
        let v = options::variant(s);
        calls.extend(quote!(.schedule(#p::Schedule::#v)));
    }
    if let Some(n) = o.chunk_size {
        let n = n as usize;
        calls.extend(quote!(.chunk_size(#n)));
    }
    if let Some((b, _)) = &o.backend {
        let v = options::variant(b);
        calls.extend(quote!(.backend(#p::Backend::#v)));
    }
    if let Some(on) = o.progress {
        calls.extend(quote!(.progress(#on)));
    }
    if let Some(n) = o.threads {
        let n = n as usize;
        calls.extend(quote!(.threads(#n)));
    }
    quote!(#p::MapOptions::new() #calls)
}

// Streaming and asynchronous calls (issue 10): `imap`, `imap_unordered`,
// `apply_async`, `map_async`, their `try_` forms, each with a `_with` form.
impl Entries<'_> {
    /// Every streaming and asynchronous entry point.
    fn stream(&self) -> TokenStream {
        let result = types::looks_like_result(&self.out_ty);
        let mut out = self.imap("imap", false);
        out.extend(self.imap("imap_unordered", false));
        out.extend(self.apply_async(false));
        out.extend(self.map_async(false));
        if result {
            out.extend(self.imap("try_imap", true));
            out.extend(self.imap("try_imap_unordered", true));
            out.extend(self.apply_async(true));
            out.extend(self.map_async(true));
        }
        out
    }

    /// `name` and `name_with`: `first` then the shared parameters `shared`;
    /// `body` gets the options expression.
    #[allow(clippy::too_many_arguments)]
    fn async_pair(
        &self,
        name: &str,
        doc: &str,
        generics: &TokenStream,
        first: &TokenStream,
        shared: &[TokenStream],
        ret: &TokenStream,
        bound: &TokenStream,
        body: impl Fn(TokenStream) -> TokenStream,
    ) -> TokenStream {
        let (p, vis) = (&self.p, &self.m.item.vis);
        let (plain, with) = (
            syn::Ident::new(name, Span::call_site()),
            format_ident!("{name}_with"),
        );
        let none = body(quote!(::core::option::Option::None));
        let some = body(quote!(::core::option::Option::Some(options)));
        quote! {
            #[doc = #doc]
            #vis fn #plain #generics(#first, #(#shared),*) -> #ret #bound {
                #none
            }

            #[doc = #WITH_DOC]
            #vis fn #with #generics(options: &#p::MapOptions, #first, #(#shared),*) -> #ret #bound {
                #some
            }
        }
    }

    /// `imap`, `imap_unordered`, `try_imap` or `try_imap_unordered`: an
    /// iterator that borrows the shared arguments (their elided lifetimes
    /// named `'__shared`) and pulls `items` lazily.
    fn imap(&self, name: &str, fallible: bool) -> TokenStream {
        let (p, lt, item_ty, out_ty) = (&self.p, &self.lt_param, &self.item_ty, &self.out_ty);
        let shared_lt: syn::Lifetime = syn::parse_quote!('__shared);
        let shared: Vec<TokenStream> = self
            .shared
            .iter()
            .map(|s| {
                let (i, mut t) = (&s.ident, s.ty.clone());
                types::name_elided_lifetimes(&mut t, &shared_lt);
                quote!(#i: #t)
            })
            .collect();
        let unordered = name.ends_with("unordered");
        let value = if fallible {
            let (ok, err) = super::ok_and_err(p, out_ty);
            let ok = if unordered { quote!((usize, #ok)) } else { ok };
            quote!(::core::result::Result<#ok, #p::ItemError<#err>>)
        } else if unordered {
            quote!((usize, #out_ty))
        } else {
            quote!(#out_ty)
        };
        let generics = quote!(<#lt #shared_lt, __I>);
        let ret = quote!(impl ::core::iter::Iterator<Item = #value> + use<#lt #shared_lt, __I>);
        // `Item: Send` through the generic, so that it is checked where
        // `imap` is called: a function whose item is not `Send` gets one
        // error, at its parameter (`assert_item_send`), not one per entry.
        let bound = quote!(where
            __I: ::core::iter::IntoIterator<Item = #item_ty>,
            <__I as ::core::iter::IntoIterator>::Item: ::core::marker::Send);
        let call = self.call(fallible.then(|| quote!(#p::IsResult::into_result)));
        let doc = self.imap_doc(name, fallible, unordered);
        // `imap` yields the values, `imap_unordered` `(index, value)` pairs,
        // `try_imap` pairs of which it keeps the values.
        let (f, how, keep) = match (fallible, unordered) {
            (false, false) => (quote!(imap), quote!(#p::Values), None),
            (true, false) => (
                quote!(try_imap),
                quote!(true),
                Some(quote!(|__r| __r.map(|(_, __r)| __r))),
            ),
            (false, true) => (quote!(imap), quote!(#p::Indexed), None),
            (true, true) => (quote!(try_imap), quote!(false), None),
        };
        let input = self.stream_input();
        // With `init`, the workers' states live as long as the stream.
        let state = &self.state_init;
        self.async_pair(
            name,
            &doc,
            &generics,
            &quote!(items: __I),
            &shared,
            &ret,
            &bound,
            |opts| {
                let stream = quote!(#p::#f(&Self::__SITE, #opts, #input, move #call, #how));
                let stream = match &keep {
                    Some(keep) => quote!(::core::iter::Iterator::map(#stream, #keep)),
                    None => stream,
                };
                quote!(#state #stream)
            },
        )
    }

    /// A stream's input from `items`: for items `&X`, a slice's are cut
    /// by ranges where `X` is sized (picked by autoref on the concrete
    /// `X`); every other input is pulled.
    fn stream_input(&self) -> TokenStream {
        let p = &self.p;
        match &self.item_ty {
            syn::Type::Reference(r) if r.mutability.is_none() => {
                // `&(dyn Trait + Sync)`: the parentheses are needed there,
                // not in `RefProbe::<…>`, where rustc would warn about them.
                let mut x = &*r.elem;
                while let syn::Type::Paren(syn::TypeParen { elem, .. })
                | syn::Type::Group(syn::TypeGroup { elem, .. }) = x
                {
                    x = elem;
                }
                quote! {{
                    #[allow(unused_imports)]
                    use #p::{ViaPull as _, ViaSlice as _};
                    (&#p::RefProbe::<#x>::new()).stream_input(items)
                }}
            }
            _ => quote!(#p::pulled(items)),
        }
    }

    fn imap_doc(&self, name: &str, fallible: bool, unordered: bool) -> String {
        let (link, krate) = (&self.link, &self.krate);
        let what = match (fallible, unordered) {
            (false, false) => "the results in input order, each as soon as its window is done \
                               (like Python's `Pool.imap`)"
                .to_string(),
            (false, true) => "`(index, result)` pairs, a window of them as soon as it is done, in \
                              input order within the window (like Python's `Pool.imap_unordered` \
                              with a `chunksize`)"
                .to_string(),
            (true, _) => format!(
                "like [`{}`](Self::{0}) for a function returning a `Result`: the `Ok` values, then \
                 at the first failure its error naming the item, then the end",
                name.trim_start_matches("try_")
            ),
        };
        format!(
            "Calls {link} on every item on the shared thread pool and yields {what}.\n\n\
             `items` is any `IntoIterator`, consumed lazily: at most one window of items (the pool's \
             threads × the chunk size; without one, threads × 64 growing to threads × 16384; \
             one item with the `serial` backend) is pulled from it and not yet yielded, and each window runs inside the `next()` that needs it, so an endless \
             generator runs in bounded memory. `for_each`, `fold`, `sum` and `count` keep the pool busy: the next window runs while \
             this one is consumed (two windows in flight). A slice walked by reference (`&v`, `v.iter()`) \
             is not pulled: the pool reads each window's range of it in place, as `map` does.\n\n\
             # Panics\n\
             `next()` panics with an [`ItemPanic`]({krate}::ItemPanic) if the function panics for \
             an item of its window; the iterator then ends."
        )
    }

    /// The item and result types with their elided lifetimes `'static`:
    /// what a call that outlives its caller moves and gives back.
    fn static_types(&self) -> (syn::Type, syn::Type) {
        let stat: syn::Lifetime = syn::parse_quote!('static);
        let (mut item_ty, mut out_ty) = (item_type(self.per_item), self.m.output_ty());
        types::name_elided_lifetimes(&mut item_ty, &stat);
        types::name_elided_lifetimes(&mut out_ty, &stat);
        (item_ty, out_ty)
    }

    /// The shared parameters of a call that owns what it uses: each given
    /// as a generic `__Ak: Borrow<T> + Send + 'static` (`T` the referent of
    /// a `&T` parameter, else the parameter's type), and passed to the
    /// function as a borrow of it, or (a `T` parameter) a clone.
    fn owned_shared(&self) -> Owned<'_> {
        let stat: syn::Lifetime = syn::parse_quote!('static);
        let mut o = Owned {
            generics: vec![],
            decl: vec![],
            bounds: vec![],
            args: vec![],
        };
        for (k, s) in self.shared.iter().enumerate() {
            let (i, g) = (&s.ident, format_ident!("__A{k}"));
            let (mut target, by_ref) = match &s.ty {
                syn::Type::Reference(r) if r.mutability.is_none() => ((*r.elem).clone(), true),
                t => (t.clone(), false),
            };
            types::name_elided_lifetimes(&mut target, &stat);
            let borrow =
                quote_spanned!(s.ty.span()=> ::core::borrow::Borrow::<#target>::borrow(&#i));
            o.args.push((
                i,
                if by_ref {
                    borrow
                } else {
                    quote_spanned!(s.ty.span()=> ::core::clone::Clone::clone(#borrow))
                },
            ));
            o.bounds.push(quote_spanned!(s.ty.span()=>
                #g: ::core::borrow::Borrow<#target> + ::core::marker::Send + 'static));
            o.decl.push(quote!(#i: #g));
            o.generics.push(g);
        }
        o
    }

    /// `apply_async` or `try_apply_async`: one call that owns what it uses.
    /// Each shared argument is a generic `__Ak: Borrow<T> + Send + 'static`
    /// (`T` the referent of a `&T` parameter, else the parameter's type,
    /// cloned per call as by `map`), so that these bounds are checked where
    /// `apply_async` is called, not on every annotated function.
    fn apply_async(&self, fallible: bool) -> TokenStream {
        let (p, name) = (&self.p, self.m.name());
        let (item_ty, out_ty) = self.static_types();
        let Owned {
            generics,
            decl,
            bounds,
            args,
        } = self.owned_shared();
        let pass: Vec<&TokenStream> = args.iter().map(|(_, arg)| arg).collect();
        let (fname, value, wrap) = if fallible {
            let (ok, err) = super::ok_and_err(p, &out_ty);
            let value = quote!(::core::result::Result<#ok, #p::ItemError<#err>>);
            ("try_apply_async", value, quote!(#p::IsResult::into_result))
        } else {
            ("apply_async", quote!(#out_ty), quote!())
        };
        let f = syn::Ident::new(fname, Span::call_site());
        let doc = self.apply_async_doc(fallible);
        // The item as the function's leading arguments (a tuple of them
        // with `items = n`, Python's `apply_async(f, (a, b))`), and with
        // `init` the state of this one call.
        let (pat, item_args, state) = (&self.item_pat, &self.item_args, &self.state_init);
        let call = match state {
            Some(_) => quote!(__state.with(|__s| #wrap(#name(#item_args, #(#pass,)* __s)))),
            None => quote!(#wrap(#name(#item_args, #(#pass),*))),
        };
        self.async_pair(
            fname,
            &doc,
            &quote!(<__T, #(#generics),*>),
            &quote!(item: __T),
            &decl,
            &quote!(#p::AsyncResult<#value>),
            // The item through a generic `__T` that is the item type, so
            // that `Send + 'static` is checked where `apply_async` is called.
            &quote!(where
                __T: #p::Same<#item_ty> + ::core::marker::Send + 'static,
                #(#bounds),*),
            |opts| {
                quote!(#state #p::#f(&Self::__SITE, #opts, item, move |__item: __T| {
                    let #pat = #p::Same::same(__item);
                    #call
                }))
            },
        )
    }

    /// `map_async` or `try_map_async`: the whole map as one call that owns
    /// what it uses (the items, and the shared arguments as for
    /// `apply_async`), started on the pool. Inside the call, each shared
    /// argument is bound again, by name, to what `map` takes (a borrow of
    /// the owned value, or a clone of it), and `map` runs as written.
    fn map_async(&self, fallible: bool) -> TokenStream {
        let p = &self.p;
        let (item_ty, out_ty) = self.static_types();
        let Owned {
            generics,
            decl,
            bounds,
            args,
        } = self.owned_shared();
        let names: Vec<&syn::Ident> = args.iter().map(|(i, _)| *i).collect();
        let rebind: Vec<TokenStream> = args.iter().map(|(i, arg)| quote!(let #i = #arg;)).collect();
        let (fname, value, inner) = if fallible {
            let (ok, err) = super::ok_and_err(p, &out_ty);
            let value = quote!(::core::result::Result<::std::vec::Vec<#ok>, #p::ItemError<#err>>);
            ("try_map_async", value, quote!(try_map))
        } else {
            ("map_async", quote!(::std::vec::Vec<#out_ty>), quote!(map))
        };
        let inner_with = format_ident!("{inner}_with");
        let doc = self.map_async_doc(fallible);
        self.async_pair(
            fname,
            &doc,
            &quote!(<__I, #(#generics),*>),
            &quote!(items: __I),
            &decl,
            &quote!(#p::AsyncResult<#value>),
            &quote!(where
                __I: #p::IntoItems<Item = #item_ty> + ::core::marker::Send + 'static,
                #(#bounds),*),
            |opts| {
                quote!(#p::map_async(&Self::__SITE, #opts, move |__options: ::core::option::Option<&#p::MapOptions>| {
                    #(#rebind)*
                    match __options {
                        ::core::option::Option::Some(__options) => Self::#inner_with(__options, items, #(#names),*),
                        ::core::option::Option::None => Self::#inner(items, #(#names),*),
                    }
                }))
            },
        )
    }

    fn map_async_doc(&self, fallible: bool) -> String {
        let (link, krate) = (&self.link, &self.krate);
        let (what, err) = if fallible {
            (
                "[`try_map`](Self::try_map)",
                " or the failure with the lowest index (an [`ItemError`]({krate}::ItemError))",
            )
        } else {
            ("[`map`](Self::map)", "")
        };
        format!(
            "Starts {what} of {link} over `items` as one call on the shared thread pool and \
             returns at once (Python's `Pool.map_async`); its items run in parallel as in \
             {what}. The [`AsyncResult`]({krate}::map::AsyncResult) handle's `get()` waits for \
             the results, in input order{err}; `get_timeout` waits at most a while, `ready()` \
             tells whether they are in.\n\n\
             The call runs after this returns, so it owns what it uses: `items` (a `Vec`, a \
             range, any owned collection) and the results are `Send + 'static`, and each \
             shared argument is given as an owned value, as for `apply_async` (for a parameter \
             `&T`, anything that borrows as a `T`: a `T`, an `Arc<T>`, a `Vec<f64>` for \
             `&[f64]`; for a parameter `T`, a `T`). With the `serial` backend, and with the \
             `mpi` backend (whose exchange between ranks is made on the calling thread), the \
             map runs before this returns.\n\n\
             # Panics\n\
             `get()` panics with the map's [`ItemPanic`]({krate}::ItemPanic), naming the item, \
             if the function panicked."
        )
    }

    fn apply_async_doc(&self, fallible: bool) -> String {
        let (link, krate) = (&self.link, &self.krate);
        let err = if fallible {
            "; an `Err` comes back from `get()` as an [`ItemError`]({krate}::ItemError) naming the \
             function (item 0)"
        } else {
            ""
        };
        format!(
            "Starts one call of {link} on the shared thread pool and returns at once (Python's \
             `Pool.apply_async`, `concurrent.futures`' `submit`); the \
             [`AsyncResult`]({krate}::map::AsyncResult) handle's `get()` waits for the result, \
             `get_timeout` waits at most a while, `ready()` tells whether it is done{err}.\n\n\
             The call runs after this returns, so it owns what it uses: the item and the result \
             are `Send + 'static`, and each shared argument is given as an owned value that \
             moves into the task, as Python pickles the arguments it sends to a worker: for a \
             parameter `&T`, anything that borrows as a `T` (a `T`, an `Arc<T>` to share one \
             copy between calls, a `Vec<f64>` for `&[f64]`, a `String` for `&str`, a \
             `&'static T`); for a parameter `T`, a `T`. With the `serial` backend the call runs before this returns.\n\n\
             # Panics\n\
             `get()` panics with an [`ItemPanic`]({krate}::ItemPanic) if the function panicked."
        )
    }
}

/// The shared parameters of a call that owns what it uses
/// ([`Entries::owned_shared`]): its generics, its parameters, their bounds,
/// and per parameter its name and what the function is given.
struct Owned<'a> {
    generics: Vec<syn::Ident>,
    decl: Vec<TokenStream>,
    bounds: Vec<TokenStream>,
    args: Vec<(&'a syn::Ident, TokenStream)>,
}

/// The type of one item: the per-item parameter's, or with `items = n` the
/// tuple of the first `n` parameters' types.
fn item_type(per_item: &[crate::model::Param]) -> syn::Type {
    match per_item {
        [one] => one.ty.clone(),
        many => {
            let tys = many.iter().map(|p| &p.ty);
            syn::parse_quote!((#(#tys,)*))
        }
    }
}

/// The closure's pattern for one item and the function's leading
/// arguments: `__item` and `__item`, or with `items = n` the tuple of the
/// parameters' names and the names.
fn item_pattern(per_item: &[crate::model::Param]) -> (TokenStream, TokenStream) {
    match per_item {
        [_] => (quote!(__item), quote!(__item)),
        many => {
            let names: Vec<&syn::Ident> = many.iter().map(|p| &p.ident).collect();
            (quote!((#(#names,)*)), quote!(#(#names),*))
        }
    }
}
