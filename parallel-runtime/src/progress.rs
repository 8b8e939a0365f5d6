//! Progress bars on stderr (indicatif), one per map call.
//!
//! The bar advances per item. When stderr is not a terminal indicatif draws
//! nothing, so logs and pipes are never garbled.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::map::MapSite;

pub(crate) struct Progress(Option<ProgressBar>);

impl Progress {
    pub(crate) fn start(site: &MapSite, enabled: bool, len: usize) -> Self {
        if !enabled {
            return Progress(None);
        }
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} items ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style);
        }
        bar.set_prefix(site.name);
        Progress(Some(bar))
    }

    #[inline]
    pub(crate) fn inc(&self) {
        if let Some(bar) = &self.0 {
            bar.inc(1);
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.0 {
            bar.finish();
        }
    }

    #[cfg(test)]
    pub(crate) fn position(&self) -> Option<u64> {
        self.0.as_ref().map(ProgressBar::position)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_per_item() {
        let site = MapSite {
            name: "t",
            defaults: crate::map::MapOptions::new(),
        };
        let p = Progress::start(&site, true, 3);
        p.inc();
        p.inc();
        assert_eq!(p.position(), Some(2));
        assert_eq!(Progress::start(&site, false, 3).position(), None);
    }
}
