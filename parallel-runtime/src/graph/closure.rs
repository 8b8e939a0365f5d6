//! Call-site tasks: [`delayed_fn`] makes a named task of a lazy graph from
//! any function or closure and its inputs (Dask's `delayed(f)(x, y)`), for
//! a function that cannot be annotated with `#[delayed]`. The same
//! machinery as the attribute's builders ([`task`]): the task is named in
//! keys, pictures and errors by the name given here.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, OnceLock};

use super::outcome::{from_result, ok};
use super::{task, Delayed, DepList, Input, Inputs, IntoDelayed, TaskFail, TaskSite};
use crate::bounds::IsResult;

/// `f` as a task named `name`, to record with [`DelayedFn::call`] (or
/// [`DelayedFn::try_call`] for a function returning a `Result`): Dask's
/// `delayed(f)` for a function you did not write, or a closure.
///
/// ```
/// use parallel_runtime::prelude::*;
///
/// #[delayed] fn inc(x: i64) -> i64 { x + 1 }
///
/// let parts = vec![inc(1), inc(2), inc(3)];
/// // Dask: total = delayed(sum)(parts)
/// let total = delayed_fn("sum", |xs: Vec<i64>| xs.iter().sum::<i64>()).call(parts);
/// // Several inputs: a tuple, one per parameter; each a value or a Delayed.
/// let scaled = delayed_fn("scale", |x: i64, k: i64| x * k).call((total, 10));
/// assert_eq!(scaled.key().name(), "scale");
/// assert!(scaled.to_dot().contains("sum-"));
/// assert_eq!(scaled.compute().unwrap(), 90);
/// ```
///
/// Inputs are passed as to a `#[delayed]` function ([`IntoDelayed`]): for
/// each parameter of type `T`, a `T`, a `Delayed<T>` or a `&Delayed<T>`
/// (and for a `Vec<T>` a `Vec<Delayed<T>>`); one input alone, several as a
/// tuple (up to 8), none as `()`. Write the closure's parameter types, as a
/// `#[delayed]` function's are written: they say what each input is.
///
/// [`call`](DelayedFn::call) takes the `DelayedFn`: a closure that captures
/// nothing or only `Copy` values is `Copy`, so one `DelayedFn` records any
/// number of tasks; clone one that captures more (`f.clone().call(…)`).
///
/// Keys are `name-0`, `name-1`, … numbered per name in this process, so
/// tasks made at several places under one name are told apart by number;
/// give call-site tasks names that no `#[delayed]` function has.
pub fn delayed_fn<F>(name: &'static str, f: F) -> DelayedFn<F> {
    DelayedFn {
        site: site_named(name),
        f,
    }
}

/// A function or closure named as a task: see [`delayed_fn`].
#[must_use = "a `DelayedFn` records nothing until `.call(inputs)`"]
#[derive(Clone, Copy)]
pub struct DelayedFn<F> {
    site: &'static TaskSite,
    f: F,
}

impl<F> fmt::Debug for DelayedFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DelayedFn")
            .field("name", &self.site.name)
            .finish_non_exhaustive()
    }
}

impl<F> DelayedFn<F> {
    /// The name given to [`delayed_fn`].
    pub fn name(&self) -> &'static str {
        self.site.name
    }

    /// Records one task of the function on `inputs` and returns its result
    /// to come; nothing runs until it is computed. A panic of the function
    /// fails the task: `compute` returns a
    /// [`DelayedError`](crate::DelayedError) naming it.
    pub fn call<Args, In>(self, inputs: In) -> Delayed<F::Output>
    where
        F: TaskFn<Args, In>,
    {
        self.f.record(self.site, inputs, ok)
    }

    /// For a function returning a `Result`: records one task whose value is
    /// the `Ok`; an `Err` fails the task (and cancels those that depend on
    /// it), and `compute` returns a [`DelayedError`](crate::DelayedError)
    /// naming the task, with the error's text and the error itself.
    ///
    /// ```
    /// use parallel_runtime::prelude::*;
    ///
    /// let parse = delayed_fn("parse", |s: String| s.parse::<i32>());
    /// assert_eq!(parse.try_call("7").compute().unwrap(), 7);
    /// let err = parse.try_call("x").compute().unwrap_err();
    /// assert!(err.to_string().contains("parse-1"), "{err}");
    /// ```
    pub fn try_call<Args, In>(self, inputs: In) -> Delayed<<F::Output as IsResult>::Ok>
    where
        F: TaskFn<Args, In>,
        F::Output: IsResult,
        <F::Output as IsResult>::Ok: Send + 'static,
        <F::Output as IsResult>::Err: fmt::Display + Send + 'static,
    {
        self.f.record(self.site, inputs, from_result)
    }
}

/// A function that [`delayed_fn`] can make tasks of, with `In` its inputs
/// (one input, a tuple of several, or `()`) for the parameters `Args`:
/// implemented for every `FnOnce` of up to 8 parameters whose inputs are
/// [`IntoDelayed`] of its parameters, `Send` and `'static`.
pub trait TaskFn<Args, In>: Send + 'static {
    /// What the function returns.
    type Output: Send + 'static;
    /// Records the task: `wrap` turns the function's result into the task's
    /// outcome.
    #[doc(hidden)]
    fn record<T, W>(self, site: &'static TaskSite, inputs: In, wrap: W) -> Delayed<T>
    where
        T: Send + 'static,
        W: FnOnce(Self::Output) -> Result<T, TaskFail> + Send + 'static;
}

impl<F, R> TaskFn<(), ()> for F
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    type Output = R;
    fn record<T, W>(self, site: &'static TaskSite, (): (), wrap: W) -> Delayed<T>
    where
        T: Send + 'static,
        W: FnOnce(R) -> Result<T, TaskFail> + Send + 'static,
    {
        task(site, DepList::new(), move |_| wrap(self()))
    }
}

impl<F, R, TA, A> TaskFn<(TA,), A> for F
where
    F: FnOnce(TA) -> R + Send + 'static,
    R: Send + 'static,
    A: IntoDelayed<TA>,
{
    type Output = R;
    fn record<T, W>(self, site: &'static TaskSite, a: A, wrap: W) -> Delayed<T>
    where
        T: Send + 'static,
        W: FnOnce(R) -> Result<T, TaskFail> + Send + 'static,
    {
        let mut deps = DepList::new();
        let a = a.into_input(&mut deps);
        task(site, deps, move |inputs: &Inputs<'_>| {
            wrap(self(a.resolve(inputs)?))
        })
    }
}

/// The impl for `n ≥ 2` parameters, inputs in a tuple of `n`.
macro_rules! task_fn {
    ($($t:ident $a:ident),+) => {
        impl<F, R, $($t, $a),+> TaskFn<($($t,)+), ($($a,)+)> for F
        where
            F: FnOnce($($t),+) -> R + Send + 'static,
            R: Send + 'static,
            $($a: IntoDelayed<$t>,)+
        {
            type Output = R;
            #[allow(non_snake_case)]
            fn record<T, W>(self, site: &'static TaskSite, ($($a,)+): ($($a,)+), wrap: W) -> Delayed<T>
            where
                T: Send + 'static,
                W: FnOnce(R) -> Result<T, TaskFail> + Send + 'static,
            {
                let mut deps = DepList::new();
                $(let $a = $a.into_input(&mut deps);)+
                task(site, deps, move |inputs: &Inputs<'_>| {
                    $(let $t = Input::<$t>::resolve($a, inputs)?;)+
                    wrap(self($($t),+))
                })
            }
        }
    };
}
task_fn!(TA A, TB B);
task_fn!(TA A, TB B, TC C);
task_fn!(TA A, TB B, TC C, TD D);
task_fn!(TA A, TB B, TC C, TD D, TE E);
task_fn!(TA A, TB B, TC C, TD D, TE E, TF G);
task_fn!(TA A, TB B, TC C, TD D, TE E, TF G, TG H);
task_fn!(TA A, TB B, TC C, TD D, TE E, TF G, TG H, TH I);

/// The site of the call-site tasks named `name`, one per name in this
/// process (so that their keys are numbered apart), made on first use and
/// kept for the life of the process, like an annotated function's.
fn site_named(name: &'static str) -> &'static TaskSite {
    static SITES: OnceLock<Mutex<HashMap<&'static str, &'static TaskSite>>> = OnceLock::new();
    let sites = SITES.get_or_init(Mutex::default);
    let mut sites = sites.lock().unwrap_or_else(|p| p.into_inner());
    sites
        .entry(name)
        .or_insert_with(|| Box::leak(Box::new(TaskSite::new(name))))
}
