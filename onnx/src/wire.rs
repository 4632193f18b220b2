//! A bounds check of an ONNX model's protobuf wire format, run before protobuf 2.28 parses it:
//! every length-delimited field (strings, bytes, packed numbers, sub-messages) must fit inside the
//! message that holds it, recursing into the sub-message fields of the ONNX schema. protobuf 2.28
//! reserves room for a packed repeated field from its declared length *before* checking that
//! length against the input (a few hundred bytes declaring a 33 GB `double_data` aborted the
//! process: found by the `onnx_signature` fuzz target); after this check no declared length
//! exceeds the input, so such a reservation is at most a small multiple of the model's size.
//! It validates nothing else: field types and values are the parser's business.

/// The ONNX messages whose sub-message fields the check walks into. `Leaf` stands for a message
/// whose fields are only scalars and strings (bounds-checked, nothing below them to walk).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Msg {
    Model,
    Graph,
    Node,
    Attribute,
    Tensor,
    SparseTensor,
    ValueInfo,
    Type,
    TypeTensor,
    TensorShape,
    TypeSequence,
    TypeMap,
    Training,
    Function,
    Leaf,
}

/// Deepest nesting walked (graphs inside attributes inside graphs…): deeper is refused.
const MAX_DEPTH: u32 = 64;

/// The message type of field `field` of `msg`, when it is a sub-message (onnx.proto numbers).
fn child(msg: Msg, field: u64) -> Option<Msg> {
    use Msg::*;
    Some(match (msg, field) {
        (Model, 7) => Graph,
        (Model, 8 | 14) => Leaf,
        (Model, 20) => Training,
        (Model, 25) => Function,
        (Graph, 1) => Node,
        (Graph, 5) => Tensor,
        (Graph, 15) => SparseTensor,
        (Graph, 11..=13) => ValueInfo,
        (Graph, 14 | 16) => Leaf,
        (Node, 5) => Attribute,
        (Node, 9) => Leaf,
        (Attribute, 5 | 10) => Tensor,
        (Attribute, 6 | 11) => Graph,
        (Attribute, 22 | 23) => SparseTensor,
        (Attribute, 14 | 15) => Type,
        (ValueInfo, 2) => Type,
        (ValueInfo, 4) => Leaf,
        (Tensor, 3 | 13 | 16) => Leaf,
        (SparseTensor, 1 | 2) => Tensor,
        (Type, 1 | 8) => TypeTensor,
        (Type, 4 | 9) => TypeSequence,
        (Type, 5) => TypeMap,
        (TypeTensor, 2) => TensorShape,
        (TensorShape, 1) => Leaf,
        (TypeSequence, 1) | (TypeMap, 2) => Type,
        (Training, 1 | 2) => Graph,
        (Training, 3 | 4) => Leaf,
        (Function, 7) => Node,
        (Function, 11) => Attribute,
        (Function, 12) => ValueInfo,
        (Function, 9 | 14) => Leaf,
        _ => return None,
    })
}

fn varint(bytes: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint longer than 10 bytes".into())
}

/// Moves `pos` past `n` bytes of `bytes`, or says the field does not fit.
fn skip(bytes: &[u8], pos: &mut usize, n: u64, field: u64) -> Result<usize, String> {
    let left = bytes.len() - *pos;
    match usize::try_from(n) {
        Ok(n) if n <= left => {
            *pos += n;
            Ok(n)
        }
        _ => Err(format!(
            "field {field} declares {n} bytes where {left} are left in its message"
        )),
    }
}

fn check_message(bytes: &[u8], msg: Msg, depth: u32) -> Result<(), String> {
    if depth > MAX_DEPTH {
        return Err(format!("messages nested deeper than {MAX_DEPTH}"));
    }
    let mut pos = 0;
    while pos < bytes.len() {
        // As protobuf 2.28 reads a tag (`read_raw_varint32`): a longer varint keeps its low 32
        // bits, so a 10-byte tag can name field 7 (found by fuzzing: the walk must see the field
        // the parser will).
        let key = varint(bytes, &mut pos)? & 0xffff_ffff;
        let field = key >> 3;
        match key & 7 {
            0 => drop(varint(bytes, &mut pos)?),
            1 => drop(skip(bytes, &mut pos, 8, field)?),
            5 => drop(skip(bytes, &mut pos, 4, field)?),
            2 => {
                let len = varint(bytes, &mut pos)?;
                let start = pos;
                skip(bytes, &mut pos, len, field)?;
                if let Some(sub) = child(msg, field) {
                    check_message(&bytes[start..pos], sub, depth + 1)?;
                }
            }
            wire => {
                return Err(format!(
                    "field {field} has wire type {wire}, unused by ONNX"
                ))
            }
        }
    }
    Ok(())
}

/// Checks that every length the wire format of the `ModelProto` in `bytes` declares fits in the
/// message holding it; the reason otherwise.
pub fn check_model(bytes: &[u8]) -> Result<(), String> {
    check_message(bytes, Msg::Model, 0)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// `field` as a length-delimited field holding `body`.
    fn delimited(field: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![(field << 3) | 2];
        let mut len = body.len();
        while len >= 0x80 {
            out.push(u8::try_from(len & 0x7f).unwrap() | 0x80);
            len >>= 7;
        }
        out.push(u8::try_from(len).unwrap());
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn lengths_that_fit_pass_at_every_level() {
        // graph { initializer { double_data: 2 doubles } }
        let tensor = delimited(10, &[0; 16]);
        let graph = delimited(5, &tensor);
        assert_eq!(check_model(&delimited(7, &graph)), Ok(()));
        assert_eq!(check_model(&[]), Ok(()));
    }

    #[test]
    fn a_packed_field_longer_than_its_tensor_is_refused() {
        // The tensor's own length is right; its double_data declares 2^35 bytes.
        let tensor = [0x52, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0];
        let graph = delimited(5, &tensor);
        let err = check_model(&delimited(7, &graph)).unwrap_err();
        assert!(err.contains("field 10 declares 34359738368 bytes"), "{err}");
    }

    #[test]
    fn a_tag_longer_than_32_bits_is_read_as_the_parser_reads_it() {
        // Field 7 (graph), wire type 2, written as an 8-byte varint with junk above bit 32.
        let mut model = vec![0xba, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x3a];
        // graph { initializer { double_data declaring 2^35 bytes } }
        let tensor = [0x52, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0, 0];
        let graph = delimited(5, &tensor);
        model.push(u8::try_from(graph.len()).unwrap());
        model.extend_from_slice(&graph);
        let err = check_model(&model).unwrap_err();
        assert!(err.contains("field 10 declares"), "{err}");
    }

    #[test]
    fn truncated_and_odd_wire_data_is_refused() {
        assert!(check_model(&[0x08]).is_err(), "a varint cut short");
        assert!(check_model(&[0x09, 1, 2]).is_err(), "a fixed64 cut short");
        assert!(check_model(&[0x0b]).is_err(), "a group");
        let mut deep = vec![];
        for _ in 0..70 {
            // attribute.g → graph.node → node.attribute … nested past the limit.
            deep = delimited(1, &delimited(5, &delimited(6, &deep)));
        }
        let err = check_model(&delimited(7, &deep)).unwrap_err();
        assert!(err.contains("nested deeper"), "{err}");
    }
}
