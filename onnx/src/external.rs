//! ONNX external data, made self-contained: [`references`] lists the tensors of a graph whose
//! bytes live in external files (`data_location = EXTERNAL`: `location`, `offset`, `length`),
//! [`plan`] checks them against a signed manifest's files before anything is fetched (the
//! location is a safe relative path naming a file of the model, every range lies inside its
//! file, every length is what the tensor's dims × element size call for, and the result stays
//! under ONNX's 2 GiB protobuf limit), and [`inline`] writes the graph again with each external
//! tensor's bytes as its `raw_data`, so engines that take one buffer (wonnx, tract) load it.
//!
//! Pure: no IO. The caller fetches and verifies the files [`plan`] names (the same verified path
//! as the graph) and hands [`inline`] their bytes by `location`. It does not stream: the inlined
//! graph is one buffer of the whole model (held next to the graph and the data files while it is
//! written), which is why models above [`PROTOBUF_LIMIT`] are refused rather than attempted.

use std::collections::BTreeMap;

use protobuf::Message as _;
use tessera_core::manifest::FileEntry;
use wonnx::onnx::{GraphProto, ModelProto, TensorProto, TensorProto_DataLocation};

use crate::{parse_model, SignatureError};

/// The largest ONNX model protobuf can hold: one message of at most 2 GiB − 1 bytes (its sizes
/// are signed 32-bit). A graph whose inlined form would exceed it must stay multi-file
/// (onnxruntime-web's `externalData` option loads such a model).
pub const PROTOBUF_LIMIT: u64 = i32::MAX as u64;

/// Bytes the inlined form may add per tensor beyond its data (the `raw_data` tag and length).
const PER_TENSOR_OVERHEAD: u64 = 16;

/// One tensor whose bytes live in an external file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalRef {
    /// The tensor's name.
    pub tensor: String,
    /// Its file, relative to the graph's directory (ONNX `location`).
    pub location: String,
    /// Where its bytes start in that file.
    pub offset: u64,
    /// How many bytes it takes: the tensor's dims × element size (equal to `length` when the
    /// graph declares one).
    pub length: u64,
}

/// What a multi-file model needs, checked against its manifest: fetch `files`, then [`inline`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalPlan<'m> {
    /// Every external tensor, in graph order.
    pub refs: Vec<ExternalRef>,
    /// The files the graph names, once each, in first-use order: `location` and the manifest's
    /// entry for it (resolved against the graph's directory).
    pub files: Vec<(String, &'m FileEntry)>,
    /// An upper bound of the inlined graph's size (checked against [`PROTOBUF_LIMIT`]).
    pub inlined_bytes: u64,
}

/// The external tensors of the ONNX model in `graph`, in graph order (empty for a
/// self-contained graph). Each location is checked to be a safe relative path and each length
/// against the tensor's dims × element size.
pub fn references(graph: &[u8]) -> Result<Vec<ExternalRef>, SignatureError> {
    collect(&mut parse_model(graph).map_err(SignatureError::Malformed)?)
}

/// [`references`] of a parsed model (walked mutably, left unchanged).
pub(crate) fn collect(proto: &mut ModelProto) -> Result<Vec<ExternalRef>, SignatureError> {
    let mut refs = Vec::new();
    let mut failed = None;
    visit_tensors(proto.mut_graph(), &mut |tensor| {
        if failed.is_none() && is_external(tensor) {
            match reference(tensor) {
                Ok(r) => refs.push(r),
                Err(e) => failed = Some(e),
            }
        }
    });
    failed.map_or(Ok(refs), Err)
}

/// Checks the external references of `graph` (the model's entry point, `entry`) against the
/// manifest's `files`, before any of them is fetched: every location names a file of the model
/// (relative to the entry's directory), every range fits in its file, and the inlined model
/// stays under [`PROTOBUF_LIMIT`].
pub fn plan<'m>(
    graph: &[u8],
    entry: &FileEntry,
    files: &'m [FileEntry],
) -> Result<ExternalPlan<'m>, SignatureError> {
    let refs = references(graph)?;
    let inlined_bytes = inlined_size(graph.len(), &refs)?;
    let mut named: Vec<(String, &'m FileEntry)> = Vec::new();
    for r in &refs {
        if named.iter().any(|(location, _)| location == &r.location) {
            continue;
        }
        let path = resolve(entry.path.as_str(), &r.location);
        let file = files
            .iter()
            .find(|f| f.path.as_str() == path && f.path != entry.path)
            .ok_or_else(|| SignatureError::ExternalMissing {
                tensor: r.tensor.clone(),
                location: r.location.clone(),
            })?;
        named.push((r.location.clone(), file));
    }
    check_ranges(&refs, |location| {
        named
            .iter()
            .find(|(l, _)| l == location)
            .map(|(_, f)| f.size)
    })?;
    Ok(ExternalPlan {
        refs,
        files: named,
        inlined_bytes,
    })
}

/// The self-contained form of the ONNX model in `graph`: every external tensor gets its bytes
/// from `data(location)` as `raw_data`, `data_location` DEFAULT and no `external_data`. A graph
/// without external tensors comes back unchanged. Refused like [`plan`] (a location `data` does
/// not know is [`SignatureError::ExternalMissing`]).
pub fn inline<'d>(
    graph: &[u8],
    data: &dyn Fn(&str) -> Option<&'d [u8]>,
) -> Result<Vec<u8>, SignatureError> {
    let mut proto = parse_model(graph).map_err(SignatureError::Malformed)?;
    let refs = collect(&mut proto)?;
    if refs.is_empty() {
        return Ok(graph.to_vec());
    }
    inlined_size(graph.len(), &refs)?;
    if let Some(r) = refs.iter().find(|r| data(&r.location).is_none()) {
        return Err(SignatureError::ExternalMissing {
            tensor: r.tensor.clone(),
            location: r.location.clone(),
        });
    }
    check_ranges(&refs, |location| {
        data(location).map(|bytes| bytes.len() as u64)
    })?;
    let mut pending = refs.into_iter();
    visit_tensors(proto.mut_graph(), &mut |tensor| {
        if !is_external(tensor) {
            return;
        }
        // The same walk as `references`, so the next reference is this tensor's.
        let Some(r) = pending.next() else { return };
        let bytes = data(&r.location).and_then(|file| slice(file, r.offset, r.length));
        if let Some(bytes) = bytes {
            tensor.set_raw_data(bytes.to_vec());
            tensor.clear_external_data();
            tensor.set_data_location(TensorProto_DataLocation::DEFAULT);
        }
    });
    write(&proto)
}

/// [`inline`] over the files a caller fetched for a [`plan`], as `(location, bytes)` pairs (the
/// edge reads them from disk, the browser runtime from the service worker or the shards).
pub fn inline_fetched(
    graph: &[u8],
    fetched: &[(&str, Vec<u8>)],
) -> Result<Vec<u8>, SignatureError> {
    let lookup = |location: &str| {
        fetched
            .iter()
            .find(|(l, _)| *l == location)
            .map(|(_, bytes)| bytes.as_slice())
    };
    inline(graph, &lookup)
}

/// `location` resolved against the directory of `entry` (both `/`-separated, relative).
pub fn resolve(entry: &str, location: &str) -> String {
    match entry.rsplit_once('/') {
        Some((dir, _)) => format!("{dir}/{location}"),
        None => location.to_owned(),
    }
}

fn write(proto: &ModelProto) -> Result<Vec<u8>, SignatureError> {
    proto
        .write_to_bytes()
        .map_err(|e| SignatureError::Malformed(e.to_string()))
}

/// `file[offset..offset + length]`, if it lies inside `file`.
fn slice(file: &[u8], offset: u64, length: u64) -> Option<&[u8]> {
    let start = usize::try_from(offset).ok()?;
    let end = start.checked_add(usize::try_from(length).ok()?)?;
    file.get(start..end)
}

/// The inlined model's size bound, refused above [`PROTOBUF_LIMIT`].
fn inlined_size(graph: usize, refs: &[ExternalRef]) -> Result<u64, SignatureError> {
    let needed = refs.iter().fold(graph as u64, |sum, r| {
        sum.saturating_add(r.length.saturating_add(PER_TENSOR_OVERHEAD))
    });
    if needed > PROTOBUF_LIMIT {
        return Err(SignatureError::TooLarge {
            needed,
            limit: PROTOBUF_LIMIT,
        });
    }
    Ok(needed)
}

/// Every reference's range against its file's size (`size_of(location)`).
fn check_ranges(
    refs: &[ExternalRef],
    size_of: impl Fn(&str) -> Option<u64>,
) -> Result<(), SignatureError> {
    let mut sizes = BTreeMap::new();
    for r in refs {
        let size = *sizes
            .entry(r.location.as_str())
            .or_insert_with(|| size_of(&r.location));
        let Some(size) = size else {
            return Err(SignatureError::ExternalMissing {
                tensor: r.tensor.clone(),
                location: r.location.clone(),
            });
        };
        if r.offset.checked_add(r.length).is_none_or(|end| end > size) {
            return Err(SignatureError::ExternalRange {
                tensor: r.tensor.clone(),
                location: r.location.clone(),
                offset: r.offset,
                length: r.length,
                file_size: size,
            });
        }
    }
    Ok(())
}

fn is_external(tensor: &TensorProto) -> bool {
    tensor.get_data_location() == TensorProto_DataLocation::EXTERNAL
}

/// The reference an external tensor makes, checked (location, numbers, length).
fn reference(tensor: &TensorProto) -> Result<ExternalRef, SignatureError> {
    let name = tensor.get_name();
    let entry = |key: &str| {
        tensor
            .get_external_data()
            .iter()
            .find(|e| e.get_key() == key)
            .map(|e| e.get_value())
    };
    let location = entry("location").unwrap_or_default();
    check_location(name, location)?;
    let number = |key: &str| -> Result<Option<u64>, SignatureError> {
        entry(key)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    SignatureError::Malformed(format!(
                        "tensor {name:?}: external {key} {v:?} is not a byte count"
                    ))
                })
            })
            .transpose()
    };
    let offset = number("offset")?.unwrap_or(0);
    let declared = number("length")?;
    let expected = expected_bytes(tensor)?;
    if declared.is_some_and(|d| d != expected) {
        return Err(SignatureError::ExternalLength {
            tensor: name.to_owned(),
            declared: declared.unwrap_or_default(),
            expected,
        });
    }
    Ok(ExternalRef {
        tensor: name.to_owned(),
        location: location.to_owned(),
        offset,
        length: expected,
    })
}

/// A location must be a relative path inside the model's directory: not empty, not absolute,
/// no `..` or `.` segment, no backslash or drive letter.
fn check_location(tensor: &str, location: &str) -> Result<(), SignatureError> {
    let unsafe_path = location.is_empty()
        || location.starts_with('/')
        || location.contains('\\')
        || location.contains(':')
        || location
            .split('/')
            .any(|segment| segment.is_empty() || segment == "." || segment == "..");
    if unsafe_path {
        return Err(SignatureError::ExternalPath {
            tensor: tensor.to_owned(),
            location: location.to_owned(),
        });
    }
    Ok(())
}

/// The bytes a tensor's dims × element size call for.
fn expected_bytes(tensor: &TensorProto) -> Result<u64, SignatureError> {
    let width: u64 = match tensor.get_data_type() {
        2 | 3 | 9 | 17..=20 => 1,
        4 | 5 | 10 | 16 => 2,
        1 | 6 | 12 => 4,
        7 | 11 | 13 | 14 => 8,
        15 => 16,
        other => {
            return Err(SignatureError::Unsupported(format!(
                "tensor {:?}: external data of ONNX element type {other} cannot be inlined",
                tensor.get_name()
            )))
        }
    };
    tensor.get_dims().iter().try_fold(width, |bytes, dim| {
        u64::try_from(*dim)
            .ok()
            .and_then(|d| bytes.checked_mul(d))
            .ok_or_else(|| {
                SignatureError::Malformed(format!(
                    "tensor {:?} has dims {:?}",
                    tensor.get_name(),
                    tensor.get_dims()
                ))
            })
    })
}

/// Calls `f` on every tensor of `graph` that can hold data — initializers, sparse initializers'
/// values and indices, tensors of node attributes — and of its subgraphs, in a fixed order.
fn visit_tensors(graph: &mut GraphProto, f: &mut dyn FnMut(&mut TensorProto)) {
    for tensor in graph.mut_initializer().iter_mut() {
        f(tensor);
    }
    for sparse in graph.mut_sparse_initializer().iter_mut() {
        f(sparse.mut_values());
        f(sparse.mut_indices());
    }
    for node in graph.mut_node().iter_mut() {
        for attribute in node.mut_attribute().iter_mut() {
            if attribute.has_t() {
                f(attribute.mut_t());
            }
            for tensor in attribute.mut_tensors().iter_mut() {
                f(tensor);
            }
            if attribute.has_g() {
                visit_tensors(attribute.mut_g(), f);
            }
            for sub in attribute.mut_graphs().iter_mut() {
                visit_tensors(sub, f);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use tessera_core::ErrorCode as _;
    use wonnx::onnx::StringStringEntryProto;

    use super::*;

    /// `edge/tests/fixtures/mlp_external.onnx` + `.onnx_data` (make_mlp.py): `mlp.onnx` with
    /// w1 [16,32], b1 [32], w2 [32,8], b2 [8] at offsets 0, 2048, 2176, 3200 of the data file.
    const GRAPH: &[u8] = include_bytes!("../../edge/tests/fixtures/mlp_external.onnx");
    const DATA: &[u8] = include_bytes!("../../edge/tests/fixtures/mlp_external.onnx_data");
    const TWIN: &[u8] = include_bytes!("../../edge/tests/fixtures/mlp.onnx");
    const LOCATION: &str = "mlp_external.onnx_data";

    fn lookup(location: &str) -> Option<&'static [u8]> {
        (location == LOCATION).then_some(DATA)
    }

    /// The fixture graph with `edit` applied to its first initializer's external entries.
    fn edited(edit: impl Fn(&mut TensorProto)) -> Vec<u8> {
        let mut proto = ModelProto::parse_from_bytes(GRAPH).unwrap();
        edit(&mut proto.mut_graph().mut_initializer()[0]);
        proto.write_to_bytes().unwrap()
    }

    fn set_entry(tensor: &mut TensorProto, key: &str, value: &str) {
        let entries = tensor.mut_external_data();
        match entries.iter_mut().find(|e| e.get_key() == key) {
            Some(e) => e.set_value(value.to_owned()),
            None => {
                let mut e = StringStringEntryProto::new();
                e.set_key(key.to_owned());
                e.set_value(value.to_owned());
                entries.push(e);
            }
        }
    }

    fn manifest_file(path: &str, size: u64) -> FileEntry {
        FileEntry {
            path: path.parse().unwrap(),
            size,
            sha256: tessera_core::Sha256Digest::of(b""),
            shards: vec![],
        }
    }

    #[test]
    fn references_list_every_external_tensor() {
        let refs = references(GRAPH).unwrap();
        let got: Vec<_> = refs
            .iter()
            .map(|r| (r.tensor.as_str(), r.location.as_str(), r.offset, r.length))
            .collect();
        assert_eq!(
            got,
            [
                ("w1", LOCATION, 0, 2048),
                ("b1", LOCATION, 2048, 128),
                ("w2", LOCATION, 2176, 1024),
                ("b2", LOCATION, 3200, 32),
            ]
        );
        assert!(references(TWIN).unwrap().is_empty());
    }

    #[test]
    fn the_inlined_graph_is_self_contained_and_holds_the_twins_weights() {
        let inlined = inline(GRAPH, &lookup).unwrap();
        assert!(references(&inlined).unwrap().is_empty());
        let sig = crate::inspect(&inlined).unwrap();
        assert!(sig.external_files.is_empty());
        assert_eq!(sig, crate::inspect(TWIN).unwrap());
        let twin = ModelProto::parse_from_bytes(TWIN).unwrap();
        let ours = ModelProto::parse_from_bytes(&inlined).unwrap();
        for (a, b) in twin
            .get_graph()
            .get_initializer()
            .iter()
            .zip(ours.get_graph().get_initializer())
        {
            assert_eq!(a.get_name(), b.get_name());
            assert_eq!(a.get_raw_data(), b.get_raw_data(), "{}", a.get_name());
        }
        // A self-contained graph passes through unchanged.
        assert_eq!(inline(TWIN, &|_| None).unwrap(), TWIN);
    }

    #[cfg(feature = "tract")]
    #[test]
    fn the_inlined_graph_answers_exactly_like_its_twin_on_tract() {
        use crate::engine::InferenceEngine as _;
        use tessera_core::manifest::TestVector;
        let vectors: Vec<TestVector> =
            serde_json::from_slice(include_bytes!("../../edge/tests/fixtures/mlp.vectors.json"))
                .unwrap();
        let inlined = inline(GRAPH, &lookup).unwrap();
        let engine = crate::tract::Tract::new("tract-native");
        let run = |model: &[u8], vector: &TestVector| {
            let sig = crate::inspect(model).unwrap();
            let mut session = crate::tract::ready_now(engine.build(model, &sig)).unwrap();
            let inputs = tessera_core::selftest::request(vector)
                .validate(&sig.inputs)
                .unwrap();
            crate::tract::ready_now(session.run(&inputs)).unwrap()
        };
        for vector in &vectors {
            let ours = run(&inlined, vector);
            tessera_core::selftest::compare(vector, &crate::engine::json_outputs(ours.clone()))
                .unwrap();
            assert_eq!(ours, run(TWIN, vector), "vector {}", vector.name);
        }
    }

    #[test]
    fn unsafe_locations_are_refused_before_any_lookup() {
        for location in [
            "/etc/passwd",
            "../secret.bin",
            "a/../../b",
            "C:\\w.bin",
            "./w",
            "",
        ] {
            let graph = edited(|t| set_entry(t, "location", location));
            let err = inline(&graph, &|_| panic!("looked up {location:?}")).unwrap_err();
            assert_eq!(err.code(), "onnx-external-path", "{location:?}: {err}");
            assert_eq!(references(&graph).unwrap_err().code(), "onnx-external-path");
        }
    }

    #[test]
    fn a_location_that_is_no_file_of_the_model_is_refused() {
        let err = inline(GRAPH, &|_| None).unwrap_err();
        assert_eq!(err.code(), "onnx-external-missing");
        assert!(err.to_string().contains(LOCATION), "{err}");
        // Against a manifest: the data file beside the graph is needed, one elsewhere is not it.
        let entry = manifest_file("onnx/mlp.onnx", GRAPH.len() as u64);
        let elsewhere = [entry.clone(), manifest_file(LOCATION, DATA.len() as u64)];
        assert_eq!(
            plan(GRAPH, &entry, &elsewhere).unwrap_err().code(),
            "onnx-external-missing"
        );
        let beside = [
            entry.clone(),
            manifest_file("onnx/tokenizer.json", 10),
            manifest_file(&format!("onnx/{LOCATION}"), DATA.len() as u64),
        ];
        let planned = plan(GRAPH, &entry, &beside).unwrap();
        assert_eq!(planned.files.len(), 1, "only the file the graph names");
        assert_eq!(planned.files[0].0, LOCATION);
        assert_eq!(
            planned.files[0].1.path.as_str(),
            "onnx/mlp_external.onnx_data"
        );
        assert_eq!(planned.refs.len(), 4);
    }

    #[test]
    fn ranges_outside_the_file_are_refused() {
        let past_end = edited(|t| set_entry(t, "offset", &DATA.len().to_string()));
        let err = inline(&past_end, &lookup).unwrap_err();
        assert_eq!(err.code(), "onnx-external-range");
        assert!(err.to_string().contains("3232"), "{err}");
        // The manifest's size, before anything is fetched.
        let entry = manifest_file("mlp.onnx", 1);
        let short = [manifest_file(LOCATION, 3000)];
        let err = plan(GRAPH, &entry, &short).unwrap_err();
        assert_eq!(err.code(), "onnx-external-range", "{err}");
        let huge = edited(|t| set_entry(t, "offset", &u64::MAX.to_string()));
        assert_eq!(
            inline(&huge, &lookup).unwrap_err().code(),
            "onnx-external-range"
        );
    }

    #[test]
    fn a_length_that_disagrees_with_the_dims_is_refused() {
        let graph = edited(|t| set_entry(t, "length", "2044"));
        let err = inline(&graph, &lookup).unwrap_err();
        assert_eq!(err.code(), "onnx-external-length");
        assert_eq!(
            err,
            SignatureError::ExternalLength {
                tensor: "w1".into(),
                declared: 2044,
                expected: 2048,
            }
        );
    }

    #[test]
    fn a_model_past_the_protobuf_limit_is_refused_before_anything_is_fetched() {
        // w1 declared as [16, 2^25] floats: 2 GiB from its dims alone.
        let graph = edited(|t| {
            t.set_dims(vec![16, 1 << 25]);
            set_entry(t, "length", &(1u64 << 31).to_string());
        });
        let err = inline(&graph, &|_| panic!("fetched")).unwrap_err();
        assert_eq!(err.code(), "onnx-too-large");
        match err {
            SignatureError::TooLarge { needed, limit } => {
                assert_eq!(limit, PROTOBUF_LIMIT);
                assert!(needed > 1 << 31, "{needed}");
            }
            other => panic!("{other:?}"),
        }
        let entry = manifest_file("mlp.onnx", 1);
        let files = [manifest_file(LOCATION, 3 << 30)];
        assert_eq!(
            plan(&graph, &entry, &files).unwrap_err().code(),
            "onnx-too-large"
        );
    }

    #[test]
    fn locations_resolve_against_the_entrys_directory() {
        assert_eq!(resolve("model.onnx", "w.bin"), "w.bin");
        assert_eq!(resolve("onnx/model.onnx", "w.bin"), "onnx/w.bin");
        assert_eq!(resolve("a/b/model.onnx", "c/w.bin"), "a/b/c/w.bin");
    }
}
