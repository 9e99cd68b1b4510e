//! Model answers are untrusted: this module renders them as sanitized HTML and measures the
//! style features that style control uses (length, headers, lists, bold).

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// Renders Markdown to HTML that cannot carry markup of its own: raw HTML blocks and inline HTML
/// are shown as text, and links or images with a scheme other than http(s)/mailto lose their URL.
pub fn render_safe_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = Parser::new_ext(markdown, options).map(|event| match event {
        Event::Html(html) | Event::InlineHtml(html) => Event::Text(html),
        Event::Start(Tag::Link {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        // Images would make the reader's browser fetch a URL chosen by the model: show the alt
        // text as a link instead.
        Event::Start(Tag::Image {
            link_type,
            dest_url,
            title,
            id,
        }) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut html = String::with_capacity(markdown.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    html
}

fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    let allowed = lower.starts_with("http://")
        || lower.starts_with("https://")
        || lower.starts_with("mailto:")
        || lower.starts_with('#')
        || !lower.contains(':');
    if allowed { url } else { CowStr::Borrowed("#") }
}

/// Style features of one answer, as in the public arena datasets' `conv_metadata`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StyleFeatures {
    pub header_count: u32,
    pub list_count: u32,
    pub bold_count: u32,
}

impl StyleFeatures {
    pub fn measure(markdown: &str) -> Self {
        let mut features = StyleFeatures::default();
        for event in Parser::new_ext(markdown, Options::empty()) {
            match event {
                Event::Start(Tag::Heading { .. }) => features.header_count += 1,
                Event::Start(Tag::Item) => features.list_count += 1,
                Event::Start(Tag::Strong) => features.bold_count += 1,
                _ => {}
            }
        }
        features
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_code_and_lists() {
        let html = render_safe_html("# Title\n\n- one\n- two\n\n```rust\nfn main() {}\n```\n");
        assert!(html.contains("<h1>Title</h1>"));
        assert!(html.contains("<li>one</li>"));
        assert!(html.contains("<code class=\"language-rust\">fn main() {}"));
    }

    #[test]
    fn raw_html_and_scripts_are_escaped() {
        let html = render_safe_html("hi <script>alert(1)</script>\n\n<img src=x onerror=alert(1)>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("&lt;script&gt;"));
    }

    #[test]
    fn dangerous_links_lose_their_url() {
        let html =
            render_safe_html("[x](javascript:alert(1)) [y](https://example.org) ![i](data:x)");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(html.contains("href=\"https://example.org\""));
        assert!(!html.contains("<img"));
    }

    #[test]
    fn measures_style() {
        let f = StyleFeatures::measure("## A\n\n**b** and **c**\n\n1. x\n2. y\n3. z\n");
        assert_eq!(
            f,
            StyleFeatures {
                header_count: 1,
                list_count: 3,
                bold_count: 2
            }
        );
    }
}
