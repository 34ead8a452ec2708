//! Reading the files a user names, within limits: only regular files (not
//! a directory, a FIFO that blocks, or a device such as `/dev/zero` that
//! never ends), no larger than a stated size (checked before reading and
//! while reading), and valid UTF-8 (an error gives the byte offset and
//! line of the first invalid byte). Messages escape what they quote
//! ([`escape`]), so no control character from input reaches a terminal.

use std::fmt;
use std::io::Read;
use std::path::Path;

/// The largest scenario file poolsim reads.
pub const MAX_SCENARIO_BYTES: u64 = 4 << 20;

/// The largest Job arrival trace poolsim reads.
pub const MAX_TRACE_BYTES: u64 = 64 << 20;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading failed.
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    /// Not a regular file.
    #[error("not a regular file ({0}): poolsim reads only regular files")]
    NotAFile(&'static str),
    /// Larger than the limit.
    #[error("{size} bytes is over the limit of {limit} bytes for this file")]
    TooLarge {
        /// Bytes found (at least).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// Not UTF-8.
    #[error("invalid UTF-8 at byte {offset} (line {line}): the file must be UTF-8 text")]
    NotUtf8 {
        /// Byte offset of the first invalid byte, from 0.
        offset: usize,
        /// Its line, from 1.
        line: usize,
    },
}

impl ReadError {
    /// The line the error is on, when it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            ReadError::NotUtf8 { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// What kind of file `meta` describes, in words, when not a regular file.
fn kind(meta: &std::fs::Metadata) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = meta.file_type();
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if meta.is_dir() {
        "a directory"
    } else {
        "not a file"
    }
}

/// Reads `path` as UTF-8 text if it is a regular file of at most `limit`
/// bytes. The size is checked before reading, and reading stops one byte
/// past the limit in case the file grew.
pub fn read_text(path: &Path, limit: u64) -> Result<String, ReadError> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(kind(&meta)));
    }
    if meta.len() > limit {
        return Err(ReadError::TooLarge {
            size: meta.len(),
            limit,
        });
    }
    let file = std::fs::File::open(path)?;
    // Opened after the check: it must still be a regular file.
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(ReadError::NotAFile(kind(&meta)));
    }
    let mut bytes = Vec::with_capacity(meta.len().min(limit) as usize);
    file.take(limit + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    utf8(bytes)
}

/// `bytes` as text, or where the first invalid byte is.
pub fn utf8(bytes: Vec<u8>) -> Result<String, ReadError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        ReadError::NotUtf8 { offset, line }
    })
}

/// Text with every control or otherwise non-printable character written as
/// an escape (`\u{1b}`, `\n`, `\t`), so that a message quoting input cannot
/// move the cursor, clear the screen or change colours.
pub fn escape(text: &str) -> Escaped<'_> {
    Escaped(text)
}

/// See [`escape`].
pub struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if is_printable(c) {
                write!(f, "{c}")?;
            } else {
                write!(f, "{}", c.escape_default())?;
            }
        }
        Ok(())
    }
}

/// Whether a character prints as itself without side effects: not a C0 or
/// C1 control, DEL, a bidirectional override, or another format character
/// that changes how following text is shown.
pub fn is_printable(c: char) -> bool {
    !(c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        let s = escape("\u{1b}[2J\u{1b}[31mPWNED\nnext\u{202e}é").to_string();
        assert_eq!(s, "\\u{1b}[2J\\u{1b}[31mPWNED\\nnext\\u{202e}é");
    }

    #[test]
    fn invalid_utf8_gives_offset_and_line() {
        let e = utf8(b"a = 1\nb = \"\xff\"\n".to_vec()).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::NotUtf8 {
                    offset: 11,
                    line: 2
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn size_and_kind_are_checked_before_reading() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_text(dir.path(), 10),
            Err(ReadError::NotAFile("a directory"))
        ));
        let f = dir.path().join("big");
        std::fs::write(&f, [b'x'; 11]).unwrap();
        assert!(matches!(
            read_text(&f, 10),
            Err(ReadError::TooLarge {
                size: 11,
                limit: 10
            })
        ));
        assert_eq!(read_text(&f, 11).unwrap().len(), 11);
        #[cfg(unix)]
        assert!(matches!(
            read_text(Path::new("/dev/zero"), 10),
            Err(ReadError::NotAFile("a device"))
        ));
    }
}
