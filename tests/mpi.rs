//! The communicator's behaviour, on a local world of threads (no MPI
//! needed): both paths, point to point and collectives, split, nonblocking,
//! errors that name the rank, and `#[parallel_map]` across ranks.

use std::collections::HashMap;

use parallel_runtime::mpi::{local, Error, Request, Source, ANY_SOURCE, ANY_TAG};
use parallel_runtime::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Particle {
    name: String,
    position: [f64; 3],
    tags: HashMap<String, u32>,
}

#[derive(Equivalence, Clone, Copy, Debug, PartialEq, Default)]
#[mpi(crate = "::parallel_runtime::mpi::rsmpi")]
struct Point {
    xyz: [f64; 3],
    id: u64,
}

#[test]
fn objects_point_to_point_with_tags_and_status() {
    local::run(3, |w| {
        let r = w.rank();
        if r == 0 {
            let p = Particle {
                name: "electron".into(),
                position: [1.0, 2.0, 3.0],
                tags: HashMap::from([("charge".into(), 1)]),
            };
            w.send(&p, 1, 5).unwrap();
            w.send(&"late", 1, 6).unwrap();
            // From anyone, any tag: both other ranks report.
            let mut from = vec![];
            for _ in 0..2 {
                let (v, st): (usize, _) = w.recv_status(ANY_SOURCE, ANY_TAG).unwrap();
                assert_eq!(v, st.source() * 100);
                assert_eq!(st.tag(), 9);
                from.push(st.source());
            }
            from.sort();
            assert_eq!(from, vec![1, 2]);
        } else {
            if r == 1 {
                // Receive by tag, out of the order sent.
                let late: String = w.recv(0, 6).unwrap();
                let p: Particle = w.recv(Source::Rank(0), 5).unwrap();
                assert_eq!(late, "late");
                assert_eq!(p.position, [1.0, 2.0, 3.0]);
                assert_eq!(p.tags["charge"], 1);
            }
            w.send(&(r * 100), 0, 9).unwrap();
        }
    });
}

#[test]
fn sendrecv_and_nonblocking_exchange_around_a_ring() {
    let out = local::run(4, |w| {
        let (r, n) = (w.rank(), w.size());
        let (right, left) = ((r + 1) % n, (r + n - 1) % n);
        let got: Vec<usize> = w.sendrecv(&vec![r; 3], right, 1, left, 1).unwrap();
        assert_eq!(got, vec![left; 3]);

        let recv = w.irecv::<String>(left, 2).unwrap();
        let send = w.isend(&format!("hi from {r}"), right, 2).unwrap();
        let mut reqs = vec![recv];
        let (i, text) = Request::wait_any(&mut reqs).unwrap().unwrap();
        assert_eq!(text, format!("hi from {left}"));
        assert_eq!(i, 0);
        assert!(reqs.is_empty());
        send.wait().unwrap();

        let many: Vec<_> = (0..3)
            .map(|k| w.irecv::<u32>(left, 10 + k).unwrap())
            .collect();
        for k in (0..3).rev() {
            w.isend(&(k as u32), right, 10 + k).unwrap().wait().unwrap();
        }
        let vals = Request::wait_all(many).unwrap();
        assert_eq!(vals, vec![0, 1, 2]);

        let mut pending = w.irecv::<u8>(left, 99).unwrap();
        assert!(
            pending.test().unwrap().is_none(),
            "nothing sent with tag 99 yet"
        );
        w.barrier().unwrap();
        w.send(&7u8, right, 99).unwrap();
        let got = pending.wait_status().unwrap().0;
        // A receive completes once: asking again is a clear error.
        let again = pending.test().unwrap_err().to_string();
        assert!(
            again.contains("`irecv`: this request has completed already"),
            "{again}"
        );
        got
    });
    assert_eq!(out, vec![7; 4]);
}

#[test]
fn object_collectives() {
    local::run(4, |w| {
        let r = w.rank();
        let cfg: HashMap<String, f64> = w
            .bcast(2, (r == 2).then(|| HashMap::from([("dt".into(), 0.1)])))
            .unwrap();
        assert_eq!(cfg["dt"], 0.1);
        let mine: String = w
            .scatter(
                0,
                (r == 0).then(|| (0..4).map(|i| "ab".repeat(i)).collect()),
            )
            .unwrap();
        assert_eq!(mine.len(), 2 * r);
        let g = w.gather(3, &mine).unwrap();
        assert_eq!(g.is_some(), r == 3);
        let all: Vec<String> = w.allgather(&mine).unwrap();
        assert_eq!(all[3], "ababab");
        assert_eq!(
            w.reduce(1, r as f64, Op::Sum).unwrap(),
            (r == 1).then_some(6.0)
        );
        assert_eq!(w.all_reduce(r as i32 - 2, Op::Min).unwrap(), -2);
        assert_eq!(w.all_reduce(r as u8 + 1, Op::Prod).unwrap(), 24);
        // A closure need not commute: it is applied in rank order.
        let s = w.all_reduce_with(vec![r], |mut a, b| {
            a.extend(b);
            a
        });
        assert_eq!(s.unwrap(), vec![0, 1, 2, 3]);
        assert_eq!(
            w.reduce_with(0, r, |a, b| a * 10 + b).unwrap(),
            (r == 0).then_some(123)
        );
    });
}

#[test]
fn buffer_collectives_on_numbers_and_derived_structs() {
    local::run(3, |w| {
        let r = w.rank();
        let mut buf = [0u64; 4];
        if r == 0 {
            buf = [1, 2, 3, 4];
        }
        w.bcast_buf(0, &mut buf).unwrap();
        assert_eq!(buf, [1, 2, 3, 4]);

        let pts: Vec<Point> = (0..6)
            .map(|i| Point {
                xyz: [i as f64; 3],
                id: i,
            })
            .collect();
        let mut two = [Point::default(); 2];
        w.scatter_buf(1, (r == 1).then_some(&pts[..]), &mut two)
            .unwrap();
        assert_eq!(two[0].id, 2 * r as u64);
        let mut back = vec![Point::default(); if r == 1 { 6 } else { 0 }];
        w.gather_buf(1, &two, (r == 1).then_some(&mut back[..]))
            .unwrap();
        if r == 1 {
            assert_eq!(back, pts);
        }
        let mut everyone = [0i32; 3];
        w.all_gather_buf(&[r as i32 * 2], &mut everyone).unwrap();
        assert_eq!(everyone, [0, 2, 4]);

        let mut sum = [0.0f64; 2];
        w.all_reduce_buf(&[r as f64, 1.0], &mut sum, Op::Sum)
            .unwrap();
        assert_eq!(sum, [3.0, 3.0]);
        let mut max = [0.0f32; 1];
        w.reduce_buf(2, &[r as f32], (r == 2).then_some(&mut max[..]), Op::Max)
            .unwrap();
        if r == 2 {
            assert_eq!(max, [2.0]);
        }

        let mut got = [0.0f64; 8];
        let (right, left) = ((r + 1) % 3, (r + 2) % 3);
        let st = w
            .sendrecv_buf(&[r as f64; 5], right, 4, &mut got, left, 4)
            .unwrap();
        assert_eq!((st.count(), st.source()), (5, left));
        assert_eq!(got[..5], [left as f64; 5]);
    });
}

#[test]
fn split_into_sub_communicators() {
    local::run(5, |w| {
        let r = w.rank();
        let color = if r == 4 { None } else { Some((r % 2) as u32) };
        // Reverse order inside each color through the key.
        let sub = w.split(color, -(r as i32)).unwrap();
        match sub {
            None => assert_eq!(r, 4),
            Some(sub) => {
                assert_eq!(sub.size(), 2);
                let expected_rank = if r < 2 { 1 } else { 0 };
                assert_eq!(sub.rank(), expected_rank);
                let members: Vec<usize> = sub.allgather(&r).unwrap();
                assert!(members.iter().all(|m| m % 2 == r % 2));
                // The world still works beside it.
                assert_eq!(sub.all_reduce(1, Op::Sum).unwrap(), 2);
            }
        }
        let dup = w.dup().unwrap();
        assert_eq!(dup.all_reduce(1usize, Op::Sum).unwrap(), 5);
    });
}

#[test]
fn misuse_is_an_error_naming_the_rank() {
    local::run(2, |w| {
        let r = w.rank();
        let e = w.send(&1, 7, 0).unwrap_err();
        assert!(
            matches!(
                e,
                Error::NoSuchRank {
                    target: 7,
                    size: 2,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().starts_with(&format!("rank {r}: ")), "{e}");
        if r == 0 {
            let e = w.bcast::<u8>(0, None).unwrap_err();
            assert!(e.to_string().contains("must pass `Some(value)`"), "{e}");
            // A value of another type than the one sent does not decode.
            w.send(&(), 1, 3).unwrap();
        } else {
            let e = w.recv::<Vec<u64>>(0, 3).unwrap_err();
            assert!(e.to_string().starts_with("rank 1: `recv`"), "{e}");
            assert!(matches!(e, Error::WrongType { from: 0, .. }), "{e}");
        }
        let mut small = [0u8; 2];
        let e = w
            .all_reduce_buf(&[1u8, 2, 3], &mut small, Op::Sum)
            .unwrap_err();
        assert!(matches!(e, Error::Length { .. }), "{e}");
    });
}

#[test]
fn a_rank_waiting_on_a_failed_rank_gets_an_error() {
    let seen = std::sync::Mutex::new(Vec::new());
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        local::run(3, |w| {
            if w.rank() == 2 {
                panic!("rank 2 gives up");
            }
            let e = w.recv::<u8>(2, 0).unwrap_err();
            seen.lock().unwrap().push(e.to_string());
        })
    }));
    let p = r.unwrap_err();
    assert_eq!(p.downcast_ref::<&str>(), Some(&"rank 2 gives up"));
    let mut seen = seen.into_inner().unwrap();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            "rank 0: stopped because rank 2 failed",
            "rank 1: stopped because rank 2 failed"
        ]
    );
}

#[parallel_map(backend = "mpi")]
fn cube(x: u64) -> u64 {
    x * x * x
}

#[test]
fn parallel_map_splits_items_across_ranks() {
    let out = local::run(3, |w| {
        let all = cube::map(0..10u64);
        let many = cube::map(0..1000u64);
        (w.rank(), all, many)
    });
    for (r, all, many) in out {
        assert_eq!(
            all,
            (0..10u64).map(|x| x * x * x).collect::<Vec<_>>(),
            "rank {r}"
        );
        assert_eq!(many.len(), 1000);
        assert_eq!(many[999], 999 * 999 * 999);
    }
}

#[test]
fn a_world_of_one_rank_does_everything_locally() {
    let w = Comm::single();
    assert_eq!((w.rank(), w.size(), w.is_mpi()), (0, 1, false));
    assert_eq!(w.bcast(0, Some(3u8)).unwrap(), 3);
    assert_eq!(w.all_reduce(2.5f64, Op::Sum).unwrap(), 2.5);
    assert_eq!(
        w.gather(0, &"x".to_string()).unwrap(),
        Some(vec!["x".to_string()])
    );
    w.send(&vec![1, 2], 0, 0).unwrap();
    assert_eq!(w.recv::<Vec<i32>>(0, 0).unwrap(), vec![1, 2]);
    assert!(parallel_runtime::mpi::wtime() >= 0.0);
    assert!(!parallel_runtime::mpi::processor_name().is_empty());
}

static NOISY_CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[parallel_map(backend = "mpi")]
fn noisy_mpi(x: u32) -> f64 {
    NOISY_CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let x = f64::from(x) * 0.37;
    x.sin() * 1e10_f64.powf(x.cos())
}

#[test]
fn reduce_across_ranks_splits_the_work_and_keeps_the_bits() {
    if parallel_tests::backend_forced_away_from(
        "reduce_across_ranks_splits_the_work_and_keeps_the_bits",
        &["mpi"],
    ) {
        return;
    }
    use parallel_runtime::prelude::{Backend, MapOptions};
    let n = 50_000u32;
    let serial = noisy_mpi::reduce_with(
        &MapOptions::new().backend(Backend::Serial),
        0..n,
        0.0,
        |a, b| a + b,
    );
    NOISY_CALLS.store(0, std::sync::atomic::Ordering::SeqCst);
    let out = local::run(3, |w| {
        (w.rank(), noisy_mpi::reduce(0..n, 0.0, |a, b| a + b))
    });
    // Every item ran once in the whole job, not once per rank.
    assert_eq!(
        NOISY_CALLS.load(std::sync::atomic::Ordering::SeqCst),
        n as usize
    );
    for (r, total) in out {
        assert_eq!(total.to_bits(), serial.to_bits(), "rank {r}");
    }
}

#[test]
fn waiting_for_a_rank_that_returned_is_an_error_not_a_hang() {
    let out = local::run(3, |w| match w.rank() {
        0 => w.recv::<u8>(1, 5).map_err(|e| e.to_string()),
        1 => Ok(0), // returns without sending
        _ => w
            .recv::<u8>(parallel_runtime::mpi::ANY_SOURCE, 5)
            .map_err(|e| e.to_string()),
    });
    assert_eq!(
        out[0],
        Err("rank 0: waits for a message from rank 1, which returned without sending it".into())
    );
    assert!(out[2].is_err(), "{:?}", out[2]);
}

/// Two ranks that each receive from the other first, a rank in a
/// collective while another waits for a message, and a rank that receives
/// from itself: in the local world every waiting rank gets
/// `Error::Deadlock` after about a second instead of hanging `cargo test`
/// (a rank that returns early hands the others `PeerFinished`).
#[test]
fn a_deadlock_in_a_local_world_is_an_error_not_a_hang() {
    let started = std::time::Instant::now();
    let out = local::run(2, |w| w.recv::<u32>(1 - w.rank(), 0));
    let deadlocks = out
        .iter()
        .filter(|r| matches!(r, Err(Error::Deadlock { waiting, .. }) if waiting == &vec![0, 1]))
        .count();
    assert!(deadlocks >= 1, "{out:?}");
    assert!(out.iter().all(Result::is_err), "{out:?}");
    // The text of a deadlock that names both ranks (a rank that detects
    // it after the other already returned with its own error sees itself
    // alone waiting: a race on a loaded machine, failed CI once).
    let text = out.iter().find_map(|r| match r {
        Err(e @ Error::Deadlock { waiting, .. }) if waiting == &vec![0, 1] => Some(e.to_string()),
        _ => None,
    });
    let text = text.unwrap_or_default();
    assert!(
        text.contains("deadlock: ranks [0, 1] all wait")
            && text.contains("every receive has its send"),
        "{text}"
    );

    // Collectives against a receive: rank 0 in `barrier`, rank 1 in `recv`.
    let out = local::run(2, |w| {
        if w.rank() == 0 {
            w.barrier()
        } else {
            w.recv::<u8>(0, 0).map(drop)
        }
    });
    assert!(out.iter().all(Result::is_err), "{out:?}");
    assert!(
        out.iter().any(|r| matches!(r, Err(Error::Deadlock { .. }))),
        "{out:?}"
    );

    // A world of one rank that receives what it never sent.
    let got = Comm::single().recv::<u8>(0, 9);
    assert!(
        matches!(got, Err(Error::Deadlock { rank: 0, ref waiting, .. }) if waiting == &vec![0]),
        "{got:?}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
}

/// A rank that computes for longer than the deadlock's second while the
/// others wait for it is not deadlocked: the job finishes.
#[test]
fn a_slow_rank_in_a_local_world_is_no_deadlock() {
    let out = local::run(3, |w| {
        if w.rank() == 2 {
            std::thread::sleep(std::time::Duration::from_millis(2500));
            w.send(&7u32, 0, 1)?;
            w.send(&8u32, 1, 1)?;
        }
        let got = if w.rank() < 2 {
            w.recv::<u32>(2, 1)?
        } else {
            0
        };
        w.barrier()?;
        Ok::<_, Error>(got)
    });
    assert_eq!(
        out.into_iter().collect::<Result<Vec<_>, _>>().unwrap(),
        vec![7, 8, 0]
    );
}

#[test]
fn nonblocking_buffer_path_gives_the_vectors_back() {
    let out = local::run(3, |w| {
        let (r, n) = (w.rank(), w.size());
        let (right, left) = ((r + 1) % n, (r + n - 1) % n);
        let mut recv = w.irecv_buf(vec![0.0f64; 8], left, 1).unwrap();
        assert!(recv.test().unwrap().is_none(), "nothing sent yet");
        w.barrier().unwrap();
        let send = w.isend_buf(vec![r as f64; 5], right, 1).unwrap();
        let (back, no_status) = send.wait().unwrap();
        assert_eq!((back, no_status), (vec![r as f64; 5], None));
        let (filled, status) = recv.wait().unwrap();
        let status = status.unwrap();
        assert_eq!((status.source(), status.count()), (left, 5));
        // A message longer than the vector is an error naming both ranks.
        let too_small = w.irecv_buf(vec![0u8; 2], left, 2).unwrap();
        w.isend_buf(vec![1u8; 3], right, 2).unwrap().wait().unwrap();
        let err = too_small.wait().unwrap_err().to_string();
        (filled, err)
    });
    for (r, (filled, err)) in out.into_iter().enumerate() {
        let left = (r + 2) % 3;
        assert_eq!(&filled[..5], &[left as f64; 5]);
        assert_eq!(&filled[5..], &[0.0; 3]);
        assert!(
            err.contains(&format!("rank {r}")) && err.contains("3 elements sent, room for 2"),
            "{err}"
        );
    }
}

#[test]
fn a_value_of_another_type_is_an_error_naming_both_types() {
    local::run(2, |w| {
        if w.rank() == 0 {
            w.send(&(2usize, "r3".to_string()), 1, 0).unwrap();
            w.send(&vec![3u64], 1, 0).unwrap();
            w.send(&0.0f64, 1, 0).unwrap();
            w.send("still in step", 1, 0).unwrap();
            w.send(&[1u8, 2][..], 1, 1).unwrap();
            w.send(&Box::new(4u32), 1, 1).unwrap();
        } else {
            let e = w.recv::<String>(0, 0).unwrap_err();
            assert_eq!(
                e.to_string(),
                "rank 1: `recv`: the message from rank 0 holds a `(usize, String)`, but this \
                 rank receives a `String`; send and receive the same type (or serde-compatible \
                 ones, such as `&str` and `String`)"
            );
            assert!(matches!(w.recv::<u8>(0, 0), Err(Error::WrongType { .. })));
            assert!(matches!(w.recv::<u64>(0, 0), Err(Error::WrongType { .. })));
            assert_eq!(w.recv::<String>(0, 0).unwrap(), "still in step");
            assert_eq!(w.recv::<Vec<u8>>(0, 1).unwrap(), [1, 2]);
            assert_eq!(w.recv::<u32>(0, 1).unwrap(), 4);
        }
    });
}

#[test]
fn receives_match_in_the_order_posted() {
    local::run(2, |w| {
        if w.rank() == 0 {
            w.barrier().unwrap();
            for m in ["A", "B", "C", "D"] {
                w.send(m, 1, 0).unwrap();
            }
            w.send_buf(&[1u8], 1, 1).unwrap();
            w.send_buf(&[2u8], 1, 1).unwrap();
        } else {
            let a = w.irecv::<String>(0, 0).unwrap();
            let b = w.irecv::<String>(0, 0).unwrap();
            w.barrier().unwrap();
            // Waited in reverse: still the order posted.
            assert_eq!(b.wait().unwrap(), "B");
            assert_eq!(a.wait().unwrap(), "A");
            // An irecv, then a blocking recv: the irecv gets the earlier one.
            let c = w.irecv::<String>(0, ANY_TAG).unwrap();
            assert_eq!(w.recv::<String>(0, 0).unwrap(), "D");
            assert_eq!(c.wait().unwrap(), "C");
            let first = w.irecv_buf(vec![0u8; 1], 0, 1).unwrap();
            let mut second = [0u8];
            w.recv_buf(&mut second, 0, 1).unwrap();
            assert_eq!((first.wait().unwrap().0, second), (vec![1], [2]));
        }
    });
}

#[test]
fn counts_are_exact_and_tags_checked() {
    local::run(2, |w| {
        assert_eq!(w.tag_ub(), i32::MAX);
        let e = w.send(&1u8, 1 - w.rank(), -1).unwrap_err();
        assert!(matches!(e, Error::Tag { tag: -1, .. }), "{e}");
        assert!(matches!(w.recv::<u8>(0, -7), Err(Error::Tag { .. })));
        if w.rank() == 0 {
            w.send_buf(&[1u8, 2, 3], 1, 0).unwrap();
            w.send_buf(&[5u64; 2], 1, 0).unwrap();
        } else {
            let mut four = [0u64; 4];
            let e = w.recv_buf(&mut four, 0, 0).unwrap_err().to_string();
            assert!(
                e.ends_with("(3 bytes sent, not a whole number of `u64` elements (8 bytes each))"),
                "{e}"
            );
            assert_eq!(w.recv_buf(&mut four, 0, 0).unwrap().count(), 2);
        }
    });
}

mod decoding_never_lies {
    use parallel_runtime::codec::{decode, encode};
    use proptest::prelude::*;

    /// `bytes` decoded as `T`: an error or the value that was encoded as
    /// a `T` (never another), and never a panic.
    fn honest<T>(bytes: &[u8], encoded_as_t: Option<&T>) -> Result<(), TestCaseError>
    where
        T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        match (decode::<T>(bytes), encoded_as_t) {
            (Err(_), _) => Ok(()),
            (Ok(v), Some(t)) => {
                prop_assert_eq!(&v, t);
                Ok(())
            }
            (Ok(v), None) => Err(TestCaseError::fail(format!(
                "decoded {v:?} from bytes that hold no {}",
                std::any::type_name::<T>()
            ))),
        }
    }

    proptest! {
        #[test]
        fn random_bytes_never_decode(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            honest::<String>(&bytes, None)?;
            honest::<u64>(&bytes, None)?;
            honest::<Vec<u32>>(&bytes, None)?;
            honest::<(usize, String)>(&bytes, None)?;
            honest::<Option<f64>>(&bytes, None)?;
        }

        #[test]
        fn values_of_another_type_never_decode(
            a in any::<(usize, String)>(),
            b in proptest::collection::vec(any::<u64>(), 0..8),
            c in any::<f64>(),
            d in any::<String>(),
            e in any::<u8>(),
        ) {
            let ea = encode(&a).unwrap();
            let eb = encode(&b).unwrap();
            let ec = encode(&c).unwrap();
            let ed = encode(&d).unwrap();
            let ee = encode(&e).unwrap();
            honest::<String>(&ea, None)?;
            honest::<(usize, String)>(&ea, Some(&a))?;
            honest::<u8>(&eb, None)?;
            honest::<Vec<u64>>(&eb, Some(&b))?;
            honest::<u64>(&ec, None)?;
            honest::<Vec<u8>>(&ed, None)?;
            honest::<String>(&ed, Some(&d))?;
            honest::<bool>(&ee, None)?;
            honest::<char>(&ee, None)?;
            // Truncated or extended encodings of a right type are refused.
            if !ed.is_empty() {
                honest::<String>(&ed[..ed.len() - 1], None)?;
            }
            let mut longer = ee.clone();
            longer.push(0);
            honest::<u8>(&longer, None)?;
        }

        #[test]
        fn corrupted_headers_never_decode_silently(
            v in any::<(u32, String)>(),
            at in 0usize..11,
            flip in 1u8..=255,
        ) {
            let mut b = encode(&v).unwrap();
            b[at] ^= flip;
            // A flipped mark or fingerprint byte is refused; a flipped name
            // length may shift the payload, which then fails or is refused.
            if at < 9 {
                honest::<(u32, String)>(&b, None)?;
            } else {
                let _ = decode::<(u32, String)>(&b);
            }
        }
    }
}
