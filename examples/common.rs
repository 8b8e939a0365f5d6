//! Shared helpers for the examples and benchmarks.

/// SplitMix64: a tiny, fast, well-mixed generator (Steele, Lea & Flood 2014),
/// seeded per item so results do not depend on which thread ran the item.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator for one seed.
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Busy work of about `iters` dependent floating-point steps, which the
/// optimiser cannot remove: a stand-in for a real per-item computation.
pub fn busy_work(seed: u64, iters: u32) -> f64 {
    let mut x = seed as f64 * 1e-3 + 0.5;
    for _ in 0..iters {
        x = (x * 1.000_000_1 + 0.3).sin().abs() + 0.1;
    }
    std::hint::black_box(x)
}

pub mod bench;
pub mod taskbench;
