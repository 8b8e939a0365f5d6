use parallel_runtime::prelude::*;

#[delayed]
fn count(text: &str, words: &[String], path: &std::path::Path) -> usize {
    text.len() + words.len() + path.as_os_str().len()
}

fn main() {}
