//! The type tag of an encoded object: a readable name and a fingerprint of
//! the type's *serde shape*, so that a receiver can refuse a message of
//! another type instead of decoding it into a wrong value.
//!
//! Names come from [`std::any::type_name`] and are normalised so that types
//! serde encodes the same way get the same fingerprint:
//!
//! - references, `Box`, `Rc`, `Arc` and `Cow` are their content
//!   (`&T`, `Box<T>` and `T` match);
//! - `str` and `String` match (so do `&str`, `Box<str>`, `Cow<str>`);
//! - sequences match each other: `[T]`, `Vec<T>`, `VecDeque<T>`,
//!   `LinkedList<T>`, `BinaryHeap<T>`, `HashSet<T>`, `BTreeSet<T>`;
//! - maps match each other: `HashMap<K, V>` and `BTreeMap<K, V>`;
//! - the module path of standard types is dropped; that of the program's
//!   own types is kept (all ranks run the same program).
//!
//! Fixed-size arrays `[T; N]` stay apart from sequences: serde writes no
//! length for them.

use std::sync::atomic::{AtomicPtr, Ordering};

/// What is known about one type: the name shown in errors and the
/// fingerprint checked on decode.
#[derive(Debug)]
pub(crate) struct TypeTag {
    /// Readable name: the module paths of standard types dropped.
    pub(crate) name: Box<str>,
    /// FNV-1a of the canonical name.
    pub(crate) fingerprint: u64,
}

/// The tag of `T`, computed once per type (and again only when another
/// type took its slot of the cache).
///
/// On the path of every message: one atomic load and a comparison of two
/// words when the type was seen before (a thread-local `HashMap` here cost
/// about 10 ns a lookup, a tenth of a small message's latency).
pub(crate) fn tag_of<T: ?Sized>() -> &'static TypeTag {
    let raw = std::any::type_name::<T>();
    let key = (raw.as_ptr() as usize, raw.len());
    // `type_name`'s string is one static per type: its address picks a slot.
    let slot = &CACHE[(key.0 >> 3).wrapping_add(key.1) % SLOTS];
    let seen = slot.load(Ordering::Acquire);
    // SAFETY: a non-null slot holds a pointer from `Box::leak` below, never
    // freed, so the entry lives for the rest of the program.
    if let Some(e) = unsafe { seen.as_ref() } {
        if e.key == key {
            return &e.tag;
        }
    }
    let e: &'static Entry = Box::leak(Box::new(Entry {
        key,
        tag: compute(raw),
    }));
    // Another type in the same slot is replaced (its entry stays valid for
    // whoever holds it, and is computed again when next asked for).
    slot.store(std::ptr::from_ref(e).cast_mut(), Ordering::Release);
    &e.tag
}

/// Slots of the cache: more than the types a program sends.
const SLOTS: usize = 512;

/// One cached tag, with the (address, length) of the `type_name` it is for.
struct Entry {
    key: (usize, usize),
    tag: TypeTag,
}

static CACHE: [AtomicPtr<Entry>; SLOTS] = [const { AtomicPtr::new(std::ptr::null_mut()) }; SLOTS];

/// The tag of a type whose `std::any::type_name` is `raw`.
pub(crate) fn compute(raw: &str) -> TypeTag {
    match Parser::new(raw).all() {
        Some(ty) => {
            let mut name = String::new();
            ty.display(&mut name);
            let mut canon = String::new();
            ty.canonical().print(&mut canon);
            TypeTag {
                name: name.into(),
                fingerprint: fnv1a(canon.as_bytes()),
            }
        }
        // A name this parser does not know (it follows rustc's output,
        // which is not guaranteed): compared as it is.
        None => TypeTag {
            name: raw.into(),
            fingerprint: fnv1a(raw.as_bytes()),
        },
    }
}

/// FNV-1a of `bytes` (also the graph's shape fingerprint's hash of names).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[derive(Clone, Debug, PartialEq)]
enum Ty {
    /// `a::b::Name<args>`.
    Path(Vec<String>, Vec<Ty>),
    /// `&T`, `&mut T`, `*const T`.
    Ref(Box<Ty>),
    /// `[T]`.
    Slice(Box<Ty>),
    /// `[T; N]`.
    Array(Box<Ty>, String),
    /// `(A, B)`.
    Tuple(Vec<Ty>),
    /// Anything else (`dyn …`, `fn(…)`), kept as written.
    Opaque(String),
    /// Canonical forms.
    Str,
    Seq(Box<Ty>),
    Map(Box<Ty>, Box<Ty>),
}

const STD_ROOTS: [&str; 3] = ["std", "core", "alloc"];

impl Ty {
    fn is_std(segs: &[String]) -> bool {
        segs.len() > 1 && STD_ROOTS.contains(&segs[0].as_str())
    }

    /// The readable name: standard paths shortened.
    fn display(&self, out: &mut String) {
        match self {
            Ty::Ref(t) => {
                out.push('&');
                t.display(out);
            }
            Ty::Path(segs, args) => {
                if Ty::is_std(segs) {
                    out.push_str(segs.last().map_or("", String::as_str));
                } else {
                    out.push_str(&segs.join("::"));
                }
                list(out, "<", args, ">", Ty::display);
            }
            Ty::Slice(t) => {
                out.push('[');
                t.display(out);
                out.push(']');
            }
            Ty::Array(t, n) => {
                out.push('[');
                t.display(out);
                out.push_str("; ");
                out.push_str(n);
                out.push(']');
            }
            Ty::Tuple(ts) => {
                list(out, "(", ts, "", Ty::display);
                out.push_str(if ts.len() == 1 { ",)" } else { ")" });
            }
            Ty::Opaque(s) => out.push_str(s),
            Ty::Str => out.push_str("String"),
            Ty::Seq(t) => {
                out.push_str("Vec<");
                t.display(out);
                out.push('>');
            }
            Ty::Map(k, v) => {
                out.push_str("Map<");
                k.display(out);
                out.push_str(", ");
                v.display(out);
                out.push('>');
            }
        }
    }

    /// The serde shape: the normalisations of the module docs.
    fn canonical(&self) -> Ty {
        match self {
            Ty::Ref(t) => t.canonical(),
            Ty::Slice(t) => Ty::Seq(Box::new(t.canonical())),
            Ty::Array(t, n) => Ty::Array(Box::new(t.canonical()), n.clone()),
            Ty::Tuple(ts) => Ty::Tuple(ts.iter().map(Ty::canonical).collect()),
            Ty::Path(segs, args) if segs.len() == 1 && segs[0] == "str" && args.is_empty() => {
                Ty::Str
            }
            Ty::Path(segs, args) if Ty::is_std(segs) => {
                let name = segs.last().map_or("", String::as_str);
                let arg = |i: usize| args.get(i).map(Ty::canonical);
                match (name, arg(0), arg(1)) {
                    ("String", None, _) => Ty::Str,
                    ("Box" | "Rc" | "Arc" | "Cow", Some(t), _) => t,
                    (
                        "Vec" | "VecDeque" | "LinkedList" | "BinaryHeap" | "HashSet" | "BTreeSet",
                        Some(t),
                        _,
                    ) => Ty::Seq(Box::new(t)),
                    ("HashMap" | "BTreeMap", Some(k), Some(v)) => Ty::Map(Box::new(k), Box::new(v)),
                    _ => Ty::Path(
                        vec![name.to_owned()],
                        args.iter().map(Ty::canonical).collect(),
                    ),
                }
            }
            Ty::Path(segs, args) => {
                Ty::Path(segs.clone(), args.iter().map(Ty::canonical).collect())
            }
            Ty::Opaque(_) | Ty::Str => self.clone(),
            Ty::Seq(t) => Ty::Seq(Box::new(t.canonical())),
            Ty::Map(k, v) => Ty::Map(Box::new(k.canonical()), Box::new(v.canonical())),
        }
    }

    /// An unambiguous spelling of a canonical type.
    fn print(&self, out: &mut String) {
        match self {
            Ty::Path(segs, args) => {
                out.push_str(&segs.join("::"));
                list(out, "<", args, ">", Ty::print);
            }
            Ty::Ref(t) => t.print(out),
            Ty::Slice(t) | Ty::Seq(t) => {
                out.push_str("seq<");
                t.print(out);
                out.push('>');
            }
            Ty::Array(t, n) => {
                out.push('[');
                t.print(out);
                out.push(';');
                out.push_str(n);
                out.push(']');
            }
            Ty::Tuple(ts) => {
                list(out, "(", ts, "", Ty::print);
                out.push_str(",)");
            }
            Ty::Opaque(s) => out.push_str(s),
            Ty::Str => out.push_str("str"),
            Ty::Map(k, v) => {
                out.push_str("map<");
                k.print(out);
                out.push(',');
                v.print(out);
                out.push('>');
            }
        }
    }
}

/// `open` + the items separated by `, ` + `close`; nothing for an empty
/// list with a non-empty `close` (a path without arguments).
fn list(out: &mut String, open: &str, items: &[Ty], close: &str, f: fn(&Ty, &mut String)) {
    if items.is_empty() && !close.is_empty() {
        return;
    }
    out.push_str(open);
    for (i, t) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        f(t, out);
    }
    out.push_str(close);
}

/// A recursive-descent parser of `type_name` output.
struct Parser<'a> {
    s: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn new(s: &'a str) -> Self {
        Parser { s, at: 0 }
    }

    fn all(mut self) -> Option<Ty> {
        let ty = self.ty()?;
        self.skip_ws();
        (self.at == self.s.len()).then_some(ty)
    }

    fn rest(&self) -> &'a str {
        &self.s[self.at..]
    }

    fn skip_ws(&mut self) {
        while self.rest().starts_with(' ') {
            self.at += 1;
        }
    }

    fn eat(&mut self, tok: &str) -> bool {
        self.skip_ws();
        if self.rest().starts_with(tok) {
            self.at += tok.len();
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<&'a str> {
        self.skip_ws();
        let rest = self.rest();
        let n = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if n == 0 {
            return None;
        }
        self.at += n;
        Some(&rest[..n])
    }

    /// Skips a lifetime such as `'_` or `'static` if one is next.
    fn lifetime(&mut self) -> bool {
        self.skip_ws();
        if self.rest().starts_with('\'') {
            self.at += 1;
            let _ = self.ident();
            true
        } else {
            false
        }
    }

    fn ty(&mut self) -> Option<Ty> {
        self.skip_ws();
        if self.eat("&") {
            self.lifetime();
            let _ = self.eat("mut ");
            return Some(Ty::Ref(Box::new(self.ty()?)));
        }
        if self.eat("*const ") || self.eat("*mut ") {
            return Some(Ty::Ref(Box::new(self.ty()?)));
        }
        if self.eat("[") {
            let elem = self.ty()?;
            if self.eat("]") {
                return Some(Ty::Slice(Box::new(elem)));
            }
            if !self.eat(";") {
                return None;
            }
            self.skip_ws();
            let n = self.rest().find(']')?;
            let len = self.rest()[..n].trim().to_owned();
            self.at += n + 1;
            return Some(Ty::Array(Box::new(elem), len));
        }
        if self.eat("(") {
            let mut items = Vec::new();
            loop {
                if self.eat(")") {
                    return Some(Ty::Tuple(items));
                }
                items.push(self.ty()?);
                if !self.eat(",") && !self.rest().trim_start().starts_with(')') {
                    return None;
                }
            }
        }
        if self.rest().starts_with("dyn ") || self.rest().starts_with("fn(") {
            return self.opaque();
        }
        let mut segs = Vec::new();
        loop {
            segs.push(self.ident()?.to_owned());
            if !self.eat("::") {
                break;
            }
        }
        let mut args = Vec::new();
        if self.eat("<") {
            loop {
                if self.eat(">") {
                    break;
                }
                if self.lifetime() {
                    if !self.eat(",") && !self.rest().trim_start().starts_with('>') {
                        return None;
                    }
                    continue;
                }
                args.push(self.ty()?);
                if !self.eat(",") && !self.rest().trim_start().starts_with('>') {
                    return None;
                }
            }
        }
        Some(Ty::Path(segs, args))
    }

    /// Everything up to the next `,` `>` `)` `]` outside brackets.
    fn opaque(&mut self) -> Option<Ty> {
        let rest = self.rest();
        let mut depth = 0i32;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '<' | '(' | '[' => depth += 1,
                '>' if depth > 0 && !rest[..i].ends_with('-') => depth -= 1,
                ')' | ']' if depth > 0 => depth -= 1,
                ',' | '>' | ')' | ']' if depth == 0 && !rest[..i].ends_with('-') => {
                    end = i;
                    break;
                }
                _ => {}
            }
        }
        self.at += end;
        Some(Ty::Opaque(rest[..end].trim_end().to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp<T: ?Sized>() -> u64 {
        tag_of::<T>().fingerprint
    }
    fn name<T: ?Sized>() -> &'static str {
        &tag_of::<T>().name
    }

    #[test]
    fn serde_compatible_types_share_a_fingerprint() {
        assert_eq!(fp::<&str>(), fp::<String>());
        assert_eq!(fp::<str>(), fp::<Box<str>>());
        assert_eq!(fp::<&&str>(), fp::<std::borrow::Cow<'static, str>>());
        assert_eq!(fp::<[u8]>(), fp::<Vec<u8>>());
        assert_eq!(fp::<&[u8]>(), fp::<std::collections::VecDeque<u8>>());
        assert_eq!(fp::<&u64>(), fp::<u64>());
        assert_eq!(fp::<Box<u64>>(), fp::<u64>());
        assert_eq!(fp::<(&str, Vec<&[u32]>)>(), fp::<(String, Vec<Vec<u32>>)>());
        assert_eq!(
            fp::<std::collections::HashMap<String, u8>>(),
            fp::<std::collections::BTreeMap<&str, u8>>()
        );
        assert_eq!(fp::<Option<&str>>(), fp::<Option<String>>());
    }

    #[test]
    fn other_types_differ() {
        assert_ne!(fp::<(usize, String)>(), fp::<String>());
        assert_ne!(fp::<Vec<u64>>(), fp::<u8>());
        assert_ne!(fp::<f64>(), fp::<u64>());
        assert_ne!(fp::<[u8; 4]>(), fp::<Vec<u8>>());
        assert_ne!(fp::<(u8,)>(), fp::<u8>());
        assert_ne!(fp::<Option<u8>>(), fp::<u8>());
        assert_ne!(fp::<Vec<u32>>(), fp::<Vec<i32>>());
    }

    #[test]
    fn names_read_as_written() {
        assert_eq!(name::<(usize, String)>(), "(usize, String)");
        assert_eq!(name::<&Vec<Option<&str>>>(), "&Vec<Option<&str>>");
        assert_eq!(name::<[u8; 4]>(), "[u8; 4]");
        assert_eq!(name::<(u8,)>(), "(u8,)");
        assert_eq!(name::<()>(), "()");
        assert_eq!(
            name::<dyn Fn(u8) -> u8>(),
            "dyn core::ops::function::Fn(u8) -> u8"
        );
        assert!(name::<TypeTag>().ends_with("typename::TypeTag"));
    }
}
