//! Progress bars on stderr (indicatif), one per map call.
//!
//! The bar advances per item. When stderr is not a terminal indicatif draws
//! nothing, so logs and pipes are never garbled.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The bar of one path of a map call (`None`: no bar asked for), and the
/// call's entry in the live dashboard (`None`: no dashboard served).
pub(super) struct Progress(Option<ProgressBar>, Option<crate::dashboard::Job>);

impl Progress {
    /// A bar of `len` items prefixed with the function's `name`, when
    /// `enabled`.
    pub(super) fn start(name: &'static str, enabled: bool, len: usize) -> Self {
        // The live dashboard counts the items where the bar does (one
        // relaxed load when it is off).
        let live = crate::dashboard::job("map", name, len);
        if !enabled {
            return Progress(None, live);
        }
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} items ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar.set_prefix(name);
        Progress(Some(bar), live)
    }

    /// The same bar, to advance from another call (each window of a
    /// streaming map); dropping the copy leaves the bar as it is.
    pub(super) fn share(&self) -> Self {
        Progress(self.0.clone(), self.1.clone())
    }

    /// Whether a bar is shown, or the live dashboard counts the items:
    /// either way each item must advance it.
    #[inline]
    pub(super) fn shown(&self) -> bool {
        self.0.is_some() || self.1.is_some()
    }

    /// One more item done.
    #[inline]
    pub(super) fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
        if let Some(live) = &self.1 {
            live.inc();
        }
    }

    /// Leaves the bar drawn at its end (dropping it instead clears it).
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish();
        }
    }

    #[cfg(test)]
    pub(super) fn position(&self) -> Option<u64> {
        self.0.as_ref().map(ProgressBar::position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_per_item() {
        let p = Progress::start("t", true, 3);
        p.inc();
        p.inc();
        assert_eq!(p.position(), Some(2));
        assert_eq!(Progress::start("t", false, 3).position(), None);
    }
}
