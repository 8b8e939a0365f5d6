use parallel_runtime::prelude::*;

pub mod stages {
    use parallel_runtime::prelude::*;

    /// Documented and public: so is its plain function.
    #[delayed]
    pub fn double(x: u64) -> u64 {
        2 * x
    }
}

fn main() {
    // Declared inside a function body, with a local type and a pattern.
    #[derive(Clone, Copy, Debug, PartialEq)]
    struct Local(u8);
    #[delayed]
    fn swap((a, b): (Local, Local)) -> (Local, Local) {
        (b, a)
    }
    #[delayed]
    fn unit() {}
    let pair = swap((Local(1), Local(2)));
    assert_eq!(pair.compute().unwrap(), (Local(2), Local(1)));
    assert_eq!(stages::double::call(4), 8);
    assert_eq!(stages::double(stages::double(1)).compute().unwrap(), 4);
    unit().compute().unwrap();
}
