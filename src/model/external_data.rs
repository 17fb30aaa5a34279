//! Finds ONNX external data in a model file's bytes. DESIGN: a model is ONE file, and its signature and
//! SHA-256 cover that file only; a tensor whose data lives in a side file (`data_location: EXTERNAL`, or
//! `external_data` entries) could be rewritten under the same signature, so such a model is refused.
//!
//! A small walk over the protobuf wire format, following only the fields that can hold tensors
//! (ModelProto -> graph, functions; GraphProto -> nodes, initializers; NodeProto -> attributes; attribute
//! -> tensors and subgraphs), with the nesting bounded so a crafted file cannot exhaust the stack.

/// Deeper nesting than any real model has (subgraphs of subgraphs): refused as malformed.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExternalDataError {
    #[error(
        "tensor '{0}' keeps its data in an external file: a model must be one file (its signature \
         and SHA-256 do not cover side files): refused"
    )]
    External(String),
    #[error("not a well-formed ONNX protobuf: {0}")]
    Malformed(&'static str),
}

/// What a length-delimited field holds, for the fields followed.
#[derive(Clone, Copy)]
enum Msg {
    Model,
    Graph,
    Node,
    Attribute,
    Tensor,
    SparseTensor,
    Function,
}

impl Msg {
    /// The message type of field `field` of this message, when it is one that can lead to a tensor.
    fn child(self, field: u64) -> Option<Msg> {
        use Msg::*;
        match (self, field) {
            (Model, 7) => Some(Graph),
            (Model, 25) => Some(Function),
            (Graph, 1) => Some(Node),
            (Graph, 5) => Some(Tensor),
            (Graph, 15) => Some(SparseTensor),
            (Node, 5) => Some(Attribute),
            (Attribute, 5 | 10) => Some(Tensor),
            (Attribute, 6 | 11) => Some(Graph),
            (Attribute, 22 | 23) => Some(SparseTensor),
            (SparseTensor, 1 | 2) => Some(Tensor),
            (Function, 7) => Some(Node),
            _ => None,
        }
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, ExternalDataError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.at).ok_or(ExternalDataError::Malformed("truncated varint"))?;
            self.at += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(ExternalDataError::Malformed("varint too long"))
    }

    fn bytes(&mut self, n: u64) -> Result<&'a [u8], ExternalDataError> {
        let end = usize::try_from(n)
            .ok()
            .and_then(|n| self.at.checked_add(n))
            .filter(|&e| e <= self.buf.len())
            .ok_or(ExternalDataError::Malformed("field runs past the end"))?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }
}

/// Refuses a model whose bytes declare any tensor with external data.
pub fn check(model: &[u8]) -> Result<(), ExternalDataError> {
    walk(model, Msg::Model, 0)
}

fn walk(buf: &[u8], msg: Msg, depth: usize) -> Result<(), ExternalDataError> {
    if depth > MAX_DEPTH {
        return Err(ExternalDataError::Malformed("nested too deep"));
    }
    let mut r = Reader { buf, at: 0 };
    let mut name = String::new();
    let mut external = false;
    while r.at < buf.len() {
        let key = r.varint()?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                let v = r.varint()?;
                // TensorProto.data_location = EXTERNAL (1)
                if matches!(msg, Msg::Tensor) && field == 14 && v == 1 {
                    external = true;
                }
            }
            1 => {
                r.bytes(8)?;
            }
            5 => {
                r.bytes(4)?;
            }
            2 => {
                let len = r.varint()?;
                let body = r.bytes(len)?;
                match (msg, field) {
                    // TensorProto.name, TensorProto.external_data
                    (Msg::Tensor, 8) => name = String::from_utf8_lossy(body).into_owned(),
                    (Msg::Tensor, 13) => external = true,
                    _ => {
                        if let Some(child) = msg.child(field) {
                            walk(body, child, depth + 1)?;
                        }
                    }
                }
            }
            _ => return Err(ExternalDataError::Malformed("unknown wire type")),
        }
    }
    if external {
        return Err(ExternalDataError::External(name));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(num: u64, body: &[u8]) -> Vec<u8> {
        let mut out = vec![(num << 3 | 2) as u8];
        out.push(body.len() as u8);
        out.extend_from_slice(body);
        out
    }

    #[test]
    fn external_initializers_are_found_wherever_they_are_nested() {
        // Model.graph.initializer { name: "w", data_location: EXTERNAL }
        let tensor = [field(8, b"w"), vec![14 << 3, 1]].concat();
        let model = field(7, &field(5, &tensor));
        assert_eq!(check(&model), Err(ExternalDataError::External("w".into())));
        // The same tensor as an attribute of a node in a Loop body (graph attribute) of a node.
        let body = field(1, &field(5, &field(5, &tensor)));
        let model = field(7, &field(1, &field(5, &field(6, &body))));
        assert!(matches!(check(&model), Err(ExternalDataError::External(_))));
        // external_data entries alone are enough.
        let tensor = [field(8, b"v"), field(13, &field(1, b"location"))].concat();
        assert_eq!(check(&field(7, &field(5, &tensor))), Err(ExternalDataError::External("v".into())));
        // Inline data (data_location DEFAULT, raw_data) is fine.
        let tensor = [field(8, b"w"), vec![14 << 3, 0], field(9, &[0, 0, 128, 63])].concat();
        assert_eq!(check(&field(7, &field(5, &tensor))), Ok(()));
    }

    #[test]
    fn truncated_bytes_are_malformed_not_a_panic() {
        let model = field(7, &field(5, &field(8, b"w")));
        for cut in 0..model.len() {
            let _ = check(&model[..cut]);
        }
        assert!(matches!(check(&model[..3]), Err(ExternalDataError::Malformed(_))));
    }
}
