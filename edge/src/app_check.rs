//! A startup check of the app directory against the CSP the edge sends: that policy has no
//! `'unsafe-inline'`, so an inline `<script>` in the app's HTML never runs — the browser only
//! logs a CSP violation in the page's console. An existing PWA whose `Tessera.register(…)`
//! sits in such a script would silently never register its service worker; `tessera serve`
//! says so in its terminal instead.

use std::path::{Path, PathBuf};

/// HTML files looked at, at most (a big static site is not scanned whole at every start).
const MAX_FILES: usize = 200;
/// Folder depth looked into below the app directory.
const MAX_DEPTH: usize = 4;

/// Script `type`s the browser does not execute (data blocks): not blocked by the CSP.
const DATA_TYPES: [&str; 4] = [
    "application/json",
    "application/ld+json",
    "text/template",
    "text/x-template",
];

/// Line numbers (1-based) of the inline scripts of `html`: `<script>` elements without a `src`
/// attribute whose type is JavaScript (none, a JavaScript MIME type, `module` or `importmap`).
/// A rough tag scan, not an HTML parser: enough to tell people, never used to decide anything.
pub fn inline_scripts(html: &str) -> Vec<usize> {
    let lower = html.to_ascii_lowercase();
    let mut lines = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("<script").map(|i| from + i) {
        let after = at + "<script".len();
        // `<scripts>` or `<script-x>` are other elements.
        if lower[after..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            from = after;
            continue;
        }
        let Some(end) = lower[after..].find('>').map(|i| after + i) else {
            break;
        };
        let attrs = &lower[after..end];
        let close = lower[end..]
            .find("</script")
            .map_or(lower.len(), |i| end + i);
        let body = lower[end + 1..close.max(end + 1)].trim();
        if !has_attr(attrs, "src") && !is_data_block(attrs) && !body.is_empty() {
            lines.push(html[..at].matches('\n').count() + 1);
        }
        from = close.max(end + 1);
    }
    lines
}

/// Whether the lower-cased attribute text of a tag has attribute `name`.
fn has_attr(attrs: &str, name: &str) -> bool {
    attrs
        .split(|c: char| c.is_ascii_whitespace() || c == '/')
        .any(|word| word == name || word.starts_with(&format!("{name}=")))
}

/// Whether a script tag's `type` marks a data block.
fn is_data_block(attrs: &str) -> bool {
    let Some(at) = attrs.find("type=") else {
        return false;
    };
    let value = attrs[at + "type=".len()..]
        .trim_start_matches(['"', '\''])
        .split(['"', '\'', ' ', '\t', '\n'])
        .next()
        .unwrap_or("");
    DATA_TYPES.contains(&value)
}

/// Logs a warning for each HTML file of `app` with inline scripts (see [`inline_scripts`]).
pub(crate) fn warn_inline_scripts(app: &Path) {
    let mut files = Vec::new();
    html_files(app, 0, &mut files);
    for file in files {
        let Ok(html) = std::fs::read_to_string(&file) else {
            continue;
        };
        let lines = inline_scripts(&html);
        if !lines.is_empty() {
            let shown = file
                .strip_prefix(app)
                .unwrap_or(&file)
                .display()
                .to_string();
            let lines = lines
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            tracing::warn!(
                "{shown}: inline <script> at line {lines} will not run: the Content-Security-Policy \
                 this server sends allows scripts from files only (script-src 'self'); move it into \
                 a .js file (<script type=\"module\" src=\"…\">), or the page never registers its \
                 service worker"
            );
        }
    }
}

/// Collects the `.html` files below `dir` (no dot-folders, at most [`MAX_FILES`]).
fn html_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if out.len() >= MAX_FILES {
            return;
        }
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            if depth < MAX_DEPTH {
                html_files(&path, depth + 1, out);
            }
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
        {
            out.push(path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::inline_scripts;

    #[test]
    fn inline_scripts_are_found_with_their_lines() {
        let html = "<!doctype html>\n<head>\n<script type=\"module\">\nimport { Tessera } from './tessera-client.js';\n</script>\n<SCRIPT>go()</SCRIPT>\n</head>";
        assert_eq!(inline_scripts(html), vec![3, 6]);
    }

    #[test]
    fn script_files_data_blocks_and_empty_tags_are_not_inline_scripts() {
        let html = concat!(
            "<script type=\"module\" src=\"app.js\"></script>\n",
            "<script src=app.js defer></script>\n",
            "<script type=\"application/ld+json\">{\"@type\": \"WebApp\"}</script>\n",
            "<script></script>\n",
            "<scripts>not a script</scripts>\n",
        );
        assert_eq!(inline_scripts(html), Vec::<usize>::new());
        assert_eq!(inline_scripts("<script>\n"), Vec::<usize>::new());
    }
}
