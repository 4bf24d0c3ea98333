//! The encodings a chunk payload can use, with their tags and display names.

use std::fmt;

use crate::value::ColumnType;

/// How the values of a chunk are stored in its payload section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// Bool: no payload; values are the per-value bitmaps (false, true).
    Bitmap,
    /// Int/Timestamp: every stored value equals the reference.
    For0,
    /// Int/Timestamp: reference + u8 deltas.
    For8,
    /// Int/Timestamp: reference + u16 deltas.
    For16,
    /// Int/Timestamp: reference + u32 deltas.
    For32,
    /// Int/Timestamp: reference + u64 deltas.
    For64,
    /// Int/Timestamp/Float64: runs of equal 8-byte values.
    Rle,
    /// Float64: raw f64 bits.
    Plain,
    /// String: one u8 dictionary code per row.
    DictU8,
    /// String: one u16 dictionary code per row.
    DictU16,
    /// String: runs of equal dictionary codes.
    DictRle,
    /// StringList: row lengths + u8 element codes in one block.
    ListU8,
    /// StringList: row lengths + u16 element codes in one block.
    ListU16,
    /// StringList: row lengths + u32 element codes in one block.
    ListU32,
}

impl Encoding {
    /// Every encoding, in tag order.
    pub const ALL: [Encoding; 14] = [
        Encoding::Bitmap,
        Encoding::For0,
        Encoding::For8,
        Encoding::For16,
        Encoding::For32,
        Encoding::For64,
        Encoding::Rle,
        Encoding::Plain,
        Encoding::DictU8,
        Encoding::DictU16,
        Encoding::DictRle,
        Encoding::ListU8,
        Encoding::ListU16,
        Encoding::ListU32,
    ];

    /// The one-byte tag stored at `HEADER_ENCODING_OFFSET`.
    #[must_use]
    pub fn tag(self) -> u8 {
        match self {
            Encoding::Bitmap => 1,
            Encoding::For0 => 2,
            Encoding::For8 => 3,
            Encoding::For16 => 4,
            Encoding::For32 => 5,
            Encoding::For64 => 6,
            Encoding::Rle => 7,
            Encoding::Plain => 8,
            Encoding::DictU8 => 9,
            Encoding::DictU16 => 10,
            Encoding::DictRle => 11,
            Encoding::ListU8 => 12,
            Encoding::ListU16 => 13,
            Encoding::ListU32 => 14,
        }
    }

    /// The encoding for a tag, or `None` for an unknown tag.
    #[must_use]
    pub fn from_tag(tag: u8) -> Option<Encoding> {
        Encoding::ALL.into_iter().find(|e| e.tag() == tag)
    }

    /// The short lower-case name used in messages, stats and `EXPLAIN` output.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Bitmap => "bitmap",
            Encoding::For0 => "for0",
            Encoding::For8 => "for8",
            Encoding::For16 => "for16",
            Encoding::For32 => "for32",
            Encoding::For64 => "for64",
            Encoding::Rle => "rle",
            Encoding::Plain => "plain",
            Encoding::DictU8 => "dict-u8",
            Encoding::DictU16 => "dict-u16",
            Encoding::DictRle => "dict-rle",
            Encoding::ListU8 => "list-u8",
            Encoding::ListU16 => "list-u16",
            Encoding::ListU32 => "list-u32",
        }
    }

    /// Whether a chunk of `column_type` may use this encoding.
    #[must_use]
    pub fn fits(self, column_type: ColumnType) -> bool {
        use Encoding as E;
        match column_type {
            ColumnType::Bool => self == E::Bitmap,
            ColumnType::Int64 | ColumnType::Timestamp => {
                matches!(
                    self,
                    E::For0 | E::For8 | E::For16 | E::For32 | E::For64 | E::Rle
                )
            }
            ColumnType::Float64 => matches!(self, E::Plain | E::Rle),
            ColumnType::String => matches!(self, E::DictU8 | E::DictU16 | E::DictRle),
            ColumnType::StringList => matches!(self, E::ListU8 | E::ListU16 | E::ListU32),
        }
    }

    /// Bytes per packed value of a FOR encoding, `None` for other encodings.
    #[must_use]
    pub(crate) fn for_width(self) -> Option<usize> {
        match self {
            Encoding::For0 => Some(0),
            Encoding::For8 => Some(1),
            Encoding::For16 => Some(2),
            Encoding::For32 => Some(4),
            Encoding::For64 => Some(8),
            _ => None,
        }
    }

    /// The FOR encoding with `width` bytes per value.
    pub(crate) fn for_with_width(width: usize) -> Encoding {
        match width {
            0 => Encoding::For0,
            1 => Encoding::For8,
            2 => Encoding::For16,
            4 => Encoding::For32,
            _ => Encoding::For64,
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
