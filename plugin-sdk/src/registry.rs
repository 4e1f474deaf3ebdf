//! The checks a plugin registers with [`checks!`](crate::checks), and the list/run
//! exports the macro generates from them.

use std::fmt::Display;

use crate::bindings::exports::kube_shields::plugin::checks::CheckInfo;
use crate::bindings::kube_shields::plugin::types as wit;
use crate::{Context, Outcome};

/// The shape every registered check is adapted to.
pub type CheckFn = fn(&Context) -> Result<Outcome, String>;

/// One registered check.
#[derive(Debug, Clone, Copy)]
pub struct Check {
    /// The check's name, as in the badge URL.
    pub name: &'static str,
    /// The doc comment written above the check, one `\n`-ended line per `///` line.
    pub doc: &'static str,
    /// The check itself.
    pub run: CheckFn,
}

/// Turns what a check function returns into the contract's shape, so checks can
/// return any `Into<Outcome>` and any displayable error.
pub fn adapt<T: Into<Outcome>, E: Display>(result: Result<T, E>) -> Result<Outcome, String> {
    result.map(Into::into).map_err(|error| error.to_string())
}

/// The `list-checks` export: names and one-line descriptions.
pub fn list(checks: &[Check]) -> Vec<CheckInfo> {
    checks
        .iter()
        .map(|check| CheckInfo {
            name: check.name.to_owned(),
            description: description(check.doc),
        })
        .collect()
}

/// The `run-check` export: runs the check called `name`.
pub fn run(checks: &[Check], name: &str, ctx: wit::Context) -> Result<wit::Outcome, String> {
    let check = checks
        .iter()
        .find(|check| check.name == name)
        .ok_or_else(|| format!("no check named `{name}`"))?;
    (check.run)(&Context::from(ctx)).map(Into::into)
}

/// The doc comment's first paragraph as one line; `None` when there is no doc comment.
fn description(doc: &str) -> Option<String> {
    let summary = doc
        .lines()
        .map(str::trim)
        .skip_while(|line| line.is_empty())
        .take_while(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (!summary.is_empty()).then_some(summary)
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;
    use crate::Shield;

    fn service_name(ctx: &Context) -> Result<Outcome, String> {
        Ok(Outcome::raw(ctx.service.clone()))
    }

    fn always_fails(_: &Context) -> Result<Outcome, String> {
        Err("backend unreachable".into())
    }

    const CHECKS: &[Check] = &[
        Check {
            name: "service",
            doc: " The service's name.\n",
            run: service_name,
        },
        Check {
            name: "broken",
            doc: "",
            run: always_fails,
        },
    ];

    fn context_of(service: &str) -> wit::Context {
        wit::Context {
            service: service.into(),
            pods: vec![],
            config: vec![],
        }
    }

    #[test]
    fn list_names_every_check_with_its_description() {
        let listed: Vec<_> = list(CHECKS)
            .into_iter()
            .map(|info| (info.name, info.description))
            .collect();
        assert_eq!(
            listed,
            [
                ("service".to_owned(), Some("The service's name.".to_owned())),
                ("broken".to_owned(), None)
            ]
        );
    }

    #[test]
    fn run_dispatches_by_name() {
        let outcome = run(CHECKS, "service", context_of("web"));
        assert!(matches!(outcome, Ok(wit::Outcome::Raw(value)) if value == "web"));
    }

    #[test]
    fn run_passes_the_check_error_on() {
        assert!(
            matches!(run(CHECKS, "broken", context_of("web")), Err(e) if e == "backend unreachable")
        );
    }

    #[test]
    fn run_of_an_unknown_name_is_an_error() {
        assert!(
            matches!(run(CHECKS, "nope", context_of("web")), Err(e) if e == "no check named `nope`")
        );
    }

    #[rstest]
    #[case::one_line(" Distinct image tags.\n", Some("Distinct image tags."))]
    #[case::lines_joined(
        " Distinct image tags\n of the pods.\n",
        Some("Distinct image tags of the pods.")
    )]
    #[case::blank(" \n", None)]
    #[case::none("", None)]
    #[case::first_paragraph_only(" Tags.\n\n Details nobody reads on a badge.\n", Some("Tags."))]
    fn description_of(#[case] doc: &str, #[case] expected: Option<&str>) {
        assert_eq!(description(doc).as_deref(), expected);
    }

    #[test]
    fn adapt_accepts_shields_and_displayable_errors() {
        assert_eq!(
            adapt::<_, String>(Ok(Shield::new("ok"))),
            Ok(Outcome::Shield(Shield::new("ok")))
        );
        assert_eq!(
            adapt::<Outcome, _>(Err(std::fmt::Error)),
            Err("an error occurred when formatting an argument".into())
        );
    }
}
