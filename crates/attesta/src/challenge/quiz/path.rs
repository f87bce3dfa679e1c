//! Finding file-system paths in argument strings, for any platform.
//!
//! The agent may run on another machine than Attesta, so paths are parsed
//! by their own syntax (POSIX `/`, Windows `C:\` or `\\server\share`,
//! relative `./`, home `~/`), never with the host's `std::path`.

/// Which separator a path uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::challenge) enum Style {
    /// `/` separated: absolute, `./`, `../` or `~/`.
    Posix,
    /// `\` (or `/`) separated, after a drive (`C:\`) or a UNC share.
    Windows,
}

impl Style {
    fn separator(self) -> char {
        match self {
            Style::Posix => '/',
            Style::Windows => '\\',
        }
    }

    fn is_separator(self, c: char) -> bool {
        match self {
            Style::Posix => c == '/',
            Style::Windows => c == '\\' || c == '/',
        }
    }
}

/// A path split into the directory that holds it and its last part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::challenge) struct SplitPath {
    /// The path as written (trailing separators removed).
    pub(in crate::challenge) full: String,
    /// The directory holding the last part (`/var/data`, `C:\`, `.`).
    pub(in crate::challenge) dir: String,
    /// The last part: a file or folder name, never empty.
    pub(in crate::challenge) name: String,
    /// The separator style.
    pub(in crate::challenge) style: Style,
}

/// The style of `text` if it starts like a path.
fn style_of(text: &str) -> Option<Style> {
    let b = text.as_bytes();
    let posix = text.starts_with('/')
        || text.starts_with("./")
        || text.starts_with("../")
        || text.starts_with("~/");
    if posix && !text.starts_with("//") {
        return Some(Style::Posix);
    }
    let drive = b.len() >= 3
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && (b[2] == b'\\' || b[2] == b'/');
    let unc = text.starts_with("\\\\") && text.len() > 2;
    (drive || unc).then_some(Style::Windows)
}

/// The root of a path: `/`, `C:\`, `\\server\share\`, or `""` for a
/// relative path.
fn root_len(text: &str, style: Style) -> usize {
    match style {
        Style::Posix => usize::from(text.starts_with('/')),
        Style::Windows if text.starts_with("\\\\") => {
            // \\server\share\ : the root ends after the share name.
            let mut seps = text
                .char_indices()
                .skip(2)
                .filter(|&(_, c)| style.is_separator(c));
            match (seps.next(), seps.next()) {
                (Some(_), Some((i, _))) => i + 1,
                _ => text.len(),
            }
        }
        Style::Windows => 3,
    }
}

/// Splits a path into directory and last part. `None` for a bare root
/// (`/`, `C:\`) or a relative marker alone (`./`), which name nothing.
pub(in crate::challenge) fn split(text: &str) -> Option<SplitPath> {
    let style = style_of(text)?;
    let root = root_len(text, style);
    let trimmed = text.trim_end_matches(|c| style.is_separator(c));
    if trimmed.len() <= root {
        return None;
    }
    let cut = trimmed.rfind(|c| style.is_separator(c))?;
    let name = &trimmed[cut + 1..];
    if name.is_empty() || matches!(name, "." | "..") {
        return None;
    }
    let dir = if cut < root {
        trimmed[..root].to_owned()
    } else {
        trimmed[..cut].to_owned()
    };
    Some(SplitPath {
        full: trimmed.to_owned(),
        dir,
        name: name.to_owned(),
        style,
    })
}

/// The directory holding `dir`, if `dir` is not a root (`/`, `C:\`, `.`,
/// `..`, `~`).
pub(in crate::challenge) fn parent(dir: &str) -> Option<String> {
    split(dir).map(|p| p.dir)
}

/// `dir` joined with `name` using the path's own separator.
pub(in crate::challenge) fn join(dir: &str, name: &str, style: Style) -> String {
    if dir.ends_with(|c| style.is_separator(c)) {
        format!("{dir}{name}")
    } else {
        format!("{dir}{}{name}", style.separator())
    }
}

/// The paths in one argument string.
///
/// A value that is one path, possibly with spaces in it
/// (`/home/bob/My Documents/a.txt`), counts whole. Otherwise each
/// whitespace-separated word that starts like a path counts (so
/// `rm -rf /var/lib/app` yields `/var/lib/app`), while URLs, dates and
/// fractions (`https://x/y`, `2024/01/02`, `1/2`) do not start like one.
/// Paths with control characters are skipped: the prompt could not show them
/// as written.
pub(in crate::challenge) fn paths_in(value: &str) -> Vec<SplitPath> {
    let text = value.trim();
    if text.chars().any(char::is_control) {
        return text
            .split_whitespace()
            .filter(|w| !w.chars().any(char::is_control))
            .filter_map(|w| split(strip_quotes(w)))
            .collect();
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    // One path with spaces in its folder names: starts like a path, no
    // later word is an option or another path, and the last part has no
    // space ("/var/log is full" is prose about /var/log, not a file).
    let one_path_with_spaces = words.len() > 1
        && style_of(text).is_some_and(|style| {
            text.rsplit(|c| style.is_separator(c))
                .next()
                .is_some_and(|last| !last.contains(char::is_whitespace))
        })
        && words[1..]
            .iter()
            .all(|w| !w.starts_with('-') && style_of(strip_quotes(w)).is_none());
    if words.len() == 1 || one_path_with_spaces {
        return split(strip_quotes(text)).into_iter().collect();
    }
    words
        .iter()
        .filter_map(|w| split(strip_quotes(w)))
        .collect()
}

/// Shell and prose wrap paths in quotes and punctuation: `'/a/b',` -> `/a/b`.
fn strip_quotes(word: &str) -> &str {
    word.trim_matches(|c| matches!(c, '\'' | '"' | '`' | ',' | ';' | '(' | ')'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_name(text: &str) -> Option<(String, String)> {
        split(text).map(|p| (p.dir, p.name))
    }

    #[allow(clippy::unnecessary_wraps)] // compared with `dir_name`, which is optional
    fn pair(dir: &str, name: &str) -> Option<(String, String)> {
        Some((dir.to_owned(), name.to_owned()))
    }

    #[test]
    fn posix_paths_split_into_directory_and_name() {
        assert_eq!(
            dir_name("/var/data/reports/q3.csv"),
            pair("/var/data/reports", "q3.csv")
        );
        assert_eq!(dir_name("/etc"), pair("/", "etc"));
        assert_eq!(dir_name("/a/b/"), pair("/a", "b"));
        assert_eq!(dir_name("./out/dump.sql"), pair("./out", "dump.sql"));
        assert_eq!(dir_name("./dump.sql"), pair(".", "dump.sql"));
        assert_eq!(dir_name("~/notes.txt"), pair("~", "notes.txt"));
        assert_eq!(dir_name("/"), None);
        assert_eq!(dir_name("./"), None);
        assert_eq!(dir_name("//host/x"), None);
    }

    #[test]
    fn windows_paths_split_on_backslashes_on_any_host() {
        assert_eq!(
            dir_name("C:\\Users\\bob\\file.txt"),
            pair("C:\\Users\\bob", "file.txt")
        );
        assert_eq!(dir_name("C:\\file.txt"), pair("C:\\", "file.txt"));
        assert_eq!(dir_name("D:/x/y"), pair("D:/x", "y"));
        assert_eq!(
            dir_name("\\\\srv\\share\\dir\\f"),
            pair("\\\\srv\\share\\dir", "f")
        );
        assert_eq!(dir_name("\\\\srv\\share\\f"), pair("\\\\srv\\share\\", "f"));
        assert_eq!(dir_name("C:\\"), None);
    }

    #[test]
    fn parents_stop_at_roots() {
        assert_eq!(parent("/var/data").as_deref(), Some("/var"));
        assert_eq!(parent("/var").as_deref(), Some("/"));
        assert_eq!(parent("/"), None);
        assert_eq!(parent("./out").as_deref(), Some("."));
        assert_eq!(parent("."), None);
        assert_eq!(parent("C:\\Users\\bob").as_deref(), Some("C:\\Users"));
        assert_eq!(parent("C:\\Users").as_deref(), Some("C:\\"));
        assert_eq!(parent("C:\\"), None);
        assert_eq!(parent("~"), None);
        assert_eq!(join("/", "tmp", Style::Posix), "/tmp");
        assert_eq!(join("C:\\Users", "x", Style::Windows), "C:\\Users\\x");
    }

    #[test]
    fn paths_are_found_in_commands_but_not_in_urls_dates_or_fractions() {
        let found = |s: &str| paths_in(s).into_iter().map(|p| p.full).collect::<Vec<_>>();
        assert_eq!(found("rm -rf /var/lib/app"), ["/var/lib/app"]);
        assert_eq!(found("/bin/cp '/a/x' /b/y"), ["/bin/cp", "/a/x", "/b/y"]);
        assert_eq!(
            found("/home/bob/My Documents/a.txt"),
            ["/home/bob/My Documents/a.txt"]
        );
        assert!(found("see https://example.com/api/v1").is_empty());
        assert!(found("read/write 2024/01/02 1/2").is_empty());
        assert!(found("portable devices").is_empty());
        assert_eq!(found("/var/log is full"), ["/var/log"]);
        assert_eq!(found("'/a/b'"), ["/a/b"]);
        assert_eq!(found("/a/b\n/c/d"), ["/a/b", "/c/d"]);
    }
}
