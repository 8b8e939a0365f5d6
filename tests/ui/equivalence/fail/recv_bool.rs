use parallel_runtime::prelude::*;

fn main() {
    let world = Comm::single();
    // Sending flags is fine: every `bool` is a valid byte.
    world.send_buf(&[true, false], 0, 0).unwrap();
    // Receiving into them is not: rank 0 could send `[2u8, 0, 255]`.
    let mut flags = [false; 3];
    world.recv_buf(&mut flags, 0, 0).unwrap();
    let req = world.irecv_buf(vec![false; 2], 0, 0).unwrap();
    drop(req);
}
