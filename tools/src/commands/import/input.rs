//! Where import rows come from: a file, stdin or a buffered copy of stdin; gzip is detected
//! by its magic bytes and decompressed on the fly.

use crate::error::ToolError;
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BUFFER: usize = 256 << 10;

/// An import source.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    /// A file, which can be read more than once.
    File(PathBuf),
    /// Standard input, readable once.
    Stdin,
    /// Standard input read into memory, so that it can be read more than once.
    Buffered(Arc<Vec<u8>>),
}

impl Input {
    /// `-` is stdin, anything else a file path.
    pub(crate) fn from_arg(arg: &Path) -> Input {
        if arg.as_os_str() == "-" {
            Input::Stdin
        } else {
            Input::File(arg.to_path_buf())
        }
    }

    /// How to name the input in messages.
    pub(crate) fn name(&self) -> String {
        match self {
            Input::File(path) => path.display().to_string(),
            Input::Stdin | Input::Buffered(_) => "stdin".to_owned(),
        }
    }

    /// Whether [`Input::open`] can be called more than once.
    pub(crate) fn rereadable(&self) -> bool {
        !matches!(self, Input::Stdin)
    }

    /// Reads stdin into memory so it can be read again (used by `--strict`).
    pub(crate) fn into_rereadable(self) -> Result<Input, ToolError> {
        match self {
            Input::Stdin => {
                let mut bytes = Vec::new();
                io::stdin()
                    .lock()
                    .read_to_end(&mut bytes)
                    .map_err(ToolError::io("reading stdin"))?;
                Ok(Input::Buffered(Arc::new(bytes)))
            }
            other => Ok(other),
        }
    }

    /// Opens the input from its start, decompressing gzip.
    pub(crate) fn open(&self) -> Result<Box<dyn BufRead>, ToolError> {
        let raw: Box<dyn Read> = match self {
            Input::File(path) => Box::new(
                File::open(path).map_err(ToolError::io(format!("opening {}", path.display())))?,
            ),
            Input::Stdin => Box::new(io::stdin()),
            Input::Buffered(bytes) => Box::new(Cursor::new(SharedBytes(Arc::clone(bytes)))),
        };
        let mut reader = BufReader::with_capacity(BUFFER, raw);
        let head = reader
            .fill_buf()
            .map_err(ToolError::io(format!("reading {}", self.name())))?;
        if head.starts_with(&GZIP_MAGIC) {
            Ok(Box::new(BufReader::with_capacity(
                BUFFER,
                MultiGzDecoder::new(reader),
            )))
        } else {
            Ok(Box::new(reader))
        }
    }
}

/// Shared bytes as `AsRef<[u8]>` for a cursor.
struct SharedBytes(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedBytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}
