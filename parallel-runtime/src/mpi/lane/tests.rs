//! The lane in a local world: frames of every size, nothing left posted,
//! a notice cut short.

use super::*;
use crate::mpi::local;

/// The frame rank `from` sends as its `k`-th: `len` bytes of a pattern.
fn frame_of(lane: &mut Lane<'_>, from: usize, k: usize, len: usize) -> Vec<u8> {
    let mut f = lane.frame();
    f.extend((0..len).map(|i| (i * 7 + from * 13 + k) as u8));
    f
}

#[test]
fn frames_of_every_size_arrive_whole_and_none_is_taken_after() {
    let lens = [
        0,
        1,
        SLOT - 2,
        SLOT - 1,
        SLOT,
        SLOT + 1,
        3 * SLOT,
        1 << 20,
        5,
    ];
    let out = local::run(3, |w| {
        let me = w.rank();
        let mut lane = Lane::new(&w, 900).expect("a lane");
        if me == 0 {
            lane.expect(1, lens.len()).expect("expect");
            lane.expect(2, lens.len()).expect("expect");
            let mut got: Vec<Vec<Vec<u8>>> = vec![Vec::new(); 3];
            while lane.expected() > 0 {
                if let Some((from, f)) = lane.poll().expect("poll") {
                    got[from].push(Lane::payload(&f).to_vec());
                    lane.recycle(f);
                }
            }
            for from in [1, 2] {
                // Long frames may come after the short ones sent after
                // them: compare as sets of (length, content).
                let mut want: Vec<Vec<u8>> = lens
                    .iter()
                    .enumerate()
                    .map(|(k, &len)| {
                        let f = frame_of(&mut lane, from, k, len);
                        Lane::payload(&f).to_vec()
                    })
                    .collect();
                let mut have = got[from].clone();
                want.sort();
                have.sort();
                assert!(have == want, "frames from rank {from} differ");
            }
            // Nothing is left posted: a message sent on the lane's tag
            // after the frames is the next receive's.
            let after: u64 = w.recv(1, 900).expect("the message after the lane's frames");
            assert_eq!(after, 42);
        } else {
            for (k, &len) in lens.iter().enumerate() {
                let f = frame_of(&mut lane, me, k, len);
                lane.send(0, f).expect("send");
            }
            lane.flush().expect("flush");
            if me == 1 {
                w.send(&42u64, 0, 900).expect("send after");
            }
        }
        me
    });
    assert_eq!(out, vec![0, 1, 2]);
}

#[test]
fn a_notice_cut_short_is_an_error_naming_the_sender() {
    let out = local::run(2, |w| {
        let mut lane = Lane::new(&w, 900).expect("a lane");
        if w.rank() == 1 {
            w.send_buf(&[LONG, 1, 2][..], 0, 900).expect("send");
            return String::new();
        }
        lane.expect(1, 1).expect("expect");
        loop {
            match lane.poll() {
                Ok(None) => continue,
                Ok(Some(_)) => return "a frame".to_owned(),
                Err(e) => return e.to_string(),
            }
        }
    });
    assert!(
        out[0].contains("rank 1") && out[0].contains("notice"),
        "{}",
        out[0]
    );
}
