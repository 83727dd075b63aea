//! A JSON payload as template variables, converted only where a template reads it.
//!
//! Handing minijinja a `serde_json::Value` converts all of it (an 11 KB Jira payload is
//! hundreds of map entries) on every render, when a comment template reads two or three
//! fields: in the worker's profile that conversion and the copies feeding it were the largest
//! cost of its own. A [`JsonView`] shares the parsed payload and exposes one node at a time.
use std::sync::Arc;

use minijinja::value::{Enumerator, Object, ObjectRepr, Value as Jinja};
use serde_json::Value;

/// The variables of one render: `event`, `payload`, and the payload's top-level fields.
#[derive(Debug)]
pub struct Context {
    event: String,
    payload: Arc<Value>,
}

impl Context {
    /// The context of `event` with `payload`, as a template value.
    pub fn value(event: &str, payload: Arc<Value>) -> Jinja {
        Jinja::from_object(Self {
            event: event.to_owned(),
            payload,
        })
    }
}

impl Object for Context {
    fn get_value(self: &Arc<Self>, key: &Jinja) -> Option<Jinja> {
        match key.as_str()? {
            "event" => Some(Jinja::from(self.event.as_str())),
            "payload" => Some(view(self.payload.clone(), Vec::new())),
            field => self
                .payload
                .get(field)
                .map(|_| view(self.payload.clone(), vec![Step::Key(field.to_owned())])),
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        let mut keys: Vec<Jinja> = match &*self.payload {
            Value::Object(map) => map
                .keys()
                .filter(|k| *k != "event" && *k != "payload")
                .map(|k| Jinja::from(k.as_str()))
                .collect(),
            _ => Vec::new(),
        };
        keys.extend([Jinja::from("event"), Jinja::from("payload")]);
        Enumerator::Values(keys)
    }
}

/// One object or array inside a shared payload, named by its path from the root.
#[derive(Debug)]
struct JsonView {
    root: Arc<Value>,
    path: Vec<Step>,
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

/// The template value of the node at `path`: scalars directly, objects and arrays as views.
fn view(root: Arc<Value>, path: Vec<Step>) -> Jinja {
    let view = JsonView { root, path };
    match view.node() {
        Value::Object(_) | Value::Array(_) => Jinja::from_object(view),
        scalar => Jinja::from_serialize(scalar),
    }
}

impl JsonView {
    fn node(&self) -> &Value {
        self.path
            .iter()
            .try_fold(&*self.root, |node, step| match step {
                Step::Key(key) => node.get(key),
                Step::Index(index) => node.get(index),
            })
            .unwrap_or(&Value::Null)
    }

    fn child(&self, step: Step) -> Jinja {
        let mut path = self.path.clone();
        path.push(step);
        view(self.root.clone(), path)
    }
}

impl Object for JsonView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        if self.node().is_array() {
            ObjectRepr::Seq
        } else {
            ObjectRepr::Map
        }
    }

    fn get_value(self: &Arc<Self>, key: &Jinja) -> Option<Jinja> {
        match self.node() {
            Value::Object(map) => {
                let key = key.as_str()?;
                map.contains_key(key)
                    .then(|| self.child(Step::Key(key.to_owned())))
            }
            Value::Array(items) => {
                let index = key.as_usize()?;
                (index < items.len()).then(|| self.child(Step::Index(index)))
            }
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.node() {
            Value::Object(map) => {
                Enumerator::Values(map.keys().map(|k| Jinja::from(k.as_str())).collect())
            }
            Value::Array(items) => Enumerator::Seq(items.len()),
            _ => Enumerator::Empty,
        }
    }
}
