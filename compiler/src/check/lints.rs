//! Lints: what a spec may say, but its author probably did not mean, found on a spec
//! that has no errors. Each finding is a [`Warning`] of a [`Lint`]
//! ([`crate::diagnostics`] says how they are shown); a warning never stops a command.

use crate::diagnostics::{Lint, Warning};
use crate::model::budget;
use crate::model::names::{names, pluralize};
use crate::spec::Spec;

/// Every warning about a spec that checked without errors.
pub fn lints(spec: &Spec) -> Vec<Warning> {
    let mut out = Vec::new();
    guessed_plurals(spec, &mut out);
    short_statement_timeout(spec, &mut out);
    out
}

fn guessed_plurals(spec: &Spec, out: &mut Vec<Warning>) {
    for r in spec.resources.iter().filter(|r| r.plural.is_none()) {
        let snake = names(&r.name.value).snake;
        let guess = pluralize(&snake);
        let Some(english) = english_plural_of(&snake) else {
            continue;
        };
        out.push(Warning {
            lint: Lint::GuessedPlural,
            message: format!(
                "resource `{}` is named `{guess}` in its routes and table, shopgen's guess at its plural; English writes `{english}`",
                r.name.value
            ),
            span: r.name.span.clone(),
            path: r.path.clone(),
            hint: format!(
                "before the first deployment, set `plural = \"{english}\"`; once deployed, set `plural = \"{guess}\"` to keep the name (another plural is another table: `shopgen diff` shows the drop)"
            ),
        });
    }
}

/// The English plural of a snake_case noun (its last word pluralised) when shopgen's
/// guess ([`pluralize`]) is not it: `book_shelf` → `book_shelves`.
pub(crate) fn english_plural_of(snake: &str) -> Option<String> {
    let (head, last) = snake.rsplit_once('_').unwrap_or(("", snake));
    let english = english_plural(last)?;
    let english = if head.is_empty() {
        english
    } else {
        format!("{head}_{english}")
    };
    (english != pluralize(snake)).then_some(english)
}

/// The English plural of a word that shopgen's rules ([`pluralize`]) would get wrong,
/// when it is one of the common ones; `None` for any other word.
fn english_plural(word: &str) -> Option<String> {
    const LISTED: &[(&str, &str)] = &[
        ("calf", "calves"),
        ("elf", "elves"),
        ("half", "halves"),
        ("knife", "knives"),
        ("leaf", "leaves"),
        ("life", "lives"),
        ("loaf", "loaves"),
        ("self", "selves"),
        ("sheaf", "sheaves"),
        ("shelf", "shelves"),
        ("thief", "thieves"),
        ("wife", "wives"),
        ("wolf", "wolves"),
        ("foot", "feet"),
        ("goose", "geese"),
        ("tooth", "teeth"),
        ("ox", "oxen"),
        ("criterion", "criteria"),
        ("phenomenon", "phenomena"),
        ("quiz", "quizzes"),
        ("echo", "echoes"),
        ("hero", "heroes"),
        ("potato", "potatoes"),
        ("tomato", "tomatoes"),
        ("veto", "vetoes"),
    ];
    if let Some((_, p)) = LISTED.iter().find(|(s, _)| *s == word) {
        return Some((*p).to_string());
    }
    // analysis → analyses, axis → axes; but chassis → chassis.
    (["sis", "xis"].iter().any(|s| word.ends_with(s)) && word != "chassis")
        .then(|| format!("{}es", &word[..word.len() - 2]))
}

fn short_statement_timeout(spec: &Spec, out: &mut Vec<Warning>) {
    let Some(acquire) = &spec.service.database_acquire_timeout_ms else {
        return;
    };
    let (deadline_ms, explicit) = budget::of_spec(spec);
    let Ok(b) = budget::derive(deadline_ms, explicit) else {
        return;
    };
    let request = b.backend_request_ms;
    // The backend's statement timeout: runtime `server.rs`, `Budget::statement`.
    let statement = request
        .saturating_sub(b.database_acquire_ms)
        .max(request / 10);
    if statement * 2 >= request {
        return;
    }
    out.push(Warning {
        lint: Lint::ShortStatementTimeout,
        message: format!(
            "an acquire budget of {} ms leaves each statement {statement} ms of the {request} ms request timeout",
            b.database_acquire_ms
        ),
        span: acquire.span.clone(),
        path: "service.database_acquire_timeout_ms".to_string(),
        hint: format!(
            "each statement (a read too) gets the request timeout less the acquire budget, a tenth of it at least, before PostgreSQL cancels it or SQLite stops waiting for its lock; at most {} ms leaves statements half (docs/api.md, \"Deadline budget\")",
            request / 2
        ),
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn english_plurals_differ_from_the_guess_only_where_listed() {
        assert_eq!(english_plural("shelf").as_deref(), Some("shelves"));
        assert_eq!(english_plural("analysis").as_deref(), Some("analyses"));
        assert_eq!(english_plural("axis").as_deref(), Some("axes"));
        assert_eq!(english_plural("roof"), None);
        assert_eq!(english_plural("chief"), None);
        assert_eq!(english_plural("chassis"), None);
        assert_eq!(english_plural("scarf"), None, "scarfs is English too");
        assert_eq!(english_plural("product"), None);
        for word in ["shelf", "quiz", "hero", "basis"] {
            assert_ne!(english_plural(word), Some(pluralize(word)), "{word}");
        }
    }
}
