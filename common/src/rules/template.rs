//! Rendering comment templates with the event. The environment has no loader, so templates
//! cannot read files or reach the network; fuel bounds how much work one render may do.
use minijinja::{AutoEscape, Environment, Error};
use serde_json::{json, Value};

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
/// (`issue`, `page`, `comment`, `user`, `changelog`, ...) directly.
pub fn context(event: &str, payload: &Value) -> Value {
    let mut context = match payload {
        Value::Object(map) => Value::Object(map.clone()),
        _ => json!({}),
    };
    context["event"] = json!(event);
    context["payload"] = payload.clone();
    context
}

/// Renders `template` with `context`.
pub fn render(template: &str, context: &Value, escape: Escape) -> Result<String, Error> {
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
    use super::*;

    #[test]
    fn a_template_sees_the_event_and_the_payload() {
        let payload = json!({"issue": {"key": "KAN-7", "fields": {"summary": "Broken"}}});
        let text = render(
            "{{ event }}: {{ issue.key }} {{ payload.issue.fields.summary }}",
            &context("jira:issue_created", &payload),
            Escape::None,
        );
        assert_eq!(text.expect("renders"), "jira:issue_created: KAN-7 Broken");
    }

    #[test]
    fn html_mode_escapes_values_from_the_payload() {
        let payload = json!({"page": {"title": "<script>alert(1)</script>"}});
        let text = render(
            "<p>{{ page.title }}</p>",
            &context("page_created", &payload),
            Escape::Html,
        )
        .expect("renders");
        assert_eq!(text, "<p>&lt;script&gt;alert(1)&lt;&#x2f;script&gt;</p>");
    }

    #[test]
    fn templates_cannot_include_files_or_loop_forever() {
        assert!(render("{% include '/etc/passwd' %}", &json!({}), Escape::None).is_err());
        let endless =
            "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}";
        assert!(render(endless, &json!({}), Escape::None).is_err());
    }
}
