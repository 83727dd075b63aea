//! Server-side HTML: minijinja with HTML auto-escaping for everything, templates embedded in
//! the binary. A page is its own template rendered into `layout.html`, whose `<head>` loads
//! `all.js` first, then only our own stylesheet and scripts (no inline code: see the CSP).
use std::sync::OnceLock;

use minijinja::{context, AutoEscape, Environment, Error, Value};

use super::assets;

const TEMPLATES: [(&str, &str); 4] = [
    (
        "layout.html",
        include_str!("../../../templates/layout.html"),
    ),
    ("rules.html", include_str!("../../../templates/rules.html")),
    (
        "activity.html",
        include_str!("../../../templates/activity.html"),
    ),
    ("error.html", include_str!("../../../templates/error.html")),
];

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|_| AutoEscape::Html);
        for (name, source) in TEMPLATES {
            // Embedded at compile time and rendered by the unit tests below.
            env.add_template(name, source)
                .unwrap_or_else(|error| panic!("template {name} does not compile: {error}"));
        }
        env
    })
}

/// What the layout needs besides the page's own content.
pub struct Layout<'a> {
    /// The document title.
    pub title: &'a str,
    /// Atlassian's `all.js` (`app.all_js_url`).
    pub all_js_url: &'a str,
    /// Our scripts, by asset name, in order.
    pub scripts: &'a [&'a str],
}

/// Renders `template` with `page`, inside the layout.
pub fn render(template: &str, page: Value, layout: &Layout<'_>) -> Result<String, Error> {
    let env = environment();
    let body = env.get_template(template)?.render(page)?;
    let scripts: Vec<String> = layout
        .scripts
        .iter()
        .map(|name| assets::url(name))
        .collect();
    env.get_template("layout.html")?.render(context! {
        title => layout.title,
        all_js_url => layout.all_js_url,
        stylesheet => assets::url("app.css"),
        scripts => scripts,
        body => Value::from_safe_string(body),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> Layout<'static> {
        Layout {
            title: "t",
            all_js_url: "https://connect-cdn.atl-paas.net/all.js",
            scripts: &["connect.js"],
        }
    }

    #[test]
    fn every_template_renders_and_all_js_is_the_first_script() {
        for (name, _) in TEMPLATES.iter().filter(|(name, _)| *name != "layout.html") {
            let page = context! { rules => Vec::<()>::new(), events => ["page_created"] };
            let html = render(name, page, &layout()).expect(name);
            let head = &html[..html.find("</head>").expect("a head")];
            let first_script = &head[head.find("<script").expect("a script")..];
            assert!(
                first_script.starts_with(
                    "<script src=\"https:&#x2f;&#x2f;connect-cdn.atl-paas.net&#x2f;all.js\">"
                ),
                "{name}: {head}"
            );
        }
    }

    #[test]
    fn values_are_escaped() {
        let html = render(
            "error.html",
            context! { message => "<script>alert(1)</script>" },
            &layout(),
        )
        .expect("renders");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)"), "{html}");
    }
}
