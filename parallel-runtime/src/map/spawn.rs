//! One call on the pool that the caller collects later: `f::apply_async`
//! and `f::try_apply_async` (Python's `Pool.apply_async`, and
//! `concurrent.futures`' `Executor.submit`).
//!
//! The call runs after `apply_async` has returned, so it owns everything it
//! uses: the item and the result are `Send + 'static`, and each shared
//! argument is given as an owned value that moves into the task, as Python
//! pickles the arguments it sends to a worker: for a parameter `&T`,
//! anything that borrows as a `T` (`T`, `Arc<T>`, `Vec<f64>` for `&[f64]`,
//! `String` for `&str`, `&'static T`); for a parameter `T`, a `T`.

use std::any::Any;
use std::fmt;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

use super::call::Call;
use super::options::{MapOptions, MapSite};
use super::{serial, ItemError};
use crate::config::Backend;

/// The handle of one call started by `f::apply_async` (Python's
/// `AsyncResult`, or a `concurrent.futures.Future`): [`get`](Self::get)
/// waits for its result.
///
/// ```
/// use parallel_runtime::prelude::*;
/// use std::time::Duration;
///
/// #[parallel_map]
/// fn slow_square(x: u64, pause: &Duration) -> u64 {
///     std::thread::sleep(*pause);
///     x * x
/// }
///
/// # // `PARALLEL_BACKEND=serial` runs the call at once, in `apply_async`.
/// # if std::env::var_os("PARALLEL_BACKEND").is_some() { return; }
/// let call = slow_square::apply_async(7, Duration::from_millis(200));
/// // Not done within 1 ms: the error hands the handle back, the call runs on.
/// let call = call.get_timeout(Duration::from_millis(1)).unwrap_err().into_handle();
/// assert!(!call.ready());
/// assert_eq!(call.successful(), None, "still running");
/// assert!(call.wait_timeout(Duration::from_secs(60)));
/// assert_eq!(call.successful(), Some(true));
/// assert_eq!(call.get(), 49);
/// ```
#[must_use = "the call runs anyway; `get()` is the only way to its result or its panic"]
pub struct AsyncResult<R> {
    function: &'static str,
    pub(super) slot: Arc<Slot<R>>,
}

/// Where the task leaves its outcome, and the call itself until a thread
/// takes it to run it.
pub(super) struct Slot<R> {
    state: Mutex<Option<Outcome<R>>>,
    done: Condvar,
    /// The call, not started yet: the pool's job takes it, or a thread of
    /// the pool waiting for it (see [`Slot::wait`]).
    call: Mutex<Option<Pending<R>>>,
    /// The call's own pool (`threads(n)`), `None` for the pool it was
    /// started on.
    pool: Option<&'static rayon::ThreadPool>,
    /// Who waits for any of several calls ([`as_completed`](super::as_completed)):
    /// each is sent its index for this call when the call finishes.
    watchers: Mutex<Vec<(usize, Sender<usize>)>>,
}

/// The call returned a value, or panicked with this payload (an
/// [`ItemPanic`](crate::ItemPanic) naming the function).
type Outcome<R> = Result<R, Box<dyn Any + Send>>;

/// One call of `apply_async`, run by whichever thread takes it first.
type Pending<R> = Box<dyn FnOnce() -> Outcome<R> + Send>;

impl<R> Slot<R> {
    fn lock(&self) -> MutexGuard<'_, Option<Outcome<R>>> {
        lock(&self.state)
    }

    /// Runs the call here if no thread has taken it yet, and leaves its
    /// outcome.
    pub(super) fn run_if_pending(&self) {
        let call = lock(&self.call).take();
        if let Some(call) = call {
            let outcome = call();
            *self.lock() = Some(outcome);
            self.done.notify_all();
            let watchers = std::mem::take(&mut *lock(&self.watchers));
            for (index, tx) in watchers {
                // A watcher that has gone has nothing to be told.
                let _ = tx.send(index);
            }
        }
    }

    /// Tells `tx` this call's `index` when it finishes: at once if it has.
    /// (It may be told twice; the watcher keeps the first.)
    pub(super) fn watch(&self, index: usize, tx: &Sender<usize>) {
        lock(&self.watchers).push((index, tx.clone()));
        if self.lock().is_some() {
            let _ = tx.send(index);
        }
    }

    /// Whether this thread is one of the pool the call was started on.
    pub(super) fn on_its_pool(&self) -> bool {
        match self.pool {
            Some(pool) => pool.current_thread_index().is_some(),
            None => rayon::current_thread_index().is_some(),
        }
    }

    /// Waits until the outcome is in, or `timeout` has passed; the guard,
    /// and whether the outcome is in.
    ///
    /// On a thread of the pool the call was started on (inside an item of
    /// a map, say), a call that no thread has taken yet runs here first,
    /// whatever `timeout` says: started there, it sits on this very
    /// thread's queue, and were every thread of the pool to wait for its
    /// call, none would be left to run them (it hung, on a pool of any
    /// size). Only this call runs here, never other work of the pool,
    /// which might wait for a lock the caller holds.
    fn wait(&self, timeout: Option<Duration>) -> (MutexGuard<'_, Option<Outcome<R>>>, bool) {
        if self.on_its_pool() {
            self.run_if_pending();
        }
        let state = self.lock();
        let pending = |s: &mut Option<Outcome<R>>| s.is_none();
        let state = match timeout {
            None => self.done.wait_while(state, pending),
            Some(t) => self
                .done
                .wait_timeout_while(state, t, pending)
                .map(|(s, _)| s)
                .map_err(|p| std::sync::PoisonError::new(p.into_inner().0)),
        }
        .unwrap_or_else(|p| p.into_inner());
        let finished = state.is_some();
        (state, finished)
    }
}

impl<R> AsyncResult<R> {
    /// Whether the call has finished (returned or panicked): then
    /// [`get`](Self::get) does not wait.
    pub fn ready(&self) -> bool {
        self.slot.lock().is_some()
    }

    /// Waits until the call has finished.
    pub fn wait(&self) {
        drop(self.slot.wait(None));
    }

    /// Waits until the call has finished or `timeout` has passed (Python's
    /// `wait(timeout)`); whether it has finished. On a thread of the pool
    /// the call was started on, a call not started yet runs here first, as
    /// in [`get`](Self::get).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.slot.wait(Some(timeout)).1
    }

    /// Cancels the call if no thread has started it yet
    /// (`concurrent.futures`' `Future.cancel()`): `Ok` when it will never
    /// run (what it owned is dropped here), else the handle back, the call
    /// running or done. With the `serial` backend the call has run before
    /// `apply_async` returned, so it is never cancelled.
    pub fn cancel(self) -> Result<(), AsyncResult<R>> {
        let call = lock(&self.slot.call).take();
        match call {
            Some(call) => {
                drop(call);
                Ok(())
            }
            None => Err(self),
        }
    }

    /// Whether the call returned without panicking (Python's
    /// `successful()`): `None` while it runs, where Python raises. For
    /// `try_apply_async` and `try_map_async`, a call that returned an `Err`
    /// returned: `Some(true)`, and `get()` gives the error.
    pub fn successful(&self) -> Option<bool> {
        self.slot.lock().as_ref().map(Result::is_ok)
    }

    /// Waits for the call and returns its result. On a thread of the pool
    /// the call was started on (inside an item of a map), a call that has
    /// not started yet runs here, so a call started there always finds a
    /// thread.
    ///
    /// # Panics
    /// If the call panicked: with an [`ItemPanic`](crate::ItemPanic)
    /// (`f: item 0 panicked: <message>`) holding the call's payload, as
    /// Python's `get()` raises the worker's exception.
    pub fn get(self) -> R {
        let mut state = self.slot.wait(None).0;
        match state.take() {
            Some(outcome) => outcome.unwrap_or_else(|payload| resume_unwind(payload)),
            None => unreachable!("the call finished without an outcome"),
        }
    }

    /// [`get`](Self::get), waiting at most `timeout`; on time-out the call
    /// goes on, and the error hands this handle back
    /// ([`AsyncTimeout::into_handle`]) to wait again. On a thread of the
    /// pool the call was started on, a call that has not started yet runs
    /// here first (as in [`get`](Self::get)), however long it takes.
    ///
    /// # Panics
    /// As [`get`](Self::get), if the call panicked.
    pub fn get_timeout(self, timeout: Duration) -> Result<R, AsyncTimeout<R>> {
        if self.slot.wait(Some(timeout)).1 {
            Ok(self.get())
        } else {
            Err(AsyncTimeout {
                handle: self,
                timeout,
            })
        }
    }
}

impl<R> fmt::Debug for AsyncResult<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("function", &self.function)
            .field("ready", &self.ready())
            .finish()
    }
}

/// The error of [`AsyncResult::get_timeout`]: the call had not finished in
/// time (Python's `multiprocessing.TimeoutError`). It is still running;
/// [`into_handle`](Self::into_handle) gives the handle back.
pub struct AsyncTimeout<R> {
    handle: AsyncResult<R>,
    timeout: Duration,
}

impl<R> AsyncTimeout<R> {
    /// The handle of the call, to wait again.
    pub fn into_handle(self) -> AsyncResult<R> {
        self.handle
    }
}

impl<R> fmt::Display for AsyncTimeout<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: no result within {:?}; the call is still running",
            self.handle.function, self.timeout
        )
    }
}

impl<R> fmt::Debug for AsyncTimeout<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<R> std::error::Error for AsyncTimeout<R> {}

/// `f::apply_async`: `f(item)` as one call on the pool (on this thread,
/// before returning, with the `serial` backend), through the same hooks as
/// a map of one item (panic, progress bar, trace).
#[doc(hidden)]
pub fn apply_async<T, R, F>(
    site: &'static MapSite,
    options: Option<&MapOptions>,
    item: T,
    f: F,
) -> AsyncResult<R>
where
    T: Send + 'static,
    R: Send + 'static,
    F: Fn(T) -> R + Send + 'static,
{
    let options = options.copied();
    let call: Pending<R> = Box::new(move || {
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            Call::run(site, options.as_ref(), "map", |call| {
                call.hooks(1, |hooks| {
                    let one = std::iter::once(item);
                    let mut out: Vec<R> = serial::run(hooks, one, |i, x| hooks.item(i, &f, x));
                    out.pop()
                })
            })
        }));
        outcome.map(|r| match r {
            Some(r) => r,
            None => unreachable!("one item gave no result"),
        })
    });
    start(site, options.as_ref(), false, call)
}

/// Starts `call` on the pool the site's options name (on this thread,
/// before returning, with the `serial` backend, and with the `mpi` one
/// when `mpi_inline`).
fn start<R: Send + 'static>(
    site: &'static MapSite,
    options: Option<&MapOptions>,
    mpi_inline: bool,
    call: Pending<R>,
) -> AsyncResult<R> {
    let plan = site.plan(options);
    let serial = match plan.backend {
        Backend::Serial => true,
        Backend::Mpi => mpi_inline,
        Backend::Threads => false,
    };
    // On the call's own pool when it asks for one (`threads(n)`), as a
    // map's items; else on the pool of this thread (the shared one).
    let pool = if serial { None } else { plan.pool() };
    let slot = Arc::new(Slot {
        state: Mutex::new(None),
        done: Condvar::new(),
        call: Mutex::new(Some(call)),
        pool,
        watchers: Mutex::new(Vec::new()),
    });
    if serial {
        slot.run_if_pending();
    } else {
        crate::config::ensure_pool();
        let job = {
            let slot = Arc::clone(&slot);
            // Nothing to do if a waiting thread of the pool took the call.
            move || slot.run_if_pending()
        };
        match pool {
            Some(pool) => pool.spawn(job),
            None => rayon::spawn(job),
        }
    }
    AsyncResult {
        function: site.name,
        slot,
    }
}

/// `f::map_async` and `f::try_map_async`: the whole map (`map`, given the
/// options) as one call that runs on the pool after this returns; its
/// items still run in parallel. With the `serial` backend, and with the
/// `mpi` backend (whose exchange between ranks is made on the thread that
/// calls, in the same order on every rank), it runs before this returns.
#[doc(hidden)]
pub fn map_async<R, F>(
    site: &'static MapSite,
    options: Option<&MapOptions>,
    map: F,
) -> AsyncResult<R>
where
    R: Send + 'static,
    F: FnOnce(Option<&MapOptions>) -> R + Send + 'static,
{
    let options = options.copied();
    let call: Pending<R> =
        Box::new(move || catch_unwind(AssertUnwindSafe(|| map(options.as_ref()))));
    start(site, options.as_ref(), true, call)
}

/// `f::try_apply_async`: [`apply_async`] for a function returning a
/// `Result`, whose `Err` comes back through `get()` as an [`ItemError`]
/// naming the function.
#[doc(hidden)]
pub fn try_apply_async<T, O, E, F>(
    site: &'static MapSite,
    options: Option<&MapOptions>,
    item: T,
    f: F,
) -> AsyncResult<Result<O, ItemError<E>>>
where
    T: Send + 'static,
    O: Send + 'static,
    E: Send + 'static,
    F: Fn(T) -> Result<O, E> + Send + 'static,
{
    let function = site.name;
    apply_async(site, options, item, move |x| {
        f(x).map_err(|error| ItemError {
            function,
            index: 0,
            error,
        })
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
