//! Colours of functions: a categorical palette of 24 colours chosen to be
//! told apart (Kelly's colours of maximum contrast, without white, black
//! and the reds that mark failures, then Tableau's), given to the
//! functions in name order, so the first 24 names never share a colour;
//! beyond, hues step by the golden angle.

/// The palette, in the order it is handed out.
const PALETTE: [&str; 24] = [
    "#0067a5", "#f38400", "#008856", "#875692", "#f3c300", "#a1caf1", "#c2b280", "#848482",
    "#e68fac", "#604e97", "#f6a600", "#b3446c", "#dcd300", "#882d17", "#8db600", "#654522",
    "#2b3d26", "#f99379", "#4e79a7", "#76b7b2", "#59a14f", "#edc948", "#ff9da7", "#9c755f",
];

/// The colour of the `i`-th function (in name order), as CSS.
pub(crate) fn colour(i: usize) -> String {
    match PALETTE.get(i) {
        Some(c) => (*c).to_owned(),
        None => {
            // 137.5°: each new hue falls in the largest gap left.
            let hue = (i - PALETTE.len()) as f64 * 137.507_764 % 360.0;
            let light = [45, 62, 35][i % 3];
            format!("hsl({hue:.0}, 60%, {light}%)")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forty_functions_get_forty_colours() {
        let colours: std::collections::HashSet<String> = (0..40).map(colour).collect();
        assert_eq!(colours.len(), 40);
        // No function is drawn in the red of failures.
        assert!(!colours.contains("#be0032") && !colours.contains("#d00"));
    }
}
