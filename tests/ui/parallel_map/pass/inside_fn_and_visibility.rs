use parallel_runtime::prelude::*;

pub mod physics {
    use parallel_runtime::prelude::*;

    /// Documented and public: so are its entry points.
    #[parallel_map(schedule = "guided", chunk_size = 2, progress)]
    pub fn energy(v: &f64, mass: f64) -> f64 {
        0.5 * mass * v * v
    }
}

fn main() {
    // Declared inside a function body, with a local type.
    #[derive(Clone, Copy)]
    struct Local(u8);
    #[parallel_map]
    fn unwrap_local(l: Local) -> u8 {
        l.0
    }
    assert_eq!(unwrap_local::map(vec![Local(1), Local(2)]), vec![1, 2]);
    assert_eq!(physics::energy::map(&[2.0, 4.0], 1.0), vec![2.0, 8.0]);
    let _ = MapOptions::new();
}
