//! The bounds that the macros' expansions check, each with the message a
//! user reads when a type misses it, and the small traits that name a
//! function's `Result` parts and a reduction's value. The bottom of the
//! house: it imports nothing of the crate.
//!
//! Public only through [`__private`](crate::__private); not a stable API.
#![allow(missing_docs, unreachable_pub)]

/// The `Ok` and `Err` types of a `Result`-returning function, for
/// `try_map` (works through type aliases such as `io::Result<T>`).
pub trait IsResult {
    type Ok;
    type Err;
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
}

impl<T, E> IsResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline(always)]
    fn into_result(self) -> Result<T, E> {
        self
    }
}

/// The value type of `reduce`: the function's result type `R` itself,
/// as a generic parameter so that `Clone + Send + Sync` is checked where
/// `reduce` is called, not where the function is defined.
pub trait ReduceValue<R>: Clone + Send + Sync {
    fn from_result(r: R) -> Self;
    fn into_result(self) -> R;
}
impl<R: Clone + Send + Sync> ReduceValue<R> for R {
    #[inline(always)]
    fn from_result(r: R) -> R {
        r
    }
    #[inline(always)]
    fn into_result(self) -> R {
        self
    }
}

/// Compile-time checks placed at the user's spans.
#[inline(always)]
pub const fn assert_send<T: ?Sized + Send>() {}
#[inline(always)]
pub const fn assert_sync<T: ?Sized + Sync>() {}
#[inline(always)]
pub const fn assert_serde<T: MpiResult>() {}
#[inline(always)]
pub const fn assert_item_send<T: ?Sized + PerItem>() {}
#[inline(always)]
pub const fn assert_shared_sync<T: ?Sized + SharedArg>() {}

/// What `#[parallel_map]` needs of its per-item parameter.
#[diagnostic::on_unimplemented(
    message = "the per-item parameter of a #[parallel_map] function must be `Send`: each item moves to a worker thread, and `{Self}` cannot",
    label = "not `Send`",
    note = "use a thread-safe type (`Arc` for `Rc`, `Mutex` or atomics for `Cell`/`RefCell`)"
)]
pub trait PerItem: Send {}
impl<T: ?Sized + Send> PerItem for T {}

/// What `#[parallel_map]` needs of a shared parameter.
#[diagnostic::on_unimplemented(
    message = "a shared parameter of a #[parallel_map] function must be `Sync`: every worker thread reads it at once, and `{Self}` cannot be shared",
    label = "not `Sync`",
    note = "use a thread-safe type (`Arc` for `Rc`, `Mutex` or atomics for `Cell`/`RefCell`)"
)]
pub trait SharedArg: Sync {}
impl<T: ?Sized + Sync> SharedArg for T {}

/// What `backend = "mpi"` needs of a result type.
#[diagnostic::on_unimplemented(
    message = "`backend = \"mpi\"` sends every result between ranks, so `{Self}` must implement serde's `Serialize` and `Deserialize`",
    label = "this result type cannot cross ranks",
    note = "add `#[derive(serde::Serialize, serde::Deserialize)]` to the type, or use the `threads` backend"
)]
pub trait MpiResult: serde::Serialize + serde::de::DeserializeOwned {}
impl<T: serde::Serialize + serde::de::DeserializeOwned> MpiResult for T {}

/// `Self` is `T`: a generic parameter bound to one type, so that the
/// type's other bounds are checked where the generic is given (the item of
/// `apply_async`), not where the function is annotated.
pub trait Same<T> {
    fn same(self) -> T;
}
impl<T> Same<T> for T {
    #[inline(always)]
    fn same(self) -> T {
        self
    }
}
