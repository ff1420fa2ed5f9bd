//! Emit helper: a field's spellings in generated Rust, shared by the emitters that
//! write Rust for the backend side.
//!
//! Stage: `emit`. Takes a model [`Field`] or [`FieldType`]; gives tokens: the Rust type
//! of its value ([`rust_type`]: the backend's row structs, the extension interface's
//! inputs and outputs) and the `FieldSpec` the backend runtime checks it against
//! ([`field_spec`]: the backend's tables, the glue that checks an operation's inputs).
//! It depends on no emitter, so `backend` and `extension` both use it without using
//! each other.

use proc_macro2::TokenStream;
use quote::quote;

use super::rust::{float, int, option, uint};
use crate::model::{DefaultValue, Field, FieldType};

/// The Rust type of a field's value; `optional` wraps it in `Option`.
pub(crate) fn rust_type(ty: &FieldType, optional: bool) -> TokenStream {
    let t = match ty {
        FieldType::String { .. } | FieldType::Text { .. } | FieldType::Enum { .. } => {
            quote!(String)
        }
        FieldType::Integer { .. } => quote!(i32),
        FieldType::BigInt { .. } => quote!(i64),
        FieldType::Boolean => quote!(bool),
        FieldType::Decimal { .. } => quote!(Decimal),
        FieldType::Float { .. } => quote!(f64),
        FieldType::Timestamp => quote!(Timestamp),
        FieldType::Date => quote!(Date),
        FieldType::Uuid => quote!(Uuid),
    };
    if optional { quote!(Option<#t>) } else { t }
}

fn opt_u32(v: Option<u32>) -> TokenStream {
    option(v.map(|n| uint(n.into())))
}

fn opt_i64(v: Option<i64>) -> TokenStream {
    option(v.map(int))
}

/// `Kind::…` for a field type.
fn kind_literal(ty: &FieldType) -> TokenStream {
    match ty {
        FieldType::String {
            max_length,
            min_length,
            pattern,
        } => {
            let min_length = opt_u32(*min_length);
            let max_length = opt_u32(Some(*max_length));
            let pattern = option(pattern.as_ref());
            quote!(Kind::String {
                min_length: #min_length,
                max_length: #max_length,
                pattern: #pattern,
            })
        }
        FieldType::Text {
            min_length,
            max_length,
        } => {
            let min_length = opt_u32(*min_length);
            let max_length = opt_u32(*max_length);
            quote!(Kind::Text {
                min_length: #min_length,
                max_length: #max_length,
            })
        }
        FieldType::Integer { min, max } => {
            let (min, max) = (opt_i64(*min), opt_i64(*max));
            quote!(Kind::Integer { min: #min, max: #max })
        }
        FieldType::BigInt { min, max } => {
            let (min, max) = (opt_i64(*min), opt_i64(*max));
            quote!(Kind::BigInt { min: #min, max: #max })
        }
        FieldType::Boolean => quote!(Kind::Boolean),
        FieldType::Decimal {
            precision,
            scale,
            min,
            max,
        } => {
            let precision = uint((*precision).into());
            let scale = uint((*scale).into());
            let (min, max) = (option(min.as_ref()), option(max.as_ref()));
            quote!(Kind::Decimal {
                precision: #precision,
                scale: #scale,
                min: #min,
                max: #max,
            })
        }
        FieldType::Float { min, max } => {
            let (min, max) = (option(min.map(float)), option(max.map(float)));
            quote!(Kind::Float { min: #min, max: #max })
        }
        FieldType::Timestamp => quote!(Kind::Timestamp),
        FieldType::Date => quote!(Kind::Date),
        FieldType::Uuid => quote!(Kind::Uuid),
        FieldType::Enum { values } => quote!(Kind::Enum { values: &[#(#values),*] }),
    }
}

fn default_literal(d: Option<&DefaultValue>) -> TokenStream {
    match d {
        None => quote!(None),
        Some(DefaultValue::Str(s)) => quote!(Some(DefaultValue::Str(#s))),
        Some(DefaultValue::Int(i)) => {
            let i = int(*i);
            quote!(Some(DefaultValue::Int(#i)))
        }
        Some(DefaultValue::Float(f)) => {
            let f = float(*f);
            quote!(Some(DefaultValue::Float(#f)))
        }
        Some(DefaultValue::Bool(b)) => quote!(Some(DefaultValue::Bool(#b))),
        Some(DefaultValue::Now) => quote!(Some(DefaultValue::Now)),
    }
}

/// The runtime's `FieldSpec` for a field: the rules its value is checked against.
pub(crate) fn field_spec(f: &Field) -> TokenStream {
    let name = &f.column;
    let kind = kind_literal(&f.ty);
    let (required, unique, writable) = (f.required, f.unique, f.writable);
    let default = default_literal(f.default.as_ref());
    quote! {
        FieldSpec {
            name: #name,
            kind: #kind,
            required: #required,
            unique: #unique,
            default: #default,
            writable: #writable,
        }
    }
}
