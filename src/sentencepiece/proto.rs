//! The few protobuf fields of a SentencePiece `ModelProto` (sentencepiece_model.proto) that
//! encoding and decoding need, read straight from the wire format.
//!
//! Hand-written rather than generated: the schema is fixed, five messages deep at most, and a
//! protobuf code generator would add a build step and a dependency tree for ~100 lines.

use super::SpmError;

/// `SentencePiece.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PieceKind {
    Normal,
    Unknown,
    Control,
    UserDefined,
    Unused,
    Byte,
}

pub struct ProtoPiece {
    pub text: String,
    pub score: f32,
    pub kind: PieceKind,
}

/// `NormalizerSpec`, with the defaults the proto declares.
pub struct ProtoNormalizer {
    pub name: String,
    pub precompiled_charsmap: Vec<u8>,
    pub add_dummy_prefix: bool,
    pub remove_extra_whitespaces: bool,
    pub escape_whitespaces: bool,
}

impl Default for ProtoNormalizer {
    fn default() -> Self {
        Self {
            name: String::new(),
            precompiled_charsmap: vec![],
            add_dummy_prefix: true,
            remove_extra_whitespaces: true,
            escape_whitespaces: true,
        }
    }
}

/// The `TrainerSpec` fields that change how text is segmented.
#[derive(Default)]
pub struct ProtoTrainer {
    /// 1 = unigram, 2 = BPE, 3 = word, 4 = char (the proto's default is unigram).
    pub model_type: Option<u64>,
    pub byte_fallback: bool,
    pub treat_whitespace_as_suffix: bool,
    pub unk_surface: Option<String>,
}

pub struct ProtoModel {
    pub pieces: Vec<ProtoPiece>,
    pub trainer: ProtoTrainer,
    pub normalizer: ProtoNormalizer,
}

/// One field of a message: its number and its payload.
enum Value<'a> {
    Varint(u64),
    Fixed32(u32),
    Bytes(&'a [u8]),
}

struct Reader<'a> {
    data: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, SpmError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self
                .data
                .split_first()
                .ok_or_else(|| SpmError::Malformed("a number runs past the end".into()))?;
            self.data = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(SpmError::Malformed(
            "a number is longer than 10 bytes".into(),
        ))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], SpmError> {
        if len > self.data.len() {
            return Err(SpmError::Malformed(format!(
                "a field of {len} bytes runs past the end"
            )));
        }
        let (head, rest) = self.data.split_at(len);
        self.data = rest;
        Ok(head)
    }

    fn next_field(&mut self) -> Result<Option<(u64, Value<'a>)>, SpmError> {
        if self.data.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let value = match key & 7 {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Varint(0)
            }
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| SpmError::Malformed("a field length overflows".into()))?;
                Value::Bytes(self.take(len)?)
            }
            5 => {
                let bytes = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
            }
            other => {
                return Err(SpmError::Malformed(format!(
                    "unsupported protobuf wire type {other}"
                )));
            }
        };
        Ok(Some((key >> 3, value)))
    }
}

/// Calls `visit` for each field of the message in `data`.
fn fields<'a>(
    data: &'a [u8],
    mut visit: impl FnMut(u64, Value<'a>) -> Result<(), SpmError>,
) -> Result<(), SpmError> {
    let mut reader = Reader { data };
    while let Some((number, value)) = reader.next_field()? {
        visit(number, value)?;
    }
    Ok(())
}

fn text(bytes: &[u8], what: &str) -> Result<String, SpmError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| SpmError::Malformed(format!("{what} is not UTF-8")))
}

fn piece(data: &[u8]) -> Result<ProtoPiece, SpmError> {
    let mut piece = ProtoPiece {
        text: String::new(),
        score: 0.0,
        kind: PieceKind::Normal,
    };
    fields(data, |number, value| {
        match (number, value) {
            (1, Value::Bytes(b)) => piece.text = text(b, "a piece")?,
            (2, Value::Fixed32(bits)) => piece.score = f32::from_bits(bits),
            (3, Value::Varint(kind)) => {
                piece.kind = match kind {
                    1 => PieceKind::Normal,
                    2 => PieceKind::Unknown,
                    3 => PieceKind::Control,
                    4 => PieceKind::UserDefined,
                    5 => PieceKind::Unused,
                    6 => PieceKind::Byte,
                    other => {
                        return Err(SpmError::Malformed(format!("unknown piece type {other}")));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(piece)
}

fn trainer(data: &[u8]) -> Result<ProtoTrainer, SpmError> {
    let mut trainer = ProtoTrainer::default();
    fields(data, |number, value| {
        match (number, value) {
            (3, Value::Varint(v)) => trainer.model_type = Some(v),
            (24, Value::Varint(v)) => trainer.treat_whitespace_as_suffix = v != 0,
            (35, Value::Varint(v)) => trainer.byte_fallback = v != 0,
            (44, Value::Bytes(b)) => trainer.unk_surface = Some(text(b, "unk_surface")?),
            _ => {}
        }
        Ok(())
    })?;
    Ok(trainer)
}

fn normalizer(data: &[u8]) -> Result<ProtoNormalizer, SpmError> {
    let mut spec = ProtoNormalizer::default();
    fields(data, |number, value| {
        match (number, value) {
            (1, Value::Bytes(b)) => spec.name = text(b, "the normalizer name")?,
            (2, Value::Bytes(b)) => spec.precompiled_charsmap = b.to_vec(),
            (3, Value::Varint(v)) => spec.add_dummy_prefix = v != 0,
            (4, Value::Varint(v)) => spec.remove_extra_whitespaces = v != 0,
            (5, Value::Varint(v)) => spec.escape_whitespaces = v != 0,
            _ => {}
        }
        Ok(())
    })?;
    Ok(spec)
}

/// Reads a serialized `ModelProto` (the bytes of a `.spm` / `.model` file).
pub fn parse(data: &[u8]) -> Result<ProtoModel, SpmError> {
    let mut model = ProtoModel {
        pieces: vec![],
        trainer: ProtoTrainer::default(),
        normalizer: ProtoNormalizer::default(),
    };
    fields(data, |number, value| {
        match (number, value) {
            (1, Value::Bytes(b)) => model.pieces.push(piece(b)?),
            (2, Value::Bytes(b)) => model.trainer = trainer(b)?,
            (3, Value::Bytes(b)) => model.normalizer = normalizer(b)?,
            (1..=3, _) => {
                return Err(SpmError::Malformed(format!(
                    "field {number} of the model has the wrong wire type"
                )));
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok(model)
}
