//! The distinct ONNX operator types a model uses, read by a streaming protobuf wire-format walker.
//!
//! The walker reads `ModelProto.graph` (field 7) → `GraphProto.node` (field 1) →
//! `NodeProto.op_type` (field 4), and descends into subgraphs held by node attributes
//! (`AttributeProto.g`, field 6, and `.graphs`, field 11 — the branches of `If`, the bodies of
//! `Loop` and `Scan`). Every other field is skipped by reading and discarding its bytes through a
//! small fixed buffer, so weights (initializers can be gigabytes) are never held in memory, and the
//! input only needs [`Read`], not [`std::io::Seek`]. It does not decode tensors, check the graph or
//! record op domains (`NodeProto.domain`), and does not look into model-local functions
//! (`ModelProto.functions`): a node calling such a function is listed under the function's name.

use std::collections::BTreeSet;
use std::io::{self, BufReader, Read};

use tessera_core::ErrorCode;

/// Deepest nesting of subgraphs accepted (a guard against stack exhaustion on hostile input).
pub const MAX_SUBGRAPH_DEPTH: usize = 32;
/// Longest `op_type` string accepted, in bytes.
pub const MAX_OP_TYPE_LEN: u64 = 1024;

const READ_BUFFER: usize = 64 * 1024;

// Field numbers from onnx.proto.
const MODEL_GRAPH: u32 = 7;
const GRAPH_NODE: u32 = 1;
const NODE_OP_TYPE: u32 = 4;
const NODE_ATTRIBUTE: u32 = 5;
const ATTRIBUTE_G: u32 = 6;
const ATTRIBUTE_GRAPHS: u32 = 11;

// Protobuf wire types.
const WIRE_VARINT: u8 = 0;
const WIRE_FIXED64: u8 = 1;
const WIRE_LEN: u8 = 2;
const WIRE_FIXED32: u8 = 5;

/// A file that is not a readable ONNX model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OnnxError {
    /// The bytes are not a protobuf `ModelProto` with a graph.
    #[error("not a valid ONNX model (at byte {offset}): {detail}")]
    Malformed {
        /// Byte offset where the problem was noticed.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
    /// Reading failed.
    #[error("read failed at byte {offset}: {source}")]
    Read {
        /// Byte offset of the failed read.
        offset: u64,
        /// The underlying error.
        source: io::Error,
    },
}

impl ErrorCode for OnnxError {
    fn code(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "onnx-malformed",
            Self::Read { .. } => "io",
        }
    }
}

/// Reads an ONNX model from `reader` to its end and returns the distinct op types of its graph
/// and all nested subgraphs, sorted.
///
/// Memory use is bounded by a 64 KiB read buffer whatever the model's size. The reader is read
/// to the end (fields after the graph are skipped, not ignored), so a reader that tees the bytes
/// elsewhere sees the whole file.
pub fn op_types(reader: impl Read) -> Result<BTreeSet<String>, OnnxError> {
    let mut walker = Walker {
        reader: BufReader::with_capacity(READ_BUFFER, reader),
        pos: 0,
        ops: BTreeSet::new(),
    };
    let mut saw_graph = false;
    while let Some((field, wire)) = walker.tag(None)? {
        if field == MODEL_GRAPH {
            let end = walker.len_field(wire, None)?;
            walker.graph(end, 0)?;
            saw_graph = true;
        } else {
            walker.skip_value(wire, None)?;
        }
    }
    if !saw_graph {
        return Err(walker.malformed("the model has no graph (ModelProto field 7)"));
    }
    Ok(walker.ops)
}

/// Position-tracking reader over one protobuf stream.
struct Walker<R> {
    reader: R,
    /// Bytes consumed so far.
    pos: u64,
    ops: BTreeSet<String>,
}

impl<R: Read> Walker<R> {
    /// `GraphProto` ending at `end`: collect its nodes.
    fn graph(&mut self, end: u64, depth: usize) -> Result<(), OnnxError> {
        if depth > MAX_SUBGRAPH_DEPTH {
            return Err(self.malformed(&format!("subgraphs nest deeper than {MAX_SUBGRAPH_DEPTH}")));
        }
        while let Some((field, wire)) = self.tag(Some(end))? {
            if field == GRAPH_NODE {
                let node_end = self.len_field(wire, Some(end))?;
                self.node(node_end, depth)?;
            } else {
                self.skip_value(wire, Some(end))?;
            }
        }
        Ok(())
    }

    /// `NodeProto` ending at `end`: its op type, and subgraphs in its attributes.
    fn node(&mut self, end: u64, depth: usize) -> Result<(), OnnxError> {
        while let Some((field, wire)) = self.tag(Some(end))? {
            match field {
                NODE_OP_TYPE => {
                    let str_end = self.len_field(wire, Some(end))?;
                    let op = self.string(str_end - self.pos)?;
                    self.ops.insert(op);
                }
                NODE_ATTRIBUTE => {
                    let attr_end = self.len_field(wire, Some(end))?;
                    self.attribute(attr_end, depth)?;
                }
                _ => self.skip_value(wire, Some(end))?,
            }
        }
        Ok(())
    }

    /// `AttributeProto` ending at `end`: descend into `g` and `graphs`.
    fn attribute(&mut self, end: u64, depth: usize) -> Result<(), OnnxError> {
        while let Some((field, wire)) = self.tag(Some(end))? {
            if field == ATTRIBUTE_G || field == ATTRIBUTE_GRAPHS {
                let graph_end = self.len_field(wire, Some(end))?;
                self.graph(graph_end, depth + 1)?;
            } else {
                self.skip_value(wire, Some(end))?;
            }
        }
        Ok(())
    }

    /// The next field's (number, wire type), or `None` at the end of the message: at `end`, or at
    /// a clean end of input for the top-level message (`end == None`).
    fn tag(&mut self, end: Option<u64>) -> Result<Option<(u32, u8)>, OnnxError> {
        match end {
            Some(end) if self.pos == end => return Ok(None),
            Some(end) if self.pos > end => {
                return Err(self.malformed("a field runs past the end of its message"));
            }
            _ => {}
        }
        let key = match self.byte()? {
            None if end.is_none() => return Ok(None),
            None => return Err(self.malformed("input ends inside a message")),
            Some(first) => self.varint_from(first)?,
        };
        let field = key >> 3;
        if field == 0 || field > (1 << 29) - 1 {
            return Err(self.malformed(&format!("invalid field number {field}")));
        }
        // Both casts are lossless: checked range above, and a 3-bit mask.
        Ok(Some((field as u32, (key & 7) as u8)))
    }

    /// Reads a length prefix for a length-delimited field and returns where the field ends.
    fn len_field(&mut self, wire: u8, parent_end: Option<u64>) -> Result<u64, OnnxError> {
        if wire != WIRE_LEN {
            return Err(self.malformed(&format!(
                "expected a length-delimited field, found wire type {wire}"
            )));
        }
        let len = self.varint()?;
        let end = self
            .pos
            .checked_add(len)
            .ok_or_else(|| self.malformed("field length overflows"))?;
        if parent_end.is_some_and(|parent| end > parent) {
            return Err(self.malformed("a field runs past the end of its message"));
        }
        Ok(end)
    }

    /// Skips one field value of the given wire type without keeping its bytes.
    fn skip_value(&mut self, wire: u8, parent_end: Option<u64>) -> Result<(), OnnxError> {
        match wire {
            WIRE_VARINT => self.varint().map(drop),
            WIRE_FIXED64 => self.skip(8),
            WIRE_FIXED32 => self.skip(4),
            WIRE_LEN => {
                let end = self.len_field(wire, parent_end)?;
                self.skip(end - self.pos)
            }
            other => Err(self.malformed(&format!("unsupported wire type {other}"))),
        }
    }

    fn skip(&mut self, n: u64) -> Result<(), OnnxError> {
        let copied =
            io::copy(&mut (&mut self.reader).take(n), &mut io::sink()).map_err(|source| {
                OnnxError::Read {
                    offset: self.pos,
                    source,
                }
            })?;
        self.pos += copied;
        if copied < n {
            return Err(self.malformed("input ends inside a field"));
        }
        Ok(())
    }

    fn string(&mut self, len: u64) -> Result<String, OnnxError> {
        if len > MAX_OP_TYPE_LEN {
            return Err(self.malformed(&format!(
                "op_type is {len} bytes long (limit {MAX_OP_TYPE_LEN})"
            )));
        }
        let mut bytes = Vec::new();
        let read = (&mut self.reader)
            .take(len)
            .read_to_end(&mut bytes)
            .map_err(|source| OnnxError::Read {
                offset: self.pos,
                source,
            })?;
        self.pos += read as u64;
        if (read as u64) < len {
            return Err(self.malformed("input ends inside a field"));
        }
        String::from_utf8(bytes).map_err(|_| self.malformed("op_type is not UTF-8"))
    }

    fn varint(&mut self) -> Result<u64, OnnxError> {
        match self.byte()? {
            Some(first) => self.varint_from(first),
            None => Err(self.malformed("input ends inside a varint")),
        }
    }

    /// Finishes a base-128 varint whose first byte was already read.
    fn varint_from(&mut self, first: u8) -> Result<u64, OnnxError> {
        let mut value = u64::from(first & 0x7f);
        let mut byte = first;
        let mut shift = 7;
        while byte & 0x80 != 0 {
            if shift > 63 {
                return Err(self.malformed("varint longer than 10 bytes"));
            }
            byte = self
                .byte()?
                .ok_or_else(|| self.malformed("input ends inside a varint"))?;
            value |= u64::from(byte & 0x7f) << shift;
            shift += 7;
        }
        Ok(value)
    }

    fn byte(&mut self) -> Result<Option<u8>, OnnxError> {
        let mut one = [0u8; 1];
        loop {
            match self.reader.read(&mut one) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    self.pos += 1;
                    return Ok(Some(one[0]));
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(OnnxError::Read {
                        offset: self.pos,
                        source,
                    })
                }
            }
        }
    }

    fn malformed(&self, detail: &str) -> OnnxError {
        OnnxError::Malformed {
            offset: self.pos,
            detail: detail.to_owned(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub(crate) mod tests {
    use super::*;

    /// `tests/fixtures/tiny.onnx` (made by `make_tiny_onnx.py`).
    pub(crate) const TINY: &[u8] = include_bytes!("../tests/fixtures/tiny.onnx");
    /// The op types of [`TINY`], graph and nested subgraphs, sorted: the list
    /// `make_tiny_onnx.py` prints (computed there with the onnx package).
    pub(crate) const TINY_OPS: [&str; 9] = [
        "Abs",
        "Add",
        "Greater",
        "If",
        "MatMul",
        "Neg",
        "ReduceSum",
        "Relu",
        "Sigmoid",
    ];

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return out;
            }
            out.push(byte | 0x80);
        }
    }

    fn len_field(field: u32, body: &[u8]) -> Vec<u8> {
        let mut out = varint(u64::from(field) << 3 | 2);
        out.extend(varint(body.len() as u64));
        out.extend_from_slice(body);
        out
    }

    fn node(op: &str) -> Vec<u8> {
        len_field(GRAPH_NODE, &len_field(NODE_OP_TYPE, op.as_bytes()))
    }

    #[test]
    fn lists_ops_of_the_graph_and_nested_subgraphs_of_the_fixture() {
        let ops: Vec<String> = op_types(TINY).unwrap().into_iter().collect();
        assert_eq!(ops, TINY_OPS);
    }

    #[test]
    fn reads_the_whole_input_so_a_tee_sees_every_byte() {
        struct Counting<'a>(&'a [u8], usize);
        impl Read for Counting<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.0.read(buf)?;
                self.1 += n;
                Ok(n)
            }
        }
        let mut reader = Counting(TINY, 0);
        op_types(&mut reader).unwrap();
        assert_eq!(reader.1, TINY.len());
    }

    #[test]
    fn skips_a_huge_initializer_without_holding_it() {
        // ModelProto { graph: GraphProto { initializer (field 5): <256 MiB>, node: Relu } }, where the
        // initializer bytes come from a generator: nothing of this size exists in memory.
        const HUGE: u64 = 256 << 20;
        let relu = node("Relu");
        let mut graph_head = varint(5 << 3 | 2);
        graph_head.extend(varint(HUGE));
        let graph_len = graph_head.len() as u64 + HUGE + relu.len() as u64;
        let mut model_head = varint(u64::from(MODEL_GRAPH) << 3 | 2);
        model_head.extend(varint(graph_len));
        model_head.extend(graph_head);
        let reader = io::Cursor::new(model_head)
            .chain(io::repeat(0xAB).take(HUGE))
            .chain(io::Cursor::new(relu));
        let ops = op_types(reader).unwrap();
        assert_eq!(ops.into_iter().collect::<Vec<_>>(), ["Relu"]);
    }

    #[test]
    fn rejects_inputs_that_are_not_models() {
        let graph_with_node = len_field(MODEL_GRAPH, &node("Relu"));
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty file", vec![]),
            ("no graph", len_field(1, b"producer")),
            ("truncated fixture", TINY[..TINY.len() - 10].to_vec()),
            ("text", b"this is not protobuf at all, just words".to_vec()),
            ("field zero", vec![0x00, 0x01]),
            ("group wire type", vec![0x0b]),
            ("child longer than parent", {
                let mut v = varint(u64::from(MODEL_GRAPH) << 3 | 2);
                v.extend(varint(2));
                v.extend(node("Relu"));
                v
            }),
            (
                "op_type as varint",
                len_field(MODEL_GRAPH, &len_field(GRAPH_NODE, &[0x20, 0x01])),
            ),
            (
                "non-utf8 op_type",
                len_field(
                    MODEL_GRAPH,
                    &len_field(GRAPH_NODE, &len_field(NODE_OP_TYPE, &[0xff, 0xfe])),
                ),
            ),
            (
                "runaway varint",
                [graph_with_node.clone(), vec![0x80; 11]].concat(),
            ),
        ];
        for (what, bytes) in cases {
            let err = op_types(bytes.as_slice()).expect_err(what);
            assert_eq!(err.code(), "onnx-malformed", "{what}: {err}");
        }
    }

    #[test]
    fn rejects_subgraphs_nested_beyond_the_limit() {
        // graph { node { attribute { g: graph { node { attribute { g: … } } } } } }
        let mut graph = node("Relu");
        for _ in 0..=MAX_SUBGRAPH_DEPTH {
            graph = len_field(
                GRAPH_NODE,
                &len_field(NODE_ATTRIBUTE, &len_field(ATTRIBUTE_G, &graph)),
            );
        }
        let model = len_field(MODEL_GRAPH, &graph);
        let err = op_types(model.as_slice()).unwrap_err();
        assert_eq!(err.code(), "onnx-malformed");
        assert!(err.to_string().contains("deeper"), "{err}");
    }

    #[test]
    fn a_read_error_is_reported_as_io() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("disk on fire"))
            }
        }
        assert_eq!(op_types(Failing).unwrap_err().code(), "io");
    }
}
