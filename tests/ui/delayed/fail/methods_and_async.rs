use parallel_runtime::prelude::*;

struct Model;

impl Model {
    #[delayed]
    fn predict(&self, x: f64) -> f64 {
        x
    }
}

#[delayed]
async fn fetch(url: String) -> String {
    url
}

#[delayed]
fn generic<T: Send + 'static>(x: T) -> T {
    x
}

fn main() {}
