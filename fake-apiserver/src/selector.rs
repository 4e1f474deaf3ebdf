//! Equality-based label and field selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-joined).

use k8s_openapi::api::core::v1::Pod;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Term {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
}

/// A parsed selector; the empty selector matches everything.
#[derive(Debug, Clone, Default)]
pub(crate) struct Selector {
    terms: Vec<Term>,
}

impl Selector {
    pub fn parse(text: &str) -> Result<Self, String> {
        let terms = text
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(parse_term)
            .collect::<Result<_, _>>()?;
        Ok(Selector { terms })
    }

    /// Whether a value lookup (label or field by key) satisfies every term.
    fn matches<'a>(&self, value_of: impl Fn(&str) -> Option<&'a str>) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Equals(k, v) => value_of(k) == Some(v.as_str()),
            Term::NotEquals(k, v) => value_of(k) != Some(v.as_str()),
            Term::Exists(k) => value_of(k).is_some(),
            Term::NotExists(k) => value_of(k).is_none(),
        })
    }

    pub fn matches_labels(&self, pod: &Pod) -> bool {
        let labels = pod.metadata.labels.as_ref();
        self.matches(|key| labels.and_then(|l| l.get(key)).map(String::as_str))
    }

    /// Field selectors support the fields kube-apiserver indexes for pods.
    pub fn check_fields(&self) -> Result<(), String> {
        for term in &self.terms {
            let (Term::Equals(key, _) | Term::NotEquals(key, _)) = term else {
                return Err("field selectors support only =, == and !=".to_owned());
            };
            if !matches!(
                key.as_str(),
                "metadata.name" | "metadata.namespace" | "status.phase" | "spec.nodeName"
            ) {
                return Err(format!("field label not supported: {key}"));
            }
        }
        Ok(())
    }

    pub fn matches_fields(&self, pod: &Pod) -> bool {
        self.matches(|key| match key {
            "metadata.name" => pod.metadata.name.as_deref(),
            "metadata.namespace" => pod.metadata.namespace.as_deref(),
            "status.phase" => pod.status.as_ref().and_then(|s| s.phase.as_deref()),
            "spec.nodeName" => pod.spec.as_ref().and_then(|s| s.node_name.as_deref()),
            _ => None,
        })
    }
}

fn parse_term(term: &str) -> Result<Term, String> {
    let owned = |s: &str| s.trim().to_owned();
    if let Some((k, v)) = term.split_once("!=") {
        return Ok(Term::NotEquals(owned(k), owned(v)));
    }
    if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
        return Ok(Term::Equals(owned(k), owned(v)));
    }
    if term.contains(' ') || term.contains('(') {
        return Err(format!(
            "unsupported selector term (set-based selectors are not implemented): {term}"
        ));
    }
    Ok(match term.strip_prefix('!') {
        Some(key) => Term::NotExists(owned(key)),
        None => Term::Exists(owned(term)),
    })
}
