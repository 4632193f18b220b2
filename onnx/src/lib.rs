//! An ONNX model's signature, read with wonnx's generated protobuf types: the inputs a caller
//! must feed (dtype and static shape, as `tessera_core::infer::TensorSpec`), the outputs with
//! their declared shapes, and the byte size of the largest initializer (what a WebGPU storage
//! buffer must hold). Shared by the edge (native) and the browser runtime (wasm) so both accept
//! exactly the same models. A graph whose weights live in external data files (ONNX
//! `data_location = EXTERNAL`, e.g. `model.onnx` + `model.onnx_data`) is read too, and
//! [`ModelSignature::external_files`] names the files it needs: the engines behind [`engine`]
//! build sessions from one buffer, so callers make it self-contained with [`external`] first. It
//! builds no session and runs nothing; [`engine`] is the seam engines that do implement.

pub mod engine;
pub mod external;
#[cfg(feature = "tract")]
pub mod tract;
mod wire;
pub mod wonnx_io;

use std::collections::{BTreeSet, HashSet};

use protobuf::Message as _;
use tessera_core::infer::TensorSpec;
use tessera_core::manifest::DType;
use tessera_core::ErrorCode;
use wonnx::onnx::{ModelProto, ValueInfoProto};

/// ONNX `TensorProto.DataType` values tessera's dtypes map to.
const ONNX_FLOAT: i32 = 1;
const ONNX_INT32: i32 = 6;
const ONNX_INT64: i32 = 7;

/// A model's declared inputs and outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSignature {
    /// Inputs the caller must give (graph inputs that are not initializers).
    pub inputs: Vec<TensorSpec>,
    /// Outputs, with their static shape when the graph declares one.
    pub outputs: Vec<OutputSpec>,
    /// Bytes of the largest initializer (weights tensor).
    pub largest_initializer_bytes: u64,
    /// The external data files (ONNX `location`s, relative to the graph) its tensors live in,
    /// sorted, unique; empty for a self-contained graph. Engines need the graph made
    /// self-contained first ([`external::plan`], [`external::inline`]).
    pub external_files: Vec<String>,
}

/// One declared output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputSpec {
    /// The graph's name for it.
    pub name: String,
    /// Its static shape, if declared.
    pub shape: Option<Vec<u64>>,
}

/// A model whose signature tessera cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The bytes are not an ONNX model.
    #[error("not a valid ONNX model: {0}")]
    Malformed(String),
    /// An input or output tessera cannot feed or read.
    #[error("{0}")]
    Unsupported(String),
    /// An external tensor's `location` is not a plain relative path (absolute, `..`, `.`, a
    /// backslash or drive letter, empty): it could name a file outside the model.
    #[error("tensor {tensor:?} names external data at {location:?}, which is not a relative path inside the model")]
    ExternalPath {
        /// The tensor.
        tensor: String,
        /// Its `location`.
        location: String,
    },
    /// An external tensor's `location` is not a file of the model (beside the graph).
    #[error("tensor {tensor:?} keeps its data in {location:?}, which is not a file of this model")]
    ExternalMissing {
        /// The tensor.
        tensor: String,
        /// Its `location`.
        location: String,
    },
    /// An external tensor's bytes lie (partly) outside its file.
    #[error("tensor {tensor:?} reads {length} bytes at offset {offset} of {location:?}, a file of {file_size} bytes")]
    ExternalRange {
        /// The tensor.
        tensor: String,
        /// Its `location`.
        location: String,
        /// Where its bytes start.
        offset: u64,
        /// How many it needs.
        length: u64,
        /// The file's size.
        file_size: u64,
    },
    /// An external tensor's declared `length` is not its dims × element size.
    #[error("tensor {tensor:?} declares {declared} bytes of external data where its dims and type call for {expected}")]
    ExternalLength {
        /// The tensor.
        tensor: String,
        /// Its `length` entry.
        declared: u64,
        /// Dims × element size.
        expected: u64,
    },
    /// The self-contained form of the model would exceed ONNX's 2 GiB protobuf limit.
    #[error("the model inlined would take {needed} bytes, above ONNX's protobuf limit of {limit} bytes; such a model must stay multi-file (onnxruntime-web's externalData option loads it)")]
    TooLarge {
        /// The inlined model's size (an upper bound).
        needed: u64,
        /// [`external::PROTOBUF_LIMIT`].
        limit: u64,
    },
}

impl ErrorCode for SignatureError {
    fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "onnx-malformed",
            Self::Unsupported(_) => "onnx-unsupported",
            Self::ExternalPath { .. } => "onnx-external-path",
            Self::ExternalMissing { .. } => "onnx-external-missing",
            Self::ExternalRange { .. } => "onnx-external-range",
            Self::ExternalLength { .. } => "onnx-external-length",
            Self::TooLarge { .. } => "onnx-too-large",
        }
    }
}

/// Parses `bytes` as a `ModelProto` with the input's length as the outermost limit. Without it,
/// protobuf 2.28 trusts a packed field's declared length and reserves room for it before reading
/// (a 200-byte model declaring ~1.4 PB of floats aborted the process: found by the
/// `onnx_signature` fuzz target); with it, a nested message longer than the input is a parse
/// error. A packed field longer than the message around it is refused before parsing by
/// [`wire::check_model`] (protobuf reserves for it before checking its length).
fn parse_model(bytes: &[u8]) -> Result<ModelProto, String> {
    wire::check_model(bytes)?;
    let parse = || -> protobuf::ProtobufResult<ModelProto> {
        let mut input = protobuf::CodedInputStream::from_bytes(bytes);
        input.push_limit(bytes.len() as u64)?;
        let mut proto = ModelProto::new();
        proto.merge_from(&mut input)?;
        input.check_eof()?;
        proto.check_initialized()?;
        Ok(proto)
    };
    parse().map_err(|e| e.to_string())
}

/// Reads a model's signature from its ONNX bytes.
pub fn inspect(bytes: &[u8]) -> Result<ModelSignature, SignatureError> {
    let mut proto = parse_model(bytes).map_err(SignatureError::Malformed)?;
    let external_files: BTreeSet<String> = external::collect(&mut proto)?
        .into_iter()
        .map(|r| r.location)
        .collect();
    let graph = proto.get_graph();
    let initializers: HashSet<&str> = graph
        .get_initializer()
        .iter()
        .map(|t| t.get_name())
        .collect();
    let largest_initializer_bytes = graph
        .get_initializer()
        .iter()
        .map(|t| {
            let width: u64 = if t.get_data_type() == ONNX_INT64 {
                8
            } else {
                4
            };
            t.get_dims()
                .iter()
                .map(|d| u64::try_from(*d).unwrap_or(0))
                .fold(width, u64::saturating_mul)
        })
        .max()
        .unwrap_or(0);
    let inputs = graph
        .get_input()
        .iter()
        .filter(|info| !initializers.contains(info.get_name()))
        .map(|info| {
            let (dtype, shape) = tensor_type(info).map_err(SignatureError::Unsupported)?;
            let shape = shape.ok_or_else(|| {
                SignatureError::Unsupported(format!(
                    "input {:?} has no static shape (wonnx needs fixed dimensions)",
                    info.get_name()
                ))
            })?;
            Ok(TensorSpec {
                name: info.get_name().to_owned(),
                dtype,
                shape,
            })
        })
        .collect::<Result<Vec<_>, SignatureError>>()?;
    let outputs = graph
        .get_output()
        .iter()
        .map(|info| OutputSpec {
            name: info.get_name().to_owned(),
            shape: tensor_type(info).ok().and_then(|(_, shape)| shape),
        })
        .collect();
    Ok(ModelSignature {
        inputs,
        outputs,
        largest_initializer_bytes,
        external_files: external_files.into_iter().collect(),
    })
}

/// A graph value's dtype and, when every dimension is a fixed number, its shape.
fn tensor_type(info: &ValueInfoProto) -> Result<(DType, Option<Vec<u64>>), String> {
    let name = info.get_name();
    let field = info.get_field_type();
    if !field.has_tensor_type() {
        return Err(format!("{name:?} is not a tensor"));
    }
    let tensor = field.get_tensor_type();
    let dtype = match tensor.get_elem_type() {
        ONNX_FLOAT => DType::Float32,
        ONNX_INT32 => DType::Int32,
        ONNX_INT64 => DType::Int64,
        other => {
            return Err(format!(
                "{name:?} has ONNX element type {other} (tessera supports float, int32, int64)"
            ))
        }
    };
    let shape = tensor
        .has_shape()
        .then(|| {
            tensor
                .get_shape()
                .get_dim()
                .iter()
                .map(|d| {
                    d.has_dim_value()
                        .then(|| u64::try_from(d.get_dim_value()).ok())
                        .flatten()
                })
                .collect::<Option<Vec<u64>>>()
        })
        .flatten();
    Ok((dtype, shape))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The edge's MLP fixture (made by `edge/tests/fixtures/make_mlp.py`): x [1,16] → y [1,8].
    const MLP: &[u8] = include_bytes!("../../edge/tests/fixtures/mlp.onnx");

    #[test]
    fn reads_the_mlp_fixture_signature() {
        let sig = inspect(MLP).unwrap();
        assert_eq!(sig.inputs.len(), 1);
        assert_eq!(sig.inputs[0].dtype, DType::Float32);
        assert_eq!(sig.inputs[0].shape, vec![1, 16]);
        assert_eq!(sig.outputs.len(), 1);
        assert_eq!(sig.outputs[0].shape, Some(vec![1, 8]));
        // The 16x32 and 32x8 weights: the largest is 32*16 floats.
        assert_eq!(sig.largest_initializer_bytes, 32 * 16 * 4);
    }

    #[test]
    fn a_graph_with_external_data_names_its_files() {
        let sig = inspect(include_bytes!(
            "../../edge/tests/fixtures/mlp_external.onnx"
        ))
        .unwrap();
        assert_eq!(
            sig.external_files,
            vec!["mlp_external.onnx_data".to_owned()]
        );
        assert_eq!(sig.largest_initializer_bytes, 32 * 16 * 4);
        assert!(inspect(MLP).unwrap().external_files.is_empty());
    }

    #[test]
    fn garbage_is_malformed() {
        assert_eq!(
            inspect(b"\xff\xff not onnx").unwrap_err().code(),
            "onnx-malformed"
        );
    }
}
