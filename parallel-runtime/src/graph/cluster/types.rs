//! Which result types can move between ranks: a registry, keyed by the
//! node's type, of an encoder and a decoder for each type whose values
//! are `Serialize + DeserializeOwned`.
//!
//! The task graph is type-erased, so the encoder is captured where the
//! type is still known: `#[delayed]` probes its result and parameter types
//! at the call site (autoref specialisation, as `#[parallel_map]` probes
//! its results) and registers them once per function; [`transferable`]
//! registers a type by hand (for [`value`](super::super::value) and
//! [`delayed_fn`](super::super::delayed_fn) results of types no
//! `#[delayed]` function takes or returns).

use std::any::TypeId;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::{OnceLock, RwLock};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::graph::node::{AnyNode, Node};

/// Appends a node's value (borrowed, before its readers start) to a
/// frame: its type's fingerprint, then the value without the codec's
/// header.
pub(crate) type Encode = unsafe fn(&dyn AnyNode, Vec<u8>) -> Result<Vec<u8>, String>;
/// Decodes bytes written by an [`Encode`] into a node's value; an error
/// when they hold another type.
pub(crate) type Decode = unsafe fn(&dyn AnyNode, &[u8]) -> Result<(), String>;

/// What the executor across ranks knows of one result type.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct GraphType {
    node: fn() -> TypeId,
    pub(crate) name: &'static str,
    pub(crate) wire: Option<(Encode, Decode)>,
    /// Drops a value whose last reader was on another rank.
    pub(crate) clear: unsafe fn(&dyn AnyNode),
}

/// Compile-time probe, resolved at the macro's call site by method lookup:
/// `(&&&GraphProbe::<T>::new()).graph_type()` can move `T` between ranks
/// when `T` is serde-able, names `T` when it is only `Send + 'static`, and
/// is `None` otherwise (the macro reports that type elsewhere).
#[doc(hidden)]
pub struct GraphProbe<T: ?Sized>(PhantomData<fn() -> Box<T>>);

impl<T: ?Sized> GraphProbe<T> {
    pub const fn new() -> Self {
        GraphProbe(PhantomData)
    }
}

impl<T: ?Sized> Default for GraphProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[doc(hidden)]
pub trait GraphViaSerde {
    fn graph_type(&self) -> Option<GraphType>;
}

impl<T: Serialize + DeserializeOwned + Send + 'static> GraphViaSerde for &&GraphProbe<T> {
    fn graph_type(&self) -> Option<GraphType> {
        Some(with_wire::<T>())
    }
}

#[doc(hidden)]
pub trait GraphNamed {
    fn graph_type(&self) -> Option<GraphType>;
}

impl<T: Send + 'static> GraphNamed for &GraphProbe<T> {
    fn graph_type(&self) -> Option<GraphType> {
        Some(named::<T>())
    }
}

#[doc(hidden)]
pub trait GraphOpaque {
    fn graph_type(&self) -> Option<GraphType>;
}

impl<T: ?Sized> GraphOpaque for GraphProbe<T> {
    fn graph_type(&self) -> Option<GraphType> {
        None
    }
}

fn named<T: Send + 'static>() -> GraphType {
    GraphType {
        node: TypeId::of::<Node<T>>,
        name: std::any::type_name::<T>(),
        wire: None,
        clear: clear::<T>,
    }
}

fn with_wire<T: Serialize + DeserializeOwned + Send + 'static>() -> GraphType {
    GraphType {
        wire: Some((encode::<T>, decode::<T>)),
        ..named::<T>()
    }
}

/// # Safety
/// As for [`Node::peek`].
unsafe fn encode<T: Serialize + Send + 'static>(
    n: &dyn AnyNode,
    mut out: Vec<u8>,
) -> Result<Vec<u8>, String> {
    // SAFETY: forwarded.
    match unsafe { Node::<T>::of(n).peek() } {
        Some(v) => {
            out.extend_from_slice(&crate::codec::fingerprint_of::<T>().to_le_bytes());
            crate::codec::encode_bare_after(v, out).map_err(|e| e.to_string())
        }
        None => Err("its result is no longer held on this rank".to_owned()),
    }
}

/// # Safety
/// As for [`Node::put`].
unsafe fn decode<T: DeserializeOwned + Send + 'static>(
    n: &dyn AnyNode,
    bytes: &[u8],
) -> Result<(), String> {
    let (fp, bare) = bytes.split_at_checked(8).ok_or("a message cut short")?;
    if fp != crate::codec::fingerprint_of::<T>().to_le_bytes() {
        return Err(format!(
            "it is of another type than this rank's `{}` (the ranks' graphs differ in a \
             task's result type)",
            crate::codec::type_name_of::<T>()
        ));
    }
    let v: T = crate::codec::decode_bare(bare).map_err(|e| e.to_string())?;
    // SAFETY: forwarded.
    unsafe { Node::<T>::put(n, v) };
    Ok(())
}

/// # Safety
/// As for [`Node::clear`].
unsafe fn clear<T: Send + 'static>(n: &dyn AnyNode) {
    // SAFETY: forwarded.
    unsafe { Node::<T>::of(n).clear() }
}

fn registry() -> &'static RwLock<HashMap<TypeId, GraphType>> {
    static TYPES: OnceLock<RwLock<HashMap<TypeId, GraphType>>> = OnceLock::new();
    TYPES.get_or_init(RwLock::default)
}

/// Records a result type (written by `#[delayed]`, once per function and
/// type). A type registered with an encoder keeps it.
#[doc(hidden)]
pub fn register(t: Option<GraphType>) {
    let Some(t) = t else { return };
    let mut types = registry().write().unwrap_or_else(|p| p.into_inner());
    let slot = types.entry((t.node)()).or_insert(t);
    if slot.wire.is_none() {
        *slot = t;
    }
}

/// What is known of the result type of `n`, if it was registered.
pub(crate) fn lookup(n: &dyn AnyNode) -> Option<GraphType> {
    let types = registry().read().unwrap_or_else(|p| p.into_inner());
    types.get(&n.as_any().type_id()).copied()
}

/// Lets results of type `T` move between ranks in
/// [`compute_on`](super::compute_on): needed only for a type that no
/// `#[delayed]` function takes or returns (those are registered when the
/// function is first called), such as the result of a
/// [`delayed_fn`](crate::graph::delayed_fn) or a
/// [`value`](crate::graph::value) of a type of your own.
///
/// ```
/// use parallel_runtime::graph::{delayed_fn, transferable};
///
/// #[derive(serde::Serialize, serde::Deserialize)]
/// struct Stats { n: u64 }
///
/// transferable::<Stats>();
/// let stats = delayed_fn("stats", |n: u64| Stats { n }).call(3);
/// # let _ = stats;
/// ```
pub fn transferable<T: Serialize + DeserializeOwned + Send + 'static>() {
    register(Some(with_wire::<T>()));
}
