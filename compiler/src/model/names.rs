//! Names: one identifier in every spelling, and English plurals.

use heck::{ToKebabCase, ToLowerCamelCase, ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};

use super::Names;

/// Every spelling of an identifier written in snake_case or camelCase.
pub fn names(ident: &str) -> Names {
    let snake = ident.to_snake_case();
    Names {
        pascal: snake.to_upper_camel_case(),
        camel: snake.to_lower_camel_case(),
        kebab: snake.to_kebab_case(),
        shouty: snake.to_shouty_snake_case(),
        snake,
    }
}

/// The English plural of a snake_case noun (its last word is pluralised).
pub fn pluralize(snake: &str) -> String {
    let (head, last) = match snake.rfind('_') {
        Some(i) => (&snake[..=i], &snake[i + 1..]),
        None => ("", snake),
    };
    let irregular = [
        ("person", "people"),
        ("child", "children"),
        ("man", "men"),
        ("woman", "women"),
        ("mouse", "mice"),
        ("datum", "data"),
        ("index", "indices"),
    ];
    if let Some((_, p)) = irregular.iter().find(|(s, _)| *s == last) {
        return format!("{head}{p}");
    }
    let uncountable = [
        "news",
        "series",
        "species",
        "sheep",
        "fish",
        "equipment",
        "information",
        "data",
    ];
    if uncountable.contains(&last) {
        return snake.to_string();
    }
    let vowel = |c: char| "aeiou".contains(c);
    let plural = if let Some(stem) = last.strip_suffix('y') {
        if stem.chars().last().is_some_and(|c| !vowel(c)) {
            format!("{stem}ies")
        } else {
            format!("{last}s")
        }
    } else if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|s| last.ends_with(s))
    {
        format!("{last}es")
    } else {
        format!("{last}s")
    };
    format!("{head}{plural}")
}

/// A best guess at the singular of a snake_case plural (for `has_many.reviews`
/// without `resource`).
pub fn singular_guess(plural: &str) -> String {
    if let Some(stem) = plural.strip_suffix("ies") {
        return format!("{stem}y");
    }
    for suffix in ["ches", "shes", "sses", "xes", "zes"] {
        if let Some(stem) = plural.strip_suffix(suffix) {
            return format!("{stem}{}", &suffix[..suffix.len() - 2]);
        }
    }
    plural.strip_suffix('s').unwrap_or(plural).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings() {
        let n = names("orderItem");
        assert_eq!(n.snake, "order_item");
        assert_eq!(n.pascal, "OrderItem");
        assert_eq!(n.camel, "orderItem");
        assert_eq!(n.kebab, "order-item");
        assert_eq!(n.shouty, "ORDER_ITEM");
        assert_eq!(names("order_item"), n);
    }

    #[test]
    fn plurals() {
        for (s, p) in [
            ("product", "products"),
            ("review", "reviews"),
            ("category", "categories"),
            ("day", "days"),
            ("box", "boxes"),
            ("order_item", "order_items"),
            ("address", "addresses"),
            ("person", "people"),
            ("branch", "branches"),
        ] {
            assert_eq!(pluralize(s), p);
        }
    }
}
