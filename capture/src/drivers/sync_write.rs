//! The Sync Write parameter layout that Dynamixel 2.0 and Feetech share after
//! their (protocol-specific) address and length: N × [ID, `length` data bytes].

/// Splits `entries` into (ID, data) pairs of `length` data bytes each; `None`
/// when the bytes do not form at least one whole entry.
pub(crate) fn split(entries: &[u8], length: usize) -> Option<Vec<(u8, Vec<u8>)>> {
    let entry = 1 + length;
    if length == 0 || entries.is_empty() || !entries.len().is_multiple_of(entry) {
        return None;
    }
    Some(
        entries
            .chunks(entry)
            .map(|c| (c[0], c[1..].to_vec()))
            .collect(),
    )
}

/// Appends (ID, data) pairs in the wire layout.
pub(crate) fn join(out: &mut Vec<u8>, writes: &[(u8, Vec<u8>)]) {
    for (id, data) in writes {
        out.push(*id);
        out.extend_from_slice(data);
    }
}
