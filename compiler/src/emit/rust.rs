//! Emit helper: Rust source files from tokens.
//!
//! Every generated `.rs` file is built as a [`TokenStream`] with `quote!`, parsed into
//! a [`syn::File`] (so what reaches the disk is Rust that parses, whatever the spec's
//! names and values are) and printed with `prettyplease`, one item at a time so that
//! items are separated by a blank line (`mod` and `use` declarations stay grouped).
//!
//! prettyplease lays code out much like rustfmt, but not identically, so each file
//! carries `#![cfg_attr(rustfmt, rustfmt::skip)]`: `cargo fmt --check` leaves
//! generated files alone, and the layout is decided here and nowhere else (no output
//! that depends on the installed toolchain's rustfmt). [`render_file`] is a fixed
//! point: parsing a generated file and rendering it again gives the same bytes.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

/// A Rust source file: the module's `//!` documentation (one string, lines split on
/// `\n`) and its items. Panics if the tokens are not a Rust file, which is a bug in
/// the emitter, never a property of the spec.
pub fn rust_file(module_doc: &str, items: TokenStream) -> String {
    let doc = module_doc
        .lines()
        .map(doc_line)
        .map(|line| quote!(#![doc = #line]));
    let tokens = quote! {
        #(#doc)*
        #![cfg_attr(rustfmt, rustfmt::skip)]
        #items
    };
    let file: syn::File = match syn::parse2(tokens) {
        Ok(file) => file,
        Err(e) => panic!("internal error: an emitter built tokens that are not a Rust file: {e}"),
    };
    render_file(file)
}

/// A Rust source file the user owns (the extension crate's first version): like
/// [`rust_file`] but without `rustfmt::skip`, since the user formats it from then on.
pub fn rust_file_owned(module_doc: &str, items: TokenStream) -> String {
    let doc = module_doc
        .lines()
        .map(doc_line)
        .map(|line| quote!(#![doc = #line]));
    let tokens = quote! {
        #(#doc)*
        #items
    };
    let file: syn::File = match syn::parse2(tokens) {
        Ok(file) => file,
        Err(e) => panic!("internal error: an emitter built tokens that are not a Rust file: {e}"),
    };
    render_file(file)
}

/// Prints a parsed file the way shopgen writes it: inner attributes, then the items,
/// a blank line between items, none inside a run of `mod` or of `use` declarations.
pub fn render_file(file: syn::File) -> String {
    let mut out = prettyplease::unparse(&syn::File {
        shebang: None,
        frontmatter: None,
        attrs: file.attrs,
        items: Vec::new(),
    });
    let mut group: Vec<syn::Item> = Vec::new();
    let mut group_kind = None;
    for item in file.items {
        let kind = ItemGroup::of(&item);
        if group_kind != Some(kind) || kind == ItemGroup::Other {
            flush(&mut out, &mut group);
        }
        group_kind = Some(kind);
        group.push(item);
    }
    flush(&mut out, &mut group);
    out
}

fn flush(out: &mut String, group: &mut Vec<syn::Item>) {
    if group.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(&prettyplease::unparse(&syn::File {
        shebang: None,
        frontmatter: None,
        attrs: Vec::new(),
        items: std::mem::take(group),
    }));
}

/// Which run of items an item belongs to when blank lines are placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ItemGroup {
    /// `mod name;`
    ModDecl,
    /// `use` of another crate.
    UseExternal,
    /// `use crate::…`.
    UseCrate,
    /// Anything else: a run of its own.
    Other,
}

impl ItemGroup {
    fn of(item: &syn::Item) -> ItemGroup {
        match item {
            syn::Item::Mod(m) if m.content.is_none() && m.attrs.is_empty() => ItemGroup::ModDecl,
            syn::Item::Use(u) if u.attrs.is_empty() => match &u.tree {
                syn::UseTree::Path(p) if p.ident == "crate" => ItemGroup::UseCrate,
                _ => ItemGroup::UseExternal,
            },
            _ => ItemGroup::Other,
        }
    }
}

/// The text of a `#[doc]` attribute for one line: a leading space, as `///` gives.
fn doc_line(line: &str) -> String {
    if line.is_empty() {
        String::new()
    } else {
        format!(" {line}")
    }
}

/// Outer documentation (`///`) from a string, lines split on `\n`.
pub fn doc(text: &str) -> TokenStream {
    let lines = text.lines().map(doc_line);
    quote!(#(#[doc = #lines])*)
}

/// An integer literal without a suffix (`1048576`, not `1048576u64`).
pub fn uint(n: u64) -> Literal {
    Literal::u64_unsuffixed(n)
}

/// An integer expression without a suffix; negative numbers are `-n`.
pub fn int(n: i64) -> TokenStream {
    let abs = Literal::u64_unsuffixed(n.unsigned_abs());
    if n < 0 { quote!(-#abs) } else { quote!(#abs) }
}

/// A float expression without a suffix (`0.5`, `-2.0`, `f64::INFINITY`).
pub fn float(f: f64) -> TokenStream {
    if f.is_nan() {
        quote!(f64::NAN)
    } else if f.is_infinite() {
        if f < 0.0 {
            quote!(f64::NEG_INFINITY)
        } else {
            quote!(f64::INFINITY)
        }
    } else {
        let abs = Literal::f64_unsuffixed(f.abs());
        if f.is_sign_negative() && f != 0.0 {
            quote!(-#abs)
        } else {
            quote!(#abs)
        }
    }
}

/// `Some(value)` or `None`.
pub fn option<T: quote::ToTokens>(value: Option<T>) -> TokenStream {
    match value {
        Some(v) => quote!(Some(#v)),
        None => quote!(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_carry_no_suffix() {
        assert_eq!(uint(1048576).to_string(), "1048576");
        assert_eq!(int(-5).to_string(), "- 5");
        assert_eq!(int(i64::MIN).to_string(), "- 9223372036854775808");
        assert_eq!(float(2.0).to_string(), "2.0");
        assert_eq!(float(-0.25).to_string(), "- 0.25");
    }

    #[test]
    fn a_file_has_blank_lines_between_items_and_is_a_fixed_point() {
        let text = rust_file(
            "The module.\n\nMore.",
            quote! {
                mod a;
                mod b;
                use std::fmt;
                use std::io;
                use crate::a;
                /// One.
                const ONE: i32 = 1;
                fn main() {}
            },
        );
        assert_eq!(
            text,
            "//! The module.\n//!\n//! More.\n#![cfg_attr(rustfmt, rustfmt::skip)]\n\n\
             mod a;\nmod b;\n\nuse std::fmt;\nuse std::io;\n\nuse crate::a;\n\n\
             /// One.\nconst ONE: i32 = 1;\n\nfn main() {}\n"
        );
        let parsed = syn::parse_file(&text).expect("parses");
        assert_eq!(render_file(parsed), text);
    }
}
