//! Rendering comment templates with the event. The environment has no loader, so templates
//! cannot read files or reach the network; fuel bounds how much work one render may do.
use std::sync::Arc;

use minijinja::{AutoEscape, Environment, Error};
use serde::Serialize;
use serde_json::Value;

use super::json_view::Context;

/// Instructions one render may execute (a loop over a huge payload stops here).
const FUEL: u64 = 50_000;
/// Largest rendered text, bytes.
pub const MAX_OUTPUT_BYTES: usize = 32 * 1024;

/// How values are escaped into the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    /// Plain text (Jira comments).
    None,
    /// HTML (Confluence storage format).
    Html,
}

fn environment(escape: Escape) -> Environment<'static> {
    let mut env = Environment::new();
    env.set_fuel(Some(FUEL));
    let mode = match escape {
        Escape::None => AutoEscape::None,
        Escape::Html => AutoEscape::Html,
    };
    env.set_auto_escape_callback(move |_| mode);
    env
}

/// Checks that `template` compiles.
pub fn check(template: &str) -> Result<(), Error> {
    environment(Escape::None)
        .template_from_str(template)
        .map(drop)
}

/// The variables a template sees: `event`, `payload`, and the payload's top-level objects
/// (`issue`, `page`, `comment`, `user`, `changelog`, ...) directly; read lazily from the shared
/// payload ([`super::json_view`]).
pub fn context(event: &str, payload: Arc<Value>) -> minijinja::Value {
    Context::value(event, payload)
}

/// Renders `template` with `context` (from [`context`], or any serialisable value).
pub fn render(template: &str, context: &impl Serialize, escape: Escape) -> Result<String, Error> {
    let env = environment(escape);
    let rendered = env.render_str(template, context)?;
    if rendered.len() > MAX_OUTPUT_BYTES {
        return Err(Error::new(
            minijinja::ErrorKind::InvalidOperation,
            format!("the rendered text is longer than {MAX_OUTPUT_BYTES} bytes"),
        ));
    }
    Ok(rendered)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_template_sees_the_event_and_the_payload() {
        let payload = json!({"issue": {"key": "KAN-7", "fields": {"summary": "Broken"}}});
        let text = render(
            "{{ event }}: {{ issue.key }} {{ payload.issue.fields.summary }}",
            &context("jira:issue_created", Arc::new(payload)),
            Escape::None,
        );
        assert_eq!(text.expect("renders"), "jira:issue_created: KAN-7 Broken");
    }

    #[test]
    fn html_mode_escapes_values_from_the_payload() {
        let payload = json!({"page": {"title": "<script>alert(1)</script>"}});
        let text = render(
            "<p>{{ page.title }}</p>",
            &context("page_created", Arc::new(payload)),
            Escape::Html,
        )
        .expect("renders");
        assert_eq!(text, "<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</p>");
    }

    #[test]
    fn the_lazy_context_reads_like_the_json_it_wraps() {
        let payload = json!({
            "event": "shadowed",
            "issue": {"key": "KAN-7", "fields": {"labels": ["a", "b"], "n": 3, "none": null}},
            "flag": true
        });
        let template = "{{ event }}|{{ issue.fields.labels[1] }}|{{ issue.fields.labels|length }}|\
            {% for l in issue.fields.labels %}{{ l }}{% endfor %}|{{ issue.fields.n + 1 }}|\
            {{ issue.fields.none is none }}|{{ issue.missing is undefined }}|{{ flag }}|\
            {{ issue.fields|dictsort|map(attribute=0)|join(',') }}|{{ payload.event }}|\
            {{ issue.fields.labels|tojson }}";
        let text = render(
            template,
            &context("jira:issue_created", Arc::new(payload)),
            Escape::None,
        )
        .expect("renders");
        assert_eq!(
            text,
            "jira:issue_created|b|2|ab|4|True|True|True|labels,n,none|shadowed|[\"a\",\"b\"]"
        );
    }

    #[test]
    fn templates_cannot_include_files_or_loop_forever() {
        assert!(render("{% include '/etc/passwd' %}", &json!({}), Escape::None).is_err());
        let endless =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        assert!(render(endless, &json!({}), Escape::None).is_err());
    }
}
