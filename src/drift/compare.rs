//! Local-mode comparison of one normalised desired object with its normalised live object:
//! every field Git sets must hold the same value live (maps recurse, keyed lists match items
//! by key, sets compare members, atomic lists compare whole, unschematised custom lists by
//! position); what only the live side has is drift only when the applier alone owns it (the
//! next apply would remove it). Produces the drifted fields and a projection of the live
//! object onto what Git sets, so a rendered diff shows only real differences. Pure.

use super::ownership::{descend, descend_value, OwnerCursor};
use super::schema::{self, ListKind, SchemaNode};
use crate::path::{FieldPath, Segment};
use crate::quantity::Quantity;
use base64::Engine;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// One drifted field: the path and the two values (absent on the side that lacks it).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldDrift {
    pub path: FieldPath,
    pub desired: Option<Value>,
    pub live: Option<Value>,
    /// Who owns the live field (managedFields), when anyone does.
    pub owner: Option<super::attribution::FieldOwner>,
    /// Whether that owner is this repository's applier.
    pub owner_is_applier: bool,
    /// The commit that last changed the field's lines in Git (attached by the runtime).
    pub commit: Option<super::attribution::CommitRef>,
    pub cause: Option<super::attribution::Cause>,
    /// Why no Git line can be named for it, when a renderer made it and its source cannot
    /// be followed.
    pub git_note: Option<String>,
}

/// What one comparison knows about the object it compares.
pub struct Comparer<'a> {
    pub group: &'a str,
    pub kind: &'a str,
    /// Built-in kinds follow Go's `omitempty` and the API's list types; custom kinds follow
    /// their CRD's schema, if any.
    pub builtin: bool,
    pub schema: Option<SchemaNode<'a>>,
    /// Ignore patterns that apply to this object.
    pub ignore_paths: Vec<&'a FieldPath>,
    /// Managers whose fields never count for this object.
    pub ignore_managers: Vec<&'a str>,
    /// Whether to build the projection of the live object (only worth it when there is
    /// drift to show; without it the comparison allocates far less).
    pub project: bool,
}

/// The result of comparing one object.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub fields: Vec<FieldDrift>,
    /// The live object projected onto the fields Git sets (plus drifted removals).
    pub projected_live: Value,
}

impl<'a> Comparer<'a> {
    /// A copy of `v` for the projection, or a placeholder when not projecting.
    fn keep(&self, v: &Value) -> Value {
        if self.project {
            v.clone()
        } else {
            Value::Null
        }
    }

    fn keep_list(&self, v: &[Value]) -> Value {
        if self.project {
            Value::Array(v.to_vec())
        } else {
            Value::Null
        }
    }

    /// Compares a normalised desired object with a live object, raw or normalised (what
    /// normalisation drops is skipped on the way). `owners` are cursors at the root of the
    /// live object's field ownership.
    pub fn compare(&self, desired: &Value, live: &Value, owners: &[OwnerCursor<'_>]) -> Comparison {
        let mut out = Vec::new();
        let projected = self
            .value(
                &mut FieldPath::root(),
                desired,
                Some(live),
                self.schema,
                owners,
                &mut out,
            )
            .unwrap_or(Value::Null);
        Comparison {
            fields: out,
            projected_live: projected,
        }
    }

    fn is_ignored(&self, path: &FieldPath, owners: &[OwnerCursor<'_>]) -> bool {
        self.ignore_paths.iter().any(|p| p.covers(path))
            || owners
                .iter()
                .any(|c| self.ignore_managers.contains(&c.owner.manager))
    }

    fn push(
        &self,
        out: &mut Vec<FieldDrift>,
        path: &FieldPath,
        desired: Option<&Value>,
        live: Option<&Value>,
        owners: &[OwnerCursor<'_>],
    ) {
        if !self.is_ignored(path, owners) {
            let owner = super::attribution::pick_owner(owners);
            let owner_is_applier = owner.as_ref().is_some_and(|o| {
                owners
                    .iter()
                    .any(|c| c.owner.is_applier && c.owner.manager == o.manager)
            });
            out.push(FieldDrift {
                path: path.clone(),
                desired: desired.cloned(),
                live: live.cloned(),
                owner,
                owner_is_applier,
                commit: None,
                cause: None,
                git_note: None,
            });
        }
    }

    /// Compares a desired value with the live value at the same path; returns the projection.
    fn value(
        &self,
        path: &mut FieldPath,
        d: &Value,
        l: Option<&Value>,
        sch: Option<SchemaNode<'_>>,
        owners: &[OwnerCursor<'_>],
        out: &mut Vec<FieldDrift>,
    ) -> Option<Value> {
        // The live side is read raw: null and empty are absent, as normalisation would make them.
        let l = l.filter(|v| !super::normalize::is_empty(v));
        match (d, l) {
            (Value::Object(dm), Some(Value::Object(lm))) => {
                Some(self.map(path, dm, lm, sch, owners, out))
            }
            (Value::Array(da), Some(Value::Array(la))) => {
                Some(self.list(path, da, la, sch, owners, out))
            }
            // Absent is the same as empty: compare entry by entry, so each missing entry is
            // reported at itself.
            (Value::Object(dm), None) => {
                let p = self.map(path, dm, &Map::new(), sch, owners, out);
                (!super::normalize::is_empty(&p)).then_some(p)
            }
            (Value::Array(da), None) => {
                let p = self.list(path, da, &[], sch, owners, out);
                (!super::normalize::is_empty(&p)).then_some(p)
            }
            (Value::Null, None) => Some(Value::Null),
            (_, None) => {
                if self.is_effectively_absent(path, d) {
                    Some(self.keep(d))
                } else {
                    self.push(out, path, Some(d), None, owners);
                    None
                }
            }
            (Value::Object(_) | Value::Array(_), Some(lv)) => {
                self.push(out, path, Some(d), Some(lv), owners);
                Some(self.keep(lv))
            }
            (_, Some(lv)) => {
                let quantities = sch.is_some_and(|s| s.is_quantity());
                if self.scalar_eq(path, d, lv)
                    || quantities
                        && Quantity::from_json(d)
                            .is_some_and(|a| Quantity::from_json(lv) == Some(a))
                {
                    Some(self.keep(d))
                } else {
                    self.push(out, path, Some(d), Some(lv), owners);
                    Some(self.keep(lv))
                }
            }
        }
    }

    fn map(
        &self,
        path: &mut FieldPath,
        dm: &Map<String, Value>,
        lm: &Map<String, Value>,
        sch: Option<SchemaNode<'_>>,
        owners: &[OwnerCursor<'_>],
        out: &mut Vec<FieldDrift>,
    ) -> Value {
        let mut projected = Map::new();
        for (k, dv) in dm {
            if path.is_root() && (k == "apiVersion" || k == "kind") {
                if self.project {
                    projected.insert(k.clone(), dv.clone());
                }
                continue;
            }
            let child_schema = match sch {
                Some(s) if !(path.is_root() && k == "metadata") => match s.property(k) {
                    Ok(c) => c,
                    // The server prunes fields its schema does not know: never drift.
                    Err(schema::Pruned) => continue,
                },
                _ => None,
            };
            let seg = Segment::Field(k.clone());
            let child_owners = descend(owners, &seg);
            path.0.push(seg);
            let child = self.value(path, dv, lm.get(k), child_schema, &child_owners, out);
            path.0.pop();
            if let Some(p) = child {
                if self.project {
                    projected.insert(k.clone(), p);
                }
            }
        }
        for (k, lv) in lm {
            if dm.contains_key(k)
                || (path.is_root() && (k == "apiVersion" || k == "kind"))
                || super::normalize::is_normalized_away(path, k)
                || super::normalize::is_empty(lv)
            {
                continue;
            }
            let seg = Segment::Field(k.clone());
            let child_owners = descend(owners, &seg);
            if child_owners.is_empty() {
                continue;
            }
            let child_schema = sch.and_then(|s| s.property(k).ok().flatten());
            path.0.push(seg);
            let child = self.removed(path, lv, child_schema, &child_owners, out);
            path.0.pop();
            if let Some(p) = child {
                if self.project {
                    projected.insert(k.clone(), p);
                }
            }
        }
        Value::Object(projected)
    }

    /// A live value Git does not set: drift when the applier alone owns it (the next apply
    /// removes it); recursed into when owners are mixed (only the applier's part goes).
    /// Returns the projection of what was reported.
    fn removed(
        &self,
        path: &mut FieldPath,
        lv: &Value,
        sch: Option<SchemaNode<'_>>,
        owners: &[OwnerCursor<'_>],
        out: &mut Vec<FieldDrift>,
    ) -> Option<Value> {
        let applier = owners.iter().any(|c| c.owner.is_applier);
        let other = owners.iter().any(|c| !c.owner.is_applier);
        if !applier {
            return None;
        }
        // Metadata maps mix the applier's entries with ones normalisation drops (the
        // last-applied annotation): look at their entries one by one.
        let in_metadata_map = path.0.len() <= 2
            && matches!(path.0.first(), Some(Segment::Field(f)) if f == "metadata")
            && lv.is_object();
        if !in_metadata_map {
            // What the applier's field sets hold here: the node itself (`.`, a list item),
            // fields beneath it, or neither (a leaf, an atomic value, or an empty map).
            let applier = || owners.iter().filter(|c| c.owner.is_applier);
            let owns_itself = applier().any(|c| c.owns_itself());
            let owns_children = applier().any(|c| c.owns_children());
            if !owns_itself && !owns_children && lv.as_object().is_some_and(|m| !m.is_empty()) {
                // Owned as an empty map (`strategy: {}`): what the server defaulted into it
                // is nobody's change, and the next apply keeps it.
                return None;
            }
            if !other && (owns_itself || !owns_children) {
                let before = out.len();
                self.push(out, path, None, Some(lv), owners);
                return (out.len() > before).then(|| self.keep(lv));
            }
        }
        match lv {
            Value::Object(m) => {
                let mut projected = Map::new();
                for (k, v) in m {
                    if super::normalize::is_normalized_away(path, k)
                        || super::normalize::is_empty(v)
                    {
                        continue;
                    }
                    let seg = Segment::Field(k.clone());
                    let co = descend(owners, &seg);
                    if co.is_empty() {
                        continue;
                    }
                    let cs = sch.and_then(|s| s.property(k).ok().flatten());
                    path.0.push(seg);
                    let child = self.removed(path, v, cs, &co, out);
                    path.0.pop();
                    if let Some(p) = child {
                        projected.insert(k.clone(), p);
                    }
                }
                (!projected.is_empty()).then_some(Value::Object(projected))
            }
            Value::Array(items) => {
                let ListKind::Keyed(keys) = self.list_kind(path, sch) else {
                    return None;
                };
                let item_schema = sch.and_then(|s| s.items());
                let mut projected = Vec::new();
                for item in items {
                    let Some(k) = item_key(item, &keys) else {
                        continue;
                    };
                    let seg = Segment::Item(k);
                    let co = descend(owners, &seg);
                    if co.is_empty() {
                        continue;
                    }
                    path.0.push(seg);
                    let child = self.removed(path, item, item_schema, &co, out);
                    path.0.pop();
                    if let Some(p) = child {
                        projected.push(p);
                    }
                }
                (!projected.is_empty()).then_some(Value::Array(projected))
            }
            _ => None,
        }
    }

    fn list_kind(&self, path: &FieldPath, sch: Option<SchemaNode<'_>>) -> ListKind {
        if self.builtin || matches!(path.0.first(), Some(Segment::Field(f)) if f == "metadata") {
            schema::builtin_list_kind(self.kind, path)
        } else {
            sch.map(|s| s.list_kind()).unwrap_or(ListKind::Index)
        }
    }

    fn list(
        &self,
        path: &mut FieldPath,
        da: &[Value],
        la: &[Value],
        sch: Option<SchemaNode<'_>>,
        owners: &[OwnerCursor<'_>],
        out: &mut Vec<FieldDrift>,
    ) -> Value {
        let item_schema = sch.and_then(|s| s.items());
        match self.list_kind(path, sch) {
            ListKind::Keyed(keys) => {
                let desired_keys: Option<Vec<_>> = da.iter().map(|i| item_key(i, &keys)).collect();
                let Some(desired_keys) = desired_keys else {
                    return self.atomic(path, da, la, owners, out);
                };
                if self.builtin && is_ordered_list(path) && !same_order(&desired_keys, la, &keys) {
                    // The same items in another order mean something else here: the list is
                    // the drift.
                    return self.whole_list_drifts(path, da, la, owners, out);
                }
                let live_by_key: HashMap<Vec<(String, String)>, &Value> = la
                    .iter()
                    .filter_map(|i| item_key(i, &keys).map(|k| (k, i)))
                    .collect();
                let mut projected = Vec::with_capacity(da.len());
                for (d, k) in da.iter().zip(&desired_keys) {
                    let seg = Segment::Item(k.clone());
                    let co = descend(owners, &seg);
                    path.0.push(seg);
                    match live_by_key.get(k).copied() {
                        // A missing item is reported at the item itself.
                        None => self.push(out, path, Some(d), None, &co),
                        Some(lv) => {
                            if let Some(p) = self.value(path, d, Some(lv), item_schema, &co, out) {
                                projected.push(p);
                            }
                        }
                    }
                    path.0.pop();
                }
                for l in la {
                    let Some(k) = item_key(l, &keys) else {
                        continue;
                    };
                    if desired_keys.contains(&k) {
                        continue;
                    }
                    let seg = Segment::Item(k);
                    let co = descend(owners, &seg);
                    if co.is_empty() {
                        continue;
                    }
                    path.0.push(seg);
                    let child = self.removed(path, l, item_schema, &co, out);
                    path.0.pop();
                    if let Some(p) = child {
                        projected.push(p);
                    }
                }
                Value::Array(projected)
            }
            ListKind::Set => {
                let missing = da
                    .iter()
                    .any(|d| !la.iter().any(|l| self.scalar_eq(path, d, l)));
                let removed: Vec<&Value> = la
                    .iter()
                    .filter(|l| !da.contains(l))
                    .filter(|l| {
                        let co = descend_value(owners, l);
                        co.iter().any(|c| c.owner.is_applier)
                            && co.iter().all(|c| c.owner.is_applier)
                    })
                    .collect();
                if missing || !removed.is_empty() {
                    self.whole_list_drifts(path, da, la, owners, out)
                } else {
                    self.keep_list(da)
                }
            }
            ListKind::Atomic => self.atomic(path, da, la, owners, out),
            ListKind::Index => {
                let mut projected = Vec::new();
                for (i, d) in da.iter().enumerate() {
                    path.0.push(Segment::Index(i));
                    match la.get(i) {
                        None => self.push(out, path, Some(d), None, &[]),
                        Some(l) => {
                            if let Some(p) = self.value(path, d, Some(l), item_schema, &[], out) {
                                projected.push(p);
                            }
                        }
                    }
                    path.0.pop();
                }
                for (i, l) in la.iter().enumerate().skip(da.len()) {
                    path.0.push(Segment::Index(i));
                    self.push(out, path, None, Some(l), &[]);
                    path.0.pop();
                    projected.push(self.keep(l));
                }
                Value::Array(projected)
            }
        }
    }

    /// An atomic list: the same length, and each item holds what Git's item sets (server
    /// defaults inside items, like a subject's `apiGroup`, are not drift). Reported whole.
    fn atomic(
        &self,
        path: &mut FieldPath,
        da: &[Value],
        la: &[Value],
        owners: &[OwnerCursor<'_>],
        out: &mut Vec<FieldDrift>,
    ) -> Value {
        let same = da.len() == la.len()
            && da.iter().zip(la).enumerate().all(|(i, (d, l))| {
                let mut scratch = Vec::new();
                path.0.push(Segment::Index(i));
                self.value(path, d, Some(l), None, &[], &mut scratch);
                path.0.pop();
                scratch.is_empty()
            });
        if same {
            self.keep_list(da)
        } else {
            self.whole_list_drifts(path, da, la, owners, out)
        }
    }

    /// Reports a list as one drifted field (both lists whole); returns the live projection.
    fn whole_list_drifts(
        &self,
        path: &FieldPath,
        da: &[Value],
        la: &[Value],
        owners: &[OwnerCursor<'_>],
        out: &mut Vec<FieldDrift>,
    ) -> Value {
        self.push(
            out,
            path,
            Some(&Value::Array(da.to_vec())),
            Some(&Value::Array(la.to_vec())),
            owners,
        );
        self.keep_list(la)
    }

    /// Whether a desired scalar that is absent live is nonetheless what the server holds: a
    /// zero value of a built-in struct field (Go's `omitempty` drops it on the way out).
    fn is_effectively_absent(&self, path: &FieldPath, d: &Value) -> bool {
        if !self.builtin {
            return false;
        }
        match d {
            Value::Bool(false) => !self.in_string_map(path),
            Value::Number(n) => n.as_f64() == Some(0.0) && !self.in_string_map(path),
            Value::String(s) => s.is_empty() && !self.in_string_map(path),
            _ => false,
        }
    }

    fn in_string_map(&self, path: &FieldPath) -> bool {
        let n = path.0.len();
        n >= 2 && matches!(&path.0[n - 2], Segment::Field(f) if schema::is_string_map_field(f))
    }

    fn scalar_eq(&self, path: &FieldPath, d: &Value, l: &Value) -> bool {
        if d == l {
            return true;
        }
        if let (Value::Number(a), Value::Number(b)) = (d, l) {
            return a.as_f64() == b.as_f64();
        }
        if !self.builtin {
            return false;
        }
        if schema::is_quantity_path(path) {
            if let (Some(a), Some(b)) = (Quantity::from_json(d), Quantity::from_json(l)) {
                return a == b;
            }
        }
        if schema::is_base64_path(self.group, self.kind, path) {
            if let (Some(a), Some(b)) = (decode_base64(d), decode_base64(l)) {
                return a == b;
            }
        }
        // An empty clusterIP asks the server to allocate one; the allocated IP is not drift.
        if self.kind == "Service" && self.group.is_empty() && d == &Value::String(String::new()) {
            let p = path.to_string();
            return p == "spec.clusterIP" || p.starts_with("spec.clusterIPs[");
        }
        false
    }
}

/// The merge-key values of a list item, with the server's defaults for absent keys
/// (`protocol: TCP`); `None` when a key without a default is absent.
/// Keyed lists of the built-in kinds whose order has a meaning of its own: a container's
/// `env` (a `$(VAR)` expands only variables defined earlier in the list) and a pod's
/// `initContainers` (they run one after another, in order).
fn is_ordered_list(path: &FieldPath) -> bool {
    let n = path.0.len();
    match path.0.last() {
        Some(Segment::Field(f)) if f == "initContainers" => true,
        Some(Segment::Field(f)) if f == "env" && n >= 3 => matches!(
            (&path.0[n - 3], &path.0[n - 2]),
            (Segment::Field(c), Segment::Item(_))
                if c == "containers" || c == "initContainers" || c == "ephemeralContainers"
        ),
        _ => false,
    }
}

/// Whether the items Git names appear live in Git's order (items only one side has do not
/// count: they are reported as missing or removed).
fn same_order(desired_keys: &[Vec<(String, String)>], live: &[Value], keys: &[String]) -> bool {
    let live_keys: Vec<Vec<(String, String)>> =
        live.iter().filter_map(|l| item_key(l, keys)).collect();
    let positions: Vec<usize> = desired_keys
        .iter()
        .filter_map(|k| live_keys.iter().position(|l| l == k))
        .collect();
    positions.windows(2).all(|w| w[0] < w[1])
}

pub fn item_key(item: &Value, keys: &[String]) -> Option<Vec<(String, String)>> {
    let m = item.as_object()?;
    keys.iter()
        .map(|k| {
            let v = match m.get(k) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => schema::key_default(k)?.to_string(),
                Some(other) => other.to_string(),
            };
            Some((k.clone(), v))
        })
        .collect()
}

/// Decodes base64 bytes, tolerating the line breaks some tools insert.
pub fn decode_base64(v: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}
