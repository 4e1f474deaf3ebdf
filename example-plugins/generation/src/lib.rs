//! What the service's controller (its Deployment, StatefulSet, ...) says about its rollout,
//! read through `ctx.controllers()` (contract 0.1.3): `deploy` is green `gen 3/3` once the
//! controller has acted on its latest spec and is `Available`, yellow with kstatus' message
//! while it is not.

use kube_shields_plugin::{Context, Controller, Shield, checks};

/// The `deploy` badge, for the first controller: one per namespace, so `/_/web.staging/deploy/`
/// reads staging's.
fn deploy(ctx: &Context) -> Result<Shield, String> {
    Ok(judge(ctx.controllers().first()))
}

/// The badge for a controller, apart from the host call so `cargo test` can try it.
fn judge(controller: Option<&Controller>) -> Shield {
    let Some(c) = controller else {
        // A service made of a plugin only, pods without a controller, or a kind kube-shields
        // may not read (RBAC).
        return Shield::new("no controller").color("lightgrey");
    };
    match (c.observed_generation, c.generation) {
        (Some(seen), Some(latest)) if seen == latest && c.is_condition_true("Available") => {
            Shield::new(format!("gen {seen}/{latest}")).color("green")
        }
        _ => Shield::new(&c.rollout_message).color("yellow"),
    }
}

checks! {
    /// The controller's generation: green `gen N/N` when observed and Available, else yellow with the rollout message.
    deploy => deploy,
}

#[cfg(test)]
mod tests {
    use kube_shields_plugin::{Condition, RolloutStatus};

    use super::*;

    fn deployment(generation: i64, observed: i64, available: &str, message: &str) -> Controller {
        Controller {
            kind: "Deployment".into(),
            name: "web".into(),
            namespace: "default".into(),
            generation: Some(generation),
            observed_generation: Some(observed),
            replicas: Some(3),
            conditions: vec![Condition {
                type_: "Available".into(),
                status: available.into(),
                ..Default::default()
            }],
            rollout_status: RolloutStatus::InProgress,
            rollout_message: message.into(),
        }
    }

    #[test]
    fn observed_and_available_is_green() {
        let settled = deployment(3, 3, "True", "Deployment is available. Replicas: 3");
        assert_eq!(judge(Some(&settled)), Shield::new("gen 3/3").color("green"));
    }

    #[test]
    fn a_generation_not_yet_observed_is_yellow_with_the_message() {
        let behind = deployment(
            5,
            4,
            "True",
            "Deployment generation is 5, but latest observed generation is 4",
        );
        assert_eq!(
            judge(Some(&behind)),
            Shield::new("Deployment generation is 5, but latest observed generation is 4")
                .color("yellow")
        );
    }

    #[test]
    fn not_available_is_yellow() {
        let down = deployment(2, 2, "False", "Available: 0/3");
        assert_eq!(
            judge(Some(&down)),
            Shield::new("Available: 0/3").color("yellow")
        );
    }

    #[test]
    fn no_controller_is_lightgrey() {
        assert_eq!(judge(None), Shield::new("no controller").color("lightgrey"));
    }
}
