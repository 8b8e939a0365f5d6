//! The page's unit tests: escaping, limits, colours.

use parallel_runtime::trace::parse;

use super::render_html;

/// A chain of `n` tasks, each reading the one before, named `name`.
fn chain(n: usize, name: &str) -> Vec<parallel_runtime::trace::Event> {
    let events: Vec<String> = (0..n)
        .map(|i| {
            let deps = if i == 0 { String::new() } else { format!("\"t-{}\"", i - 1) };
            format!(
                r#"{{"name": {name:?}, "cat": "task", "ph": "X", "ts": {i}, "dur": 1, "pid": 0, "tid": 1, "args": {{"key": "t-{i}", "deps": [{deps}]}}}}"#
            )
        })
        .collect();
    parse(&format!("[{}]", events.join(","))).expect("valid trace")
}

#[test]
fn names_and_titles_are_escaped() {
    let html = render_html("<b>&run.json", &chain(2, "f<script>\"'"));
    assert!(html.contains("<title>&#60;b&#62;&#38;run.json — parallel report</title>"));
    assert!(!html.contains("<script>\"") && !html.contains("f<script>"));
    assert!(html.contains("f&#60;script&#62;&#34;&#39;"));
    // Only the page's own script, and its data.
    assert_eq!(html.matches("<script>").count(), 1);
    assert_eq!(html.matches("<script").count(), 2);
    assert!(html.contains(r#"["f\u003cscript\u003e\"'","task","#));
}

#[test]
fn long_paths_are_cut_and_big_graphs_are_not_drawn() {
    let html = render_html("t", &chain(60, "f"));
    // 50 keys, the rest counted, and the one section in the list of sections.
    assert_eq!(html.matches("<li>").count(), 52);
    assert!(html.contains("<li>… 10 more</li>"));
    assert_eq!(html.matches("<g class=\"node crit\">").count(), 60);
    let html = render_html("t", &chain(401, "f"));
    assert!(html.contains("The graph has 401 tasks, too many to draw legibly here (limit 400)"));
    assert!(!html.contains("id=\"graph\""));
}

/// Issue 13: "clean" and "combine" (and every one of 24 functions) get
/// colours of their own.
#[test]
fn every_function_of_a_run_has_its_own_colour() {
    let names: Vec<String> = ["clean", "combine"]
        .into_iter()
        .map(String::from)
        .chain((0..22).map(|i| format!("f{i}")))
        .collect();
    let events: Vec<String> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            format!(r#"{{"name": "{n}", "cat": "map", "ph": "X", "ts": {i}, "dur": 1, "pid": 0, "tid": 1}}"#)
        })
        .collect();
    let html = render_html("t", &parse(&format!("[{}]", events.join(","))).unwrap());
    let legend = &html[html.find("id=\"legend\"").unwrap()..];
    let legend = &legend[..legend.find("</div>").unwrap()];
    let colours: std::collections::HashSet<&str> = legend
        .split("style=\"background:")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    assert_eq!(colours.len(), 24, "{legend}");
}
