//! Errors as one line of text for logs and answers: many libraries' own text names only the
//! outermost failure (reqwest: "error sending request"), kube's often repeats its cause.

/// An error and its sources joined by `: `, skipping a source whose text the previous one
/// already contains.
pub(crate) fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text = format!("{text}: {cause_text}");
        }
        source = cause.source();
    }
    text
}
