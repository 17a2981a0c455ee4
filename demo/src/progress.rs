//! Progress bars (indicatif) that stay quiet with `--quiet` or when stderr is not a terminal.

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `total` units of `what`; hidden when `quiet`.
pub fn bar(quiet: bool, total: u64, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{elapsed_precise}] {wide_bar} {human_pos}/{human_len} {msg}",
        )
        .expect("valid template"),
    );
    pb.set_prefix(what.to_string());
    pb
}

/// A spinner counting units of `what`; hidden when `quiet`.
pub fn spinner(quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template(
            "{prefix:>10} [{elapsed_precise}] {spinner} {human_pos} {msg}",
        )
        .expect("valid template"),
    );
    pb.set_prefix(what.to_string());
    pb
}
