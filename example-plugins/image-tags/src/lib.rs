//! What the service's pods run, computed from the context alone: the distinct image
//! tags (optionally of one container, the `container` setting) and the nodes they run on.

use std::collections::BTreeSet;

use kube_shields_plugin::{Context, Outcome, Shield, checks};

/// The `image` badge: blue for one tag, yellow while several run (a rollout, a drift).
fn image(ctx: &Context) -> Result<Shield, String> {
    if ctx.pods.is_empty() {
        return Ok(Shield::new("no pods").color("lightgrey"));
    }
    let only = ctx.config("container");
    let tags: BTreeSet<&str> = ctx
        .pods
        .iter()
        .flat_map(|pod| &pod.containers)
        .filter(|container| only.is_none_or(|name| container.name == name))
        .map(|container| container.image_tag())
        .collect();
    Ok(match tags.len() {
        0 => Shield::new("no such container").color("lightgrey"),
        1 => Shield::new(join(tags)).color("blue"),
        _ => Shield::new(join(tags)).color("yellow"),
    })
}

/// The `nodes` value: how many distinct nodes the service's scheduled pods are on.
fn nodes(ctx: &Context) -> Result<Outcome, String> {
    let nodes: BTreeSet<&str> = ctx
        .pods
        .iter()
        .filter_map(|pod| pod.node.as_deref())
        .collect();
    Ok(Outcome::raw(nodes.len().to_string()))
}

fn join(tags: BTreeSet<&str>) -> String {
    tags.into_iter().collect::<Vec<_>>().join(", ")
}

checks! {
    /// Distinct image tags of the service's pods: blue for one, yellow for several.
    image => image,
    /// Number of distinct nodes the service's pods run on.
    nodes => nodes,
}

#[cfg(test)]
mod tests {
    use kube_shields_plugin::{Container, Pod};

    use super::*;

    /// A context builder: one pod per `pod` call.
    #[derive(Default)]
    struct ContextBuilder(Context);

    impl ContextBuilder {
        fn pod(mut self, node: &str, containers: &[(&str, &str)]) -> Self {
            let containers = containers
                .iter()
                .map(|(name, image)| Container {
                    name: (*name).into(),
                    image: (*image).into(),
                    ..Default::default()
                })
                .collect();
            self.0.pods.push(Pod {
                node: Some(node.into()),
                containers,
                ..Default::default()
            });
            self
        }

        fn config(mut self, key: &str, value: &str) -> Self {
            self.0.config.insert(key.into(), value.into());
            self
        }

        fn build(self) -> Context {
            self.0
        }
    }

    #[test]
    fn one_tag_is_blue() {
        let ctx = ContextBuilder::default()
            .pod("a", &[("web", "nginx:1.27")])
            .pod("b", &[("web", "nginx:1.27")])
            .build();
        assert_eq!(image(&ctx), Ok(Shield::new("1.27").color("blue")));
    }

    #[test]
    fn several_tags_are_yellow_and_sorted() {
        let ctx = ContextBuilder::default()
            .pod("a", &[("web", "nginx:1.28")])
            .pod("a", &[("web", "nginx:1.27")])
            .build();
        assert_eq!(image(&ctx), Ok(Shield::new("1.27, 1.28").color("yellow")));
    }

    #[test]
    fn container_setting_ignores_sidecars() {
        let ctx = ContextBuilder::default()
            .pod("a", &[("web", "nginx:1.27"), ("proxy", "envoy:v1.31")])
            .config("container", "web")
            .build();
        assert_eq!(image(&ctx), Ok(Shield::new("1.27").color("blue")));
    }

    #[test]
    fn no_pods_is_lightgrey() {
        assert_eq!(
            image(&Context::default()),
            Ok(Shield::new("no pods").color("lightgrey"))
        );
    }

    #[test]
    fn nodes_counts_distinct_nodes() {
        let ctx = ContextBuilder::default()
            .pod("a", &[])
            .pod("b", &[])
            .pod("a", &[])
            .build();
        assert_eq!(nodes(&ctx), Ok(Outcome::raw("2")));
    }
}
