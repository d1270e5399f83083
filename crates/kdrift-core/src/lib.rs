//! kdrift's vocabulary, shared by the product and by sim: resource keys and objects
//! (`model`), field paths (`path`), quantities (`quantity`), label selectors (`selector`), the
//! built-in kind table (`kinds`), times (`timefmt`), text made safe to print (`text`), YAML and
//! JSON read the way kubectl reads them, with bounds (`yaml`), and dumps of live objects
//! (`dump`). It depends on no other part of kdrift; `tests/layering.rs` keeps it so.

#![forbid(unsafe_code)]

pub mod dump;
pub mod kinds;
pub mod model;
pub mod path;
pub mod quantity;
pub mod selector;
pub mod text;
pub mod timefmt;
pub mod yaml;
