//! The watchdog's thread on real MPI: it owns the control communicator
//! and moves [`Watch`]'s messages (only with the `mpi` feature).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rsmpi::point_to_point::MatchedReceiveVec;
use rsmpi::topology::SimpleCommunicator;
use rsmpi::traits::{Communicator, Destination, Source};

use super::{Msg, Step, Watch, HUNG_EXIT_CODE, POLL};

/// The control communicator, moved to the watchdog thread.
struct Control(SimpleCommunicator);

// SAFETY: the watchdog only starts where MPI provides
// `MPI_THREAD_MULTIPLE`, under which any thread may call MPI on any
// communicator; after the move only the watchdog thread uses this one.
unsafe impl Send for Control {}

/// A running watchdog: its thread, or (if no thread could be started)
/// the same loop run on the main thread at the end.
pub(crate) struct Watchdog {
    returned: Arc<AtomicBool>,
    run: Run,
}

enum Run {
    Thread(std::thread::JoinHandle<()>),
    Inline(Control, Watch),
}

impl Watchdog {
    /// Duplicates `world` (a collective call: every rank of an SPMD job
    /// makes it at start-up) and starts watching. Needs
    /// `MPI_THREAD_MULTIPLE`.
    /// With `deadlocks` (only `main`'s thread communicates), a job whose
    /// ranks all wait, none finished, is aborted too.
    pub(crate) fn start(world: &SimpleCommunicator, grace: Duration, deadlocks: bool) -> Watchdog {
        let control = Control(world.duplicate());
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        let watch = Watch::with_deadlocks(rank, size, grace, deadlocks);
        crate::trace::watch_activity();
        let returned = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&returned);
        // The closure owns the communicator only if the thread starts.
        let slot = Arc::new(std::sync::Mutex::new(Some((control, watch))));
        let taken = Arc::clone(&slot);
        let spawned = std::thread::Builder::new()
            .name("parallel-watchdog".into())
            .spawn(move || {
                let parts = taken.lock().unwrap_or_else(|p| p.into_inner()).take();
                if let Some((control, mut watch)) = parts {
                    serve(&control, &mut watch, &flag);
                }
            });
        let run = match spawned {
            Ok(thread) => Run::Thread(thread),
            Err(_) => {
                // The thread never ran: the parts are still in the slot.
                match slot.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    Some((control, watch)) => Run::Inline(control, watch),
                    None => unreachable!("a thread that failed to start took nothing"),
                }
            }
        };
        Watchdog { returned, run }
    }

    /// `main` returned `Ok`: tells the other ranks at once.
    pub(crate) fn main_returned(&self) {
        self.returned.store(true, Ordering::Release);
        if let Run::Thread(t) = &self.run {
            t.thread().unpark();
        }
    }

    /// Waits until every rank has returned from `main` (or the job is
    /// aborted as hung), before `MPI_Finalize`.
    pub(crate) fn wait_all(self) {
        self.main_returned();
        match self.run {
            Run::Thread(t) => {
                // A panic in the watchdog is a bug of ours; the rank
                // still finalizes (the report was printed by the hook).
                let _ = t.join();
            }
            Run::Inline(control, mut watch) => serve(&control, &mut watch, &self.returned),
        }
    }
}

fn send(control: &SimpleCommunicator, to: usize, msg: &Msg) {
    let (tag, bytes) = msg.encode();
    // A few bytes: MPI sends them eagerly, so this returns at once.
    control
        .process_at_rank(to as i32)
        .send_with_tag(&bytes[..], tag);
}

/// The watchdog's loop, until every rank has finished.
fn serve(control: &Control, watch: &mut Watch, returned: &AtomicBool) {
    let control = &control.0;
    // After this rank finishes, poll fast at first so the end of a
    // healthy job is not delayed, then back off to POLL.
    let mut nap = POLL;
    loop {
        let now = Instant::now();
        let mut heard = false;
        while let Some(probed) = control.any_process().immediate_matched_probe() {
            let (bytes, status) = probed.matched_receive_vec::<u8>();
            if let Some(m) = Msg::decode(status.tag(), &bytes) {
                watch.receive(status.source_rank() as usize, m, now);
            }
            heard = true;
        }
        if !watch.is_finished() && returned.load(Ordering::Acquire) {
            for (to, m) in watch.finish(now) {
                send(control, to, &m);
            }
            nap = Duration::from_millis(1);
        } else if heard && watch.is_finished() {
            nap = Duration::from_millis(1);
        }
        watch.observe(&crate::trace::activity(), now);
        match watch.tick(now) {
            Step::Continue(out) => {
                for (to, m) in out {
                    send(control, to, &m);
                }
            }
            Step::Done => return,
            Step::Abort(report) => {
                eprintln!("{report}");
                let _ = crate::trace::flush();
                // On the world, so that the launcher's message names it.
                SimpleCommunicator::world().abort(HUNG_EXIT_CODE);
            }
        }
        if watch.is_finished() {
            std::thread::sleep(nap);
            nap = (nap * 2).min(POLL);
        } else {
            std::thread::park_timeout(POLL);
        }
    }
}
