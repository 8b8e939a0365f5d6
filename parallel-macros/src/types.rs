//! What the stages ask of the types the user wrote: their shape
//! (`Result<T, E>`, `&mut T`, `Comm`), their lifetimes, and how to show
//! them in a message.

use syn::visit_mut::VisitMut;

/// `&mut T`, which cannot be shared by parallel calls.
pub(crate) fn is_mut_ref(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Reference(r) if r.mutability.is_some())
}

/// Whether `ty` is written as `Comm` (any path ending in `Comm`, no
/// generics).
pub(crate) fn is_comm(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Comm" && s.arguments.is_none()))
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

/// Whether the type's last path segment is `Result` (aliases like
/// `io::Result<T>` included).
pub(crate) fn looks_like_result(ty: &syn::Type) -> bool {
    matches!(ty, syn::Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == "Result"))
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

/// The owned type to suggest for a borrowed one: `String` for `&str`,
/// `Vec<T>` for `&[T]`, `T` for `&T` (`PathBuf` for `&Path`).
pub(crate) fn owned_hint(ty: &syn::Type) -> String {
    match ty {
        syn::Type::Reference(r) => match &*r.elem {
            syn::Type::Path(p) if p.path.is_ident("str") => "String".into(),
            syn::Type::Slice(s) => format!("Vec<{}>", text(&s.elem)),
            syn::Type::Path(p) => owned_path(p),
            other => text(other),
        },
        other => text(other),
    }
}

/// `std::path::PathBuf` for `std::path::Path`, else the type itself.
fn owned_path(p: &syn::TypePath) -> String {
    let mut p = p.clone();
    if let Some(last) = p.path.segments.last_mut() {
        if last.ident == "Path" {
            last.ident = syn::Ident::new("PathBuf", last.ident.span());
        }
    }
    text(&p)
}

/// Tokens as a user writes them (`Vec<&str>`, not `Vec < & str >`), for
/// messages.
pub(crate) fn text(t: &impl quote::ToTokens) -> String {
    let s = t.to_token_stream().to_string();
    s.replace(" < ", "<")
        .replace(" >", ">")
        .replace("< ", "<")
        .replace(" ,", ",")
        .replace("& ", "&")
        .replace(" :: ", "::")
        .replace(":: ", "::")
}
