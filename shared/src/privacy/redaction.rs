//! Matching and redacting: an object matches an erasure when an address on it has the
//! erased email, or the erased name together with the postal code; a return also when its
//! order is one of an erased person's orders; any object when its free text holds the
//! erased email. A matched object has every present address field but `country`, and every
//! free-text note, replaced by [`ERASED`] (the field stays, so the API's schema holds).
//! Free text of objects that do not match, message bodies and webhook payloads have the
//! erased email's and the erased name's occurrences replaced.
//!
//! Only hashes are compared ([`HashKey`]): the identifier itself is never held here.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

use super::hash::HashKey;
use super::subject::{looks_like_email, normalize_email, normalize_postal, normalize_text};
use crate::domain::{Address, TenantId};
use crate::resource::{OrderLink, Personal};

/// What a redacted value reads as.
pub const ERASED: &str = "[erased]";

/// Longest name searched for in free text, in words.
const MAX_NAME_WORDS: usize = 6;

/// Address fields of a webhook payload (Trackstar's names, as the domain's).
const ADDRESS_FIELDS: [&str; 10] = [
    "full_name",
    "company",
    "address1",
    "address2",
    "address3",
    "city",
    "state",
    "postal_code",
    "phone_number",
    "email_address",
];

/// The erasures of one tenant, as hashes (each mapped to its erasure's id), and the order
/// ids of erased people.
#[derive(Debug, Clone)]
pub struct Matcher {
    tenant: TenantId,
    key: HashKey,
    emails: HashMap<String, String>,
    name_postals: HashMap<String, String>,
    names: HashMap<String, String>,
    orders: HashMap<String, String>,
}

/// What a redaction matched: the erasures, and the object's own order id when it is an
/// order (kept on those erasures, so the person's returns match).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Redaction {
    pub erasures: BTreeSet<String>,
    pub order_id: Option<String>,
    /// Hashes of the names on the matched addresses: kept on the erasures, so the person's
    /// name is found in free text (messages) even when the erasure named only an email.
    pub name_hashes: BTreeSet<String>,
    /// Hashes of the emails on the matched addresses (the same, for an erasure by name and
    /// postal code).
    pub email_hashes: BTreeSet<String>,
}

impl Matcher {
    pub fn new(tenant: TenantId, key: HashKey) -> Self {
        Self {
            tenant,
            key,
            emails: HashMap::new(),
            name_postals: HashMap::new(),
            names: HashMap::new(),
            orders: HashMap::new(),
        }
    }

    /// Adds one erasure's hashes (its email's or name + postal code's, and those learned
    /// from the addresses it matched) and known order ids.
    pub fn add(
        &mut self,
        erasure: &str,
        emails: impl IntoIterator<Item = String>,
        name_postal: Option<&str>,
        names: impl IntoIterator<Item = String>,
        orders: impl IntoIterator<Item = String>,
    ) {
        for h in emails {
            self.emails.insert(h, erasure.to_owned());
        }
        if let Some(h) = name_postal {
            self.name_postals.insert(h.to_owned(), erasure.to_owned());
        }
        for h in names {
            self.names.insert(h, erasure.to_owned());
        }
        for o in orders {
            self.orders.insert(o, erasure.to_owned());
        }
    }

    pub fn is_empty(&self) -> bool {
        self.emails.is_empty() && self.name_postals.is_empty() && self.names.is_empty()
    }

    pub fn key(&self) -> &HashKey {
        &self.key
    }

    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    fn email_match(&self, email: &str) -> Option<&String> {
        if self.emails.is_empty() {
            return None;
        }
        self.emails
            .get(&self.key.email(&self.tenant, &normalize_email(email)))
    }

    fn address_match(&self, address: &Address) -> Option<&String> {
        if let Some(found) = address
            .email_address
            .as_deref()
            .and_then(|e| self.email_match(e))
        {
            return Some(found);
        }
        match (&address.full_name, &address.postal_code) {
            (Some(name), Some(postal)) if !self.name_postals.is_empty() => {
                self.name_postals.get(&self.key.name_postal(
                    &self.tenant,
                    &normalize_text(name),
                    &normalize_postal(postal),
                ))
            }
            _ => None,
        }
    }

    /// The erasure whose email `text` holds.
    fn text_email_match(&self, text: &str) -> Option<&String> {
        words(text).into_iter().find_map(|(s, e)| {
            let word = &text[s..e];
            (looks_like_email(word))
                .then(|| self.email_match(word))
                .flatten()
        })
    }

    /// `text` with the erased emails and names replaced, and the erasures found; `None`
    /// when nothing was found.
    pub fn scrub_text(&self, text: &str) -> Option<(String, BTreeSet<String>)> {
        if self.is_empty() {
            return None;
        }
        let words = words(text);
        let mut spans: Vec<(usize, usize)> = Vec::new();
        let mut found = BTreeSet::new();
        let mut i = 0;
        while i < words.len() {
            let (start, end) = words[i];
            let word = &text[start..end];
            if looks_like_email(word) {
                if let Some(id) = self.email_match(word) {
                    found.insert(id.clone());
                    spans.push((start, end));
                    i += 1;
                    continue;
                }
            }
            let mut matched = None;
            if !self.names.is_empty() {
                // The longest name starting here.
                for n in (1..=MAX_NAME_WORDS.min(words.len() - i)).rev() {
                    let last = words[i + n - 1].1;
                    let candidate = normalize_text(&text[start..last]);
                    if let Some(id) = self.names.get(&self.key.name(&self.tenant, &candidate)) {
                        matched = Some((n, last, id.clone()));
                        break;
                    }
                }
            }
            match matched {
                Some((n, last, id)) => {
                    found.insert(id);
                    spans.push((start, last));
                    i += n;
                }
                None => i += 1,
            }
        }
        if spans.is_empty() {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (s, e) in spans {
            out.push_str(&text[at..s]);
            out.push_str(ERASED);
            at = e;
        }
        out.push_str(&text[at..]);
        Some((out, found))
    }

    /// Matches and redacts `object` in place; what it matched, or `None` (then it is
    /// unchanged).
    pub fn redact<P: Personal>(&self, object: &mut P) -> Option<Redaction> {
        if self.is_empty() {
            return None;
        }
        let mut fields = object.personal_fields();
        let mut erasures = BTreeSet::new();
        for address in &fields.addresses {
            if let Some(id) = self.address_match(address) {
                erasures.insert(id.clone());
            }
        }
        for text in &fields.free_text {
            if let Some(id) = self.text_email_match(text) {
                erasures.insert(id.clone());
            }
        }
        let own_order = match fields.order {
            Some(OrderLink::RefersTo(order)) => {
                if let Some(id) = self.orders.get(order) {
                    erasures.insert(id.clone());
                }
                None
            }
            Some(OrderLink::Is(order)) => Some(order.to_owned()),
            None => None,
        };
        if erasures.is_empty() {
            // Not the person's: only their name or email quoted in free text goes.
            let mut changed = false;
            for text in fields.free_text.iter_mut() {
                if let Some((scrubbed, found)) = self.scrub_text(text) {
                    **text = scrubbed;
                    erasures.extend(found);
                    changed = true;
                }
            }
            return changed.then_some(Redaction {
                erasures,
                ..Redaction::default()
            });
        }
        let name_hashes = fields
            .addresses
            .iter()
            .filter_map(|a| a.full_name.as_deref())
            .map(normalize_text)
            .filter(|n| !n.is_empty() && n != ERASED)
            .map(|n| self.key.name(&self.tenant, &n))
            .collect();
        let email_hashes = fields
            .addresses
            .iter()
            .filter_map(|a| a.email_address.as_deref())
            .map(normalize_email)
            .filter(|e| looks_like_email(e))
            .map(|e| self.key.email(&self.tenant, &e))
            .collect();
        for address in fields.addresses.iter_mut() {
            erase_address(address);
        }
        for text in fields.free_text.iter_mut() {
            **text = ERASED.to_owned();
        }
        Some(Redaction {
            erasures,
            order_id: own_order,
            name_hashes,
            email_hashes,
        })
    }

    /// Redacts a webhook payload (JSON) in place: when an address in it, an order id of
    /// an erased person (`order_id`, or the `id` of an order event's object) or the erased
    /// email in any text matches, every address in it loses its personal fields and its
    /// `notes` are erased; in any case the erased email's and name's occurrences in its
    /// strings are replaced. The erasures found, or `None` when it was left unchanged.
    pub fn redact_payload(
        &self,
        payload: &mut Value,
        order_event: bool,
    ) -> Option<BTreeSet<String>> {
        if self.is_empty() {
            return None;
        }
        let mut found = BTreeSet::new();
        self.find_in_json(payload, order_event, &mut found);
        let mut changed = false;
        if !found.is_empty() {
            changed |= erase_json(payload);
        }
        changed |= self.scrub_json(payload, &mut found);
        changed.then_some(found)
    }

    fn find_in_json(&self, value: &Value, order_event: bool, found: &mut BTreeSet<String>) {
        match value {
            Value::Object(map) => {
                if is_address(map) {
                    if let Ok(address) = serde_json::from_value::<Address>(Value::Object(
                        map.iter()
                            .filter(|(_, v)| v.is_string())
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    )) {
                        if let Some(id) = self.address_match(&address) {
                            found.insert(id.clone());
                        }
                    }
                }
                for (key, v) in map {
                    let is_order_key = key == "order_id" || (order_event && key == "id");
                    if let (true, Some(id)) = (is_order_key, v.as_str()) {
                        if let Some(erasure) = self.orders.get(id) {
                            found.insert(erasure.clone());
                        }
                    }
                    self.find_in_json(v, order_event, found);
                }
            }
            Value::Array(items) => items
                .iter()
                .for_each(|v| self.find_in_json(v, order_event, found)),
            Value::String(text) => {
                if let Some(id) = self.text_email_match(text) {
                    found.insert(id.clone());
                }
            }
            _ => {}
        }
    }

    fn scrub_json(&self, value: &mut Value, found: &mut BTreeSet<String>) -> bool {
        match value {
            Value::Object(map) => {
                let mut changed = false;
                for v in map.values_mut() {
                    changed |= self.scrub_json(v, found);
                }
                changed
            }
            Value::Array(items) => {
                let mut changed = false;
                for v in items.iter_mut() {
                    changed |= self.scrub_json(v, found);
                }
                changed
            }
            Value::String(text) => match self.scrub_text(text) {
                Some((scrubbed, ids)) => {
                    *text = scrubbed;
                    found.extend(ids);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }
}

/// Every present field of `address` but `country` becomes [`ERASED`].
pub fn erase_address(address: &mut Address) {
    let Address {
        full_name,
        company,
        address1,
        address2,
        address3,
        city,
        state,
        postal_code,
        country: _,
        phone_number,
        email_address,
    } = address;
    for field in [
        full_name,
        company,
        address1,
        address2,
        address3,
        city,
        state,
        postal_code,
        phone_number,
        email_address,
    ] {
        if field.is_some() {
            *field = Some(ERASED.to_owned());
        }
    }
}

fn is_address(map: &serde_json::Map<String, Value>) -> bool {
    ADDRESS_FIELDS.iter().any(|f| map.contains_key(*f))
}

/// Erases every address and every `notes` in a JSON value; whether anything changed.
fn erase_json(value: &mut Value) -> bool {
    match value {
        Value::Object(map) => {
            let mut changed = false;
            if is_address(map) {
                for field in ADDRESS_FIELDS {
                    if let Some(v) = map.get_mut(field) {
                        if v.is_string() && v.as_str() != Some(ERASED) {
                            *v = Value::String(ERASED.to_owned());
                            changed = true;
                        }
                    }
                }
            }
            for (key, v) in map.iter_mut() {
                if key == "notes" {
                    changed |= erase_strings(v);
                } else {
                    changed |= erase_json(v);
                }
            }
            changed
        }
        Value::Array(items) => {
            let mut changed = false;
            for v in items.iter_mut() {
                changed |= erase_json(v);
            }
            changed
        }
        _ => false,
    }
}

fn erase_strings(value: &mut Value) -> bool {
    match value {
        Value::String(s) if s != ERASED => {
            *s = ERASED.to_owned();
            true
        }
        Value::Array(items) => {
            let mut changed = false;
            for v in items.iter_mut() {
                changed |= erase_strings(v);
            }
            changed
        }
        _ => false,
    }
}

/// The words of `text` as byte spans: runs of non-whitespace with surrounding punctuation
/// trimmed (`(jane@example.com),` → `jane@example.com`).
fn words(text: &str) -> Vec<(usize, usize)> {
    const TRIM: &[char] = &[
        '.', ',', ';', ':', '!', '?', '(', ')', '[', ']', '{', '}', '"', '\'', '<', '>', '`', '*',
        '«', '»', '“', '”', '‘', '’',
    ];
    let mut spans = Vec::new();
    let mut start = None;
    let push = |spans: &mut Vec<(usize, usize)>, s: usize, e: usize| {
        let word = &text[s..e];
        let trimmed_start = word.len() - word.trim_start_matches(TRIM).len();
        let trimmed = word.trim_matches(TRIM);
        if !trimmed.is_empty() {
            spans.push((s + trimmed_start, s + trimmed_start + trimmed.len()));
        }
    };
    for (i, c) in text.char_indices() {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                push(&mut spans, s, i);
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        push(&mut spans, s, text.len());
    }
    spans
}

#[cfg(test)]
mod tests;
