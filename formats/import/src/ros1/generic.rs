//! Any ROS 1 message type translated to ROS 2 from its own definition (the
//! `message_definition` every ROS 1 bag stores per connection), as
//! `rosbags-convert` does: field by field from the ROS 1 wire encoding into
//! CDR, with `time`/`duration` as `builtin_interfaces` types, `Header`
//! without ROS 1's `seq`, and a `ros2msg` schema written to match. So types
//! reel has never seen still reach ROS 2 tools whole.
//!
//! Written by hand (no crate translates ROS 1 to CDR); every count is checked
//! against the bytes left, recursion is bounded, and a definition that names
//! a type it does not define is refused before any message is read.

use std::collections::HashMap;

use reel_episode::ros2::CdrWriter;

use super::translate::Reader as Ros1;

/// A primitive's wire size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Prim(usize);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Prim(Prim),
    String,
    /// `time` (u32 sec, u32 nsec) or `duration` (i32, i32): 8 bytes, written as sec + nanosec.
    Time,
    /// ROS 1's std_msgs/Header: seq (dropped), stamp, frame_id.
    Header,
    Msg(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    kind: Kind,
    /// None: a scalar; Some(None): `T[]`; Some(Some(n)): `T[n]`.
    array: Option<Option<usize>>,
}

/// A ROS 1 type and every type it uses, parsed from its definition.
#[derive(Debug, Clone)]
pub struct Definition {
    root: String,
    types: HashMap<String, Vec<Field>>,
    /// ROS 2 schema text (own definition, then dependencies).
    schema: String,
}

const MAX_DEPTH: usize = 32;

fn primitive(t: &str) -> Option<Kind> {
    Some(match t {
        "bool" | "int8" | "uint8" | "byte" | "char" => Kind::Prim(Prim(1)),
        "int16" | "uint16" => Kind::Prim(Prim(2)),
        "int32" | "uint32" | "float32" => Kind::Prim(Prim(4)),
        "int64" | "uint64" | "float64" => Kind::Prim(Prim(8)),
        "string" => Kind::String,
        "time" | "duration" => Kind::Time,
        _ => return None,
    })
}

/// `pkg/Type` of a field type written in package `pkg`.
fn resolve(t: &str, pkg: &str) -> String {
    match t {
        "Header" | "std_msgs/Header" => "std_msgs/Header".into(),
        t if t.contains('/') => t.into(),
        t => format!("{pkg}/{t}"),
    }
}

/// (type, name) of a field line, or None for blanks, comments and constants.
fn field_line(line: &str) -> Option<(&str, &str)> {
    let code = line.split('#').next().unwrap_or("").trim();
    if code.is_empty() {
        return None;
    }
    let mut parts = code.split_whitespace();
    let (t, name) = (parts.next()?, parts.next()?);
    // `int32 X=1`: a constant, no wire data.
    if name.contains('=') || code.contains('=') {
        return None;
    }
    Some((t, name))
}

/// ROS 2 spelling of a ROS 1 field type.
fn ros2_type(t: &str) -> String {
    let (base, suffix) = t.find('[').map_or((t, ""), |i| (&t[..i], &t[i..]));
    let base = match base {
        "time" => "builtin_interfaces/Time",
        "duration" => "builtin_interfaces/Duration",
        "Header" => "std_msgs/Header",
        other => other,
    };
    format!("{base}{suffix}")
}

const TIME_DEF: &str = "int32 sec\nuint32 nanosec\n";
const HEADER_DEF: &str = "builtin_interfaces/Time stamp\nstring frame_id\n";

impl Definition {
    /// Parses the definition of ROS 1 type `root` (`pkg/Type`).
    pub fn parse(root: &str, text: &str) -> Result<Self, String> {
        let root_pkg = root.split('/').next().unwrap_or("");
        let mut sections: Vec<(String, Vec<&str>)> = vec![(root.to_string(), Vec::new())];
        let mut lines = text.lines().peekable();
        while let Some(line) = lines.next() {
            if line.len() >= 3 && line.chars().all(|c| c == '=') {
                let next = lines.next().unwrap_or("");
                let name = next
                    .trim()
                    .strip_prefix("MSG:")
                    .map(str::trim)
                    .ok_or_else(|| format!("a section without `MSG:` ({next:?})"))?;
                sections.push((name.to_string(), Vec::new()));
            } else if let Some(last) = sections.last_mut() {
                last.1.push(line);
            }
        }
        let mut types = HashMap::new();
        let mut schema = String::new();
        let mut uses_time = false;
        for (n, (name, body)) in sections.iter().enumerate() {
            let pkg = name.split('/').next().unwrap_or(root_pkg);
            let mut fields = Vec::new();
            let mut text = String::new();
            for line in body {
                if let Some((t, _)) = field_line(line) {
                    let (base, array) = match t.find('[') {
                        Some(i) => {
                            let inside = t[i + 1..].trim_end_matches(']');
                            let n = if inside.is_empty() {
                                None
                            } else {
                                Some(
                                    inside
                                        .parse::<usize>()
                                        .map_err(|_| format!("array size {inside:?}"))?,
                                )
                            };
                            (&t[..i], Some(n))
                        }
                        None => (t, None),
                    };
                    let kind = match primitive(base) {
                        Some(k) => k,
                        None if resolve(base, pkg) == "std_msgs/Header" => Kind::Header,
                        None => Kind::Msg(resolve(base, pkg)),
                    };
                    uses_time |= matches!(kind, Kind::Time | Kind::Header);
                    fields.push(Field { kind, array });
                }
                // The ROS 2 schema keeps the line, with ROS 2 type names.
                let code = line.split('#').next().unwrap_or("");
                match code.split_whitespace().next() {
                    Some(t) if !code.trim().is_empty() => {
                        let rest = code.trim_start()[t.len()..].to_string();
                        text.push_str(&ros2_type(t));
                        text.push_str(&rest);
                        text.push('\n');
                    }
                    _ => {}
                }
            }
            if name == "std_msgs/Header" {
                continue;
            }
            if n > 0 {
                schema.push_str(&format!("{}\nMSG: {name}\n", "=".repeat(80)));
            }
            schema.push_str(&text);
            types.insert(name.clone(), fields);
        }
        let header_used = types.values().flatten().any(|f| f.kind == Kind::Header);
        if header_used {
            schema.push_str(&format!(
                "{}\nMSG: std_msgs/Header\n{HEADER_DEF}",
                "=".repeat(80)
            ));
        }
        if uses_time {
            schema.push_str(&format!(
                "{}\nMSG: builtin_interfaces/Time\n{TIME_DEF}",
                "=".repeat(80)
            ));
            schema.push_str(&format!(
                "{}\nMSG: builtin_interfaces/Duration\n{TIME_DEF}",
                "=".repeat(80)
            ));
        }
        let def = Self {
            root: root.to_string(),
            types,
            schema,
        };
        for fields in def.types.values() {
            for f in fields {
                if let Kind::Msg(t) = &f.kind {
                    if !def.types.contains_key(t) {
                        return Err(format!("the definition uses {t} but does not define it"));
                    }
                }
            }
        }
        def.min_size(root, 0)?;
        Ok(def)
    }

    /// The ROS 2 type name (`pkg/msg/Type`).
    pub fn ros2_name(&self) -> String {
        let (pkg, name) = self.root.split_once('/').unwrap_or(("", &self.root));
        format!("{pkg}/msg/{}", name.rsplit('/').next().unwrap_or(name))
    }

    /// The `ros2msg` schema text.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// Fewest wire bytes a value of type `t` takes (bounds array counts).
    fn min_size(&self, t: &str, depth: usize) -> Result<usize, String> {
        if depth > MAX_DEPTH {
            return Err(format!(
                "{t} nests deeper than {MAX_DEPTH} levels (a cycle?)"
            ));
        }
        let fields = self
            .types
            .get(t)
            .ok_or_else(|| format!("{t} is not defined"))?;
        let mut n = 0usize;
        for f in fields {
            let one = self.kind_min(&f.kind, depth)?;
            n = n.saturating_add(match f.array {
                None => one,
                Some(None) => 4,
                Some(Some(k)) => one.saturating_mul(k),
            });
        }
        Ok(n)
    }

    fn kind_min(&self, k: &Kind, depth: usize) -> Result<usize, String> {
        Ok(match k {
            Kind::Prim(Prim(s)) => *s,
            Kind::String => 4,
            Kind::Time => 8,
            Kind::Header => 16,
            Kind::Msg(t) => self.min_size(t, depth + 1)?,
        })
    }

    /// `data` (ROS 1 encoding) as CDR into `out`.
    pub fn to_cdr(&self, data: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        out.clear();
        let mut r = Ros1::new(data);
        let mut w = CdrWriter::new(out);
        self.message(&self.root, &mut r, &mut w, 0)?;
        if r.left() != 0 {
            return Err(format!(
                "{} bytes left over: the message is not its connection's type",
                r.left()
            ));
        }
        Ok(())
    }

    fn message(
        &self,
        t: &str,
        r: &mut Ros1<'_>,
        w: &mut CdrWriter<'_>,
        depth: usize,
    ) -> Result<(), String> {
        if depth > MAX_DEPTH {
            return Err("nesting too deep".into());
        }
        let fields = self
            .types
            .get(t)
            .ok_or_else(|| format!("{t} is not defined"))?;
        for f in fields {
            match f.array {
                None => self.value(&f.kind, r, w, depth)?,
                Some(fixed) => {
                    let n = match fixed {
                        Some(n) => n,
                        None => {
                            let n = r.u32()? as usize;
                            let min = self.kind_min(&f.kind, depth)?.max(1);
                            if n.saturating_mul(min) > r.left() {
                                return Err(format!(
                                    "an array of {n} elements in {} bytes",
                                    r.left()
                                ));
                            }
                            w.len(n);
                            n
                        }
                    };
                    if let Kind::Prim(Prim(1)) = f.kind {
                        w.u8_array(r.take(n)?);
                    } else {
                        for _ in 0..n {
                            self.value(&f.kind, r, w, depth)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn value(
        &self,
        k: &Kind,
        r: &mut Ros1<'_>,
        w: &mut CdrWriter<'_>,
        depth: usize,
    ) -> Result<(), String> {
        match k {
            Kind::Prim(Prim(n)) => w.primitive(r.take(*n)?),
            Kind::String => {
                let n = r.u32()? as usize;
                let s = r.take(n)?;
                w.len(n + 1);
                w.u8_array(s);
                w.u8(0);
            }
            Kind::Time => {
                w.primitive(r.take(4)?);
                w.primitive(r.take(4)?);
            }
            Kind::Header => {
                r.take(4)?; // seq
                w.primitive(r.take(4)?);
                w.primitive(r.take(4)?);
                self.value(&Kind::String, r, w, depth)?;
            }
            Kind::Msg(t) => self.message(t, r, w, depth + 1)?,
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_custom_type_becomes_cdr_without_seq() {
        let def = Definition::parse(
            "my_msgs/Grip",
            "Header header\nfloat64 opening # m\nstring state\nuint8 OPEN=1\nmy_msgs/Part[] parts\n================================================================================\nMSG: std_msgs/Header\nuint32 seq\ntime stamp\nstring frame_id\n================================================================================\nMSG: my_msgs/Part\nint16 id\n",
        )
        .unwrap();
        assert_eq!(def.ros2_name(), "my_msgs/msg/Grip");
        assert!(def.schema().starts_with("std_msgs/Header header\nfloat64 opening \nstring state\nuint8 OPEN=1\nmy_msgs/Part[] parts\n"), "{}", def.schema());
        assert!(def
            .schema()
            .contains("MSG: builtin_interfaces/Time\nint32 sec"));
        let mut ros1 = Vec::new();
        ros1.extend_from_slice(&7u32.to_le_bytes()); // seq
        ros1.extend_from_slice(&5u32.to_le_bytes());
        ros1.extend_from_slice(&9u32.to_le_bytes());
        ros1.extend_from_slice(&1u32.to_le_bytes());
        ros1.push(b'f');
        ros1.extend_from_slice(&0.5f64.to_le_bytes());
        ros1.extend_from_slice(&2u32.to_le_bytes());
        ros1.extend_from_slice(b"ok");
        ros1.extend_from_slice(&1u32.to_le_bytes());
        ros1.extend_from_slice(&3i16.to_le_bytes());
        let mut cdr = Vec::new();
        def.to_cdr(&ros1, &mut cdr).unwrap();
        let mut want = vec![0, 1, 0, 0];
        want.extend_from_slice(&5i32.to_le_bytes());
        want.extend_from_slice(&9u32.to_le_bytes());
        want.extend_from_slice(&2u32.to_le_bytes());
        want.extend_from_slice(b"f\0");
        want.extend_from_slice(&[0; 2]); // align 8 (offset 14 after the header)
        want.extend_from_slice(&0.5f64.to_le_bytes());
        want.extend_from_slice(&3u32.to_le_bytes());
        want.extend_from_slice(b"ok\0");
        want.push(0); // align 4
        want.extend_from_slice(&1u32.to_le_bytes());
        want.extend_from_slice(&3i16.to_le_bytes());
        assert_eq!(cdr, want);
        // A count larger than the bytes left is refused, not allocated.
        let mut bad = ros1.clone();
        let at = bad.len() - 6;
        bad[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(def.to_cdr(&bad, &mut cdr).is_err());
    }

    #[test]
    fn undefined_or_cyclic_types_are_refused() {
        assert!(Definition::parse("a/B", "a/C c\n")
            .unwrap_err()
            .contains("a/C"));
        let cyc = format!("a/B b\n{}\nMSG: a/B\na/B b\n", "=".repeat(80));
        assert!(Definition::parse("a/B", &cyc).is_err());
    }
}
