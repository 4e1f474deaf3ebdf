//! Equality-based label and field selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`, comma-joined).

use std::borrow::Cow;

use serde_json::Value;

use crate::resource::ResourceType;

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
    fn matches<'a>(&self, value_of: impl Fn(&str) -> Option<Cow<'a, str>>) -> bool {
        self.terms.iter().all(|term| match term {
            Term::Equals(k, v) => value_of(k).as_deref() == Some(v.as_str()),
            Term::NotEquals(k, v) => value_of(k).as_deref() != Some(v.as_str()),
            Term::Exists(k) => value_of(k).is_some(),
            Term::NotExists(k) => value_of(k).is_none(),
        })
    }

    /// Whether `object`'s `metadata.labels` satisfy every term.
    pub fn matches_labels(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        self.matches(|key| labels.get(key).and_then(Value::as_str).map(Cow::Borrowed))
    }

    /// Field selectors support the fields kube-apiserver indexes for `resource`.
    pub fn check_fields(&self, resource: &ResourceType) -> Result<(), String> {
        for term in &self.terms {
            let (Term::Equals(key, _) | Term::NotEquals(key, _)) = term else {
                return Err("field selectors support only =, == and !=".to_owned());
            };
            if !resource.supports_field(key) {
                return Err(format!("field label not supported: {key}",));
            }
        }
        Ok(())
    }

    /// Whether `object`'s fields (dotted paths such as `status.phase`; numbers compare as
    /// their decimal text) satisfy every term.
    pub fn matches_fields(&self, object: &Value) -> bool {
        self.matches(|key| {
            match key
                .split('.')
                .try_fold(object, |value, step| value.get(step))?
            {
                Value::String(text) => Some(Cow::Borrowed(text.as_str())),
                Value::Number(number) => Some(Cow::Owned(number.to_string())),
                Value::Bool(flag) => Some(Cow::Owned(flag.to_string())),
                _ => None,
            }
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
