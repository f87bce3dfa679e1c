//! Fitting text into an 80-column terminal: prose broken between words,
//! regular expressions broken after alternatives.

/// The widest line the human-readable outputs aim for.
pub(crate) const WIDTH: usize = 80;

/// `text` as lines of at most `width` characters (counting `first` or
/// `rest`, the prefix of the first and the following lines), broken
/// between words. A word longer than a line gets a line of its own.
pub(crate) fn words(text: &str, first: &str, rest: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        let len = line.chars().count();
        let needed = usize::from(!empty) + word.chars().count();
        if !empty && len + needed > width {
            lines.push(std::mem::replace(&mut line, rest.to_owned()));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    if !empty || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `items` joined by `sep` as lines of at most `width` characters, broken
/// between items (an item longer than a line is broken between its
/// words).
pub(crate) fn items(
    items: &[String],
    sep: &str,
    first: &str,
    rest: &str,
    width: usize,
) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_owned();
    let mut empty = true;
    let last = items.len().saturating_sub(1);
    for (i, item) in items.iter().enumerate() {
        let piece = if i < last {
            format!("{item}{}", sep.trim_end())
        } else {
            item.clone()
        };
        let needed = usize::from(!empty) + piece.chars().count();
        if !empty && line.chars().count() + needed > width {
            lines.push(std::mem::replace(&mut line, rest.to_owned()));
            empty = true;
        }
        if line.chars().count() + piece.chars().count() > width {
            // Too long for any line: let it break between words.
            let mut broken = words(&piece, &line, rest, width);
            line = broken.pop().unwrap_or_default();
            lines.extend(broken);
        } else {
            if !empty {
                line.push(' ');
            }
            line.push_str(&piece);
        }
        empty = false;
    }
    if !empty || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A regular expression as lines of at most `width` characters after the
/// prefix: broken after a `|` where possible (so each line holds whole
/// alternatives), else every `width` characters. Joining the lines without
/// their prefixes gives the expression back.
pub(crate) fn expression(source: &str, first: &str, rest: &str, width: usize) -> Vec<String> {
    let room = width.saturating_sub(rest.chars().count().max(first.chars().count()));
    let room = room.max(16);
    let mut pieces: Vec<String> = Vec::new();
    let mut current = String::new();
    for alternative in source.split_inclusive('|') {
        if !current.is_empty() && current.chars().count() + alternative.chars().count() > room {
            pieces.push(std::mem::take(&mut current));
        }
        current.push_str(alternative);
        while current.chars().count() > room {
            let cut: String = current.chars().take(room).collect();
            current = current.chars().skip(room).collect();
            pieces.push(cut);
        }
    }
    if !current.is_empty() || pieces.is_empty() {
        pieces.push(current);
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| format!("{}{piece}", if i == 0 { first } else { rest }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_fit_the_width_and_keep_every_word() {
        let text = "Protected health information, patient records, prescriptions, consent, \
                    bulk exports and the audit trail HIPAA requires.";
        let lines = words(text, "  ", "    ", 40);
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        assert!(lines[0].starts_with("  P") && lines[1].starts_with("    "));
        let joined: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
        assert_eq!(joined, text.split_whitespace().collect::<Vec<_>>());
        assert_eq!(words("", "  ", "  ", 40), vec!["  ".to_owned()]);
    }

    #[test]
    fn items_stay_whole_unless_longer_than_a_line() {
        let terms: Vec<String> = [
            "production 0.7",
            "root 0.8",
            "protected health information 0.9",
        ]
        .map(str::to_owned)
        .to_vec();
        let lines = items(&terms, ", ", "  ", "    ", 24);
        assert_eq!(
            lines,
            [
                "  production 0.7,",
                "    root 0.8,",
                "    protected health",
                "    information 0.9"
            ]
        );
        let lines = items(&terms, ", ", "", "", 80);
        assert_eq!(
            lines,
            ["production 0.7, root 0.8, protected health information 0.9"]
        );
        assert_eq!(items(&[], ", ", "> ", "", 80), ["> "]);
    }

    #[test]
    fn expressions_break_after_alternatives_and_join_back() {
        let source = r"\bphi\b|phi_access|protected[_\s]health[_\s]information|(?:get|read|fetch)_(?:patient|phi)\w*|medical[_\s]records?\b";
        let lines = expression(source, "regex ", "      ", 40);
        assert!(lines.iter().all(|l| l.chars().count() <= 40), "{lines:?}");
        let back: String = lines.iter().map(|l| &l[6..]).collect();
        assert_eq!(back, source);
        let long = "a".repeat(100);
        let lines = expression(&long, "> ", "> ", 30);
        assert_eq!(lines.iter().map(|l| &l[2..]).collect::<String>(), long);
        assert!(lines.iter().all(|l| l.chars().count() <= 30));
    }
}
